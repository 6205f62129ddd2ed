"""``slitwise run CONFIG.toml``: the whole pipeline over a program."""

from __future__ import annotations

from slitwise.pipeline.config import STAGES

__all__ = ["add_parser", "stage_range"]


def stage_range(text: str) -> tuple[str, ...]:
    """Parse ``--stages``: ``extract-zfit`` (a range), ``zfit,summary`` (a list) or one name."""
    from slitwise.errors import input_error

    if "-" in text and "," not in text:
        first, _, last = text.partition("-")
        for name in (first, last):
            if name not in STAGES:
                raise input_error(f"--stages '{text}'", f"unknown stage '{name}'")
        i, j = STAGES.index(first), STAGES.index(last)
        if j < i:
            raise input_error(f"--stages '{text}'", "range runs backwards")
        return STAGES[i : j + 1]
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    for name in names:
        if name not in STAGES:
            raise input_error(f"--stages '{text}'", f"unknown stage '{name}'; "
                              f"expected names from {', '.join(STAGES)}")
    return names


def add_parser(sub):
    p = sub.add_parser(
        "run",
        help="run the pipeline described by a TOML configuration",
        description="Run the pipeline stages over every source. Stages: " + ", ".join(STAGES),
    )
    p.add_argument("config", help="TOML configuration file")
    p.add_argument("--stages", help="stage range 'extract-zfit' or list 'zfit,summary'")
    p.add_argument("--overwrite", action="store_true", help="recompute existing products")
    p.add_argument("--jobs", type=int, help="local worker processes")
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--dask-local", type=int, help="start a Dask LocalCluster with N workers")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from slitwise.pipeline.config import load_config
    from slitwise.pipeline.runner import format_timing_table, run_pipeline

    run_over = {"overwrite": True if args.overwrite else None}
    if args.stages:
        run_over["stages"] = stage_range(args.stages)
    cfg = load_config(
        args.config,
        run=run_over,
        executor={"jobs": args.jobs, "scheduler": args.scheduler, "dask_local": args.dask_local},
    )
    result = run_pipeline(cfg, progress=not args.no_progress)
    print(format_timing_table(result))
    print(f"{len(result.results)} sources, {result.n_failed} failed; products in "
          f"{result.output_dir}")
    return 0 if result.n_failed == 0 else 1
