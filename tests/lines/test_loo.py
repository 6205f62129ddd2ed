"""PSIS-LOO against exact leave-one-out, and the generalized Pareto fit against known tails."""

import numpy as np
import pytest
from scipy import stats

from slitwise.lines.loo import K_THRESHOLD, gpd_fit, psis_loo


@pytest.mark.parametrize("shape", [0.2, 0.5, 0.8])
def test_gpd_fit_recovers_a_known_shape(shape):
    x = stats.genpareto(c=shape, scale=2.0).rvs(size=2000, random_state=4)
    k, sigma = gpd_fit(x)
    assert k == pytest.approx(shape, abs=0.08)  # 2000 draws; sd of the estimate ~0.03
    assert sigma == pytest.approx(2.0, rel=0.12)


def test_psis_loo_matches_exact_loo_of_a_conjugate_model():
    # y_i ~ N(mu, 1), flat prior: posterior mu ~ N(mean(y), 1/n) and the exact leave-one-out
    # predictive of y_i is N(mean(y without i), 1 + 1/(n - 1))
    rng = np.random.default_rng(1)
    n, s = 30, 4000
    y = rng.normal(0.0, 1.0, n)
    y[0] = 4.0  # an influential point
    mu = rng.normal(y.mean(), 1 / np.sqrt(n), s)
    loglik = stats.norm(mu[:, None], 1.0).logpdf(y[None, :])
    out = psis_loo(loglik)
    loo_mean = (y.sum() - y) / (n - 1)
    exact = stats.norm(loo_mean, np.sqrt(1 + 1 / (n - 1))).logpdf(y)
    assert out["elpd_loo"] == pytest.approx(exact.sum(), abs=0.05)
    np.testing.assert_allclose(out["elpd_loo_i"], exact, atol=0.02)
    # one parameter: p_loo near 1, a little more with the influential point
    assert 0.8 < out["p_loo"] < 1.6
    assert out["looic"] == pytest.approx(-2 * out["elpd_loo"])
    assert out["khat_max"] < K_THRESHOLD and out["n_khat_high"] == 0


def test_khat_flags_a_pixel_the_posterior_cannot_spare():
    # a nearly exact fit of one point: leaving it out moves the posterior far away
    rng = np.random.default_rng(2)
    n, s = 20, 2000
    y = rng.normal(0.0, 1.0, n)
    y[0] = 12.0
    mu = rng.normal(y.mean(), 1 / np.sqrt(n), s)
    sig = np.ones(n)
    sig[0] = 0.05
    loglik = stats.norm(mu[:, None], sig[None, :]).logpdf(y[None, :])
    out = psis_loo(loglik)
    assert out["n_khat_high"] >= 1 and out["khat_max"] > K_THRESHOLD
