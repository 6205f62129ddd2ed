"""``slitwise calib`` (fit, refit, rectify, wavecal) and ``slitwise wavecal``: ground calibration.

- ``slitwise calib fit --config INSTRUMENT.icf --mask MASK.mdf --arc ARC.fits --flat FLAT.fits
  --out DIR``: fits OPT, CRV and IDS; writes ``DIR/model.yaml``, ``DIR/slits.ecsv``, the
  editable tables ``DIR/lines.ecsv`` (arc lines) and ``DIR/edges.ecsv`` (slit ends) and the QA
  plots ``qa_model.png``/``qa_residuals.png``.
- ``slitwise calib refit --model DIR/model.yaml --mask MASK.mdf --lines DIR/lines.ecsv
  [--edges DIR/edges.ecsv] --out DIR2 [--frame ARC.fits]``: refits after manual edits of the
  tables.
- ``slitwise calib rectify --model MODEL.yaml --mask MASK.mdf --frame SCI.fits --out DIR``:
  one ``slit<ID>.rect.fits`` per slit.
- ``slitwise wavecal ARC.fits --lamps ArI,NeI --dispersion A_PER_PX --wavelength CENTRAL_A
  --out SOLUTION.fits`` (also ``slitwise calib wavecal``): blind 1D wavelength solution.

:func:`add_simulate_mos` registers ``slitwise simulate mos`` for the simulate command.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from slitwise.errors import input_error

__all__ = ["add_parser", "add_simulate_mos"]

log = logging.getLogger(__name__)


def _run_fit(args: argparse.Namespace) -> int:
    from slitwise.calib.calibrate import SlitFlag
    from slitwise.calib.stage import fit_calibration

    t0 = time.perf_counter()
    out = Path(args.out)
    result = fit_calibration(
        args.config,
        args.mask,
        args.arc,
        args.flat,
        out,
        labels=("--arc", "--flat"),
        lamps=args.lamps,
        nsplit=args.nsplit,
        flip_x=args.flip_x,
        flip_y=args.flip_y,
        tune_from=args.tune_from,
    )
    if result.tuned:
        print(f"tuned from the stored calibration in {args.tune_from}")
    print(f"{'slit':>5} {'ref':>3} {'d_ref':>9} {'s_ref':>8} {'lines':>5} {'ids_rms':>7}  flags")
    for row in result.slits:
        flags = ",".join(f.name for f in SlitFlag if f & int(row["flag"])) or "-"
        print(
            f"{int(row['slit_id']):5d} {'yes' if row['ref'] else 'no':>3} "
            f"{row['d_ref'].value:9.2f} {row['s_ref'].value:8.2f} {int(row['n_lines']):5d} "
            f"{row['ids_rms'].value:7.3f}  {flags}"
        )
    print(
        f"OPT rms {result.opt_rms:.3f} px, CRV rms {result.crv_rms:.3f} px, IDS rms "
        f"{result.ids_rms:.3f} px; wrote {out / 'model.yaml'} and {out / 'slits.ecsv'} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _run_refit(args: argparse.Namespace) -> int:
    from slitwise.calib.stage import refit_calibration

    _, per_slit, rms = refit_calibration(
        args.model, args.mask, args.lines, args.out, frame=args.frame, edges_path=args.edges
    )
    for sid, r in sorted(per_slit.items()):
        print(f"slit {sid:4d}: IDS rms {r:.3f} px")
    tables = "lines.ecsv, edges.ecsv" if args.edges else "lines.ecsv"
    print(f"IDS rms {rms:.3f} px; wrote {Path(args.out) / 'model.yaml'}, {tables} and QA plots")
    return 0


def _run_rectify(args: argparse.Namespace) -> int:
    from astropy.io import fits

    from slitwise.calib.mask_file import read_mask
    from slitwise.calib.models import load_model
    from slitwise.calib.products import write_rectified
    from slitwise.calib.rectify import rectify_slit, subtract_sky_along_slit
    from slitwise.calib.stage import read_frame

    model = load_model(args.model)
    mask = read_mask(args.mask)
    frame = read_frame(args.frame, model.config.data_hdu, what="--frame")
    exptime = float(fits.getheader(args.frame, 0).get("EXPTIME", 1.0))
    if args.var_hdu:
        var = read_frame(args.frame, args.var_hdu, what="--frame")
    else:
        var = np.clip(frame, 0, None) / args.gain + args.read_noise**2
    wanted = None
    if args.slits:
        try:
            wanted = {int(v) for v in args.slits.split(",")}
        except ValueError:
            raise input_error(
                "--slits", f"expected comma-separated IDs, got '{args.slits}'"
            ) from None
    out = Path(args.out)
    n = 0
    for slit in mask:
        if (wanted is not None and slit.id not in wanted) or (slit.ref and wanted is None):
            continue
        if not model.on_detector(slit):
            log.warning("slit %d is off the detector; skipped", slit.id)
            continue
        rect = rectify_slit(model, slit, frame, var)
        if args.sky:
            rect = subtract_sky_along_slit(rect)
        path = write_rectified(
            rect,
            out / f"slit{slit.id}.rect.fits",
            model=model,
            exptime=exptime,
            frame=args.frame,
        )
        n += 1
        print(
            f"slit {slit.id}: {rect.sci.shape[1]} wavelengths x {rect.sci.shape[0]} rows -> {path}"
        )
    if n == 0:
        raise input_error("--slits", "no slit rectified")
    return 0


def _run_wavecal(args: argparse.Namespace) -> int:
    from slitwise.calib.wavecal import read_arc_spectrum, solve_arc, write_solution

    flux = read_arc_spectrum(args.arc, column=args.column)
    t0 = time.perf_counter()
    sol = solve_arc(
        flux, args.lamps, dispersion=args.dispersion, central_wavelength=args.wavelength
    )
    path = write_solution(sol, args.out)
    lo, hi = sol.identified_range
    quality = ",".join(sol.quality_names()) or "OK"
    print(
        f"{sol.n_lines} lines identified over pixels {lo:.0f}-{hi:.0f} of {sol.npix}, "
        f"rms {sol.rms_px:.3f} px, quality {quality} "
        f"({'reliable' if sol.reliable else 'NOT reliable'}); wrote {path} in "
        f"{time.perf_counter() - t0:.2f} s"
    )
    return 0 if sol.fit is not None else 1


def _add_wavecal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("arc", help="1D arc: FITS table with a flux column, or a 1D image")
    p.add_argument("--lamps", required=True, help="lamp catalogues, e.g. ArI,NeI,HgI")
    p.add_argument(
        "--dispersion",
        type=float,
        required=True,
        help="approximate mean dispersion, Angstrom per pixel (negative if "
        "wavelength decreases with pixel); +-10%% is fine",
    )
    p.add_argument(
        "--wavelength",
        type=float,
        required=True,
        help="approximate central wavelength, Angstrom (+-2%% is fine)",
    )
    p.add_argument("--column", default="flux", help="table column with the arc (default flux)")
    p.add_argument("--out", required=True, help="output solution FITS (WAVE and LINES tables)")
    p.set_defaults(func=_run_wavecal)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``slitwise calib`` (fit, rectify, wavecal) and ``slitwise wavecal``."""
    p = sub.add_parser(
        "calib",
        help="fit OPT/CRV/IDS models from arc and flat frames; rectify slits",
        description="Ground-based MOS and long-slit calibration (see docs/ground_calibration.md).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    f = actions.add_parser("fit", help="fit the optical, curvature and dispersion models")
    f.add_argument("--config", required=True, help="instrument configuration (INI)")
    f.add_argument("--mask", required=True, help="mask description file")
    f.add_argument("--arc", required=True, help="arc frame (FITS)")
    f.add_argument("--flat", required=True, help="flat frame (FITS)")
    f.add_argument("--out", required=True, help="output directory")
    f.add_argument("--lamps", default=None, help="lamp catalogues (default: from --config)")
    f.add_argument("--nsplit", type=int, default=None, help="slices per slit for the IDS")
    f.add_argument("--flip-x", action="store_true", help="mirrored optics along mask X")
    f.add_argument("--flip-y", action="store_true", help="mirrored optics along mask Y")
    f.add_argument(
        "--from",
        dest="tune_from",
        default=None,
        help="per-night tuning: a previous 'calib fit' output directory (model and arcs)",
    )
    f.set_defaults(func=_run_fit)
    e = actions.add_parser(
        "refit", help="refit the models from an edited lines.ecsv / edges.ecsv (manual fixes)"
    )
    e.add_argument("--model", required=True, help="model.yaml from 'calib fit'")
    e.add_argument("--mask", required=True, help="mask description file")
    e.add_argument("--lines", required=True, help="edited lines.ecsv (columns wave, use)")
    e.add_argument(
        "--edges", default=None,
        help="edited edges.ecsv (columns s, use): refit OPT across dispersion from it too",
    )
    e.add_argument("--frame", default=None, help="arc frame to draw the refitted model on")
    e.add_argument("--out", required=True, help="output directory")
    e.set_defaults(func=_run_refit)
    r = actions.add_parser("rectify", help="rectify slits onto (wavelength, slit position)")
    r.add_argument("--model", required=True, help="model.yaml from 'calib fit'")
    r.add_argument("--mask", required=True, help="mask description file")
    r.add_argument("--frame", required=True, help="science frame (FITS)")
    r.add_argument(
        "--var-hdu", default=None, help="HDU with the variance (default: from gain and read noise)"
    )
    r.add_argument("--gain", type=float, default=1.0, help="e-/ADU for the default variance")
    r.add_argument("--read-noise", type=float, default=4.0, help="read noise (frame units)")
    r.add_argument(
        "--slits", default=None, help="comma-separated slit IDs (default: all science slits)"
    )
    r.add_argument("--sky", action="store_true", help="subtract a linear sky along the slit")
    r.add_argument("--out", required=True, help="output directory")
    r.set_defaults(func=_run_rectify)
    w = actions.add_parser("wavecal", help="blind 1D wavelength solution of an arc spectrum")
    _add_wavecal_args(w)

    def _no_action(args):
        p.print_help()
        return 2

    p.set_defaults(func=_no_action)
    top = sub.add_parser(
        "wavecal",
        help="blind 1D wavelength solution of an arc spectrum",
        description="Identify arc lines from approximate hints and fit a "
        "wavelength solution; writes WAVE and LINES tables.",
    )
    _add_wavecal_args(top)
    return p


def _run_simulate_mos(args: argparse.Namespace) -> int:
    from slitwise.simulate.mos import simulate_mos

    if args.n_slits < 3:
        raise input_error("--n-slits", f"got {args.n_slits}; expected >= 3")
    t0 = time.perf_counter()
    written = simulate_mos(
        args.out,
        n_slits=args.n_slits,
        seed=args.seed,
        long_slit=not args.no_long_slit,
        arc_spectrum=args.arc_spectrum,
        dispersion_direction=args.dispersion_direction,
    )
    for key, path in written.items():
        print(f"{key:>20}: {path}")
    print(f"wrote {len(written)} files in {time.perf_counter() - t0:.1f} s")
    return 0


def add_simulate_mos(targets) -> None:
    """Register ``slitwise simulate mos`` (call from the simulate command's target list)."""
    p = targets.add_parser(
        "mos",
        help="ground-based MOS and long-slit arc, flat and science frames with known models",
        description="Simulate arc, flat and science frames of a mask (and of a long slit with "
        "tilted lines) through known OPT/CRV/IDS models; writes instrument and mask files, "
        "the true model and truth tables.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n-slits", type=int, default=24, help="slits in the mask (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-long-slit", action="store_true", help="skip the long-slit set")
    p.add_argument(
        "--arc-spectrum",
        default=None,
        help="real archived arc (FITS table wave/flux) instead of catalogue lines",
    )
    p.add_argument("--dispersion-direction", default="LR", choices=("LR", "RL", "BU", "UB"))
    p.set_defaults(func=_run_simulate_mos)
