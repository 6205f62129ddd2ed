"""Path loss: the fraction of a source's light that passes an MSA shutter.

The source image at the MSA is the telescope PSF (approximated by a Gaussian whose width
follows diffraction, :func:`slitwise.extract.profile.msa_psf_sigma_arcsec`) convolved with the
intrinsic source (Gaussian of sigma ``source_sigma``). The fraction inside the open area of a
shutter (0.20" wide along the dispersion, 0.46" along the slit) for a source at intra-shutter
position (SRCXPOS, SRCYPOS; -0.5..0.5 across the open area, following the JWST documentation's
"extreme edges of a slit", as the JWST slit frame and the simulator's files) is a product
of two error-function differences. :func:`pathloss_correction` is the factor that turns the
flux through the shutter into total flux, either absolute or relative to a centred point
source (for data whose photometric calibration already includes the losses of a centred point
source). A secondary source in the slitlet sits elsewhere in its own shutter, often near a bar:
its position there comes from the slit-frame coordinate of its trace
(:func:`intra_shutter_y`, one pitch = 1.15 open heights).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import erf

from slitwise.extract.profile import msa_psf_sigma_arcsec

__all__ = [
    "SHUTTER_WIDTH_ARCSEC",
    "SHUTTER_HEIGHT_ARCSEC",
    "SLIT_FRAME_PITCH_Y",
    "intra_shutter_y",
    "shutter_fraction",
    "pathloss_correction",
    "UNRESOLVED_SIGMA_PIX",
]

#: Fitted intrinsic sizes (profile sigma, pixels) up to this are not counted as resolved in
#: the ``reference='point_here'`` correction: the profile's PSF model (diffraction plus a
#: 0.3 px blur) is narrower than NIRSpec's real point-source trace, and the simulator's point
#: sources fit sizes of 0.36-0.41 px. Larger sizes are reduced in quadrature by it.
UNRESOLVED_SIGMA_PIX = 0.36

#: Open area of one NIRSpec MSA shutter (arcsec): along the dispersion (x) and the slit (y).
SHUTTER_WIDTH_ARCSEC = 0.20
SHUTTER_HEIGHT_ARCSEC = 0.46
#: Shutter pitch along the slit (arcsec) and in slit-frame units (open heights): 1.15.
SHUTTER_PITCH_Y_ARCSEC = 0.529
SLIT_FRAME_PITCH_Y = SHUTTER_PITCH_Y_ARCSEC / SHUTTER_HEIGHT_ARCSEC


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
        Intra-shutter source position (JWST SRCXPOS, SRCYPOS; +-0.5 at the open edges).
    source_sigma_arcsec : float
        Intrinsic Gaussian sigma of the source.
    psf_scale : float
        Multiplier of the PSF width (as fitted in the profile).
    include_y : bool
        Include the losses along the slit (bars between shutters); off when the extraction
        profile already spans the neighbouring shutters.
    """
    psf = psf_scale * msa_psf_sigma_arcsec(wave_um)
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
    reference: Literal["absolute", "centred_point", "point_here"] = "absolute",
    include_y: bool = True,
) -> np.ndarray:
    """Multiplicative path-loss correction (>= 1 in the absolute case).

    ``reference='absolute'`` returns ``1 / fraction``; ``'centred_point'`` returns the ratio of
    the fraction of a centred point source to that of this source (1 for a centred point
    source); ``'point_here'`` the ratio for a point source at the same (``xpos``, ``ypos``):
    the extra correction of a resolved source whose data already carry a point-source path
    loss (JWST ``PATHLOSS_PS``, the simulator's), >= 1 and largest at short wavelengths.
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
    at = {"xpos": xpos, "ypos": ypos} if reference == "point_here" else {}
    ref = shutter_fraction(wave_um, psf_scale=psf_scale, include_y=include_y, **at)
    return ref / frac



def intra_shutter_y(y_frame: np.ndarray) -> np.ndarray:
    """Position inside the nearest shutter (open-area units, -0.575..0.575 over one pitch)
    of slit-frame coordinates ``y_frame`` (JWST ``slit_frame`` y: open-area units from the
    source shutter's centre; beyond +-0.5 lies the bar)."""
    y = np.asarray(y_frame, dtype=float)
    return y - SLIT_FRAME_PITCH_Y * np.round(y / SLIT_FRAME_PITCH_Y)
