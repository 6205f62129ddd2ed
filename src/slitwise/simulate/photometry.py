"""Flux calibration of the simulated detector: sky, throughput and the MJy/sr <-> e-/s factor.

Units. The cut-outs are in MJy/sr like JWST ``cal`` products. A pixel's surface brightness
``SB`` [MJy/sr] corresponds to a flux density ``SB * PIXAR_SR * 1e12`` [uJy] in that pixel, so
the flux density of a point source is ``sum over rows(SCI) * PIXAR_SR * 1e12`` (uJy), as in the
JWST ``extract_1d`` step. The detector counts electrons at the rate

    rate [e-/s] = SB / C(lambda),
    C(lambda) = 1 / (PIXAR_SR * 1e12 * K * G * (dlambda / lambda) * T(lambda))
                                                                  [MJy/sr per e-/s]

where ``K = A_tel * 1e-29 / h = 383.3`` photons/s per uJy per unit ``dlambda/lambda``
(``A_tel = 25.4 m^2``), ``dlambda`` is the pixel's wavelength width, ``T`` the end-to-end
throughput of :func:`throughput` (illustrative curves, not the STScI ones) and ``G =``
:data:`CALIBRATION_FACTOR` = 3.5, an empirical factor: without it the simulated noise of a PRISM
sky pixel at 4.2 micron is ~3x that of the real CEERS 1345_933 cut-outs (their PIXAR_SR is not
the solid angle a spectral pixel collects). With it the simulated PRISM cut-outs at 4.2 micron
have sky ~0.14 MJy/sr, sqrt(VAR_POISSON) ~0.017 and sqrt(VAR_RNOISE) ~0.012 MJy/sr; the real
ones have 0.14, 0.017 and 0.013. ``C`` plays the role of the inverse of a PHOTMJSR-like
conversion; it is written per column (``conv``) in the truth trace table.
"""

from __future__ import annotations

import numpy as np

from slitwise.instruments import Disperser

__all__ = [
    "PIXAR_SR",
    "PIXAR_A2",
    "PHOTONS_PER_UJY",
    "CALIBRATION_FACTOR",
    "throughput",
    "sky_mjysr",
    "mjysr_per_eps",
]

#: Nominal pixel solid angle (sr) and area (arcsec^2), as in the real CEERS cut-out headers.
PIXAR_SR = 4.85e-13
PIXAR_A2 = PIXAR_SR * (206264.806**2)
_TEL_AREA_CM2 = 25.4e4
_H_ERG_S = 6.62607015e-27
#: Photons per second per uJy per unit dlambda/lambda collected by the telescope.
PHOTONS_PER_UJY = 1e-29 * _TEL_AREA_CM2 / _H_ERG_S
#: Empirical factor matching the noise of the real CEERS PRISM cut-outs (module docstring).
CALIBRATION_FACTOR = 3.5


def throughput(disperser: Disperser, wave_um: np.ndarray) -> np.ndarray:
    """Illustrative end-to-end throughput (telescope, NIRSpec, detector QE) without slit loss."""
    w = np.asarray(wave_um, dtype=float)
    if disperser.is_prism:
        return 0.10 + 0.45 * np.exp(-0.5 * ((w - 3.2) / 1.6) ** 2)
    lo, hi = disperser.wave_range
    blaze = 0.5 * (lo + hi)
    return 0.08 + 0.40 * np.exp(-0.5 * ((w - blaze) / (0.35 * (hi - lo))) ** 2)


def sky_mjysr(wave_um: np.ndarray) -> np.ndarray:
    """Illustrative sky surface brightness (zodiacal plus thermal rise), MJy/sr."""
    w = np.asarray(wave_um, dtype=float)
    return 0.12 * (w / 2.0) ** -0.3 + 0.02 * np.exp((w - 5.0) / 0.7)


def mjysr_per_eps(
    disperser: Disperser, wave_um: np.ndarray, dwave_um: np.ndarray, *, pixar_sr: float = PIXAR_SR
) -> np.ndarray:
    """Conversion factor C [MJy/sr per e-/s] for pixels at ``wave_um`` of width ``dwave_um``."""
    w = np.asarray(wave_um, dtype=float)
    dw = np.abs(np.asarray(dwave_um, dtype=float))
    photons = PHOTONS_PER_UJY * CALIBRATION_FACTOR * (dw / w) * throughput(disperser, w)
    return 1.0 / (pixar_sr * 1e12 * photons)
