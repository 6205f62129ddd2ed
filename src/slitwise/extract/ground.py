"""Ground-based rectified slits: stack the exposures, find the object, subtract the sky.

The calibrate stage writes one rectified 2D per (science frame, slit), all of one slit on the
same (wavelength, slit position) grid. :func:`prepare_ground` turns them into one
sky-subtracted :class:`~slitwise.spectra.RectifiedSpectrum2D` ready for the optimal extraction
the JWST ``s2d`` path uses:

1. Count rates (``SCI / EXPTIME``), combined with inverse-variance weights; with three or more
   exposures, pixels further than ``clip`` sigma from the per-pixel median are rejected first
   (cosmic rays).
2. The object row: peak of the variance-weighted mean along wavelength of a preliminary,
   outlier-clipped sky subtraction (slit edges excluded).
3. The sky: a straight line along the slit per wavelength (a constant when the object leaves
   sky on one side only), fitted with the object's rows (``|row - peak| <= max(1.5 FWHM, 4)``)
   left out; the object's position and FWHM are measured again on the result and the sky
   refitted once. The two end rows (straddling the slit edges) are not used.
4. Fluxes: counts per second per Angstrom are f_lambda up to the unknown throughput; with
   ``flux_scale`` (1e-20 erg/s/cm2/A per electron/s/A) they are calibrated
   (``FLUXCAL = 'scaled'``), otherwise relative (``FLUXCAL = 'relative'``, scale 1).
   ``to_fnu`` converts the row sums to uJy either way, so every later stage sees the usual
   units.
"""

from __future__ import annotations

import dataclasses

import astropy.units as u
import numpy as np
from scipy import ndimage, signal

from slitwise.calib.rectify import subtract_sky_along_slit
from slitwise.errors import input_error
from slitwise.spectra import FLAM_UNIT, RectifiedSpectrum2D

__all__ = ["GroundPrepared", "prepare_ground", "stack_exposures", "find_object_row"]


@dataclasses.dataclass(frozen=True)
class GroundPrepared:
    """Sky-subtracted combined 2D of one slit, the object's row and bookkeeping."""

    rect: RectifiedSpectrum2D
    row: float
    n_clipped: list[int]
    fluxcal: str


def stack_exposures(
    rects: list[RectifiedSpectrum2D], *, clip: float = 5.0
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Inverse-variance mean count rate of exposures on one grid, with median clipping.

    Returns the rate, its variance (0 where no exposure is valid) and the number of pixels
    rejected in each exposure.
    """
    first = rects[0]
    for r in rects[1:]:
        if r.shape != first.shape or not np.allclose(r.wave, first.wave, rtol=0, atol=1e-9):
            raise input_error(
                r.meta.get("filename", "rectified slit"),
                f"grid {r.shape} differs from {first.meta.get('filename', 'the first')} "
                f"{first.shape}; rectify every frame of a slit with the same model",
            )
    rate = np.array([r.sci / r.meta.get("exptime", 1.0) for r in rects])
    var = np.array([r.var / r.meta.get("exptime", 1.0) ** 2 for r in rects])
    ok = np.isfinite(rate) & np.isfinite(var) & (var > 0)
    n_clipped = [0] * len(rects)
    if len(rects) >= 3:
        med = np.nanmedian(np.where(ok, rate, np.nan), axis=0)
        bad = ok & (np.abs(rate - med[None]) > clip * np.sqrt(var))
        n_clipped = [int(b.sum()) for b in bad]
        ok &= ~bad
    w = np.where(ok, 1.0 / np.where(ok, var, 1.0), 0.0)
    wsum = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(wsum > 0, (w * np.where(ok, rate, 0.0)).sum(axis=0) / wsum, np.nan)
        out_var = np.where(wsum > 0, 1.0 / wsum, 0.0)
    return mean, out_var, n_clipped


def _collapsed(rect: RectifiedSpectrum2D) -> np.ndarray:
    """Inverse-variance weighted mean of every row over wavelength, smoothed over 3 rows."""
    ok = rect.valid
    w = np.where(ok, 1.0 / np.where(ok, rect.var, 1.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = np.nansum(np.where(ok, rect.sci, 0.0) * w, axis=1) / np.sum(w, axis=1)
    return ndimage.uniform_filter1d(np.nan_to_num(prof), 3)


def find_object_row(rect: RectifiedSpectrum2D, *, edge: int = 2) -> tuple[float, float]:
    """Row index and FWHM (rows) of the brightest object along the slit."""
    collapsed = _collapsed(subtract_sky_along_slit(rect))
    ny = collapsed.size
    if ny <= 2 * edge + 2:
        raise input_error(rect.meta.get("filename", "slit"), f"only {ny} rows along the slit")
    inner = collapsed.copy()
    inner[:edge] = -np.inf
    inner[ny - edge :] = -np.inf
    peak = int(np.argmax(inner))
    fwhm = float(signal.peak_widths(collapsed, [peak], rel_height=0.5)[0][0])
    return float(peak), max(fwhm, 1.0)


def _object_from_profile(rect: RectifiedSpectrum2D, row: float) -> tuple[float, float]:
    """Peak row (near ``row``) and FWHM of a sky-subtracted 2D's collapsed profile."""
    prof = _collapsed(rect)
    lo, hi = int(max(row - 5, 0)), int(min(row + 6, prof.size))
    peak = lo + int(np.argmax(prof[lo:hi]))
    fwhm = float(signal.peak_widths(prof, [peak], rel_height=0.5)[0][0])
    return float(peak), max(fwhm, 1.0)


def _to_fnu(wave_um: np.ndarray, flux_scale: float) -> np.ndarray:
    """uJy per (row-summed electrons/s per pixel) for a grid of ``wave_um`` columns."""
    wave_aa = wave_um * 1e4
    step = np.gradient(wave_aa)
    flam = (flux_scale / step) * FLAM_UNIT  # per electron/s in one column
    return flam.to_value(u.uJy, equivalencies=u.spectral_density(wave_aa * u.AA))


def prepare_ground(
    rects: list[RectifiedSpectrum2D], *, flux_scale: float | None = None, clip: float = 5.0
) -> GroundPrepared:
    """Stack, locate the object and sky-subtract the rectified exposures of one slit."""
    if not rects:
        raise input_error("rectified slits", "no exposure given")
    rate, var, n_clipped = stack_exposures(rects, clip=clip)
    first = rects[0]
    meta = dict(first.meta, filename=first.meta.get("filename", ""), nexp=len(rects))
    # the end rows straddle the slit edges (partly unilluminated): not used
    rate[[0, -1], :] = np.nan
    var[[0, -1], :] = 0.0
    stacked = RectifiedSpectrum2D(
        sci=rate, var=var, wave=first.wave, y=first.y, bunit="electron / s", meta=meta
    )
    row, fwhm = find_object_row(stacked)
    rows = np.arange(rate.shape[0])
    for _ in range(2):  # the width from the preliminary sky is inflated: measure it again
        obj = np.abs(rows - row) <= max(1.5 * fwhm, 4.0)
        # a sloped sky needs sky rows on both sides of the object
        two_sided = (rows[~obj] < row).sum() >= 3 and (rows[~obj] > row).sum() >= 3
        sky = subtract_sky_along_slit(stacked, object_rows=obj, order=1 if two_sided else 0)
        row, fwhm = _object_from_profile(sky, row)
    sky.to_fnu = _to_fnu(first.wave, flux_scale or 1.0)
    return GroundPrepared(
        rect=sky,
        row=row,
        n_clipped=n_clipped,
        fluxcal="scaled" if flux_scale else "relative",
    )
