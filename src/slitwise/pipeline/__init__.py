"""Pipeline: typed configuration, stages, executors (in-process, process pool, Dask), runner.

The runner (and what it imports) loads on first use, so that reading the configuration, e.g.
to build the command-line parser, stays cheap.
"""

from slitwise.pipeline.config import STAGES, PipelineConfig, load_config

__all__ = ["STAGES", "PipelineConfig", "load_config", "RunResult", "run_pipeline"]


def __getattr__(name):
    if name in ("RunResult", "run_pipeline"):
        from slitwise.pipeline import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'slitwise.pipeline' has no attribute {name!r}")
