"""``slitwise simulate``: write simulated observations with known truth.

Targets are sub-subcommands; each ``_add_<target>`` registers one: ``nirspec`` (an MSA
program of nodded slitlet cut-outs, :func:`slitwise.simulate.simulate_program`) and ``mos``
(ground-based arc, flat and science frames plus instrument and mask files,
:func:`slitwise.simulate.mos.simulate_mos`).
"""

from __future__ import annotations

import argparse
import time

from slitwise.errors import SlitwiseInputError, input_error

__all__ = ["add_parser"]


def _run_nirspec(args: argparse.Namespace) -> int:
    from slitwise.instruments import get_disperser
    from slitwise.simulate import DEFAULT_GRATINGS, simulate_program
    from slitwise.simulate.geometry import NOD_OFFSETS

    args.gratings = args.gratings or list(DEFAULT_GRATINGS)

    if args.n_sources < 1:
        raise input_error("--n-sources", f"got {args.n_sources}; expected an integer >= 1")
    if args.seed < 0:
        raise input_error("--seed", f"got {args.seed}; expected a non-negative integer")
    if args.nods not in NOD_OFFSETS:
        raise input_error("--nods", f"got {args.nods}; expected 2, 3 or 5")
    for g in args.gratings:
        try:
            get_disperser(g)
        except SlitwiseInputError as exc:
            raise input_error("--gratings", str(exc)) from exc
    if args.full_frame:
        return _run_fullframe(args)
    t0 = time.perf_counter()
    prog = simulate_program(
        args.out,
        n_sources=args.n_sources,
        seed=args.seed,
        gratings=tuple(args.gratings),
        n_nods=args.nods,
        root=args.root,
    )
    elapsed = time.perf_counter() - t0
    truth = prog.truth
    print(f"{'source':>7} {'z':>6} {'kind':>9} {'slitlet':>7} {'stuck':>5} {'size':>6}")
    for row in truth:
        kind = "serendip" if row["is_serendip"] else "primary"
        stuck = "-" if row["stuck_shutter"] < 0 else str(int(row["stuck_shutter"]))
        print(
            f"{int(row['source_id']):>7} {float(row['z']):6.3f} {kind:>9} "
            f'{int(row["slitlet_id"]):>7} {stuck:>5} {row["size"].value:5.2f}"'
        )
    print(
        f"wrote {len(prog.exposures)} cut-outs ({', '.join(truth.meta['gratings'])}; "
        f"{args.nods} nods) and truth.ecsv to {prog.out_dir} in {elapsed:.1f} s"
    )
    return 0


def _run_fullframe(args: argparse.Namespace) -> int:
    """Full-frame rate images (``--full-frame``) instead of slitlet cut-outs."""
    from slitwise.instruments import get_disperser
    from slitwise.simulate.fullframe import simulate_fullframe

    if args.n_traces < 1:
        raise input_error("--n-traces", f"got {args.n_traces}; expected an integer >= 1")
    t0 = time.perf_counter()
    written = []
    for g in args.gratings:
        root = args.root if len(args.gratings) == 1 else f"{args.root}_{get_disperser(g).slug}"
        written += simulate_fullframe(
            args.out, seed=args.seed, n_traces=args.n_traces, grating=g,
            detectors=tuple(args.detectors), root=root,
        )  # fmt: skip
    print(f"wrote {len(written)} full-frame rate images with truth and trace tables to "
          f"{args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def _add_nirspec(targets) -> None:
    # nothing of the simulator is imported here: building the parser must stay cheap for
    # every other command
    p = targets.add_parser(
        "nirspec",
        help="NIRSpec MSA program: nodded slitlet cut-outs and truth.ecsv",
        description="Simulate an MSA program of N sources observed with 2-, 3- or 5-nod "
        "patterns; writes one cut-out per slitlet and exposure (the layout of JWST cal "
        "slitlets), per-exposure truth in truth/, and truth.ecsv.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n-sources", type=int, default=6, help="number of sources (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--gratings",
        nargs="+",
        default=None,
        metavar="GRATING",
        help="dispersers, e.g. PRISM/CLEAR G395M/F290LP (default: those two)",
    )
    p.add_argument("--nods", type=int, default=3, help="nod pattern: 2, 3 or 5 (default 3)")
    p.add_argument("--root", default="sim", help="file-name prefix (default 'sim')")
    p.add_argument(
        "--full-frame", action="store_true",
        help="write full-frame rate images (traces, 1/f noise, picture frame, background) "
        "with *_truth.fits and trace tables, for 'slitwise clean'",
    )  # fmt: skip
    p.add_argument("--n-traces", type=int, default=30, help="traces per frame (--full-frame)")
    p.add_argument("--detectors", nargs="+", default=["NRS1", "NRS2"],
                   help="detectors (--full-frame; default NRS1 NRS2)")  # fmt: skip
    p.set_defaults(func=_run_nirspec)


def _add_mos(targets) -> None:
    from slitwise.cli.calib import add_simulate_mos

    add_simulate_mos(targets)


#: Simulation targets, in the order ``--help`` lists them.
_TARGETS = (_add_nirspec, _add_mos)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``slitwise simulate`` and its targets."""
    p = sub.add_parser(
        "simulate",
        help="write simulated observations with known truth",
        description="Write simulated observations with known truth.",
    )
    targets = p.add_subparsers(dest="target", metavar="TARGET")
    for add in _TARGETS:
        add(targets)

    def _no_target(args):
        p.print_help()
        return 2

    p.set_defaults(func=_no_target)
    return p
