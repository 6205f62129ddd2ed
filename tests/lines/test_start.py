"""MAP start points: the linear parameters (line fluxes, continuum coefficients) are solved for
by bounded weighted least squares before the optimiser runs.

Data: the one-line simulated spectrum of ``test_samplers`` (flux 10 in an R = 1000 spectrum,
continuum 200 + 300 (lambda - 2 um)).
"""

import numpy as np
import pytest
from tests.lines.test_samplers import CONFIG, FLUX, _spectrum

from slitwise.lines import config_from_yaml
from slitwise.lines.inference import _linear_start, _start_points, compiled, run_map
from slitwise.lines.model import constrain_unit_cube
from slitwise.lines.prepare import prepare


def _prepared(flux_prior):
    cfg = config_from_yaml(CONFIG % flux_prior)
    return prepare(cfg, [_spectrum(4)], instruments=["generic"])


def test_start_fluxes_come_from_the_data_not_the_prior_centre():
    # the prior median of the flux is 975, ~100x the truth; the solved start is within a few
    # sigma of it (the flux error of this spectrum is ~0.5) and so is the continuum
    p = _prepared("{prior: uniform, low: -50, high: 2000}")
    comp = compiled(p.structure)
    k = len(comp.free)
    vals = constrain_unit_cube([0.5] * k, p.structure)
    assert vals["f"] == pytest.approx(975.0)
    start = _linear_start(comp, p.data, vals)
    assert abs(start["f"] - FLUX) < 2.5
    # the nonlinear parameters are left where they were
    assert start["z"] == vals["z"] and start["fwhm"] == vals["fwhm"]
    model = start["cont0_c0"] * p.data["cont_scale"][0]
    assert 150 < model < 250  # the continuum level at the window centre (truth ~200)


def test_start_respects_narrow_bounds_and_the_fit_still_converges():
    # a flux prior narrower than any fixed step (0 .. 0.5) and one that excludes the truth:
    # starts stay inside the bounds and the MAP ends at the bound nearest the truth
    p = _prepared("{prior: uniform, low: 0, high: 0.5}")
    comp = compiled(p.structure)
    starts = _start_points(comp, p.data, 3, np.random.default_rng(0))
    assert all(np.all(np.isfinite(s)) for s in starts)
    post = run_map(p.structure, p.data, n_draws=0)
    assert 0.45 < post.best["f"] <= 0.5
