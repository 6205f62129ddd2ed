"""Snowballs and cosmic-ray residuals: large clustered positive outliers, flagged in DQ.

Pixels more than ``nsigma`` above the cleaned background seed a cluster; the cluster grows
over its 8-connected neighbours above ``grow_nsigma`` (hysteresis, so a snowball's halo is
included). Clusters of at least ``min_pixels`` pixels are flagged and dilated by ``grow``
pixels. Isolated single hot pixels are left to the DQ they already have, and nothing is
detected inside the trace mask: a compact bright spot there may be an emission line, which
this stage cannot tell from a cosmic ray (the flagged halo of a snowball that overlaps a trace
still reaches ``grow`` pixels into it).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["flag_clustered_outliers"]

_EIGHT = np.ones((3, 3), dtype=bool)


def flag_clustered_outliers(
    resid: np.ndarray,
    sigma: np.ndarray,
    mask: np.ndarray,
    *,
    nsigma: float = 5.0,
    grow_nsigma: float = 3.0,
    min_pixels: int = 3,
    grow: int = 2,
) -> np.ndarray:
    """Boolean map of clustered outliers (True = flag).

    Parameters
    ----------
    resid : ndarray
        Cleaned frame (background removed).
    sigma : ndarray
        Per-pixel 1-sigma noise.
    mask : ndarray of bool
        Pixels not searched (traces, pixels already flagged DO_NOT_USE).
    nsigma : float
        Seed threshold.
    grow_nsigma : float
        Threshold for the pixels a cluster grows over.
    min_pixels : int
        Smallest cluster flagged.
    grow : int
        Dilation (pixels) of flagged clusters.

    Returns
    -------
    ndarray of bool
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        z = resid / sigma
    z = np.where(mask | ~np.isfinite(z), 0.0, z)
    halo = z > grow_nsigma
    if not halo.any():
        return np.zeros(resid.shape, dtype=bool)
    labels, n = ndimage.label(halo, structure=_EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    seeded = np.zeros(n + 1, dtype=bool)
    seeded[labels[z > nsigma]] = True
    keep = seeded & (sizes >= min_pixels)
    keep[0] = False
    if not keep.any():
        return np.zeros(resid.shape, dtype=bool)
    flagged = keep[labels]
    if grow > 0:
        flagged = ndimage.binary_dilation(flagged, structure=_EIGHT, iterations=grow)
    return flagged
