"""Real spectra with known redshifts, fitted over the default redshift range with no hint.

Criterion (issue "template redshift fitting"): |dz|/(1+z) < 0.002 for each. Reads files under
``../shared/data/real`` with :func:`slitwise.io.archive.open_spectrum`; prints one line each.
Usage: python benchmarks/bench_zfit_real.py
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("SLITWISE_SHARED", REPO.parent / "shared")) / "data" / "real"
IRAS = "dja-nirspec-wavecal/calib_{}_iras-05248-7007_s200a1.v1.spec.fits.gz"
CASES = [
    ("msaexp-pypi-0.9.19/derived/nirspec_prism-clear_1345_933.spec.fits", 4.2341),
    ("msaexp-pypi-0.9.19/static-test-driz-center-bkg_933.spec.fits", 4.2341),
    ("nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits", 7.665),
    ("ppxf-legac/legac_M19_56670_v3.0.fits", 0.6686),
] + [
    (IRAS.format(g), 0.000984)
    for g in ("prism-clear", "g140m-f070lp", "g140m-f100lp", "g235m-f170lp", "g395m-f290lp")
]


def main() -> int:
    from slitwise.io.archive import open_spectrum
    from slitwise.redshift import zfit

    bad = 0
    print(f"{'file':<58} {'z_true':>8} {'ZBEST':>8} {'dz/(1+z)':>9} {'ZCONF':>6} "
          f"{'ZWARN':>5} {'s':>6}")  # fmt: skip
    for rel, zt in CASES:
        path = REAL / rel
        if not path.exists():
            print(f"{rel[-58:]:<58} missing")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = open_spectrum(path)
        t = time.perf_counter()
        res = zfit(spec)
        dt = time.perf_counter() - t
        dz = (res.zbest - zt) / (1 + zt)
        ok = abs(dz) < 0.002
        bad += not ok
        print(f"{Path(rel).name[-58:]:<58} {zt:8.5f} {res.zbest:8.5f} {dz:9.5f} "
              f"{res.zconf:6.3f} {res.zwarn:5d} {dt:6.2f} {'ok' if ok else 'FAIL'}")  # fmt: skip
    print(f"{len(CASES) - bad}/{len(CASES)} within |dz|/(1+z) < 0.002")
    return int(bad > 0)


if __name__ == "__main__":
    sys.exit(main())
