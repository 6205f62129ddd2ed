"""Evaluating the ASDF gwcs of JWST products."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from astropy.io import fits

from slitwise.errors import SlitwiseInputError
from slitwise.io.jwst_wcs import evaluate_slit_wcs

S2D = "nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_s2d.fits"
X1D = "nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits"
PHOT = "msaexp-pypi-0.9.19/jw01345062001_03101_00001_nrs2_phot.138.1345_933.fits"


@pytest.mark.realdata
def test_s2d_wcs_matches_x1d_wavelengths(real):
    wave, yslit = evaluate_slit_wcs(real(S2D))
    assert wave.shape == yslit.shape == (41, 1215)
    with fits.open(real(X1D)) as hdul:
        x1d_wave = hdul["EXTRACT1D"].data["WAVELENGTH"]
    # rectified: every row has the same wavelength, equal to the x1d grid
    np.testing.assert_allclose(wave, np.broadcast_to(x1d_wave, wave.shape), rtol=0, atol=1e-12)
    # slit-frame y decreases by 0.2220 shutter pitches per row (Linear1D in the gwcs)
    np.testing.assert_allclose(np.diff(yslit[:, 600]), -0.22201223, atol=1e-7)
    assert yslit[0, 600] == pytest.approx(5.73748867, abs=1e-7)


@pytest.mark.realdata
@pytest.mark.skipif(
    importlib.util.find_spec("stdatamodels") is not None, reason="stdatamodels installed"
)
def test_cal_slitlet_wcs_needs_the_extra(real):
    path = real(PHOT)
    with pytest.raises(SlitwiseInputError, match=r"\[ASDF\]: .*pip install slitwise\[wcs\]"):
        evaluate_slit_wcs(path)
