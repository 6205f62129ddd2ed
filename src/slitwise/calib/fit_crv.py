"""Slits in a flat field: finding them, tracing both edges, and the global CRV fit.

All images here are in the canonical orientation ``(n_spatial, n_disp)`` (see
:meth:`~slitwise.calib.instrument_file.InstrumentConfig.image_to_canonical`).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from numpy.polynomial import polynomial as P
from scipy import ndimage

from slitwise.calib.models import CurvatureModel, Poly2D

__all__ = ["SlitSpan", "EdgeTrace", "find_slit_spans", "trace_slit_edges", "fit_curvature"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SlitSpan:
    """A slit found in a flat: spatial edges (pixels) at dispersion column ``d``."""

    lo: float
    hi: float
    d: float

    @property
    def centre(self) -> float:
        return 0.5 * (self.lo + self.hi)

    @property
    def length(self) -> float:
        return self.hi - self.lo


@dataclasses.dataclass(frozen=True)
class EdgeTrace:
    """Both edges of one slit traced along dispersion.

    ``d`` are the sampled columns; ``lo``/``hi`` the spatial edge positions (``t = 0`` and
    ``t = 1``), NaN where the edge could not be measured.
    """

    d: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def at(self, d: np.ndarray | float, t: np.ndarray | float) -> np.ndarray:
        """Spatial position of slit fraction ``t`` at columns ``d`` (smooth polynomial fit)."""
        lo = P.polyval(np.asarray(d, float), self._fit(self.lo))
        hi = P.polyval(np.asarray(d, float), self._fit(self.hi))
        return lo + np.asarray(t, float) * (hi - lo)

    def _fit(self, edge: np.ndarray) -> np.ndarray:
        ok = np.isfinite(edge)
        deg = min(3, max(int(ok.sum()) - 1, 0))
        return P.polyfit(self.d[ok], edge[ok], deg)


def _edge_crossings(profile: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel positions where ``profile`` rises above / falls below ``level``."""
    above = profile > level
    rise = np.flatnonzero(~above[:-1] & above[1:])
    fall = np.flatnonzero(above[:-1] & ~above[1:])

    def interp(i):
        a, b = profile[i], profile[i + 1]
        return i + (level - a) / (b - a)

    return interp(rise), interp(fall)


