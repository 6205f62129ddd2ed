"""Nodded background subtraction on unrectified slitlet cut-outs.

For each exposure of a nod pattern (2, 3 or 5 positions of the same slitlet on the same
detector) the background is the mean of the exposures taken at the *other* nod positions,
taken pixel by pixel on the original detector grid (before any resampling, as in DJA v2).
Variances are propagated: ``var(d_i) = var_i + sum_j var_j / n_j**2`` over the background
exposures ``j`` that are valid at each pixel.

Two refinements, both optional:

* ``source_masks``: pixels where a background exposure holds the source itself are left out
  of that exposure's contribution, so the difference carries no negative source images;
* ``smooth``: the background frame is averaged along the dispersion direction over
  ``smooth`` columns (per row), which divides the background noise by about ``smooth``.
  The sky of a NIRSpec slitlet varies slowly with wavelength, so this keeps the background
  exact while removing most of the ``sqrt(1 + 1/n)`` noise penalty of plain differencing.

Path loss: when the inputs carry a path-loss correction that depends on the source position
(``pathloss_ps``), it is undone before differencing (the sky is the same on the sky, not after
a correction that differs between nods) and re-applied after, if requested.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from scipy.ndimage import uniform_filter1d

from slitwise.errors import input_error
from slitwise.spectra.slitlet import SlitletExposure

__all__ = ["NodDifference", "nod_subtract", "background_sets"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class NodDifference:
    """One background-subtracted exposure on its own detector grid.

    Attributes
    ----------
    sci : ndarray (ny, nx)
        Exposure minus its background, NaN where unusable.
    var : ndarray (ny, nx)
        Propagated variance (exposure plus background), NaN where unusable.
    background : ndarray (ny, nx)
        The background that was subtracted (same units as ``sci``).
    var_background : ndarray (ny, nx)
        Variance of ``background``.
    weights : ndarray (n_exp, ny, nx)
        Weight of every exposure of the group in the background of each pixel (zero for this
        exposure and for excluded ones); used to model the negative source images.
    background_exposures : tuple of int
        Indices (in the input list) of the exposures used as background.
    """

    sci: np.ndarray
    var: np.ndarray
    background: np.ndarray
    var_background: np.ndarray
    weights: np.ndarray
    background_exposures: tuple[int, ...]


def background_sets(
    exposures: list[SlitletExposure],
    *,
    overrides: dict[int, tuple[int, ...]] | None = None,
    excluded: set[int] | None = None,
) -> list[tuple[int, ...]]:
    """For each exposure, the indices of the exposures that serve as its background.

    Default: every exposure at a different nod position (and not excluded). ``overrides``
    maps an exposure index to the nod positions to use instead (per-observation config).
    """
    excluded = excluded or set()
    overrides = overrides or {}
    sets = []
    for i, exp in enumerate(exposures):
        if i in overrides and overrides[i]:
            allowed = set(overrides[i])
            chosen = [
                j
                for j, other in enumerate(exposures)
                if j != i and other.nod_position in allowed and j not in excluded
            ]
        else:
            chosen = [
                j
                for j, other in enumerate(exposures)
                if j != i and other.nod_position != exp.nod_position and j not in excluded
            ]
        sets.append(tuple(chosen))
    return sets


def _check_group(exposures: list[SlitletExposure]) -> None:
    shapes = {e.shape for e in exposures}
    if len(shapes) > 1:
        names = ", ".join(str(e.meta.get("filename", "?")) for e in exposures)
        raise input_error(names, f"cut-outs of one nod group must share a shape, got {shapes}")
    dispersers = {e.disperser for e in exposures}
    if len(dispersers) > 1:
        raise input_error(
            "nod_subtract", f"exposures mix dispersers {sorted(dispersers)}; group them first"
        )


def nod_subtract(
    sci: list[np.ndarray],
    var: list[np.ndarray],
    exposures: list[SlitletExposure],
    *,
    valid: list[np.ndarray] | None = None,
    source_masks: list[np.ndarray] | None = None,
    smooth: int = 1,
    overrides: dict[int, tuple[int, ...]] | None = None,
    excluded: set[int] | None = None,
) -> list[NodDifference]:
    """Subtract from each exposure the mean of the exposures at the other nod positions.

    Parameters
    ----------
    sci, var : list of ndarray (ny, nx)
        Data and total variance of each exposure in a common unit, with any nod-dependent
        correction already undone (see :func:`slitwise.extract.source.prepare_exposures`).
    exposures : list of SlitletExposure
        The exposures (for nod positions and checks), same order.
    valid : list of bool ndarray, optional
        Usable pixels (default: finite data and positive variance).
    source_masks : list of bool ndarray, optional
        True where exposure ``j`` contains a source; such pixels do not enter backgrounds.
    smooth : int
        Running-mean length (columns) of the background along the dispersion; 1 = none.
    overrides : dict, optional
        Exposure index -> nod positions to use as its background.
    excluded : set of int, optional
        Exposures never used as background (e.g. a stuck-closed source shutter).

    Returns
    -------
    list of NodDifference
        One per exposure. Pixels without any background are NaN.

    Raises
    ------
    SlitwiseInputError
        Shapes or dispersers differ, or an exposure has no background exposure at all.
    """
    _check_group(exposures)
    n = len(exposures)
    if n < 2:
        raise input_error(
            exposures[0].meta.get("filename", "nod_subtract") if exposures else "nod_subtract",
            "nod subtraction needs at least two exposures at different nod positions",
        )
    if valid is None:
        valid = [np.isfinite(s) & np.isfinite(v) & (v > 0) for s, v in zip(sci, var, strict=True)]
    use = []
    for j in range(n):
        ok = valid[j].copy()
        if source_masks is not None:
            ok &= ~source_masks[j]
        use.append(ok)
    sets = background_sets(exposures, overrides=overrides, excluded=excluded)
    out = []
    for i in range(n):
        if not sets[i]:
            raise input_error(
                exposures[i].meta.get("filename", f"exposure {i}"),
                "no exposure at another nod position to use as background",
            )
        shape = sci[i].shape
        num = np.zeros(shape)
        cnt = np.zeros(shape)
        vnum = np.zeros(shape)
        for j in sets[i]:
            ok = use[j]
            num += np.where(ok, sci[j], 0.0)
            vnum += np.where(ok, var[j], 0.0)
            cnt += ok
        if smooth > 1:
            # Row-wise running sums along the dispersion: the background of a pixel is the
            # mean of all usable background pixels within +-smooth/2 columns of the same row.
            num = uniform_filter1d(num, smooth, axis=1, mode="constant") * smooth
            vnum = uniform_filter1d(vnum, smooth, axis=1, mode="constant") * smooth
            cnt = uniform_filter1d(cnt, smooth, axis=1, mode="constant") * smooth
            cnt = np.round(cnt, 6)
        with np.errstate(invalid="ignore", divide="ignore"):
            bkg = np.where(cnt > 0, num / cnt, np.nan)
            vbkg = np.where(cnt > 0, vnum / cnt**2, np.nan)
        weights = np.zeros((n, *shape))
        for j in sets[i]:
            ok = use[j]
            if smooth > 1:
                part = uniform_filter1d(ok.astype(float), smooth, axis=1, mode="constant") * smooth
            else:
                part = ok.astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                weights[j] = np.where(cnt > 0, part / cnt, 0.0)
        good = valid[i] & (cnt > 0)
        diff = np.where(good, sci[i] - bkg, np.nan)
        dvar = np.where(good, var[i] + vbkg, np.nan)
        out.append(
            NodDifference(
                sci=diff,
                var=dvar,
                background=bkg,
                var_background=vbkg,
                weights=weights,
                background_exposures=sets[i],
            )
        )
        log.debug(
            "exposure %d (nod %d): background from %s, smooth=%d",
            i,
            exposures[i].nod_position,
            sets[i],
            smooth,
        )
    return out
