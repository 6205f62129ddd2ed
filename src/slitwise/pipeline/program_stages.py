"""Program-level stages: work on whole frames rather than on one source.

``clean`` runs detector-level cleaning on every full-frame rate image listed in the ``[clean]``
section, one task per frame on the same executor as the sources, skipping frames whose
cleaned product exists (unless ``overwrite``).

``calibrate`` (ground programs, ``[calibrate] instrument`` set) fits the OPT/CRV/IDS models
from the arc and flat once (reusing ``model.yaml`` unless ``overwrite``), then rectifies every
science frame, one task per frame, into ``[calibrate] output_dir/rectified``; those rectified
slits are the sources of the later stages.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import traceback
from pathlib import Path

from slitwise.errors import input_error

__all__ = [
    "CleanTask",
    "clean_task",
    "clean_tasks",
    "RectifyTask",
    "rectify_task",
    "run_clean_stage",
    "run_calibrate_stage",
    "rectified_dir",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CleanTask:
    """One rate frame to clean (picklable)."""

    rate: str
    out_dir: str
    passes: int
    box_size: int
    row_1f: str
    plots: bool
    overwrite: bool


def clean_tasks(cfg) -> list[CleanTask]:
    """Expand the ``[clean] inputs`` globs into tasks; an empty match is an input error."""
    files: list[str] = []
    for pattern in cfg.clean.inputs:
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise input_error(f"[clean] inputs '{pattern}'", "matches no file")
        files += matched
    c = cfg.clean
    return [
        CleanTask(f, str(c.output_dir), c.passes, c.box_size, c.row_1f, c.plots,
                  cfg.run.overwrite)  # fmt: skip
        for f in files
    ]


def clean_task(task: CleanTask) -> dict:
    """Clean one frame; never raises (failures come back as ``status='failed'``)."""
    from slitwise.detector.stage import clean_file, clean_output_paths

    fits_path, _ = clean_output_paths(task.rate, task.out_dir)
    if fits_path.exists() and not task.overwrite:
        return {"rate": task.rate, "status": "skipped", "seconds": 0.0}
    try:
        row_1f = {"auto": None, "on": True, "off": False}[task.row_1f]
        _, _, _, seconds = clean_file(
            task.rate, task.out_dir, n_passes=task.passes, box_size=task.box_size,
            row_1f=row_1f, plot=task.plots,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one frame must not stop the run
        log.error("cleaning %s failed\n%s", task.rate, traceback.format_exc())
        return {"rate": task.rate, "status": "failed", "seconds": 0.0, "error": str(exc)}
    return {"rate": task.rate, "status": "ok", "seconds": seconds, "product": str(fits_path)}


def run_clean_stage(cfg, executor) -> tuple[list[dict], float]:
    """Clean every configured frame on ``executor``; returns (reports, summed seconds)."""
    tasks = clean_tasks(cfg)
    if not tasks:
        return [], 0.0
    Path(cfg.clean.output_dir).mkdir(parents=True, exist_ok=True)
    reports = [r for _, r in executor.map(clean_task, tasks)]
    for r in reports:
        if r["status"] == "failed":
            log.warning("clean failed for %s: %s", r["rate"], r.get("error"))
    return reports, sum(r["seconds"] for r in reports)


def rectified_dir(cfg) -> Path:
    """Where the calibrate stage writes (and the later stages read) the rectified slits."""
    return Path(cfg.calibrate.output_dir) / "rectified"


@dataclasses.dataclass(frozen=True)
class RectifyTask:
    """One science frame to rectify (picklable)."""

    frame: str
    model: str
    mask: str
    slits: str
    out_dir: str
    var_hdu: str | None
    gain: float
    read_noise: float
    overwrite: bool


def rectify_task(task: RectifyTask) -> dict:
    """Rectify one frame; never raises (failures come back as ``status='failed'``)."""
    import time

    from slitwise.calib.stage import rectify_frame

    name = Path(task.frame).name.removesuffix(".gz").removesuffix(".fits")
    if (Path(task.out_dir) / f"{name}.done.json").exists() and not task.overwrite:
        return {"rate": task.frame, "status": "skipped", "seconds": 0.0}
    t0 = time.perf_counter()
    try:
        files = rectify_frame(
            task.frame, task.model, task.mask, task.out_dir, var_hdu=task.var_hdu,
            gain=task.gain, read_noise=task.read_noise, slits_table=task.slits or None,
            overwrite=task.overwrite,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one frame must not stop the run
        log.error("rectifying %s failed\n%s", task.frame, traceback.format_exc())
        return {"rate": task.frame, "status": "failed", "seconds": 0.0, "error": str(exc)}
    return {"rate": task.frame, "status": "ok", "seconds": time.perf_counter() - t0,
            "products": [str(f) for f in files]}  # fmt: skip


def run_calibrate_stage(cfg, executor) -> tuple[list[dict], float]:
    """Fit (or reuse) the ground calibration models, then rectify every science frame.

    Raises
    ------
    SlitwiseInputError
        A required ``[calibrate]`` option is missing or a ``science`` pattern matches nothing
        (configuration errors stop the run before any work).
    """
    import time

    from slitwise.calib.stage import fit_calibration

    cal = cfg.calibrate
    out = Path(cal.output_dir)
    model_path, slits_path = out / "model.yaml", out / "slits.ecsv"
    given = cal.model is not None  # a model chosen by the user (e.g. refined): never refitted
    if given:
        model_path, slits_path = Path(cal.model), Path(cal.model).with_name("slits.ecsv")
        if not model_path.is_file():
            raise input_error(f"[calibrate] model '{model_path}'", "file not found")
    reuse = given or (model_path.exists() and not cfg.run.overwrite)
    for key in ("mask",) + (() if reuse else ("arc", "flat")):
        if getattr(cal, key) is None:
            raise input_error(f"[calibrate] {key}", "required when [calibrate] instrument is set")
    frames: list[str] = []
    for pattern in cal.science:
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise input_error(f"[calibrate] science '{pattern}'", "matches no file")
        frames += matched
    if not frames:
        raise input_error("[calibrate] science", "no science frame given")
    reports: list[dict] = []
    seconds = 0.0
    if reuse and (given or slits_path.exists()):
        reports.append({"rate": str(model_path), "status": "skipped", "seconds": 0.0})
    else:
        t0 = time.perf_counter()
        result = fit_calibration(
            cal.instrument, cal.mask, cal.arc, cal.flat, out,
            labels=("[calibrate] arc", "[calibrate] flat"), lamps=cal.lamps, nsplit=cal.nsplit,
            flip_x=cal.flip_x, flip_y=cal.flip_y, tune_from=cal.tune_from,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        log.info("calibration models: OPT rms %.3f px, CRV rms %.3f px, IDS rms %.3f px",
                 result.opt_rms, result.crv_rms, result.ids_rms)  # fmt: skip
        reports.append({"rate": str(model_path), "status": "ok", "seconds": seconds})
    rect_dir = rectified_dir(cfg)
    rect_dir.mkdir(parents=True, exist_ok=True)
    tasks = [
        RectifyTask(f, str(model_path), str(cal.mask),
                    str(slits_path) if slits_path.exists() else "", str(rect_dir),
                    cal.var_hdu, cal.gain, cal.read_noise, cfg.run.overwrite)  # fmt: skip
        for f in frames
    ]
    for _, r in executor.map(rectify_task, tasks):
        if r["status"] == "failed":
            log.warning("rectification failed for %s: %s", r["rate"], r.get("error"))
        reports.append(r)
        seconds += r["seconds"]
    return reports, seconds
