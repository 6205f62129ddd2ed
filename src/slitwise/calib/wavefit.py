"""Robust polynomial wavelength solutions: pixel -> wavelength with iterative rejection.

A solution is a Legendre series in the normalised pixel ``x = 2 p / (npix - 1) - 1`` (so the
coefficients are well conditioned for any detector size). Fits reject lines iteratively:
residuals beyond ``nsigma`` times a robust scatter (and beyond an absolute floor) are dropped,
one worst line at a time, then the fit is redone with the survivors.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.polynomial import legendre

__all__ = [
    "PolyFit",
    "fit_polynomial",
    "robust_polyfit",
    "choose_order",
    "adaptive_order",
    "loo_residuals",
]


@dataclasses.dataclass(frozen=True)
class PolyFit:
    """A Legendre fit ``y(p)`` over pixels ``0..npix-1``.

    Attributes
    ----------
    coeffs : ndarray
        Legendre coefficients in the normalised pixel.
    npix : int
        Number of pixels of the detector axis (sets the normalisation).
    """

    coeffs: np.ndarray
    npix: int

    @property
    def order(self) -> int:
        """Polynomial order."""
        return int(self.coeffs.size - 1)

    def normalise(self, pixel: np.ndarray | float) -> np.ndarray:
        """Pixel -> normalised coordinate in [-1, 1] over the detector."""
        return 2.0 * np.asarray(pixel, dtype=float) / max(self.npix - 1, 1) - 1.0

    def __call__(self, pixel: np.ndarray | float) -> np.ndarray:
        return legendre.legval(self.normalise(pixel), self.coeffs)

    def derivative(self, pixel: np.ndarray | float) -> np.ndarray:
        """dy/dpixel."""
        dcoef = legendre.legder(self.coeffs)
        return legendre.legval(self.normalise(pixel), dcoef) * 2.0 / max(self.npix - 1, 1)


def fit_polynomial(
    pixel: np.ndarray,
    value: np.ndarray,
    order: int,
    npix: int,
    *,
    weights: np.ndarray | None = None,
) -> PolyFit:
    """Least-squares Legendre fit of ``value(pixel)`` (no rejection)."""
    x = 2.0 * np.asarray(pixel, float) / max(npix - 1, 1) - 1.0
    y = np.asarray(value, float)
    order = int(min(order, max(x.size - 1, 0)))
    vander = legendre.legvander(x, order)
    if weights is not None:
        w = np.asarray(weights, float)
        vander, y = vander * w[:, None], y * w
    norm = np.sqrt(np.sum(vander**2, axis=0))
    norm[norm == 0] = 1.0
    coeffs, *_ = np.linalg.lstsq(vander / norm, y, rcond=None)
    return PolyFit(coeffs=coeffs / norm, npix=int(npix))


def robust_polyfit(
    pixel: np.ndarray,
    value: np.ndarray,
    order: int,
    npix: int,
    *,
    scale: np.ndarray | float = 1.0,
    nsigma: float = 3.0,
    floor: float = 0.1,
    max_reject: float = 0.3,
) -> tuple[PolyFit, np.ndarray]:
    """Legendre fit with iterative rejection of outliers.

    Each iteration rejects the points beyond the threshold whose residuals exceed half the
    largest one (the worst first, so that one gross outlier does not drag good points out),
    then refits; it stops when no point exceeds the threshold.

    Parameters
    ----------
    pixel, value : ndarray
        Data points.
    order : int
        Polynomial order (lowered when there are too few points).
    npix : int
        Detector length used for normalisation.
    scale : ndarray or float
        Converts residuals in ``value`` units into the units where ``floor`` applies (e.g. one
        over the local dispersion, to reject in pixels).
    nsigma : float
        Rejection threshold in robust standard deviations (1.4826 MAD).
    floor : float
        Residuals (in scaled units) below this are never rejected.
    max_reject : float
        Maximum fraction of points that may be rejected.

    Returns
    -------
    fit : PolyFit
    used : ndarray of bool
        Points kept in the final fit.
    """
    pixel = np.asarray(pixel, float)
    value = np.asarray(value, float)
    scale = np.broadcast_to(np.asarray(scale, float), pixel.shape)
    used = np.ones(pixel.size, bool)
    max_out = int(max_reject * pixel.size)
    fit = fit_polynomial(pixel, value, order, npix)
    for _ in range(10):
        resid = np.abs((value - fit(pixel)) * scale)
        r_used = resid[used]
        sigma = 1.4826 * np.median(r_used) if r_used.size else 0.0
        limit = max(nsigma * sigma, floor)
        bad = used & (resid > limit)
        room = max_out - int((~used).sum())
        if not bad.any() or room <= 0 or used.sum() <= order + 2:
            break
        worst = resid[bad].max()
        bad &= resid > 0.5 * worst
        idx = np.flatnonzero(bad)
        idx = idx[np.argsort(resid[idx])[::-1][:room]]
        used[idx] = False
        fit = fit_polynomial(pixel[used], value[used], order, npix)
    return fit, used


def choose_order(span_fraction: float, n_points: int, *, max_order: int = 5) -> int:
    """Polynomial order allowed by the coverage and the number of lines.

    A short run of lines only constrains a low order: extrapolating a high order beyond the
    lines is what produces confidently wrong solutions.
    """
    if span_fraction < 0.15:
        order = 1
    elif span_fraction < 0.35:
        order = 2
    elif span_fraction < 0.6:
        order = 3
    else:
        order = max_order
    return int(max(1, min(order, max_order, (n_points - 2) // 2)))


def adaptive_order(
    pixel: np.ndarray,
    value: np.ndarray,
    npix: int,
    *,
    scale: float | np.ndarray = 1.0,
    max_order: int = 5,
    target: float = 0.1,
) -> int:
    """Order for a fit: the coverage-based :func:`choose_order`, raised while it helps.

    The order is increased by one while the residual scatter (in ``scale`` units) exceeds
    ``target`` and drops by at least 30 %, and while there are at least four more points than
    coefficients. Strongly curved dispersion relations thus get the order they need even over a
    short stretch, while well-fitted ones keep the conservative order.
    """
    pixel = np.asarray(pixel, float)
    value = np.asarray(value, float)
    span = (pixel.max() - pixel.min()) / npix if pixel.size else 0.0
    order = choose_order(span, pixel.size, max_order=max_order)
    rms = _rms(fit_polynomial(pixel, value, order, npix), pixel, value, scale)
    while order < max_order and pixel.size >= order + 5 and rms > target:
        trial = _rms(fit_polynomial(pixel, value, order + 1, npix), pixel, value, scale)
        if trial > 0.7 * rms:
            break
        order, rms = order + 1, trial
    return order


def _rms(fit: PolyFit, pixel: np.ndarray, value: np.ndarray, scale) -> float:
    return float(np.sqrt(np.mean(((value - fit(pixel)) * scale) ** 2)))


def loo_residuals(pixel: np.ndarray, value: np.ndarray, order: int, npix: int) -> np.ndarray:
    """Leave-one-out residuals ``value_i - fit_without_i(pixel_i)`` of a Legendre fit.

    Computed from the hat matrix (``r_i / (1 - h_ii)``), so a wrong line at the end of the
    range, which a polynomial bends to absorb (high leverage ``h_ii``), shows a large residual.
    """
    pixel = np.asarray(pixel, float)
    value = np.asarray(value, float)
    order = int(min(order, max(pixel.size - 2, 0)))
    x = 2.0 * pixel / max(npix - 1, 1) - 1.0
    vander = legendre.legvander(x, order)
    coef, *_ = np.linalg.lstsq(vander, value, rcond=None)
    resid = value - vander @ coef
    gram_inv = np.linalg.pinv(vander.T @ vander)
    hat = np.einsum("ij,jk,ik->i", vander, gram_inv, vander)
    return resid / np.clip(1.0 - hat, 1e-3, None)
