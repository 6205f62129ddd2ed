"""Resampling and combination of 1D spectra."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from slitwise.combine import combine_spectra, resample_flux
from slitwise.spectra import Spectrum1D


def test_resample_matches_spectres_on_random_inputs():
    spectres = pytest.importorskip("spectres")
    rng = np.random.default_rng(0)
    for _ in range(5):
        old = np.sort(rng.uniform(1, 5, 200))
        old = old[np.concatenate([[True], np.diff(old) > 1e-4])]
        new = np.linspace(old[3], old[-4], 57)
        f = rng.normal(1, 0.3, old.size)
        e = rng.uniform(0.1, 0.2, old.size)
        ours, ovar = resample_flux(new, old, f, e**2)
        ref, rerr = spectres.spectres(new, old, f, spec_errs=e, fill=np.nan, verbose=False)
        ok = np.isfinite(ours) & np.isfinite(ref)
        assert ok.sum() > 50
        # same definition of bin edges and overlaps: agreement to rounding
        assert np.allclose(ours[ok], ref[ok], rtol=1e-10)
        assert np.allclose(np.sqrt(ovar[ok]), rerr[ok], rtol=1e-10)


def test_resample_conserves_integral():
    old = np.linspace(1, 2, 101)
    f = 1 + np.sin(5 * old)
    new = np.linspace(1.1, 1.9, 33)
    g, _ = resample_flux(new, old, f)
    # flux conservation over the common range (edges aligned to within one old bin)
    assert np.nansum(g * np.gradient(new)) == pytest.approx(
        np.sum((f * np.gradient(old))[(old > 1.09) & (old < 1.91)]), rel=0.02
    )


def _spec(flux, err, wave, exptime=1.0):
    return Spectrum1D(wave=wave * u.um, flux=flux * u.uJy, err=err * u.uJy,
                      meta={"exptime": exptime})  # fmt: skip


def test_combine_weights_and_clipping():
    rng = np.random.default_rng(1)
    wave = np.linspace(1, 2, 300)
    truth = np.ones_like(wave)
    specs = [_spec(truth + rng.normal(0, 0.1, wave.size), np.full(wave.size, 0.1), wave)
             for _ in range(4)]  # fmt: skip
    specs[2].flux[50] = 100 * u.uJy  # an outlier in one spectrum
    out = combine_spectra(specs, weights="exptime")
    assert out.flux[50].value == pytest.approx(1.0, abs=0.4)
    # variance of the mean of 4: error 0.05; check it and the scatter
    assert np.median(out.err.value) == pytest.approx(0.05, rel=0.05)
    chi = (out.flux.value - truth) / out.err.value
    assert 0.8 < np.std(chi) < 1.2
    ivar = combine_spectra(specs, weights="ivar")
    assert np.median(ivar.err.value) == pytest.approx(0.05, rel=0.05)
