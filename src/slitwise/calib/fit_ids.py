"""Arc spectra along traces, per-slice line identification, and the global IDS fit.

The first (best illuminated) slice of an arc is identified blind by
:func:`~slitwise.calib.wavecal.solve_arc`; every other slice is cross-correlated with it and
re-identified from the shifted solution (no pattern matching needed), then all identified lines
of all slits go into one global linear least-squares fit of the IDS coefficients.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from numpy.polynomial import polynomial as P
from scipy import ndimage, signal

from slitwise.calib.arcid import match_to_catalog
from slitwise.calib.linedetect import detect_lines
from slitwise.calib.models import DispersionModel, Poly2D
from slitwise.calib.wavefit import PolyFit, robust_polyfit

__all__ = [
    "extract_along",
    "reidentify",
    "shifted_guess",
    "GridGuess",
    "LineSample",
    "fit_dispersion",
    "xcorr_shift",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LineSample:
    """Identified arc lines of one slice: mask point, line pixels along dispersion, wavelengths."""

    slit_id: int
    t: float
    x: float
    y: float
    pixel: np.ndarray
    wave: np.ndarray


def extract_along(image: np.ndarray, s_of_d: np.ndarray, *, half_width: float = 1.5) -> np.ndarray:
    """Sum a canonical image over ``s(d) +- half_width`` rows at every column (linear weights)."""
    ns, nd = image.shape
    offsets = np.arange(-np.ceil(half_width) - 1, np.ceil(half_width) + 2)
    rows = np.floor(s_of_d)[None, :] + offsets[:, None]
    # Overlap of each pixel [r - 0.5, r + 0.5] with the aperture.
    lo = np.clip(s_of_d - half_width, rows - 0.5, rows + 0.5)
    hi = np.clip(s_of_d + half_width, rows - 0.5, rows + 0.5)
    weight = np.clip(hi - lo, 0, None)
    valid = (rows >= 0) & (rows < ns)
    cols = np.broadcast_to(np.arange(nd), rows.shape)
    vals = np.where(valid, image[np.clip(rows, 0, ns - 1).astype(int), cols], 0.0)
    return np.sum(vals * weight, axis=0)


def xcorr_shift(reference: np.ndarray, flux: np.ndarray, *, max_shift: int = 200) -> float:
    """Shift (pixels) such that ``flux(p) ~ reference(p - shift)``, by cross-correlation."""
    a = reference - ndimage.median_filter(reference, 51)
    b = flux - ndimage.median_filter(flux, 51)
    a = np.clip(a, 0, None)
    b = np.clip(b, 0, None)
    cc = signal.correlate(b, a, mode="full", method="fft")
    lags = signal.correlation_lags(b.size, a.size, mode="full")
    sel = np.abs(lags) <= max_shift
    cc, lags = cc[sel], lags[sel]
    k = int(np.argmax(cc))
    if 0 < k < cc.size - 1:
        den = cc[k - 1] - 2 * cc[k] + cc[k + 1]
        frac = 0.5 * (cc[k - 1] - cc[k + 1]) / den if den != 0 else 0.0
    else:
        frac = 0.0
    return float(lags[k] + frac)


class GridGuess:
    """A pixel -> wavelength guess tabulated on a pixel grid (interpolated, with derivative)."""

    def __init__(self, pixels: np.ndarray, waves: np.ndarray):
        self.pixels = np.asarray(pixels, float)
        self.waves = np.asarray(waves, float)
        self._deriv = np.gradient(self.waves, self.pixels)

    def __call__(self, p):
        return np.interp(p, self.pixels, self.waves)

    def derivative(self, p):
        return np.interp(p, self.pixels, self._deriv)


def shifted_guess(
    reference: PolyFit, reference_flux: np.ndarray, flux: np.ndarray, *, max_shift: int
) -> GridGuess:
    """Reference solution mapped onto ``flux`` by cross-correlating its two halves.

    Two shifts (left and right half) give a linear pixel mapping, which absorbs a small
    difference of dispersion between the two spectra as well as their offset.
    """
    n = flux.size
    half = n // 2
    s_left = xcorr_shift(reference_flux[:half], flux[:half], max_shift=max_shift)
    s_right = xcorr_shift(reference_flux[half:], flux[half:], max_shift=max_shift)
    s_all = xcorr_shift(reference_flux, flux, max_shift=max_shift)
    # Trust the two-half estimate only when it agrees with the global one.
    if abs(0.5 * (s_left + s_right) - s_all) > 3.0:
        s_left = s_right = s_all
    c_left, c_right = 0.25 * n, 0.75 * n
    p = np.arange(n, dtype=float)
    shift = s_left + (s_right - s_left) * (p - c_left) / (c_right - c_left)
    return GridGuess(p, reference(p - shift))


def reidentify(
    flux: np.ndarray,
    guess,
    catalog: np.ndarray,
    *,
    order: int,
    tol_px: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, PolyFit] | None:
    """Identify the lines of ``flux`` from a pixel -> wavelength guess.

    ``guess`` has ``__call__(pixel)`` and ``derivative(pixel)`` (a :class:`PolyFit` or
    :class:`GridGuess`). Lines are matched to the nearest catalogue line within a tolerance
    that shrinks over three passes, each followed by a robust polynomial fit.

    Returns ``(pixels, wavelengths, fit)`` of the identified lines, or None.
    """
    lines = detect_lines(flux, max_lines=150)
    if len(lines) < 4:
        return None
    npix = flux.size
    fit = guess
    det = cat = None
    for tol in (tol_px, 0.6 * tol_px, 0.5 * tol_px):
        d_idx, c_idx = match_to_catalog(fit, lines.pixel, catalog, tol)
        if d_idx.size < order + 3:
            return None
        p, w = lines.pixel[d_idx], catalog[c_idx]
        fit, used = robust_polyfit(
            p, w, order, npix, scale=1.0 / np.abs(fit.derivative(p)), nsigma=3.0, floor=0.1
        )
        det, cat = d_idx[used], c_idx[used]
    return lines.pixel[det], catalog[cat], fit


def fit_dispersion(
    samples: list[LineSample],
    d_ref: callable,
    *,
    reference_wavelength: float,
    wave_scale: float,
    order: int = 3,
    degrees: tuple[int, int] = (1, 1),
    scale: float = 100.0,
    nsigma: float = 4.0,
    floor: float = 0.1,
) -> tuple[DispersionModel, dict[int, float], float]:
    """Global IDS fit: ``pixel - d_ref(X, Y) = sum_k e_k(X, Y) u^k``.

    Parameters
    ----------
    samples : list of LineSample
        Identified lines per slice.
    d_ref : callable
        ``d_ref(X, Y)``: OPT reference position along dispersion.
    order : int
        Local polynomial order in ``u``.
    degrees : (int, int)
        Degrees in mask X and Y of each global coefficient.

    Returns
    -------
    model : DispersionModel
    rms_per_slit : dict
        Slit ID -> RMS residual (pixels) of its kept lines.
    rms : float
        Overall RMS (pixels).
    """
    xs = np.concatenate([np.full(s.pixel.size, s.x) for s in samples])
    ys = np.concatenate([np.full(s.pixel.size, s.y) for s in samples])
    ids = np.concatenate([np.full(s.pixel.size, s.slit_id) for s in samples])
    pix = np.concatenate([s.pixel for s in samples])
    lam = np.concatenate([s.wave for s in samples])
    delta = pix - d_ref(xs, ys)
    uu = (lam - reference_wavelength) / wave_scale
    dx, dy = degrees
    base = P.polyvander2d(xs / scale, ys / scale, (dx, dy))
    design = np.concatenate([base * (uu**k)[:, None] for k in range(order + 1)], axis=1)
    keep = np.ones(delta.size, bool)
    for _ in range(10):
        coef, *_ = np.linalg.lstsq(design[keep], delta[keep], rcond=None)
        resid = delta - design @ coef
        sigma = 1.4826 * np.median(np.abs(resid[keep]))
        new = np.abs(resid) < max(nsigma * sigma, floor)
        if np.array_equal(new, keep):
            break
        keep = new
    n = (dx + 1) * (dy + 1)
    polys = tuple(
        Poly2D(coef[k * n : (k + 1) * n].reshape(dx + 1, dy + 1), scale) for k in range(order + 1)
    )
    per_slit = {
        int(i): float(np.sqrt(np.mean(resid[keep & (ids == i)] ** 2)))
        for i in np.unique(ids)
        if np.any(keep & (ids == i))
    }
    rms = float(np.sqrt(np.mean(resid[keep] ** 2)))
    log.info("IDS fit: %d lines, %d rejected, rms %.3f px", delta.size, int((~keep).sum()), rms)
    model = DispersionModel(
        polys, reference_wavelength=float(reference_wavelength), wave_scale=float(wave_scale)
    )
    return model, per_slit, rms
