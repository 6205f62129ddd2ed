"""YAML configuration of a joint line fit (pydantic models).

Example (the benchmark of issue 9)::

    redshift: 6.779
    flux_unit: 1e-18 erg / (s cm2)
    parameters:
      z:      {prior: uniform, low: -0.005, high: 0.005}
      fwhm_n: {prior: uniform, low: 100, high: 500}
      fwhm_b: {prior: uniform, low: "fwhm_n + 150", high: 5000}
      f_oiii: {prior: uniform, low: -50, high: 50}
      ...
    lines:
      - {name: OIII_4960, wave: 4960.295, profile: gaussian, z: z, fwhm: fwhm_n, flux: f_oiii,
         strength: 1.0}
      - {name: OIII_5008, wave: 5008.24,  profile: gaussian, z: z, fwhm: fwhm_n, flux: f_oiii,
         strength: 3.0}
    continuum: {form: linear, width: 15000}
    instruments:
      prism-clear:  {r_scale: r_a, pix_offset: pix_prism}
      g395m-f290lp: {r_scale: r_a, flux_scale: fs_g395m}

Conventions: line fluxes are in ``flux_unit`` (an integrated flux, e.g. erg/s/cm2);
redshift parameters are offsets added to ``redshift``; widths are FWHM in km/s; a line's flux
is ``strength`` times its flux parameter, so lines naming the same flux parameter have a fixed
ratio; lines naming the same ``z``/``fwhm`` parameter share it. Rest wavelengths are vacuum
Angstrom (``wave``) or looked up by ``name`` in :mod:`slitwise.lines.linelist`.

Unknown keys are errors naming the key; :func:`save_config` then :func:`load_config` gives an
equal configuration.
"""

from __future__ import annotations

import os
from typing import Literal

import astropy.units as u
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from slitwise.errors import input_error
from slitwise.lines.derived import parse_ratio
from slitwise.lines.priors import PriorSpec, topological_order
from slitwise.lines.profiles import PROFILES, SHAPE_PARAMETERS

__all__ = [
    "ParameterConfig",
    "LineConfig",
    "ContinuumConfig",
    "InstrumentConfig",
    "LikelihoodConfig",
    "LineFitConfig",
    "load_config",
    "save_config",
    "config_from_yaml",
    "config_to_yaml",
    "CONTINUUM_FORMS",
]

Number = float | str
#: Continuum forms and the coefficient names they take (``order``/``knots`` add more).
CONTINUUM_FORMS = (
    "linear", "polynomial", "chebyshev", "powerlaw", "blackbody", "bspline", "template"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterConfig(_Strict):
    """A named parameter and its prior; numbers may be expressions of other parameters."""

    prior: Literal["uniform", "loguniform", "normal", "truncnorm", "halfnormal", "fixed"]
    low: Number | None = None
    high: Number | None = None
    loc: Number | None = None
    scale: Number | None = None
    value: Number | None = None

    def spec(self, name: str) -> PriorSpec:
        """Parsed :class:`PriorSpec` of this parameter."""
        fields = {k: getattr(self, k) for k in ("low", "high", "loc", "scale", "value")}
        return PriorSpec.from_mapping(name, self.prior, fields)


class LineConfig(_Strict):
    """One emission (or absorption) component."""

    name: str
    wave: float | None = Field(None, description="rest vacuum wavelength [Angstrom]")
    profile: str = "gaussian"
    z: str = Field(description="redshift-offset parameter name")
    fwhm: str = Field(description="intrinsic FWHM parameter name [km/s]")
    flux: str | None = Field(None, description="flux parameter name [flux_unit]")
    strength: float = 1.0
    kind: Literal["emission", "absorption"] = "emission"
    tau: str | None = Field(None, description="peak optical depth parameter (absorption)")
    fwhm_l: str | None = None
    h3: str | None = None
    h4: str | None = None
    alpha: str | None = None
    asym: str | None = None

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, v: str) -> str:
        v = v.lower().replace("-", "_")
        if v not in PROFILES:
            raise ValueError(f"unknown profile '{v}'; expected one of {list(PROFILES)}")
        return v

    def parameter_names(self) -> dict[str, str]:
        """Role -> parameter name for every parameter this line uses."""
        out = {"z": self.z, "fwhm": self.fwhm}
        if self.kind == "emission":
            out["flux"] = self.flux
        else:
            out["tau"] = self.tau
        for role in SHAPE_PARAMETERS[self.profile]:
            out[role] = getattr(self, role)
        return out


class ContinuumConfig(_Strict):
    """Continuum windows around the lines (merged when overlapping) and their form."""

    form: Literal[
        "linear", "polynomial", "chebyshev", "powerlaw", "blackbody", "bspline", "template"
    ] = "linear"
    width: float = Field(15000.0, description="full window width around each line [km/s]")
    order: int | None = Field(
        None, ge=0, le=8,
        description="polynomial / Chebyshev order (default 1); for 'template' the degree of "
        "the polynomial multiplying the template (default 0: a scale per window)",
    )
    knots: int = Field(4, ge=1, le=30, description="B-spline intervals per window")
    windows: list[tuple[float, float]] | None = Field(
        None, description="explicit rest-frame windows [Angstrom] instead of line windows"
    )
    shared: list[str] = Field(
        default_factory=list, description="coefficients shared by all windows (e.g. beta)"
    )


