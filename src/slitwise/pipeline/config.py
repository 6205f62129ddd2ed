"""Typed pipeline configuration, read from one TOML file.

Every option has a default and a one-line description (the ``description`` of its field);
``slitwise config show CONFIG`` prints the resolved configuration and
``slitwise config defaults`` prints every option with its default. Unknown keys and values of
the wrong type are errors that name the key and the file.

Example
-------
.. code-block:: toml

    [run]
    input_dir = "raw"
    output_dir = "products"
    root = "demo"

    [zfit]
    zmax = 12.0

    [[observations]]
    match = "sim_00002"          # exposures whose file name contains this text
    stuck_shutters = [2]         # shutter indices (1-based) stuck closed
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slitwise.errors import input_error

__all__ = [
    "STAGES",
    "RunConfig",
    "CleanConfig",
    "CalibrateConfig",
    "ExtractConfig",
    "ZfitConfig",
    "LinefitConfig",
    "ExecutorConfig",
    "ObservationOverride",
    "PipelineConfig",
    "load_config",
    "config_to_toml",
]

#: Pipeline stages in execution order.
STAGES = ("clean", "calibrate", "nodsub", "extract", "combine", "zfit", "linefit", "summary")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunConfig(_Section):
    """Where the inputs are, where products go, and which stages run."""

    input_dir: Path = Field(Path("raw"), description="directory holding the slitlet cut-outs")
    output_dir: Path = Field(Path("products"), description="directory for every product")
    root: str = Field("slitwise", description="prefix of product file names")
    pattern: str = Field("*.fits", description="glob of cut-out files inside input_dir")
    stages: tuple[str, ...] = Field(STAGES, description="stages to run, a subset of STAGES")
    overwrite: bool = Field(False, description="recompute products that already exist")


class CleanConfig(_Section):
    """Detector-level cleaning of full-frame rate images (program-level stage ``clean``)."""

    inputs: tuple[str, ...] = Field(
        (), description="glob patterns of *_rate.fits files (relative to the config file)"
    )
    output_dir: Path = Field(Path("clean"), description="directory for *_rate_clean.fits")
    passes: int = Field(5, ge=1, description="iterations of the background model")
    box_size: int = Field(8, ge=2, description="box of the smooth 2D background (pixels)")
    row_1f: Literal["auto", "on", "off"] = Field(
        "auto", description="row 1/f correction (auto: PRISM only)"
    )
    plots: bool = Field(True, description="write a diagnostic PNG per frame")


class CalibrateConfig(_Section):
    """Ground-based MOS / long-slit calibration (program-level stage ``calibrate``).

    When ``instrument`` is set the program is a ground one: the models are fitted from
    ``arc`` and ``flat`` (or an existing ``model.yaml`` in ``output_dir`` is reused), every
    science slit of every ``science`` frame is rectified into ``output_dir/rectified``, and
    those rectified slits, not ``run.input_dir``, are the sources of the later stages.
    """

    instrument: Path | None = Field(
        None, description="instrument configuration (.icf); unset: not a ground program"
    )
    mask: Path | None = Field(None, description="mask description (.mdf)")
    arc: Path | None = Field(None, description="arc frame (FITS)")
    flat: Path | None = Field(None, description="flat frame (FITS)")
    science: tuple[str, ...] = Field(
        (), description="glob patterns of science frames (relative to the config file)"
    )
    lamps: str | None = Field(None, description="lamp catalogues (default: the instrument's)")
    nsplit: int | None = Field(
        None, ge=1, description="IDS slices per slit (default 1, or 5 for long slits)"
    )
    flip_x: bool = Field(False, description="mirrored optics along x in the first guess")
    flip_y: bool = Field(False, description="mirrored optics along y in the first guess")
    tune_from: Path | None = Field(
        None, description="per-night tuning from this earlier calibration directory"
    )
    model: Path | None = Field(
        None, description="use this model.yaml as is (e.g. after 'calib refit'); no fit"
    )
    var_hdu: str | None = Field(
        "VAR", description="HDU of the science variance; missing: Poisson + read noise"
    )
    gain: float = Field(1.0, gt=0, description="electrons per data unit (variance fallback)")
    read_noise: float = Field(5.0, ge=0, description="read noise, electrons (variance fallback)")
    flux_scale: float | None = Field(
        None,
        gt=0,
        description="f_lambda in 1e-20 erg/s/cm2/A per electron/s/A; unset: relative fluxes",
    )
    output_dir: Path = Field(
        Path("calib"), description="model.yaml, slits.ecsv and rectified/ go here"
    )


class ExtractConfig(_Section):
    """Nod subtraction and extraction options."""

    profile: Literal["gaussian", "moffat"] = Field("gaussian", description="profile shape")
    trace_degree: int = Field(2, ge=0, le=5, description="polynomial degree of the trace centre")
    boxcar_widths: tuple[int, ...] = Field((3, 4, 5), description="boxcar full widths in pixels")
    sigma_clip: float = Field(5.0, gt=0, description="outlier rejection threshold (sigma)")
    detect_stuck: bool = Field(True, description="detect stuck-closed shutters automatically")
    serendips: bool = Field(True, description="extract secondary sources found in a slitlet")
    background: Literal["nod", "local"] = Field(
        "nod", description="subtract the other nods, or only a local background"
    )
    background_smooth: int = Field(
        15, ge=1, description="columns the nod background is averaged over along dispersion"
    )
    mask_source_in_background: bool = Field(
        True, description="leave the source out of the background exposures"
    )
    residual_background: int = Field(
        9, ge=0, description="window (columns) of the residual background; 0 disables it"
    )
    pathloss: Literal["auto", "keep", "model", "none"] = Field(
        "auto", description="keep the inputs' point-source path loss, re-model it, or none"
    )
    pathloss_size: bool = Field(
        True, description="with 'keep', add the extra loss of the fitted source size"
    )
    half_height: int = Field(8, ge=2, description="rows each side of the trace in the 2D product")
    oversample: float = Field(1.0, gt=0, description="wavelength bins per detector column")
    max_secondaries: int = Field(2, ge=0, description="at most this many serendips per slitlet")
    rescale_errors: bool = Field(
        False, description="scale pixel errors to the residual scatter away from the sources"
    )


class ZfitConfig(_Section):
    """Template redshift fitting."""

    zmin: float = Field(0.0, ge=0, description="lowest redshift searched")
    zmax: float = Field(20.0, gt=0, description="highest redshift searched")


class LinefitConfig(_Section):
    """Emission-line fitting (runs only when ``config`` is given)."""

    config: Path | None = Field(None, description="YAML line configuration; none: skip linefit")
    method: Literal["map", "svi", "nuts"] = Field("map", description="inference method")
    alternatives: tuple[Path, ...] = Field(
        (), description="further line configurations (e.g. adding broad components), simplest "
        "first; every source keeps the model the comparison prefers (MAP: Laplace evidence; "
        "NUTS/SVI: PSIS-LOO)")
    margin: float = Field(
        3.0, ge=0, description="nats by which a model must beat the one chosen before it")


class ExecutorConfig(_Section):
    """How sources are distributed."""

    jobs: int = Field(1, ge=1, description="local worker processes (1: in-process)")
    scheduler: str | None = Field(None, description="Dask scheduler address (tcp://host:port)")
    dask_local: int = Field(0, ge=0, description="start a Dask LocalCluster with this many workers")
    threads_per_worker: int = Field(1, ge=1, description="BLAS/JAX/numba threads per worker")


class ObservationOverride(_Section):
    """Per-observation overrides, matched on a substring of the cut-out file name."""

    match: str = Field(..., description="text contained in the file names this applies to")
    stuck_shutters: tuple[int, ...] = Field((), description="shutters (1-based) stuck closed")
    background_exposures: tuple[int, ...] = Field(
        (), description="nod positions to use as background (empty: all other nods)"
    )
    exclude: bool = Field(False, description="drop these exposures entirely")


class PipelineConfig(_Section):
    """The whole pipeline configuration."""

    run: RunConfig = RunConfig()
    clean: CleanConfig = CleanConfig()
    calibrate: CalibrateConfig = CalibrateConfig()
    extract: ExtractConfig = ExtractConfig()
    zfit: ZfitConfig = ZfitConfig()
    linefit: LinefitConfig = LinefitConfig()
    executor: ExecutorConfig = ExecutorConfig()
    observations: tuple[ObservationOverride, ...] = ()

    @property
    def is_ground(self) -> bool:
        """A ground-based program: sources come from the ``calibrate`` stage's slits."""
        return self.calibrate.instrument is not None

    def selected_stages(self) -> tuple[str, ...]:
        """The configured stages in pipeline order."""
        return tuple(s for s in STAGES if s in self.run.stages)

    def overrides_for(self, filename: str) -> list[ObservationOverride]:
        """Overrides whose ``match`` text occurs in ``filename``."""
        return [o for o in self.observations if o.match in os.path.basename(filename)]


