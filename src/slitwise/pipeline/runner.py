"""The pipeline runner: stages over every source, on any executor, resumable.

``run_pipeline(cfg)`` finds the sources of the program, hands one :class:`SourceTask` per
source to the executor, and collects :class:`SourceResult` records into the summary products.
The per-source function :func:`process_source` is the single code path every executor runs; it
never raises: a failing source is logged (traceback in ``logs/<source>.log``) and reported with
``status='failed'``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from slitwise.io.atomic import TMP_PREFIX, atomic_path
from slitwise.pipeline.config import PipelineConfig, config_to_toml
from slitwise.pipeline.discover import SourceUnit, discover_sources
from slitwise.pipeline.executors import make_executor
from slitwise.pipeline.manifest import read_manifest, write_manifest
from slitwise.pipeline.stages import SOURCE_STAGES, StageContext

__all__ = ["SourceTask", "SourceResult", "RunResult", "process_source", "run_pipeline"]

log = logging.getLogger(__name__)

RESOLVED_CONFIG = "run_config.toml"


@dataclasses.dataclass(frozen=True)
class SourceTask:
    """Everything a worker needs for one source (picklable)."""

    unit: SourceUnit
    config: dict[str, Any]
    stages: tuple[str, ...]


@dataclasses.dataclass
class SourceResult:
    """What happened to one source."""

    unit_key: str
    status: str  # "ok", "skipped" (everything already done) or "failed"
    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    products: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    error: str = ""


@dataclasses.dataclass
class RunResult:
    """The outcome of a whole run."""

    output_dir: Path
    results: list[SourceResult]
    stage_times: dict[str, float]
    wall_time: float
    summary_path: Path | None = None
    clean_reports: list[dict] = dataclasses.field(default_factory=list)
    calibrate_reports: list[dict] = dataclasses.field(default_factory=list)

    @property
    def n_failed(self) -> int:
        """Sources and frames that failed."""
        return sum(r.status == "failed" for r in self.results) + sum(
            r["status"] == "failed" for r in self.clean_reports + self.calibrate_reports
        )


def _relative(path, out_dir: Path) -> str:
    path = Path(path)
    return str(path.relative_to(out_dir) if path.is_absolute() else path)


def _source_logger(out_dir: Path, key: str) -> logging.Handler:
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out_dir / "logs" / f"{key}.log", mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    return handler


def process_source(task: SourceTask) -> SourceResult:
    """Run the selected per-source stages for one source; never raises."""
    cfg = PipelineConfig.model_validate(task.config)
    out_dir = cfg.run.output_dir
    unit = task.unit
    result = SourceResult(unit_key=unit.key, status="skipped")
    handler = _source_logger(out_dir, unit.key)
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    previous_level = root_logger.level
    if root_logger.level > logging.INFO or root_logger.level == logging.NOTSET:
        root_logger.setLevel(logging.INFO)
    ctx = StageContext(cfg=cfg, unit=unit, out_dir=out_dir)
    stage = ""
    try:
        for stage, func in SOURCE_STAGES.items():
            if stage not in task.stages:
                # not selected: later stages still see what an earlier run produced
                earlier = read_manifest(out_dir, unit.key, stage)
                if earlier is not None:
                    ctx.outputs[stage] = earlier
                continue
            done = None if cfg.run.overwrite else read_manifest(out_dir, unit.key, stage)
            if done is not None:
                ctx.outputs[stage] = done
                result.products[stage] = done.get("products", [])
                continue
            t0 = time.perf_counter()
            output = func(ctx)
            result.timings[stage] = time.perf_counter() - t0
            output["products"] = [_relative(p, out_dir) for p in output["products"]]
            write_manifest(out_dir, unit.key, stage, output)
            ctx.outputs[stage] = output
            result.products[stage] = output["products"]
            result.status = "ok"
        result.records = ctx.records()
    except Exception as exc:  # noqa: BLE001 - one source must never stop the run
        result.status = "failed"
        result.error = f"{stage}: {exc.__class__.__name__}: {exc}"
        logging.getLogger(__name__).error(
            "source %s failed in stage %s\n%s", unit.key, stage, traceback.format_exc()
        )
        result.records = ctx.records(failed_stage=stage, error=result.error)
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(previous_level)
        handler.close()
    return result


def _remove_stale_temporaries(out_dir: Path) -> int:
    n = 0
    for path in out_dir.rglob(TMP_PREFIX + "*"):
        path.unlink(missing_ok=True)
        n += 1
    if n:
        log.info("removed %d temporary files left by an interrupted run", n)
    return n


def _discover(cfg: PipelineConfig) -> list[SourceUnit]:
    """The program's sources: rectified ground slits, or NIRSpec cut-outs in ``input_dir``."""
    exclude = tuple(o.match for o in cfg.observations if o.exclude)
    if cfg.is_ground:
        from slitwise.pipeline.program_stages import rectified_dir

        return discover_sources(rectified_dir(cfg), pattern="*.rect.fits", exclude=exclude)
    return discover_sources(cfg.run.input_dir, pattern=cfg.run.pattern, exclude=exclude)


