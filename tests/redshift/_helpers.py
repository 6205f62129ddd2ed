"""Shared helpers of the redshift tests (benchmark spectra, spectra built from arrays)."""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from slitwise.spectra import Spectrum1D

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SLITWISE_SHARED", REPO.parent / "shared"))
BENCH_FILE = SHARED / "bench" / "zfit" / "prism_bench_v1.npz"


def load_bench():
    """The shared PRISM benchmark (skips when absent)."""
    if not BENCH_FILE.exists():
        pytest.skip(f"benchmark not available: {BENCH_FILE}")
    with np.load(BENCH_FILE) as d:
        return {k: d[k] for k in d.files}


def bench_spectrum(d, i, *, lo=None, hi=None) -> Spectrum1D:
    """Row ``i`` of the benchmark as a Spectrum1D with its true R (optionally a pixel slice)."""
    sl = slice(lo, hi)
    return Spectrum1D(
        d["wave"][sl] * u.um,
        d["flux"][i][sl] * u.uJy,
        d["err"][i][sl] * u.uJy,
        resolution=d["R_true"][sl],
        meta={"grating": "PRISM", "filter": "CLEAR", "filename": f"bench_{i}"},
    )
