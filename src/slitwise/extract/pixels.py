"""The pixel table: every usable detector pixel of a nod group, with its wavelength bin.

Extraction works on the original pixels (no resampling): each pixel is assigned to exactly one
bin of the output wavelength grid (nearest bin centre), and every per-bin quantity is a
weighted sum over the pixels of that bin (:func:`binned_solve`). Noise is therefore never
correlated between output bins.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["PixelTable", "binned_solve", "assign_bins", "build_pixel_table"]


@dataclasses.dataclass(eq=False)
class PixelTable:
    """Flattened usable pixels of ``n_exp`` exposures.

    Attributes
    ----------
    sci, var : ndarray (npix,)
        Background-subtracted data and variance.
    wave, row, col : ndarray (npix,)
        Wavelength (um), detector row and column of each pixel.
    exp : ndarray of int (npix,)
        Exposure index.
    bin : ndarray of int (npix,)
        Output wavelength bin.
    nbins : int
        Number of output bins.
    n_exp : int
        Number of exposures.
    neg_weights : ndarray (npix, n_exp) or None
        Weight of exposure ``j`` in this pixel's background (negative source images).
    flat_index : ndarray of int (npix,)
        Index into the exposure's flattened ``(ny, nx)`` array.
    """

    sci: np.ndarray
    var: np.ndarray
    wave: np.ndarray
    row: np.ndarray
    col: np.ndarray
    exp: np.ndarray
    bin: np.ndarray
    nbins: int
    n_exp: int
    neg_weights: np.ndarray | None
    flat_index: np.ndarray

    def subset(self, keep: np.ndarray) -> PixelTable:
        """The pixels where ``keep`` is True."""
        return PixelTable(
            sci=self.sci[keep],
            var=self.var[keep],
            wave=self.wave[keep],
            row=self.row[keep],
            col=self.col[keep],
            exp=self.exp[keep],
            bin=self.bin[keep],
            nbins=self.nbins,
            n_exp=self.n_exp,
            neg_weights=None if self.neg_weights is None else self.neg_weights[keep],
            flat_index=self.flat_index[keep],
        )


def assign_bins(wave: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index of the nearest ``grid`` centre for every wavelength (-1 outside the grid)."""
    first = 1.5 * grid[0] - 0.5 * grid[1]
    last = 1.5 * grid[-1] - 0.5 * grid[-2]
    edges = np.concatenate([[first], 0.5 * (grid[1:] + grid[:-1]), [last]])
    idx = np.searchsorted(edges, wave) - 1
    idx[(idx < 0) | (idx >= grid.size) | ~np.isfinite(wave)] = -1
    return idx


def build_pixel_table(
    sci: list[np.ndarray],
    var: list[np.ndarray],
    wave: list[np.ndarray],
    grid: np.ndarray,
    *,
    neg_weights: list[np.ndarray] | None = None,
    use: list[np.ndarray] | None = None,
) -> PixelTable:
    """Flatten the usable pixels of several exposures into a :class:`PixelTable`.

    Parameters
    ----------
    sci, var, wave : list of ndarray (ny, nx)
        Per exposure: data, variance and wavelength.
    grid : ndarray
        Output wavelength bin centres (increasing).
    neg_weights : list of ndarray (n_exp, ny, nx), optional
        Background weights of each exposure (from the nod subtraction).
    use : list of bool ndarray, optional
        Extra selection per exposure (e.g. excluded exposures all False).
    """
    parts = {k: [] for k in ("sci", "var", "wave", "row", "col", "exp", "bin", "flat", "neg")}
    n = len(sci)
    for e in range(n):
        ny, nx = sci[e].shape
        rows, cols = np.mgrid[0:ny, 0:nx]
        b = assign_bins(wave[e].ravel(), grid).reshape(ny, nx)
        ok = np.isfinite(sci[e]) & np.isfinite(var[e]) & (var[e] > 0) & (b >= 0)
        if use is not None:
            ok &= use[e]
        flat = np.flatnonzero(ok)
        parts["sci"].append(sci[e].ravel()[flat])
        parts["var"].append(var[e].ravel()[flat])
        parts["wave"].append(wave[e].ravel()[flat])
        parts["row"].append(rows.ravel()[flat].astype(float))
        parts["col"].append(cols.ravel()[flat].astype(float))
        parts["exp"].append(np.full(flat.size, e, dtype=int))
        parts["bin"].append(b.ravel()[flat])
        parts["flat"].append(flat)
        if neg_weights is not None:
            parts["neg"].append(neg_weights[e].reshape(n, -1)[:, flat].T)
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items() if k != "neg"}
    neg = np.concatenate(parts["neg"], axis=0) if neg_weights is not None else None
    return PixelTable(
        sci=cat["sci"],
        var=cat["var"],
        wave=cat["wave"],
        row=cat["row"],
        col=cat["col"],
        exp=cat["exp"].astype(int),
        bin=cat["bin"].astype(int),
        nbins=int(grid.size),
        n_exp=n,
        neg_weights=neg,
        flat_index=cat["flat"].astype(int),
    )


def binned_solve(
    data: np.ndarray, wgt: np.ndarray, model: np.ndarray, bins: np.ndarray, nbins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares amplitude per bin: ``sum(w d m) / sum(w m^2)``.

    Returns the amplitude and its variance ``1 / sum(w m^2)`` (NaN where a bin has no
    model weight).
    """
    num = np.bincount(bins, wgt * data * model, minlength=nbins)
    den = np.bincount(bins, wgt * model * model, minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        amp = np.where(den > 0, num / den, 0.0)
        var = np.where(den > 0, 1.0 / den, np.nan)
    return amp, var
