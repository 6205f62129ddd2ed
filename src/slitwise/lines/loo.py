"""Leave-one-out cross-validation of a fit by Pareto-smoothed importance sampling (PSIS-LOO).

Following Vehtari, Gelman & Gabry (2017, Statistics and Computing 27, 1413) and Vehtari et
al. (2024, JMLR 25, 72): for every pixel the posterior draws are reweighted by
``1 / p(y_i | theta_s)`` to approximate the posterior without that pixel; the largest weights
are replaced by quantiles of a generalized Pareto distribution fitted to them (the estimator
of Zhang & Stephens 2009, with the weakly informative prior on the shape of the PSIS paper),
and no smoothed weight exceeds the largest raw one. The fitted shape ``k`` tells whether the
estimate can be trusted: above 0.7 the pixel is too influential for importance sampling.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

__all__ = ["gpd_fit", "psis_smooth", "psis_loo", "K_THRESHOLD"]

#: Pareto shape above which a pixel's LOO estimate is unreliable.
K_THRESHOLD = 0.7


def gpd_fit(x: np.ndarray) -> tuple:
    """Shape ``k`` and scale ``sigma`` of a generalized Pareto distribution fitted to the
    positive exceedances ``x`` (Zhang & Stephens 2009), the shape shrunk towards 0.5 with
    the weight of 10 pseudo-observations. ``x`` of shape (n,) gives floats; (n, m) fits each
    column and gives arrays."""
    x = np.sort(np.asarray(x, float), axis=0)
    one = x.ndim == 1
    x = x.reshape(x.shape[0], -1)
    n = x.shape[0]
    quartile = x[int(n / 4 + 0.5) - 1]
    m = 30 + int(np.sqrt(n))
    j = np.arange(1, m + 1)[:, None]
    theta = 1.0 / x[-1] + (1.0 - np.sqrt(m / (j - 0.5))) / (3.0 * quartile)  # (m, cols)
    k = np.mean(np.log1p(-theta[:, None, :] * x[None, :, :]), axis=1)
    profile = n * (np.log(-theta / k) - k - 1.0)
    weights = np.exp(profile - logsumexp(profile, axis=0))
    theta_hat = np.sum(weights * theta, axis=0)
    k_hat = np.mean(np.log1p(-theta_hat * x), axis=0)
    sigma = -k_hat / theta_hat
    k_hat = (n * k_hat + 10 * 0.5) / (n + 10)
    return (float(k_hat[0]), float(sigma[0])) if one else (k_hat, sigma)


def psis_smooth(log_ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed, normalised log importance weights and the Pareto shape ``k``.

    Parameters
    ----------
    log_ratios : ndarray (n_draws, n_pixels)
        Log importance ratios (for LOO: minus each pixel's log-likelihood at each draw).

    Returns
    -------
    (ndarray (n_draws, n_pixels), ndarray (n_pixels,))
        Log weights (each column sums to 1 in linear space) and ``k`` per column (inf where
        no tail could be fitted; the raw weights are then kept).
    """
    lw = np.asarray(log_ratios, float)
    lw = lw - np.max(lw, axis=0)
    s, n = lw.shape
    tail = int(np.ceil(min(0.2 * s, 3.0 * np.sqrt(s))))
    khat = np.full(n, np.inf)
    if tail >= 5:
        order = np.argsort(lw, axis=0)
        big = order[-tail:]  # (tail, n), ascending
        cutoff = np.take_along_axis(lw, order[-tail - 1][None, :], axis=0)[0]
        excess = np.exp(np.take_along_axis(lw, big, axis=0)) - np.exp(cutoff)
        ok = np.all(excess > 0, axis=0) & (np.ptp(excess, axis=0) > 0)
        if ok.any():
            k, sigma = gpd_fit(excess[:, ok])
            q = ((np.arange(1, tail + 1) - 0.5) / tail)[:, None]
            small = np.abs(k) < 1e-12
            safe_k = np.where(small, 1.0, k)
            values = np.where(small, -sigma * np.log1p(-q),
                              sigma / safe_k * np.expm1(-safe_k * np.log1p(-q)))  # fmt: skip
            cols = np.flatnonzero(ok)
            smoothed = np.minimum(np.log(values + np.exp(cutoff[ok])), 0.0)
            lw[big[:, ok], cols[None, :]] = smoothed
            khat[ok] = k
    return lw - logsumexp(lw, axis=0), khat


def psis_loo(loglik: np.ndarray) -> dict:
    """PSIS-LOO of a fit from the pointwise log-likelihood of its posterior draws.

    Parameters
    ----------
    loglik : ndarray (n_draws, n_pixels)
        ``log p(y_i | theta_s)``.

    Returns
    -------
    dict
        ``elpd_loo`` (expected log pointwise predictive density), ``p_loo`` (effective number
        of parameters: lppd - elpd_loo), ``looic`` (-2 elpd_loo), ``elpd_loo_se`` (its
        standard error), ``khat_max`` and ``n_khat_high`` (pixels with k > 0.7, whose LOO
        estimate is unreliable), and ``elpd_loo_i`` per pixel.
    """
    loglik = np.asarray(loglik, float)
    n_draws, n = loglik.shape
    lw, khat = psis_smooth(-loglik)
    elpd_i = logsumexp(lw + loglik, axis=0)
    lppd = float(np.sum(logsumexp(loglik, axis=0) - np.log(n_draws)))
    elpd = float(np.sum(elpd_i))
    return dict(
        elpd_loo=elpd, p_loo=lppd - elpd, looic=-2.0 * elpd,
        elpd_loo_se=float(np.sqrt(n * np.var(elpd_i))),
        khat_max=float(np.max(khat)) if n else np.nan,
        n_khat_high=int(np.sum(khat > K_THRESHOLD)), elpd_loo_i=elpd_i,
    )
