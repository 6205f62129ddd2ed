"""Cross-dispersion profile, shutter transmission (path loss) and slit illumination.

Model (a deliberate simplification, stated so tests and users know what "truth" means):

* The telescope PSF is a circular Gaussian with FWHM ``sqrt((1.03 lambda / D)^2 + 0.04"^2)``
  (diffraction plus a floor for jitter and optics), D = 6.5 m. A source is a circular Gaussian
  of sigma ``source_sigma`` (arcsec); on the sky the light is the PSF convolved with the source.
* An MSA shutter has an open area of 0.20" (dispersion, x) by 0.46" (cross-dispersion, y) on a
  pitch of 0.268" by 0.529". Inside the simulator, intra-shutter positions are offsets from the
  shutter centre in units of the pitch (so -0.5..0.5 spans one pitch); the files written carry
  them as the JWST pipeline does (``SRCXPOS``/``SRCYPOS`` and the ``YSLIT`` slit-frame
  coordinate in units of the open area, so +-0.5 are the open edges and one pitch is
  ``SLIT_FRAME_X`` = 1.34 or ``SLIT_FRAME_Y`` = 1.15 units). The fraction of the light that
  passes the open area is the product of two Gaussian integrals (:func:`shutter_transmission`).
  For a point source this is what the JWST pipeline calls the point-source path loss
  (``PATHLOSS_PS``). Diffraction wings (the real Airy pattern) are not modelled, so real path
  losses are ~10 % lower.
* On the detector the transmitted light of a source is a Gaussian profile along y with sigma
  ``sqrt(sigma_sky^2 + sigma_spec^2)``: the sky-plane width (PSF + source) in pixels plus the
  spectrograph's own blur ``SPEC_BLUR_PX``. The profile is *not* truncated at the shutter edges
  (the area under it equals the transmitted flux), so its centroid is exactly the source
  position; this keeps the truth trace unambiguous.
* Sky fills the open shutters of the slitlet uniformly along y (bars between shutters are
  ignored, as after the pipeline's bar-shadow correction); the edges of the illuminated region
  are blurred by ``SPEC_BLUR_PX`` and every pixel value is integrated over the pixel.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

__all__ = [
    "PIXEL_SCALE",
    "PITCH_X",
    "PITCH_Y",
    "OPEN_X",
    "OPEN_Y",
    "SLIT_FRAME_X",
    "SLIT_FRAME_Y",
    "PITCH_PX",
    "SPEC_BLUR_PX",
    "psf_sigma_arcsec",
    "sky_sigma_arcsec",
    "profile_sigma_px",
    "shutter_transmission",
    "uniform_transmission",
    "gaussian_pixel_fractions",
    "box_pixel_fractions",
]

#: Detector pixel scale along the slit (arcsec / pixel).
PIXEL_SCALE = 0.103
#: Shutter pitch along the dispersion (x) and the slit (y), arcsec.
PITCH_X, PITCH_Y = 0.268, 0.529
#: Open area of a shutter, arcsec.
OPEN_X, OPEN_Y = 0.20, 0.46
#: Slit-frame units (open width / height) per shutter pitch, x and y (JWST convention).
SLIT_FRAME_X, SLIT_FRAME_Y = PITCH_X / OPEN_X, PITCH_Y / OPEN_Y
#: Shutter pitch along the slit in detector pixels.
PITCH_PX = PITCH_Y / PIXEL_SCALE
#: Gaussian sigma (pixels) of the spectrograph optics and detector, after the MSA.
SPEC_BLUR_PX = 0.45
#: Telescope diameter in metres.
_DIAMETER_M = 6.5
_FWHM_FLOOR_ARCSEC = 0.04
_RAD_TO_ARCSEC = 206264.806
_SQRT2 = np.sqrt(2.0)


def _phi_cdf(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + erf(t / _SQRT2))


def _phi_cdf_integral(u: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
    """Antiderivative in ``u`` of the Gaussian CDF ``Phi(u / sigma)``."""
    t = u / sigma
    return u * _phi_cdf(t) + sigma * np.exp(-0.5 * t * t) / np.sqrt(2.0 * np.pi)


def psf_sigma_arcsec(wave_um: np.ndarray) -> np.ndarray:
    """Gaussian sigma of the telescope PSF (arcsec) at ``wave_um``."""
    wave_um = np.asarray(wave_um, dtype=float)
    diff = 1.03 * wave_um * 1e-6 / _DIAMETER_M * _RAD_TO_ARCSEC
    return np.hypot(diff, _FWHM_FLOOR_ARCSEC) / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def sky_sigma_arcsec(wave_um: np.ndarray, source_sigma: float = 0.0) -> np.ndarray:
    """Sigma (arcsec) of a Gaussian source of ``source_sigma`` seen through the PSF."""
    return np.hypot(psf_sigma_arcsec(wave_um), source_sigma)


def profile_sigma_px(wave_um: np.ndarray, source_sigma: float = 0.0) -> np.ndarray:
    """Cross-dispersion profile sigma on the detector (pixels) at ``wave_um``."""
    return np.hypot(sky_sigma_arcsec(wave_um, source_sigma) / PIXEL_SCALE, SPEC_BLUR_PX)


def _interval_fraction(lo: float, hi: float, center: float, sigma: np.ndarray) -> np.ndarray:
    return _phi_cdf((hi - center) / sigma) - _phi_cdf((lo - center) / sigma)


def shutter_transmission(
    wave_um: np.ndarray, xpos: float, ypos: float, *, source_sigma: float = 0.0
) -> np.ndarray:
    """Fraction of a source's light that passes the open area of its shutter.

    Parameters
    ----------
    wave_um : array_like
        Wavelengths (micron).
    xpos, ypos : float
        Intra-shutter position (SRCXPOS, SRCYPOS) in units of the shutter pitch.
    source_sigma : float
        Intrinsic Gaussian sigma of the source (arcsec); 0 for a point source, in which case
        the result is the point-source path loss (``PATHLOSS_PS``).

    Returns
    -------
    ndarray
        Transmitted fraction, same shape as ``wave_um``.
    """
    sig = sky_sigma_arcsec(wave_um, source_sigma)
    tx = _interval_fraction(-OPEN_X / 2, OPEN_X / 2, xpos * PITCH_X, sig)
    ty = _interval_fraction(-OPEN_Y / 2, OPEN_Y / 2, ypos * PITCH_Y, sig)
    return tx * ty


def _mean_interval_fraction(open_w: float, pitch: float, sig: np.ndarray) -> np.ndarray:
    # Average over a source centre uniform in [-pitch/2, pitch/2] of the fraction of a
    # Gaussian inside [-open/2, open/2], from the antiderivative of Phi.
    a, b = open_w / 2, -open_w / 2
    upper = _phi_cdf_integral(a + pitch / 2, sig) - _phi_cdf_integral(a - pitch / 2, sig)
    lower = _phi_cdf_integral(b + pitch / 2, sig) - _phi_cdf_integral(b - pitch / 2, sig)
    return (upper - lower) / pitch


def uniform_transmission(wave_um: np.ndarray) -> np.ndarray:
    """Path loss for a uniformly illuminated shutter (``PATHLOSS_UN``).

    The light of a uniform source that falls on the open area, blurred by the PSF, and still
    passes the open area: the mean point-source transmission over the whole pitch divided by
    the geometric open fraction. It is 1 for a delta-function PSF.
    """
    sig = psf_sigma_arcsec(wave_um)
    fx = _mean_interval_fraction(OPEN_X, PITCH_X, sig) / (OPEN_X / PITCH_X)
    fy = _mean_interval_fraction(OPEN_Y, PITCH_Y, sig) / (OPEN_Y / PITCH_Y)
    return fx * fy


def gaussian_pixel_fractions(rows: np.ndarray, center: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Fraction of a unit Gaussian (``center``, ``sigma`` in pixels) falling in each row pixel.

    Row ``j`` covers ``[j - 0.5, j + 0.5]``. Arguments broadcast.
    """
    rows = np.asarray(rows, dtype=float)
    return _phi_cdf((rows + 0.5 - center) / sigma) - _phi_cdf((rows - 0.5 - center) / sigma)


def box_pixel_fractions(
    rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, sigma: float
) -> np.ndarray:
    """Pixel-averaged value of a unit box ``[lo, hi]`` (pixels) blurred by a Gaussian ``sigma``.

    Equals 1 for a pixel deep inside the box and 0 far outside. Arguments broadcast.
    """
    rows = np.asarray(rows, dtype=float)

    def cum(y):
        # integral over y of [Phi((y - lo)/s) - Phi((y - hi)/s)]
        return _phi_cdf_integral(y - lo, sigma) - _phi_cdf_integral(y - hi, sigma)

    return cum(rows + 0.5) - cum(rows - 0.5)