def _format_validation_error(exc: ValidationError, path: str) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{path}: unknown key '{key}'"
    return f"{path}: key '{key}': {err['msg']}"


def load_config(path: str | os.PathLike | None = None, **overrides) -> PipelineConfig:
    """Load and validate a TOML configuration; relative paths are relative to the file.

    Parameters
    ----------
    path : path-like or None
        TOML file; None gives the defaults.
    **overrides
        Section dictionaries merged over the file's content (e.g. ``run={"overwrite": True}``).

    Raises
    ------
    SlitwiseInputError
        Unreadable TOML, an unknown key, a wrong type or an unknown stage name.
    """
    data: dict = {}
    where = "<defaults>"
    base = Path.cwd()
    if path is not None:
        where = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise input_error(where, "configuration file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise input_error(where, f"not valid TOML ({exc})") from exc
        base = Path(path).resolve().parent
    for section, values in overrides.items():
        data.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise input_error(where, _format_validation_error(exc, where).split(": ", 1)[1]) from exc
    if cfg.linefit.alternatives and cfg.linefit.config is None:
        raise input_error(where, "key 'linefit.alternatives': given without 'linefit.config' "
                          "(the first, simplest line model)")  # fmt: skip
    unknown = [s for s in cfg.run.stages if s not in STAGES]
    if unknown:
        raise input_error(where, f"key 'run.stages': unknown stage '{unknown[0]}'; "
                          f"expected a subset of {', '.join(STAGES)}")
    run = cfg.run.model_copy(
        update={
            "input_dir": (base / cfg.run.input_dir).resolve(),
            "output_dir": (base / cfg.run.output_dir).resolve(),
        }
    )
    clean = cfg.clean.model_copy(
        update={
            "inputs": tuple(str(base / p) for p in cfg.clean.inputs),
            "output_dir": (base / cfg.clean.output_dir).resolve(),
        }
    )
    cal = cfg.calibrate
    cal = cal.model_copy(
        update={
            **{
                key: (base / getattr(cal, key)).resolve()
                for key in ("instrument", "mask", "arc", "flat", "tune_from", "model")
                if getattr(cal, key) is not None
            },
            "science": tuple(str(base / p) for p in cal.science),
            "output_dir": (base / cal.output_dir).resolve(),
        }
    )
    linefit = cfg.linefit
    if linefit.config is not None:
        linefit = linefit.model_copy(update={"config": (base / linefit.config).resolve()})
    if linefit.alternatives:
        alts = tuple((base / p).resolve() for p in linefit.alternatives)
        linefit = linefit.model_copy(update={"alternatives": alts})
    return cfg.model_copy(
        update={"run": run, "clean": clean, "calibrate": cal, "linefit": linefit}
    )


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_to_toml(cfg: PipelineConfig, *, with_docs: bool = False) -> str:
    """Render a configuration as TOML (``with_docs`` adds each option's description)."""
    lines: list[str] = []
    for section, model in cfg:
        if section == "observations":
            continue
        lines.append(f"[{section}]")
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            if with_docs and field.description:
                lines.append(f"# {field.description}")
            if value is None:
                lines.append(f"# {name} = (unset)")
            else:
                lines.append(f"{name} = {_toml_value(value)}")
        lines.append("")
    for obs in cfg.observations:
        lines.append("[[observations]]")
        for name in type(obs).model_fields:
            lines.append(f"{name} = {_toml_value(getattr(obs, name))}")
        lines.append("")
    return "\n".join(lines)
