"""Readers for DJA / msaexp ``*.spec.fits`` files (1D and 2D).

Three layouts exist in the wild; all share the ``SPEC1D`` table with ``wave`` [um], ``flux`` and
``err`` [uJy] and 2D ``SCI``/``WHT``/``PROFILE`` images on the same wavelength grid:

* msaexp 0.6 (``drizzle`` era, e.g. the DJA ``nirspec-wavecal`` files): SPEC1D has only
  ``wave``, ``flux``, ``err``; the observation keywords (GRATING, FILTER, SRCNAME, per-file
  FILEn/GRATn...) live in the SPEC1D and SCI headers, the PRIMARY header is empty.
* msaexp 0.8 (same, plus ``aper_flux``/``aper_err``/``aper_corr`` columns and APER_* keywords).
* msaexp 0.9 (``slit_combine``, DJA v3/v4): extra columns (``sky``, ``path_corr``, ``npix``,
  ``flux_sum``, ...), the first exposure's JWST header copied into SPEC1D, BACKGROUND and
  SLITS extensions.

The 2D arrays are in microJansky per pixel (``TOMUJY`` = 1 means "pixel values to uJy"); the
``BUNIT`` header card of the older files says ``mJy`` but is not what the data are: an optimal
extraction of SCI with PROFILE/WHT reproduces SPEC1D ``flux`` in uJy exactly.
"""

from __future__ import annotations

import logging
import os

import astropy.units as u
import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.fitsutil import open_fits, require_hdu
from slitwise.io.readers.common import (
    header_meta,
    nirspec_resolution,
    parse_unit,
    require_flux_unit,
    require_length_unit,
)
from slitwise.spectra import RectifiedSpectrum2D, Spectrum1D

__all__ = ["read_dja_spec", "read_dja_spec2d", "dja_layout", "is_dja_spec"]

log = logging.getLogger(__name__)

_REQUIRED = ("wave", "flux", "err")


def is_dja_spec(hdul: fits.HDUList) -> bool:
    """True when ``hdul`` looks like a DJA/msaexp spec file (SPEC1D with wave/flux/err)."""
    names = [h.name for h in hdul]
    if "SPEC1D" not in names:
        return False
    hdu = hdul["SPEC1D"]
    if not isinstance(hdu, fits.BinTableHDU):
        return False
    cols = {c.lower() for c in hdu.columns.names}
    hdr = hdu.header
    return {"wave", "flux"} <= cols and ("VERSION" in hdr or "TOMUJY" in hdr)


def dja_layout(hdul: fits.HDUList) -> str:
    """Name the msaexp layout of an open spec file: ``"msaexp-0.6"``, ``"-0.8"`` or ``"-0.9"``.

    Decided from the SPEC1D columns (what the readers depend on), not the version string.
    """
    cols = {c.lower() for c in hdul["SPEC1D"].columns.names}
    if "npix" in cols or "SLITS" in [h.name for h in hdul]:
        return "msaexp-0.9"
    if "aper_flux" in cols:
        return "msaexp-0.8"
    return "msaexp-0.6"


def _column(hdu: fits.BinTableHDU, name: str, path: str) -> tuple[np.ndarray, u.UnitBase | None]:
    where = f"{path}[SPEC1D].{name}"
    col = hdu.columns[name]
    return np.asarray(hdu.data[name], dtype=float), parse_unit(col.unit, where)


