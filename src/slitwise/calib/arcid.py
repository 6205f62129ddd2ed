"""Automatic arc-line identification by pattern matching of line groups.

Given detected line positions, a catalogue of lamp wavelengths, and only approximate hints
(linear dispersion within ~10 %, central wavelength within ~2 %), find which detected line is
which catalogue line.

Method (all pure array code):

1. **Quads.** Every group of four detected lines that are close neighbours (``i`` and three of
   the next ``k_detected`` lines) gives two ratios ``(p_j - p_i) / (p_l - p_i)`` and
   ``(p_k - p_i) / (p_l - p_i)``, invariant to shift and scale and, because the group is
   short, insensitive to the curvature of the dispersion relation. Catalogue quads are built
   the same way from wavelengths, with a wider neighbourhood (the catalogue holds lines the arc
   does not show). A k-d tree matches the ratio pairs.
2. **Hint filter.** A matched quad implies a local dispersion and the wavelength at its first
   line; both must agree with the hints, allowing for the hint tolerances and for the
   non-linearity of real dispersers.
3. **Voting.** Each surviving quad votes for its four (detected, catalogue) pairs. Quads are
   ranked by the votes their pairs collected from all other quads.
4. **Growth.** Starting from each of the best-ranked quads, a polynomial is fitted, extended
   outwards to neighbouring lines (order raised only as the covered range grows), re-matched
   and refitted with rejection, until it covers every detected line. The grown solution that
   identifies the most lines wins; ties go to the lower residual scatter.

The caller (:mod:`slitwise.calib.wavecal`) checks the result against independent criteria
(coverage, gaps, agreement with the hints), because a small RMS alone proves nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging

import numpy as np
from scipy.spatial import cKDTree

from slitwise.calib.wavefit import (
    PolyFit,
    adaptive_order,
    choose_order,
    fit_polynomial,
    loo_residuals,
    robust_polyfit,
)

__all__ = ["ArcMatch", "identify_arc_lines", "match_to_catalog"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ArcMatch:
    """Result of the pattern matching.

    Attributes
    ----------
    det_index : ndarray of int
        Indices into the detected-line arrays of the identified lines.
    cat_index : ndarray of int
        Matching indices into the catalogue.
    fit : PolyFit
        Pixel -> wavelength fit through the identified lines.
    n_seeds : int
        Number of quad hypotheses grown.
    n_quads : int
        Number of quad matches that passed the hint filter.
    score : float
        Soft count of identified lines (amplitude-weighted, on leave-one-out residuals).
    alternatives : tuple of (float, PolyFit)
        Score and fit of every other distinct solution found, best first; a competitor that
        scores almost as well but disagrees means the identification is ambiguous.
    """

    det_index: np.ndarray
    cat_index: np.ndarray
    fit: PolyFit
    n_seeds: int
    n_quads: int
    score: float = 0.0
    alternatives: tuple = ()


def _quads(x: np.ndarray, k: int) -> np.ndarray:
    """Index quadruples (i, j, k, l) with j, k, l among the next ``k`` entries after i."""
    n = x.size
    out = []
    combos = np.array(list(itertools.combinations(range(1, k + 1), 3)), dtype=int)
    base = np.arange(n)[:, None, None]
    quads = np.concatenate(
        [base.repeat(combos.shape[0], 1), base + combos[None, :, :]], axis=2
    ).reshape(-1, 4)
    quads = quads[quads[:, 3] < n]
    out.append(quads)
    return np.concatenate(out) if out else np.zeros((0, 4), int)


def _ratios(x: np.ndarray, quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    span = x[quads[:, 3]] - x[quads[:, 0]]
    r = np.stack(
        [(x[quads[:, 1]] - x[quads[:, 0]]) / span, (x[quads[:, 2]] - x[quads[:, 0]]) / span],
        axis=1,
    )
    return r, span


def match_to_catalog(
    fit: PolyFit,
    pixels: np.ndarray,
    catalog: np.ndarray,
    tol_px: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Match detected lines to the nearest catalogue line under a fit, one-to-one.

    Returns the detected and catalogue indices of the accepted pairs (a catalogue line claimed
    by several detected lines goes to the closest one).
    """
    pred = fit(pixels)
    disp = np.abs(fit.derivative(pixels))
    j = np.searchsorted(catalog, pred).clip(1, catalog.size - 1)
    left = np.abs(pred - catalog[j - 1])
    right = np.abs(catalog[j] - pred)
    idx = np.where(left < right, j - 1, j)
    resid_px = np.abs(catalog[idx] - pred) / np.maximum(disp, 1e-12)
    tol = np.broadcast_to(np.asarray(tol_px, float), pixels.shape)
    ok = np.flatnonzero(resid_px < tol)
    if ok.size == 0:
        return ok, ok
    # One-to-one: for each catalogue line keep the closest detected line.
    order = ok[np.argsort(resid_px[ok])]
    _, first = np.unique(idx[order], return_index=True)
    keep = np.sort(order[first])
    return keep, idx[keep]


