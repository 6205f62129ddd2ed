"""``slitwise demo``: simulate a small NIRSpec MSA program and run the whole pipeline on it.

The demo writes ``DIR/raw`` (simulated cut-outs and truth), ``DIR/demo.toml`` (the pipeline
configuration it ran, reusable with ``slitwise run``) and ``DIR/products`` (every product,
``summary.ecsv`` and ``index.html``), then prints the truth beside what the pipeline measured.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "run_demo", "demo_table"]

log = logging.getLogger(__name__)



def add_parser(sub):
    p = sub.add_parser(
        "demo",
        help="simulate a small MSA program and run every stage on it",
        description="Simulate a NIRSpec MSA program (PRISM and G395M, 3 nods), run the "
        "pipeline (extraction, redshifts, line fits, summary) and compare with the truth.",
    )
    p.add_argument("--out", default="demo_out", help="output directory (default: demo_out)")
    p.add_argument("--n-sources", type=int, default=8, help="number of MSA sources (>= 6)")
    p.add_argument("--seed", type=int, default=2, help="simulation seed")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--overwrite", action="store_true", help="recompute existing products")
    p.set_defaults(func=_run)
    return p


def _write_config(out: Path, *, jobs: int, linefit_configs: list[Path]) -> Path:
    lines = [
        "# slitwise demo configuration (rerun with: slitwise run demo.toml)",
        "[run]",
        'input_dir = "raw"',
        'output_dir = "products"',
        'root = "demo"',
        "",
        "[zfit]",
        "zmin = 0.0",
        "zmax = 12.0",
        "",
        "[executor]",
        f"jobs = {jobs}",
        "",
    ]
    if linefit_configs:
        first, *alternatives = (f'"{p.as_posix()}"' for p in linefit_configs)
        lines += ["[linefit]", f"config = {first}", 'method = "map"']
        if alternatives:
            lines.append(f"alternatives = [{', '.join(alternatives)}]")
        lines.append("")
    path = out / "demo.toml"
    path.write_text("\n".join(lines))
    return path


def _demo_line_configs() -> list[Path]:
    """The packaged demo line configurations (narrow lines; plus broad Balmer lines), when
    the line fitter is installed."""
    try:
        from slitwise.lines.demo import demo_broad_config_path, demo_config_path
    except ImportError:
        return []
    return [demo_config_path(), demo_broad_config_path()]


def demo_table(truth, summary):
    """Truth beside measurement: one row per simulated source found in the summary."""
    from astropy.table import Table

    from slitwise.pipeline.stages import SUMMARY_LINES

    rows = []
    by_name = {str(r["source"]): r for r in summary}
    serendips: dict[str, list] = {}
    for r in summary:
        if bool(r["serendip"]):
            serendips.setdefault(str(r["unit"]), []).append(r)
    for t in truth:
        name = str(t["name"])
        if bool(t["is_serendip"]):
            # the pipeline names a serendip after its slitlet's primary source (e.g. 1003_s1)
            found = serendips.get(str(t["host_id"]), [])
            s = found[0] if found else None
            if s is not None:
                name = f"{t['name']} ({s['source']})"
        else:
            s = by_name.get(name)
        z_true = float(t["z"])
        z_fit = float(s["z"]) if s is not None else np.nan
        row = {
            "source": name,
            "kind": "serendip" if bool(t["is_serendip"]) else "primary",
            "status": str(s["status"]) if s is not None else "missing",
            "z_true": z_true,
            "z_fit": z_fit,
            "dz/(1+z)": (z_fit - z_true) / (1 + z_true),
            "zconf": float(s["zconf"]) if s is not None else np.nan,
            "broad true": "yes" if float(t["broad_sigma_kms"].value) > 0 else "no",
            "line model": str(s["line_model"]) if s is not None else "",
        }
        for line in SUMMARY_LINES:
            row[f"F({line}) true"] = float(t[f"flux_{line}"].to_value("1e-18 erg/(s cm2)"))
            col = f"flux_{line}"
            fitted = s[col] if (s is not None and col in s.colnames) else np.nan
            row[f"F({line}) fit"] = float(fitted)
        rows.append(row)
    tab = Table(rows=rows)
    for col in tab.colnames:
        if tab[col].dtype.kind == "f":
            tab[col].format = ".4f" if col.startswith(("z", "dz")) else ".2f"
    return tab


def run_demo(
    out: str | Path = "demo_out",
    *,
    n_sources: int = 8,
    seed: int = 2,
    jobs: int = 1,
    overwrite: bool = False,
    progress: bool = True,
):
    """Simulate, run the pipeline and return ``(run_result, comparison_table)``."""
    from astropy.table import Table

    from slitwise.errors import input_error
    from slitwise.pipeline.config import load_config
    from slitwise.pipeline.runner import run_pipeline
    from slitwise.simulate import read_truth, simulate_program

    if n_sources < 6:
        raise input_error("--n-sources", f"the demo needs at least 6 sources, got {n_sources}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "raw"
    if overwrite or not (raw / "truth.ecsv").exists():
        simulate_program(raw, n_sources=n_sources, seed=seed, root="demo")
    cfg_path = _write_config(out, jobs=jobs, linefit_configs=_demo_line_configs())
    cfg = load_config(cfg_path, run={"overwrite": overwrite or None})
    result = run_pipeline(cfg, progress=progress)
    truth = read_truth(raw)
    summary = Table.read(result.summary_path, format="ascii.ecsv")
    return result, demo_table(truth, summary)


def _run(args) -> int:
    from slitwise.pipeline.runner import format_timing_table

    t0 = time.perf_counter()
    result, table = run_demo(
        args.out, n_sources=args.n_sources, seed=args.seed, jobs=args.jobs,
        overwrite=args.overwrite,
    )
    print()
    table.pprint(max_lines=-1, max_width=-1)
    print()
    print(format_timing_table(result))
    print(f"\nproducts, summary.ecsv and index.html in {result.output_dir}")
    print(f"demo finished in {time.perf_counter() - t0:.1f} s "
          f"({result.n_failed} of {len(result.results)} sources failed)")
    return 0 if result.n_failed == 0 else 1
