"""Where the spectra fall: trace masks from a trace table or detected from the data.

Trace table (**contract**; ECSV or any table astropy reads), one row per spectral trace, in
0-based full-frame detector pixels of the DMS orientation (dispersion along x):

=============  =====  ==========================================================
column         unit   meaning
=============  =====  ==========================================================
``trace_id``          integer identifier
``x_min``      pix    first column of the trace (inclusive)
``x_max``      pix    last column of the trace (inclusive)
``x_ref``      pix    reference column of the centre polynomial
``y_ref``      pix    centre row at ``x_ref``
``slope``             d(y)/d(x) at ``x_ref``
``curvature``  1/pix  second-order coefficient
``half_width`` pix    rows masked on each side of the centre
=============  =====  ==========================================================

The centre follows ``y(x) = y_ref + slope (x - x_ref) + curvature (x - x_ref)**2``. A trace
whose columns or centre leave the frame raises :class:`~slitwise.errors.SlitwiseInputError`
(a table for another detector or a mis-registered subarray); its half-width may be clipped.

Without a table, :func:`detect_trace_mask` finds traces in the data: the frame is collapsed
along the dispersion in column chunks (so a curved trace is followed chunk by chunk), a
running median along the rows removes the smooth background, rows above ``nsigma`` robust
standard deviations are kept and the result is dilated.

The fixed-slit region (:data:`FIXED_SLIT_ROWS`) always receives light through the fixed
slits, so :func:`fixed_slit_mask` is added to every mask.
"""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable
from scipy import ndimage

from slitwise.detector.stats import nanmedian
from slitwise.errors import input_error
from slitwise.io.atomic import atomic_path

__all__ = [
    "TRACE_COLUMNS",
    "FIXED_SLIT_ROWS",
    "make_trace_table",
    "read_trace_table",
    "write_trace_table",
    "trace_centre",
    "check_traces_on_frame",
    "trace_mask",
    "fixed_slit_mask",
    "detect_trace_mask",
]

#: Required trace-table columns, in order.
TRACE_COLUMNS = ("trace_id", "x_min", "x_max", "x_ref", "y_ref", "slope", "curvature", "half_width")
#: Full-frame rows (0-based, inclusive start, exclusive stop) masked for the fixed slits.
#: Approximate band in which the S200A1/A2, S400A1, S1600A1 and S200B1 spectra cross NRS1 and
#: NRS2 in the DMS orientation; pass ``fixed_slit_rows`` to override it.
FIXED_SLIT_ROWS = (920, 1110)

_PIX_COLS = ("x_min", "x_max", "x_ref", "y_ref", "half_width")


def make_trace_table(
    trace_id, x_min, x_max, x_ref, y_ref, slope, curvature, half_width, **extra
) -> QTable:
    """Build a trace table (see the module docstring) with units; ``extra`` columns are kept."""
    tab = QTable()
    tab["trace_id"] = np.asarray(trace_id, dtype=int)
    for name, val in (("x_min", x_min), ("x_max", x_max)):
        tab[name] = np.asarray(val, dtype=int) * u.pix
    tab["x_ref"] = np.asarray(x_ref, dtype=float) * u.pix
    tab["y_ref"] = np.asarray(y_ref, dtype=float) * u.pix
    tab["slope"] = np.asarray(slope, dtype=float)
    tab["curvature"] = np.asarray(curvature, dtype=float) / u.pix
    tab["half_width"] = np.asarray(half_width, dtype=float) * u.pix
    for name, val in extra.items():
        tab[name] = val
    return tab


def _plain(col) -> np.ndarray:
    return np.asarray(getattr(col, "value", col), dtype=float)


def read_trace_table(path: str | os.PathLike) -> QTable:
    """Read a trace table, checking that every column of :data:`TRACE_COLUMNS` is there.

    Raises
    ------
    SlitwiseInputError
        If the file is missing or unreadable, or a column is absent or not numeric.
    """
    path = str(path)
    if not os.path.exists(path):
        raise input_error(path, "trace table not found")
    try:
        tab = QTable.read(path)
    except Exception as exc:  # astropy raises many kinds for a foreign file
        raise input_error(path, f"not a readable table ({exc.__class__.__name__})") from exc
    missing = [c for c in TRACE_COLUMNS if c not in tab.colnames]
    if missing:
        raise input_error(
            path, f"trace table lacks column(s) {', '.join(missing)}; expected {TRACE_COLUMNS}"
        )
    for c in TRACE_COLUMNS:
        try:
            vals = _plain(tab[c])
        except (TypeError, ValueError) as exc:
            raise input_error(f"{path}[{c}]", "expected numbers") from exc
        if not np.all(np.isfinite(vals)):
            raise input_error(f"{path}[{c}]", "contains NaN or infinite values")
    tab.meta["path"] = path
    return tab


def write_trace_table(table: QTable, path: str | os.PathLike) -> Path:
    """Write a trace table as ECSV, atomically."""
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return Path(path)


def trace_centre(row, x: np.ndarray) -> np.ndarray:
    """Centre row of trace ``row`` at full-frame columns ``x``."""
    dx = np.asarray(x, dtype=float) - float(_plain(row["x_ref"]))
    return (
        float(_plain(row["y_ref"]))
        + float(row["slope"]) * dx
        + float(_plain(row["curvature"])) * dx**2
    )


