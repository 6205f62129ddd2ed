"""Science tests of clean_frame on simulated frames with known truth.

Frames come from :func:`slitwise.simulate.fullframe.make_fullframe`: MSA traces plus empty
traces (in the trace table, so masked, but with no light), picture frame, smooth background,
1/f noise along the readout, Poisson and read noise, snowballs and cosmic-ray residuals.
The *held-out* pixels are those of the empty traces: source-free, never used by the fit, so
they show what the cleaning leaves under a trace. The fitted source-free pixels are also
checked, but their column medians are zero by construction.
"""

from __future__ import annotations

import numpy as np
import pytest

from slitwise.detector import clean_frame, naive_column_clean
from slitwise.detector.stats import robust_std
from slitwise.errors import SlitwiseInputError

CASES = ["prism_sub", "grating_sub", "full_prism"]


@pytest.mark.parametrize("case", CASES)
def test_line_medians_reach_white_noise(case, request, metrics):
    """RMS of column and row medians over source-free held-out pixels: <= 1.2x the white-noise
    expectation after cleaning, far above it before (done criterion of issue 6).

    1.2 leaves room for the noise of the estimates themselves (a band-column median over ~300
    fitted pixels is subtracted from ~100 held-out ones: sqrt(1 + 100/300) ~ 1.15 at most) and
    for the RMS of ~100-2000 lines, good to 2-7 %."""
    c = request.getfixturevalue(case)
    ff = c.ff
    held = c.held_out()
    for axis in (0, 1):
        before, expect = metrics.line_median_ratio(
            ff.rate.sci - ff.source, held, c.bad, ff.sigma, axis
        )
        after, _ = metrics.line_median_ratio(
            c.result.frame.sci - ff.source, held, c.bad, ff.sigma, axis
        )
        assert after <= 1.2 * expect, (case, axis, after / expect)
        assert before >= 5.0 * expect, (case, axis, before / expect)
        fitted, expect_fit = metrics.line_median_ratio(
            c.result.frame.sci, ~c.result.mask & ~c.result.outliers, c.bad, ff.sigma, axis
        )
        assert fitted <= 1.2 * expect_fit


@pytest.mark.parametrize("case", CASES)
def test_trace_flux_unbiased_and_naive_biased(case, request, metrics):
    """Flux inside the traces matches the truth to < 0.5 % (white noise alone gives 0.05-0.15 %
    on these totals); the naive column median without a trace mask is off by > 1 %."""
    c = request.getfixturevalue(case)
    ff = c.ff
    args = (ff.source, ff.traces, ff.source.shape, c.bad, ff.rate.origin)
    ours, ours_per = metrics.flux_bias(c.result.frame.sci, *args)
    naive, naive_per = metrics.flux_bias(naive_column_clean(ff.rate.sci), *args)
    assert abs(ours) < 0.005, ours
    assert abs(naive) > 0.01, naive
    # trace by trace the naive approach is off by several per cent, ours by noise only
    assert np.median(np.abs(naive_per)) > 5 * np.median(np.abs(ours_per))


def test_masking_is_what_removes_the_bias(grating_sub, metrics):
    """Same frame, same column-median idea: masking the traces is what makes it unbiased."""
    ff = grating_sub.ff
    args = (ff.source, ff.traces, ff.source.shape, grating_sub.bad, ff.rate.origin)
    unmasked = naive_column_clean(
        ff.rate.sci
        - grating_sub.result.components["pedestal"]
        - grating_sub.result.components["background2d"]
    )
    bias_unmasked, _ = metrics.flux_bias(unmasked, *args)
    bias_ours, _ = metrics.flux_bias(grating_sub.result.frame.sci, *args)
    # the traces cover ~20 % of every column here and pull its median up: flux is lost
    assert bias_unmasked < -0.02
    assert abs(bias_ours) < 0.005


