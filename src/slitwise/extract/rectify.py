"""Rectification onto a regular (wavelength, cross-dispersion) grid.

Every input pixel lands in exactly one output bin: the wavelength bin whose centre is nearest
to the pixel's wavelength and the row nearest to its offset from the source trace (weighted
nearest neighbour). Each output bin holds the inverse-variance weighted mean of its pixels, so
noise is never shared between bins (no interpolation, no correlated noise along wavelength).

The wavelength grid follows the dispersion: for PRISM one bin per detector column along the
trace (non-linear in wavelength), for the gratings a linear grid with the median dispersion.
"""

from __future__ import annotations

import numpy as np

from slitwise.errors import input_error
from slitwise.extract.pixels import PixelTable
from slitwise.extract.profile import TraceProfile
from slitwise.spectra.rectified import RectifiedSpectrum2D

__all__ = ["wavelength_grid", "rectify"]


def wavelength_grid(
    wave: np.ndarray, trace_row: float | None = None, *, prism: bool, oversample: float = 1.0
) -> np.ndarray:
    """Output wavelength grid (um) from a cut-out's wavelength map.

    Parameters
    ----------
    wave : ndarray (ny, nx)
        Wavelength of each pixel (NaN outside the slit).
    trace_row : float, optional
        Row of the source; the central illuminated row by default.
    prism : bool
        Follow the dispersion (one bin per column) instead of a linear grid.
    oversample : float
        Bins per detector column.

    Raises
    ------
    SlitwiseInputError
        If the map holds no finite wavelength.
    """
    wave = np.asarray(wave, dtype=float)
    finite = np.isfinite(wave)
    if not np.any(finite):
        raise input_error("WAVELENGTH", "no finite wavelength in the cut-out")
    ny, nx = wave.shape
    if trace_row is None:
        rows_ok = np.flatnonzero(finite.sum(axis=1) > 0)
        trace_row = 0.5 * (rows_ok[0] + rows_ok[-1])
    # wavelength along the trace row, each column filled from the nearest row that has one
    order = np.argsort(np.abs(np.arange(ny) - trace_row), kind="stable")
    lam = np.full(nx, np.nan)
    for r in order:
        fill = ~np.isfinite(lam) & finite[r]
        lam[fill] = wave[r, fill]
    lam = lam[np.isfinite(lam)]
    lam = np.sort(lam)
    lam = lam[np.concatenate([[True], np.diff(lam) > 0])]
    if lam.size < 2:
        raise input_error("WAVELENGTH", "fewer than two distinct wavelengths along the trace")
    # extend by the range covered by other rows so that tilted pixels still land in a bin
    lo, hi = np.nanmin(wave), np.nanmax(wave)
    if prism:
        x = np.arange(lam.size)
        step = 1.0 / oversample
        xs = np.arange(0.0, lam.size - 1 + 1e-9, step)
        grid = np.interp(xs, x, lam)
        d0, d1 = grid[1] - grid[0], grid[-1] - grid[-2]
        pre = np.arange(grid[0] - d0, lo - 0.5 * d0, -d0)[::-1]
        post = np.arange(grid[-1] + d1, hi + 0.5 * d1, d1)
        return np.concatenate([pre, grid, post])
    step = np.median(np.diff(lam)) / oversample
    return np.arange(lo, hi + 0.5 * step, step)


def rectify(
    table: PixelTable,
    trace: TraceProfile,
    grid: np.ndarray,
    *,
    half_height: int = 8,
    data: np.ndarray | None = None,
    variance: np.ndarray | None = None,
    used: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    to_fnu: float | np.ndarray = 1.0,
    meta: dict | None = None,
) -> RectifiedSpectrum2D:
    """Rectify the pixels of a nod group onto (trace offset, wavelength) bins.

    Parameters
    ----------
    table : PixelTable
        Pixels of all exposures with their wavelength bins.
    trace : TraceProfile
        Gives each exposure's trace row at each wavelength; rows are measured from it.
    grid : ndarray (nx,)
        Wavelength bin centres (the bins of ``table``).
    half_height : int
        Output rows run from ``-half_height`` to ``+half_height``.
    data, variance : ndarray (npix,), optional
        Values to rectify instead of ``table.sci`` / ``table.var`` (e.g. after background).
    used : bool ndarray (npix,), optional
        Pixels to include.
    weights : ndarray (npix,), optional
        Combination weights (default ``1 / variance``). Weights that do not depend on the
        source signal (e.g. the sky and read-noise variance only) keep the mean unbiased.

    Returns
    -------
    RectifiedSpectrum2D
        Weighted-mean SCI, its variance, and WHT = sum of the weights.
    """
    data = table.sci if data is None else data
    variance = table.var if variance is None else variance
    y = np.arange(-half_height, half_height + 1, dtype=float)
    dy = table.row - trace.centre(table.col, table.exp)
    iy = np.rint(dy).astype(int) + half_height
    ok = (iy >= 0) & (iy < y.size) & np.isfinite(data) & (variance > 0)
    if used is not None:
        ok &= used
    nx = grid.size
    idx = iy[ok] * nx + table.bin[ok]
    w = 1.0 / variance[ok] if weights is None else weights[ok]
    size = y.size * nx
    wsum = np.bincount(idx, w, minlength=size).reshape(y.size, nx)
    dsum = np.bincount(idx, w * data[ok], minlength=size).reshape(y.size, nx)
    vsum = np.bincount(idx, w * w * variance[ok], minlength=size).reshape(y.size, nx)
    with np.errstate(invalid="ignore", divide="ignore"):
        sci = np.where(wsum > 0, dsum / wsum, np.nan)
        var = np.where(wsum > 0, vsum / wsum**2, np.nan)
    return RectifiedSpectrum2D(
        sci=sci,
        var=var,
        wave=np.asarray(grid, dtype=float),
        y=y,
        wht=wsum,
        bunit="uJy",
        to_fnu=to_fnu,
        meta=dict(meta or {}, y_unit="pixel offset from the trace"),
    )