def _edge_predictor(p_id: np.ndarray, w_id: np.ndarray, side: int, npix: int) -> PolyFit:
    """Robust low-order fit through the identified lines of one outer half, to extrapolate.

    Outliers (blends, slightly wrong catalogue wavelengths) are rejected so that one bad line
    near the end does not throw the extrapolation off.
    """
    lo, hi = p_id.min(), p_id.max()
    span = max(hi - lo, 1.0)
    edge = p_id <= lo + span / 2 if side < 0 else p_id >= hi - span / 2
    if edge.sum() < 4:
        edge = np.argsort(p_id if side < 0 else -p_id)[:4]
    pe, we = p_id[edge], w_id[edge]
    disp = (we.max() - we.min()) / max(pe.max() - pe.min(), 1.0)
    order = 2 if pe.size >= 6 else 1
    fit, _ = robust_polyfit(
        pe, we, order, npix, scale=1.0 / disp, nsigma=3.0, floor=0.2, max_reject=0.25
    )
    return fit


def _nearest_two(pred: float, catalog: np.ndarray) -> tuple[int, float, float]:
    """Index of the nearest catalogue line, its distance and the second-nearest distance."""
    j = int(np.searchsorted(catalog, pred))
    cand = [k for k in (j - 2, j - 1, j, j + 1) if 0 <= k < catalog.size]
    dist = sorted((abs(catalog[k] - pred), k) for k in cand)
    second = dist[1][0] if len(dist) > 1 else np.inf
    return dist[0][1], dist[0][0], second


