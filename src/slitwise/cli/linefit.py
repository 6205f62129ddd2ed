"""``slitwise linefit``: joint Bayesian line fit of several spectra of one source."""

from __future__ import annotations

import argparse
import logging

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``linefit`` subcommand."""
    p = sub.add_parser(
        "linefit",
        help="joint line fit of all given spectra of one source",
        description="Fit emission lines jointly to spectra of one source (SPEC or "
        "SPEC@INSTRUMENT; the instrument otherwise comes from GRATING/FILTER).",
    )
    p.add_argument("spectra", nargs="+", metavar="SPEC", help="spectrum file[@instrument]")
    p.add_argument("--config", required=True, help="line configuration YAML")
    p.add_argument(
        "--alternative", action="append", default=[], metavar="YAML",
        help="a further line configuration (e.g. adding a broad component; repeatable, "
        "simplest first): all are fitted and the comparison (MAP: Laplace evidence; nested: "
        "evidence; NUTS/SVI: PSIS-LOO) picks the one written",
    )
    p.add_argument("--margin", type=float, default=3.0,
                   help="nats by which a model must beat the one chosen before it (default 3)")
    p.add_argument("--out", required=True, help="output FITS product")
    p.add_argument("--sampler", default="nuts", choices=["map", "svi", "nuts", "nested"])
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--chains", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--redshift", type=float, default=None, help="override config redshift")
    p.add_argument("--plot", default=None, help="also write this PNG")
    p.add_argument(
        "--continuum-template", nargs="+", default=None, metavar="FILE",
        help="one per SPEC, in order, for 'continuum: {form: template}': a zfit.fits of that "
        "spectrum (its model without lines) or a spectrum file",
    )
    p.set_defaults(func=run)
    return p


def _configure_jax() -> None:
    """JAX settings for a one-source command-line fit (never applied at library import).

    * Compiled code is kept on disk so later runs with the same configuration skip
      compilation (``SLITWISE_JAX_CACHE=off`` disables; default ``~/.cache/slitwise/jax``).
    * XLA's classic CPU emitters: they compile this posterior and its sampler about 1.5x
      faster, at about 1.3x the run time per gradient, the right trade for one fit per
      process (``fit_many`` and the pipeline, which fit many sources in one process, keep
      XLA's defaults). A ``xla_cpu_use_fusion_emitters`` setting already in ``XLA_FLAGS``
      is respected.
    """
    import os

    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" not in flags:
        # read when the CPU backend starts, i.e. at the first computation, after this
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_use_fusion_emitters=false").strip()
    path = os.environ.get(
        "SLITWISE_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "slitwise", "jax")
    )
    if path.lower() == "off":
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def run(args) -> int:
    """Run the fit, write the product, print the parameter table."""
    from slitwise.lines import load_spectrum, write_linefit
    from slitwise.lines.compare import fit_and_choose, load_models

    _configure_jax()

    configs = load_models([args.config, *args.alternative])
    spectra, instruments = [], []
    for item in args.spectra:
        path, _, inst = item.partition("@")
        spectra.append(load_spectrum(path))
        instruments.append(inst or None)
    result = fit_and_choose(
        configs, spectra, margin=args.margin, instruments=instruments,
        redshift=args.redshift, sampler=args.sampler, warmup=args.warmup,
        samples=args.samples, chains=args.chains, seed=args.seed,
        continuum_templates=args.continuum_template,
    )
    if result.models is not None:
        print("model comparison (larger is better; delta against the first):")
        for row in result.models:
            print(f"  {row['model']:20s} {row['criterion']:13s} {row['value']:12.2f} "
                  f"delta {row['delta']:+9.2f} +- {row['delta_err']:.2f}  "
                  f"n_free {row['n_free']:3d}  redchi2 {row['redchi2']:.3f}"
                  f"{'  <- chosen' if row['chosen'] else ''}")
    write_linefit(result, args.out)
    if args.plot:
        from slitwise.lines.plot import plot_linefit

        plot_linefit(result, args.plot)
    t = result.params
    print(f"{'parameter':14s} {'p16':>12s} {'p50':>12s} {'p84':>12s}  unit")
    rows = {p: i for i, p in enumerate(t["percentile"])}
    for name in t.colnames[1:]:
        col = t[name]
        v = getattr(col, "value", col)
        print(f"{name:14s} {v[rows[16.0]]:12.6g} {v[rows[50.0]]:12.6g} {v[rows[84.0]]:12.6g}  "
              f"{getattr(col, 'unit', '') or ''}")
    for row in result.ratios:
        lo, med, hi = row["value"]
        print(f"{row['ratio']:28s} {lo:12.4g} {med:12.4g} {hi:12.4g}  (ratio)")
    d = result.diagnostics
    print(f"reduced chi2 {d['redchi2']:.3f} (dof {d['dof']}), elpd_loo {d['elpd_loo']:.1f} "
          f"+- {d['elpd_loo_se']:.1f} (p_loo {d['p_loo']:.1f}), wrote {args.out}")
    return 0
