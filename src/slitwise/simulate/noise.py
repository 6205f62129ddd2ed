"""Detector noise and defects: Poisson and read noise, cosmic rays, bad pixels.

All functions work in electrons accumulated over the exposure. Variances are computed from the
*noiseless* expected counts (not from the noisy data, unlike the JWST ramp fit), so that
``(data - truth) / sqrt(var)`` has exactly unit variance by construction:
``VAR_POISSON = E``, ``VAR_RNOISE = READ_NOISE**2`` (electrons^2), converted to (MJy/sr)^2 with
the same factor as SCI.

DQ bits follow the JWST convention: ``DO_NOT_USE`` (1), ``JUMP_DET`` (4, cosmic ray),
``NON_SCIENCE`` (512, outside the slitlet), ``DEAD`` (1024), ``HOT`` (2048). Every flagged
pixel also has ``DO_NOT_USE`` set.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "READ_NOISE_E",
    "DQ_DO_NOT_USE",
    "DQ_JUMP_DET",
    "DQ_NON_SCIENCE",
    "DQ_DEAD",
    "DQ_HOT",
    "realise_counts",
    "cosmic_ray_hits",
    "bad_pixel_map",
]

#: Effective read noise of one exposure (electrons per pixel); an up-the-ramp NRSIRS2 value
#: that reproduces the VAR_RNOISE of the real CEERS cut-outs to within a factor ~1.5.
READ_NOISE_E = 6.0

DQ_DO_NOT_USE = 1
DQ_JUMP_DET = 4
DQ_NON_SCIENCE = 512
DQ_DEAD = 1024
DQ_HOT = 2048


def realise_counts(
    expected_e: np.ndarray, rng: np.random.Generator, *, read_noise: float = READ_NOISE_E
) -> np.ndarray:
    """Noisy electron counts: Poisson(expected) plus Gaussian read noise."""
    lam = np.clip(np.nan_to_num(expected_e, nan=0.0), 0.0, None)
    counts = rng.poisson(lam).astype(float)
    return counts + rng.normal(0.0, read_noise, size=lam.shape)


def cosmic_ray_hits(
    shape: tuple[int, int], rng: np.random.Generator, *, rate: float = 3e-3
) -> np.ndarray:
    """Electrons deposited by cosmic rays (0 where no hit).

    ``rate`` is the expected fraction of pixels starting a hit; each hit deposits 200..5000 e-
    in one pixel and about a third of that in 0-2 neighbours along a random direction.
    """
    hits = np.zeros(shape)
    n = rng.poisson(rate * shape[0] * shape[1])
    ys = rng.integers(0, shape[0], n)
    xs = rng.integers(0, shape[1], n)
    energy = rng.uniform(200.0, 5000.0, n)
    tails = rng.integers(0, 3, n)
    dirs = rng.integers(0, 4, n)
    steps = ((0, 1), (1, 0), (1, 1), (1, -1))
    for y, x, e, t, d in zip(ys, xs, energy, tails, dirs, strict=True):
        hits[y, x] += e
        dy, dx = steps[d]
        for k in range(1, t + 1):
            yy, xx = y + k * dy, x + k * dx
            if 0 <= yy < shape[0] and 0 <= xx < shape[1]:
                hits[yy, xx] += e / 3.0
    return hits


def bad_pixel_map(
    shape: tuple[int, int], rng: np.random.Generator, *, fraction: float = 2e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Hot and dead pixel masks (fixed on the detector, so the same for every nod)."""
    u = rng.uniform(size=shape)
    hot = u < fraction / 2
    dead = (u >= fraction / 2) & (u < fraction)
    return hot, dead