def find_slit_spans(
    flat: np.ndarray, *, band: int = 41, d: float | None = None, min_length: float = 5.0
) -> list[SlitSpan]:
    """Slits crossing dispersion column ``d`` (default the centre), from a flat.

    The spatial profile (median over ``band`` columns) is cut at half the level of the
    illuminated plateau; each rise-fall pair longer than ``min_length`` is a slit.
    """
    ns, nd = flat.shape
    dc = int(round(0.5 * (nd - 1) if d is None else d))
    lo, hi = max(0, dc - band // 2), min(nd, dc + band // 2 + 1)
    profile = np.median(flat[:, lo:hi], axis=1)
    background = np.percentile(profile, 5)
    plateau = np.percentile(profile, 90)
    level = background + 0.5 * (plateau - background)
    rises, falls = _edge_crossings(profile, level)
    spans = []
    for r in rises:
        after = falls[falls > r]
        if after.size and after[0] - r >= min_length:
            spans.append(SlitSpan(float(r), float(after[0]), float(dc)))
    return spans


def trace_slit_edges(
    flat: np.ndarray,
    span: SlitSpan,
    *,
    step: int = 32,
    band: int = 15,
    window: float = 6.0,
) -> EdgeTrace:
    """Follow both edges of a slit along dispersion from a starting span.

    At every ``step`` columns the spatial profile (median of ``band`` columns) near the previous
    edge positions is cut at half the local plateau level; edges are tracked outward from the
    start column in both directions. Where the slit is too faint (beyond the end of the
    spectrum), the edges are NaN.
    """
    ns, nd = flat.shape
    cols = np.arange(band // 2, nd - band // 2, step, dtype=float)
    lo_e = np.full(cols.size, np.nan)
    hi_e = np.full(cols.size, np.nan)
    start = int(np.argmin(np.abs(cols - span.d)))
    smooth = ndimage.uniform_filter1d(flat, band, axis=1, mode="nearest")
    for direction in (1, -1):
        prev = (span.lo, span.hi)
        idx = range(start, cols.size) if direction > 0 else range(start - 1, -1, -1)
        misses = 0
        for i in idx:
            col = smooth[:, int(cols[i])]
            a = int(max(0, np.floor(prev[0] - window)))
            b = int(min(ns, np.ceil(prev[1] + window) + 1))
            seg = col[a:b]
            if seg.size < 5:
                break
            inner = col[int(np.ceil(prev[0] + 2)) : int(np.floor(prev[1] - 2)) + 1]
            if inner.size == 0:
                break
            plateau = np.median(inner)
            bg = min(
                np.min(col[max(0, a - 3) : a + 3]) if a > 0 else seg[0],
                np.min(col[b - 3 : min(ns, b + 3)]) if b < ns else seg[-1],
            )
            if plateau - bg < 10 * np.sqrt(max(plateau, 1.0)) ** 0.5 or plateau <= bg:
                misses += 1
                if misses > 2:
                    break
                continue
            level = bg + 0.5 * (plateau - bg)
            rises, falls = _edge_crossings(seg, level)
            if rises.size == 0 or falls.size == 0:
                misses += 1
                if misses > 2:
                    break
                continue
            r = a + rises[np.argmin(np.abs(a + rises - prev[0]))]
            f = a + falls[np.argmin(np.abs(a + falls - prev[1]))]
            if abs(r - prev[0]) > window or abs(f - prev[1]) > window or f - r < 3:
                misses += 1
                if misses > 2:
                    break
                continue
            misses = 0
            lo_e[i], hi_e[i] = r, f
            prev = (r, f)
    return EdgeTrace(d=cols, lo=lo_e, hi=hi_e)


def fit_curvature(
    points: list[tuple[float, float, np.ndarray, np.ndarray]],
    *,
    order: int = 2,
    degrees: tuple[int, int] = (1, 1),
    delta_scale: float,
    scale: float = 100.0,
    nsigma: float = 4.0,
) -> tuple[CurvatureModel, float]:
    """Global CRV fit.

    Parameters
    ----------
    points : list of (X, Y, delta, dsp)
        For each traced edge: the mask point (mm), offsets along dispersion from the reference
        position, and the measured offsets across dispersion from the position at
        ``delta = 0``.
    order : int
        Highest power of ``delta`` (the local polynomial order).
    degrees : (int, int)
        Degrees in mask X and Y of each global coefficient polynomial.
    delta_scale : float
        Normalisation of ``delta``.

    Returns
    -------
    model : CurvatureModel
    rms : float
        RMS residual (pixels) of the kept points.
    """
    xs, ys, us, zs = [], [], [], []
    for x, y, delta, dsp in points:
        ok = np.isfinite(delta) & np.isfinite(dsp)
        xs.append(np.full(ok.sum(), x))
        ys.append(np.full(ok.sum(), y))
        us.append(np.asarray(delta)[ok] / delta_scale)
        zs.append(np.asarray(dsp)[ok])
    x = np.concatenate(xs) / scale
    y = np.concatenate(ys) / scale
    uu = np.concatenate(us)
    z = np.concatenate(zs)
    dx, dy = degrees
    base = P.polyvander2d(x, y, (dx, dy))
    design = np.concatenate([base * (uu**k)[:, None] for k in range(1, order + 1)], axis=1)
    keep = np.ones(z.size, bool)
    for _ in range(5):
        coef, *_ = np.linalg.lstsq(design[keep], z[keep], rcond=None)
        resid = z - design @ coef
        sigma = 1.4826 * np.median(np.abs(resid[keep]))
        new = np.abs(resid) < max(nsigma * sigma, 0.05)
        if np.array_equal(new, keep):
            break
        keep = new
    n = (dx + 1) * (dy + 1)
    polys = tuple(
        Poly2D(coef[k * n : (k + 1) * n].reshape(dx + 1, dy + 1), scale) for k in range(order)
    )
    rms = float(np.sqrt(np.mean(resid[keep] ** 2)))
    log.info("CRV fit: %d points, %d rejected, rms %.3f px", z.size, int((~keep).sum()), rms)
    return CurvatureModel(polys, float(delta_scale)), rms
