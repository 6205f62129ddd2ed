"""One-dimensional wavelength calibration of an arc spectrum, with independent quality checks.

:func:`solve_arc` detects lines, identifies them against lamp catalogues by pattern matching
(:mod:`slitwise.calib.arcid`) from approximate hints only, fits a robust Legendre solution and
then judges it on criteria other than the fit RMS (a wrong identification can have a tiny RMS):

========================  ===  ==============================================================
flag                      bit  meaning
========================  ===  ==============================================================
``FEW_LINES``             0    fewer than ``min_lines`` identified lines
``POOR_COVERAGE``         1    identified lines span less than half of the detector
``LARGE_GAP``             2    a gap between neighbouring identified lines exceeds 25 % of it
``AMBIGUOUS``             3    another solution scores >= 90 % as well but disagrees by > 1 px
``EDGE_UNSTABLE``         4    an outermost line is not predicted (> 1 px) by the other lines
``HIGH_RMS``              5    residual scatter above 0.3 px
``NO_SOLUTION``           6    no identification survived
========================  ===  ==============================================================

A solution is *reliable* when none of ``FEW_LINES``, ``HIGH_RMS``, ``AMBIGUOUS``,
``EDGE_UNSTABLE`` and ``NO_SOLUTION`` is set. Per pixel,
:meth:`WavelengthSolution.pixel_flags` marks extrapolation beyond the outermost identified
lines (bit 0) and pixels inside a large gap (bit 1).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table

from slitwise.calib.arcid import identify_arc_lines
from slitwise.calib.linedetect import DetectedLines, detect_lines
from slitwise.calib.linelists import load_line_list
from slitwise.calib.wavefit import PolyFit, loo_residuals, robust_polyfit
from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic

__all__ = [
    "WaveQuality",
    "PixelFlag",
    "RELIABLE_MASK",
    "WavelengthSolution",
    "solve_arc",
    "read_arc_spectrum",
    "write_solution",
    "read_solution",
]

log = logging.getLogger(__name__)


class WaveQuality(enum.IntFlag):
    """Quality bits of a wavelength solution (see the module docstring)."""

    FEW_LINES = 1
    POOR_COVERAGE = 2
    LARGE_GAP = 4
    AMBIGUOUS = 8
    EDGE_UNSTABLE = 16
    HIGH_RMS = 32
    NO_SOLUTION = 64


class PixelFlag(enum.IntFlag):
    """Per-pixel flags of the ``WAVE`` table."""

    EXTRAPOLATED = 1
    IN_GAP = 2


#: Any of these bits makes a solution unreliable.
RELIABLE_MASK = (
    WaveQuality.FEW_LINES
    | WaveQuality.HIGH_RMS
    | WaveQuality.AMBIGUOUS
    | WaveQuality.EDGE_UNSTABLE
    | WaveQuality.NO_SOLUTION
)

_GAP_FRACTION = 0.25


@dataclasses.dataclass(frozen=True)
class WavelengthSolution:
    """A pixel -> wavelength solution and the lines behind it.

    Attributes
    ----------
    fit : PolyFit or None
        Legendre series giving the wavelength in Angstrom (None when no solution).
    npix : int
        Number of pixels.
    line_pixel, line_wave : ndarray
        Identified lines: centroid (pixel) and catalogue wavelength (Angstrom).
    line_ion : ndarray of str
        Ion / lamp of each identified line.
    line_used : ndarray of bool
        Lines kept by the final rejection.
    quality : WaveQuality
        Quality bits.
    rms_px : float
        RMS residual of the used lines in pixels.
    detected : DetectedLines or None
        All detected lines.
    """

    fit: PolyFit | None
    npix: int
    line_pixel: np.ndarray
    line_wave: np.ndarray
    line_ion: np.ndarray
    line_used: np.ndarray
    quality: WaveQuality
    rms_px: float
    detected: DetectedLines | None = None

    @property
    def reliable(self) -> bool:
        """True when no critical quality bit is set."""
        return not (self.quality & RELIABLE_MASK)

    @property
    def n_lines(self) -> int:
        """Number of identified lines used in the fit."""
        return int(np.sum(self.line_used))

    @property
    def identified_range(self) -> tuple[float, float]:
        """Pixel range covered by the used identified lines."""
        p = self.line_pixel[self.line_used]
        return (float(p.min()), float(p.max())) if p.size else (np.nan, np.nan)

    def wavelength(self, pixel: np.ndarray | float | None = None) -> u.Quantity:
        """Wavelength (Angstrom) at ``pixel`` (default: every pixel)."""
        if self.fit is None:
            raise input_error("wavelength solution", "no solution (NO_SOLUTION flag set)")
        if pixel is None:
            pixel = np.arange(self.npix)
        return self.fit(np.asarray(pixel, float)) * u.AA

    def dispersion(self, pixel: np.ndarray | float | None = None) -> u.Quantity:
        """Local dispersion (Angstrom per pixel)."""
        if self.fit is None:
            raise input_error("wavelength solution", "no solution (NO_SOLUTION flag set)")
        if pixel is None:
            pixel = np.arange(self.npix)
        return self.fit.derivative(np.asarray(pixel, float)) * u.AA

    def pixel_at(self, wave: u.Quantity | np.ndarray) -> np.ndarray:
        """Inverse solution: pixel of each wavelength (Angstrom if unitless), by interpolation."""
        grid = np.arange(self.npix, dtype=float)
        lam = self.wavelength(grid).value
        w = wave.to_value(u.AA) if isinstance(wave, u.Quantity) else np.asarray(wave, float)
        return np.interp(w, lam, grid, left=np.nan, right=np.nan)

    def pixel_flags(self) -> np.ndarray:
        """Per-pixel :class:`PixelFlag` bits (extrapolated, inside a large gap)."""
        flags = np.zeros(self.npix, np.int16)
        pix = np.arange(self.npix)
        p = np.sort(self.line_pixel[self.line_used])
        if p.size == 0:
            return flags | PixelFlag.EXTRAPOLATED
        flags[(pix < p[0]) | (pix > p[-1])] |= PixelFlag.EXTRAPOLATED
        for a, b in zip(p[:-1], p[1:], strict=True):
            if b - a > _GAP_FRACTION * self.npix:
                flags[(pix > a) & (pix < b)] |= PixelFlag.IN_GAP
        return flags

    def quality_names(self) -> list[str]:
        """Names of the quality bits set."""
        return [f.name for f in WaveQuality if f & self.quality]


def _assess(
    fit: PolyFit,
    pixels: np.ndarray,
    waves: np.ndarray,
    npix: int,
    alternatives: Sequence,
    score: float,
    *,
    min_lines: int,
) -> tuple[WaveQuality, float]:
    """Quality bits of a fit from its lines and competitors."""
    q = WaveQuality(0)
    disp = np.abs(fit.derivative(pixels))
    resid = (waves - fit(pixels)) / disp
    rms = float(np.sqrt(np.mean(resid**2))) if resid.size else np.inf
    if pixels.size < min_lines:
        q |= WaveQuality.FEW_LINES
    if pixels.size < 2:
        return q | WaveQuality.POOR_COVERAGE, rms
    p = np.sort(pixels)
    if (p[-1] - p[0]) < 0.5 * npix:
        q |= WaveQuality.POOR_COVERAGE
    if np.max(np.diff(p)) > _GAP_FRACTION * npix:
        q |= WaveQuality.LARGE_GAP
    if rms > 0.3:
        q |= WaveQuality.HIGH_RMS
    if pixels.size > fit.order + 2:
        loo = loo_residuals(pixels, waves, fit.order, npix) / disp
        ends = np.argsort(pixels)[[0, -1]]
        if np.any(np.abs(loo[ends]) > 1.0):
            q |= WaveQuality.EDGE_UNSTABLE
    grid = np.linspace(p[0], p[-1], 200)
    dgrid = np.abs(fit.derivative(grid))
    for alt_score, alt_fit in alternatives:
        if alt_score < 0.9 * score:
            break
        if np.max(np.abs(alt_fit(grid) - fit(grid)) / dgrid) > 1.0:
            q |= WaveQuality.AMBIGUOUS
            break
    return q, rms


def solve_arc(
    flux: np.ndarray,
    lamps: str | Sequence[str] | QTable,
    *,
    dispersion: u.Quantity | float,
    central_wavelength: u.Quantity | float,
    dispersion_tol: float = 0.10,
    wavelength_tol: float = 0.02,
    nsigma: float = 5.0,
    max_lines: int = 120,
    max_order: int | None = None,
    min_lines: int = 8,
    final_floor: float = 0.1,
) -> WavelengthSolution:
    """Wavelength-calibrate a 1D arc spectrum from approximate hints only.

    Parameters
    ----------
    flux : ndarray
        Arc (or sky) spectrum, one value per pixel.
    lamps : str, sequence of str, or QTable
        Lamp names for :func:`~slitwise.calib.linelists.load_line_list`, or a line table
        with a ``wave`` column.
    dispersion : Quantity or float
        Approximate mean dispersion (Angstrom per pixel if unitless); negative when the
        wavelength decreases with pixel.
    central_wavelength : Quantity or float
        Approximate wavelength at the central pixel (Angstrom if unitless).
    dispersion_tol, wavelength_tol : float
        Relative uncertainty of the two hints.
    nsigma : float
        Line detection threshold.
    max_lines : int
        Strongest detected lines used.
    max_order : int, optional
        Highest Legendre order (default 5, or 6 above 6000 pixels).
    min_lines : int
        Fewer identified lines set ``FEW_LINES``.
    final_floor : float
        Residuals (pixels) below this are never rejected by the final 3-sigma clipping.

    Returns
    -------
    WavelengthSolution
        Check :attr:`WavelengthSolution.reliable` and ``quality`` before trusting it.

    Raises
    ------
    SlitwiseInputError
        Bad hints (non-positive wavelength, zero dispersion) or a flux array that is not 1D.
    """
    flux = np.asarray(flux, dtype=float)
    if flux.ndim != 1:
        raise input_error("flux", f"expected a 1D spectrum, got shape {flux.shape}")
    npix = flux.size
    disp = _to_angstrom(dispersion, "dispersion")
    wcen = _to_angstrom(central_wavelength, "central_wavelength")
    if disp == 0 or not np.isfinite(disp):
        raise input_error("dispersion", f"must be a non-zero finite number, got {disp}")
    if wcen <= 0 or not np.isfinite(wcen):
        raise input_error("central_wavelength", f"must be positive, got {wcen}")
    flipped = disp < 0
    work = flux[::-1] if flipped else flux
    disp = abs(disp)
    if max_order is None:
        max_order = 6 if npix > 6000 else 5
    half = 0.5 * npix * disp * (1 + dispersion_tol) * 1.4 + wavelength_tol * wcen
    if isinstance(lamps, QTable | Table):
        table = lamps
        cat_wave = np.asarray(u.Quantity(table["wave"], u.AA).value, float)
        ions = np.asarray(table["ion"]) if "ion" in table.colnames else np.full(len(table), "")
        order = np.argsort(cat_wave)
        cat_wave, ions = cat_wave[order], ions[order]
    else:
        table = load_line_list(lamps, wave_min=wcen - half, wave_max=wcen + half)
        cat_wave = table["wave"].to_value(u.AA)
        ions = np.asarray(table["ion"])
    lines = detect_lines(work, nsigma=nsigma, max_lines=max_lines)
    if len(lines) < 4 or cat_wave.size < 4:
        log.warning(
            "arc: %d lines detected, %d catalogue lines: no solution", len(lines), cat_wave.size
        )
        return _no_solution(npix, lines)
    match = identify_arc_lines(
        lines.pixel,
        cat_wave,
        npix=npix,
        dispersion=disp,
        central_wavelength=wcen,
        amplitudes=lines.amplitude,
        dispersion_tol=dispersion_tol,
        wavelength_tol=wavelength_tol,
        max_order=max_order,
    )
    if match is None:
        log.warning("arc: no line identification consistent with the hints")
        return _no_solution(npix, lines)
    pix = lines.pixel[match.det_index]
    wav = cat_wave[match.cat_index]
    # Final clipping at 3 sigma (never below final_floor px): lines kept in LINES, used=False.
    fit, used = robust_polyfit(
        pix,
        wav,
        match.fit.order,
        npix,
        scale=1.0 / np.abs(match.fit.derivative(pix)),
        nsigma=3.0,
        floor=final_floor,
        max_reject=0.2,
    )
    quality, rms = _assess(
        fit, pix[used], wav[used], npix, match.alternatives, match.score, min_lines=min_lines
    )
    line_ion = ions[match.cat_index]
    if flipped:
        pix = (npix - 1) - pix
        fit = _flip_fit(fit)
        lines = dataclasses.replace(
            lines,
            pixel=(npix - 1) - lines.pixel[::-1],
            amplitude=lines.amplitude[::-1],
            significance=lines.significance[::-1],
            width=lines.width[::-1],
        )
        order = np.argsort(pix)
        pix, wav, line_ion, used = pix[order], wav[order], line_ion[order], used[order]
    sol = WavelengthSolution(
        fit=fit,
        npix=npix,
        line_pixel=pix,
        line_wave=wav,
        line_ion=np.asarray(line_ion, dtype=str),
        line_used=used,
        quality=quality,
        rms_px=rms,
        detected=lines,
    )
    log.info(
        "arc: %d lines identified, rms %.3f px, quality %s",
        sol.n_lines,
        rms,
        ",".join(sol.quality_names()) or "OK",
    )
    return sol


def _flip_fit(fit: PolyFit) -> PolyFit:
    """The same solution in the reversed pixel axis (Legendre P_k(-x) = (-1)^k P_k(x))."""
    signs = (-1.0) ** np.arange(fit.coeffs.size)
    return PolyFit(coeffs=fit.coeffs * signs, npix=fit.npix)


def _no_solution(npix: int, lines: DetectedLines | None) -> WavelengthSolution:
    empty = np.zeros(0)
    return WavelengthSolution(
        fit=None,
        npix=npix,
        line_pixel=empty,
        line_wave=empty,
        line_ion=np.zeros(0, dtype=str),
        line_used=np.zeros(0, bool),
        quality=WaveQuality.NO_SOLUTION | WaveQuality.FEW_LINES,
        rms_px=np.nan,
        detected=lines,
    )


def _to_angstrom(value: u.Quantity | float, name: str) -> float:
    if isinstance(value, u.Quantity):
        try:
            return float(value.to_value(u.AA))
        except u.UnitConversionError:
            raise input_error(name, f"expected Angstrom-like units, got {value.unit}") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise input_error(name, f"expected a number, got {value!r}") from None


def read_arc_spectrum(path: str | os.PathLike, *, column: str = "flux") -> np.ndarray:
    """Read a 1D arc: a FITS table with a ``column`` column, or a 1D image (first HDU with data).

    Raises
    ------
    SlitwiseInputError
        File missing, not FITS, or without a 1D spectrum.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "arc file not found")
    try:
        hdul = fits.open(path, memmap=False)
    except OSError as exc:
        raise input_error(path, f"not a readable FITS file ({exc})") from None
    with hdul:
        for i, hdu in enumerate(hdul):
            if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
                if column in hdu.columns.names:
                    return np.asarray(hdu.data[column], dtype=float).ravel()
                raise input_error(f"{path}[{i}]", f"table has no column '{column}'")
            if hdu.data is not None and np.ndim(hdu.data) == 1:
                return np.asarray(hdu.data, dtype=float)
    raise input_error(path, f"no 1D image and no table with a '{column}' column")


