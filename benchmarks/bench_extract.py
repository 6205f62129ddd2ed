"""Benchmark: extraction of one source, 3 nod exposures, 1 grating (target < 1 s wall).

Run: ``.venv/bin/python benchmarks/bench_extract.py``. Prints the wall time of
:func:`slitwise.extract.extract_source` on a synthetic 25x341 PRISM slitlet (the size of a real
NIRSpec cut-out) and on the real CEERS 1345_933 cut-outs when present, each as a ratio to a
baseline measured in the same run: plain nod differences summed in a 5-row box (numpy only).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from slitwise.extract import ExtractOptions, extract_source
from slitwise.extract.synthetic import make_nodded_slitlet

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "msaexp-pypi-0.9.19"


def _best(func, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def _baseline(exposures):
    sci = [e.sci for e in exposures]
    out = []
    for i, s in enumerate(sci):
        diff = s - np.mean([sci[j] for j in range(len(sci)) if j != i], axis=0)
        row = int(np.nanargmax(np.nansum(diff, axis=1)))
        out.append(np.nansum(diff[row - 2 : row + 3], axis=0))
    return np.mean(out, axis=0)


def main() -> None:
    s = make_nodded_slitlet(nx=341, ny=25, seed=1)
    cases = [("synthetic PRISM 25x341, 3 nods", s.exposures)]
    files = sorted(REAL.glob("jw01345062001_03101_0000?_nrs2_phot.138.1345_933.fits"))
    if len(files) == 3:
        from slitwise.io import read_slitlet

        cases.append(("real CEERS 1345_933 PRISM, 3 nods", [read_slitlet(f) for f in files]))
    for label, exps in cases:
        base = _best(lambda exps=exps: _baseline(exps))
        for name, opt in (("default (serendip search)", ExtractOptions()),
                          ("primary only", ExtractOptions(serendips=False))):  # fmt: skip
            t = _best(lambda exps=exps, opt=opt: extract_source(exps, options=opt))
            print(f"{label:38s} {name:26s} wall {t:6.3f} s   ratio to box baseline "
                  f"{t / base:8.0f}   target < 1 s: {'yes' if t < 1 else 'NO'}")


if __name__ == "__main__":
    main()
