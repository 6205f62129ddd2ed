"""DJA / msaexp spec.fits readers on the real files (three layouts, gzip and not)."""

from __future__ import annotations

import gzip
import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from slitwise.instruments import get_disperser
from slitwise.io.readers import dja_layout, read_dja_spec, read_dja_spec2d

WAVECAL = "dja-nirspec-wavecal/calib_{}_iras-05248-7007_s200a1.v1.spec.fits.gz"
V08 = "msaexp-pypi-0.9.19/static-test-driz-center-bkg_933.spec.fits"
V09 = "msaexp-pypi-0.9.19/derived/nirspec_prism-clear_1345_933.spec.fits"

# (file, layout, npix, n valid, disperser, source, index, wave um, flux uJy, err uJy)
# values read once with astropy from SPEC1D; valid = finite flux and err > 0.
CASES = [
    (WAVECAL.format("prism-clear"), "msaexp-0.6", 435, 422, "PRISM/CLEAR",
     "iras-05248-7007_s200a1", 56, 0.9790467547363041, 262.8228503317565, 1.2421634081671304),
    (WAVECAL.format("g140m-f070lp"), "msaexp-0.6", 2034, 935, "G140M/F070LP",
     "iras-05248-7007_s200a1", 83, 0.7298000000000038, 308.80763388369485, 2.8450934020333043),
    (WAVECAL.format("g140m-f100lp"), "msaexp-0.6", 2034, 1432, "G140M/F100LP",
     "iras-05248-7007_s200a1", 549, 1.0094000000000247, 217.31137669197716, 2.222823546128956),
    (WAVECAL.format("g235m-f170lp"), "msaexp-0.6", 1496, 1357, "G235M/F170LP",
     "iras-05248-7007_s200a1", 89, 1.7498476190476175, 309.31764957858053, 4.535004754601996),
    (WAVECAL.format("g395m-f290lp"), "msaexp-0.6", 1414, 1299, "G395M/F290LP",
     "iras-05248-7007_s200a1", 79, 2.964676190476206, 902.230041147329, 4.9336095100018555),
    (V08, "msaexp-0.8", 414, 330, "PRISM/CLEAR", "1345_933",
     130, 2.387356903176525, 0.03682160561414666, 0.006372053135884677),
    (V09, "msaexp-0.9", 501, 345, "PRISM/CLEAR", "1345_933",
     162, 2.3600914057249924, 0.0553391929145799, 0.016550274922574108),
]  # fmt: skip


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("rel", "layout", "npix", "nvalid", "disp", "source", "i", "wave", "flux", "err"), CASES
)
def test_read_dja_spec_values(real, rel, layout, npix, nvalid, disp, source, i, wave, flux, err):
    spec = read_dja_spec(real(rel))
    assert spec.npix == npix
    assert spec.wave.unit == u.um and spec.flux.unit == u.uJy and spec.err.unit == u.uJy
    assert int(spec.valid.sum()) == nvalid
    # exact float64 copies of the table values
    assert spec.wave[i].value == pytest.approx(wave, rel=1e-12)
    assert spec.flux[i].value == pytest.approx(flux, rel=1e-12)
    assert spec.err[i].value == pytest.approx(err, rel=1e-12)
    assert spec.meta["layout"] == layout
    assert spec.meta["disperser"] == disp
    assert spec.meta["source_name"] == source
    assert spec.meta["filename"].endswith(rel.split("/")[-1])
    expected_r = get_disperser(disp).resolving_power(spec.wave.value)
    np.testing.assert_allclose(spec.resolution, expected_r, rtol=1e-12)
    assert np.all(np.diff(spec.wave.value) > 0)


@pytest.mark.realdata
def test_dja_header_keywords(real):
    spec = read_dja_spec(real(V09))
    hdr = spec.meta["header"]
    assert hdr["SRCNAME"] == "1345_933"
    assert hdr["VERSION"] == "0.9.19"
    assert hdr["EFFEXPTM"] == pytest.approx(1021.222)
    assert spec.meta["msaexp_version"] == "0.9.19"
    assert "npix" in spec.meta["extra_columns"]
    old = read_dja_spec(real(WAVECAL.format("prism-clear")))
    assert old.meta["header"]["NFILES"] == 9
    assert old.meta["header"]["EFFEXPTM"] == pytest.approx(70.11)


@pytest.mark.realdata
def test_gzip_and_plain_give_identical_spectra(real, tmp_path):
    gz = real(WAVECAL.format("g395m-f290lp"))
    plain = tmp_path / "calib_g395m.spec.fits"
    with gzip.open(gz, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a, b = read_dja_spec(gz), read_dja_spec(plain)
    np.testing.assert_array_equal(a.flux.value, b.flux.value)
    np.testing.assert_array_equal(a.valid, b.valid)
    # and the other way round: gzip a plain 0.8 file
    v08 = real(V08)
    zipped = tmp_path / "static.spec.fits.gz"
    with open(v08, "rb") as src, gzip.open(zipped, "wb") as dst:
        shutil.copyfileobj(src, dst)
    c, d = read_dja_spec(v08), read_dja_spec(zipped)
    np.testing.assert_array_equal(c.err.value, d.err.value)
    assert d.npix == 414


@pytest.mark.realdata
def test_layout_detection_by_columns(real):
    with fits.open(real(V08)) as hdul:
        assert dja_layout(hdul) == "msaexp-0.8"
    with fits.open(real(V09)) as hdul:
        assert dja_layout(hdul) == "msaexp-0.9"


@pytest.mark.realdata
@pytest.mark.parametrize(("rel", "shape"), [
    (WAVECAL.format("prism-clear"), (91, 435)), (V08, (31, 414)), (V09, (27, 501)),
])  # fmt: skip
def test_read_dja_spec2d_reproduces_optimal_extraction(real, rel, shape):
    path = real(rel)
    spec2d = read_dja_spec2d(path)
    spec = read_dja_spec(path)
    assert spec2d.shape == shape
    assert spec2d.bunit == "uJy" and spec2d.to_fnu == 1.0
    np.testing.assert_array_equal(spec2d.wave, spec.wave.value)
    # msaexp's optimal extraction sum(P D W)/sum(P^2 W) over the file's own PROFILE/WHT must
    # give back SPEC1D flux for the older (drizzle) layouts: proves the 2D unit is uJy/pixel.
    if spec.meta["layout"] != "msaexp-0.9":
        prof = spec2d.meta["profile"]
        with np.errstate(invalid="ignore", divide="ignore"):
            opt = np.nansum(prof * spec2d.sci * spec2d.wht, 0) / np.nansum(prof**2 * spec2d.wht, 0)
        ok = spec.valid
        close = np.isclose(opt[ok], spec.flux.value[ok], rtol=1e-5, atol=1e-6)
        # a few pixels differ: msaexp masks outlier pixels (OTHRESH) before its 1D sum
        assert close.mean() > 0.95
    assert spec2d.y[int(spec2d.meta["ytrace"])] == 0.0
