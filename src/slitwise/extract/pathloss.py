"""Path loss: the fraction of a source's light that passes an MSA shutter.

The source image at the MSA is the telescope PSF (approximated by a Gaussian whose width
follows diffraction, :func:`slitwise.extract.profile.psf_sigma_pixels`) convolved with the
intrinsic source (Gaussian of sigma ``source_sigma``). The fraction inside the open area of a
shutter (0.20" wide along the dispersion, 0.46" along the slit) for a source at intra-shutter
position (SRCXPOS, SRCYPOS; shutter units, -0.5..0.5) is a product of two error-function
differences. :func:`pathloss_correction` is the factor that turns the flux through the shutter
into total flux, either absolute or relative to a centred point source (for data whose
photometric calibration already includes the losses of a centred point source).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import erf

from slitwise.extract.profile import NIRSPEC_PIXEL_ARCSEC, psf_sigma_pixels

__all__ = [
    "SHUTTER_WIDTH_ARCSEC",
    "SHUTTER_HEIGHT_ARCSEC",
    "shutter_fraction",
    "pathloss_correction",
]

#: Open area of one NIRSpec MSA shutter (arcsec): along the dispersion (x) and the slit (y).
SHUTTER_WIDTH_ARCSEC = 0.20
SHUTTER_HEIGHT_ARCSEC = 0.46


def _inside(centre: float, sigma: np.ndarray, half: float) -> np.ndarray:
    s = np.sqrt(2.0) * np.maximum(sigma, 1e-6)
    return 0.5 * (erf((half - centre) / s) + erf((half + centre) / s))


def shutter_fraction(
    wave_um: np.ndarray,
    *,
    xpos: float = 0.0,
    ypos: float = 0.0,
    source_sigma_arcsec: float = 0.0,
    psf_scale: float = 1.0,
    include_y: bool = True,
) -> np.ndarray:
    """Fraction of the light of a Gaussian source inside the shutter at each wavelength.

    Parameters
    ----------
    wave_um : ndarray
        Wavelengths (um).
    xpos, ypos : float
        Intra-shutter source position in shutter units (JWST SRCXPOS, SRCYPOS).
    source_sigma_arcsec : float
        Intrinsic Gaussian sigma of the source.
    psf_scale : float
        Multiplier of the PSF width (as fitted in the profile).
    include_y : bool
        Include the losses along the slit (bars between shutters); off when the extraction
        profile already spans the neighbouring shutters.
    """
    psf = psf_scale * psf_sigma_pixels(wave_um) * NIRSPEC_PIXEL_ARCSEC
    sig = np.hypot(psf, source_sigma_arcsec)
    frac = _inside(xpos * SHUTTER_WIDTH_ARCSEC, sig, 0.5 * SHUTTER_WIDTH_ARCSEC)
    if include_y:
        frac = frac * _inside(ypos * SHUTTER_HEIGHT_ARCSEC, sig, 0.5 * SHUTTER_HEIGHT_ARCSEC)
    return frac


def pathloss_correction(
    wave_um: np.ndarray,
    *,
    xpos: float = 0.0,
    ypos: float = 0.0,
    source_sigma_arcsec: float = 0.0,
    psf_scale: float = 1.0,
    reference: Literal["absolute", "centred_point"] = "absolute",
    include_y: bool = True,
) -> np.ndarray:
    """Multiplicative path-loss correction (>= 1 in the absolute case).

    ``reference='absolute'`` returns ``1 / fraction``; ``'centred_point'`` returns the ratio of
    the fraction of a centred point source to that of this source (1 for a centred point
    source).
    """
    frac = shutter_fraction(
        wave_um,
        xpos=xpos,
        ypos=ypos,
        source_sigma_arcsec=source_sigma_arcsec,
        psf_scale=psf_scale,
        include_y=include_y,
    )
    if reference == "absolute":
        return 1.0 / frac
    ref = shutter_fraction(wave_um, psf_scale=psf_scale, include_y=include_y)
    return ref / frac
