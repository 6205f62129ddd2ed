"""Benchmark: blind arc-line identification on the real PypeIt archive arcs.

Run: ``.venv/bin/python benchmarks/bench_arcid.py [--perturb]``.

For every arc in ``../shared/data/real/pypeit/reid_arxiv/`` (each detector of the stitched
ones treated as its own arc) :func:`slitwise.calib.wavecal.solve_arc` gets only the ``flux``
column, the lamp lists of the PROVENANCE table, and hints: the mean dispersion and central
wavelength of the stored solution, optionally perturbed (``--perturb``: dispersion x0.91 and
x1.09, central wavelength x1.019 and x0.981, the worst corners of the allowed +-10 % / +-2 %).
The stored ``wave`` column is the truth. Printed per arc: identified lines, identified pixel
range, max |error| vs truth inside that range (px), wrong IDs (catalogue wavelength > 1.5 px
from the truth at the line), the *truth floor* (largest truth-minus-catalogue offset at the
correctly identified lines: where the stored solution itself misses the catalogue line by
more than 0.5 px no solution through the lines can reach < 0.5 px), quality flags, and the
wall time, with a baseline (detection only) measured in the same run for the ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from slitwise.calib.linedetect import detect_lines
from slitwise.calib.wavecal import solve_arc

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "pypeit" / "reid_arxiv"

#: name: (file, lamps, stitch pixel or None)
ARCS = {
    "gemini_gmos_r400_ham": ("gemini_gmos_r400_ham.fits", "CuI,ArI,ArII", 1796),
    "keck_deimos_830G": ("keck_deimos_830G.fits", "ArI,NeI,KrI,XeI", 4084),
    "keck_lris_blue": (
        "keck_lris_blue_B600_4000_d560_ArCdHgKrNeXeZn.fits",
        "ArI,CdI,HgI,KrI,NeI,XeI,ZnI",
        1306,
    ),
    "keck_lris_red": (
        "keck_lris_red_R400_8500_ArCdHgKrNeXeZn.fits",
        "ArI,CdI,HgI,KrI,NeI,XeI,ZnI",
        1695,
    ),
    "keck_mosfire_OH_H": ("keck_mosfire_OH_H.fits", "OH_MOSFIRE_H", 1978),
    "keck_mosfire_arcs_J": ("keck_mosfire_arcs_J.fits", "Ar_IR_MOSFIRE,Ne_IR_MOSFIRE", 1115),
    "lbt_mods1r_red": (
        "lbt_mods1r_red.fits",
        "HgI_MODS,ArI_MODS,NeI_MODS,KrI_MODS,XeI_MODS",
        None,
    ),
    "ldt_deveny_300": ("ldt_deveny_300_HgCdAr.fits", "HgI,CdI,ArI", 1673),
    "mmt_binospec_270": ("mmt_binospec_270.fits", "HeI,NeI,ArI,ArII", None),
    "not_alfosc_grism4": ("not_alfosc_grism4.fits", "HeI,NeI", None),
    "shane_kast_blue_600": ("shane_kast_blue_600.fits", "CdI,HgI,HeI", 1451),
    "shane_kast_red_600_7500": ("shane_kast_red_600_7500.fits", "NeI,HgI,HeI,ArI,CdI", None),
    "vlt_fors2_300I": ("vlt_fors2_300I.fits", "HeI,ArI", None),
}
SINGLE = {
    "lbt_mods1r_red",
    "mmt_binospec_270",
    "shane_kast_red_600_7500",
    "vlt_fors2_300I",
    "not_alfosc_grism4",
}


def pieces():
    """Yield (label, flux, true wave, lamps) for every arc or detector piece."""
    for name, (fname, lamps, stitch) in ARCS.items():
        data = fits.getdata(REAL / fname, 1)
        wave = np.asarray(data["wave"], float)
        flux = np.asarray(data["flux"], float)
        cuts = [0, wave.size] if stitch is None else [0, stitch, wave.size]
        for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
            label = name if stitch is None else f"{name}[{k + 1}]"
            yield label, flux[a:b], wave[a:b], lamps


def evaluate(sol, wave):
    """(n lines, lo, hi, max error px, wrong IDs, truth floor px) against the truth."""
    if sol.fit is None:
        return 0, -1, -1, np.inf, 0, np.nan
    x = np.arange(wave.size)
    disp = np.gradient(wave)
    p, w = sol.line_pixel[sol.line_used], sol.line_wave[sol.line_used]
    off = (np.interp(p, x, wave) - w) / np.interp(p, x, disp)
    wrong = np.abs(off) > 1.5
    lo, hi = int(np.ceil(p.min())), int(np.floor(p.max()))
    err = np.abs(sol.wavelength(x[lo : hi + 1]).value - wave[lo : hi + 1]) / np.abs(
        disp[lo : hi + 1]
    )
    floor = float(np.max(np.abs(off[~wrong]))) if (~wrong).any() else np.nan
    return p.size, lo, hi, float(err.max()), int(wrong.sum()), floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perturb", action="store_true", help="also run perturbed hints")
    args = parser.parse_args()
    if not REAL.is_dir():
        print(f"real data not available: {REAL}")
        return
    hints = [(1.0, 1.0)]
    if args.perturb:
        hints += [(0.91, 1.019), (1.09, 0.981), (0.91, 0.981), (1.09, 1.019)]
    header = (
        f"{'arc':28s} {'hint':11s} {'nid':>4s} {'range':>12s} {'maxerr':>7s} "
        f"{'wrong':>5s} {'floor':>5s} {'ok':>3s} {'sec':>5s} {'x base':>6s}  flags"
    )
    print(header)
    print("-" * len(header))
    totals = {
        "single_ok": 0,
        "single_n": 0,
        "piece_ok": 0,
        "piece_n": 0,
        "flagged_bad": 0,
        "silent_bad": 0,
    }
    for label, flux, wave, lamps in pieces():
        n = wave.size
        disp0 = (wave[-1] - wave[0]) / (n - 1)
        wcen0 = float(np.interp(0.5 * (n - 1), np.arange(n), wave))
        for fd, fw in hints:
            t0 = time.perf_counter()
            detect_lines(flux, max_lines=120)
            base = time.perf_counter() - t0
            t0 = time.perf_counter()
            sol = solve_arc(flux, lamps, dispersion=disp0 * fd, central_wavelength=wcen0 * fw)
            dt = time.perf_counter() - t0
            nid, lo, hi, maxerr, wrong, floor = evaluate(sol, wave)
            correct = wrong == 0 and maxerr < 0.5
            good_ids = wrong == 0 and nid > 0
            key = "single" if label in SINGLE else "piece"
            totals[f"{key}_n"] += 1
            totals[f"{key}_ok"] += int(correct)
            if not good_ids:
                totals["flagged_bad" if not sol.reliable else "silent_bad"] += 1
            flags = ",".join(sol.quality_names()) or "-"
            print(
                f"{label:28s} {fd:4.2f}/{fw:5.3f} {nid:4d} {lo:5d}-{hi:<6d} {maxerr:7.2f} "
                f"{wrong:5d} {floor:5.2f} {'yes' if correct else 'no':>3s} {dt:5.2f} "
                f"{dt / max(base, 1e-6):6.1f}  {flags}"
            )
    print()
    print(
        f"single-detector arcs correct (0 wrong IDs, max err < 0.5 px): "
        f"{totals['single_ok']}/{totals['single_n']}"
    )
    print(f"stitched-arc pieces correct: {totals['piece_ok']}/{totals['piece_n']}")
    print(
        f"wrong-ID solutions flagged unreliable: {totals['flagged_bad']}, "
        f"NOT flagged (silent): {totals['silent_bad']}"
    )


if __name__ == "__main__":
    main()
