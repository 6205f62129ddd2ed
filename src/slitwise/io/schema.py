"""The data model of slitwise products: every HDU, column, unit, dtype and keyword.

This module is the single place that documents ``spec.fits``, ``zfit.fits`` and
``lines.fits``. It holds the
declarations as plain frozen dataclasses (:data:`PRODUCTS`), checks files against them
(:func:`validate_product`), and renders the documentation page ``docs/products.md``::

    python -m slitwise.io.schema docs/products.md

Conventions
-----------
- Units are FITS unit strings (parsed with ``astropy.units.Unit(..., format="fits")``); an empty
  string means dimensionless, and is still written as an explicit ``TUNITn = ''`` card so that
  every column carries TUNIT.
- ``dtype`` is a numpy dtype name (``float64``, ``int32``, ``bool``) or ``str``; it fixes the
  FITS column format (``D``, ``J``, ``L``, ``nA``) and is what the readers return, so a write
  followed by a read gives bitwise-identical arrays.
- A column whose ``pattern`` is set stands for a family of columns (``flux_box3``, ...); an
  HDU whose ``pattern`` is set stands for a family of HDUs (``SPEC1``, ``SPEC2``, ...).
- A unit may start with a PRIMARY keyword in braces, ``{FLUXUNIT} um-1``: the unit that
  keyword holds, times the rest (a line fit keeps its fluxes in the configuration's
  ``flux_unit``).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from slitwise.errors import input_error

__all__ = [
    "FORMAT_VERSION",
    "ColumnSpec",
    "KeywordSpec",
    "HDUSpec",
    "ProductSpec",
    "SPEC_SCHEMA",
    "ZFIT_SCHEMA",
    "LINES_SCHEMA",
    "PRODUCTS",
    "ZWARN_BITS",
    "ZQUAL_VALUES",
    "STRUCTURAL_KEYWORDS",
    "parse_unit",
    "column_unit",
    "column_dtype",
    "validate_product",
    "validate_hdul",
    "render_markdown",
]

#: Version of the product formats; the major number changes when a reader of the previous
#: version could no longer read a new file.
FORMAT_VERSION = "1.0"

#: FITS cards that belong to the file structure, not to product metadata.
STRUCTURAL_KEYWORDS = frozenset(
    {
        "SIMPLE",
        "BITPIX",
        "NAXIS",
        "NAXIS1",
        "NAXIS2",
        "NAXIS3",
        "EXTEND",
        "CHECKSUM",
        "DATASUM",
        "XTENSION",
        "PCOUNT",
        "GCOUNT",
        "EXTNAME",
        "TFIELDS",
    }
)


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    """One table column: name, FITS unit, dtype and a one-line description."""

    name: str
    unit: str
    dtype: str
    description: str
    required: bool = True
    #: Regular expression (full match) when this spec stands for a family of columns.
    pattern: str | None = None


@dataclasses.dataclass(frozen=True)
class KeywordSpec:
    """One header keyword: name, Python type (str/int/float/bool), description."""

    name: str
    type: str
    description: str
    required: bool = True
    unit: str = ""
    #: Fixed value every file must carry (e.g. ORIGIN = 'slitwise'), or None.
    value: Any = None


@dataclasses.dataclass(frozen=True)
class HDUSpec:
    """One HDU of a product."""

    name: str
    kind: str  # "primary", "image" or "table"
    description: str
    required: bool = True
    keywords: tuple[KeywordSpec, ...] = ()
    columns: tuple[ColumnSpec, ...] = ()
    #: Images: allowed numbers of dimensions and the pixel dtype.
    ndim: tuple[int, ...] = ()
    dtype: str = ""
    #: Images: BUNIT every file must have ("" = free, documented by the BUNIT keyword).
    bunit: str = ""
    #: Tables: whether columns not declared here may be present (kept on round trip).
    extra_columns: bool = False
    #: Regular expression (full match) when this spec stands for a family of HDUs.
    pattern: str | None = None

    def matches(self, name: str) -> bool:
        """Whether HDU ``name`` is this HDU (or one of its family)."""
        if self.pattern is not None:
            return re.fullmatch(self.pattern, name) is not None
        return name == self.name

    def column(self, name: str) -> ColumnSpec | None:
        """The spec of column ``name`` (exact or pattern match), or None."""
        for col in self.columns:
            if col.pattern is None and col.name.lower() == name.lower():
                return col
        for col in self.columns:
            if col.pattern is not None and re.fullmatch(col.pattern, name):
                return col
        return None


@dataclasses.dataclass(frozen=True)
class ProductSpec:
    """A product file: its kind (file-name suffix), description and ordered HDUs."""

    kind: str
    description: str
    hdus: tuple[HDUSpec, ...]

    def hdu(self, name: str) -> HDUSpec:
        """The spec of HDU ``name`` (or of the family it belongs to)."""
        for h in self.hdus:
            if h.matches(name):
                return h
        raise KeyError(name)

    def keywords(self, hdu: str = "PRIMARY") -> dict[str, KeywordSpec]:
        """Declared keywords of an HDU by name."""
        return {k.name: k for k in self.hdu(hdu).keywords}


# -- shared pieces ---------------------------------------------------------------------------
FNU = "uJy"
#: FITS spelling of 1e-20 erg/s/cm2/Angstrom (plain "A" would be read as Ampere).
FLAM = "10**-20 erg Angstrom-1 s-1 cm-2"


def _provenance(kind: str) -> tuple[KeywordSpec, ...]:
    return (
        KeywordSpec("ORIGIN", "str", "software that wrote the file", value="slitwise"),
        KeywordSpec("PRODTYPE", "str", "product kind, also the file-name suffix", value=kind),
        KeywordSpec("FMTVER", "str", "product format version (major.minor)"),
        KeywordSpec("SWVERS", "str", "slitwise version that wrote the file"),
    )


# -- spec.fits -------------------------------------------------------------------------------
#: Extraction-parameter keywords of the spec.fits PRIMARY header (all optional).
SPEC_EXTRACTION_KEYWORDS = (
    KeywordSpec("EXTMETH", "str", "1D extraction method of `flux` (e.g. 'optimal')", False),
    KeywordSpec("PROFTYPE", "str", "cross-dispersion profile model (e.g. 'gaussian')", False),
    KeywordSpec("PROFCEN", "float", "profile centre, rows from the trace", False, "pix"),
    KeywordSpec("PROFSIG", "float", "Gaussian profile sigma", False, "pix"),
    KeywordSpec("YTRACE", "float", "trace row at the reference column of SCI", False, "pix"),
    KeywordSpec("BKGMETH", "str", "background method (e.g. 'nod', 'global')", False),
    KeywordSpec("PATHCORR", "bool", "path-loss correction applied", False),
    KeywordSpec("NEXP", "int", "number of exposures combined", False),
    KeywordSpec("EXPTIME", "float", "total exposure time of the combined exposures", False, "s"),
)

SPEC_SCHEMA = ProductSpec(
    kind="spec",
    description="Extracted spectrum of one source in one grating/filter: the optimal and "
    "boxcar 1D spectra, the 2D spectrum they come from and the contributing exposures.",
    hdus=(
        HDUSpec(
            "PRIMARY",
            "primary",
            "Observation metadata and extraction parameters (no data). Keywords not listed "
            "here are free-form metadata kept on round trip.",
            keywords=_provenance("spec")
            + (
                KeywordSpec("SRCNAME", "str", "source name (the {source} of the file name)"),
                KeywordSpec("GRATING", "str", "disperser, e.g. PRISM, G395M"),
                KeywordSpec("FILTER", "str", "filter, e.g. CLEAR, F290LP"),
                KeywordSpec("REDSHIFT", "float", "redshift, when known beforehand", False),
            )
            + SPEC_EXTRACTION_KEYWORDS,
        ),
        HDUSpec(
            "SPEC1D",
            "table",
            "1D spectrum, one row per wavelength pixel; readable as a DJA/msaexp SPEC1D table.",
            columns=(
                ColumnSpec("wave", "um", "float64", "wavelength of the pixel centre"),
                ColumnSpec("flux", FNU, "float64", "optimally extracted f_nu"),
                ColumnSpec("err", FNU, "float64", "1-sigma uncertainty of `flux`"),
                ColumnSpec(
                    "flux_box{w}",
                    FNU,
                    "float64",
                    "boxcar f_nu in a w-pixel aperture (w = 3, 4, 5 by default)",
                    required=False,
                    pattern=r"flux_box[1-9][0-9]*",
                ),
                ColumnSpec(
                    "err_box{w}",
                    FNU,
                    "float64",
                    "1-sigma uncertainty of `flux_box{w}`",
                    required=False,
                    pattern=r"err_box[1-9][0-9]*",
                ),
                ColumnSpec("flam", FLAM, "float64", "`flux` as f_lambda (derived when written)"),
                ColumnSpec("flam_err", FLAM, "float64", "`err` as f_lambda"),
                ColumnSpec("valid", "", "bool", "pixel usable (finite, positive error, unmasked)"),
                ColumnSpec(
                    "resolution",
                    "",
                    "float64",
                    "resolving power R = lambda/FWHM, when known",
                    required=False,
                ),
            ),
        ),
        HDUSpec(
            "SCI",
            "image",
            "2D spectrum (rows: cross-dispersion, columns: wavelength) the 1D spectra come "
            "from; BUNIT gives its unit (normally uJy per pixel).",
            required=False,
            ndim=(2,),
            dtype="float64",
            keywords=(KeywordSpec("BUNIT", "str", "unit of the pixel values"),),
        ),
        HDUSpec(
            "ERR",
            "image",
            "1-sigma uncertainty of SCI, same shape and unit.",
            required=False,
            ndim=(2,),
            dtype="float64",
            keywords=(KeywordSpec("BUNIT", "str", "unit of the pixel values (as SCI)"),),
        ),
        HDUSpec(
            "WAVELENGTH",
            "image",
            "Wavelength of SCI: one value per column (1D) or per pixel (2D).",
            required=False,
            ndim=(1, 2),
            dtype="float64",
            bunit="um",
            keywords=(KeywordSpec("BUNIT", "str", "wavelength unit (um)"),),
        ),
        HDUSpec(
            "WHT",
            "image",
            "Weight of each SCI pixel in the combination (e.g. inverse variance).",
            required=False,
            ndim=(2,),
            dtype="float64",
            keywords=(KeywordSpec("BUNIT", "str", "unit of the weights ('' if none)"),),
        ),
        HDUSpec(
            "PROF1D",
            "table",
            "Cross-dispersion extraction weights per method, one row per SCI row.",
            required=False,
            columns=(
                ColumnSpec("y", "pix", "float64", "cross-dispersion coordinate of the row"),
                ColumnSpec(
                    "weight_{method}",
                    "",
                    "float64",
                    "weights of method {method} (e.g. weight_optimal, weight_box3)",
                    required=False,
                    pattern=r"weight_[a-z0-9_]+",
                ),
            ),
        ),
        HDUSpec(
            "EXPOSURES",
            "table",
            "Contributing exposures, one row each; extra columns are allowed.",
            required=False,
            extra_columns=True,
            columns=(
                ColumnSpec("file", "", "str", "exposure (cut-out) file name"),
                ColumnSpec("nod_position", "", "int32", "nod position index (1-based)"),
                ColumnSpec("exptime", "s", "float64", "effective exposure time"),
                ColumnSpec("stuck_shutters", "", "str", "masked stuck shutters, e.g. '1x1' or ''"),
            ),
        ),
    ),
)

# -- zfit.fits -------------------------------------------------------------------------------
#: ZWARN bits: (name, bit, meaning). Bits 12-15 are reserved for future warnings.
ZWARN_BITS = (
    ("NODATA", 0, "no usable pixels; no fit attempted"),
    ("LITTLE_COVERAGE", 1, "too few valid pixels or too narrow a wavelength range"),
    ("SMALL_DELTA_CHI2", 2, "another chi2 minimum is nearly as good as ZBEST"),
    ("Z_AT_EDGE", 3, "ZBEST lies at the edge of [ZMIN, ZMAX]"),
    ("BAD_CHI2", 4, "reduced chi2 of the best fit is too large"),
    ("NEGATIVE_MODEL", 5, "best-fit model is negative over a significant range"),
    ("UNRESOLVED_PEAK", 6, "p(z) peak narrower than the redshift grid step"),
    ("USER_FLAG", 7, "flagged by a human grader"),
    ("NO_TEMPLATE_COVERAGE", 8, "no template has flux on the valid pixels at ZBEST"),
    ("LOW_ZCONF", 9, "ZCONF < 0.5"),
    ("MASKED_PIXELS", 10, "more than 20 % of the pixels are invalid"),
    ("ZERO_COEFFS", 11, "all template coefficients are zero at ZBEST"),
)

#: ZQUAL values and their meaning.
ZQUAL_VALUES = (
    (3, "secure: single sharp p(z) peak, several features"),
    (2, "probable: one dominant peak, one clear feature or continuum shape only"),
    (1, "possible: ambiguous, several peaks"),
    (0, "failed: no redshift could be measured"),
    (-1, "not assessed"),
)

ZFIT_SCHEMA = ProductSpec(
    kind="zfit",
    description="Template redshift fit of one spectrum: best redshift and its quality, the "
    "best-fit model, the chi2(z) curve with p(z), and the template coefficients.",
    hdus=(
        HDUSpec(
            "PRIMARY",
            "primary",
            "Redshift summary (no data). Keywords not listed here are free-form metadata "
            "kept on round trip.",
            keywords=_provenance("zfit")
            + (
                KeywordSpec("ZBEST", "float", "best-fit redshift (minimum of chi2(z))"),
                KeywordSpec("ZQUAL", "int", "quality class, see ZQUAL values below"),
                KeywordSpec("ZCONF", "float", "share of integral p(z) with |z - ZBEST| <= 0.03"),
                KeywordSpec("CHI2MIN", "float", "chi2 at ZBEST"),
                KeywordSpec("ZMIN", "float", "lower end of the redshift search range"),
                KeywordSpec("ZMAX", "float", "upper end of the redshift search range"),
                KeywordSpec("NTEMPL", "int", "number of templates fitted"),
                KeywordSpec("ZWARN", "int", "warning bitmask, see ZWARN bits below (0 = none)"),
                KeywordSpec("SRCNAME", "str", "source name", False),
                KeywordSpec("GRATING", "str", "disperser of the fitted spectrum", False),
                KeywordSpec("FILTER", "str", "filter of the fitted spectrum", False),
                KeywordSpec("INFILE", "str", "file name of the fitted spectrum", False),
                KeywordSpec("TEMPLSET", "str", "name of the template set", False),
            ),
        ),
        HDUSpec(
            "MODEL",
            "table",
            "Best-fit model at ZBEST on the wavelength grid of the fitted spectrum (the "
            "spectra one after the other when several were fitted together).",
            columns=(
                ColumnSpec("wave", "um", "float64", "observed wavelength"),
                ColumnSpec("flux", FNU, "float64", "model f_nu"),
                ColumnSpec(
                    "continuum", FNU, "float64", "model f_nu without the emission lines", False
                ),
            ),
        ),
        HDUSpec(
            "CHI2",
            "table",
            "chi2 and normalised p(z) on the redshift grid.",
            columns=(
                ColumnSpec("z", "", "float64", "redshift"),
                ColumnSpec("chi2", "", "float64", "minimum chi2 over template coefficients"),
                ColumnSpec("pz", "", "float64", "posterior density p(z), integral over z = 1"),
            ),
        ),
        HDUSpec(
            "COEFFS",
            "table",
            "Template coefficients at ZBEST, one row per template.",
            columns=(
                ColumnSpec("template", "", "str", "template name"),
                ColumnSpec("coeff", "", "float64", "coefficient, in the unit of column `unit`"),
                ColumnSpec("coeff_err", "", "float64", "1-sigma uncertainty (NaN if unknown)"),
                ColumnSpec("unit", "", "str", "unit of `coeff` for this template"),
            ),
        ),
    ),
)

# -- lines.fits ------------------------------------------------------------------------------
#: Unit of the line fluxes of a line fit (its PRIMARY FLUXUNIT), for column units.
FLUXUNIT = "{FLUXUNIT}"
_LINE_FLAM = f"{FLUXUNIT} um-1"

LINES_SCHEMA = ProductSpec(
    kind="lines",
    description="Joint emission-line fit of every spectrum of one source (all its dispersers "
    "at once, so the file name has no grating: `{root}_{source}.lines.fits`): the "
    "configuration, the posterior as percentiles and draws, data and model per spectrum, "
    "derived line quantities and fit diagnostics. Line fluxes are in the configuration's "
    "`flux_unit` (PRIMARY `FLUXUNIT`, written `FLUXUNIT` below); flux densities in "
    "`FLUXUNIT um-1`.",
    hdus=(
        HDUSpec(
            "PRIMARY",
            "primary",
            "The configuration (data: its YAML text as UTF-8 bytes, "
            "`bytes(hdul[0].data).decode()`; loading that text gives the same configuration), "
            "the sampler and its settings (`HIERARCH SAMPLER <SETTING>` cards).",
            keywords=_provenance("lines")
            + (
                KeywordSpec("SAMPLER", "str", "inference method: map, svi, nuts or nested"),
                KeywordSpec("Z_INPUT", "float", "redshift the fitted redshift offsets add to"),
                KeywordSpec("FLUXUNIT", "str", "unit of line fluxes (astropy string)"),
                KeywordSpec("NSPEC", "int", "number of fitted spectra (HDUs SPEC1..SPEC<NSPEC>)"),
                KeywordSpec("CONFIG", "str", "'YAML': the configuration is this HDU's data"),
                KeywordSpec("SRCNAME", "str", "source name", False),
                KeywordSpec("LINEMODL", "str", "chosen line model (with MODELS)", False),
            ),
        ),
        HDUSpec(
            "PARAMS",
            "table",
            "Posterior percentiles: one row per percentile, one column per parameter (fluxes "
            "in FLUXUNIT, widths in km s-1, redshift offsets and calibration parameters "
            "dimensionless), then the continuum coefficients (`cont<window>_<coefficient>`).",
            columns=(
                ColumnSpec(
                    "percentile", "", "float64", "percentile: 0.15, 2.5, 16, 50, 84, 97.5, 99.85"
                ),
            ),
            extra_columns=True,
        ),
        HDUSpec(
            "SAMPLES",
            "table",
            "Posterior draws, one row per draw, with the columns and units of PARAMS: NUTS "
            "chains one after the other; MAP: draws of its Laplace approximation; SVI: of the "
            "fitted guide; nested: equally weighted draws.",
            extra_columns=True,
        ),
        HDUSpec(
            "SPEC<n>",
            "table",
            "One per fitted spectrum (SPEC1, SPEC2, ... in input order), on the pixels of "
            "its continuum windows: data, posterior-median model and its parts, then one "
            "column per line (its posterior-median model, named after the line).",
            keywords=(
                KeywordSpec("INSTRUME", "str", "instrument key, e.g. 'prism-clear'"),
                KeywordSpec("FILENAME", "str", "input spectrum (its last 68 characters)", False),
            ),
            columns=(
                ColumnSpec("wave", "um", "float64", "pixel centre, observed frame"),
                ColumnSpec("flux", _LINE_FLAM, "float64", "observed f_lambda"),
                ColumnSpec("err", _LINE_FLAM, "float64", "1-sigma error of `flux`"),
                ColumnSpec("model", _LINE_FLAM, "float64", "posterior-median total model"),
                ColumnSpec("continuum", _LINE_FLAM, "float64", "posterior-median continuum"),
            ),
            extra_columns=True,
            pattern=r"SPEC[0-9]+",
        ),
        HDUSpec(
            "DERIVED",
            "table",
            "Per line (rows in configuration order): each quantity as three values, the "
            "16th, 50th and 84th percentiles of its posterior.",
            columns=(
                ColumnSpec("line", "", "str", "line name"),
                ColumnSpec("wave_rest", "Angstrom", "float64", "rest vacuum wavelength"),
                ColumnSpec("flux", FLUXUNIT, "float64", "line flux (strength x flux parameter)"),
                ColumnSpec("ew_rest", "Angstrom", "float64", "rest-frame equivalent width"),
                ColumnSpec("dv", "km s-1", "float64", "velocity offset from Z_INPUT"),
                ColumnSpec("fwhm", "km s-1", "float64", "intrinsic FWHM (before the LSF)"),
            ),
        ),
        HDUSpec(
            "RATIOS",
            "table",
            "Line ratios, computed draw by draw: those the configuration lists under "
            "`ratios`, else the standard diagnostics among the fitted lines (Ha/Hb, "
            "[OIII]5008/Hb, [NII]6585/Ha, [SII]/Ha, [SII]6718/6733, [OII]/Hb, [NeIII]/[OII], "
            "[OIII]4364/5008). Absent when there is none.",
            required=False,
            columns=(
                ColumnSpec("ratio", "", "str", "NUMERATOR/DENOMINATOR, line names joined by +"),
                ColumnSpec("value", "", "float64", "16th, 50th and 84th percentiles"),
            ),
        ),
        HDUSpec(
            "DIAGNOSTICS",
            "table",
            "One row: goodness of fit and sampler diagnostics. Sampler-specific columns "
            "follow: NUTS `divergences`, `min_ess`, `max_r_hat`, `mean_steps`; SVI "
            "`converged`, `final_loss`, `loss_drop`; nested `ln_z`, `ln_z_err`, `n_calls`; "
            "all `time_s` (sampler) and `wall_s` (whole fit).",
            columns=(
                ColumnSpec("sampler", "", "str", "inference method"),
                ColumnSpec("loglike", "", "float64", "log-likelihood at the best point"),
                ColumnSpec("lppd", "", "float64", "log pointwise predictive density"),
                ColumnSpec("waic", "", "float64", "WAIC, deviance scale (-2 (lppd - p_waic))"),
                ColumnSpec("p_waic", "", "float64", "effective number of parameters of WAIC"),
                ColumnSpec("elpd_loo", "", "float64", "PSIS-LOO expected log predictive density"),
                ColumnSpec("p_loo", "", "float64", "effective number of parameters of LOO"),
                ColumnSpec("looic", "", "float64", "LOO information criterion (-2 elpd_loo)"),
                ColumnSpec("elpd_loo_se", "", "float64", "standard error of elpd_loo"),
                ColumnSpec("khat_max", "", "float64", "largest Pareto k of PSIS over the pixels"),
                ColumnSpec("n_khat_high", "", "int64", "pixels with Pareto k > 0.7"),
                ColumnSpec("chi2", "", "float64", "chi-square at the best point"),
                ColumnSpec("dof", "", "int64", "degrees of freedom (pixels - free parameters)"),
                ColumnSpec("redchi2", "", "float64", "reduced chi-square"),
                ColumnSpec("n_free", "", "int64", "free parameters"),
                ColumnSpec("n_pix", "", "int64", "fitted pixels"),
            ),
            extra_columns=True,
        ),
        HDUSpec(
            "CONVERGENCE",
            "table",
            "NUTS only: per free parameter, the split R-hat (each chain split in halves) "
            "and the effective sample size over all chains.",
            required=False,
            columns=(
                ColumnSpec("parameter", "", "str", "parameter name"),
                ColumnSpec("r_hat", "", "float64", "split R-hat"),
                ColumnSpec("ess", "", "float64", "effective sample size"),
            ),
        ),
        HDUSpec(
            "MODELS",
            "table",
            "When the fit was chosen among several line models (e.g. with and without a "
            "broad component): one row per model, simplest first; the other HDUs hold the "
            "chosen one. Criterion: `ln_z` (nested), `ln_z_laplace` (MAP: Laplace "
            "evidence) or `elpd_loo` (NUTS, SVI); a model replaces the one chosen before it "
            "when better by more than the margin.",
            required=False,
            columns=(
                ColumnSpec("model", "", "str", "model name (configuration file stem)"),
                ColumnSpec("criterion", "", "str", "ln_z, ln_z_laplace or elpd_loo"),
                ColumnSpec("value", "", "float64", "criterion value (nats, larger is better)"),
                ColumnSpec("error", "", "float64", "its standard error (0: none)"),
                ColumnSpec("delta", "", "float64", "value minus the first model's"),
                ColumnSpec("delta_err", "", "float64", "standard error of delta (paired "
                           "pixel by pixel for elpd_loo)"),
                ColumnSpec("n_free", "", "int64", "free parameters"),
                ColumnSpec("redchi2", "", "float64", "reduced chi-square"),
                ColumnSpec("khat_max", "", "float64", "largest PSIS Pareto k"),
                ColumnSpec("chosen", "", "bool", "the model the other HDUs hold"),
            ),
        ),
    ),
)

#: All products by kind.
PRODUCTS: dict[str, ProductSpec] = {
    "spec": SPEC_SCHEMA,
    "zfit": ZFIT_SCHEMA,
    "lines": LINES_SCHEMA,
}


# -- validation ------------------------------------------------------------------------------
def parse_unit(text: str, where: str) -> u.UnitBase:
    """Parse a FITS unit string (falling back to astropy's generic format)."""
    text = (text or "").strip()
    if not text:
        return u.dimensionless_unscaled
    for fmt in ("fits", "generic"):
        try:
            return u.Unit(text, format=fmt)
        except ValueError:
            continue
    raise input_error(where, f"unit '{text}' is not a valid unit")


_TFORM_KIND = {
    "D": "float64",
    "E": "float32",
    "K": "int64",
    "J": "int32",
    "I": "int16",
    "B": "uint8",
    "L": "bool",
    "A": "str",
}


def column_dtype(fmt: str) -> str:
    """The schema dtype name (float64, int32, bool, str, ...) of a FITS TFORM."""
    code = re.sub(r"^[0-9]+", "", str(fmt).strip().upper())[:1]
    return _TFORM_KIND.get(code, f"TFORM {fmt}")


def _check_keyword(header: fits.Header, spec: KeywordSpec, where: str) -> None:
    if spec.name not in header:
        if spec.required:
            raise input_error(where, f"keyword {spec.name} missing; expected {spec.description}")
        return
    value = header[spec.name]
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int | np.integer) and not isinstance(value, bool),
        "float": isinstance(value, float | int) and not isinstance(value, bool),
        "bool": isinstance(value, bool | np.bool_),
    }[spec.type]
    if not ok:
        raise input_error(where, f"keyword {spec.name}={value!r} is not of type {spec.type}")
    if spec.value is not None and value != spec.value:
        raise input_error(where, f"keyword {spec.name}={value!r}, expected {spec.value!r}")


