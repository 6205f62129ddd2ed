"""``slitwise clean``: detector-level cleaning of full-frame count-rate images.

For each ``RATE.fits`` writes ``DIR/<stem>_rate_clean.fits`` (same HDUs; SCI cleaned, DQ with
clustered outliers, VAR_RNOISE and ERR rescaled; primary-header keywords ``CLN*`` recording
each component's amplitude, the passes and the variance factor) and
``DIR/<stem>_rate_clean.png`` (before, after, each component). ``<stem>`` is the file name
without ``_rate.fits`` (or ``.fits``). The traces come from ``--traces`` (one table per input,
in order), else from ``<stem>_traces.ecsv`` beside the input when it exists (the simulator's
convention), else they are detected in the data.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from slitwise.errors import input_error

__all__ = ["add_parser"]

log = logging.getLogger(__name__)


def _run(args: argparse.Namespace) -> int:
    from slitwise.detector.stage import clean_file

    inputs = [Path(p) for p in args.rate]
    if args.traces and len(args.traces) != len(inputs):
        raise input_error(
            "--traces", f"got {len(args.traces)} tables for {len(inputs)} inputs; expected one each"
        )
    if args.passes < 1:
        raise input_error("--passes", f"got {args.passes}; expected an integer >= 1")
    if args.box_size < 2:
        raise input_error("--box-size", f"got {args.box_size}; expected an integer >= 2")
    row_1f = {"auto": None, "on": True, "off": False}[args.row_1f]
    template = False if args.no_pedestal else args.pedestal_template
    out_dir = Path(args.out)
    print(
        f"{'file':<32} {'passes':>6} {'pedestal (DN/s)':>24} {'col rms':>8} {'var x':>6} "
        f"{'outl px':>7} {'s':>5}"
    )
    for i, rate in enumerate(inputs):
        _, _, rec, seconds = clean_file(
            rate,
            out_dir,
            traces=args.traces[i] if args.traces else None,
            detect_traces=args.detect_traces,
            template=template,
            n_passes=args.passes,
            box_size=args.box_size,
            row_1f=row_1f,
            plot=not args.no_plot,
        )
        peds = ",".join(f"{a:.4f}" for a in rec.pedestal_amplitudes) or "-"
        print(
            f"{rate.name[:32]:<32} {rec.n_passes:>6} {peds:>24} {rec.column_rms:8.4f} "
            f"{rec.read_noise_factor:6.3f} {rec.n_outlier_pixels:>7} {seconds:5.1f}"
        )
    print(f"wrote {len(inputs)} cleaned frame(s) to {out_dir}")
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``slitwise clean``."""
    p = sub.add_parser(
        "clean",
        help="remove picture frame, 2-D background and 1/f noise from rate images",
        description="Detector-level cleaning of full-frame NIRSpec count-rate images: an "
        "iterative model (picture-frame pedestal per amplifier band, smooth 2-D background, "
        "column and row 1/f offsets) with the traces masked, clustered outliers flagged in "
        "DQ and the read-noise variance rescaled to the observed scatter.",
    )
    p.add_argument("rate", nargs="+", metavar="RATE.fits", help="count-rate images")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--traces",
        nargs="+",
        metavar="TABLE",
        help="trace tables, one per input (default: <stem>_traces.ecsv beside the input, "
        "else detect)",
    )
    p.add_argument("--detect-traces", action="store_true", help="detect the traces in the data")
    p.add_argument("--passes", type=int, default=5, help="passes of the model (default 5)")
    p.add_argument("--box-size", type=int, default=8, help="2-D background box (default 8)")
    p.add_argument(
        "--row-1f",
        choices=("auto", "on", "off"),
        default="auto",
        help="row 1/f offsets: auto = PRISM only (default)",
    )
    p.add_argument(
        "--pedestal-template",
        metavar="FITS",
        help="picture-frame template (replaces the built-in one)",
    )
    p.add_argument("--no-pedestal", action="store_true", help="do not fit a picture frame")
    p.add_argument("--no-plot", action="store_true", help="skip the diagnostic PNG")
    p.set_defaults(func=_run)
    return p
