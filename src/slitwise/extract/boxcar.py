"""Boxcar extraction in fixed apertures (3, 4 and 5 pixels by default).

The aperture of full width ``w`` centred on the trace takes each pixel with the fraction of
its extent ``[y - 0.5, y + 0.5]`` that falls inside ``[-w/2, +w/2]`` (``y`` measured from the
trace). Two entry points:

* :func:`boxcar_pixels` on the unrectified pixels of several exposures: in every wavelength
  bin the aperture sum is normalised by the fraction of the source profile that the pixels
  present in the bin cover (``sum a P``), which keeps the estimate unbiased however many
  pixels of each exposure fall in the bin, then scaled to the flux inside the aperture
  (``aperture_fraction``). Exposures enter with equal weight, as in a classic boxcar.
* :func:`boxcar_extract` on a rectified 2D spectrum (rows already relative to the trace).
"""

from __future__ import annotations

import numpy as np

__all__ = ["aperture_weights", "aperture_fraction", "boxcar_pixels", "boxcar_extract"]


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


def aperture_fraction(sigma: np.ndarray, width: float) -> np.ndarray:
    """Fraction of a centred Gaussian of ``sigma`` inside a full width ``width``."""
    from scipy.special import erf

    return erf(0.5 * width / (np.sqrt(2.0) * np.asarray(sigma, dtype=float)))


def boxcar_pixels(
    data: np.ndarray,
    var: np.ndarray,
    dy: np.ndarray,
    profile: np.ndarray,
    bins: np.ndarray,
    nbins: int,
    *,
    width: float,
    sigma: np.ndarray | None = None,
    used: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxcar extraction from unrectified pixels.

    Parameters
    ----------
    data, var : ndarray (npix,)
        Pixel values and variances.
    dy : ndarray (npix,)
        Pixel-centre offset from the trace (rows).
    profile : ndarray (npix,)
        Unit-area source profile at each pixel (only its sum over the aperture is used).
    bins : ndarray of int (npix,)
        Output bin of each pixel.
    width : float
        Aperture full width (rows).
    sigma : ndarray (nbins,), optional
        Profile sigma per bin; the result is then the flux inside the aperture
        (``total * aperture_fraction``) instead of the aperture-corrected total.
    used : bool ndarray, optional
        Pixels to include.

    Returns
    -------
    flux, var : ndarray (nbins,)
    """
    a = np.clip(np.minimum(dy + 0.5, 0.5 * width) - np.maximum(dy - 0.5, -0.5 * width), 0, 1)
    if used is not None:
        a = np.where(used, a, 0.0)
    num = np.bincount(bins, a * data, minlength=nbins)
    den = np.bincount(bins, a * profile, minlength=nbins)
    vnum = np.bincount(bins, a * a * var, minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        flux = np.where(den > 0.05, num / den, np.nan)
        fvar = np.where(den > 0.05, vnum / den**2, np.nan)
    if sigma is not None:
        frac = aperture_fraction(sigma, width)
        flux = flux * frac
        fvar = fvar * frac**2
    return flux, fvar
