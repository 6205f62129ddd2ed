"""Pipeline: typed configuration, stages, executors (in-process, process pool, Dask), runner."""

from slitwise.pipeline.config import STAGES, PipelineConfig, load_config
from slitwise.pipeline.runner import RunResult, run_pipeline

__all__ = ["STAGES", "PipelineConfig", "load_config", "RunResult", "run_pipeline"]
