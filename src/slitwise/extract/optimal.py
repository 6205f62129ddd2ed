"""Horne (1986) optimal extraction with model-based variances and outlier rejection.

The optimal estimate of the flux in a wavelength bin is ``F = sum(P d / V) / sum(P^2 / V)``
over the pixels of the bin, with ``P`` the unit-area source profile and ``V`` the pixel
variance, and ``var(F) = 1 / sum(P^2 / V)``. Using variances computed from the noisy data
biases ``F`` (upward fluctuations get less weight), so ``V`` is recomputed from the model
(sky + ``F P``) at every iteration, as Horne prescribes; pixels deviating by more than
``sigma_clip`` from the model are rejected and the bin re-solved.

Two entry points:

* :func:`horne_solve` works on any set of pixels with bin indices (our unrectified pixel
  table, several exposures at once, optionally several sources deblended jointly);
* :func:`optimal_extract` works on a rectified 2D spectrum (ours or a JWST ``s2d``), with the
  variance from ERR (``variance='err'``) or from the WHT map (``variance='wht'``, scaled to
  match ERR where both exist, as in the STScI NIRSpec optimal-extraction notebook).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Literal

import astropy.units as u
import numpy as np

from slitwise.errors import input_error
from slitwise.extract.pixels import PixelTable
from slitwise.extract.profile import (
    TraceProfile,
    fit_trace_profile,
    initial_centres,
    profile_values,
)
from slitwise.spectra.rectified import RectifiedSpectrum2D
from slitwise.spectra.spectrum1d import FNU_UNIT, Spectrum1D

__all__ = ["HorneResult", "horne_solve", "optimal_extract", "fit_rectified_profile"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class HorneResult:
    """Result of :func:`horne_solve`.

    Attributes
    ----------
    flux : ndarray (n_src, nbins)
        Extracted flux of each source per bin (unit of the data times pixels).
    var : ndarray (n_src, nbins)
        Variance of ``flux`` (NaN where a bin has no usable pixel).
    used : ndarray of bool (npix,)
        Pixels kept after outlier rejection.
    pixvar : ndarray (npix,)
        Final model-based pixel variance.
    n_iter : int
        Iterations done.
    """

    flux: np.ndarray
    var: np.ndarray
    used: np.ndarray
    pixvar: np.ndarray
    n_iter: int


def _solve_bins(data, wgt, models, bins, nbins):
    """Per-bin weighted linear least squares for ``n_src`` amplitudes (normal equations)."""
    nsrc = len(models)
    ata = np.zeros((nbins, nsrc, nsrc))
    atb = np.zeros((nbins, nsrc))
    for a in range(nsrc):
        atb[:, a] = np.bincount(bins, wgt * models[a] * data, minlength=nbins)
        for b in range(a, nsrc):
            v = np.bincount(bins, wgt * models[a] * models[b], minlength=nbins)
            ata[:, a, b] = v
            ata[:, b, a] = v
    flux = np.zeros((nsrc, nbins))
    var = np.full((nsrc, nbins), np.nan)
    if nsrc == 1:
        den = ata[:, 0, 0]
        # bins whose model weight is negligible (profile wing only) carry no information
        ok = den > 1e-12 * np.max(den, initial=0.0)
        flux[0, ok] = atb[ok, 0] / den[ok]
        var[0, ok] = 1.0 / den[ok]
        return flux, var
    diag = np.einsum("kii->ki", ata)
    ok = np.all(diag > 1e-12 * np.max(diag, initial=0.0), axis=1)
    if np.any(ok):
        # regularise nearly singular bins (sources fully overlapping) very slightly
        reg = ata[ok] + np.eye(nsrc) * 1e-12 * diag[ok].max(axis=1)[:, None, None]
        try:
            cov = np.linalg.inv(reg)
        except np.linalg.LinAlgError:
            cov = np.linalg.pinv(reg)
        flux[:, ok] = np.einsum("kij,kj->ik", cov, atb[ok])
        var[:, ok] = np.einsum("kii->ik", cov)
    return flux, var


def _running_median(flux: np.ndarray, width: int) -> np.ndarray:
    """Running median along the last axis (bins without data are ignored)."""
    import warnings

    from numpy.lib.stride_tricks import sliding_window_view

    half = width // 2
    pad = np.pad(np.where(flux == 0, np.nan, flux), ((0, 0), (half, half)),
                 constant_values=np.nan)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(sliding_window_view(pad, width, axis=-1), axis=-1)
    return np.where(np.isfinite(med), med, 0.0)


def horne_solve(
    data: np.ndarray,
    models: list[np.ndarray] | np.ndarray,
    bins: np.ndarray,
    nbins: int,
    *,
    variance: np.ndarray | Callable[[np.ndarray], np.ndarray],
    sigma_clip: float = 5.0,
    max_iter: int = 6,
    used: np.ndarray | None = None,
    smooth: int = 5,
) -> HorneResult:
    """Optimal extraction of one or more sources from binned pixels.

    Parameters
    ----------
    data : ndarray (npix,)
        Background-subtracted pixel values.
    models : ndarray (npix,) or list of them
        Unit-flux model of each source at each pixel (the profile, including negative nod
        images when ``data`` are nod differences). Several sources are solved jointly
        (deblending).
    bins : ndarray of int (npix,)
        Output bin of each pixel.
    nbins : int
        Number of output bins.
    variance : ndarray (npix,) or callable
        Pixel variance, or a function of the current model ``sum_s F_s m_s`` (npix,) that
        returns the model-based variance.
    sigma_clip : float
        Reject pixels with ``|d - model| > sigma_clip * sqrt(V)``; 0 disables.
    max_iter : int
        Maximum number of variance/rejection iterations.
    used : bool ndarray, optional
        Initial pixel selection.
    smooth : int
        The model used for the variance and for outlier rejection takes the running median
        of the fluxes over ``smooth`` bins, so that a bin corrupted by a cosmic ray cannot
        inflate its own variance and escape rejection (1 disables).
    """
    if isinstance(models, np.ndarray) and models.ndim == 1:
        models = [models]
    models = [np.asarray(m, dtype=float) for m in models]
    used = np.ones(data.size, dtype=bool) if used is None else used.copy()
    model_total = np.zeros(data.size)
    var = variance(model_total) if callable(variance) else np.asarray(variance, dtype=float)
    flux = var_f = None
    it = 0
    for it in range(1, max_iter + 1):
        wgt = np.where(used & (var > 0) & np.isfinite(var), 1.0 / np.where(var > 0, var, 1.0), 0.0)
        flux, var_f = _solve_bins(data, wgt, models, bins, nbins)
        ref_flux = _running_median(flux, smooth) if smooth > 1 else flux
        model_total = sum(ref_flux[s][bins] * models[s] for s in range(len(models)))
        new_var = variance(model_total) if callable(variance) else var
        changed = callable(variance) and it == 1
        if sigma_clip > 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                chi = np.abs(data - model_total) / np.sqrt(new_var)
            bad = used & (chi > sigma_clip)
            if np.any(bad):
                # reject only the worst pixel of each bin per iteration (Horne's recipe), so a
                # single cosmic ray does not drag good pixels out with it
                order = np.lexsort((-chi[bad], bins[bad]))
                idx = np.flatnonzero(bad)[order]
                first = np.ones(idx.size, dtype=bool)
                first[1:] = bins[idx][1:] != bins[idx][:-1]
                used[idx[first]] = False
                changed = True
        var = new_var
        if not changed:
            break
    # final solve with the converged variance and selection
    wgt = np.where(used & (var > 0) & np.isfinite(var), 1.0 / np.where(var > 0, var, 1.0), 0.0)
    flux, var_f = _solve_bins(data, wgt, models, bins, nbins)
    return HorneResult(flux=flux, var=var_f, used=used, pixvar=var, n_iter=it)


def _rect_variance(rect: RectifiedSpectrum2D, variance: str) -> np.ndarray:
    if variance == "err":
        return np.where(rect.valid, rect.var, np.nan)
    if variance == "wht":
        wht = np.asarray(rect.wht, dtype=float)
        ok = rect.valid & np.isfinite(wht) & (wht > 0)
        if not np.any(ok):
            raise input_error(rect.meta.get("filename", "s2d"), "WHT has no positive weight")
        # WHT is an inverse-variance up to a constant: scale it to ERR**2 where both exist
        scale = np.nanmedian(rect.var[ok] * wht[ok]) if np.any(np.isfinite(rect.var[ok])) else 1.0
        return np.where(ok, scale / np.where(ok, wht, 1.0), np.nan)
    raise input_error(f"variance '{variance}'", "expected 'err' or 'wht'")


def fit_rectified_profile(
    rect: RectifiedSpectrum2D,
    *,
    kind: str = "gaussian",
    degree: int = 1,
    y0: float | None = None,
) -> TraceProfile:
    """Fit a trace and profile to a rectified 2D spectrum (rows are the cross-dispersion axis).

    ``y0`` (row index) seeds the centre; by default the peak of the collapsed spectrum.
    """
    ny, nx = rect.shape
    rows, cols = np.mgrid[0:ny, 0:nx]
    wave2 = np.broadcast_to(rect.wave, (ny, nx))
    ok = rect.valid & np.isfinite(wave2)
    flat = np.flatnonzero(ok)
    table = PixelTable(
        sci=rect.sci.ravel()[flat],
        var=rect.var.ravel()[flat],
        wave=wave2.ravel()[flat],
        row=rows.ravel()[flat].astype(float),
        col=cols.ravel()[flat].astype(float),
        exp=np.zeros(flat.size, dtype=int),
        bin=cols.ravel()[flat],
        nbins=nx,
        n_exp=1,
        neg_weights=None,
        flat_index=flat,
    )
    if y0 is None:
        centres, _ = initial_centres(table)
    else:
        centres = np.array([float(y0)])
    near = np.abs(table.row - centres[0]) < 8
    return fit_trace_profile(table.subset(near), centres0=centres, kind=kind, degree=degree)


def optimal_extract(
    rect: RectifiedSpectrum2D,
    *,
    profile: np.ndarray | TraceProfile | None = None,
    variance: Literal["err", "wht"] = "err",
    model_variance: bool = True,
    sigma_clip: float = 5.0,
    kind: str = "gaussian",
    y0: float | None = None,
) -> tuple[Spectrum1D, np.ndarray]:
    """Optimal extraction of a rectified 2D spectrum (ours or a JWST s2d).

    Parameters
    ----------
    rect : RectifiedSpectrum2D
        2D spectrum; ``rect.to_fnu`` converts a sum over rows to uJy.
    profile : ndarray (ny, nx) or TraceProfile, optional
        Extraction profile; fitted (Gaussian trace, :func:`fit_rectified_profile`) if None.
        An array is normalised to unit sum in every column.
    variance : {'err', 'wht'}
        Variance from ERR, or from WHT scaled to ERR.
    model_variance : bool
        Replace the pixel variance by a model: the variance of the sky (the column median
        away from the source) plus a Poisson term proportional to the source model, with the
        proportionality measured from the data. Avoids the bias of data-based weights.
    sigma_clip : float
        Outlier rejection threshold.

    Returns
    -------
    spectrum : Spectrum1D
        f_nu in uJy on ``rect.wave``.
    profile2d : ndarray (ny, nx)
        The profile used (unit sum per column).
    """
    ny, nx = rect.shape
    var0 = _rect_variance(rect, variance)
    if isinstance(profile, TraceProfile) or profile is None:
        trace = profile if isinstance(profile, TraceProfile) else fit_rectified_profile(
            rect, kind=kind, y0=y0
        )
        rows = np.arange(ny)[:, None]
        prof = profile_values(
            rows - trace.centre(np.arange(nx), 0)[None, :],
            trace.sigma(rect.wave)[None, :],
            kind=trace.kind,
        )
    else:
        prof = np.asarray(profile, dtype=float)
        if prof.shape != rect.shape:
            raise input_error("profile", f"shape {prof.shape} != 2D spectrum {rect.shape}")
        with np.errstate(invalid="ignore", divide="ignore"):
            prof = prof / np.nansum(prof, axis=0, keepdims=True)
    ok = rect.valid & np.isfinite(var0) & (var0 > 0) & np.isfinite(prof)
    rows, cols = np.mgrid[0:ny, 0:nx]
    flat = np.flatnonzero(ok)
    data = rect.sci.ravel()[flat]
    m = prof.ravel()[flat]
    bins = cols.ravel()[flat]
    v0 = var0.ravel()[flat]
    if model_variance:
        # sky variance: per column, the median variance of pixels where the profile is small
        far = m < 0.02
        vsky = np.full(nx, np.nan)
        if np.any(far):
            for c in np.unique(bins[far]):
                vsky[c] = np.median(v0[far & (bins == c)])
        fill = np.nanmedian(vsky) if np.any(np.isfinite(vsky)) else np.median(v0)
        vsky = np.where(np.isfinite(vsky), vsky, fill)
        # Poisson gain: excess variance per unit signal, from pixels near the trace
        near = m > 0.1
        base = vsky[bins]
        gain = 0.0
        if np.any(near):
            sig = data[near]
            exc = v0[near] - base[near]
            good = sig > 0
            if np.count_nonzero(good) > 10:
                gain = max(float(np.sum(exc[good]) / np.sum(sig[good])), 0.0)

        def varfn(model):
            return base + gain * np.maximum(model, 0.0)

        variance_arg = varfn
    else:
        variance_arg = v0
    res = horne_solve(data, m, bins, nx, variance=variance_arg, sigma_clip=sigma_clip)
    to_fnu = np.broadcast_to(np.asarray(rect.to_fnu, dtype=float), (nx,))
    flux = res.flux[0] * to_fnu
    err = np.sqrt(res.var[0]) * to_fnu
    valid = np.isfinite(flux) & np.isfinite(err) & (err > 0)
    spec = Spectrum1D(
        wave=rect.wave * u.um,
        flux=np.where(valid, flux, np.nan) * FNU_UNIT,
        err=np.where(valid, err, np.nan) * FNU_UNIT,
        valid=valid,
        meta={**rect.meta, "extraction": "optimal"},
    )
    return spec, prof
