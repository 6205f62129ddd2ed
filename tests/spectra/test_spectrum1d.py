"""Spectrum1D: validation, unit conversions and the specutils round trip."""

import astropy.units as u
import numpy as np
import pytest

from slitwise.errors import SlitwiseInputError
from slitwise.spectra import FLAM_UNIT, SlitletExposure, Spectrum1D


def make(n=50, flux_unit=u.uJy):
    wave = np.linspace(1.0, 2.0, n) * u.um
    flux = np.linspace(1.0, 3.0, n) * flux_unit
    err = np.full(n, 0.1) * flux_unit
    return Spectrum1D(wave, flux, err, resolution=np.full(n, 100.0), meta={"grating": "PRISM"})


def test_default_valid_excludes_nan_and_nonpositive_error():
    s = make()
    s2 = Spectrum1D(s.wave, s.flux.copy(), s.err.copy())
    flux = s.flux.value.copy()
    flux[3] = np.nan
    err = s.err.value.copy()
    err[5] = 0.0
    s2 = Spectrum1D(s.wave, flux * u.uJy, err * u.uJy)
    assert not s2.valid[3] and not s2.valid[5]
    assert s2.valid.sum() == s.npix - 2


def test_fnu_flambda_round_trip_matches_formula():
    s = make()
    fl = s.to_flambda()
    assert fl.flux.unit == FLAM_UNIT
    # f_lambda = f_nu c / lambda^2: 1 uJy at 1 um is 2.99792458e-19 erg/s/cm2/A
    assert fl.flux.value[0] == pytest.approx(29.9792458, rel=1e-9)
    back = fl.to_fnu()
    np.testing.assert_allclose(back.flux.value, s.flux.value, rtol=1e-12)
    np.testing.assert_allclose(back.err.value, s.err.value, rtol=1e-12)


def test_specutils_round_trip_keeps_everything():
    s = make()
    s.valid[7] = False
    spec = s.to_specutils()
    assert spec.flux.unit == u.uJy
    assert spec.mask[7] and not spec.mask[6]
    back = Spectrum1D.from_specutils(spec)
    np.testing.assert_array_equal(back.wave.to_value(u.um), s.wave.to_value(u.um))
    np.testing.assert_array_equal(back.flux.value, s.flux.value)
    np.testing.assert_array_equal(back.err.value, s.err.value)
    np.testing.assert_array_equal(back.valid, s.valid)
    np.testing.assert_array_equal(back.resolution, s.resolution)
    assert back.meta["grating"] == "PRISM"


def test_from_specutils_requires_uncertainty():
    from specutils import Spectrum

    spec = Spectrum(spectral_axis=np.linspace(1, 2, 5) * u.um, flux=np.ones(5) * u.Jy)
    with pytest.raises(SlitwiseInputError, match="no uncertainty"):
        Spectrum1D.from_specutils(spec)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flux": np.ones(5)}, "'flux' must be an astropy Quantity"),
        ({"flux": np.ones(5) * u.m}, "neither f_nu"),
        ({"wave": np.ones(5) * u.s}, "is not a length"),
        ({"err": np.ones(5) * u.m}, "error unit"),
        ({"flux": np.ones(4) * u.Jy, "err": np.ones(4) * u.Jy}, "shape"),
    ],
)
def test_bad_construction_is_input_error(kwargs, message):
    args = {"wave": np.linspace(1, 2, 5) * u.um, "flux": np.ones(5) * u.Jy,
            "err": np.ones(5) * u.Jy}
    args.update(kwargs)
    with pytest.raises(SlitwiseInputError, match=message):
        Spectrum1D(**args)


def test_slitlet_valid_combines_dq_nan_and_variance():
    shape = (4, 6)
    sci = np.ones(shape)
    var = np.ones(shape)
    dq = np.zeros(shape, dtype=np.uint32)
    dq[1, 2] = 1
    wave = np.tile(np.linspace(1, 2, 6), (4, 1))
    wave[0, 0] = np.nan
    var[3, 5] = 0.0
    ex = SlitletExposure(sci, var, np.zeros(shape), np.zeros(shape), dq, wave, grating="prism",
                         filter="clear")
    assert ex.disperser == "PRISM/CLEAR"
    assert ex.valid.sum() == 24 - 3
    with pytest.raises(SlitwiseInputError, match="'wave' has shape"):
        SlitletExposure(sci, var, var, var, dq, wave[:, :3])