def column_unit(col: ColumnSpec, keys: dict[str, str], where: str) -> u.UnitBase:
    """A column's declared unit; a leading ``{KEYWORD}`` is the unit that keyword holds."""
    m = re.fullmatch(r"\{([A-Z0-9_-]+)\}\s*(.*)", col.unit)
    if m is None:
        return parse_unit(col.unit, "schema")
    name, rest = m.groups()
    if name not in keys:
        raise input_error(where, f"keyword {name} (the unit of column '{col.name}') missing")
    return parse_unit(keys[name], f"{where} {name}") * parse_unit(rest, "schema")


def _check_table(
    hdu: fits.BinTableHDU, spec: HDUSpec, where: str, strict: bool, keys: dict[str, str]
) -> None:
    names = list(hdu.columns.names)
    lower = [n.lower() for n in names]
    label = f"{where}[{hdu.name}]"
    for col in spec.columns:
        if col.required and col.pattern is None and col.name.lower() not in lower:
            raise input_error(
                label,
                f"column '{col.name}' missing; expected {col.description} [{col.unit or '-'}]",
            )
    header = hdu.header
    for i, name in enumerate(names, start=1):
        here = f"{label}.{name}"
        if strict and f"TUNIT{i}" not in header:
            raise input_error(here, "column has no TUNIT card; every column must carry a unit")
        col = spec.column(name)
        if col is None:  # undeclared columns are allowed (forward compatibility)
            continue
        tunit = str(header.get(f"TUNIT{i}", ""))
        expected = column_unit(col, keys, f"{where}[PRIMARY]")
        if parse_unit(tunit, here) != expected:
            raise input_error(here, f"unit '{tunit}', expected '{expected}'")
        dtype = column_dtype(hdu.columns[i - 1].format)
        if dtype != col.dtype:
            raise input_error(here, f"dtype {dtype}, expected {col.dtype}")


