"""1/f noise: column offsets (readout direction) and row offsets.

In the DMS orientation the NIRSpec fast-readout direction runs along the columns within each
512-row amplifier band, so low-frequency (1/f) read noise shows up as a different offset in
every column of every band. :func:`column_offsets` takes the median of each column over the
unmasked pixels of each band; a band-column with fewer than ``min_pixels`` usable pixels
takes the median of its whole column, and a column with too few pixels anywhere takes the
value interpolated from its neighbours, so that fully masked columns never produce NaN.

:func:`row_offsets` does the same along rows (one value per row over the whole width). It is
only safe when the traces leave most of every row free, i.e. for the PRISM.
"""

from __future__ import annotations

import numpy as np

from slitwise.detector.pedestal import BAND_ROWS, amplifier_bands
from slitwise.detector.stats import nanmedian

__all__ = ["column_offsets", "row_offsets"]


def _fill_1d(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Replace entries where ``ok`` is False by linear interpolation (0 if none is ok)."""
    if ok.all():
        return values
    if not ok.any():
        return np.zeros_like(values)
    idx = np.arange(values.size)
    return np.interp(idx, idx[ok], values[ok])


def column_offsets(
    resid: np.ndarray,
    mask: np.ndarray,
    *,
    origin: tuple[int, int] = (0, 0),
    band_rows: int | None = BAND_ROWS,
    min_pixels: int = 20,
) -> np.ndarray:
    """Column 1/f model: per amplifier band, the median of each column over unmasked pixels.

    Parameters
    ----------
    resid : ndarray
        Frame minus the other components.
    mask : ndarray of bool
        True where pixels must not be used.
    origin : tuple of int
        Full-frame position of the frame (bands are in full-frame rows).
    band_rows : int or None
        Rows per amplifier band; None uses whole columns.
    min_pixels : int
        Fewest unmasked pixels for a median.

    Returns
    -------
    ndarray
        The model (same shape as ``resid``), finite everywhere.
    """
    work = np.where(mask, np.nan, resid)
    good = np.isfinite(work)

    def whole_columns() -> np.ndarray:
        med = nanmedian(work, axis=0)
        return _fill_1d(np.nan_to_num(med), good.sum(axis=0) >= min_pixels)

    model = np.empty(resid.shape)
    if band_rows is None:
        model[:] = whole_columns()[None, :]
        return model
    full = None
    for band in amplifier_bands(resid.shape, origin=origin, band_rows=band_rows):
        use = good[band].sum(axis=0) >= min_pixels
        med = np.nan_to_num(nanmedian(work[band], axis=0))
        if not use.all():
            full = whole_columns() if full is None else full
            med = np.where(use, med, full)
        model[band] = med[None, :]
    return model


def row_offsets(resid: np.ndarray, mask: np.ndarray, *, min_pixels: int = 20) -> np.ndarray:
    """Row 1/f model: the median of each row over unmasked pixels (finite everywhere)."""
    work = np.where(mask, np.nan, resid)
    n = np.isfinite(work).sum(axis=1)
    med = _fill_1d(np.nan_to_num(nanmedian(work, axis=1)), n >= min_pixels)
    return np.broadcast_to(med[:, None], resid.shape).copy()