def test_record_variance_and_outliers(prism_sub):
    c = prism_sub
    rec = c.result.record
    assert rec.n_passes == 5 and len(rec.history) == 5 and rec.trace_source == "table"
    assert rec.row_1f  # PRISM default
    # the bottom band has the frame's top/bottom edge: amplitude well determined (see pedestal)
    assert rec.pedestal_amplitudes[0] == pytest.approx(c.ff.pedestal_amplitudes[0], rel=0.25)
    # residual within-column 1/f inflates the scatter: factor > 1, and after rescaling the
    # cleaned source-free pixels have unit scatter in units of the new ERR (to 2 %)
    assert rec.read_noise_factor > 1.0
    free = ~c.result.mask & ~c.result.outliers & ~c.bad
    z = c.result.frame.sci[free] / c.result.frame.err[free]
    assert robust_std(z) == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(
        c.result.frame.var["VAR_RNOISE"], c.ff.rate.var["VAR_RNOISE"] * rec.read_noise_factor
    )
    # snowballs outside the traces: every pixel > 5 sigma flagged (the faint halo edge, down
    # to 0.5 sigma in the truth map, may escape), and no flagged cluster without a hit
    from scipy import ndimage

    snow = (c.ff.outliers == 2) & ~c.result.mask & ((c.ff.rate.dq & 1) == 0)
    bright = snow & (c.result.frame.sci > 5 * c.ff.sigma)
    assert bright.sum() > 100 and c.result.outliers[bright].all()
    assert c.result.outliers[snow].mean() > 0.6
    labels, n = ndimage.label(c.result.outliers)
    hit = np.unique(labels[c.ff.outliers > 0])
    assert n == len(hit[hit > 0])
    dq = c.result.frame.dq
    new = c.result.outliers & ((c.ff.rate.dq & 1) == 0)
    assert np.all(dq[new] & 5 == 5)  # DO_NOT_USE | JUMP_DET
    kw = rec.header_keywords()
    assert kw["CLNPASS"][0] == 5 and "CLNVARF" in kw and "CLNPED1" in kw


def test_all_masked_columns_and_frame_give_no_nans(prism_sub):
    frame = prism_sub.ff.rate
    extra = np.zeros(frame.shape, dtype=bool)
    extra[:, 300:380] = True
    res = clean_frame(frame, traces=prism_sub.ff.traces, mask=extra, n_passes=2)
    assert np.array_equal(np.isfinite(res.frame.sci), np.isfinite(frame.sci))
    assert np.isfinite(res.frame.sci[:, 300:380][np.isfinite(frame.sci[:, 300:380])]).all()
    for comp in res.components.values():
        assert np.isfinite(comp).all()
    everything = clean_frame(frame, mask=np.ones(frame.shape, dtype=bool), n_passes=1)
    assert np.array_equal(np.isfinite(everything.frame.sci), np.isfinite(frame.sci))
    assert np.isfinite(everything.frame.err).all()


def test_detected_traces_when_no_table(grating_sub, metrics):
    ff = grating_sub.ff
    res = clean_frame(ff.rate, n_passes=3)
    assert res.record.trace_source == "detected"
    args = (ff.source, ff.traces, ff.source.shape, grating_sub.bad, ff.rate.origin)
    bias, _ = metrics.flux_bias(res.frame.sci, *args)
    # detection misses faint trace ends, whose light then leaks into the estimates: 1 %
    assert abs(bias) < 0.01


def test_bad_options(prism_sub):
    with pytest.raises(SlitwiseInputError, match="n_passes"):
        clean_frame(prism_sub.ff.rate, traces=prism_sub.ff.traces, n_passes=0)
    with pytest.raises(SlitwiseInputError, match="template"):
        clean_frame(prism_sub.ff.rate, traces=prism_sub.ff.traces, template=np.ones((3, 3)))


def test_frame_without_variance_split(prism_sub):
    """A frame with only ERR (no VAR_RNOISE): the whole ERR is rescaled by sqrt(factor)."""
    from slitwise.detector import RateFrame

    f = prism_sub.ff.rate
    bare = RateFrame(sci=f.sci, err=f.err, dq=f.dq, header=f.header)
    res = clean_frame(bare, traces=prism_sub.ff.traces, n_passes=2)
    k = res.record.read_noise_factor
    assert k > 1.0 and not res.frame.var
    np.testing.assert_allclose(res.frame.err, f.err * np.sqrt(k))
