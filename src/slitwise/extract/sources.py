"""Every source in the slitlet: detection of secondary (serendipitous) sources.

After the primary source is modelled, a secondary source at a row offset ``dy`` from it moves
with the nods exactly like the primary (same trace shape, own offset), so its model is the
primary's trace shifted by ``dy``. For a grid of offsets the data are fitted with the known
sources plus that model, all amplitudes solved together in every wavelength bin, and the
detection statistic is the chi-square gain over the known sources alone, summed over
wavelength and compared with its expectation for pure noise (the number of bins). Fitting
jointly matters for close pairs: a secondary 2-3 rows from the primary is partly absorbed by a
primary-only fit, and its residual then hides it. Significant peaks away from the primary are
secondaries; they are then extracted jointly with the primary (deblending).

A secondary need not be inside the slitlet in every nod (a source near the end of a
three-shutter slitlet falls on a closed shutter in one nod). Its model in each exposure is
therefore limited to the nods whose slitlet rows contain its centre (:func:`visibility`): no
image there, and no negative image in the exposures that use such a nod as background.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from slitwise.extract.optimal import _solve_bins
from slitwise.extract.pixels import PixelTable
from slitwise.extract.profile import TraceProfile, model_matrix, profile_values

__all__ = ["find_secondary_sources", "visibility", "edge_rows", "EDGE_MARGIN"]

#: A secondary counts as inside the slitlet of an exposure when its centre is at least this
#: many rows from the slitlet's first and last row (closer, it sits on the shutter frame:
#: the simulator and real shutters show little or none of its light there).

log = logging.getLogger(__name__)
EDGE_MARGIN = 2.0


def find_secondary_sources(
    table: PixelTable,
    traces: list[TraceProfile],
    pixvar: np.ndarray,
    *,
    used: np.ndarray | None = None,
    min_separation: float = 2.5,
    nsigma: float = 8.0,
    max_sources: int = 2,
    step: float = 1.0,
    source_sigma: float = 0.5,
) -> list[float]:
    """Row offsets (relative to the primary) of significant secondary sources.

    Parameters
    ----------
    table : PixelTable
        Background-subtracted pixels.
    traces : list of TraceProfile
        Sources already modelled (the primary first); their amplitudes are refitted with
        every candidate.
    pixvar : ndarray (npix,)
        Pixel variance.
    used : bool ndarray, optional
        Pixels to use: the data-quality mask, not a primary-only fit's outlier clipping
        (which removes a close secondary's core).
    min_separation : float
        Minimum offset (rows) from any known source.
    nsigma : float
        Detection threshold on ``(gain - N) / sqrt(2 N)``.
    max_sources : int
        At most this many secondaries.
    step : float
        Offset grid step (rows).
    source_sigma : float
        Source size assumed for the search.

    Returns
    -------
    list of float
        Offsets ``dy`` in rows, most significant first.
    """
    used = np.ones(table.sci.size, dtype=bool) if used is None else used.copy()
    used &= ~edge_rows(table)
    primary = traces[0]
    known = [0.0] + [t.coeffs[-1] - primary.coeffs[-1] for t in traces[1:]]
    data = table.sci
    wgt = np.where(used, 1.0 / pixvar, 0.0)
    known_models = [model_matrix(table, t) for t in traces]

    def project(m):
        return np.bincount(table.bin, wgt * m * data, minlength=table.nbins)

    known_atb = [project(m) for m in known_models]  # fixed while searching: once

    def joint(extra):
        """Per-bin chi-square gain of fitting the known sources plus ``extra`` (a list of 0
        or 1 models) together, and all their amplitudes and variances."""
        models = known_models + extra
        f, v = _solve_bins(data, wgt, models, table.bin, table.nbins)
        atb = np.stack(known_atb + [project(m) for m in extra])
        return np.nan_to_num(np.sum(f * atb, axis=0)), f, v

    base_gain, _, _ = joint([])
    span = table.row.max() - table.row.min()
    offsets = np.arange(-span, span + step / 2, step)
    # every offset once: the gain of adding a source there, all amplitudes refitted together
    # (a close pair is not first absorbed by the primary and then missed in its residual)
    stat_all = np.full(offsets.size, -np.inf)
    floor = 0.5 / np.nanmedian(pixvar)
    model_at = _shifted_models(table, primary, source_sigma)
    for i, dy in enumerate(offsets):
        if min(abs(dy - k) for k in known) < min_separation:
            continue
        m = model_at(dy)
        g, _, v = joint([m])
        # only bins where the candidate's own image is well sampled
        cover = np.bincount(table.bin, wgt * np.clip(m, 0, None) ** 2, minlength=table.nbins)
        own = np.isfinite(v[-1]) & (cover > floor)
        nb = int(np.count_nonzero(own))
        if nb < 10:
            continue
        gain = np.sum((g - base_gain)[own])
        stat_all[i] = (gain - nb) / np.sqrt(2.0 * nb)
    found: list[float] = []
    for _ in range(max_sources + 2):
        if len(found) >= max_sources:
            break
        near = np.array([min(abs(dy - k) for k in known + found) < min_separation
                         for dy in offsets])  # fmt: skip
        stat = np.where(near, -np.inf, stat_all)
        k = int(np.argmax(stat))
        if not np.isfinite(stat[k]) or stat[k] < nsigma:
            break
        cand = primary.shifted(offsets[k], source_sigma)
        cand = dataclasses.replace(cand, visible=visibility(table, cand))
        # the candidate's own signal: the data minus the known sources as fitted with it
        _, f, _ = joint([model_matrix(table, cand)])
        resid = data - sum(np.nan_to_num(f[j])[table.bin] * known_models[j]
                           for j in range(len(known_models)))  # fmt: skip
        if not _consistent(table, resid, wgt, cand):
            log.debug("candidate at %+.2f rows inconsistent between nods; ignored", offsets[k])
            known.append(float(offsets[k]))
            continue
        # position: the joint fit's best offset within one grid step (finer than the grid,
        # and allowed closer to a known source than the search itself, down to 1.5 rows)
        fine = offsets[k] + np.linspace(-step, step, 21)
        fine = fine[[min(abs(x - q) for q in known + found) >= 1.5 for x in fine]]
        total = np.array([np.sum(joint([model_at(x)])[0]) for x in fine])
        j = int(np.argmax(total))
        dy = fine[j]
        if 0 < j < fine.size - 1:
            a, b, c = total[j - 1], total[j], total[j + 1]
            den = a - 2 * b + c
            if den < 0:
                dy += 0.5 * (fine[1] - fine[0]) * (a - c) / den
        log.info("secondary source at %+.2f rows from the primary (%.1f sigma)", dy, stat[k])
        found.append(float(dy))
    return found


def _shifted_models(table: PixelTable, primary: TraceProfile, source_sigma: float):
    """``dy -> model_matrix(table, primary.shifted(dy, source_sigma))``, fast.

    The trace polynomial and the profile width do not depend on ``dy``: computed once.
    """
    trace = primary.shifted(0.0, source_sigma)
    base = np.polyval(trace.coeffs, trace.t(table.col))
    sig = trace.sigma(table.wave)
    offs = np.asarray(trace.offsets)
    rel = table.row - base
    negs = []
    if table.neg_weights is not None:
        for j in range(table.n_exp):
            sel = np.flatnonzero(table.neg_weights[:, j] > 0)
            if sel.size:
                negs.append((j, sel, table.neg_weights[sel, j]))

    lo, hi = _row_extent(table, rel)

    def model(dy: float) -> np.ndarray:
        vis = (offs + dy >= lo + EDGE_MARGIN) & (offs + dy <= hi - EDGE_MARGIN)
        m = profile_values(rel - offs[table.exp] - dy, sig, kind=trace.kind) * vis[table.exp]
        for j, sel, wj in negs:
            if vis[j]:
                m[sel] -= wj * profile_values(rel[sel] - offs[j] - dy, sig[sel], kind=trace.kind)
        return m

    return model


def _row_extent(table: PixelTable, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per exposure, the median over columns of the lowest and highest slitlet row, in ``rel``
    (row minus the trace without offsets) coordinates."""
    lo = np.full(table.n_exp, np.nan)
    hi = np.full(table.n_exp, np.nan)
    for e in range(table.n_exp):
        sel = np.flatnonzero(table.exp == e)
        if sel.size == 0:
            continue
        cols = table.col[sel].astype(int)
        ncol = cols.max() + 1
        cmin = np.full(ncol, np.inf)
        cmax = np.full(ncol, -np.inf)
        np.minimum.at(cmin, cols, rel[sel])
        np.maximum.at(cmax, cols, rel[sel])
        ok = np.isfinite(cmin)
        lo[e], hi[e] = np.median(cmin[ok]), np.median(cmax[ok])
    return lo, hi


def visibility(table: PixelTable, trace: TraceProfile) -> tuple[bool, ...]:
    """Whether the source's centre lies inside the slitlet rows of each exposure."""
    base = np.polyval(trace.coeffs, trace.t(table.col))
    lo, hi = _row_extent(table, table.row - base)
    offs = np.asarray(trace.offsets, dtype=float)
    return tuple(bool(v) for v in (offs >= lo + EDGE_MARGIN) & (offs <= hi - EDGE_MARGIN))


def edge_rows(table: PixelTable) -> np.ndarray:
    """Pixels in the first or last usable row of their column (slit edges, unreliable)."""
    edge = np.zeros(table.sci.size, dtype=bool)
    for e in range(table.n_exp):
        sel = np.flatnonzero(table.exp == e)
        if sel.size == 0:
            continue
        cols = table.col[sel].astype(int)
        rows = table.row[sel]
        ncol = cols.max() + 1
        lo = np.full(ncol, np.inf)
        hi = np.full(ncol, -np.inf)
        np.minimum.at(lo, cols, rows)
        np.maximum.at(hi, cols, rows)
        edge[sel] = (rows <= lo[cols]) | (rows >= hi[cols])
    return edge


def _consistent(table: PixelTable, resid: np.ndarray, wgt: np.ndarray, trace) -> bool:
    """A real source has the same brightness in every nod that sees it (>= 2 nods)."""
    m = model_matrix(table, trace)
    amp, err = [], []
    for e in range(table.n_exp):
        sel = (table.exp == e) & (m > 0.05)
        den = np.sum(wgt[sel] * m[sel] ** 2)
        if den <= 0 or np.count_nonzero(sel) < 20:
            continue
        amp.append(np.sum(wgt[sel] * resid[sel] * m[sel]) / den)
        err.append(1.0 / np.sqrt(den))
    if len(amp) < 2:
        return False
    amp, err = np.asarray(amp), np.asarray(err)
    mean = np.sum(amp / err**2) / np.sum(1 / err**2)
    chi2 = np.sum(((amp - mean) / err) ** 2)
    # 99.9% point of chi2 with n-1 dof is below 7 + 3.5 (n - 1) for the n here (2..5)
    return bool(mean > 0 and np.all(amp > 0) and chi2 < 7.0 + 3.5 * (amp.size - 1))