def _grow(
    seed_det: np.ndarray,
    seed_cat: np.ndarray,
    pixels: np.ndarray,
    catalog: np.ndarray,
    npix: int,
    *,
    tol_px: float,
    max_order: int,
) -> tuple[np.ndarray, np.ndarray, PolyFit] | None:
    """Extend a seed identification outwards, one line at a time on each side.

    The next unidentified line beyond each end is predicted with a low-order fit through the
    identified lines of that end; it is accepted only if exactly one catalogue line lies within
    a tolerance that grows with the extrapolation distance, and if adding it does not degrade
    the fit of the lines already identified. Lines that fail are skipped (the final
    re-identification inside the covered range may still pick them up).
    """
    det = [int(d) for d in seed_det]
    cat = [int(c) for c in seed_cat]
    p_id = pixels[det]
    w_id = catalog[cat]
    disp0 = (w_id.max() - w_id.min()) / max(p_id.max() - p_id.min(), 1.0)
    order = adaptive_order(p_id, w_id, npix, scale=1.0 / disp0, max_order=max_order)
    fit = fit_polynomial(p_id, w_id, order, npix)
    if np.any(fit.derivative(p_id) <= 0):
        return None
    rms = _rms_px(fit, p_id, w_id)
    if rms > 2.5 * tol_px:
        return None
    used_cat = set(cat)
    nxt = {
        -1: int(np.searchsorted(pixels, p_id.min())) - 1,
        1: int(np.searchsorted(pixels, p_id.max(), side="right")),
    }
    predictors: dict[int, PolyFit] = {}
    while nxt[-1] >= 0 or nxt[1] < pixels.size:
        lo, hi = p_id.min(), p_id.max()
        span = max(hi - lo, 1.0)
        gaps = {
            side: (lo - pixels[k] if side < 0 else pixels[k] - hi)
            for side, k in nxt.items()
            if 0 <= k < pixels.size
        }
        side = min(gaps, key=gaps.get)
        k, dist = nxt[side], gaps[side]
        nxt[side] = k + side
        if side not in predictors:
            predictors[side] = _edge_predictor(p_id, w_id, side, npix)
        local = predictors[side]
        deriv = float(local.derivative(pixels[k]))
        if deriv <= 0:
            continue
        c, d1, d2 = _nearest_two(float(local(pixels[k])), catalog)
        frac = dist / span
        tol = max(tol_px, 3.0 * rms) * (1.0 + frac + 2.0 * frac**2)
        if d1 / deriv > tol or d2 / deriv < tol or c in used_cat:
            log.debug(
                "grow: skip %.1f (d1 %.2f d2 %.2f tol %.2f px)",
                pixels[k],
                d1 / deriv,
                d2 / deriv,
                tol,
            )
            continue
        new_p = np.append(p_id, pixels[k])
        new_w = np.append(w_id, catalog[c])
        base = max(
            fit.order,
            choose_order((new_p.max() - new_p.min()) / npix, new_p.size, max_order=max_order),
        )
        accepted = None
        new_rms = np.nan
        for order in (base, base + 1):
            if order > base and (new_p.size < order + 3 or order > max_order):
                break
            # Robust refit: a blended line accepted earlier may now be the one rejected.
            new_fit, used = robust_polyfit(
                new_p, new_w, order, npix, scale=1.0 / deriv, nsigma=3.0, floor=0.25
            )
            new_rms = _rms_px(new_fit, new_p[used], new_w[used])
            if (
                used[-1]
                and used.sum() >= 4
                and new_rms <= 1.5 * rms + 0.1
                and np.all(new_fit.derivative(new_p) > 0)
            ):
                accepted = (new_fit, new_rms, used)
                break
        if accepted is None:
            log.debug("grow: skip %.1f (fit degrades: rms %.3f -> %.3f)", pixels[k], rms, new_rms)
            continue
        log.debug(
            "grow: add %.1f -> %.3f (rms %.3f, %d dropped)",
            pixels[k],
            catalog[c],
            accepted[1],
            (~accepted[2]).sum(),
        )
        used = accepted[2]
        det = [d for d, u in zip(det + [int(k)], used, strict=True) if u]
        cat = [cc for cc, u in zip(cat + [int(c)], used, strict=True) if u]
        used_cat = set(cat)
        p_id, w_id = new_p[used], new_w[used]
        fit, rms = accepted[0], max(accepted[1], 0.05)
        predictors.clear()
    order_idx = np.argsort(p_id)
    return np.asarray(det)[order_idx], np.asarray(cat)[order_idx], fit


def _rms_px(fit: PolyFit, p: np.ndarray, w: np.ndarray) -> float:
    """RMS residual of a fit in pixels."""
    resid = (w - fit(p)) / np.maximum(np.abs(fit.derivative(p)), 1e-12)
    return float(np.sqrt(np.mean(resid**2)))


