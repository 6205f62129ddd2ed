"""Simulated programs shared by the simulator tests (built once per session)."""

from __future__ import annotations

import pytest

from slitwise.simulate import SourceModel, simulate_program


def bright_source(source_id: int, *, size: float = 0.0, xpos=0.1, ypos=-0.15) -> SourceModel:
    """A bright source (30 uJy continuum, strong lines) for trace and calibration tests."""
    return SourceModel(
        source_id=source_id,
        name=str(source_id),
        z=5.2,
        cont_fnu=30.0,
        beta=-2.0,
        igm_transmission=0.1,
        line_flux={"Halpha": 2e-16, "OIII_5008": 3e-16, "Hbeta": 7e-17},
        sigma_kms=100.0,
        size=size,
        xpos=xpos,
        ypos=ypos,
        host_id=source_id,
    )


@pytest.fixture(scope="session")
def default_program(tmp_path_factory):
    """The default 6-source, PRISM + G395M, 3-nod program (seed 0)."""
    return simulate_program(tmp_path_factory.mktemp("sim_default"), n_sources=6, seed=0)


@pytest.fixture(scope="session")
def bright_program(tmp_path_factory):
    """Two bright sources (point and extended) with noise, PRISM + G395M, 3 nods."""
    sources = [bright_source(1, size=0.0), bright_source(2, size=0.05, xpos=-0.2, ypos=0.2)]
    return simulate_program(
        tmp_path_factory.mktemp("sim_bright"),
        sources=sources,
        seed=5,
        stuck_fraction=0.0,
        serendip_fraction=0.0,
    )


@pytest.fixture(scope="session")
def noiseless_program(tmp_path_factory):
    """The same two bright sources without noise, PRISM only."""
    sources = [bright_source(1, size=0.0), bright_source(2, size=0.05, xpos=-0.2, ypos=0.2)]
    return simulate_program(
        tmp_path_factory.mktemp("sim_noiseless"),
        sources=sources,
        seed=5,
        gratings=("PRISM/CLEAR",),
        stuck_fraction=0.0,
        serendip_fraction=0.0,
        add_noise=False,
    )
