"""Benchmark: detector-level cleaning of one 2048 x 2048 rate frame (goal < 10 s, 5 passes).

Run: ``.venv/bin/python benchmarks/bench_clean.py [--repeat N]``. Simulates one full-frame
PRISM and one G395M frame (:func:`slitwise.simulate.fullframe.make_fullframe`), then times
:func:`slitwise.detector.clean_frame` (5 passes, trace table given) against a baseline
measured in the same run: the naive approach, one median per column over all pixels
(numpy). Also prints, per frame, what each buys: RMS of the column medians over the
source-free held-out pixels (empty traces) in units of the white-noise expectation, and the
trace flux error against the truth.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from slitwise.detector import clean_frame, naive_column_clean, trace_mask
from slitwise.simulate.fullframe import make_fullframe


def _best(func, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _col_median_ratio(image, sel, sigma):
    a = np.where(sel, image, np.nan)
    n = sel.sum(axis=0)
    ok = n >= 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(a, axis=0)[ok]
        s2 = np.nanmean(np.where(sel, sigma**2, np.nan), axis=0)[ok]
    return np.sqrt(np.mean(med**2)) / np.sqrt(np.mean(np.pi / 2 * s2 / n[ok]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="timings per method (best kept)")
    args = parser.parse_args()
    for grating in ("PRISM/CLEAR", "G395M/F290LP"):
        ff = make_fullframe(seed=21, grating=grating, n_traces=30, n_empty=12)
        t_naive, naive = _best(lambda ff=ff: naive_column_clean(ff.rate.sci), args.repeat)
        t_ours, res = _best(lambda ff=ff: clean_frame(ff.rate, traces=ff.traces), args.repeat)
        tab = ff.traces
        shape = ff.source.shape
        bad = ~np.isfinite(ff.rate.sci) | ((ff.rate.dq & 1) > 0) | (ff.outliers > 0)
        held = trace_mask(tab[tab["empty"]], shape) & ~bad
        src = trace_mask(tab[~tab["empty"]], shape) & ~bad
        truth = ff.source[src].sum()
        per_trace = [trace_mask(tab[[i]], shape) & ~bad for i in np.flatnonzero(~tab["empty"])]
        print(f"{grating:13s} 2048x2048, 5 passes:")
        for name, t, img in (("naive column median", t_naive, naive),
                             ("slitwise clean_frame", t_ours, res.frame.sci)):  # fmt: skip
            ratio = _col_median_ratio(img - ff.source, held, ff.sigma)
            bias = img[src].sum() / truth - 1.0
            each = np.median([abs(img[m].sum() / ff.source[m].sum() - 1.0) for m in per_trace])
            print(
                f"  {name:21s} {t:7.3f} s ({t / t_naive:5.1f} x naive)  held-out column-median "
                f"RMS {ratio:5.2f} x white  flux: total {bias:+.2%}, per-trace median |error| "
                f"{each:.2%}"
            )
        print(f"  goal < 10 s per frame: {'yes' if t_ours < 10 else 'NO'}")


if __name__ == "__main__":
    main()
