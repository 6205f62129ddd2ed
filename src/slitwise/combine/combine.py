"""Combination of several 1D spectra of one source and disperser into one.

The spectra (e.g. from different visits or MSA configurations) are resampled onto a common
grid with :func:`slitwise.combine.resample.resample_flux` (flux conserving) and averaged:

* ``weights='exptime'`` (default): weights proportional to exposure time, which does not
  depend on the (noisy) data and so keeps the mean unbiased;
* ``weights='ivar'``: inverse-variance weights, optimal when the errors are trustworthy but
  biased low for Poisson-limited data.

With three or more spectra, points deviating from the weighted mean by more than
``clip_sigma`` standard deviations are rejected, iterating up to ``clip_iter`` times. The
variance of the mean is propagated: ``var = sum w_i^2 var_i / (sum w_i)^2``.
"""

from __future__ import annotations

from typing import Literal

import astropy.units as u
import numpy as np

from slitwise.combine.resample import resample_flux
from slitwise.errors import input_error
from slitwise.spectra.spectrum1d import Spectrum1D

__all__ = ["combine_arrays", "combine_spectra"]


def combine_arrays(
    flux: np.ndarray,
    var: np.ndarray,
    *,
    weights: np.ndarray,
    clip_sigma: float = 3.0,
    clip_iter: int = 5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean over axis 0 with sigma clipping; returns (mean, var, n_used)."""
    flux = np.asarray(flux, dtype=float)
    var = np.asarray(var, dtype=float)
    ok = np.isfinite(flux) & np.isfinite(var) & (var > 0)
    w = np.broadcast_to(np.asarray(weights, dtype=float).reshape(-1, *([1] * (flux.ndim - 1))),
                        flux.shape)  # fmt: skip
    use = ok.copy()
    for it in range(clip_iter if flux.shape[0] >= 3 else 0):
        ww = np.where(use, w, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.sum(ww * np.where(use, flux, 0), axis=0) / np.sum(ww, axis=0)
        if it == 0:
            # start from the median so that one wild value cannot drag the centre
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmedian(np.where(use, flux, np.nan), axis=0)
        dev = np.abs(flux - mean) / np.sqrt(var)
        new = ok & ~(dev > clip_sigma)
        # never reject every spectrum at a pixel
        new |= ok & (np.sum(new, axis=0) == 0)
        if np.array_equal(new, use):
            break
        use = new
    ww = np.where(use, w, 0.0)
    wsum = np.sum(ww, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(wsum > 0, np.sum(ww * np.where(use, flux, 0), axis=0) / wsum, np.nan)
        mvar = np.where(wsum > 0, np.sum(ww**2 * np.where(use, var, 0), axis=0) / wsum**2, np.nan)
    return mean, mvar, np.sum(use, axis=0)


def combine_spectra(
    spectra: list[Spectrum1D],
    *,
    wave: u.Quantity | None = None,
    weights: Literal["exptime", "ivar"] = "exptime",
    exptimes: list[float] | None = None,
    clip_sigma: float = 3.0,
    clip_iter: int = 5,
) -> Spectrum1D:
    """Combine spectra of one source into one on a common grid.

    Parameters
    ----------
    spectra : list of Spectrum1D
        Input spectra (same flux physical type).
    wave : Quantity, optional
        Output grid; default the grid of the first spectrum.
    weights : {'exptime', 'ivar'}
        Weighting scheme (see module docstring).
    exptimes : list of float, optional
        Exposure times for ``'exptime'`` weights (default ``meta['exptime']`` or 1).
    clip_sigma, clip_iter : float, int
        Sigma clipping (only with 3 or more spectra).

    Returns
    -------
    Spectrum1D
        The combination, with ``meta['ncombine']``.
    """
    if not spectra:
        raise input_error("combine_spectra", "no spectra given")
    unit = spectra[0].flux.unit
    grid = (spectra[0].wave if wave is None else wave).to(u.um).value
    fl, va = [], []
    for s in spectra:
        try:
            f = s.flux.to_value(unit, equivalencies=u.spectral_density(s.wave))
            e = s.err.to_value(unit, equivalencies=u.spectral_density(s.wave))
        except u.UnitConversionError as exc:
            raise input_error(s.meta.get("filename", "spectrum"), "flux unit differs") from exc
        f = np.where(s.valid, f, np.nan)
        nf, nv = resample_flux(grid, s.wave.to_value(u.um), f, e**2)
        fl.append(nf)
        va.append(nv)
    if weights == "exptime":
        if exptimes is None:
            exptimes = [float(s.meta.get("exptime", 1.0) or 1.0) for s in spectra]
        w = np.asarray(exptimes, dtype=float)
        mean, var, n = combine_arrays(np.array(fl), np.array(va), weights=w,
                                      clip_sigma=clip_sigma, clip_iter=clip_iter)  # fmt: skip
    elif weights == "ivar":
        fl, va = np.array(fl), np.array(va)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(va > 0, 1.0 / va, 0.0)
        # per-pixel weights: fold them into the arrays by scaling (weights broadcast per pixel)
        mean, var, n = _combine_ivar(fl, va, w, clip_sigma, clip_iter)
    else:
        raise input_error(f"weights '{weights}'", "expected 'exptime' or 'ivar'")
    valid = np.isfinite(mean) & np.isfinite(var) & (var > 0)
    return Spectrum1D(
        wave=grid * u.um,
        flux=np.where(valid, mean, np.nan) * unit,
        err=np.where(valid, np.sqrt(np.where(valid, var, 1.0)), np.nan) * unit,
        valid=valid,
        resolution=spectra[0].resolution if wave is None else None,
        meta={**spectra[0].meta, "ncombine": len(spectra), "combine_weights": weights},
    )


def _combine_ivar(fl, va, w, clip_sigma, clip_iter):
    ok = np.isfinite(fl) & (w > 0)
    use = ok.copy()
    for it in range(clip_iter if fl.shape[0] >= 3 else 0):
        ww = np.where(use, w, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.sum(ww * np.where(use, fl, 0), 0) / np.sum(ww, 0)
            if it == 0:
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmedian(np.where(use, fl, np.nan), axis=0)
            dev = np.abs(fl - mean) / np.sqrt(va)
        new = ok & ~(dev > clip_sigma)
        new |= ok & (np.sum(new, 0) == 0)
        if np.array_equal(new, use):
            break
        use = new
    ww = np.where(use, w, 0)
    wsum = np.sum(ww, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(wsum > 0, np.sum(ww * np.where(use, fl, 0), 0) / wsum, np.nan)
        var = np.where(wsum > 0, 1.0 / wsum, np.nan)
    return mean, var, np.sum(use, 0)
