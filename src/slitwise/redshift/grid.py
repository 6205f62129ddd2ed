"""Redshift grids: velocity-spaced coarse grids and fine grids around the best minima.

A grid spaced by a constant velocity ``dv`` has ``ln(1+z)`` uniform with step ``dv / c``.
Default spacings (issue "template redshift fitting"): coarse 500 km/s for PRISM, 100 km/s for
M gratings, 30 km/s for H gratings; fine 30 / 10 / 5 km/s within +-3000 km/s of each of the
best few *distinct* coarse minima. Other instruments use a coarse step of about a third of
the LSF FWHM (c / R / 2, clipped to 10-500 km/s) and a fine step a quarter of that; the
screening stage of :func:`~slitwise.redshift.zfit.zfit` (a 5x finer grid around the best
coarse local minima) makes the coarse step safe.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "C_KMS",
    "velocity_grid",
    "default_spacing",
    "find_minima",
    "refine_windows",
    "merge_grids",
]

C_KMS = 299792.458

_SPACING = {"PRISM": (500.0, 30.0), "M": (100.0, 10.0), "H": (30.0, 5.0)}


def velocity_grid(zmin: float, zmax: float, dv_kms: float) -> np.ndarray:
    """Redshifts from ``zmin`` to ``zmax`` (both included) spaced by ``dv_kms`` in velocity."""
    if not zmax > zmin:
        raise ValueError(f"zmax ({zmax}) must exceed zmin ({zmin})")
    if zmin <= -1:
        raise ValueError("zmin must be > -1")
    step = dv_kms / C_KMS
    span = np.log1p(zmax) - np.log1p(zmin)
    n = max(int(np.ceil(span / step)), 1)
    return np.expm1(np.log1p(zmin) + np.linspace(0.0, span, n + 1))


def default_spacing(grating: str | None, resolving_power: float) -> tuple[float, float]:
    """(coarse, fine) velocity steps in km/s for a disperser name or a median R."""
    if grating:
        g = grating.upper()
        if g.startswith("PRISM"):
            return _SPACING["PRISM"]
        if g.startswith("G") and len(g) >= 5 and g[4] in "MH":
            return _SPACING[g[4]]
    coarse = float(np.clip(C_KMS / resolving_power / 2.0, 10.0, 500.0))
    return coarse, float(np.clip(coarse / 4.0, 2.0, 30.0))


def find_minima(
    z: np.ndarray, chi2: np.ndarray, *, nmax: int = 5, separation_kms: float = 3000.0
) -> np.ndarray:
    """Indices of up to ``nmax`` distinct local minima of ``chi2``, best first.

    Minima closer than ``separation_kms`` to a better one are dropped. Grid ends count as
    minima when lower than their neighbour.
    """
    c = np.where(np.isfinite(chi2), chi2, np.inf)
    n = c.size
    if n == 0 or nmax <= 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    left = np.concatenate([[np.inf], c[:-1]])
    right = np.concatenate([c[1:], [np.inf]])
    cand = np.flatnonzero((c <= left) & (c <= right) & np.isfinite(c))
    cand = cand[np.argsort(c[cand], kind="stable")]
    lnz = np.log1p(z)
    sep = separation_kms / C_KMS
    chosen: list[int] = []
    for i in cand:
        if all(abs(lnz[i] - lnz[j]) > sep for j in chosen):
            chosen.append(int(i))
            if len(chosen) >= nmax:
                break
    return np.asarray(chosen, dtype=int)


def refine_windows(
    centers: np.ndarray,
    *,
    dv_kms: float,
    half_width_kms: float = 3000.0,
    zmin: float,
    zmax: float,
) -> np.ndarray:
    """Union of fine velocity grids of +-``half_width_kms`` around each centre, within range."""
    n = int(np.ceil(half_width_kms / dv_kms))
    offs = np.arange(-n, n + 1) * (dv_kms / C_KMS)
    parts = [np.expm1(np.log1p(c) + offs) for c in np.atleast_1d(centers)]
    if not parts:
        return np.zeros(0)
    z = np.unique(np.concatenate(parts))
    return z[(z >= zmin) & (z <= zmax)]


def merge_grids(
    z_coarse: np.ndarray, chi2_coarse: np.ndarray, z_fine: np.ndarray, chi2_fine: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One sorted non-uniform grid: fine points, plus coarse points outside the fine windows.

    A coarse point is dropped when it falls between two fine points closer than 2 coarse
    steps apart (i.e. inside a refined window).
    """
    if z_fine.size == 0:
        return z_coarse.copy(), chi2_coarse.copy()
    order = np.argsort(z_fine)
    zf, cf = z_fine[order], chi2_fine[order]
    lnf = np.log1p(zf)
    dcoarse = np.median(np.diff(np.log1p(z_coarse))) if z_coarse.size > 1 else np.inf
    lnc = np.log1p(z_coarse)
    pos = np.searchsorted(lnf, lnc)
    inside = np.zeros(z_coarse.size, dtype=bool)
    ok = (pos > 0) & (pos < lnf.size)
    gap = np.full(z_coarse.size, np.inf)
    gap[ok] = lnf[pos[ok]] - lnf[pos[ok] - 1]
    inside[ok] = gap[ok] < 2.0 * dcoarse
    z = np.concatenate([zf, z_coarse[~inside]])
    c = np.concatenate([cf, chi2_coarse[~inside]])
    order = np.argsort(z, kind="stable")
    z, c = z[order], c[order]
    keep = np.concatenate([[True], np.diff(z) > 0])
    return z[keep], c[keep]
