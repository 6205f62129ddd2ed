"""``slitwise combine``: combine spec.fits products of one source and disperser."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from slitwise.combine import combine_spectra
    from slitwise.errors import input_error
    from slitwise.io.spec_product import SpecProduct, read_spec, write_spec

    prods = [read_spec(f) for f in args.files]
    keys = {(p.source, p.grating, p.filter) for p in prods}
    if len({k[1:] for k in keys}) > 1:
        raise input_error(", ".join(args.files), "products of different dispersers; "
                          "combine one grating/filter at a time")  # fmt: skip
    exptimes = [float(p.extraction.get("EXPTIME", 1.0) or 1.0) for p in prods]
    spec = combine_spectra([p.spectrum for p in prods], weights=args.weights, exptimes=exptimes,
                           clip_sigma=args.clip_sigma)  # fmt: skip
    first = prods[0]
    out = SpecProduct(
        spectrum=spec,
        source=first.source,
        grating=first.grating,
        filter=first.filter,
        extraction={"EXTMETH": "optimal", "NEXP": int(sum(
            int(p.extraction.get("NEXP", 1)) for p in prods)), "EXPTIME": float(np.sum(exptimes))},
        meta={"NCOMBINE": len(prods), "COMBWGT": args.weights},
    )  # fmt: skip
    write_spec(out, args.out)
    print(args.out)
    return 0


def add_parser(sub):
    """Register ``slitwise combine``."""
    p = sub.add_parser(
        "combine",
        help="combine spec.fits products of one source and disperser",
        description="Resample onto the first product's grid (flux conserving), average with "
        "exposure-time (default) or inverse-variance weights, sigma-clip with 3 or more "
        "inputs, and write one spec.fits.",
    )
    p.add_argument("files", nargs="+", help="spec.fits products")
    p.add_argument("--out", required=True, help="output spec.fits path")
    p.add_argument("--weights", choices=("exptime", "ivar"), default="exptime")
    p.add_argument("--clip-sigma", type=float, default=3.0)
    p.set_defaults(func=_run)
    return p
