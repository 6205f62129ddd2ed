"""slitwise.io.read_slitlet on the three real CEERS 1345_933 PRISM nod exposures."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from slitwise.io import read_slitlet

PHOT = "msaexp-pypi-0.9.19/jw01345062001_03101_0000{}_nrs2_phot.138.1345_933.fits"

# nod -> (shutter state, SRCYPOS, SRCXPOS, YOFFSET [arcsec], SCI[12, 170] in MJy/sr);
# values from the SCI / PRIMARY headers and data of each file.
NODS = {
    1: ("1x1", -0.11599999666213989, -0.25, 11.81683905549171, 0.09758398681879044),
    2: ("x11", -0.12099999189376831, -0.2459999918937683, 12.34581332074224, 0.08720754832029343),
    3: ("11x", -0.11000001430511475, -0.2549999952316284, 11.28781867925716, 0.08821708709001541),
}


@pytest.mark.realdata
@pytest.mark.parametrize("nod", [1, 2, 3])
def test_read_real_slitlet(real, nod):
    path = real(PHOT.format(nod))
    exp = read_slitlet(path)
    state, ypos, xpos, yoff, pixel = NODS[nod]
    assert exp.shape == (25, 341)
    assert exp.bunit == "MJy/sr"
    assert exp.source_name == "1345_933" and exp.source_id == 933
    assert exp.slitlet_id == 138
    assert exp.grating == "PRISM" and exp.filter == "CLEAR" and exp.detector == "NRS2"
    assert exp.shutter_state == state
    assert exp.nod_position == nod and exp.n_nods == 3
    assert exp.source_ypos == pytest.approx(ypos, abs=1e-12)
    assert exp.source_xpos == pytest.approx(xpos, abs=1e-12)
    assert exp.meta["nod_offset"] == pytest.approx(yoff, abs=1e-9)
    assert exp.exptime == pytest.approx(1021.222)
    # float32 in the file, so compare at float32 precision
    assert exp.sci[12, 170] == pytest.approx(pixel, rel=1e-7)
    assert exp.wave[12, 170] == pytest.approx(3.8944520950317383, rel=1e-7)
    assert np.nanmin(exp.wave) == pytest.approx(1.3448492288589478, rel=1e-7)
    assert np.nanmax(exp.wave) == pytest.approx(5.382199287414551, rel=1e-7)
    assert int(np.isfinite(exp.wave).sum()) == 6554
    with fits.open(path) as hdul:
        np.testing.assert_array_equal(exp.var_rnoise, hdul["VAR_RNOISE"].data.astype(float))
        np.testing.assert_array_equal(exp.dq, hdul["DQ"].data.astype(np.uint32))
        err = hdul["ERR"].data.astype(float)
        both = np.isfinite(err) & np.isfinite(exp.var)
        assert both.sum() > 6000
        # ERR = sqrt(VAR_POISSON + VAR_RNOISE + VAR_FLAT) in the jwst pipeline (float32)
        np.testing.assert_allclose(np.sqrt(exp.var[both]), err[both], rtol=1e-5)
    # DO_NOT_USE pixels and NaN wavelengths are excluded from valid
    assert not np.any(exp.valid & ((exp.dq & 1) != 0))
    assert not np.any(exp.valid & ~np.isfinite(exp.wave))
    assert exp.pathloss_ps is not None and exp.pathloss_ps.shape == (25, 341)


@pytest.mark.realdata
def test_three_nods_share_the_wavelength_map(real):
    waves = [read_slitlet(real(PHOT.format(n))).wave for n in (1, 2, 3)]
    # same slitlet on the detector: identical up to float32 rounding (1.2e-7 relative)
    for other in waves[1:]:
        np.testing.assert_array_equal(np.isfinite(waves[0]), np.isfinite(other))
        np.testing.assert_allclose(waves[0], other, rtol=3e-7, equal_nan=True)
