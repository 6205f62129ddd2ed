"""``slitwise extract``: cut-outs (or JWST s2d files) to ``spec.fits`` products."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from slitwise.extract.source import ExtractOptions
    from slitwise.extract.stage import extract_files

    opts = ExtractOptions(
        profile=args.profile,
        trace_degree=args.trace_degree,
        sigma_clip=args.sigma_clip,
        serendips=not args.no_serendips,
        background=args.background,
        background_smooth=args.background_smooth,
        rescale_errors=args.rescale_errors,
    )
    written = extract_files(args.files, out_dir=args.out, root=args.root, options=opts,
                            plots=not args.no_plots)  # fmt: skip
    for name in written:
        print(name)
    return 0


def add_parser(sub):
    """Register ``slitwise extract``."""
    p = sub.add_parser(
        "extract",
        help="extract 1D spectra from slitlet cut-outs or JWST s2d files",
        description="Group the cut-outs by slitlet/source and disperser (never mixing "
        "gratings), nod-subtract, fit the trace and profile, and write one spec.fits (plus a "
        "PNG) per source and disperser. JWST s2d files are extracted one by one.",
    )
    p.add_argument("files", nargs="+", help="cut-out (cal/phot slitlet) or s2d FITS files")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--root", default="slitwise", help="product file-name prefix")
    p.add_argument("--profile", choices=("gaussian", "moffat"), default="gaussian")
    p.add_argument("--trace-degree", type=int, default=2, help="trace polynomial degree")
    p.add_argument("--sigma-clip", type=float, default=5.0, help="outlier threshold (sigma)")
    p.add_argument("--background", choices=("nod", "local"), default="nod")
    p.add_argument("--background-smooth", type=int, default=15,
                   help="columns averaged in the nod background (1: plain differences)")
    p.add_argument("--no-serendips", action="store_true", help="primary source only")
    p.add_argument("--rescale-errors", action="store_true",
                   help="scale the errors to the residual scatter away from the sources")
    p.add_argument("--no-plots", action="store_true", help="do not write PNG figures")
    p.set_defaults(func=_run)
    return p
