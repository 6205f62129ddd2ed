"""NIRSpec disperser model against the packaged STScI dispersion tables."""

import numpy as np
import pytest
from astropy.io import fits

from slitwise.errors import SlitwiseInputError
from slitwise.instruments import (
    DISPERSERS,
    ConstantResolution,
    TabulatedResolution,
    disperser_key,
    gaussian_lsf_pixel_integrated,
    get_disperser,
)


@pytest.mark.parametrize("name", DISPERSERS)
def test_every_disperser_has_range_dispersion_and_r(name):
    d = get_disperser(name)
    lo, hi = d.wave_range
    w = np.linspace(lo, hi, 20)
    r = d.resolving_power(w)
    assert np.all(r > 25) and np.all(r < 5000)
    assert np.all(d.dispersion(w) > 0)
    grid = d.pixel_grid()
    assert grid[0] == pytest.approx(lo) and grid[-1] >= hi
    # consecutive pixels differ by the tabulated dispersion
    np.testing.assert_allclose(np.diff(grid), d.dispersion(grid[:-1]), rtol=1e-12)


def test_prism_r_matches_table_values(real):
    # JDox PRISM table: R ~ 30 near 1.1 um and 421.6 at 6 um (see PROVENANCE.md)
    d = get_disperser("PRISM/CLEAR")
    assert d.resolving_power(6.0) == pytest.approx(421.6419, rel=1e-5)
    assert 29 < float(d.resolving_power(1.1)) < 32
    with fits.open(real("../nirspec_disp/jwst_nirspec_g395m_disp.fits")) as hdul:
        tab = hdul[1].data
        i = 500
        expect = float(tab["R"][i])
        w = float(tab["WAVELENGTH"][i])
    assert get_disperser("g395m").resolving_power(w) == pytest.approx(expect, rel=1e-6)


def test_point_source_factor_raises_r():
    w = np.array([1.0, 3.0])
    base = get_disperser("PRISM").resolving_power(w)
    ps = get_disperser("PRISM", point_source=True).resolving_power(w)
    np.testing.assert_allclose(ps / base, 1.3)
    g = get_disperser("G395H", point_source=True, point_source_factor=1.7)
    np.testing.assert_allclose(g.resolving_power([4.0]) / get_disperser("G395H").resolving_power(
        [4.0]), 1.7)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("prism-clear", ("PRISM", "CLEAR")),
        ("G395M/F290LP", ("G395M", "F290LP")),
        ("g140m_f070lp", ("G140M", "F070LP")),
        ("g235h", ("G235H", "F170LP")),
    ],
)
def test_disperser_names(text, key):
    assert disperser_key(text) == key


@pytest.mark.parametrize("bad", ["G395X", "PRISM/F290LP", "g140m-clear"])
def test_unknown_disperser_is_input_error(bad):
    with pytest.raises(SlitwiseInputError, match="unknown NIRSpec grating/filter"):
        get_disperser(bad)


def test_pixel_integrated_lsf_conserves_flux_and_width():
    d = get_disperser("G395M")
    edges = np.linspace(3.9, 4.1, 401)
    prof = d.lsf_pixel_integrated(edges, 4.0)
    assert prof.sum() == pytest.approx(1.0, abs=1e-9)
    centres = 0.5 * (edges[1:] + edges[:-1])
    mean = np.sum(prof * centres)
    sigma = np.sqrt(np.sum(prof * (centres - mean) ** 2) - np.diff(edges)[0] ** 2 / 12)
    assert mean == pytest.approx(4.0, abs=1e-9)
    assert sigma == pytest.approx(float(d.lsf_sigma(4.0)), rel=1e-3)


def test_lsf_integrated_differs_from_point_sampling_when_undersampled():
    edges = np.arange(-5.0, 6.0)  # 1-pixel bins, sigma 0.4 px: strongly undersampled
    prof = gaussian_lsf_pixel_integrated(edges, 0.5, 0.4)  # line at a pixel centre
    assert prof.sum() == pytest.approx(1.0, abs=1e-6)
    # integral over the central pixel: erf(0.5 / (0.4 sqrt 2)) = 0.7887; point sampling: 0.997
    assert prof.max() == pytest.approx(0.78870, abs=1e-4)


def test_generic_resolution_models():
    c = ConstantResolution(1000.0)
    assert c.fwhm(np.array([2.0]))[0] == pytest.approx(0.002)
    assert c.sigma_kms(np.array([2.0]))[0] == pytest.approx(299792.458 / 1000 / 2.3548, rel=1e-4)
    t = TabulatedResolution(np.array([1.0, 2.0]), np.array([100.0, 200.0]))
    assert t.resolving_power(1.5) == pytest.approx(150.0)
    with pytest.raises(ValueError, match="positive"):
        ConstantResolution(-1)
