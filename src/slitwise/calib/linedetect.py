"""Emission-line detection and centroiding in a 1D arc (or sky) spectrum.

Pure functions on arrays: a baseline is removed, the noise is estimated robustly, peaks above a
significance threshold are kept, and each is centred by a least-squares Gaussian fit (falling
back to a three-point log-parabola when the fit fails).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np
from scipy import ndimage, optimize, signal

from slitwise.errors import input_error

__all__ = ["DetectedLines", "detect_lines", "estimate_fwhm"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DetectedLines:
    """Lines found in a 1D spectrum, sorted by pixel.

    Attributes
    ----------
    pixel : ndarray
        Centroid (0-based pixel).
    amplitude : ndarray
        Peak height above the baseline.
    significance : ndarray
        Peak height in units of the noise.
    width : ndarray
        Gaussian sigma of each line in pixels (NaN when the Gaussian fit failed).
    fwhm : float
        Typical line FWHM in pixels.
    noise : float
        Robust noise estimate of the baseline-subtracted spectrum.
    """

    pixel: np.ndarray
    amplitude: np.ndarray
    significance: np.ndarray
    width: np.ndarray
    fwhm: float
    noise: float

    def __len__(self) -> int:
        return int(self.pixel.size)

    def strongest(self, n: int) -> DetectedLines:
        """The ``n`` most significant lines (still sorted by pixel)."""
        if n >= len(self):
            return self
        keep = np.sort(np.argsort(self.amplitude)[::-1][:n])
        return dataclasses.replace(
            self,
            pixel=self.pixel[keep],
            amplitude=self.amplitude[keep],
            significance=self.significance[keep],
            width=self.width[keep],
        )


def _baseline(flux: np.ndarray, width: int) -> np.ndarray:
    """Smooth lower envelope: running 10th percentile, then a running mean."""
    width = max(5, int(width) | 1)
    low = ndimage.percentile_filter(flux, 10, size=width, mode="nearest")
    return ndimage.uniform_filter1d(low, width, mode="nearest")


def _robust_noise(resid: np.ndarray) -> float:
    """Noise from the median absolute first difference (insensitive to lines)."""
    diff = np.diff(resid)
    diff = diff[np.isfinite(diff) & (diff != 0)]
    if diff.size < 10:
        return 0.0
    return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2.0))


def estimate_fwhm(flux: np.ndarray, peaks: np.ndarray) -> float:
    """Median FWHM (pixels) of the given peaks, from half-maximum crossings."""
    if peaks.size == 0:
        return 3.0
    widths = signal.peak_widths(flux, peaks, rel_height=0.5)[0]
    widths = widths[np.isfinite(widths) & (widths > 0.8)]
    return float(np.clip(np.median(widths), 1.5, 50.0)) if widths.size else 3.0


def _gauss(x, amp, mu, sig, c0):
    return amp * np.exp(-0.5 * ((x - mu) / sig) ** 2) + c0


def _centroid(x: np.ndarray, y: np.ndarray, peak: int, fwhm: float) -> tuple[float, float]:
    """Centre and sigma of one line by a Gaussian fit; log-parabola fallback."""
    y0, y1, y2 = y[peak - 1], y[peak], y[peak + 1]
    guess = float(peak)
    if y0 > 0 and y1 > 0 and y2 > 0:
        l0, l1, l2 = np.log([y0, y1, y2])
        den = l0 - 2 * l1 + l2
        if den < 0:
            guess = peak + 0.5 * (l0 - l2) / den
    half = max(2, int(np.ceil(1.0 * fwhm)))
    lo, hi = max(0, peak - half), min(y.size, peak + half + 1)
    if hi - lo < 5:
        return guess, np.nan
    sig0 = fwhm / 2.355
    try:
        with warnings.catch_warnings():
            # A covariance that cannot be estimated is irrelevant here: only the centre is used.
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            popt, _ = optimize.curve_fit(
                _gauss, x[lo:hi], y[lo:hi], p0=(y1, guess, sig0, 0.0), maxfev=200
            )
    except (RuntimeError, ValueError):
        return guess, np.nan
    if not (abs(popt[1] - guess) <= 1.0 and 0.3 < abs(popt[2]) < 5 * sig0 + 2 and popt[0] > 0):
        return guess, np.nan
    return float(popt[1]), float(abs(popt[2]))


def detect_lines(
    flux: np.ndarray,
    *,
    nsigma: float = 5.0,
    min_separation: float | None = None,
    max_lines: int | None = None,
    fwhm: float | None = None,
) -> DetectedLines:
    """Find and centre emission lines in a 1D spectrum.

    Parameters
    ----------
    flux : ndarray
        The spectrum (counts, any scale); non-finite values are treated as zero.
    nsigma : float
        Minimum peak height above the baseline, in units of the robust noise.
    min_separation : float, optional
        Minimum distance between two peaks in pixels (default: the line FWHM).
    max_lines : int, optional
        Keep only the strongest lines.
    fwhm : float, optional
        Typical line FWHM in pixels; estimated from the strongest peaks when omitted.

    Returns
    -------
    DetectedLines

    Raises
    ------
    SlitwiseInputError
        ``flux`` is not a 1D array of at least 20 pixels.
    """
    flux = np.asarray(flux, dtype=float)
    if flux.ndim != 1 or flux.size < 20:
        raise input_error("flux", f"expected a 1D spectrum of >= 20 pixels, got shape {flux.shape}")
    flux = np.where(np.isfinite(flux), flux, 0.0)
    # First pass with a generic window to measure the FWHM of the strongest lines.
    rough = flux - _baseline(flux, 101)
    if fwhm is None:
        pk, props = signal.find_peaks(rough, distance=3, prominence=0)
        if pk.size:
            top = pk[np.argsort(props["prominences"])[::-1][:30]]
            fwhm = estimate_fwhm(rough, top)
        else:
            fwhm = 3.0
    resid = flux - _baseline(flux, max(51, int(20 * fwhm)))
    noise = _robust_noise(resid)
    floor = 1e-3 * max(float(np.max(resid)), 1e-30)
    thresh = max(nsigma * noise, floor)
    sep = max(1.0, float(min_separation if min_separation is not None else 0.8 * fwhm))
    peaks, props = signal.find_peaks(resid, height=thresh, distance=sep, prominence=thresh)
    peaks = peaks[(peaks > 1) & (peaks < flux.size - 2)]
    x = np.arange(flux.size, dtype=float)
    if max_lines is not None and peaks.size > 2 * max_lines:
        peaks = np.sort(peaks[np.argsort(resid[peaks])[::-1][: 2 * max_lines]])
    cents = np.empty(peaks.size)
    widths = np.empty(peaks.size)
    for i, p in enumerate(peaks):
        cents[i], widths[i] = _centroid(x, resid, int(p), fwhm)
    amp = resid[peaks]
    sig = amp / noise if noise > 0 else np.full(peaks.size, np.inf)
    order = np.argsort(cents)
    lines = DetectedLines(
        pixel=cents[order],
        amplitude=amp[order],
        significance=sig[order],
        width=widths[order],
        fwhm=float(fwhm),
        noise=noise,
    )
    if max_lines is not None:
        lines = lines.strongest(max_lines)
    log.debug("detected %d lines (fwhm %.2f px, noise %.3g)", len(lines), fwhm, noise)
    return lines