class InstrumentConfig(_Strict):
    """Resolution and calibration nuisance parameters of one disperser / instrument."""

    r_scale: str | None = None
    flux_scale: str | list[str] | None = None
    pix_offset: str | None = None
    error_scale: str | None = None
    resolution: Literal["auto", "spectrum", "disperser"] | float = "auto"
    point_source: bool = True

    def parameter_names(self) -> list[str]:
        out = [self.r_scale, self.pix_offset, self.error_scale]
        fs = self.flux_scale
        out += list(fs) if isinstance(fs, list) else [fs]
        return [n for n in out if n]


class LikelihoodConfig(_Strict):
    """Likelihood: Gaussian or Student-t (robust to outliers)."""

    kind: Literal["gaussian", "student_t"] = "gaussian"
    nu: float = Field(4.0, gt=0)


class PrepareConfig(_Strict):
    """Data preparation options."""

    error_rescale: bool = False
    line_mask_fwhm: float = Field(3.0, gt=0, description="mask half-width in fitted FWHMs")


class LineFitConfig(_Strict):
    """The whole line-fit configuration."""

    redshift: float
    flux_unit: str = "1e-18 erg / (s cm2)"
    parameters: dict[str, ParameterConfig]
    lines: list[LineConfig]
    continuum: ContinuumConfig = ContinuumConfig()
    instruments: dict[str, InstrumentConfig] = Field(default_factory=dict)
    likelihood: LikelihoodConfig = LikelihoodConfig()
    prepare: PrepareConfig = PrepareConfig()
    ratios: list[str] = Field(
        default_factory=list,
        description="line ratios to report, 'A/B' or 'A+B/C' with line names (default: the "
        "standard diagnostics among the fitted lines)",
    )

    @field_validator("flux_unit")
    @classmethod
    def _flux_unit(cls, v: str) -> str:
        unit = u.Unit(v)
        if unit.physical_type != (u.erg / u.s / u.cm**2).physical_type:
            raise ValueError(f"flux_unit '{v}' is not an integrated flux (erg / (s cm2))")
        return v

    @property
    def flux_unit_quantity(self) -> u.UnitBase:
        return u.Unit(self.flux_unit)

    def prior_specs(self) -> dict[str, PriorSpec]:
        """Parsed priors of the declared parameters, by name."""
        return {n: p.spec(n) for n, p in self.parameters.items()}

    def check_names(self) -> None:
        """Every parameter a line or instrument names must be declared.

        Raises
        ------
        SlitwiseInputError
            Naming the first undeclared parameter and where it is used, or a line lacking a
            parameter its profile/kind needs.
        """
        seen = set()
        for line in self.lines:
            if line.name in seen:
                raise input_error(f"line '{line.name}'", "duplicate line name")
            seen.add(line.name)
            for role, pname in line.parameter_names().items():
                if pname is None:
                    raise input_error(
                        f"line '{line.name}'",
                        f"needs a '{role}' parameter for kind '{line.kind}' / profile "
                        f"'{line.profile}'",
                    )
                if pname not in self.parameters:
                    raise input_error(
                        f"line '{line.name}' {role}",
                        f"unknown parameter '{pname}' (declare it under 'parameters')",
                    )
        for text in self.ratios:
            try:
                num, den = parse_ratio(text)
            except ValueError as exc:
                raise input_error(f"ratios '{text}'", str(exc)) from None
            for name in num + den:
                if name not in seen:
                    raise input_error(f"ratios '{text}'", f"unknown line '{name}'")
        for key, inst in self.instruments.items():
            for pname in inst.parameter_names():
                if pname not in self.parameters:
                    raise input_error(
                        f"instrument '{key}'",
                        f"unknown parameter '{pname}' (declare it under 'parameters')",
                    )
        topological_order(self.prior_specs())


def _validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key '{err['loc'][-1]}' at '{loc}'"
    return f"'{loc}': {err['msg']}"


def config_from_yaml(text: str, where: str = "line-fit config") -> LineFitConfig:
    """Parse YAML text into a checked :class:`LineFitConfig`.

    Raises
    ------
    SlitwiseInputError
        Invalid YAML, an unknown key (named), a missing or badly typed field, or an
        undeclared parameter name.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise input_error(where, f"invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise input_error(where, "expected a mapping at the top level")
    try:
        cfg = LineFitConfig.model_validate(raw)
    except ValidationError as exc:
        raise input_error(where, _validation_message(exc)) from None
    except ValueError as exc:
        raise input_error(where, str(exc)) from None
    cfg.check_names()
    return cfg


def config_to_yaml(cfg: LineFitConfig) -> str:
    """YAML text of a configuration (only non-default values; order kept)."""
    data = cfg.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("redshift", cfg.redshift)
    if "continuum" in data and data["continuum"].get("windows") is not None:
        data["continuum"]["windows"] = [list(w) for w in data["continuum"]["windows"]]
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def load_config(path: str | os.PathLike) -> LineFitConfig:
    """Read a YAML line-fit configuration file."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise input_error(path, f"cannot read configuration: {exc.strerror}") from exc
    return config_from_yaml(text, where=str(path))


def save_config(cfg: LineFitConfig, path: str | os.PathLike) -> None:
    """Write a configuration as YAML (load_config gives an equal configuration back)."""
    with open(path, "w") as fh:
        fh.write(config_to_yaml(cfg))

