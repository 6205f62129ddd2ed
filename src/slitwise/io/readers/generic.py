"""Readers for generic spectrum tables and ESO Phase-3 1D spectra.

Generic tables are FITS binary tables or ECSV files with a wavelength, a flux and an error
column, each with a unit (``TUNIT`` in FITS, ``unit`` in ECSV). Column names are matched
case-insensitively against common spellings, or given explicitly. A table with one row of
array-valued columns (the IVOA/ESO spectrum convention) is read as that row's arrays.

ESO Phase-3 spectra (``PRODCATG = 'SCIENCE.SPECTRUM'``, table ``PHASE3SPECTRA``, columns WAVE,
FLUX, ERR, QUAL) keep their flux unit (usually f_lambda, e.g. 1e-19 erg/s/cm2/Angstrom); QUAL
!= 0 marks invalid pixels and ``SPEC_RES`` gives a constant resolving power. Wavelengths are
left in the file's medium: ``meta['wave_medium']`` is ``'air'`` when TUCD says ``obs.atmos``
(as for VIMOS/LEGA-C); convert explicitly if vacuum is needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from slitwise.errors import input_error
from slitwise.io.fitsutil import open_fits, require_hdu
from slitwise.io.readers.common import (
    find_column,
    header_meta,
    parse_unit,
    require_flux_unit,
    require_length_unit,
)
from slitwise.spectra import Spectrum1D

__all__ = [
    "read_table_spectrum",
    "read_eso_phase3",
    "is_eso_phase3",
    "WAVE_COLUMNS",
    "FLUX_COLUMNS",
    "ERR_COLUMNS",
]

WAVE_COLUMNS = ("wave", "wavelength", "lambda", "lam", "wl", "wavelen")
FLUX_COLUMNS = ("flux", "fnu", "f_nu", "flam", "f_lambda", "flux_density")
ERR_COLUMNS = ("err", "error", "flux_err", "flux_error", "sigma", "uncertainty", "unc", "noise")
VALID_COLUMNS = ("valid", "mask", "qual", "quality", "dq")


def is_eso_phase3(hdul: fits.HDUList) -> bool:
    """True for an ESO Phase-3 1D spectrum (PRODCATG SCIENCE.SPECTRUM or a PHASE3SPECTRA HDU)."""
    prodcatg = str(hdul[0].header.get("PRODCATG", "")).strip().upper()
    return prodcatg == "SCIENCE.SPECTRUM" or "PHASE3SPECTRA" in [h.name for h in hdul]


def _first_table_hdu(hdul: fits.HDUList, path: str) -> fits.BinTableHDU:
    for hdu in hdul[1:]:
        if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            return hdu
    raise input_error(path, "no table HDU; expected a binary table with wave/flux/err columns")


def _column_array(data: Any, name: str, nrows: int) -> np.ndarray:
    arr = np.asarray(data[name])
    if nrows == 1 and arr.ndim == 2:  # one row of array-valued columns
        arr = arr[0]
    return arr


def _from_columns(
    columns: dict[str, tuple[np.ndarray, Any]],
    where: str,
    *,
    wave_col: str | None,
    flux_col: str | None,
    err_col: str | None,
    wave_unit: Any,
    flux_unit: Any,
) -> tuple[u.Quantity, u.Quantity, u.Quantity, np.ndarray | None, dict[str, str]]:
    names = list(columns)
    wname = wave_col or find_column(names, WAVE_COLUMNS, where, what="wavelength")
    fname = flux_col or find_column(names, FLUX_COLUMNS, where, what="flux")
    ename = err_col or find_column(names, ERR_COLUMNS, where, what="error")
    for name in (wname, fname, ename):
        if name not in columns:
            raise input_error(where, f"column '{name}' missing; found {', '.join(names)}")
    wunit = parse_unit(wave_unit, where) if wave_unit else parse_unit(columns[wname][1], where)
    wunit = require_length_unit(wunit, f"{where}.{wname}")
    funit = parse_unit(flux_unit, where) if flux_unit else parse_unit(columns[fname][1], where)
    funit = require_flux_unit(funit, f"{where}.{fname}")
    eunit = parse_unit(flux_unit, where) if flux_unit else parse_unit(columns[ename][1], where)
    eunit = require_flux_unit(eunit, f"{where}.{ename}")
    if eunit.physical_type != funit.physical_type:
        raise input_error(f"{where}.{ename}", f"error unit '{eunit}' differs from flux '{funit}'")
    wave = (np.asarray(columns[wname][0], dtype=float) * wunit).to(u.um)
    flux = np.asarray(columns[fname][0], dtype=float) * funit
    err = (np.asarray(columns[ename][0], dtype=float) * eunit).to(funit)
    valid = None
    vname = find_column(names, VALID_COLUMNS, where, what="quality", required=False)
    if vname is not None:
        vals = np.asarray(columns[vname][0])
        # a boolean 'valid' is True-good; integer quality/mask/dq columns are 0-good
        valid = vals.astype(bool) if vals.dtype == bool and vname.lower() == "valid" else vals == 0
    used = {"wave": wname, "flux": fname, "err": ename}
    if vname:
        used["quality"] = vname
    return wave, flux, err, valid, used


def read_table_spectrum(
    path: str | os.PathLike,
    *,
    hdu: int | str | None = None,
    wave_col: str | None = None,
    flux_col: str | None = None,
    err_col: str | None = None,
    wave_unit: str | u.UnitBase | None = None,
    flux_unit: str | u.UnitBase | None = None,
    resolution: float | np.ndarray | None = None,
) -> Spectrum1D:
    """Read a spectrum from a generic FITS binary table or an ECSV file.

    Parameters
    ----------
    path : str or path-like
        ``.fits`` / ``.fits.gz`` (first table HDU unless ``hdu`` is given) or ``.ecsv``.
    hdu : int or str, optional
        FITS table extension to read.
    wave_col, flux_col, err_col : str, optional
        Column names; default: first match of :data:`WAVE_COLUMNS`, :data:`FLUX_COLUMNS`,
        :data:`ERR_COLUMNS` (case-insensitive).
    wave_unit, flux_unit : str or Unit, optional
        Override (or supply missing) units. Without them the file's units are required.
    resolution : float or array, optional
        Resolving power (constant or per pixel) to attach.

    Raises
    ------
    SlitwiseInputError
        Unreadable file, no table, missing columns, missing or wrong units.
    """
    path = str(path)
    name = Path(path).name.lower()
    meta: dict[str, Any] = {"filename": path}
    if name.endswith(".ecsv"):
        try:
            table = Table.read(path, format="ascii.ecsv")
        except FileNotFoundError as exc:
            raise input_error(path, "file not found") from exc
        except Exception as exc:  # astropy raises many types for malformed ECSV
            raise input_error(
                path, f"not a readable ECSV table ({exc.__class__.__name__})"
            ) from exc
        where = path
        columns = {c: (np.asarray(table[c]), table[c].unit) for c in table.colnames}
        meta["format"] = "ecsv"
        meta["header"] = {k: v for k, v in table.meta.items() if isinstance(v, str | int | float)}
    else:
        with open_fits(path) as hdul:
            tab = (
                _first_table_hdu(hdul, path)
                if hdu is None
                else require_hdu(hdul, str(hdu), path)
                if isinstance(hdu, str)
                else hdul[hdu]
            )
            if not isinstance(tab, fits.BinTableHDU | fits.TableHDU):
                raise input_error(f"{path}[{tab.name}]", "is not a table HDU")
            where = f"{path}[{tab.name}]"
            nrows = len(tab.data) if tab.data is not None else 0
            if nrows == 0:
                raise input_error(where, "table has no rows")
            columns = {
                c.name: (_column_array(tab.data, c.name, nrows), c.unit) for c in tab.columns
            }
            meta["format"] = "fits-table"
            meta["header"] = header_meta(tab.header, hdul[0].header)
    wave, flux, err, valid, used = _from_columns(
        columns,
        where,
        wave_col=wave_col,
        flux_col=flux_col,
        err_col=err_col,
        wave_unit=wave_unit,
        flux_unit=flux_unit,
    )
    meta["columns"] = used
    header = meta.get("header", {})
    for key in ("SRCNAME", "OBJECT"):
        if key in header:
            meta["source_name"] = str(header[key])
            break
    for key in ("REDSHIFT", "Z"):
        if key in header:
            meta["redshift"] = float(header[key])
            break
    res = None
    if resolution is not None:
        res = np.broadcast_to(np.asarray(resolution, dtype=float), wave.shape).copy()
    return Spectrum1D(wave=wave, flux=flux, err=err, valid=valid, resolution=res, meta=meta)


def read_eso_phase3(path: str | os.PathLike) -> Spectrum1D:
    """Read an ESO Phase-3 1D spectrum (e.g. VIMOS/LEGA-C ``legac_*.fits``).

    Returns
    -------
    Spectrum1D
        Wavelength [um] (air or vacuum as in the file, see ``meta['wave_medium']``), flux and
        error in the file's unit (f_lambda for VIMOS), ``valid`` = QUAL == 0 and finite,
        ``resolution`` = SPEC_RES (constant) when present, meta with object, telescope,
        instrument, disperser element, RA/Dec, exposure time and programme.
    """
    path = str(path)
    with open_fits(path) as hdul:
        if not is_eso_phase3(hdul):
            raise input_error(
                f"{path}[PRIMARY]", "not an ESO Phase-3 spectrum (PRODCATG != SCIENCE.SPECTRUM)"
            )
        prim = hdul[0].header
        tab = (
            hdul["PHASE3SPECTRA"]
            if "PHASE3SPECTRA" in [h.name for h in hdul]
            else _first_table_hdu(hdul, path)
        )
        where = f"{path}[{tab.name}]"
        nrows = len(tab.data) if tab.data is not None else 0
        if nrows == 0:
            raise input_error(where, "table has no rows")
        if nrows > 1:
            raise input_error(where, f"expected one row of array columns, found {nrows} rows")
        columns = {c.name: (_column_array(tab.data, c.name, 1), c.unit) for c in tab.columns}
        wave, flux, err, valid, used = _from_columns(
            columns,
            where,
            wave_col=None,
            flux_col=None,
            err_col=None,
            wave_unit=None,
            flux_unit=None,
        )
        tucd = ""
        for i, c in enumerate(tab.columns, start=1):
            if c.name == used["wave"]:
                tucd = str(tab.header.get(f"TUCD{i}", ""))
        spec_res = prim.get("SPEC_RES", tab.header.get("SPEC_RES"))
        meta = {
            "filename": path,
            "format": "eso-phase3",
            "columns": used,
            "source_name": str(prim.get("OBJECT", tab.header.get("OBJECT", ""))).strip(),
            "telescope": str(prim.get("TELESCOP", "")).strip(),
            "instrument": str(prim.get("INSTRUME", "")).strip(),
            "grating": str(prim.get("DISPELEM", "")).strip(),
            "wave_medium": "air" if "obs.atmos" in tucd else "vacuum",
            "spec_res": float(spec_res) if spec_res is not None else None,
            "header": header_meta(prim, tab.header),
        }
        for key in ("REDSHIFT", "Z"):
            if key in prim:
                meta["redshift"] = float(prim[key])
                break
    res = np.full(wave.shape, float(spec_res)) if spec_res is not None else None
    return Spectrum1D(wave=wave, flux=flux, err=err, valid=valid, resolution=res, meta=meta)