def read_dja_spec(path: str | os.PathLike) -> Spectrum1D:
    """Read the 1D spectrum of a DJA / msaexp ``spec.fits`` file (gzip allowed).

    Parameters
    ----------
    path : str or path-like
        ``*.spec.fits`` or ``*.spec.fits.gz`` in any of the msaexp 0.6, 0.8 or 0.9 layouts.

    Returns
    -------
    Spectrum1D
        Wavelength in um, flux and error in uJy (units read from the file's TUNIT cards),
        ``valid`` from finite flux/positive error (and a ``valid`` column when present),
        ``resolution`` = tabulated NIRSpec R(lambda) of the file's GRATING/FILTER, and ``meta``
        with filename, layout, source name, grating, filter, redshift (if in the header) and
        selected header keywords.

    Raises
    ------
    SlitwiseInputError
        Not FITS, no SPEC1D table, missing wave/flux/err column, wrong units or unknown grating.
    """
    path = str(path)
    with open_fits(path) as hdul:
        hdu = require_hdu(hdul, "SPEC1D", path, expected="a DJA/msaexp spec file")
        if not isinstance(hdu, fits.BinTableHDU):
            raise input_error(f"{path}[SPEC1D]", "is not a binary table")
        names = {c.lower(): c for c in hdu.columns.names}
        for col in _REQUIRED:
            if col not in names:
                raise input_error(
                    f"{path}[SPEC1D]",
                    f"column '{col}' missing; found {', '.join(hdu.columns.names)}",
                )
        wave, wunit = _column(hdu, names["wave"], path)
        flux, funit = _column(hdu, names["flux"], path)
        err, eunit = _column(hdu, names["err"], path)
        wunit = require_length_unit(wunit, f"{path}[SPEC1D].wave")
        funit = require_flux_unit(funit, f"{path}[SPEC1D].flux")
        eunit = require_flux_unit(eunit, f"{path}[SPEC1D].err")
        hdr = hdu.header
        prim = hdul[0].header
        grating = str(hdr.get("GRATING", prim.get("GRATING", ""))).strip()
        filt = str(hdr.get("FILTER", prim.get("FILTER", ""))).strip()
        if not grating:
            raise input_error(f"{path}[SPEC1D]", "keyword GRATING missing")
        wave_um = (wave * wunit).to_value(u.um)
        resolution, disperser = nirspec_resolution(
            grating, filt, wave_um, f"{path}[SPEC1D] GRATING='{grating}' FILTER='{filt}'"
        )
        valid = None
        if "valid" in names:
            valid = np.asarray(hdu.data[names["valid"]], dtype=bool)
        meta = {
            "filename": path,
            "format": "dja",
            "layout": dja_layout(hdul),
            "source_name": str(hdr.get("SRCNAME", "")).strip(),
            "grating": disperser.split("/")[0],
            "filter": disperser.split("/")[1],
            "disperser": disperser,
            "msaexp_version": str(hdr.get("VERSION", "")).strip(),
            "header": header_meta(hdr, prim),
        }
        for key in ("REDSHIFT", "Z"):
            if key in hdr or key in prim:
                meta["redshift"] = float(hdr.get(key, prim.get(key)))
                break
        extra = [c for c in hdu.columns.names if c.lower() not in (*_REQUIRED, "valid")]
        meta["extra_columns"] = extra
    return Spectrum1D(
        wave=(wave_um * u.um),
        flux=flux * funit,
        err=(err * eunit).to(funit),
        valid=valid,
        resolution=resolution,
        meta=meta,
    )


def read_dja_spec2d(path: str | os.PathLike) -> RectifiedSpectrum2D:
    """Read the rectified 2D spectrum (SCI, WHT, PROFILE) of a DJA / msaexp spec file.

    The wavelength of each column is SPEC1D ``wave`` (the 2D and 1D grids are the same);
    ``y`` is the row offset in pixels from the expected trace centre (``YTRACE``); ``var`` is
    ``1/WHT`` (zero weight gives infinite variance); ``bunit`` is uJy per pixel and ``to_fnu``
    is ``TOMUJY`` (1.0). ``meta['profile']`` holds the PROFILE image.
    """
    path = str(path)
    spec = read_dja_spec(path)
    with open_fits(path) as hdul:
        sci_hdu = require_hdu(hdul, "SCI", path, expected="the 2D spectrum of a DJA spec file")
        sci = np.asarray(sci_hdu.data, dtype=float)
        if sci.ndim != 2 or sci.shape[1] != spec.npix:
            raise input_error(
                f"{path}[SCI]", f"shape {sci.shape} does not match SPEC1D ({spec.npix} rows)"
            )
        hdr = sci_hdu.header
        wht = (
            np.asarray(hdul["WHT"].data, dtype=float)
            if "WHT" in [h.name for h in hdul]
            else np.ones_like(sci)
        )
        with np.errstate(divide="ignore"):
            var = np.where(wht > 0, 1.0 / np.where(wht > 0, wht, 1.0), np.inf)
        profile = (
            np.asarray(hdul["PROFILE"].data, dtype=float)
            if "PROFILE" in [h.name for h in hdul]
            else None
        )
        ytrace = float(hdul["SPEC1D"].header.get("YTRACE", hdr.get("YTRACE", sci.shape[0] // 2)))
        tomujy = float(hdul["SPEC1D"].header.get("TOMUJY", hdr.get("TOMUJY", 1.0)))
        meta = dict(spec.meta)
        meta.update(
            {
                "bunit_header": str(hdr.get("BUNIT", "")).strip(),
                "y_unit": "pix",
                "ytrace": ytrace,
                "profile": profile,
            }
        )
        for key in ("SRCXPOS", "SRCYPOS", "SLITID", "SHUTSTA"):
            if key in hdr:
                meta[key.lower()] = hdr[key]
    return RectifiedSpectrum2D(
        sci=sci,
        var=var,
        wave=spec.wave.to_value(u.um),
        y=np.arange(sci.shape[0], dtype=float) - ytrace,
        wht=wht,
        bunit="uJy",
        to_fnu=tomujy,
        meta=meta,
    )
