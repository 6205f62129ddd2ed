"""Rescale the read-noise variance to the scatter observed in source-free pixels.

The ramp fit's ``VAR_RNOISE`` knows nothing about correlated (1/f) read noise left after
cleaning, so the pixel-to-pixel scatter of a cleaned frame is usually larger than
``sqrt(VAR_RNOISE + VAR_POISSON)`` predicts. In source-free pixels the normalised residual
``z = r / sqrt(v_rn + v_other)`` should have unit variance; its robust standard deviation
``s`` (1.4826 MAD, insensitive to residual outliers) measures the mismatch. The read-noise
variance is multiplied by the factor ``k`` that makes the mean predicted variance match::

    sum_i (k v_rn,i + v_other,i) / v_i = s**2 N,   v_i = v_rn,i + v_other,i

(the Poisson and flat variances are taken as right). ``k`` is recorded in the product.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from slitwise.detector.stats import robust_std

__all__ = ["VarianceRescale", "measure_variance_rescale"]


@dataclasses.dataclass(frozen=True)
class VarianceRescale:
    """Result of :func:`measure_variance_rescale`.

    Attributes
    ----------
    read_noise_factor : float
        Multiply VAR_RNOISE by this (1.0 when not measured).
    scatter_ratio : float
        Robust standard deviation of ``r / err`` in source-free pixels before rescaling.
    n_pixels : int
        Pixels used.
    """

    read_noise_factor: float = 1.0
    scatter_ratio: float = float("nan")
    n_pixels: int = 0


def measure_variance_rescale(
    resid: np.ndarray,
    var_rnoise: np.ndarray,
    var_other: np.ndarray | None,
    mask: np.ndarray,
    *,
    min_pixels: int = 1000,
    bounds: tuple[float, float] = (0.01, 100.0),
    stride: int = 2,
) -> VarianceRescale:
    """Measure the read-noise variance factor from a cleaned frame.

    Parameters
    ----------
    resid : ndarray
        Cleaned frame (source-free pixels should be pure noise).
    var_rnoise : ndarray
        Read-noise variance (or the total variance ``ERR**2`` when no split is known).
    var_other : ndarray or None
        Sum of the other variance components (Poisson, flat), kept as they are.
    mask : ndarray of bool
        True for pixels that are not source-free or not usable.
    min_pixels : int
        Fewer usable pixels give the factor 1 (not measured).
    bounds : tuple of float
        The factor is clipped to this range.
    stride : int
        Use every ``stride``-th pixel in each direction (speed; millions of pixels remain).

    Returns
    -------
    VarianceRescale
    """
    sub = (slice(None, None, stride), slice(None, None, stride))
    resid, var_rnoise, mask = resid[sub], var_rnoise[sub], mask[sub]
    v_o = np.zeros(resid.shape) if var_other is None else var_other[sub]
    v_t = var_rnoise + v_o
    ok = ~mask & np.isfinite(resid) & np.isfinite(v_t) & (v_t > 0) & np.isfinite(var_rnoise)
    n = int(ok.sum())
    if n < min_pixels:
        return VarianceRescale(n_pixels=n)
    z = resid[ok] / np.sqrt(v_t[ok])
    s = robust_std(z)
    q = var_rnoise[ok] / v_t[ok]
    sum_q = float(q.sum())
    if sum_q <= 1e-6 * n:  # Poisson-dominated: the read noise cannot be measured
        return VarianceRescale(scatter_ratio=s, n_pixels=n)
    k = (s**2 * n - (n - sum_q)) / sum_q
    return VarianceRescale(
        read_noise_factor=float(np.clip(k, *bounds)), scatter_ratio=float(s), n_pixels=n
    )
