"""Smooth 2-D background with :class:`photutils.background.Background2D`.

Boxes of ``box_size`` pixels (default 8 x 8) get a sigma-clipped median of their unmasked
pixels; boxes with more than ``exclude_percentile`` percent masked pixels are left out and
filled from their neighbours; the low-resolution map is median-filtered over
``filter_size`` boxes and resized to the frame with ``scipy.ndimage.zoom`` (cubic spline,
photutils' zoom interpolation).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["fit_background2d"]

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
    try:
        bkg = Background2D(
            data,
            box_size,
            mask=bad,
            filter_size=fs,
            sigma_clip=SigmaClip(sigma=sigma, maxiters=maxiters),
            bkg_estimator=MedianBackground(),
            exclude_percentile=exclude_percentile,
        )
        out = np.asarray(bkg.background, dtype=float)
    except ValueError as exc:  # every box excluded: nothing to say about the background
        log.warning("2-D background not estimated (%s); using zero", exc)
        return np.zeros(resid.shape)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
