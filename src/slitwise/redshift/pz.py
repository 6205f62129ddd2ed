"""Redshift probability p(z) and confidence ZCONF, as integrals on a non-uniform grid.

p(z) is proportional to exp(-(chi2(z) - chi2_min) / (2 s)) and normalised so that its integral
over z (trapezoid rule on the actual, non-uniform grid) is one. ``s`` is 1 by default; with
``rescale=True`` the fitter passes s = max(1, chi2_nu) of the best fit, which widens p(z) when
the templates cannot describe the data to within the errors (documented option, recorded in
the products, never applied silently).

ZCONF is the integral of p(z) over ``|z - zbest| <= window`` divided by the integral over the
whole grid. p is taken as piecewise linear between grid points, and the integration limits
cut the intervals exactly (interpolated end values), so the result does not depend on where
the grid points fall.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pz_from_chi2", "integrate_piecewise_linear", "zconf"]


def pz_from_chi2(z: np.ndarray, chi2: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """Normalised p(z) on the (sorted, non-uniform) grid ``z``."""
    z = np.asarray(z, dtype=float)
    c = np.asarray(chi2, dtype=float)
    good = np.isfinite(c)
    p = np.zeros_like(c)
    if not good.any():
        return p
    p[good] = np.exp(-0.5 * (c[good] - c[good].min()) / scale)
    norm = integrate_piecewise_linear(z, p, z[0], z[-1])
    return p / norm if norm > 0 else p


def integrate_piecewise_linear(z: np.ndarray, p: np.ndarray, a: float, b: float) -> float:
    """Exact integral from ``a`` to ``b`` of the piecewise-linear interpolant of ``p(z)``."""
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    if z.size == 1:
        return 0.0
    a = max(a, z[0])
    b = min(b, z[-1])
    if b <= a:
        return 0.0
    inner = (z > a) & (z < b)
    zz = np.concatenate([[a], z[inner], [b]])
    pp = np.concatenate([[np.interp(a, z, p)], p[inner], [np.interp(b, z, p)]])
    return float(np.sum(0.5 * (pp[1:] + pp[:-1]) * np.diff(zz)))


def zconf(z: np.ndarray, pz: np.ndarray, zbest: float, *, window: float = 0.03) -> float:
    """Fraction of the p(z) integral within ``|z - zbest| <= window``."""
    total = integrate_piecewise_linear(z, pz, z[0], z[-1])
    if total <= 0:
        return 0.0
    frac = integrate_piecewise_linear(z, pz, zbest - window, zbest + window) / total
    return float(min(max(frac, 0.0), 1.0))