def _check_image(hdu: fits.ImageHDU, spec: HDUSpec, where: str) -> None:
    here = f"{where}[{spec.name}]"
    data = hdu.data
    if data is None or data.ndim not in spec.ndim:
        shape = None if data is None else data.shape
        dims = " or ".join(f"{n}D" for n in spec.ndim)
        raise input_error(here, f"image shape {shape}, expected a {dims} array")
    if spec.dtype and data.dtype.newbyteorder("=") != np.dtype(spec.dtype):
        raise input_error(here, f"dtype {data.dtype}, expected {spec.dtype}")
    if spec.bunit:
        found = parse_unit(hdu.header.get("BUNIT", ""), here)
        if found != parse_unit(spec.bunit, "schema"):
            raise input_error(
                here, f"BUNIT '{hdu.header.get('BUNIT', '')}', expected '{spec.bunit}'"
            )


def validate_hdul(hdul: fits.HDUList, kind: str, where: str, *, strict: bool = True) -> None:
    """Check an open product against :data:`PRODUCTS` ``[kind]``.

    With ``strict=False`` (what the readers use) a column without a TUNIT card is taken as
    dimensionless: astropy drops empty TUNIT cards when it rewrites a table, and such a file
    is still readable. :func:`validate_product` is strict.

    Raises
    ------
    SlitwiseInputError
        Naming ``where`` (the file), the HDU and the column or keyword that does not match.
    """
    try:
        product = PRODUCTS[kind]
    except KeyError:
        raise input_error(
            f"kind '{kind}'", f"unknown product; expected one of {', '.join(PRODUCTS)}"
        ) from None
    keys = {k: str(v) for k, v in hdul[0].header.items() if isinstance(v, str)}
    for spec in product.hdus:
        if spec.kind == "primary":
            found = [hdul[0]]
        else:
            found = [h for h in hdul[1:] if spec.matches(h.name)]
        if not found:
            if spec.required:
                raise input_error(
                    f"{where}[{spec.name}]", f"HDU missing; expected {spec.description}"
                )
            continue
        for hdu in found:
            _check_hdu(hdu, spec, where, strict, keys)


