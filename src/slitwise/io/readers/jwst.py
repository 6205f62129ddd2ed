"""Readers for JWST/NIRSpec pipeline products: ``x1d``, ``s2d`` and the MSA metafile.

* ``x1d`` (``EXTRACT1D`` tables, one per slit): WAVELENGTH [um], FLUX/FLUX_ERROR [Jy] become a
  :class:`~slitwise.spectra.Spectrum1D` in uJy; DQ bit 0 (DO_NOT_USE) marks invalid pixels.
* ``s2d`` (rectified, resampled 2D): SCI/ERR/WHT become a
  :class:`~slitwise.spectra.RectifiedSpectrum2D`; the wavelength of each column comes from the
  ASDF gwcs (see :mod:`slitwise.io.jwst_wcs`).
* ``*_msa.fits``: SHUTTER_INFO and SOURCE_INFO tables, with helpers to list a source's
  shutters and rebuild the shutter-state string (``"1x1"``) for one dither position.

Known pipeline quirk handled here: jwst <= 1.13 ``resample_spec`` wrote ``BUNIT = 'DN/s'`` on
NIRSpec ``s2d`` SCI arrays although the data are calibrated (spacetelescope/jwst#8297). When
``S_PHOTOM = 'COMPLETE'`` we take the unit from SRCTYPE instead (EXTENDED: MJy/sr, POINT: MJy)
and keep the header value in ``meta['bunit_header']``. For the SMACS 0723 file the x1d
SURF_BRIGHT equals the mean of eight s2d rows exactly, confirming MJy/sr.
"""

from __future__ import annotations

import logging
import os

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from slitwise.errors import input_error
from slitwise.io.fitsutil import open_fits, require_columns, require_hdu
from slitwise.io.jwst_wcs import evaluate_wcs_grid, load_gwcs
from slitwise.io.readers.common import (
    header_meta,
    nirspec_resolution,
    parse_unit,
    require_flux_unit,
    require_length_unit,
)
from slitwise.spectra import FNU_UNIT, RectifiedSpectrum2D, Spectrum1D

__all__ = [
    "read_x1d",
    "read_s2d",
    "read_msa_metafile",
    "msa_source_shutters",
    "msa_shutter_state",
    "MsaMetafile",
]

log = logging.getLogger(__name__)

#: JWST DQ bit 0, "do not use".
_DO_NOT_USE = 1


def _select_extract1d(hdul: fits.HDUList, path: str, source: str | int | None) -> fits.BinTableHDU:
    tables = [h for h in hdul if h.name == "EXTRACT1D"]
    if not tables:
        raise input_error(f"{path}[EXTRACT1D]", "HDU missing; expected a JWST x1d product")
    if source is None:
        if len(tables) > 1:
            log.info("%s: %d EXTRACT1D tables, reading the first", path, len(tables))
        return tables[0]
    for hdu in tables:
        hdr = hdu.header
        if str(source) in (str(hdr.get("SRCNAME", "")).strip(), str(hdr.get("SOURCEID", ""))):
            return hdu
    found = ", ".join(str(h.header.get("SRCNAME", "?")) for h in tables)
    raise input_error(f"{path}[EXTRACT1D]", f"no table for source '{source}'; found {found}")


