import numpy as np
import pytest

from slitwise.redshift.igm import (
    LYA,
    damping_wing_tau,
    igm_table,
    igm_transmission,
    inoue14_tau,
    inoue14_transmission,
    neutral_fraction,
)


def test_inoue14_hand_computed_value():
    # z = 3, lambda_obs = 4500 A: only Lya contributes (Lyb stops at 1025.72 * 4 = 4103 A);
    # x = 4500/1215.67 = 3.70 -> LAF term A2 x^3.7 and DLA term A2 x^3 of Table 2 (eqs 21-22).
    # No Lyman-continuum term: 4500 > 911.8 * 4. Exact arithmetic, so tolerance 1e-9.
    x = 4500.0 / 1215.67
    expected = 2.354e-3 * x**3.7 + 5.390e-5 * x**3.0
    assert inoue14_tau(np.array([4500.0]), 3.0)[0] == pytest.approx(expected, rel=1e-9)


def test_inoue14_limits():
    lam = np.array([1300.0, 2000.0]) * 4.0
    # redward of Lya in the rest frame nothing is absorbed
    assert np.all(inoue14_transmission(lam, 3.0) == 1.0)
    # the Lya forest deepens with redshift (mean transmission falls monotonically)
    t = [inoue14_transmission(np.array([1100.0 * (1 + z)]), z)[0] for z in (2, 3, 4, 5, 6, 7)]
    assert np.all(np.diff(t) < 0)
    # at z = 7 the forest is essentially opaque (observed mean flux < 1 % at z > 6)
    assert t[-1] < 0.01


def test_lyc_zero_and_table_matches_direct():
    lam = np.linspace(905.0, 1250.0, 300)
    t = igm_transmission(lam, 4.0)
    assert np.all(t[lam < 912] == 0)
    tab = igm_table()
    # the tabulated version (bilinear) agrees with the direct model to < 0.02 in transmission
    for z in (0.7, 2.35, 4.0, 6.3):
        assert np.max(np.abs(tab(lam, z) - igm_transmission(lam, z))) < 0.02


def test_damping_wing():
    lam = np.array([1210.0, 1216.5, 1220.0, 1240.0, 1300.0])
    assert np.all(damping_wing_tau(lam, 5.5) == 0)  # ionised IGM
    tau = damping_wing_tau(lam, 8.0, x_hi=1.0)
    assert tau[0] == 0  # blueward handled by the forest model
    assert np.all(np.diff(tau[1:]) < 0) and tau[1] > 1.0  # wing falls off redward
    # tau is linear in the neutral fraction
    assert damping_wing_tau(lam, 8.0, x_hi=0.5)[2] == pytest.approx(0.5 * tau[2])
    assert neutral_fraction(5.0) == 0 and 0.4 < neutral_fraction(7.7) < 0.6
    t = igm_transmission(np.array([LYA * 1.01]), 9.0, damping=True)
    assert 0 < t[0] < 1
