"""Each model component on its own, against known inputs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.stats import SigmaClip

from slitwise.detector.background2d import fit_background2d
from slitwise.detector.onef import column_offsets, row_offsets
from slitwise.detector.outliers import flag_clustered_outliers
from slitwise.detector.pedestal import fit_pedestal, picture_frame_template, read_pedestal_template
from slitwise.detector.variance import measure_variance_rescale
from slitwise.errors import SlitwiseInputError
from slitwise.simulate.fullframe import one_over_f_noise


def test_background2d_matches_photutils():
    """Our fast path (box map from Background2D, vectorised filter, separable zoom) equals
    photutils' own Background2D(...).background to rounding."""
    from photutils.background import Background2D, MedianBackground

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:256, 0:512]
    data = rng.normal(size=yy.shape) + np.sin(xx / 60.0) + yy / 100.0
    mask = np.zeros(data.shape, dtype=bool)
    mask[100:130] = True
    mask[:, 300:302] = True
    ref = Background2D(
        data,
        8,
        mask=mask,
        filter_size=(3, 3),
        sigma_clip=SigmaClip(sigma=3.0, maxiters=5),
        bkg_estimator=MedianBackground(),
        exclude_percentile=50.0,
    ).background
    np.testing.assert_allclose(fit_background2d(data, mask), ref, rtol=0, atol=1e-10)


def test_background2d_all_masked_is_zero_not_nan():
    out = fit_background2d(np.ones((64, 64)), np.ones((64, 64), dtype=bool))
    assert np.all(out == 0.0)


def test_column_offsets_per_band_and_all_masked_columns():
    rng = np.random.default_rng(2)
    shape = (1024, 256)
    offsets = rng.normal(0.0, 1.0, size=(2, 256))
    data = np.repeat(offsets, 512, axis=0) + rng.normal(0.0, 0.1, shape)
    mask = np.zeros(shape, dtype=bool)
    mask[:, 100:110] = True  # fully masked columns
    mask[:500, 200] = True  # a band-column with too few pixels falls back to the whole column
    model = column_offsets(data, mask)
    assert np.all(np.isfinite(model))
    # unmasked columns: per-band offsets to within the median's noise (0.1 * 1.25 / sqrt(512))
    good = np.r_[0:100, 110:200, 201:256]
    np.testing.assert_allclose(model[0, good], offsets[0, good], atol=0.03)
    np.testing.assert_allclose(model[600, good], offsets[1, good], atol=0.03)
    # masked columns: interpolated between neighbours (finite, between their values)
    lo = np.minimum(model[0, 99], model[0, 110]) - 1e-9
    hi = np.maximum(model[0, 99], model[0, 110]) + 1e-9
    assert np.all((model[0, 100:110] >= lo) & (model[0, 100:110] <= hi))


def test_row_offsets_all_masked_rows_finite():
    data = np.arange(40.0)[:, None] * np.ones((40, 300))
    mask = np.zeros(data.shape, dtype=bool)
    mask[10:20] = True
    model = row_offsets(data, mask)
    assert np.all(np.isfinite(model))
    np.testing.assert_allclose(model[:, 0], np.arange(40.0))  # linear fill is exact here


def test_pedestal_amplitude_recovered():
    rng = np.random.default_rng(3)
    shape = (1024, 2048)
    tmpl = picture_frame_template(shape)
    amps = np.array([0.02, 0.01])
    data = tmpl * np.repeat(amps, 512)[:, None] + 0.005 + rng.normal(0.0, 0.01, shape)
    model, fitted = fit_pedestal(data, tmpl, np.zeros(shape, dtype=bool))
    # two-parameter least squares on ~10^5 pixels at S/N ~ 100: 2 % is > 5 sigma
    np.testing.assert_allclose(fitted, amps, rtol=0.02)
    assert model.shape == shape


def test_user_template_replaces_builtin(tmp_path):
    from astropy.io import fits

    full = np.zeros((2048, 2048), dtype=np.float32)
    full[:, :10] = 1.0
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(full, name="SCI")]).writeto(tmp_path / "t.fits")
    cut = read_pedestal_template(tmp_path / "t.fits", (512, 2048), origin=(512, 0))
    assert cut.shape == (512, 2048) and cut[:, :10].all() and not cut[:, 10:].any()
    fits.HDUList([fits.PrimaryHDU(np.ones((5, 5)))]).writeto(tmp_path / "small.fits")
    with pytest.raises(SlitwiseInputError, match="does not cover the frame"):
        read_pedestal_template(tmp_path / "small.fits", (512, 2048))


def test_variance_factor_recovers_underestimated_read_noise():
    rng = np.random.default_rng(4)
    shape = (512, 512)
    var_rn = np.full(shape, 1.0)
    var_p = rng.uniform(0.2, 1.0, shape)
    true_rn_factor = 1.5
    data = rng.normal(0.0, np.sqrt(true_rn_factor * var_rn + var_p))
    mask = np.zeros(shape, dtype=bool)
    data[:20] += 50.0  # sources, masked
    mask[:20] = True
    res = measure_variance_rescale(data, var_rn, var_p, mask)
    # 65k pixels (stride 2): the robust std is good to ~0.4 %, the factor to ~2 %
    assert res.read_noise_factor == pytest.approx(true_rn_factor, rel=0.04)
    assert res.scatter_ratio > 1.1


def test_clustered_outliers_flagged_but_not_noise_or_traces():
    rng = np.random.default_rng(5)
    shape = (256, 256)
    data = rng.normal(0.0, 1.0, shape)
    sigma = np.ones(shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    snow = np.hypot(yy - 60, xx - 60) < 4
    data[snow] += 40.0
    line = (np.abs(yy - 200) <= 1) & (np.abs(xx - 128) <= 1)  # emission-line-like spot
    data[line] += 40.0
    traces = np.zeros(shape, dtype=bool)
    traces[195:206] = True
    flags = flag_clustered_outliers(data, sigma, traces)
    assert flags[snow].all()
    assert not flags[line].any()
    # nothing else: only the snowball and its 2-pixel grown edge
    grown = np.hypot(yy - 60, xx - 60) < 4 + 3
    assert not flags[~grown].any()


def test_one_over_f_spectrum_along_readout():
    """Column means of one band sample the readout series once per column: their power
    spectrum must fall as 1/f (log-log slope -1)."""
    rng = np.random.default_rng(6)
    noise = one_over_f_noise((512, 2048), rng, rms=1.0)
    col = noise.mean(axis=0)
    power = np.abs(np.fft.rfft(col - col.mean())) ** 2
    f = np.fft.rfftfreq(col.size)
    sel = (f > 2e-3) & (f < 0.1)  # below the column-averaging cut-off
    # average in log bins to beat the periodogram's chi-square scatter
    bins = np.logspace(np.log10(2e-3), np.log10(0.1), 12)
    idx = np.digitize(f[sel], bins)
    fx = np.array([f[sel][idx == i].mean() for i in np.unique(idx)])
    px = np.array([power[sel][idx == i].mean() for i in np.unique(idx)])
    slope = np.polyfit(np.log(fx), np.log(px), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.25)
    assert noise.std() == pytest.approx(1.0, rel=0.05)