def read_x1d(path: str | os.PathLike, *, source: str | int | None = None) -> Spectrum1D:
    """Read a JWST ``x1d`` spectrum.

    Parameters
    ----------
    path : str or path-like
        JWST ``*_x1d.fits`` file.
    source : str or int, optional
        SRCNAME or SOURCEID of the EXTRACT1D table to read (default: the first table).

    Returns
    -------
    Spectrum1D
        Wavelength [um], flux and error converted from Jy to uJy, ``valid`` from DQ bit 0 and
        finite values, ``resolution`` from the NIRSpec tables for GRATING/FILTER, ``meta`` with
        source name/id, slit id, SRCXPOS/SRCYPOS, SHUTSTA, SRCTYPE and primary keywords.
    """
    path = str(path)
    with open_fits(path) as hdul:
        hdu = _select_extract1d(hdul, path, source)
        require_columns(hdu, ("WAVELENGTH", "FLUX", "FLUX_ERROR"), path)
        where = f"{path}[EXTRACT1D]"
        cols = hdu.columns
        wunit = require_length_unit(
            parse_unit(cols["WAVELENGTH"].unit, where), where + ".WAVELENGTH"
        )
        funit = require_flux_unit(parse_unit(cols["FLUX"].unit, where), where + ".FLUX")
        eunit = require_flux_unit(parse_unit(cols["FLUX_ERROR"].unit, where), where + ".FLUX_ERROR")
        data = hdu.data
        wave = (np.asarray(data["WAVELENGTH"], dtype=float) * wunit).to(u.um)
        # Jy (or any f_nu / f_lambda unit) -> uJy, the slitwise f_nu unit
        equiv = u.spectral_density(wave)
        flux = (np.asarray(data["FLUX"], dtype=float) * funit).to(FNU_UNIT, equivalencies=equiv)
        err = (np.asarray(data["FLUX_ERROR"], dtype=float) * eunit).to(
            FNU_UNIT, equivalencies=equiv
        )
        valid = np.ones(wave.shape, dtype=bool)
        if "DQ" in cols.names:
            valid &= (np.asarray(data["DQ"]).astype(np.int64) & _DO_NOT_USE) == 0
        prim = hdul[0].header
        hdr = hdu.header
        grating = str(prim.get("GRATING", hdr.get("GRATING", ""))).strip()
        filt = str(prim.get("FILTER", hdr.get("FILTER", ""))).strip()
        if not grating:
            raise input_error(f"{path}[PRIMARY]", "keyword GRATING missing")
        resolution, disperser = nirspec_resolution(
            grating, filt, wave.value, f"{path}[PRIMARY] GRATING='{grating}' FILTER='{filt}'"
        )
        meta = {
            "filename": path,
            "format": "jwst-x1d",
            "source_name": str(hdr.get("SRCNAME", "")).strip(),
            "source_id": int(hdr.get("SOURCEID", 0)),
            "slitlet_id": int(hdr.get("SLITID", 0)),
            "grating": disperser.split("/")[0],
            "filter": disperser.split("/")[1],
            "disperser": disperser,
            "source_type": str(hdr.get("SRCTYPE", "")).strip(),
            "shutter_state": str(hdr.get("SHUTSTA", "")).strip(),
            "source_xpos": hdr.get("SRCXPOS"),
            "source_ypos": hdr.get("SRCYPOS"),
            "header": header_meta(hdr, prim),
        }
        if "NPIXELS" in cols.names:
            meta["npixels"] = np.asarray(data["NPIXELS"], dtype=float)
    return Spectrum1D(wave=wave, flux=flux, err=err, valid=valid, resolution=resolution, meta=meta)


def _s2d_unit(hdr: fits.Header, prim: fits.Header, path: str) -> tuple[str, str]:
    """(unit of SCI, note) with the jwst#8297 DN/s fix applied."""
    bunit = str(hdr.get("BUNIT", "")).strip()
    if bunit.upper() == "DN/S" and str(prim.get("S_PHOTOM", "")).strip() == "COMPLETE":
        srctype = str(hdr.get("SRCTYPE", prim.get("SRCTYPE", "EXTENDED"))).strip().upper()
        fixed = "MJy" if srctype == "POINT" else "MJy/sr"
        note = (
            f"BUNIT 'DN/s' in the header but S_PHOTOM=COMPLETE; SRCTYPE={srctype} -> {fixed} "
            "(spacetelescope/jwst#8297)"
        )
        log.info("%s: %s", path, note)
        return fixed, note
    return bunit, ""


def _to_fnu_factor(bunit: str, pixar_sr: float | None) -> float:
    """Factor turning a sum over rows of SCI into uJy, or NaN when the unit does not allow it."""
    try:
        unit = u.Unit(bunit)
    except ValueError:
        return float("nan")
    if unit.physical_type == u.Jy.physical_type:
        return float(unit.to(FNU_UNIT))
    if (unit * u.sr).physical_type == u.Jy.physical_type and pixar_sr:
        return float((unit * u.sr).to(FNU_UNIT)) * float(pixar_sr)
    return float("nan")


