"""Shared test fixtures.

Real observed data live outside the repository in ``../shared/data/real`` (present here and in
CI, absent on a user's machine); tests that need them use :func:`real_file`, which skips
cleanly when the file is not there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SLITWISE_SHARED", REPO.parent / "shared"))
REAL = SHARED / "data" / "real"
BENCH = SHARED / "bench"


def real_file(relpath: str) -> Path:
    """Path of a file under ``../shared/data/real``; skip the test if it is absent."""
    path = REAL / relpath
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def real():
    """The :func:`real_file` helper as a fixture."""
    return real_file


@pytest.fixture(autouse=True)
def _no_gui_backend(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