def check_traces_on_frame(
    table: QTable, shape: tuple[int, int], *, origin: tuple[int, int] = (0, 0), where=None
) -> None:
    """Raise :class:`SlitwiseInputError` if a trace leaves the frame.

    Parameters
    ----------
    table : QTable
        Trace table.
    shape : tuple of int
        Frame shape ``(ny, nx)``.
    origin : tuple of int
        Full-frame ``(row, column)`` of the frame's first pixel.
    where : str, optional
        Name of the table in the message (default its ``meta['path']``).
    """
    where = where or table.meta.get("path", "trace table")
    r0, c0 = origin
    ny, nx = shape
    for row in table:
        tid = int(row["trace_id"])
        x0, x1 = int(_plain(row["x_min"])), int(_plain(row["x_max"]))
        if x1 < x0:
            raise input_error(f"{where}: trace {tid}", f"x_max {x1} < x_min {x0}")
        if x0 < c0 or x1 > c0 + nx - 1:
            raise input_error(
                f"{where}: trace {tid}",
                f"columns {x0}..{x1} fall off the detector frame (columns {c0}..{c0 + nx - 1})",
            )
        yc = trace_centre(row, np.arange(x0, x1 + 1))
        if yc.min() < r0 - 0.5 or yc.max() > r0 + ny - 0.5:
            raise input_error(
                f"{where}: trace {tid}",
                f"centre rows {yc.min():.1f}..{yc.max():.1f} fall off the detector frame "
                f"(rows {r0}..{r0 + ny - 1})",
            )


def trace_mask(
    table: QTable,
    shape: tuple[int, int],
    *,
    origin: tuple[int, int] = (0, 0),
    dilate: float = 0.0,
    where=None,
) -> np.ndarray:
    """Boolean mask (True = trace) of every trace in ``table``, following its curvature.

    Pixels within ``half_width + dilate`` rows of the centre are masked in every column of
    the trace. The table is checked with :func:`check_traces_on_frame` first.
    """
    check_traces_on_frame(table, shape, origin=origin, where=where)
    r0, c0 = origin
    ny, nx = shape
    mask = np.zeros(shape, dtype=bool)
    for row in table:
        x0, x1 = int(_plain(row["x_min"])), int(_plain(row["x_max"]))
        xs = np.arange(x0, x1 + 1)
        yc = trace_centre(row, xs) - r0
        hw = float(_plain(row["half_width"])) + dilate
        lo = np.clip(np.floor(yc - hw + 0.5).astype(int), 0, ny)
        hi = np.clip(np.floor(yc + hw + 0.5).astype(int) + 1, 0, ny)
        span = int((hi - lo).max(initial=0))
        rows = lo[None, :] + np.arange(span)[:, None]
        ok = rows < hi[None, :]
        cols = np.broadcast_to(xs - c0, rows.shape)
        mask[rows[ok], cols[ok]] = True
    return mask


def fixed_slit_mask(
    shape: tuple[int, int],
    *,
    origin: tuple[int, int] = (0, 0),
    rows: tuple[int, int] | None = FIXED_SLIT_ROWS,
) -> np.ndarray:
    """Mask of the fixed-slit band (full-frame ``rows``), cut to the frame; None masks nothing."""
    mask = np.zeros(shape, dtype=bool)
    if rows is not None:
        lo = max(int(rows[0]) - origin[0], 0)
        hi = min(int(rows[1]) - origin[0], shape[0])
        if hi > lo:
            mask[lo:hi] = True
    return mask


def detect_trace_mask(
    sci: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    chunk: int = 128,
    nsigma: float = 3.0,
    smooth: int = 61,
    min_rows: int = 2,
    dilate: int = 4,
) -> np.ndarray:
    """Detect spectral traces in a frame (True = trace).

    Parameters
    ----------
    sci : ndarray
        Count-rate image ``(ny, nx)``; NaNs are ignored.
    mask : ndarray of bool, optional
        Pixels to ignore (bad pixels, already-known traces).
    chunk : int
        Columns collapsed together (median along the dispersion); small enough that a
        curved trace moves by much less than its width within one chunk.
    nsigma : float
        Detection threshold in robust standard deviations of the collapsed profile.
    smooth : int
        Length (rows) of the running median removed from each profile (background, pedestal).
    min_rows : int
        Runs of fewer detected rows are dropped (noise spikes).
    dilate : int
        Rows added on each side of every detected run (the trace wings).

    Returns
    -------
    ndarray of bool
    """
    work = np.array(sci, dtype=float)
    if mask is not None:
        work[mask] = np.nan
    ny, nx = work.shape
    out = np.zeros(work.shape, dtype=bool)
    structure = np.ones(2 * dilate + 1, dtype=bool) if dilate > 0 else None
    for c0 in range(0, nx, chunk):
        block = work[:, c0 : c0 + chunk]
        good = np.isfinite(block).sum(axis=1)
        prof = np.full(ny, np.nan)
        rows_ok = good > 0
        prof[rows_ok] = nanmedian(block[rows_ok], axis=1)
        if rows_ok.sum() < 3 * min_rows:
            continue
        filled = np.interp(np.arange(ny), np.flatnonzero(rows_ok), prof[rows_ok])
        hp = filled - ndimage.median_filter(filled, size=smooth, mode="nearest")
        ref = hp[rows_ok]
        sig = 1.4826 * np.median(np.abs(ref - np.median(ref)))
        if not np.isfinite(sig) or sig <= 0:
            continue
        hits = (hp > nsigma * sig) & rows_ok
        labels, n = ndimage.label(hits)
        if n == 0:
            continue
        sizes = ndimage.sum_labels(hits, labels, index=np.arange(1, n + 1))
        keep = np.isin(labels, np.flatnonzero(sizes >= min_rows) + 1)
        if structure is not None:
            keep = ndimage.binary_dilation(keep, structure=structure)
        out[:, c0 : c0 + chunk] |= keep[:, None]
    return out