def _check_hdu(hdu, spec: HDUSpec, where: str, strict: bool, keys: dict[str, str]) -> None:
    label = f"{where}[{'PRIMARY' if spec.kind == 'primary' else hdu.name}]"
    for key in spec.keywords:
        _check_keyword(hdu.header, key, label)
    if spec.kind == "primary":
        major = str(hdu.header["FMTVER"]).split(".")[0]
        if major != FORMAT_VERSION.split(".")[0]:
            found = hdu.header["FMTVER"]
            raise input_error(
                label, f"FMTVER={found!r}; this slitwise reads format {FORMAT_VERSION}"
            )
    elif spec.kind == "table":
        if not isinstance(hdu, fits.BinTableHDU):
            raise input_error(label, "expected a binary table HDU")
        _check_table(hdu, spec, where, strict, keys)
    else:
        if not isinstance(hdu, fits.ImageHDU):
            raise input_error(label, "expected an image HDU")
        _check_image(hdu, spec, where)


def validate_product(path, kind: str) -> None:
    """Check that the file at ``path`` is a valid ``kind`` product ('spec', 'zfit', 'lines').

    Checks the HDUs, their keywords (presence, type, fixed values), table columns (presence,
    TUNIT, dtype) and image dimensions/units declared in this module.

    Raises
    ------
    SlitwiseInputError
        Naming the file, HDU and column/keyword at fault.
    """
    from slitwise.io.fitsutil import open_fits

    with open_fits(path) as hdul:
        validate_hdul(hdul, kind, str(path))


