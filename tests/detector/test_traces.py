"""Trace tables and masks: curvature followed, off-detector tables refused, detection."""

from __future__ import annotations

import numpy as np
import pytest

from slitwise.detector import (
    detect_trace_mask,
    make_trace_table,
    read_trace_table,
    trace_mask,
    write_trace_table,
)
from slitwise.detector.traces import fixed_slit_mask, trace_centre
from slitwise.errors import SlitwiseInputError
from slitwise.simulate.fullframe import make_fullframe


def _one(y_ref=100.0, curvature=2e-5, x_min=50, x_max=450, half_width=4.0):
    return make_trace_table(
        [7], [x_min], [x_max], [250.0], [y_ref], [0.01], [curvature], [half_width]
    )


def test_mask_follows_curvature():
    tab = _one()
    mask = trace_mask(tab, (256, 512))
    xs = np.arange(50, 451)
    yc = trace_centre(tab[0], xs)
    # the centre moves by 4 rows across the trace: a straight mask would miss it
    assert np.ptp(yc) > 2.5
    rows = np.round(yc).astype(int)
    assert mask[rows, xs].all()
    # rows beyond half_width (4) + 1 from the centre are not masked; no columns outside x range
    assert not mask[np.round(yc + 6).astype(int), xs].any()
    assert not mask[:, :50].any() and not mask[:, 451:].any()
    # 9 rows (2 * 4 + 1) per column
    assert set(np.unique(mask[:, 50:451].sum(axis=0))) == {9}


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"y_ref": 300.0}, ["trace 7", "centre rows", "fall off"]),
        ({"x_max": 600}, ["trace 7", "columns 50..600", "fall off"]),
        ({"y_ref": 2.0, "curvature": -1e-4}, ["trace 7", "fall off"]),
    ],
)
def test_trace_off_detector_is_an_input_error(kwargs, words):
    with pytest.raises(SlitwiseInputError) as exc:
        trace_mask(_one(**kwargs), (256, 512))
    for w in words:
        assert w in str(exc.value)


def test_subarray_origin_and_fixed_slits():
    tab = _one(y_ref=1100.0)
    # the same full-frame trace lies on a subarray starting at row 1000 ...
    m = trace_mask(tab, (256, 512), origin=(1000, 0))
    assert m[100, 250]
    # ... but not on one starting at row 0
    with pytest.raises(SlitwiseInputError):
        trace_mask(tab, (256, 512))
    fs = fixed_slit_mask((512, 64), origin=(800, 0))
    assert fs[:, 0].sum() == 1110 - 920 and fs[120, 0] and not fs[119, 0]


def test_table_round_trip_and_missing_column(tmp_path):
    path = write_trace_table(_one(), tmp_path / "t.ecsv")
    back = read_trace_table(path)
    np.testing.assert_allclose(back["curvature"].value, 2e-5)
    back.remove_column("half_width")
    back.write(tmp_path / "bad.ecsv", overwrite=True)
    with pytest.raises(SlitwiseInputError, match="half_width"):
        read_trace_table(tmp_path / "bad.ecsv")
    with pytest.raises(SlitwiseInputError, match="not found"):
        read_trace_table(tmp_path / "missing.ecsv")


def test_detected_traces_cover_the_true_traces():
    ff = make_fullframe(seed=5, grating="G395M", shape=(512, 2048), n_traces=8, n_empty=0)
    bad = ~np.isfinite(ff.rate.sci) | ((ff.rate.dq & 1) > 0)
    found = detect_trace_mask(ff.rate.sci, mask=bad)
    true = trace_mask(ff.traces, ff.source.shape)
    # bright core: pixels with more than 2 % of the noise in source flux
    core = ff.source > 0.02 * ff.sigma
    # detection is on the continuum collapsed over 128 columns: >= 95 % of the core is found
    assert found[core].mean() > 0.95
    # and little else: < 3 % of the source-free area is masked by mistake
    assert found[~true].mean() < 0.03