def write_solution(solution: WavelengthSolution, path: str | os.PathLike) -> Path:
    """Write a solution: PRIMARY (quality, coefficients), ``WAVE`` and ``LINES`` tables.

    ``WAVE`` has ``pixel``, ``wave`` [Angstrom] and ``flag`` (:class:`PixelFlag`) for every
    pixel; ``LINES`` has ``pixel``, ``wave`` [Angstrom], ``ion``, ``resid_px`` and ``used``.
    """
    prim = fits.Header()
    prim["ORIGIN"] = "slitwise"
    prim["WCQUAL"] = (int(solution.quality), "wavelength-solution quality bits")
    prim["WCQNAMES"] = (",".join(solution.quality_names()) or "OK", "quality bits set")
    prim["WCRELIAB"] = (solution.reliable, "no critical quality bit set")
    prim["WCNLINES"] = (solution.n_lines, "identified lines used")
    prim["WCRMS"] = (
        float(solution.rms_px) if np.isfinite(solution.rms_px) else -1.0,
        "[pix] rms of line residuals",
    )
    prim["WCNPIX"] = (solution.npix, "pixels along dispersion")
    pix = np.arange(solution.npix, dtype=float)
    if solution.fit is not None:
        prim["WCFUNC"] = ("legendre", "x = 2 * pixel / (WCNPIX - 1) - 1")
        prim["WCORDER"] = solution.fit.order
        for k, c in enumerate(solution.fit.coeffs):
            prim[f"WCCOEF{k}"] = (float(c), "[Angstrom] Legendre coefficient")
        wave = solution.wavelength(pix).value
        resid = (solution.line_wave - solution.fit(solution.line_pixel)) / np.abs(
            solution.fit.derivative(solution.line_pixel)
        )
    else:
        wave = np.full(solution.npix, np.nan)
        resid = np.zeros(0)
    wave_tab = Table()
    wave_tab["pixel"] = pix
    wave_tab["wave"] = wave
    wave_tab["wave"].unit = u.AA
    wave_tab["flag"] = solution.pixel_flags()
    lines_tab = Table()
    lines_tab["pixel"] = np.asarray(solution.line_pixel, float)
    lines_tab["wave"] = np.asarray(solution.line_wave, float)
    lines_tab["wave"].unit = u.AA
    lines_tab["ion"] = np.asarray(solution.line_ion, dtype="U12")
    lines_tab["resid_px"] = np.asarray(resid, float)
    lines_tab["used"] = np.asarray(solution.line_used, bool)
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(header=prim),
            fits.BinTableHDU(wave_tab, name="WAVE"),
            fits.BinTableHDU(lines_tab, name="LINES"),
        ]
    )
    return write_fits_atomic(hdul, path)