def _refine(
    fit: PolyFit,
    pixels: np.ndarray,
    catalog: np.ndarray,
    npix: int,
    *,
    tol_px: float,
    max_order: int,
    n_iter: int = 3,
) -> tuple[np.ndarray, np.ndarray, PolyFit, np.ndarray]:
    """Re-identify every detected line with a solution and refit; return pixel residuals."""
    det = cat = np.zeros(0, int)
    resid = np.zeros(0)
    d_all, _ = match_to_catalog(fit, pixels, catalog, tol_px)
    if d_all.size < 4:
        return det, cat, fit, resid
    # Only lines inside the span the solution was grown over: never re-identify by
    # extrapolating the polynomial.
    inside = np.flatnonzero((pixels >= pixels[d_all].min()) & (pixels <= pixels[d_all].max()))
    for _ in range(n_iter):
        d_idx, c_idx = match_to_catalog(fit, pixels[inside], catalog, tol_px)
        d_idx = inside[d_idx]
        if d_idx.size < 4:
            break
        p = pixels[d_idx]
        scale = 1.0 / np.maximum(np.abs(fit.derivative(p)), 1e-12)
        order = adaptive_order(p, catalog[c_idx], npix, scale=scale, max_order=max_order)
        fit, used = robust_polyfit(p, catalog[c_idx], order, npix, scale=scale, floor=0.3)
        det, cat = d_idx[used], c_idx[used]
        resid = (catalog[cat] - fit(pixels[det])) / fit.derivative(pixels[det])
    return det, cat, fit, resid


def identify_arc_lines(
    pixels: np.ndarray,
    catalog: np.ndarray,
    *,
    npix: int,
    dispersion: float,
    central_wavelength: float,
    amplitudes: np.ndarray | None = None,
    dispersion_tol: float = 0.10,
    wavelength_tol: float = 0.02,
    nonlinearity: float = 0.35,
    ratio_tol: float = 0.012,
    tol_px: float = 0.4,
    k_detected: int = 5,
    max_seed_lines: int = 60,
    max_seeds: int = 8,
    max_order: int = 5,
) -> ArcMatch | None:
    """Identify detected arc lines against a catalogue from approximate hints only.

    Parameters
    ----------
    pixels : ndarray
        Detected line centroids (0-based pixels), sorted.
    catalog : ndarray
        Catalogue wavelengths (same unit as the hints), sorted.
    npix : int
        Number of pixels along dispersion.
    dispersion : float
        Approximate mean dispersion (wavelength per pixel, > 0: wavelength increases with
        pixel).
    central_wavelength : float
        Approximate wavelength at pixel ``(npix - 1) / 2``.
    amplitudes : ndarray, optional
        Line strengths; the ``max_seed_lines`` strongest lines form the quads.
    dispersion_tol, wavelength_tol : float
        Relative uncertainty of the hints.
    nonlinearity : float
        Allowed relative change of the local dispersion across the detector.
    ratio_tol : float
        Tolerance on the quad ratios.
    tol_px : float
        Matching tolerance (pixels) when growing a solution.
    k_detected : int
        Neighbourhood (in lines) used to build detected quads.
    max_seed_lines, max_seeds : int
        Strongest lines used for quads; number of hypotheses grown.
    max_order : int
        Highest polynomial order of the final fit.

    Returns
    -------
    ArcMatch or None
        None when no hypothesis survives.
    """
    pixels = np.asarray(pixels, float)
    catalog = np.asarray(catalog, float)
    if pixels.size < 4 or catalog.size < 4:
        return None
    hyp = _quad_hypotheses(
        pixels,
        catalog,
        npix=npix,
        dispersion=dispersion,
        central_wavelength=central_wavelength,
        amplitudes=amplitudes,
        dispersion_tol=dispersion_tol,
        wavelength_tol=wavelength_tol,
        nonlinearity=nonlinearity,
        ratio_tol=ratio_tol,
        k_detected=k_detected,
        max_seed_lines=max_seed_lines,
    )
    if hyp is None:
        return None
    det_pairs, cat_pairs, ranking = hyp
    n_quads = int(ranking.size)
    weights = np.ones(pixels.size) if amplitudes is None else np.sqrt(np.clip(amplitudes, 0, None))
    # Hypotheses: the longest consistent chain of quads first, then the best-voted single quads.
    seeds: list[tuple[np.ndarray, np.ndarray]] = []
    chain = _best_chain(pixels, catalog, det_pairs, cat_pairs, ranking, npix)
    if chain is not None:
        core = _chain_core(pixels, catalog, chain[0], chain[1], npix, max_order=max_order)
        if core is not None:
            seeds.append(core)
    seeds.extend((det_pairs[q], cat_pairs[q]) for q in ranking)
    results: list[tuple[float, np.ndarray, np.ndarray, PolyFit]] = []
    n_seeds = 0
    # A ladder of matching tolerances: tight suits clean arcs with curved dispersion (no
    # coincidental matches), loose suits arcs with blended or poorly catalogued lines; growth is
    # path dependent, so different tolerances also give different hypotheses. The soft score,
    # independent of the tolerance, arbitrates.
    for tol in (0.6 * tol_px, 1.25 * tol_px, 2.5 * tol_px):
        grown: list[_Lookup] = []
        n_tried = 0
        for sd, sc in seeds:
            if n_tried >= max_seeds:
                break
            # Skip seeds already explained by a grown solution.
            if any(np.all(g_map.get_many(sd) == sc) for g_map in grown):
                continue
            n_tried += 1
            res = _grow(sd, sc, pixels, catalog, npix, tol_px=tol, max_order=max_order)
            if res is None:
                continue
            grown.append(_Lookup(res[0], res[1]))
            grown_rms = _rms_px(res[2], pixels[res[0]], catalog[res[1]])
            det, cat, fit, resid = _refine(
                res[2], pixels, catalog, npix, tol_px=max(tol, 3.0 * grown_rms), max_order=max_order
            )
            if det.size < 4 or not _consistent_with_hints(
                fit, npix, dispersion, central_wavelength, dispersion_tol, wavelength_tol
            ):
                continue
            # Soft count on leave-one-out residuals: a line that only fits because the
            # polynomial bent to reach it (typically at an end of the range) counts little.
            loo_order = min(fit.order, 4)
            loo = loo_residuals(pixels[det], catalog[cat], loo_order, npix) / fit.derivative(
                pixels[det]
            )
            rank = float(np.sum(weights[det] * np.exp(-0.5 * (loo / 0.35) ** 2)))
            results.append((rank, det, cat, fit))
        n_seeds += n_tried
    best = max(results, key=lambda r: r[0]) if results else None
    if best is None:
        return None
    score, det, cat, fit = best
    alternatives = []
    seen = {(tuple(det), tuple(cat))}
    for r in sorted(results, key=lambda r: -r[0]):
        key = (tuple(r[1]), tuple(r[2]))
        if key not in seen:
            seen.add(key)
            alternatives.append((r[0], r[3]))
    log.debug("identified %d lines from %d quads, %d seeds", det.size, n_quads, n_seeds)
    return ArcMatch(
        det_index=det,
        cat_index=cat,
        fit=fit,
        n_seeds=n_seeds,
        n_quads=n_quads,
        score=score,
        alternatives=tuple(alternatives),
    )


