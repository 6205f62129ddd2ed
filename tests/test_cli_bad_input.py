"""Bad input at the command line: exit status 2, one line naming the culprit, no output."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from slitwise.cli import main


def _spec1d(path, *, units=("um", "uJy", "uJy"), columns=("wave", "flux", "err"), grating="PRISM"):
    n = 50
    cols = [
        fits.Column(name=name, format="D", unit=unit, array=np.linspace(1, 2, n))
        for name, unit in zip(columns, units, strict=True)
    ]
    prim = fits.PrimaryHDU()
    prim.header["GRATING"] = grating
    prim.header["FILTER"] = "CLEAR"
    tab = fits.BinTableHDU.from_columns(cols, name="SPEC1D")
    fits.HDUList([prim, tab]).writeto(path)
    return path


def _not_fits(path):
    path.write_text("this is not a FITS file\n")
    return path


def _no_hdus(path):
    fits.HDUList([fits.PrimaryHDU()]).writeto(path)
    return path


CASES = {
    "non-FITS file": (_not_fits, "not"),
    "FITS without the expected HDUs": (_no_hdus, ""),
    "missing flux column": (lambda p: _spec1d(p, columns=("wave", "fluxx", "err")), "flux"),
    "wrong flux unit": (lambda p: _spec1d(p, units=("um", "m", "m")), "unit"),
    "missing wavelength unit": (lambda p: _spec1d(p, units=("", "uJy", "uJy")), ""),
    "unknown grating": (lambda p: _spec1d(p, grating="G999X"), "G999X"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_zfit_bad_input_exit_2_one_line_no_output(case, tmp_path, capsys):
    make, needle = CASES[case]
    bad = make(tmp_path / "bad.spec.fits")
    out = tmp_path / "out"
    status = main(["zfit", str(bad), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, case
    assert len(err) == 1, err
    assert "bad.spec.fits" in err[0] and needle in err[0]
    assert "Traceback" not in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_extract_missing_wavelength_exit_2(tmp_path, capsys):
    prim = fits.PrimaryHDU()
    prim.header["GRATING"] = "PRISM"
    prim.header["FILTER"] = "CLEAR"
    sci = fits.ImageHDU(np.ones((5, 10)), name="SCI")
    fits.HDUList([prim, sci, fits.ImageHDU(np.zeros((5, 10), "i4"), name="DQ"),
                  fits.ImageHDU(np.ones((5, 10)), name="ERR")]).writeto(tmp_path / "cut.fits")
    out = tmp_path / "out"
    status = main(["extract", str(tmp_path / "cut.fits"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and "cut.fits" in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_generic_table_reader_round_trip(tmp_path):
    """A generic ECSV table reads back with the units it declares."""
    from slitwise.io import open_spectrum

    t = Table({"wave": np.linspace(1, 2, 20), "flux": np.ones(20), "err": np.full(20, 0.1)})
    t["wave"].unit = "um"
    t["flux"].unit = "uJy"
    t["err"].unit = "uJy"
    t.write(tmp_path / "s.ecsv")
    spec = open_spectrum(tmp_path / "s.ecsv")
    assert spec.npix == 20 and spec.flux.unit == "uJy"
