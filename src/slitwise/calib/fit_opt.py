"""Optical model (OPT): matching detected slits to the mask, and the global polynomial fit.

The association between slits seen on the detector and slits of the mask must survive an
unknown shift, scale and rotation of the first-guess model: detected slit centres (across
dispersion) are matched to predicted ones by voting over similarity transforms defined by
pairs of neighbouring slits (same orientation as the first guess, which carries any declared
mirroring), then every pair within a tolerance is accepted one-to-one. The polynomial fit of
the reference positions then rejects outliers iteratively.
"""

from __future__ import annotations

import logging

import numpy as np

from slitwise.calib.fit_crv import SlitSpan
from slitwise.calib.models import OpticalModel, Poly2D

__all__ = ["match_slits", "fit_optical"]

log = logging.getLogger(__name__)


def match_slits(
    detected: list[SlitSpan],
    predicted_lo: np.ndarray,
    predicted_hi: np.ndarray,
    *,
    scale_range: tuple[float, float] = (0.8, 1.25),
    tol: float = 4.0,
) -> dict[int, int]:
    """Associate detected slit spans with mask slits.

    Parameters
    ----------
    detected : list of SlitSpan
        Slits found in the flat (sorted by position).
    predicted_lo, predicted_hi : ndarray
        First-guess spatial positions of each mask slit's two ends.
    scale_range : (float, float)
        Allowed |scale| of the unknown transform.
    tol : float
        Maximum residual (pixels) of a matched slit end after the transform.

    Returns
    -------
    dict
        Mask slit index -> detected span index.
    """
    if not detected:
        return {}
    det_c = np.array([s.centre for s in detected])
    det_len = np.array([s.length for s in detected])
    pred_c = 0.5 * (predicted_lo + predicted_hi)
    pred_len = np.abs(predicted_hi - predicted_lo)
    order_d = np.argsort(det_c)
    order_p = np.argsort(pred_c)
    if det_c.size == 1 or pred_c.size == 1:
        # One slit (a long slit): the pair with the best length agreement, if plausible.
        ratio = det_len[None, :] / np.maximum(pred_len[:, None], 1e-9)
        ok = (ratio >= scale_range[0]) & (ratio <= scale_range[1])
        cost = np.where(ok, np.abs(np.log(ratio)), np.inf)
        p, q = np.unravel_index(np.argmin(cost), cost.shape)
        return {int(p): int(q)} if np.isfinite(cost[p, q]) else {}
    best: tuple[int, float, float, dict[int, int]] | None = None
    for i in range(len(order_d) - 1):
        di, dj = order_d[i], order_d[i + 1]
        # Mirrored optics are declared in the first guess (flip_x / flip_y), so the unknown
        # transform keeps the orientation: a regular mask would otherwise match reversed.
        for pj_list in (order_p,):
            for k in range(len(pj_list) - 1):
                pi, pk = pj_list[k], pj_list[k + 1]
                dp = pred_c[pk] - pred_c[pi]
                if dp == 0:
                    continue
                a = (det_c[dj] - det_c[di]) / dp
                if not scale_range[0] <= a <= scale_range[1]:
                    continue
                b = det_c[di] - a * pred_c[pi]
                mapped = a * pred_c + b
                # Residual of both ends (the length must agree too).
                cost = np.abs(mapped[:, None] - det_c[None, :]) + 0.5 * np.abs(
                    abs(a) * pred_len[:, None] - det_len[None, :]
                )
                pairs = _one_to_one(cost, tol)
                score = len(pairs)
                resid = float(np.sum([cost[p, q] for p, q in pairs.items()]))
                if best is None or (score, -resid) > (best[0], -best[1]):
                    best = (score, resid, a, pairs)
    if best is None:
        return {}
    pairs = best[3]
    # Refine the transform on all matched slits (one neighbour pair fixes the scale poorly
    # over the whole detector), then match again.
    for _ in range(3):
        if len(pairs) < 2:
            break
        p_idx = np.array(list(pairs))
        q_idx = np.array([pairs[p] for p in p_idx])
        a, b = np.polyfit(pred_c[p_idx], det_c[q_idx], 1)
        cost = np.abs((a * pred_c + b)[:, None] - det_c[None, :]) + 0.5 * np.abs(
            abs(a) * pred_len[:, None] - det_len[None, :]
        )
        new = _one_to_one(cost, tol)
        if new == pairs:
            break
        pairs = new
    log.info("matched %d of %d mask slits (scale %.3f)", len(pairs), pred_c.size, best[2])
    return pairs


def _one_to_one(cost: np.ndarray, tol: float) -> dict[int, int]:
    pairs: dict[int, int] = {}
    used: set[int] = set()
    flat = np.argsort(cost, axis=None)
    for idx in flat:
        p, q = divmod(int(idx), cost.shape[1])
        if cost[p, q] > tol:
            break
        if p in pairs or q in used:
            continue
        pairs[p] = q
        used.add(q)
    return pairs


def _robust_poly2d(x, y, z, degrees, scale, nsigma, floor):
    used = np.isfinite(z)
    for _ in range(20):
        poly = Poly2D.fit(x[used], y[used], z[used], degrees, scale=scale)
        resid = np.abs(z - poly(x, y))
        sigma = 1.4826 * np.median(resid[used])
        bad = used & (resid > max(nsigma * sigma, floor))
        if not bad.any() or used.sum() - 1 <= (degrees[0] + 1) * (degrees[1] + 1):
            break
        used[np.argmax(np.where(bad, resid, -np.inf))] = False
    return poly, used, resid


def fit_optical(
    d_points: tuple[np.ndarray, np.ndarray, np.ndarray],
    s_points: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    degrees: tuple[int, int] = (2, 2),
    scale: float = 100.0,
    nsigma: float = 4.0,
    floor: float = 0.3,
) -> tuple[OpticalModel, float]:
    """Fit OPT ``(X, Y) -> (d, s)`` with iterative rejection, each axis from its own points.

    Parameters
    ----------
    d_points : (X, Y, d)
        Mask points (mm) and measured dispersion positions of the reference wavelength
        (from the arc, at any slit position).
    s_points : (X, Y, s)
        Mask points and measured spatial positions (from the flat: slit edges only, since a
        uniformly lit slit shows where its ends fall, not where its interior points do).

    Returns
    -------
    model : OpticalModel
    rms : float
        RMS of the kept residuals (pixels, both axes together).
    """
    xd, yd, d = (np.asarray(v, float) for v in d_points)
    xs, ys, s = (np.asarray(v, float) for v in s_points)
    pd, used_d, rd = _robust_poly2d(xd, yd, d, degrees, scale, nsigma, floor)
    ps, used_s, rs = _robust_poly2d(xs, ys, s, degrees, scale, nsigma, floor)
    resid = np.concatenate([rd[used_d], rs[used_s]])
    rms = float(np.sqrt(np.mean(resid**2)))
    log.info(
        "OPT fit: %d + %d points, %d rejected, rms %.3f px",
        d.size,
        s.size,
        int((~used_d).sum() + (~used_s).sum()),
        rms,
    )
    return OpticalModel(pd, ps), rms
