"""Stuck-closed MSA shutters: from configuration and detected automatically.

A slitlet of ``n`` shutters is nodded so that the source falls in a different shutter in each
exposure; the shutter pattern of an exposure (``SHUTSTA``, e.g. ``"1x1"``) marks the source
shutter with ``x`` and closed shutters with ``0``. If a shutter is stuck closed, its rows are
dark in every exposure and the exposure whose source sits in it holds no source flux.

* :func:`configured_stuck_exposures` returns the exposures whose source shutter is listed as
  stuck in the per-observation configuration (1-based shutter indices) or marked ``0`` in the
  shutter pattern.
* :func:`detect_missing_source` finds exposures whose source signal is missing: the fitted
  amplitude of the source profile in that exposure is far below the others.

Such exposures are excluded from the source extraction; their remaining shutters still serve
as background for the other nods (the sky there is unaffected).
"""

from __future__ import annotations

import logging

import numpy as np

from slitwise.spectra.slitlet import SlitletExposure

__all__ = [
    "source_shutter_index",
    "configured_stuck_exposures",
    "closed_in_patterns",
    "detect_missing_source",
    "shutter_label",
]

log = logging.getLogger(__name__)


def source_shutter_index(shutter_state: str) -> int | None:
    """1-based index of the source shutter (``x``) in a shutter pattern, None if absent."""
    text = str(shutter_state).strip().lower()
    pos = text.find("x")
    return pos + 1 if pos >= 0 else None


def shutter_label(shutter_state: str, stuck: set[int]) -> str:
    """Shutter pattern with the stuck (1-based) shutters written as ``0``."""
    chars = list(str(shutter_state).strip())
    for k in stuck:
        if 1 <= k <= len(chars):
            chars[k - 1] = "0"
    return "".join(chars)


def closed_in_patterns(exposures: list[SlitletExposure]) -> set[int]:
    """1-based shutters shown closed (``0``) in the pattern of any exposure of a nod group.

    The nods of a group use one MSA configuration and the patterns list the same physical
    shutters in the same order (only the ``x`` moves), so a shutter closed in one exposure's
    pattern is closed in all of them -- including the exposure whose own source shutter it is,
    whose pattern shows ``x`` there.
    """
    patterns = [str(e.shutter_state).strip().lower() for e in exposures]
    lengths = {len(p) for p in patterns if p}
    if len(lengths) != 1:
        return set()
    return {k + 1 for p in patterns for k, c in enumerate(p) if c == "0"}


def configured_stuck_exposures(
    exposures: list[SlitletExposure], stuck_shutters: dict[int, tuple[int, ...]] | None = None
) -> dict[int, set[int]]:
    """Exposures whose source shutter is stuck closed according to the configuration.

    Parameters
    ----------
    exposures : list of SlitletExposure
        One nod group.
    stuck_shutters : dict, optional
        Exposure index -> 1-based indices of shutters stuck closed in that exposure's slitlet.

    Returns
    -------
    dict
        Exposure index -> set of stuck shutters (only exposures whose own source shutter is
        stuck, either from configuration or marked ``0`` in the pattern, appear).
    """
    stuck_shutters = stuck_shutters or {}
    closed = closed_in_patterns(exposures)
    out: dict[int, set[int]] = {}
    for i, exp in enumerate(exposures):
        k = source_shutter_index(exp.shutter_state)
        listed = set(stuck_shutters.get(i, ())) | closed
        if k is not None and k in listed:
            out[i] = listed
            how = "listed as stuck" if k in set(stuck_shutters.get(i, ())) else (
                "closed in the shutter pattern of another nod"
            )
            log.warning(
                "%s: source shutter %d is %s; exposure not extracted",
                exp.meta.get("filename", f"exposure {i}"), k, how,
            )  # fmt: skip
    return out


def detect_missing_source(
    amplitude: np.ndarray,
    error: np.ndarray,
    *,
    threshold: float = 0.3,
    nsigma: float = 5.0,
) -> set[int]:
    """Exposures whose source signal is missing (a stuck-closed source shutter).

    Parameters
    ----------
    amplitude, error : ndarray (n_exp,)
        Fitted source amplitude of each exposure relative to the joint spectrum (1 = as
        expected) and its 1-sigma error.
    threshold : float
        An exposure is flagged when its amplitude is below ``threshold``...
    nsigma : float
        ...and the median amplitude of the others exceeds it by ``nsigma`` errors.

    Returns
    -------
    set of int
        Flagged exposure indices (never all of them).
    """
    amplitude = np.asarray(amplitude, dtype=float)
    error = np.asarray(error, dtype=float)
    flagged = set()
    for i in range(amplitude.size):
        others = np.delete(amplitude, i)
        if others.size == 0 or not np.isfinite(amplitude[i]):
            continue
        ref = np.nanmedian(others)
        if ref <= 0:
            continue
        if amplitude[i] < threshold * ref and (ref - amplitude[i]) > nsigma * error[i]:
            flagged.add(i)
    if len(flagged) == amplitude.size:
        return set()
    return flagged
