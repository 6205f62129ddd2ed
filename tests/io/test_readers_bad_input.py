"""Bad input to the readers: one SlitwiseInputError per case, naming file, HDU and column."""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from slitwise.errors import SlitwiseInputError
from slitwise.io.archive import open_spectrum
from slitwise.io.readers import (
    read_dja_spec,
    read_eso_phase3,
    read_msa_metafile,
    read_s2d,
    read_table_spectrum,
    read_x1d,
)

DJA = "msaexp-pypi-0.9.19/static-test-driz-center-bkg_933.spec.fits"
X1D = "nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits"
S2D = "nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_s2d.fits"
MSA = "nirspec-mos-jwebinar-smacs0723/jw02736007001_01_msa.fits"
PHOT = "msaexp-pypi-0.9.19/jw01345062001_03101_00001_nrs2_phot.138.1345_933.fits"

ALL_READERS = [open_spectrum, read_dja_spec, read_x1d, read_s2d, read_msa_metafile,
               read_eso_phase3, read_table_spectrum]  # fmt: skip


def _raises(func, path, *patterns):
    with pytest.raises(SlitwiseInputError) as info:
        func(path)
    msg = str(info.value)
    assert "\n" not in msg, "one-line messages only"
    assert str(path) in msg, f"message must name the file: {msg}"
    for pat in patterns:
        assert re.search(pat, msg), f"{pat!r} not in {msg!r}"
    return msg


def _edit_table(src, dst, hdu, edit):
    with fits.open(src) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    hdul[hdu] = edit(hdul[hdu])
    hdul.writeto(dst)
    return dst


def _drop(column):
    def edit(hdu):
        cols = [c for c in hdu.columns if c.name != column]
        return fits.BinTableHDU.from_columns(cols, header=hdu.header, name=hdu.name)

    return edit


def _set_unit(column, unit):
    def edit(hdu):
        cols = []
        for c in hdu.columns:
            if c.name == column:
                c = fits.Column(name=c.name, format=c.format, unit=unit, array=hdu.data[c.name])
            cols.append(c)
        header = hdu.header.copy()
        for key in list(header):
            if key.startswith("TUNIT"):
                del header[key]
        return fits.BinTableHDU.from_columns(cols, header=header, name=hdu.name)

    return edit


@pytest.mark.parametrize("reader", ALL_READERS, ids=lambda f: f.__name__)
def test_non_fits_file(tmp_path, reader):
    path = tmp_path / "notes.fits"
    path.write_text("this is not a FITS file\n")
    _raises(reader, path, "not a readable FITS file")


def test_fits_without_expected_hdus(tmp_path):
    path = tmp_path / "empty.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(path)
    _raises(open_spectrum, path, "unknown spectrum layout", "HDUs PRIMARY", "accepted: .*DJA")
    _raises(read_dja_spec, path, r"\[SPEC1D\]: HDU missing")
    _raises(read_x1d, path, r"\[EXTRACT1D\]: HDU missing")
    _raises(read_s2d, path, r"\[SCI\]: HDU missing")
    _raises(read_msa_metafile, path, r"\[SHUTTER_INFO\]: HDU missing")
    _raises(read_eso_phase3, path, r"\[PRIMARY\]: not an ESO Phase-3")
    _raises(read_table_spectrum, path, "no table HDU")


@pytest.mark.realdata
def test_slitlet_cutout_is_not_a_1d_spectrum(real):
    _raises(open_spectrum, real(PHOT), "unknown spectrum layout")


@pytest.mark.realdata
def test_s2d_without_asdf(real, tmp_path):
    with fits.open(real(S2D)) as hdul:
        keep = fits.HDUList([h.copy() for h in hdul if h.name != "ASDF"])
    path = tmp_path / "no_asdf_s2d.fits"
    keep.writeto(path)
    _raises(read_s2d, path, r"\[ASDF\]: HDU missing")


