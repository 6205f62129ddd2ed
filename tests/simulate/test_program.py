"""Simulator honesty: noise, traces, flux calibration, stuck shutters, serendips, read-back."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit
from scipy.special import erf

from slitwise.io import read_slitlet
from slitwise.simulate import read_truth_exposure, true_spectrum
from slitwise.simulate.photometry import PIXAR_SR
from slitwise.simulate.slitpsf import SLIT_FRAME_Y


def _normalised_residuals(paths):
    res = []
    for path in paths:
        exp = read_slitlet(path)
        truth = read_truth_exposure(path)
        ok = exp.valid
        res.append((exp.sci[ok] - truth.sci[ok]) / np.sqrt(exp.var[ok]))
    return np.concatenate(res)


@pytest.mark.parametrize("grating", ["PRISM", "G395M"])
def test_noise_is_honest(default_program, grating):
    paths = [
        p
        for p, g in zip(
            default_program.exposures,
            [read_slitlet(p).grating for p in default_program.exposures],
            strict=True,
        )
        if g == grating
    ]
    r = _normalised_residuals(paths)
    n = r.size
    assert n > 100_000
    # Unit variance within 5 % (the criterion); the sampling error of the variance is
    # sqrt(2/n) ~ 0.4 % here, so a real mismatch would show.
    assert np.var(r) == pytest.approx(1.0, abs=0.05)
    # Zero mean: 5 sigma of the mean of n unit-variance values.
    assert abs(np.mean(r)) < 5.0 / np.sqrt(n)


def test_noise_variance_tight(default_program):
    # Tighter than the issue: the variance arrays come from the noiseless counts, so the
    # normalised residuals must have unit variance to within a few sampling errors.
    r = _normalised_residuals(default_program.exposures)
    assert abs(np.var(r) - 1.0) < 5 * np.sqrt(2.0 / r.size) + 0.01


def _pix_gauss(y, amp, mu, sig):
    s2 = np.sqrt(2.0) * sig
    return amp * 0.5 * (erf((y + 0.5 - mu) / s2) - erf((y - 0.5 - mu) / s2))


@pytest.mark.parametrize("fixture", ["bright_program", "noiseless_program"])
def test_trace_lies_where_truth_says(request, fixture):
    prog = request.getfixturevalue(fixture)
    worst, nfit = 0.0, 0
    for path in prog.exposures:
        exp = read_slitlet(path)
        truth = read_truth_exposure(path)
        src = np.where(exp.valid, exp.sci - truth.sky, 0.0)
        w = np.where(exp.valid, 1.0, 0.0)
        ty = truth.trace["y"].value
        flux = truth.trace["fnu"].value * truth.trace["transmission"]
        rows = np.arange(exp.shape[0], dtype=float)
        nbin = 40
        for start in range(30, exp.shape[1] - nbin, nbin):
            cols = slice(start, start + nbin)
            if np.sum(flux[cols]) <= 0:
                continue
            # collapse the bin (mean over valid pixels, scaled to a sum)
            prof = np.sum(src[:, cols], axis=1) / np.maximum(np.sum(w[:, cols], axis=1), 1)
            prof *= nbin
            y_true = np.sum(ty[cols] * flux[cols]) / np.sum(flux[cols])
            near = np.abs(rows - y_true) < 4
            var = np.sum(np.where(exp.valid, exp.var, 0.0)[:, cols], axis=1)
            if prof[near].sum() < 100 * np.sqrt(var[near].sum()):
                continue  # centroid noise ~ sigma / (S/N) must stay << 0.05 px
            p0 = [prof[near].sum(), y_true + 0.3, 0.8]
            popt, _ = curve_fit(_pix_gauss, rows[near], prof[near], p0=p0)
            worst = max(worst, abs(popt[1] - y_true))
            nfit += 1
    assert nfit > 40
    # 0.05 px: the criterion. Centroid noise of the bins kept is < 0.01 px and
    # the curvature of the trace within a 40-column bin shifts the flux-weighted mean by less
    # than 0.01 px.
    assert worst < 0.05


def test_flux_calibration_point_source(noiseless_program):
    # Sum over rows of the noiseless source image, times PIXAR_SR, is the true f_nu for a
    # point source (SCI is divided by PATHLOSS_PS, which then equals its transmission).
    prog = noiseless_program
    for path in prog.exposures:
        exp = read_slitlet(path)
        truth = read_truth_exposure(path)
        assert exp.meta["pixar_sr"] == pytest.approx(PIXAR_SR)
        col_flux = np.nansum(truth.source, axis=0) * exp.meta["pixar_sr"] * 1e12
        t = truth.trace
        expected = t["fnu"].value * t["transmission"] / t["pathloss_ps"]
        good = expected > 0.2 * np.nanmax(expected)
        ratio = np.median(col_flux[good] / expected[good])
        # 0.5 %: the only differences are the tilt of the wavelength map across the profile
        # (a few hundredths of a pixel) and float32 storage.
        assert ratio == pytest.approx(1.0, abs=0.005)
        if exp.source_id == 1:  # point source: transmission == path loss exactly
            np.testing.assert_allclose(t["transmission"], t["pathloss_ps"], rtol=1e-12)
        else:  # extended source: the shutter passes less than the point-source path loss
            assert np.all(t["transmission"] < t["pathloss_ps"])
        # trace f_nu is the true spectrum on the trace wavelengths
        np.testing.assert_allclose(
            t["fnu"].value,
            true_spectrum(
                prog.truth[exp.source_id - 1], t["wave"].value, disperser=exp.disperser
            ).value,
            rtol=2e-3,
        )


def test_files_read_back_with_metadata(default_program):
    prog = default_program
    assert len(prog.exposures) == 6 * 2 * 3
    et = prog.exposure_table
    for path, row in zip(sorted(prog.exposures), sorted(et, key=lambda r: r["file"]), strict=True):
        assert path.name == row["file"]
        exp = read_slitlet(path)
        assert exp.bunit == "MJy/sr"
        assert exp.source_id == row["source_id"]
        assert exp.grating == row["grating"] and exp.filter == row["filter"]
        assert exp.nod_position == row["nod"] and exp.n_nods == 3
        assert exp.shutter_state == row["shutter_state"]
        assert exp.source_xpos == pytest.approx(row["srcxpos"], abs=1e-6)
        assert exp.exptime == pytest.approx(1021.2)
        assert exp.shape == ((35, 435) if exp.grating == "PRISM" else (35, 1339))
        assert exp.pathloss_ps is not None and exp.pathloss_un is not None
        assert exp.yslit is not None
        assert np.nanmin(exp.wave) > 0.5 and np.nanmax(exp.wave) < 5.6
        assert exp.meta["pixar_sr"] == pytest.approx(PIXAR_SR)
        # the source shutter (x) holds yslit in -0.5..0.5
        k_top = exp.shutter_state.index("x")
        assert 0 <= k_top < 3
        # flagged pixels exist (cosmic rays, bad pixels, outside the slitlet)
        assert np.any(exp.dq & 4) and np.any(exp.dq & 1)
    # nod order of a slitlet without stuck shutter: centre, up, down (top shutter first)
    free = prog.truth["source_id"][(prog.truth["stuck_shutter"] < 0) & ~prog.truth["is_serendip"]]
    rows = et[(et["source_id"] == free[0]) & (et["grating"] == "PRISM")]
    assert list(rows["shutter_state"]) == ["1x1", "x11", "11x"]


def test_cosmic_rays_are_flagged(default_program):
    path = default_program.exposures[0]
    exp = read_slitlet(path)
    truth = read_truth_exposure(path)
    cr = (exp.dq & 4) > 0
    z = (exp.sci - truth.sci) / np.sqrt(exp.var)
    # cosmic-ray pixels are far above the noise; unflagged pixels never are (> 8 sigma)
    assert np.nanmedian(z[cr]) > 5
    assert np.nanmax(np.abs(z[exp.valid])) < 8


def test_stuck_shutter_rows_are_dark(default_program):
    prog = default_program
    stuck_rows = prog.truth[(prog.truth["stuck_shutter"] >= 0) & ~prog.truth["is_serendip"]]
    assert len(stuck_rows) >= 1
    checked = 0
    for row in stuck_rows:
        sel = prog.exposure_table["source_id"] == row["source_id"]
        for erow in prog.exposure_table[sel]:
            exp = read_slitlet(prog.out_dir / erow["file"])
            truth = read_truth_exposure(prog.out_dir / erow["file"])
            idx = int(row["stuck_shutsta_index"])
            assert erow["shutter_state"][idx] in "0x"
            k_src = 2 - exp.shutter_state.index("x")  # from the bottom
            k_stuck = int(row["stuck_shutter"])
            # central half of the stuck shutter, in yslit (JWST slit frame: open-area units
            # from the source shutter centre, 1.15 per pitch)
            ys = exp.yslit / SLIT_FRAME_Y
            dark = np.abs(ys - (k_stuck - k_src)) < 0.25
            open_ = np.abs(ys - (1 - k_src if k_stuck != 1 else 0)) < 0.25
            # < 2 %: the shutter edges are blurred by the spectrograph (sigma 0.45 px), so the
            # central half of a dark shutter (>= 0.8 px from its edges) gets a little light.
            assert np.nanmax(truth.sky[dark]) < 0.02 * np.nanmedian(truth.sky[open_])
            ok = dark & exp.valid
            mean_sigma = np.sqrt(np.sum(exp.var[ok])) / ok.sum()
            assert abs(np.mean(exp.sci[ok])) < 5 * mean_sigma
            assert np.median(exp.sci[open_ & exp.valid]) > 20 * mean_sigma
            checked += 1
    assert checked >= 6


def test_serendipitous_source_present(default_program):
    prog = default_program
    ser = prog.truth[prog.truth["is_serendip"]]
    assert len(ser) >= 1
    host = int(ser["host_id"][0])
    sel = (prog.exposure_table["source_id"] == host) & prog.exposure_table["serendip_visible"]
    assert np.any(sel)
    for erow in prog.exposure_table[sel]:
        exp = read_slitlet(prog.out_dir / erow["file"])
        truth = read_truth_exposure(prog.out_dir / erow["file"])
        ser_light = truth.sci - truth.sky - truth.source
        assert np.nansum(ser_light) > 0
        y_ser = truth.trace["y_ser"].value
        rows = np.arange(exp.shape[0])[:, None]
        band = (np.abs(rows - y_ser[None, :]) < 1.5) & exp.valid
        # the data minus sky and primary, summed near the serendip's trace, is a detection in
        # the PRISM (the serendip is 3x fainter than a typical primary; G395M may miss it)
        excess = np.sum((exp.sci - truth.sky - truth.source)[band])
        if exp.grating == "PRISM":
            assert excess > 5 * np.sqrt(np.sum(exp.var[band]))
        assert excess == pytest.approx(
            np.nansum(ser_light[band]), abs=5 * np.sqrt(np.sum(exp.var[band]))
        )
