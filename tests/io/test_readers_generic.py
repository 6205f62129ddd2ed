"""Generic FITS/ECSV tables and the ESO Phase-3 VIMOS (LEGA-C) spectrum."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from slitwise.io.readers import detect_format, read_eso_phase3, read_spectrum, read_table_spectrum
from slitwise.spectra import FLAM_UNIT

LEGAC = "ppxf-legac/legac_M19_56670_v3.0.fits"


@pytest.mark.realdata
def test_read_vimos_phase3(real):
    path = real(LEGAC)
    assert detect_format(path) == "eso-phase3"
    spec = read_eso_phase3(path)
    assert spec.npix == 6166
    assert spec.flux.unit == u.Unit(1e-19 * u.erg / u.s / u.cm**2 / u.AA)
    assert not spec.is_fnu
    # 5800.3 .. 9499.3 Angstrom (TDMIN1/TDMAX1), float32 in the file
    assert spec.wave[0].to_value(u.AA) == pytest.approx(5800.3, rel=1e-6)
    assert spec.wave[-1].to_value(u.AA) == pytest.approx(9499.3, rel=1e-6)
    assert int(spec.valid.sum()) == 4086  # QUAL == 0 pixels (2080 have QUAL = 1)
    assert spec.flux[823].value == pytest.approx(95.31421847545835, rel=1e-12)
    assert spec.err[823].value == pytest.approx(4.4810743484975655, rel=1e-12)
    with fits.open(path) as hdul:
        qual = hdul["PHASE3SPECTRA"].data["QUAL"][0]
    np.testing.assert_array_equal(spec.valid, qual == 0)
    np.testing.assert_array_equal(spec.resolution, np.full(6166, 2500.0))
    assert spec.meta["source_name"] == "M19_56670"
    assert spec.meta["instrument"] == "VIMOS" and spec.meta["telescope"] == "ESO-VLT-U3"
    assert spec.meta["wave_medium"] == "air"
    assert spec.meta["header"]["PROG_ID"] == "194.A-2005(P)"
    # f_lambda stays f_lambda; conversion is explicit and finite where valid
    fnu = spec.to_fnu()
    assert fnu.flux.unit == u.uJy and np.all(np.isfinite(fnu.flux[spec.valid]))
    assert spec.to_flambda(FLAM_UNIT).flux[823].value == pytest.approx(953.1421847545835)


def _demo_table(n=20):
    wave = np.linspace(1.0, 2.0, n) * u.um
    flux = np.linspace(1, 2, n) * u.uJy
    err = np.full(n, 0.1) * u.uJy
    return QTable({"wavelength": wave, "flux": flux, "error": err})


def test_ecsv_and_fits_tables_round_trip(tmp_path):
    tab = _demo_table()
    tab["flux"][3] = np.nan
    ecsv = tmp_path / "s.ecsv"
    tab.write(ecsv, format="ascii.ecsv")
    fitsfile = tmp_path / "s.fits"
    tab.write(fitsfile, format="fits")
    for path in (ecsv, fitsfile):
        assert detect_format(path) == "table"
        spec = read_spectrum(path)
        assert spec.npix == 20
        assert spec.flux.unit == u.uJy and spec.wave.unit == u.um
        assert spec.flux[5].value == pytest.approx(tab["flux"][5].value)
        assert not spec.valid[3] and spec.valid.sum() == 19
        assert spec.meta["columns"] == {"wave": "wavelength", "flux": "flux", "err": "error"}


def test_table_with_angstrom_and_flambda_and_explicit_columns(tmp_path):
    n = 10
    tab = QTable(
        {
            "LAM": np.linspace(5000, 6000, n) * u.AA,
            "F": np.ones(n) * 1e-17 * u.erg / u.s / u.cm**2 / u.AA,
            "E": np.ones(n) * 1e-18 * u.erg / u.s / u.cm**2 / u.AA,
        }
    )
    path = tmp_path / "flam.fits"
    tab.write(path)
    spec = read_table_spectrum(path, flux_col="F", err_col="E", resolution=3000.0)
    assert spec.wave[0].to_value(u.um) == pytest.approx(0.5)
    assert spec.flux.unit.physical_type == FLAM_UNIT.physical_type
    np.testing.assert_array_equal(spec.resolution, np.full(n, 3000.0))


def test_units_given_by_caller_when_file_has_none(tmp_path):
    n = 5
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="wave", format="D", array=np.linspace(1, 2, n)),
            fits.Column(name="flux", format="D", array=np.ones(n)),
            fits.Column(name="err", format="D", array=np.ones(n)),
        ]
    )
    path = tmp_path / "nounit.fits"
    hdu.writeto(path)
    spec = read_table_spectrum(path, wave_unit="um", flux_unit="uJy")
    assert spec.flux.unit == u.uJy and spec.wave[-1].value == 2.0
