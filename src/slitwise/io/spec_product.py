"""The ``spec.fits`` product: extracted 1D (optimal and boxcar) and 2D spectra of one source.

The layout is declared in :mod:`slitwise.io.schema` (``SPEC_SCHEMA``) and documented in
``docs/products.md``. :func:`write_spec` followed by :func:`read_spec` gives back the same
arrays bit for bit, the same units and the same keywords.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic
from slitwise.io.fitsutil import open_fits
from slitwise.io.product_fits import (
    clean_meta,
    header_value,
    primary_header,
    set_keyword,
    table_columns,
    table_hdu,
)
from slitwise.io.schema import (
    SPEC_EXTRACTION_KEYWORDS,
    SPEC_SCHEMA,
    STRUCTURAL_KEYWORDS,
    validate_hdul,
)
from slitwise.spectra.spectrum1d import FLAM_UNIT, FNU_UNIT, Spectrum1D

__all__ = ["SpecProduct", "write_spec", "read_spec", "read_spec_1d"]

log = logging.getLogger(__name__)

_PRIMARY = SPEC_SCHEMA.keywords("PRIMARY")
_EXTRACTION = tuple(k.name for k in SPEC_EXTRACTION_KEYWORDS)
_BOX = re.compile(r"flux_box([1-9][0-9]*)")
_FLAM = u.Unit(FLAM_UNIT)  # 1e-20 erg/s/cm2/A as a (scaled) unit
_COMMENTARY = {"COMMENT", "HISTORY", ""}


def _fnu(values: Any, n: int, where: str) -> u.Quantity:
    q = values if isinstance(values, u.Quantity) else np.asarray(values, dtype=float) * FNU_UNIT
    try:
        q = q.to(FNU_UNIT)
    except u.UnitConversionError as exc:
        raise input_error(where, f"unit '{q.unit}' is not f_nu") from exc
    q = q.astype(np.float64, copy=False)
    if q.shape != (n,):
        raise input_error(where, f"shape {q.shape}, expected ({n},)")
    return q


def _image(values: Any, where: str, ndim: tuple[int, ...]) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim not in ndim:
        raise input_error(where, f"shape {arr.shape}, expected {' or '.join(map(str, ndim))}D")
    return arr


@dataclasses.dataclass(eq=False)
class SpecProduct:
    """Everything a ``spec.fits`` file holds.

    Parameters
    ----------
    spectrum : Spectrum1D
        Optimal 1D spectrum; stored as f_nu in uJy on a wavelength grid in um (converted on
        construction). Its ``meta`` is not written: the fields below carry the metadata.
    source, grating, filter : str
        Source name and instrument configuration (PRIMARY SRCNAME, GRATING, FILTER).
    redshift : float, optional
        Redshift when known beforehand (PRIMARY REDSHIFT).
    boxcar : dict, optional
        Aperture width in pixels -> ``(flux, err)`` on the wavelength grid of ``spectrum``, as
        Quantities (f_nu) or plain arrays in uJy. Written as ``flux_box{w}``/``err_box{w}``.
    sci, err : ndarray, shape (ny, nx), optional
        2D spectrum and its 1-sigma uncertainty in ``bunit``.
    wavelength : ndarray, shape (nx,) or (ny, nx), optional
        Wavelength of SCI columns or pixels, in um.
    wht : ndarray, shape (ny, nx), optional
        Combination weights of SCI in ``wht_unit``.
    bunit, wht_unit : str
        Units of SCI/ERR and of WHT (FITS unit strings).
    profiles : Table, optional
        PROF1D: column ``y`` (pix) and one dimensionless ``weight_{method}`` column per
        extraction method, one row per SCI row.
    exposures : Table, optional
        EXPOSURES: columns ``file``, ``nod_position``, ``exptime`` (s), ``stuck_shutters``;
        further columns are kept.
    extraction : dict, optional
        Extraction parameters by PRIMARY keyword (EXTMETH, PROFTYPE, PROFCEN, PROFSIG, YTRACE,
        BKGMETH, PATHCORR, NEXP, EXPTIME; see ``docs/products.md``).
    meta : dict, optional
        Further PRIMARY keywords (names of at most 8 characters; upper-cased).
    """

    spectrum: Spectrum1D
    source: str
    grating: str
    filter: str
    redshift: float | None = None
    boxcar: dict[int, tuple[u.Quantity, u.Quantity]] = dataclasses.field(default_factory=dict)
    sci: np.ndarray | None = None
    err: np.ndarray | None = None
    wavelength: np.ndarray | None = None
    wht: np.ndarray | None = None
    bunit: str = "uJy"
    wht_unit: str = ""
    profiles: Table | None = None
    exposures: Table | None = None
    extraction: dict[str, Any] = dataclasses.field(default_factory=dict)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        where = "SpecProduct"
        if not isinstance(self.spectrum, Spectrum1D):
            raise input_error(where, "'spectrum' must be a slitwise Spectrum1D")
        spec = self.spectrum.to_fnu(FNU_UNIT)
        spec.wave = spec.wave.to(u.um).astype(np.float64, copy=False)
        spec.flux = spec.flux.astype(np.float64, copy=False)
        spec.err = spec.err.astype(np.float64, copy=False)
        self.spectrum = spec
        for name in ("source", "grating", "filter"):
            if not str(getattr(self, name)).strip():
                raise input_error(where, f"'{name}' must be a non-empty string")
            setattr(self, name, str(getattr(self, name)))
        if self.redshift is not None:
            self.redshift = float(header_value(self.redshift, f"{where} redshift"))
        n = spec.npix
        boxcar = {}
        for width, pair in sorted(self.boxcar.items()):
            if int(width) != width or int(width) < 1:
                raise input_error(f"{where} boxcar width {width!r}", "must be a positive int")
            flux, err = pair
            w = int(width)
            boxcar[w] = (_fnu(flux, n, f"{where} flux_box{w}"), _fnu(err, n, f"{where} err_box{w}"))
        self.boxcar = boxcar
        self.sci = _image(self.sci, f"{where} sci", (2,))
        self.err = _image(self.err, f"{where} err", (2,))
        self.wht = _image(self.wht, f"{where} wht", (2,))
        self.wavelength = _image(self.wavelength, f"{where} wavelength", (1, 2))
        if self.sci is not None:
            ny, nx = self.sci.shape
            for name in ("err", "wht"):
                arr = getattr(self, name)
                if arr is not None and arr.shape != self.sci.shape:
                    raise input_error(f"{where} {name}", f"shape {arr.shape} != sci {(ny, nx)}")
            if self.wavelength is not None and self.wavelength.shape not in ((nx,), (ny, nx)):
                raise input_error(
                    f"{where} wavelength",
                    f"shape {self.wavelength.shape}, expected ({nx},) or {(ny, nx)}",
                )
        self.profiles = self._check_profiles(self.profiles, where)
        self.exposures = self._check_exposures(self.exposures, where)
        extraction = {}
        for key, value in self.extraction.items():
            name = str(key).upper()
            if name not in _EXTRACTION:
                raise input_error(
                    f"{where} extraction '{key}'",
                    f"unknown parameter; expected one of {', '.join(_EXTRACTION)}",
                )
            extraction[name] = header_value(value, f"{where} extraction '{key}'")
            kind = _PRIMARY[name].type
            extraction[name] = {"float": float, "int": int, "bool": bool, "str": str}[kind](
                extraction[name]
            )
        self.extraction = extraction
        self.meta = clean_meta(self.meta, set(_PRIMARY), where)

    @staticmethod
    def _check_profiles(table: Table | None, where: str) -> Table | None:
        if table is None:
            return None
        table = Table(table)
        if "y" not in table.colnames:
            raise input_error(f"{where} profiles", "column 'y' (pix) missing")
        for name in table.colnames:
            if name != "y" and not re.fullmatch(r"weight_[a-z0-9_]+", name):
                raise input_error(
                    f"{where} profiles column '{name}'",
                    "expected 'y' or 'weight_{method}' (lower case)",
                )
            table[name] = np.asarray(table[name], dtype=np.float64)
        table["y"].unit = u.pix
        return table

    @staticmethod
    def _check_exposures(table: Table | None, where: str) -> Table | None:
        if table is None:
            return None
        table = Table(table)
        for name in ("file", "nod_position", "exptime", "stuck_shutters"):
            if name not in table.colnames:
                raise input_error(f"{where} exposures", f"column '{name}' missing")
        exptime = table["exptime"]
        if exptime.unit is not None:
            try:
                table["exptime"] = exptime.quantity.to_value(u.s)
            except u.UnitConversionError as exc:
                raise input_error(f"{where} exposures column 'exptime'", "must be a time") from exc
        table["exptime"] = np.asarray(table["exptime"], dtype=np.float64)
        table["exptime"].unit = u.s
        table["nod_position"] = np.asarray(table["nod_position"], dtype=np.int32)
        for name in ("file", "stuck_shutters"):
            table[name] = np.asarray(table[name], dtype=str)
        return table


def _primary_header(product: SpecProduct) -> fits.Header:
    values = {
        "SRCNAME": product.source,
        "GRATING": product.grating,
        "FILTER": product.filter,
        "REDSHIFT": product.redshift,
    } | product.extraction
    return primary_header("spec", values, product.meta)


def _spec1d_hdu(product: SpecProduct) -> fits.BinTableHDU:
    spec = product.spectrum
    eq = u.spectral_density(spec.wave)
    cols: dict[str, Any] = {
        "wave": spec.wave.value,
        "flux": spec.flux.value,
        "err": spec.err.value,
    }
    for width, (flux, err) in product.boxcar.items():
        cols[f"flux_box{width}"] = flux.value
        cols[f"err_box{width}"] = err.value
    cols["flam"] = spec.flux.to_value(_FLAM, equivalencies=eq)
    cols["flam_err"] = spec.err.to_value(_FLAM, equivalencies=eq)
    cols["valid"] = spec.valid
    if spec.resolution is not None:
        cols["resolution"] = spec.resolution
    return table_hdu("spec", "SPEC1D", cols)


def _image_hdu(data: np.ndarray, name: str, bunit: str) -> fits.ImageHDU:
    hdu = fits.ImageHDU(np.asarray(data, dtype=np.float64), name=name)
    set_keyword(hdu.header, "BUNIT", bunit, SPEC_SCHEMA.hdu(name).keywords[0].description)
    return hdu


def _astropy_table_hdu(table: Table, name: str) -> fits.BinTableHDU:
    cols = {c: np.asarray(table[c]) for c in table.colnames}
    units = {c: (table[c].unit.to_string("fits") if table[c].unit else "") for c in cols}
    return table_hdu("spec", name, cols, units=units)


def spec_hdulist(product: SpecProduct) -> fits.HDUList:
    """The :class:`~astropy.io.fits.HDUList` that :func:`write_spec` writes."""
    hdus = [fits.PrimaryHDU(header=_primary_header(product)), _spec1d_hdu(product)]
    if product.sci is not None:
        hdus.append(_image_hdu(product.sci, "SCI", product.bunit))
    if product.err is not None:
        hdus.append(_image_hdu(product.err, "ERR", product.bunit))
    if product.wavelength is not None:
        hdus.append(_image_hdu(product.wavelength, "WAVELENGTH", "um"))
    if product.wht is not None:
        hdus.append(_image_hdu(product.wht, "WHT", product.wht_unit))
    if product.profiles is not None:
        hdus.append(_astropy_table_hdu(product.profiles, "PROF1D"))
    if product.exposures is not None:
        hdus.append(_astropy_table_hdu(product.exposures, "EXPOSURES"))
    return fits.HDUList(hdus)


def write_spec(product: SpecProduct, path: str | os.PathLike) -> Path:
    """Write a ``spec.fits`` product atomically, with FITS checksums.

    Parameters
    ----------
    product : SpecProduct
        What to write.
    path : str or path-like
        Destination; see :func:`slitwise.io.naming.product_filename` for the naming rule.

    Returns
    -------
    Path
        ``path``. On failure no file (and no temporary file) is left behind.
    """
    hdul = spec_hdulist(product)
    out = write_fits_atomic(hdul, path, checksum=True)
    log.debug("wrote %s", out)
    return out


def _table(hdu: fits.BinTableHDU) -> Table:
    table = Table()
    for name, (arr, unit) in table_columns(hdu).items():
        table[name] = arr
        if unit:
            table[name].unit = u.Unit(unit, format="fits")
    return table


def read_spec(path: str | os.PathLike) -> SpecProduct:
    """Read a ``spec.fits`` product written by :func:`write_spec`.

    Raises
    ------
    SlitwiseInputError
        Not FITS, or an HDU, column, unit or keyword differs from the format (the message
        names the file, HDU and column).
    """
    path = str(path)
    with open_fits(path) as hdul:
        validate_hdul(hdul, "spec", path, strict=False)
        prim = hdul[0].header
        cols = table_columns(hdul["SPEC1D"])
        names = {n.lower(): n for n in cols}

        def col(name: str) -> np.ndarray:
            return cols[names[name]][0]

        spectrum = Spectrum1D(
            wave=col("wave") * u.um,
            flux=col("flux") * FNU_UNIT,
            err=col("err") * FNU_UNIT,
            valid=col("valid"),
            resolution=col("resolution") if "resolution" in names else None,
            meta={
                "filename": path,
                "source": prim["SRCNAME"],
                "grating": prim["GRATING"],
                "filter": prim["FILTER"],
                "redshift": prim.get("REDSHIFT"),
            },
        )
        boxcar = {}
        for name in names:
            match = _BOX.fullmatch(name)
            if match:
                width = int(match[1])
                if f"err_box{width}" not in names:
                    raise input_error(
                        f"{path}[SPEC1D]",
                        f"column 'err_box{width}' missing; expected with 'flux_box{width}'",
                    )
                boxcar[width] = (col(name) * FNU_UNIT, col(f"err_box{width}") * FNU_UNIT)
        present = {h.name for h in hdul}

        def image(name: str) -> np.ndarray | None:
            if name not in present:
                return None
            data = hdul[name].data
            return data.astype(data.dtype.newbyteorder("="))

        declared = set(_PRIMARY)
        extraction = {k: prim[k] for k in _EXTRACTION if k in prim}
        skip = declared | STRUCTURAL_KEYWORDS | _COMMENTARY
        meta = {k: prim[k] for k in prim if k not in skip}
        return SpecProduct(
            spectrum=spectrum,
            source=prim["SRCNAME"],
            grating=prim["GRATING"],
            filter=prim["FILTER"],
            redshift=prim.get("REDSHIFT"),
            boxcar=dict(sorted(boxcar.items())),
            sci=image("SCI"),
            err=image("ERR"),
            wavelength=image("WAVELENGTH"),
            wht=image("WHT"),
            bunit=str(hdul["SCI"].header.get("BUNIT", "")) if "SCI" in present else "uJy",
            wht_unit=str(hdul["WHT"].header.get("BUNIT", "")) if "WHT" in present else "",
            profiles=_table(hdul["PROF1D"]) if "PROF1D" in present else None,
            exposures=_table(hdul["EXPOSURES"]) if "EXPOSURES" in present else None,
            extraction=extraction,
            meta=meta,
        )


def read_spec_1d(path: str | os.PathLike) -> Spectrum1D:
    """Read only the optimal 1D spectrum of a ``spec.fits`` product."""
    return read_spec(path).spectrum
