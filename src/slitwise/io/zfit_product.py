"""The ``zfit.fits`` product: result of a template redshift fit of one spectrum.

The redshift fitter fills a :class:`ZfitProduct`; :func:`write_zfit` writes it in the layout
declared in :mod:`slitwise.io.schema` (``ZFIT_SCHEMA``) and :func:`read_zfit` reads it back
exactly. Quality is a class :data:`ZQUAL` (3 secure ... 0 failed, -1 not assessed) and a
bitmask :class:`ZWarn` (0 = no warning), both documented in ``docs/products.md``.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic
from slitwise.io.fitsutil import open_fits
from slitwise.io.product_fits import clean_meta, primary_header, table_columns, table_hdu
from slitwise.io.schema import STRUCTURAL_KEYWORDS, ZFIT_SCHEMA, parse_unit, validate_hdul
from slitwise.spectra.spectrum1d import FNU_UNIT

__all__ = ["ZfitProduct", "ZWarn", "write_zfit", "read_zfit"]

log = logging.getLogger(__name__)

_PRIMARY = ZFIT_SCHEMA.keywords("PRIMARY")
_SUMMARY = {
    "ZBEST": ("zbest", float),
    "ZQUAL": ("zqual", int),
    "ZCONF": ("zconf", float),
    "CHI2MIN": ("chi2min", float),
    "ZMIN": ("zmin", float),
    "ZMAX": ("zmax", float),
    "NTEMPL": ("ntempl", int),
    "ZWARN": ("zwarn", int),
}
_OPTIONAL = ("SRCNAME", "GRATING", "FILTER", "INFILE", "TEMPLSET")


class ZWarn(enum.IntFlag):
    """Redshift warning bits (keyword ZWARN); 0 means no warning. Bits 12-15 are reserved."""

    NODATA = 1 << 0  #: no usable pixels; no fit attempted
    LITTLE_COVERAGE = 1 << 1  #: too few valid pixels or too narrow a wavelength range
    SMALL_DELTA_CHI2 = 1 << 2  #: another chi2 minimum is nearly as good as ZBEST
    Z_AT_EDGE = 1 << 3  #: ZBEST lies at the edge of [ZMIN, ZMAX]
    BAD_CHI2 = 1 << 4  #: reduced chi2 of the best fit is too large
    NEGATIVE_MODEL = 1 << 5  #: best-fit model is negative over a significant range
    UNRESOLVED_PEAK = 1 << 6  #: p(z) peak narrower than the redshift grid step
    USER_FLAG = 1 << 7  #: flagged by a human grader
    NO_TEMPLATE_COVERAGE = 1 << 8  #: no template has flux on the valid pixels at ZBEST
    LOW_ZCONF = 1 << 9  #: ZCONF < 0.5
    MASKED_PIXELS = 1 << 10  #: more than 20 % of the pixels are invalid
    ZERO_COEFFS = 1 << 11  #: all template coefficients are zero at ZBEST


def _vector(values: Any, unit: u.UnitBase | None, where: str) -> Any:
    if unit is None:
        arr = np.asarray(values, dtype=np.float64)
    else:
        q = values if isinstance(values, u.Quantity) else np.asarray(values, float) * unit
        try:
            arr = np.asarray(q.to_value(unit), dtype=np.float64)
        except u.UnitConversionError as exc:
            raise input_error(where, f"unit '{q.unit}' cannot be converted to '{unit}'") from exc
    if arr.ndim != 1:
        raise input_error(where, f"expected a 1D array, got shape {arr.shape}")
    return arr


@dataclasses.dataclass(eq=False)
class ZfitProduct:
    """Everything a ``zfit.fits`` file holds.

    Parameters
    ----------
    zbest : float
        Best-fit redshift (minimum of chi2(z)).
    zqual : int
        Quality class: 3 secure, 2 probable, 1 possible, 0 failed, -1 not assessed.
    zconf : float
        fraction of the integral of p(z) within |z - zbest| <= 0.03 (0-1).
    chi2min : float
        chi2 at zbest.
    zmin, zmax : float
        Redshift search range.
    ntempl : int
        Number of templates fitted.
    zwarn : int or ZWarn
        Warning bitmask (:class:`ZWarn`); 0 when all is well.
    model_wave, model_flux : Quantity
        Best-fit model: observed wavelength (stored in um) and f_nu (stored in uJy). Plain
        arrays are taken to be in um and uJy.
    model_continuum : Quantity
        The model's continuum templates alone (no emission lines), same grid and unit; empty
        when unknown (the MODEL HDU then has no ``continuum`` column).
    z, chi2, pz : ndarray
        Redshift grid, chi2 at each z and normalised p(z).
    templates : list of str
        Template names, one per coefficient.
    coeffs, coeffs_err : ndarray
        Coefficients at zbest and their 1-sigma errors (NaN if unknown; default all NaN).
    coeff_units : list of str
        Unit of each coefficient (FITS unit string, '' if dimensionless; default all '').
    meta : dict
        Further PRIMARY keywords: SRCNAME, GRATING, FILTER, INFILE, TEMPLSET (documented) or
        any other keyword of at most 8 characters.

    All summary numbers must be finite (FITS headers cannot hold NaN): a failed fit sets
    ``zqual=0`` and a :class:`ZWarn` bit, with ``zbest`` at any finite placeholder.
    """

    zbest: float
    zqual: int
    zconf: float
    chi2min: float
    zmin: float
    zmax: float
    ntempl: int
    zwarn: int = 0
    model_wave: u.Quantity = dataclasses.field(default_factory=lambda: np.zeros(0) * u.um)
    model_flux: u.Quantity = dataclasses.field(default_factory=lambda: np.zeros(0) * FNU_UNIT)
    model_continuum: u.Quantity = dataclasses.field(
        default_factory=lambda: np.zeros(0) * FNU_UNIT
    )
    z: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    chi2: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    pz: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    templates: list[str] = dataclasses.field(default_factory=list)
    coeffs: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    coeffs_err: np.ndarray | None = None
    coeff_units: list[str] | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        where = "ZfitProduct"
        for key, (attr, kind) in _SUMMARY.items():
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise input_error(f"{where} {attr}", f"expected a number, got {value!r}")
            if kind is int and int(value) != value:
                raise input_error(f"{where} {attr}", f"expected an integer, got {value!r}")
            if not np.isfinite(value):
                raise input_error(
                    f"{where} {attr}", f"{value} is not finite (FITS keyword {key} cannot hold it)"
                )
            setattr(self, attr, kind(value))
        self.model_wave = _vector(self.model_wave, u.um, f"{where} model_wave") * u.um
        self.model_flux = _vector(self.model_flux, FNU_UNIT, f"{where} model_flux") * FNU_UNIT
        if self.model_wave.shape != self.model_flux.shape:
            raise input_error(
                f"{where} model_flux",
                f"shape {self.model_flux.shape} != model_wave {self.model_wave.shape}",
            )
        cont = _vector(self.model_continuum, FNU_UNIT, f"{where} model_continuum")
        if cont.size and cont.shape != self.model_wave.shape:
            raise input_error(
                f"{where} model_continuum",
                f"shape {cont.shape} != model_wave {self.model_wave.shape}",
            )
        self.model_continuum = cont * FNU_UNIT
        self.z = _vector(self.z, None, f"{where} z")
        self.chi2 = _vector(self.chi2, None, f"{where} chi2")
        self.pz = _vector(self.pz, None, f"{where} pz")
        if not (self.z.shape == self.chi2.shape == self.pz.shape):
            raise input_error(f"{where} chi2", "z, chi2 and pz must have the same length")
        self.templates = [str(t) for t in self.templates]
        n = len(self.templates)
        self.coeffs = _vector(self.coeffs, None, f"{where} coeffs")
        self.coeffs_err = (
            np.full(n, np.nan)
            if self.coeffs_err is None
            else _vector(self.coeffs_err, None, f"{where} coeffs_err")
        )
        self.coeff_units = [""] * n if self.coeff_units is None else list(self.coeff_units)
        self.coeff_units = [str(x) for x in self.coeff_units]
        for unit in self.coeff_units:
            parse_unit(unit, f"{where} coeff_units")
        if not (self.coeffs.shape == self.coeffs_err.shape == (n,) and len(self.coeff_units) == n):
            raise input_error(
                f"{where} coeffs",
                f"templates, coeffs, coeffs_err and coeff_units must all have {n} entries",
            )
        self.meta = clean_meta(self.meta, set(_PRIMARY) - set(_OPTIONAL), where)

    @property
    def warnings(self) -> ZWarn:
        """``zwarn`` as a :class:`ZWarn` flag (unknown bits kept)."""
        return ZWarn(self.zwarn)


def zfit_hdulist(product: ZfitProduct) -> fits.HDUList:
    """The :class:`~astropy.io.fits.HDUList` that :func:`write_zfit` writes."""
    values = {key: getattr(product, attr) for key, (attr, _) in _SUMMARY.items()}
    extra = {k: v for k, v in product.meta.items() if k not in _PRIMARY}
    hdr = primary_header("zfit", values | product.meta, extra)
    columns = {"wave": product.model_wave.value, "flux": product.model_flux.value}
    if product.model_continuum.size:
        columns["continuum"] = product.model_continuum.value
    model = table_hdu("zfit", "MODEL", columns)
    chi2 = table_hdu("zfit", "CHI2", {"z": product.z, "chi2": product.chi2, "pz": product.pz})
    coeffs = table_hdu(
        "zfit",
        "COEFFS",
        {
            "template": np.array(product.templates, dtype=str),
            "coeff": product.coeffs,
            "coeff_err": product.coeffs_err,
            "unit": np.array(product.coeff_units, dtype=str),
        },
    )
    return fits.HDUList([fits.PrimaryHDU(header=hdr), model, chi2, coeffs])


def write_zfit(product: ZfitProduct, path: str | os.PathLike) -> Path:
    """Write a ``zfit.fits`` product atomically, with FITS checksums.

    On failure no file (and no temporary file) is left behind.
    """
    out = write_fits_atomic(zfit_hdulist(product), path, checksum=True)
    log.debug("wrote %s", out)
    return out


def read_zfit(path: str | os.PathLike) -> ZfitProduct:
    """Read a ``zfit.fits`` product written by :func:`write_zfit`.

    Raises
    ------
    SlitwiseInputError
        Not FITS, or an HDU, column, unit or keyword differs from the format (the message
        names the file, HDU and column).
    """
    path = str(path)
    with open_fits(path) as hdul:
        validate_hdul(hdul, "zfit", path, strict=False)
        prim = hdul[0].header

        def columns(name: str) -> dict[str, np.ndarray]:
            return {k.lower(): v[0] for k, v in table_columns(hdul[name]).items()}

        model, chi2, coeffs = columns("MODEL"), columns("CHI2"), columns("COEFFS")
        declared = set(_PRIMARY) - set(_OPTIONAL)
        skip = declared | STRUCTURAL_KEYWORDS | {"COMMENT", "HISTORY", ""}
        return ZfitProduct(
            **{attr: prim[key] for key, (attr, _) in _SUMMARY.items()},
            model_wave=model["wave"] * u.um,
            model_flux=model["flux"] * FNU_UNIT,
            model_continuum=model.get("continuum", np.zeros(0)) * FNU_UNIT,
            z=chi2["z"],
            chi2=chi2["chi2"],
            pz=chi2["pz"],
            templates=list(coeffs["template"]),
            coeffs=coeffs["coeff"],
            coeffs_err=coeffs["coeff_err"],
            coeff_units=list(coeffs["unit"]),
            meta={k: prim[k] for k in prim if k not in skip},
        )
