"""JWST x1d, s2d and MSA metafile readers on the SMACS 0723 ERO source 6355 products."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from slitwise.instruments import get_disperser
from slitwise.io.readers import (
    msa_shutter_state,
    msa_source_shutters,
    read_msa_metafile,
    read_s2d,
    read_x1d,
)

DIR = "nirspec-mos-jwebinar-smacs0723/"
X1D = DIR + "jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits"
S2D = DIR + "jw02736-o007_s06355_nirspec_f290lp-g395m_s2d.fits"
MSA = DIR + "jw02736007001_01_msa.fits"


@pytest.mark.realdata
def test_read_x1d_values(real):
    path = real(X1D)
    spec = read_x1d(path)
    assert spec.npix == 1215
    assert spec.wave.unit == u.um and spec.flux.unit == u.uJy
    assert spec.wave[0].value == pytest.approx(2.848637220319559, rel=1e-12)
    # brightest pixel is [OIII] 5008 at z ~ 7.66; FLUX is 4.416125229305072e-06 Jy in the file
    assert spec.wave[830].value == pytest.approx(4.3374630553121625, rel=1e-12)
    assert spec.flux[830].value == pytest.approx(4.416125229305072, rel=1e-12)
    with fits.open(path) as hdul:
        data = hdul["EXTRACT1D"].data
        np.testing.assert_allclose(spec.err.value, data["FLUX_ERROR"] * 1e6, rtol=1e-12)
        finite = np.isfinite(data["FLUX"]) & (data["FLUX_ERROR"] > 0)
    assert int(spec.valid.sum()) == int(finite.sum()) == 1141
    assert spec.meta["source_name"] == "2736_6355"
    assert spec.meta["source_id"] == 6355 and spec.meta["slitlet_id"] == 72
    assert spec.meta["disperser"] == "G395M/F290LP"
    assert spec.meta["shutter_state"] == "1x111"
    assert spec.meta["header"]["CAL_VER"] == "1.12.5"
    np.testing.assert_allclose(
        spec.resolution, get_disperser("G395M/F290LP").resolving_power(spec.wave.value)
    )
    assert read_x1d(path, source="2736_6355").flux[830] == spec.flux[830]


@pytest.mark.realdata
def test_read_s2d_values_and_consistency_with_x1d(real):
    s2d = read_s2d(real(S2D))
    x1d = read_x1d(real(X1D))
    assert s2d.shape == (41, 1215)
    # header says DN/s (jwst#8297) but the product is photometrically calibrated
    assert s2d.meta["bunit_header"] == "DN/s"
    assert s2d.bunit == "MJy/sr"
    assert s2d.meta["source_name"] == "2736_6355" and s2d.meta["slitlet_id"] == 72
    assert s2d.meta["srcxpos"] == pytest.approx(-0.0356217622756958)
    assert s2d.meta["srcypos"] == pytest.approx(0.36562544107437134)
    assert s2d.meta["grating"] == "G395M" and s2d.meta["filter"] == "F290LP"
    assert s2d.sci[20, 600] == pytest.approx(-0.03744926303625107, rel=1e-7)
    with fits.open(real(S2D)) as hdul:
        np.testing.assert_allclose(s2d.var, hdul["ERR"].data.astype(float) ** 2, rtol=1e-12)
        np.testing.assert_array_equal(s2d.wht, hdul["WHT"].data.astype(float))
        pixar = hdul["SCI"].header["PIXAR_SR"]
    assert s2d.to_fnu == pytest.approx(pixar * 1e12, rel=1e-12)
    # the gwcs wavelength of each column is the x1d wavelength grid
    np.testing.assert_allclose(s2d.wave, x1d.wave.value, rtol=0, atol=1e-12)
    # x1d FLUX is the 8-row boxcar (rows 16.5..24.5) of the s2d: sum over rows * to_fnu = uJy
    box = (s2d.sci[17:24].sum(axis=0) + 0.5 * (s2d.sci[16] + s2d.sci[24])) * s2d.to_fnu
    ok = np.isfinite(box) & np.isfinite(x1d.flux.value)
    np.testing.assert_allclose(box[ok], x1d.flux.value[ok], rtol=1e-6, atol=1e-9)
    # rows are one pixel apart; the source (SRCYPOS on the slit axis) is at y = 0
    np.testing.assert_allclose(np.diff(s2d.y), 1.0, atol=1e-9)
    assert np.interp(0.0, s2d.y, s2d.meta["yslit"]) == pytest.approx(0.36562544, abs=1e-6)


@pytest.mark.realdata
def test_read_msa_metafile(real):
    msa = read_msa_metafile(real(MSA))
    assert len(msa.shutter_info) == 1318
    assert len(msa.source_info) == 119
    assert msa.header["PROGRAM"] == "02736"
    row = msa.source_info[msa.source_info["source_id"] == 6355][0]
    assert row["source_name"] == "2736_6355"
    assert row["dec"] == pytest.approx(-73.4350589621277)
    rows = msa_source_shutters(msa, 6355, msa_metadata_id=1, dither_point_index=1)
    assert list(rows["shutter_column"]) == [83, 84, 85, 86, 87]
    assert set(rows["slitlet_id"]) == {72}
    assert list(rows["primary_source"]) == ["N", "Y", "N", "N", "N"]
    # the x1d/s2d SHUTSTA is '1x111' for dither 1; the nod moves the source by one shutter
    assert msa_shutter_state(msa, 6355, 1) == "1x111"
    assert msa_shutter_state(msa, "2736_6355", 2) == "x1111"
    assert msa_shutter_state(msa, 6355, 3) == "11x11"
    assert len(msa_source_shutters(msa, "2736_6355")) == 30
