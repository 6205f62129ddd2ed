"""Fixtures shared by the line-fit tests."""

import pytest

from slitwise.lines import load_spectrum


@pytest.fixture(scope="module")
def bench_spectra():
    from tests.conftest import BENCH

    root = BENCH / "linefit"
    if not (root / "synth_prism.spec.fits").exists():
        pytest.skip("benchmark spectra not available")
    return [load_spectrum(str(root / "synth_prism.spec.fits")),
            load_spectrum(str(root / "synth_g395m.spec.fits"))]
