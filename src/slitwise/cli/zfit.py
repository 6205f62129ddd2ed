"""``slitwise zfit``: template redshift fit of 1D spectra, one zfit.fits (and PNG) per input."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _out_name(path: str) -> str:
    name = Path(path).name
    for suffix in (".gz", ".fits", ".fit", ".ecsv", ".spec", ".x1d"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith("_x1d"):
        name = name[:-4]
    return name + ".zfit.fits"


def _run(args: argparse.Namespace) -> int:
    from slitwise.errors import SlitwiseInputError
    from slitwise.io.archive import open_spectrum
    from slitwise.io.zfit_product import write_zfit
    from slitwise.redshift import TemplateLibrary, load_user_templates, zfit
    from slitwise.redshift.flags import describe
    from slitwise.redshift.plot import plot_zfit
    from slitwise.redshift.product import to_product

    lib = TemplateLibrary.default()
    if args.templates:
        lib = lib.with_continua(load_user_templates(args.templates), replace=True)
    out = Path(args.out)
    rows, status = [], 0
    jobs = [args.files] if args.joint else [[f] for f in args.files]
    for paths in jobs:
        path = paths[0]
        try:
            spec = [open_spectrum(p) for p in paths]
            res = zfit(
                spec if args.joint else spec[0],
                zmin=args.zmin,
                zmax=args.zmax,
                templates=lib,
                resolution=args.resolution,
                igm=args.igm,
                error_floor=args.error_floor,
            )
        except SlitwiseInputError as exc:
            if len(jobs) == 1:
                raise
            print(f"slitwise zfit: error: {exc}")
            rows.append((Path(path).name, float("nan"), float("nan"), -1, "ERROR"))
            status = 2
            continue
        target = out / _out_name(path)
        write_zfit(to_product(res), target)
        if not args.no_plot:
            plot_zfit(res, target.with_suffix("").with_suffix(".png"))
        rows.append(
            (Path(path).name, res.zbest, res.zconf, res.zwarn, ",".join(describe(res.zwarn)))
        )
    width = max([len(r[0]) for r in rows] + [4])
    print(f"{'file':<{width}}  {'ZBEST':>9}  {'ZCONF':>6}  {'ZWARN':>6}  flags")
    for name, zb, zc, zw, fl in rows:
        print(f"{name:<{width}}  {zb:9.5f}  {zc:6.3f}  {zw:6d}  {fl}")
    return status


def add_parser(sub):
    """Register ``slitwise zfit``."""
    p = sub.add_parser(
        "zfit",
        help="template redshift fit of 1D spectra",
        description="Fit redshifts by non-negative template fitting on coarse and fine "
        "redshift grids; write one zfit.fits (and a PNG) per input and print a table. "
        "Accepts slitwise and DJA spec.fits, JWST x1d and generic FITS/ECSV tables.",
    )
    p.add_argument("files", nargs="+", metavar="SPEC", help="spectrum files")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--zmin", type=float, default=0.0, help="lowest redshift (default 0)")
    p.add_argument(
        "--zmax", type=float, default=None, help="highest redshift (default 20 PRISM, else 15)"
    )
    p.add_argument("--templates", help="directory or file of continuum templates (replace)")
    p.add_argument(
        "--resolution", type=float, default=None, help="constant R when the file has none"
    )
    p.add_argument(
        "--igm",
        choices=("inoue14", "inoue14+damping", "none"),
        default="inoue14",
        help="IGM model (default inoue14)",
    )
    p.add_argument(
        "--error-floor",
        type=float,
        default=0.0,
        help="fraction of |flux| added to errors in quadrature (default 0)",
    )
    p.add_argument(
        "--joint",
        action="store_true",
        help="fit all SPEC files together (one source, e.g. PRISM + G395M) for one redshift; "
        "the product is named after the first file",
    )
    p.add_argument("--no-plot", action="store_true", help="do not write PNG figures")
    p.set_defaults(func=_run)
    return p
