"""Boxcar extraction in fixed apertures (3, 4 and 5 pixels by default) on a rectified grid.

The aperture of full width ``w`` centred on ``centre`` takes each row with the fraction of
its extent ``[y - 0.5, y + 0.5]`` that falls inside ``[centre - w/2, centre + w/2]``. Missing
pixels inside the aperture are accounted for with the profile (when given): the sum over the
valid pixels is divided by the fraction of the profile they hold, so the estimate stays
unbiased.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aperture_weights", "boxcar_extract"]


def aperture_weights(y: np.ndarray, centre: float | np.ndarray, width: float) -> np.ndarray:
    """Fraction of each row (coordinate ``y``, unit spacing) inside the aperture.

    ``centre`` may be a scalar or an array of shape (nx,), giving weights of shape (ny, nx).
    """
    y = np.asarray(y, dtype=float)
    c = np.asarray(centre, dtype=float)
    lo = np.maximum(y[:, None] - 0.5, c - 0.5 * width) if c.ndim else np.maximum(
        y - 0.5, c - 0.5 * width
    )
    hi = np.minimum(y[:, None] + 0.5, c + 0.5 * width) if c.ndim else np.minimum(
        y + 0.5, c + 0.5 * width
    )
    return np.clip(hi - lo, 0.0, 1.0)


def boxcar_extract(
    sci: np.ndarray,
    var: np.ndarray,
    y: np.ndarray,
    *,
    width: float,
    centre: float | np.ndarray = 0.0,
    profile: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``sci`` over an aperture of ``width`` rows.

    Parameters
    ----------
    sci, var : ndarray (ny, nx)
        Rectified data and variance (NaN where missing).
    y : ndarray (ny,)
        Cross-dispersion coordinate of each row.
    width : float
        Full aperture width in rows.
    centre : float or ndarray (nx,)
        Aperture centre in the ``y`` coordinate.
    profile : ndarray (ny, nx), optional
        Unit-sum source profile; used to correct for missing pixels in the aperture.

    Returns
    -------
    flux, var : ndarray (nx,)
        Aperture sum and its variance (NaN where the aperture holds no valid pixel).
    """
    ny, nx = sci.shape
    w = aperture_weights(y, centre, width)
    if w.ndim == 1:
        w = np.broadcast_to(w[:, None], (ny, nx))
    ok = np.isfinite(sci) & np.isfinite(var) & (var > 0)
    wv = np.where(ok, w, 0.0)
    flux = np.sum(wv * np.where(ok, sci, 0.0), axis=0)
    fvar = np.sum(wv**2 * np.where(ok, var, 0.0), axis=0)
    if profile is not None:
        p = np.where(np.isfinite(profile), profile, 0.0)
        full = np.sum(w * p, axis=0)
        have = np.sum(wv * p, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.where(have > 0.2 * full, full / have, np.nan)
        flux = flux * corr
        fvar = fvar * corr**2
    empty = np.sum(wv, axis=0) == 0
    flux = np.where(empty, np.nan, flux)
    fvar = np.where(empty, np.nan, fvar)
    return flux, fvar