def read_s2d(path: str | os.PathLike) -> RectifiedSpectrum2D:
    """Read a JWST ``s2d`` rectified 2D spectrum.

    Parameters
    ----------
    path : str or path-like
        JWST ``*_s2d.fits`` file (SCI, ERR, WHT, ASDF).

    Returns
    -------
    RectifiedSpectrum2D
        ``sci``; ``var`` = ERR**2; ``wave`` per column [um] from the gwcs (median over rows);
        ``y`` per row = offset in pixels from the source position (SRCYPOS on the slit-frame
        y axis), slit-frame y in ``meta['yslit']``; ``wht`` from WHT; ``bunit``; ``to_fnu`` =
        PIXAR_SR * 1e12 for MJy/sr (a sum over rows times ``to_fnu`` is uJy); meta with
        SRCXPOS, SRCYPOS, SRCNAME, SOURCEID, SLITID, SHUTSTA, grating, filter.
    """
    path = str(path)
    with open_fits(path) as hdul:
        sci_hdu = require_hdu(hdul, "SCI", path, expected="a JWST s2d product")
        sci = np.asarray(sci_hdu.data, dtype=float)
        if sci.ndim != 2:
            raise input_error(f"{path}[SCI]", f"expected a 2D image, got shape {sci.shape}")
        err_hdu = require_hdu(hdul, "ERR", path, expected="a JWST s2d product")
        err = np.asarray(err_hdu.data, dtype=float)
        if err.shape != sci.shape:
            raise input_error(f"{path}[ERR]", f"shape {err.shape} differs from SCI {sci.shape}")
        names = [h.name for h in hdul]
        wht = np.asarray(hdul["WHT"].data, dtype=float) if "WHT" in names else None
        hdr = sci_hdu.header
        prim = hdul[0].header
        wcs = load_gwcs(hdul, path)
        wave2d, yslit2d = evaluate_wcs_grid(wcs, sci.shape)
        grating = str(prim.get("GRATING", "")).strip()
        filt = str(prim.get("FILTER", "")).strip()
        if not grating:
            raise input_error(f"{path}[PRIMARY]", "keyword GRATING missing")
        _, disperser = nirspec_resolution(
            grating, filt, np.array([2.0]), f"{path}[PRIMARY] GRATING='{grating}' FILTER='{filt}'"
        )
        bunit, note = _s2d_unit(hdr, prim, path)
        pixar = hdr.get("PIXAR_SR", prim.get("PIXAR_SR"))
        to_fnu = _to_fnu_factor(bunit, pixar)
        meta = {
            "filename": path,
            "format": "jwst-s2d",
            "source_name": str(hdr.get("SRCNAME", "")).strip(),
            "source_id": int(hdr.get("SOURCEID", 0)),
            "slitlet_id": int(hdr.get("SLITID", 0)),
            "srcxpos": hdr.get("SRCXPOS"),
            "srcypos": hdr.get("SRCYPOS"),
            "shutter_state": str(hdr.get("SHUTSTA", "")).strip(),
            "source_type": str(hdr.get("SRCTYPE", "")).strip(),
            "grating": disperser.split("/")[0],
            "filter": disperser.split("/")[1],
            "disperser": disperser,
            "bunit_header": str(hdr.get("BUNIT", "")).strip(),
            "pixar_sr": pixar,
            "y_unit": "pix",
            "header": header_meta(hdr, prim),
        }
        if note:
            meta["bunit_note"] = note
    with np.errstate(all="ignore"):
        wave = np.nanmedian(np.where(np.isfinite(wave2d), wave2d, np.nan), axis=0)
        yslit = np.nanmedian(yslit2d, axis=1)
    meta["yslit"] = yslit
    # rows are evenly spaced on the slit-frame axis; put the source (SRCYPOS) at y = 0
    step = np.median(np.diff(yslit)) if yslit.size > 1 else 1.0
    srcy = float(meta["srcypos"]) if meta["srcypos"] is not None else 0.0
    y = (yslit - srcy) / step
    meta["slit_pitch_per_pix"] = float(abs(step))
    return RectifiedSpectrum2D(
        sci=sci, var=err**2, wave=wave, y=y, wht=wht, bunit=bunit, to_fnu=to_fnu, meta=meta
    )


class MsaMetafile(dict):
    """The tables of an MSA metafile: ``shutter_info`` and ``source_info`` (astropy Tables).

    A plain ``dict`` with attribute access for the two tables and the primary header in
    ``header``.
    """

    @property
    def shutter_info(self) -> Table:
        return self["shutter_info"]

    @property
    def source_info(self) -> Table:
        return self["source_info"]

    @property
    def header(self) -> fits.Header:
        return self["header"]


_SHUTTER_COLUMNS = (
    "slitlet_id",
    "msa_metadata_id",
    "shutter_quadrant",
    "shutter_row",
    "shutter_column",
    "source_id",
    "background",
    "shutter_state",
    "dither_point_index",
    "primary_source",
)
_SOURCE_COLUMNS = ("source_id", "source_name", "ra", "dec")


