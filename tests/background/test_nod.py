"""Nod subtraction and stuck-shutter helpers."""

from __future__ import annotations

import numpy as np
import pytest

from slitwise.background import (
    background_sets,
    detect_missing_source,
    nod_subtract,
    shutter_label,
    source_shutter_index,
)
from slitwise.errors import SlitwiseInputError
from slitwise.extract.synthetic import make_nodded_slitlet


def _arrays(s):
    sci = [e.sci for e in s.exposures]
    var = [e.var for e in s.exposures]
    return sci, var


def test_background_sets_default_and_override():
    s = make_nodded_slitlet(n_nods=3)
    assert background_sets(s.exposures) == [(1, 2), (0, 2), (0, 1)]
    # exposure 0 uses only nod position 3 as background
    assert background_sets(s.exposures, overrides={0: (3,)})[0] == (2,)
    assert background_sets(s.exposures, excluded={1})[0] == (2,)


def test_plain_difference_and_variance_propagation():
    s = make_nodded_slitlet(n_nods=3, seed=1)
    sci, var = _arrays(s)
    diffs = nod_subtract(sci, var, s.exposures, valid=[e.valid for e in s.exposures])
    d = diffs[0]
    ok = np.isfinite(d.sci)
    expected = sci[0] - 0.5 * (sci[1] + sci[2])
    assert np.allclose(d.sci[ok], expected[ok])
    assert np.allclose(d.var[ok], (var[0] + 0.25 * (var[1] + var[2]))[ok])
    # sky cancels: far from every trace the difference averages to zero within its error
    rows = np.arange(sci[0].shape[0])[:, None]
    far = ok & np.all([np.abs(rows - c[None, :]) > 4 for c in s.centres], axis=0)
    mean = np.mean(d.sci[far])
    assert abs(mean) < 5 * np.sqrt(np.mean(d.var[far]) / far.sum())


def test_smoothing_reduces_background_noise():
    s = make_nodded_slitlet(n_nods=3, seed=2)
    sci, var = _arrays(s)
    valid = [e.valid for e in s.exposures]
    plain = nod_subtract(sci, var, s.exposures, valid=valid)[0]
    smooth = nod_subtract(sci, var, s.exposures, valid=valid, smooth=15)[0]
    ok = np.isfinite(plain.var_background) & np.isfinite(smooth.var_background)
    # 15 columns of background: variance of the background about 15x smaller (edges fewer)
    ratio = np.median(plain.var_background[ok] / smooth.var_background[ok])
    assert 12 < ratio < 16


def test_nod_subtract_needs_two_positions():
    s = make_nodded_slitlet(n_nods=2)
    sci, var = _arrays(s)
    with pytest.raises(SlitwiseInputError, match="two exposures"):
        nod_subtract(sci[:1], var[:1], s.exposures[:1])


def test_stuck_helpers():
    assert source_shutter_index("1x1") == 2
    assert source_shutter_index("111") is None
    assert shutter_label("1x1", {3}) == "1x0"
    flagged = detect_missing_source(np.array([1.0, 0.02, 0.97]), np.array([0.05, 0.05, 0.05]))
    assert flagged == {1}
    # all faint: nothing flagged (never all exposures)
    assert detect_missing_source(np.array([0.0, 0.0]), np.array([0.1, 0.1])) == set()