def _quad_hypotheses(
    pixels: np.ndarray,
    catalog: np.ndarray,
    *,
    npix: int,
    dispersion: float,
    central_wavelength: float,
    amplitudes: np.ndarray | None,
    dispersion_tol: float,
    wavelength_tol: float,
    nonlinearity: float,
    ratio_tol: float,
    k_detected: int,
    max_seed_lines: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Quad matches that pass the hint filter, and their ranking by pair votes.

    Returns ``(det_pairs, cat_pairs, ranking)``: (n, 4) detected and catalogue indices of each
    matched quad, and the quad indices sorted by decreasing votes.
    """
    pc = 0.5 * (npix - 1)
    d_lo = dispersion * (1 - dispersion_tol) * (1 - nonlinearity)
    d_hi = dispersion * (1 + dispersion_tol) * (1 + nonlinearity)
    # Seed lines: the strongest, so that quads are built from lines most likely catalogued.
    if amplitudes is not None and pixels.size > max_seed_lines:
        seed_idx = np.sort(np.argsort(amplitudes)[::-1][:max_seed_lines])
    else:
        seed_idx = np.arange(pixels.size)
    ps = pixels[seed_idx]
    dq = _quads(ps, min(k_detected, ps.size - 1))
    if dq.size == 0:
        return None
    r_det, span_det = _ratios(ps, dq)
    # Catalogue neighbourhood: wide enough to skip the lines the arc does not show.
    cat_density = catalog.size / max(catalog[-1] - catalog[0], 1e-9) * dispersion
    det_density = ps.size / npix
    k_cat = int(np.clip(np.ceil(k_detected * 1.5 * cat_density / max(det_density, 1e-9)), 6, 14))
    cq = _quads(catalog, min(k_cat, catalog.size - 1))
    r_cat, span_cat = _ratios(catalog, cq)
    tree = cKDTree(r_cat)
    hits = tree.query_ball_point(r_det, ratio_tol)
    qi = np.repeat(np.arange(len(hits)), [len(h) for h in hits])
    if qi.size == 0:
        return None
    ci = np.fromiter(itertools.chain.from_iterable(hits), dtype=int, count=qi.size)
    local_disp = span_cat[ci] / span_det[qi]
    p0 = ps[dq[qi, 0]]
    w0 = catalog[cq[ci, 0]]
    expected = central_wavelength + dispersion * (p0 - pc)
    allow = (
        wavelength_tol * central_wavelength
        + dispersion_tol * dispersion * np.abs(p0 - pc)
        + 0.06 * nonlinearity * dispersion * npix
    )
    ok = (local_disp > d_lo) & (local_disp < d_hi) & (np.abs(w0 - expected) < allow)
    qi, ci = qi[ok], ci[ok]
    if qi.size == 0:
        return None
    det_pairs = seed_idx[dq[qi]]  # (n, 4) indices into pixels
    cat_pairs = cq[ci]
    # Votes per (detected, catalogue) pair.
    keys = det_pairs.astype(np.int64) * (catalog.size + 1) + cat_pairs
    uniq, inv, counts = np.unique(keys.ravel(), return_inverse=True, return_counts=True)
    score = counts[inv].reshape(keys.shape).sum(axis=1)
    return det_pairs, cat_pairs, np.argsort(score, kind="stable")[::-1]


def _best_chain(
    pixels: np.ndarray,
    catalog: np.ndarray,
    det_pairs: np.ndarray,
    cat_pairs: np.ndarray,
    ranking: np.ndarray,
    npix: int,
    *,
    max_anchors: int = 1500,
    slope_tol: float = 0.02,
    smoothness: float = 0.8,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The longest chain of mutually consistent quad matches across the detector.

    Each matched quad is an *anchor*: a point ``(p, lambda)`` with a local dispersion. Two
    anchors can follow each other if the slope between them lies between their local
    dispersions (within ``slope_tol`` plus the centroid error over their separation) and the
    local dispersion changes smoothly (``smoothness`` relative change over the full detector).
    Dynamic programming finds the chain with the most anchors, which bridges gaps between line
    groups by slope consistency instead of by polynomial extrapolation.

    Returns the (detected, catalogue) index pairs of the chain, one catalogue line per detected
    line (majority over the anchors), or None.
    """
    top = ranking[:max_anchors]
    dp_, cp_ = det_pairs[top], cat_pairs[top]
    p_first, p_last = pixels[dp_[:, 0]], pixels[dp_[:, 3]]
    w_first, w_last = catalog[cp_[:, 0]], catalog[cp_[:, 3]]
    p_mid = 0.5 * (p_first + p_last)
    w_mid = 0.5 * (w_first + w_last)
    disp = (w_last - w_first) / (p_last - p_first)
    order = np.argsort(p_mid, kind="stable")
    p_mid, w_mid, disp = p_mid[order], w_mid[order], disp[order]
    dp_, cp_ = dp_[order], cp_[order]
    n = p_mid.size
    best = np.ones(n)
    prev = np.full(n, -1)
    for b in range(1, n):
        a = np.arange(b)
        dpix = p_mid[b] - p_mid[a]
        ok = dpix > 1.0
        slope = np.where(ok, (w_mid[b] - w_mid[a]) / np.where(ok, dpix, 1.0), 0.0)
        lo = np.minimum(disp[a], disp[b])
        hi = np.maximum(disp[a], disp[b])
        tol = slope_tol + 1.0 / np.maximum(dpix, 1.0)
        ok &= (slope > lo * (1 - tol)) & (slope < hi * (1 + tol))
        ok &= np.abs(disp[b] / disp[a] - 1) < 0.03 + smoothness * dpix / npix
        if ok.any():
            cand = np.where(ok, best[a], -np.inf)
            j = int(np.argmax(cand))
            best[b] = 1.0 + cand[j]
            prev[b] = j
    end = int(np.argmax(best))
    chain = []
    while end >= 0:
        chain.append(end)
        end = int(prev[end])
    if len(chain) < 2:
        return None
    votes: dict[int, dict[int, int]] = {}
    for k in chain:
        for d, c in zip(dp_[k], cp_[k], strict=True):
            votes.setdefault(int(d), {}).setdefault(int(c), 0)
            votes[int(d)][int(c)] += 1
    det = np.array(sorted(votes))
    cat = np.array([max(votes[d], key=votes[d].get) for d in det])
    # One detected line per catalogue line, and wavelengths increasing with pixel.
    _, first = np.unique(cat, return_index=True)
    keep = np.sort(first)
    det, cat = det[keep], cat[keep]
    mono = np.concatenate([[True], np.diff(catalog[cat]) > 0])
    return det[mono], cat[mono]


def _chain_core(
    pixels: np.ndarray,
    catalog: np.ndarray,
    det: np.ndarray,
    cat: np.ndarray,
    npix: int,
    *,
    max_order: int,
    keep_fraction: float = 0.8,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Outlier-cleaned inner part of a chain, used as a seed to grow from.

    The outermost pairs of a chain are the least constrained (a polynomial bends to absorb a
    wrong line at its end), so only the inner ``keep_fraction`` of its span is kept; growth
    then re-validates the ends by extrapolating from the interior.
    """
    if det.size < 5:
        return None
    p = pixels[det]
    order = choose_order((p.max() - p.min()) / npix, det.size, max_order=min(max_order, 4))
    disp = (catalog[cat[-1]] - catalog[cat[0]]) / max(p[-1] - p[0], 1.0)
    order = max(order, min(3, (det.size - 2) // 3))
    _, used = robust_polyfit(
        p, catalog[cat], order, npix, scale=1.0 / disp, nsigma=3.0, floor=0.3, max_reject=0.5
    )
    det, cat, p = det[used], cat[used], p[used]
    margin = 0.5 * (1 - keep_fraction) * (p.max() - p.min())
    inner = (p >= p.min() + margin) & (p <= p.max() - margin)
    if inner.sum() < 4:
        return None
    return det[inner], cat[inner]


class _Lookup:
    """Detected index -> catalogue index of a grown solution (-1 when absent)."""

    def __init__(self, det: np.ndarray, cat: np.ndarray):
        self._map = dict(zip(det.tolist(), cat.tolist(), strict=True))

    def get_many(self, det: np.ndarray) -> np.ndarray:
        return np.array([self._map.get(int(d), -1) for d in det])


def _consistent_with_hints(
    fit: PolyFit,
    npix: int,
    dispersion: float,
    central_wavelength: float,
    dispersion_tol: float,
    wavelength_tol: float,
) -> bool:
    """The solution's mean dispersion and central wavelength agree with the hints."""
    mean_disp = (fit(npix - 1) - fit(0)) / (npix - 1)
    centre = fit(0.5 * (npix - 1))
    return bool(
        abs(mean_disp / dispersion - 1) < 1.5 * dispersion_tol + 0.05
        and abs(centre / central_wavelength - 1) < 1.5 * wavelength_tol + 0.005
    )