# -- documentation ---------------------------------------------------------------------------
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _render_product(product: ProductSpec) -> list[str]:
    out = [f"## `{product.kind}.fits`", "", product.description, ""]
    out += ["| HDU | type | required | content |", "| --- | --- | --- | --- |"]
    for h in product.hdus:
        kind = h.kind if h.kind != "image" else f"image ({'/'.join(f'{n}D' for n in h.ndim)} "
        if h.kind == "image":
            kind += f"{h.dtype})"
        out.append(
            f"| {h.name} | {kind} | {'yes' if h.required else 'no'} | {_cell(h.description)} |"
        )
    for h in product.hdus:
        out += ["", f"### {product.kind}.fits [{h.name}]", "", h.description, ""]
        if h.keywords:
            out += [
                "| keyword | type | unit | required | meaning |",
                "| --- | --- | --- | --- | --- |",
            ]
            for k in h.keywords:
                meaning = k.description + (f" (always `{k.value!r}`)" if k.value else "")
                out.append(
                    f"| `{k.name}` | {k.type} | {_cell(k.unit) or '-'} | "
                    f"{'yes' if k.required else 'no'} | {_cell(meaning)} |"
                )
            out.append("")
        if h.columns:
            out += [
                "| column | unit (TUNIT) | dtype | required | meaning |",
                "| --- | --- | --- | --- | --- |",
            ]
            for c in h.columns:
                unit = f"`{c.unit}`" if c.unit else "`''` (dimensionless)"
                out.append(
                    f"| `{c.name}` | {unit} | {c.dtype} | "
                    f"{'yes' if c.required else 'no'} | {_cell(c.description)} |"
                )
            out.append("")
    return out


