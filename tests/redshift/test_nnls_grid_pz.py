import numpy as np
import pytest
from scipy.optimize import nnls
from scipy.special import erf

from slitwise.redshift.grid import (
    C_KMS,
    default_spacing,
    find_minima,
    merge_grids,
    refine_windows,
    velocity_grid,
)
from slitwise.redshift.nnls import nnls_gram
from slitwise.redshift.pz import integrate_piecewise_linear, pz_from_chi2, zconf


@pytest.mark.parametrize("seed", range(6))
def test_nnls_gram_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    n, m = 12, 80
    A = np.abs(rng.normal(size=(m, n))) * rng.uniform(0.01, 100, n)  # badly scaled columns
    A[:, 3] = A[:, 2] * 2.0  # exactly collinear pair
    b = A[:, :4] @ np.array([1.0, 0.0, 2.0, 0.0]) + rng.normal(0, 1, m) - 0.5 * A[:, 5]
    x, q = nnls_gram(A.T @ A, A.T @ b, 0)
    s = np.linalg.norm(A, axis=0)
    xs, rn = nnls(A / s, b)
    # same minimum chi2 to 1e-7 relative (solutions may differ on the collinear pair)
    assert b @ b - q == pytest.approx(rn**2, rel=1e-7)
    assert np.all(x >= 0)
    assert np.sum((A @ x - b) ** 2) == pytest.approx(rn**2, rel=1e-7)


def test_nnls_gram_zero_columns():
    G = np.zeros((3, 3))
    G[0, 0] = 4.0
    x, q = nnls_gram(G, np.array([8.0, 0.0, 0.0]), 0)
    assert x[0] == pytest.approx(2.0) and x[1] == 0 and x[2] == 0
    assert q == pytest.approx(16.0)


def test_velocity_grid_spacing():
    z = velocity_grid(0.0, 20.0, 500.0)
    dv = np.diff(np.log1p(z)) * C_KMS
    assert z[0] == 0 and z[-1] == pytest.approx(20.0)
    assert np.allclose(dv, dv[0]) and dv[0] <= 500.0 and dv[0] > 499.0
    assert default_spacing("PRISM", 100) == (500.0, 30.0)
    assert default_spacing("G395M", 1000) == (100.0, 10.0)
    assert default_spacing("G235H", 3000) == (30.0, 5.0)


def test_find_minima_distinct_and_refine():
    z = velocity_grid(0.0, 10.0, 500.0)
    c = 100 - 50 * np.exp(-0.5 * ((z - 2) / 0.01) ** 2) - 40 * np.exp(-0.5 * ((z - 5) / 0.01) ** 2)
    c -= 30 * np.exp(-0.5 * ((z - 7) / 0.01) ** 2)
    c -= 49 * np.exp(-0.5 * ((z - 2.005) / 0.001) ** 2)  # a close sub-minimum: not distinct
    idx = find_minima(z, c, nmax=3, separation_kms=3000.0)
    assert np.allclose(z[idx], [2, 5, 7], atol=0.02)
    fine = refine_windows(z[idx], dv_kms=30.0, half_width_kms=3000.0, zmin=0, zmax=10)
    assert fine.size == 3 * 201
    zz, cc = merge_grids(z, c, fine, np.interp(fine, z, c))
    assert np.all(np.diff(zz) > 0)
    # inside a window only fine points remain
    w = np.abs(np.log1p(zz) - np.log1p(z[idx[0]])) < 2900 / C_KMS
    assert np.all(np.diff(np.log1p(zz[w])) * C_KMS < 31)


def test_pz_normalised_and_zconf_is_grid_independent():
    # Gaussian p(z) with sigma 0.02 around 3.0: ZCONF(|dz| <= 0.03) = erf(1.5 / sqrt 2)
    truth = erf(0.03 / 0.02 / np.sqrt(2))
    for grid in (
        np.linspace(2.5, 3.5, 2001),
        np.sort(np.r_[np.linspace(2.5, 3.5, 201), np.linspace(2.95, 3.05, 333)]),
    ):
        chi2 = ((grid - 3.0) / 0.02) ** 2
        p = pz_from_chi2(grid, chi2)
        assert integrate_piecewise_linear(grid, p, grid[0], grid[-1]) == pytest.approx(1.0)
        # piecewise-linear integration error on these grids is < 2e-3
        assert zconf(grid, p, 3.0, window=0.03) == pytest.approx(truth, abs=2e-3)


def test_pz_scale_broadens():
    z = np.linspace(0, 1, 501)
    chi2 = ((z - 0.5) / 0.01) ** 2
    assert zconf(z, pz_from_chi2(z, chi2, scale=9.0), 0.5, window=0.01) < zconf(
        z, pz_from_chi2(z, chi2), 0.5, window=0.01
    )
