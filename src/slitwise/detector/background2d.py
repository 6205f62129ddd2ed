"""Smooth 2-D background with :class:`photutils.background.Background2D`.

Boxes of ``box_size`` pixels (default 8 x 8) get a sigma-clipped median of their unmasked
pixels; boxes with more than ``exclude_percentile`` percent masked pixels are left out and
filled from their neighbours; the low-resolution map is median-filtered over
``filter_size`` boxes and resized to the frame with ``scipy.ndimage.zoom`` (cubic spline,
photutils' zoom interpolation).

Speed: photutils filters the box map with a per-element ``generic_filter`` and zooms with a
2-D spline; here Background2D supplies the sigma-clipped box map (with excluded boxes filled
by photutils), which is median-filtered over ``filter_size`` boxes (NaN-padded edges, as
photutils does) in one vectorised call and resized
with the same cubic-spline zoom (``order=3, mode='reflect', grid_mode=True``, clipped to the
map's range) applied as two small matrices, one per axis. The result equals
``Background2D(..., filter_size=filter_size).background`` to rounding (tested) at about a
third of the cost.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
from scipy import ndimage

from slitwise.detector.stats import nanmedian

__all__ = ["fit_background2d", "zoom_mesh"]

log = logging.getLogger(__name__)


def fit_background2d(
    resid: np.ndarray,
    mask: np.ndarray,
    *,
    box_size: int | tuple[int, int] = 8,
    filter_size: int | tuple[int, int] = 3,
    sigma: float = 3.0,
    maxiters: int = 5,
    exclude_percentile: float = 50.0,
) -> np.ndarray:
    """Smooth background of ``resid`` ignoring ``mask`` (True = do not use).

    Parameters
    ----------
    resid : ndarray
        Frame minus the other components; non-finite pixels are masked.
    mask : ndarray of bool
        Traces, bad pixels and outliers.
    box_size : int or (int, int)
        Box size in pixels (``(ny, nx)`` when two numbers).
    filter_size : int or (int, int)
        Median filter applied to the box map (in boxes).
    sigma, maxiters : float, int
        Sigma clipping inside each box.
    exclude_percentile : float
        Boxes with more than this percentage of masked pixels are excluded.

    Returns
    -------
    ndarray
        The background, same shape, finite everywhere (zeros when every box is excluded).
    """
    from astropy.stats import SigmaClip
    from photutils.background import Background2D, MedianBackground

    bad = mask | ~np.isfinite(resid)
    if bad.all():
        return np.zeros(resid.shape)
    data = np.where(bad, 0.0, resid)
    fs = (filter_size, filter_size) if np.ndim(filter_size) == 0 else tuple(filter_size)
    bs = (box_size, box_size) if np.ndim(box_size) == 0 else tuple(box_size)
    try:
        bkg = Background2D(
            data,
            bs,
            mask=bad,
            filter_size=(1, 1),
            sigma_clip=SigmaClip(sigma=sigma, maxiters=maxiters),
            bkg_estimator=MedianBackground(),
            exclude_percentile=exclude_percentile,
        )
        mesh = np.asarray(bkg.background_mesh, dtype=float)
    except ValueError as exc:  # every box excluded: nothing to say about the background
        log.warning("2-D background not estimated (%s); using zero", exc)
        return np.zeros(resid.shape)
    mesh = np.nan_to_num(mesh, nan=float(np.nanmedian(mesh)) if np.isfinite(mesh).any() else 0.0)
    if fs != (1, 1) and mesh.size > 1:
        mesh = _nan_median_filter(mesh, fs)
    return zoom_mesh(mesh, bs, resid.shape)


def _nan_median_filter(mesh: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Median over ``size`` windows, edges padded with NaN and ignored (photutils' filter)."""
    fy, fx = (int(v) for v in size)
    py, px = fy // 2, fx // 2
    padded = np.pad(mesh, ((py, fy - 1 - py), (px, fx - 1 - px)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (fy, fx))
    return nanmedian(windows.reshape(*mesh.shape, fy * fx), axis=-1)


@functools.lru_cache(maxsize=16)
def _zoom_operator(n: int, factor: int) -> np.ndarray:
    """``(n * factor, n)`` matrix of the 1-D cubic-spline zoom (scipy, reflect, grid mode)."""
    return ndimage.zoom(np.eye(n), (factor, 1), order=3, mode="reflect", grid_mode=True)


def zoom_mesh(mesh: np.ndarray, box_size: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Resize a box map to ``shape`` like photutils' zoom interpolator (cubic, clipped).

    Equivalent to ``scipy.ndimage.zoom(mesh, box_size, order=3, mode='reflect',
    grid_mode=True)`` cropped to ``shape`` and clipped to the map's range; computed as
    ``Wy @ mesh @ Wx.T`` since the tensor-product spline is separable.
    """
    lo, hi = float(mesh.min()), float(mesh.max())
    if hi == lo:
        return np.full(shape, lo)
    wy = _zoom_operator(mesh.shape[0], int(box_size[0]))[: shape[0]]
    wx = _zoom_operator(mesh.shape[1], int(box_size[1]))[: shape[1]]
    out = wy @ mesh @ wx.T
    return np.clip(out, lo, hi, out=out)
