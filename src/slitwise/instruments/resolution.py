"""Resolution models and the line-spread function.

Every instrument exposes its resolving power R(lambda) = lambda / FWHM through one interface,
:class:`ResolutionModel`. The line-spread function (LSF) is a Gaussian of that FWHM; when it is
sampled on pixels it is integrated over each pixel's edges (never point-sampled), see
:func:`gaussian_lsf_pixel_integrated`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import erf

__all__ = [
    "ResolutionModel",
    "ConstantResolution",
    "TabulatedResolution",
    "FWHM_TO_SIGMA",
    "gaussian_lsf_pixel_integrated",
]

#: sigma = FWHM * FWHM_TO_SIGMA for a Gaussian.
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


class ResolutionModel:
    """Interface: resolving power as a function of wavelength (micron)."""

    def resolving_power(self, wave_um: np.ndarray) -> np.ndarray:  # pragma: no cover
        """R = lambda / FWHM at ``wave_um`` (micron)."""
        raise NotImplementedError

    def fwhm(self, wave_um: np.ndarray) -> np.ndarray:
        """LSF FWHM in micron at ``wave_um``."""
        wave_um = np.asarray(wave_um, dtype=float)
        return wave_um / self.resolving_power(wave_um)

    def sigma(self, wave_um: np.ndarray) -> np.ndarray:
        """LSF Gaussian sigma in micron at ``wave_um``."""
        return self.fwhm(wave_um) * FWHM_TO_SIGMA

    def sigma_kms(self, wave_um: np.ndarray) -> np.ndarray:
        """LSF Gaussian sigma in km/s at ``wave_um``."""
        wave_um = np.asarray(wave_um, dtype=float)
        return 299792.458 * self.sigma(wave_um) / wave_um


@dataclasses.dataclass(frozen=True)
class ConstantResolution(ResolutionModel):
    """A generic instrument with a constant resolving power ``R``."""

    R: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.R) or self.R <= 0:
            raise ValueError(f"resolving power R must be positive, got {self.R}")

    def resolving_power(self, wave_um: np.ndarray) -> np.ndarray:
        return np.full_like(np.asarray(wave_um, dtype=float), float(self.R))


@dataclasses.dataclass(frozen=True, eq=False)
class TabulatedResolution(ResolutionModel):
    """R(lambda) tabulated on a wavelength grid, linearly interpolated (clamped at the ends).

    Parameters
    ----------
    wave_um : ndarray
        Increasing wavelengths in micron.
    R : ndarray
        Resolving power at ``wave_um``.
    scale : float
        Multiplier applied to the tabulated R (e.g. a point-source factor).
    """

    wave_um: np.ndarray
    R: np.ndarray
    scale: float = 1.0

    def __post_init__(self) -> None:
        w = np.asarray(self.wave_um, dtype=float)
        r = np.asarray(self.R, dtype=float)
        if w.shape != r.shape or w.ndim != 1 or w.size < 2:
            raise ValueError("tabulated resolution needs 1D wavelength and R of equal length")
        if np.any(np.diff(w) <= 0):
            raise ValueError("tabulated resolution wavelengths must increase")
        if np.any(~np.isfinite(r)) or np.any(r <= 0):
            raise ValueError("tabulated resolution R must be positive and finite")
        object.__setattr__(self, "wave_um", w)
        object.__setattr__(self, "R", r)

    def resolving_power(self, wave_um: np.ndarray) -> np.ndarray:
        return self.scale * np.interp(np.asarray(wave_um, dtype=float), self.wave_um, self.R)


def gaussian_lsf_pixel_integrated(
    edges: np.ndarray, center: float, sigma: float | np.ndarray
) -> np.ndarray:
    """Fraction of a unit-area Gaussian falling in each pixel.

    Parameters
    ----------
    edges : ndarray, shape (n+1,)
        Pixel edges (same unit as ``center`` and ``sigma``).
    center : float
        Line centre.
    sigma : float
        Gaussian sigma (may include the intrinsic width added in quadrature).

    Returns
    -------
    ndarray, shape (n,)
        Integral of the normalised Gaussian over each pixel; sums to ~1 when the pixels
        cover the line.
    """
    cdf = 0.5 * (1.0 + erf((np.asarray(edges, dtype=float) - center) / (np.sqrt(2.0) * sigma)))
    return np.diff(cdf)
