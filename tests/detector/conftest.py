"""Fixtures for the detector-cleaning tests: simulated frames with truth, cleaned once.

Science metrics used by several tests are provided by the ``metrics`` fixture (tests are not
an importable package here):

* ``line_median_ratio(image, select, bad, sigma, axis)``: RMS over lines (columns for
  ``axis=0``, rows for ``axis=1``) of the median of ``image`` over the selected pixels of each
  line, and the white-noise expectation of that RMS, ``sqrt(pi/2) * sigma_line / sqrt(n)``
  (the standard error of a median of ``n`` Gaussian values), combined as an RMS over lines.
* ``flux_bias(image, truth, traces, shape, bad)``: total relative flux error summed over the
  non-empty traces, and the per-trace relative errors.
"""

from __future__ import annotations

import dataclasses
import types
import warnings

import numpy as np
import pytest

from slitwise.detector import clean_frame, trace_mask
from slitwise.simulate.fullframe import FullFrame, make_fullframe


@dataclasses.dataclass
class Case:
    ff: FullFrame
    result: object

    @property
    def bad(self) -> np.ndarray:
        """Pixels that no flux or noise statistic should use (flagged, NaN, injected hits)."""
        rate = self.ff.rate
        return ~np.isfinite(rate.sci) | ((rate.dq & 1) > 0) | (self.ff.outliers > 0)

    def held_out(self) -> np.ndarray:
        """Pixels of the empty traces: source-free, but masked during the cleaning."""
        tab = self.ff.traces
        return trace_mask(tab[tab["empty"]], self.ff.source.shape, origin=self.ff.rate.origin)


def line_median_ratio(image, select, bad, sigma, axis, *, min_pixels=10):
    use = select & ~bad
    a = np.where(use, image, np.nan)
    n = use.sum(axis=axis)
    ok = n >= min_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(a, axis=axis)[ok]
        s2 = np.nanmean(np.where(use, sigma**2, np.nan), axis=axis)[ok]
    expect = np.sqrt(np.pi / 2 * s2 / n[ok])
    return float(np.sqrt(np.mean(med**2))), float(np.sqrt(np.mean(expect**2)))


def flux_bias(image, truth, traces, shape, bad, origin=(0, 0)):
    per = []
    tot_img = tot_true = 0.0
    for i in np.flatnonzero(~np.asarray(traces["empty"])):
        m = trace_mask(traces[[i]], shape, origin=origin) & ~bad
        f_img, f_true = float(image[m].sum()), float(truth[m].sum())
        per.append(f_img / f_true - 1.0)
        tot_img += f_img
        tot_true += f_true
    return tot_img / tot_true - 1.0, np.asarray(per)


@pytest.fixture(scope="session")
def metrics():
    return types.SimpleNamespace(line_median_ratio=line_median_ratio, flux_bias=flux_bias)


def _case(**kw) -> Case:
    ff = make_fullframe(**kw)
    return Case(ff=ff, result=clean_frame(ff.rate, traces=ff.traces))


@pytest.fixture(scope="session")
def prism_sub() -> Case:
    """PRISM, 512 x 2048 subarray on the bottom amplifier band, 10 empty traces held out."""
    return _case(seed=11, grating="PRISM/CLEAR", shape=(512, 2048), n_traces=10, n_empty=10)


@pytest.fixture(scope="session")
def grating_sub() -> Case:
    """G395M, 512 x 2048 subarray on the top amplifier band (row 1/f off by default)."""
    return _case(
        seed=12, grating="G395M", shape=(512, 2048), origin=(1536, 0), n_traces=7, n_empty=8
    )


@pytest.fixture(scope="session")
def full_prism() -> Case:
    """One full 2048 x 2048 PRISM frame, default 5 passes."""
    return _case(seed=13, grating="PRISM/CLEAR", n_traces=30, n_empty=16)