@pytest.mark.realdata
def test_missing_columns(real, tmp_path):
    p = _edit_table(real(DJA), tmp_path / "noerr.spec.fits", "SPEC1D", _drop("err"))
    _raises(read_dja_spec, p, r"\[SPEC1D\]: column 'err' missing")
    p = _edit_table(real(X1D), tmp_path / "x1d.fits", "EXTRACT1D", _drop("FLUX_ERROR"))
    _raises(read_x1d, p, r"\[EXTRACT1D\]: column 'FLUX_ERROR' missing")
    p = _edit_table(real(MSA), tmp_path / "msa.fits", "SHUTTER_INFO", _drop("shutter_state"))
    _raises(read_msa_metafile, p, r"\[SHUTTER_INFO\]: column 'shutter_state' missing")
    tab = Table({"wave": [1.0, 2.0], "flux": [1.0, 2.0]})
    tab["wave"].unit, tab["flux"].unit = "um", "uJy"
    p = tmp_path / "noerr.ecsv"
    tab.write(p, format="ascii.ecsv")
    _raises(read_table_spectrum, p, "no error column; expected one of err")


@pytest.mark.realdata
def test_wrong_or_missing_flux_units(real, tmp_path):
    p = _edit_table(real(DJA), tmp_path / "nounit.spec.fits", "SPEC1D", _set_unit("flux", None))
    _raises(read_dja_spec, p, r"\[SPEC1D\]\.flux: flux column has no unit")
    p = _edit_table(real(DJA), tmp_path / "sb.spec.fits", "SPEC1D", _set_unit("flux", "MJy/sr"))
    _raises(read_dja_spec, p, r"\[SPEC1D\]\.flux: flux unit 'MJy / sr' is neither f_nu")
    p = _edit_table(real(DJA), tmp_path / "bad.spec.fits", "SPEC1D", _set_unit("flux", "blurb"))
    _raises(read_dja_spec, p, r"\[SPEC1D\]\.flux: unit 'blurb' is not a recognised unit")
    p = _edit_table(real(X1D), tmp_path / "m_x1d.fits", "EXTRACT1D", _set_unit("FLUX", "m"))
    _raises(read_x1d, p, r"\[EXTRACT1D\]\.FLUX: flux unit 'm' is neither")
    p = _edit_table(real(DJA), tmp_path / "w.spec.fits", "SPEC1D", _set_unit("wave", "Jy"))
    _raises(read_dja_spec, p, r"\[SPEC1D\]\.wave: wavelength unit 'Jy' is not a length")
    tab = Table({"wave": [1.0, 2.0], "flux": [1.0, 2.0], "err": [0.1, 0.1]})
    tab["wave"].unit = "um"
    p = tmp_path / "nofluxunit.ecsv"
    tab.write(p, format="ascii.ecsv")
    _raises(read_table_spectrum, p, r"\.flux: flux column has no unit")


@pytest.mark.realdata
def test_unknown_grating(real, tmp_path):
    def bad_grating(hdu):
        hdu.header["GRATING"] = "G999X"
        return hdu

    p = _edit_table(real(DJA), tmp_path / "g.spec.fits", "SPEC1D", bad_grating)
    _raises(read_dja_spec, p, r"\[SPEC1D\] GRATING='G999X'", "unknown NIRSpec grating/filter")
    _raises(open_spectrum, p, "G999X")
    p = _edit_table(real(X1D), tmp_path / "g_x1d.fits", 0, bad_grating)
    _raises(read_x1d, p, r"\[PRIMARY\] GRATING='G999X'", "expected one of PRISM/CLEAR")


def test_all_nan_flux_reads_with_no_valid_pixels(tmp_path):
    """All-NaN flux is not a format error: the spectrum reads with an all-False mask."""
    n = 4
    tab = Table({"wave": np.arange(1.0, 5.0), "flux": np.full(n, np.nan), "err": np.ones(n)})
    tab["wave"].unit, tab["flux"].unit, tab["err"].unit = "um", "uJy", "uJy"
    p = tmp_path / "nan.fits"
    tab.write(p)
    spec = read_table_spectrum(p)
    assert spec.valid.sum() == 0  # readable, but nothing usable: downstream decides