def read_solution(path: str | os.PathLike) -> WavelengthSolution:
    """Read a solution written by :func:`write_solution`."""
    path = Path(path)
    try:
        hdul = fits.open(path, memmap=False)
    except (OSError, FileNotFoundError) as exc:
        raise input_error(path, f"cannot open wavelength solution ({exc})") from None
    with hdul:
        names = {h.name for h in hdul}
        for name in ("WAVE", "LINES"):
            if name not in names:
                raise input_error(f"{path}[{name}]", "HDU missing; not a slitwise wavecal file")
        prim = hdul[0].header
        npix = int(prim["WCNPIX"])
        fit = None
        if "WCORDER" in prim:
            coeffs = np.array([prim[f"WCCOEF{k}"] for k in range(int(prim["WCORDER"]) + 1)])
            fit = PolyFit(coeffs=coeffs, npix=npix)
        lines = hdul["LINES"].data
        rms = float(prim.get("WCRMS", -1.0))
        return WavelengthSolution(
            fit=fit,
            npix=npix,
            line_pixel=np.asarray(lines["pixel"], float),
            line_wave=np.asarray(lines["wave"], float),
            line_ion=np.asarray(lines["ion"]).astype(str),
            line_used=np.asarray(lines["used"], bool),
            quality=WaveQuality(int(prim["WCQUAL"])),
            rms_px=rms if rms >= 0 else np.nan,
        )
