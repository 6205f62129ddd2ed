"""Program-level stages: work on whole frames rather than on one source.

``clean`` runs detector-level cleaning on every full-frame rate image listed in the ``[clean]``
section, one task per frame on the same executor as the sources, skipping frames whose
cleaned product exists (unless ``overwrite``).
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import traceback
from pathlib import Path

from slitwise.errors import input_error

__all__ = ["CleanTask", "clean_task", "clean_tasks"]

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
