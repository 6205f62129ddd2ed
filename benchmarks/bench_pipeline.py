"""Pipeline throughput: sources per minute with 1 and 2 workers, and runner overhead.

Simulates a PRISM program (default 100 sources, 2 nods) once, then runs the pipeline
(nod subtraction, extraction, zfit, figures, summary) from scratch with

* the in-process executor (reference: no worker start-up, no serialisation),
* a Dask LocalCluster with 1 worker, and with 2 workers.

Prints sources per minute, the scaling efficiency (throughput with 2 workers divided by twice
the throughput with 1) and the runner overhead: the part of the wall time not spent inside
the stages, as a fraction of the stage time (stage time summed over sources and divided by
the number of workers).

Usage::

    python benchmarks/bench_pipeline.py [--n 100] [--stages nodsub,extract,combine,zfit,summary]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from slitwise.pipeline.config import load_config
from slitwise.pipeline.runner import run_pipeline
from slitwise.simulate import simulate_program


def run_once(raw: Path, work: Path, stages: list[str], **executor) -> tuple[float, float, int]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    text = [
        "[run]",
        f'input_dir = "{raw.as_posix()}"',
        'output_dir = "products"',
        'root = "bench"',
        "stages = [" + ", ".join(f'"{s}"' for s in stages) + "]",
        "[executor]",
    ] + [f"{k} = {v}" for k, v in executor.items()]
    cfg_path = work / "run.toml"
    cfg_path.write_text("\n".join(text) + "\n")
    cfg = load_config(cfg_path)
    t0 = time.perf_counter()
    result = run_pipeline(cfg, progress=False)
    wall = time.perf_counter() - t0
    stage_total = sum(result.stage_times.values())
    assert result.n_failed == 0, [r.error for r in result.results if r.error]
    return wall, stage_total, len(result.results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of simulated sources")
    parser.add_argument("--stages", default="nodsub,extract,combine,zfit,summary")
    parser.add_argument("--keep", help="directory to keep the runs in (default: temporary)")
    args = parser.parse_args()
    stages = args.stages.split(",")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="slitwise-bench-"))
    raw = base / "raw"
    t0 = time.perf_counter()
    simulate_program(raw, n_sources=args.n, seed=5, gratings=("PRISM/CLEAR",), n_nods=2,
                     root="bench")
    print(f"simulated {args.n} sources in {time.perf_counter() - t0:.1f} s")
    rows = []
    for label, workers, executor in (
        ("in-process", 1, {"jobs": 1}),
        ("dask 1 worker", 1, {"dask_local": 1}),
        ("dask 2 workers", 2, {"dask_local": 2}),
    ):
        wall, stage_total, n = run_once(raw, base / label.replace(" ", "_"), stages, **executor)
        per_min = 60.0 * n / wall
        overhead = (wall - stage_total / workers) / (stage_total / workers)
        rows.append((label, workers, wall, per_min, overhead))
        print(f"{label:<15} {n} sources  wall {wall:7.1f} s  {per_min:7.1f} src/min  "
              f"runner overhead {100 * overhead:5.1f} %")
    one = rows[1][3]
    two = rows[2][3]
    print(f"\nscaling efficiency (2 workers vs 1, Dask): {two / (2 * one):.2f}  (target >= 0.8)")
    print(f"runner overhead in-process: {100 * rows[0][4]:.1f} %  (target < 5 %)")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