def _decode(table: Table) -> Table:
    for name in table.colnames:
        if table[name].dtype.kind == "S":
            table[name] = np.char.strip(np.char.decode(table[name], "ascii"))
    return table


def read_msa_metafile(path: str | os.PathLike) -> MsaMetafile:
    """Read a NIRSpec MSA metadata file (``*_msa.fits``).

    Returns
    -------
    MsaMetafile
        ``shutter_info`` and ``source_info`` astropy Tables (byte strings decoded, padding
        stripped) and the primary ``header``.

    Raises
    ------
    SlitwiseInputError
        Not FITS, SHUTTER_INFO / SOURCE_INFO missing, or required columns missing.
    """
    path = str(path)
    with open_fits(path) as hdul:
        shut = require_hdu(hdul, "SHUTTER_INFO", path, expected="a NIRSpec MSA metafile")
        src = require_hdu(hdul, "SOURCE_INFO", path, expected="a NIRSpec MSA metafile")
        require_columns(shut, _SHUTTER_COLUMNS, path)
        require_columns(src, _SOURCE_COLUMNS, path)
        out = MsaMetafile(
            shutter_info=_decode(Table(shut.data)),
            source_info=_decode(Table(src.data)),
            header=hdul[0].header.copy(),
        )
    out["shutter_info"].meta["filename"] = path
    out["source_info"].meta["filename"] = path
    return out


def msa_source_shutters(
    msa: MsaMetafile,
    source: int | str,
    *,
    msa_metadata_id: int | None = None,
    dither_point_index: int | None = None,
) -> Table:
    """Rows of SHUTTER_INFO that belong to ``source`` (id or name), sorted by position.

    Parameters
    ----------
    msa : MsaMetafile
        From :func:`read_msa_metafile`.
    source : int or str
        ``source_id`` or ``source_name`` from SOURCE_INFO.
    msa_metadata_id, dither_point_index : int, optional
        Restrict to one MSA configuration / one nod position.

    Raises
    ------
    SlitwiseInputError
        Unknown source.
    """
    shut = msa.shutter_info
    src = msa.source_info
    where = shut.meta.get("filename", "MSA metafile")
    if isinstance(source, str) and not source.lstrip("-").isdigit():
        match = src[src["source_name"] == source]
        if len(match) == 0:
            raise input_error(f"{where}[SOURCE_INFO]", f"no source named '{source}'")
        source_id = int(match["source_id"][0])
    else:
        source_id = int(source)
    rows = shut[shut["source_id"] == source_id]
    if len(rows) == 0:
        raise input_error(f"{where}[SHUTTER_INFO]", f"no shutters for source_id {source_id}")
    if msa_metadata_id is not None:
        rows = rows[rows["msa_metadata_id"] == msa_metadata_id]
    if dither_point_index is not None:
        rows = rows[rows["dither_point_index"] == dither_point_index]
    rows.sort(
        [
            "msa_metadata_id",
            "dither_point_index",
            "shutter_quadrant",
            "shutter_row",
            "shutter_column",
        ]
    )
    return rows


def msa_shutter_state(
    msa: MsaMetafile,
    source: int | str,
    dither_point_index: int,
    *,
    msa_metadata_id: int | None = None,
) -> str:
    """Shutter-state string of ``source``'s slitlet at one nod position (JWST ``SHUTSTA``).

    One character per shutter in increasing ``shutter_column``: ``x`` where the source is
    (``primary_source == 'Y'``), ``1`` for another open shutter, ``0`` for a closed one.
    E.g. ``"1x111"`` for SMACS 0723 source 6355 at dither position 1.
    """
    rows = msa_source_shutters(
        msa, source, msa_metadata_id=msa_metadata_id, dither_point_index=dither_point_index
    )
    if msa_metadata_id is None:
        rows = rows[rows["msa_metadata_id"] == rows["msa_metadata_id"][0]]
    if len(rows) == 0:
        where = msa.shutter_info.meta.get("filename", "MSA metafile")
        raise input_error(f"{where}[SHUTTER_INFO]", f"no shutters at dither {dither_point_index}")
    chars = []
    for row in sorted(rows, key=lambda r: int(r["shutter_column"])):
        if str(row["primary_source"]).upper() == "Y":
            chars.append("x")
        elif str(row["shutter_state"]).upper() == "OPEN":
            chars.append("1")
        else:
            chars.append("0")
    return "".join(chars)
