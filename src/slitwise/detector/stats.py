"""Robust statistics on arrays with NaNs, fast when ``bottleneck`` is installed."""

from __future__ import annotations

import numpy as np

__all__ = ["nanmedian", "robust_std"]

try:  # bottleneck's nanmedian is ~3x faster than numpy's on (2048, 2048) frames
    import bottleneck as _bn
except ImportError:  # pragma: no cover - optional
    _bn = None


def nanmedian(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Median ignoring NaNs; all-NaN slices give NaN without a warning."""
    a = np.asarray(a, dtype=float)
    if _bn is not None:
        return _bn.nanmedian(a, axis=axis)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(a, axis=axis)


def robust_std(x: np.ndarray) -> float:
    """1.4826 times the median absolute deviation of the finite values (NaN if none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    med = np.median(x)
    return float(1.4826 * np.median(np.abs(x - med)))