def run_pipeline(cfg: PipelineConfig, *, progress: bool = True) -> RunResult:
    """Run the configured stages over every source of the program.

    Parameters
    ----------
    cfg : PipelineConfig
        Resolved configuration (see :func:`slitwise.pipeline.config.load_config`).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    RunResult
    """
    t_start = time.perf_counter()
    out_dir = Path(cfg.run.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out_dir)
    with atomic_path(out_dir / RESOLVED_CONFIG) as tmp:
        tmp.write_text(config_to_toml(cfg))
    stages = cfg.selected_stages()
    source_stages = [s for s in stages if s in SOURCE_STAGES]
    clean_reports: list[dict] = []
    clean_seconds = 0.0
    calib_reports: list[dict] = []
    program_seconds: dict[str, float] = {}
    units: list[SourceUnit] = []
    if source_stages and not cfg.is_ground:
        units = _discover(cfg)  # input errors before any executor starts
    ex = cfg.executor
    with make_executor(
        jobs=ex.jobs,
        scheduler=ex.scheduler,
        dask_local=ex.dask_local,
        threads_per_worker=ex.threads_per_worker,
    ) as executor:
        if "clean" in stages and cfg.clean.inputs:
            from slitwise.pipeline.program_stages import run_clean_stage

            clean_reports, clean_seconds = run_clean_stage(cfg, executor)
            log.info("cleaned %d frames", sum(r["status"] == "ok" for r in clean_reports))
        if "calibrate" in stages and cfg.is_ground:
            from slitwise.pipeline.program_stages import run_calibrate_stage

            calib_reports, calib_seconds = run_calibrate_stage(cfg, executor)
            program_seconds["calibrate"] = calib_seconds
        if source_stages and cfg.is_ground:
            units = _discover(cfg)  # the slits the calibrate stage rectified
        payload = cfg.model_dump(mode="json")
        tasks = [SourceTask(unit=u, config=payload, stages=stages) for u in units]
        results: list[SourceResult | None] = [None] * len(tasks)
        log.info("processing %d sources with the %s executor", len(tasks), executor.name)
        bar = tqdm(total=len(tasks), desc="sources", unit="src", disable=not progress)
        for index, res in executor.map(process_source, tasks):
            results[index] = res
            bar.update(1)
            if res.status == "failed":
                log.warning("source %s failed: %s", res.unit_key, res.error)
        bar.close()
    # every worker has finished: a temporary file now can only be left by a killed worker
    _remove_stale_temporaries(out_dir)
    final = [r for r in results if r is not None]
    stage_times: dict[str, float] = defaultdict(float)
    if clean_reports:
        stage_times["clean"] = clean_seconds
    stage_times.update(program_seconds)
    for res in final:
        for stage, seconds in res.timings.items():
            stage_times[stage] += seconds
    run = RunResult(
        output_dir=out_dir,
        results=final,
        stage_times=dict(stage_times),
        wall_time=time.perf_counter() - t_start,
    )
    run.clean_reports = clean_reports
    run.calibrate_reports = calib_reports
    if "summary" in stages and final:
        from slitwise.pipeline.summary import write_summary

        t0 = time.perf_counter()
        run.summary_path = write_summary(run, cfg)
        run.stage_times["summary"] = run.stage_times.get("summary", 0.0) + time.perf_counter() - t0
    run.wall_time = time.perf_counter() - t_start
    return run


def format_timing_table(run: RunResult) -> str:
    """A small text table of the time spent in each stage (summed over sources)."""
    lines = [f"{'stage':<10} {'seconds':>9}"]
    for stage, seconds in run.stage_times.items():
        lines.append(f"{stage:<10} {seconds:9.2f}")
    lines.append(f"{'wall':<10} {run.wall_time:9.2f}")
    return "\n".join(lines)