def render_markdown() -> str:
    """Render the product documentation page (``docs/products.md``) from the schema."""
    out = [
        "# slitwise products",
        "",
        "<!-- Generated by `python -m slitwise.io.schema docs/products.md` from",
        "     src/slitwise/io/schema.py; do not edit by hand. -->",
        "",
        f"Format version {FORMAT_VERSION}. File names follow "
        "`{root}_{grating}-{filter}_{source}.{kind}.fits` with grating and filter in lower "
        "case, e.g. `demo_prism-clear_1001.spec.fits` (see `slitwise.io.naming`).",
        "",
        "Every product is written to a temporary name and renamed, with FITS checksums "
        "(`CHECKSUM`/`DATASUM`) in every HDU. Every table column carries a `TUNIT` card "
        "(empty for dimensionless columns). Units are FITS unit strings; "
        f"`{FLAM}` is 1e-20 erg/s/cm2/A.",
        "",
    ]
    for product in PRODUCTS.values():
        out += _render_product(product)
    out += ["## ZQUAL values", "", "| ZQUAL | meaning |", "| --- | --- |"]
    out += [f"| {v} | {_cell(d)} |" for v, d in ZQUAL_VALUES]
    out += [
        "",
        "## ZWARN bits",
        "",
        "| bit | value | name | meaning |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {b} | {1 << b} | `{n}` | {_cell(d)} |" for n, b, d in ZWARN_BITS]
    out += ["", "Bits 12-15 are reserved.", ""]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out))


def main(argv: list[str] | None = None) -> int:
    """Write the documentation page to the path given (or print it)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render_markdown()
    if not argv:
        print(text, end="")
        return 0
    from slitwise.io.atomic import atomic_path

    with atomic_path(argv[0]) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
