"""zfit.fits: exact round trip, TUNIT, checksums, atomic writing, schema validation, errors."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from slitwise.errors import SlitwiseInputError
from slitwise.io.schema import ZWARN_BITS, validate_product
from slitwise.io.zfit_product import ZfitProduct, ZWarn, read_zfit, write_zfit


def make_zfit_product(*, nz: int = 200, seed: int = 2) -> ZfitProduct:
    """A ZfitProduct with model, chi2 curve and coefficients."""
    rng = np.random.default_rng(seed)
    z = np.linspace(0.0, 10.0, nz)
    chi2 = 500 + (z - 4.3) ** 2 * 100 + rng.normal(0, 1, nz)
    pz = np.exp(-0.5 * (chi2 - chi2.min()))
    pz /= np.trapezoid(pz, z)
    wave = np.linspace(0.6, 5.3, 80)
    return ZfitProduct(
        zbest=4.3,
        zqual=3,
        zconf=0.97,
        chi2min=float(chi2.min()),
        zmin=0.0,
        zmax=10.0,
        ntempl=3,
        zwarn=ZWarn.SMALL_DELTA_CHI2 | ZWarn.Z_AT_EDGE,
        model_wave=wave * u.um,
        model_flux=rng.normal(1, 0.1, 80) * u.uJy,
        z=z,
        chi2=chi2,
        pz=pz,
        templates=["fsps_young", "fsps_old", "line_halpha"],
        coeffs=np.array([1.5, 0.25, 3e-18]),
        coeffs_err=np.array([0.1, np.nan, 1e-19]),
        coeff_units=["uJy", "uJy", "erg s-1 cm-2"],
        meta={
            "SRCNAME": "1001",
            "GRATING": "PRISM",
            "INFILE": "demo_prism-clear_1001.spec.fits",
            "NPIXFIT": 412,
        },
    )


def bitwise_equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture
def product():
    return make_zfit_product()


@pytest.fixture
def written(product, tmp_path):
    return write_zfit(product, tmp_path / "demo_prism-clear_1001.zfit.fits")


def test_round_trip_is_exact(product, written):
    back = read_zfit(written)
    for attr in ("zbest", "zqual", "zconf", "chi2min", "zmin", "zmax", "ntempl", "zwarn"):
        assert getattr(back, attr) == getattr(product, attr), attr
        assert type(getattr(back, attr)) is type(getattr(product, attr)), attr
    assert back.model_wave.unit == u.um and back.model_flux.unit == u.uJy
    assert bitwise_equal(back.model_wave.value, product.model_wave.value)
    assert bitwise_equal(back.model_flux.value, product.model_flux.value)
    for attr in ("z", "chi2", "pz", "coeffs", "coeffs_err"):
        assert bitwise_equal(getattr(back, attr), getattr(product, attr)), attr
    assert back.templates == product.templates
    assert back.coeff_units == product.coeff_units
    assert back.meta == product.meta
    assert back.warnings == ZWarn.SMALL_DELTA_CHI2 | ZWarn.Z_AT_EDGE


def test_primary_keywords(written):
    hdr = fits.getheader(written, 0)
    assert hdr["ORIGIN"] == "slitwise" and hdr["PRODTYPE"] == "zfit"
    assert hdr["ZBEST"] == 4.3 and hdr["ZQUAL"] == 3 and hdr["NTEMPL"] == 3
    assert hdr["ZWARN"] == 4 + 8 and hdr["SRCNAME"] == "1001"
    with fits.open(written) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "MODEL", "CHI2", "COEFFS"]


def test_every_column_has_tunit(written):
    with fits.open(written) as hdul:
        n = 0
        for hdu in hdul[1:]:
            for i, name in enumerate(hdu.columns.names, start=1):
                assert f"TUNIT{i}" in hdu.header, f"{hdu.name}.{name}"
                n += 1
        assert n == 2 + 3 + 4
        assert hdul["MODEL"].header["TUNIT1"] == "um" and hdul["MODEL"].header["TUNIT2"] == "uJy"


def test_checksums_are_valid(written):
    with fits.open(written, checksum=True) as hdul:
        for hdu in hdul:
            assert hdu.verify_checksum() == 1 and hdu.verify_datasum() == 1


def test_written_file_validates(written):
    validate_product(written, "zfit")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda h: h[0].header.remove("ZBEST"), r"\[PRIMARY\]: keyword ZBEST missing"),
        (lambda h: h[0].header.set("ZQUAL", 2.5), r"\[PRIMARY\]: keyword ZQUAL=2.5 is not .*int"),
        (lambda h: h["MODEL"].header.set("TUNIT1", "nm"), r"\[MODEL\]\.wave: unit 'nm'"),
        (lambda h: h.__delitem__(3), r"\[COEFFS\]: HDU missing"),
    ],
    ids=["no-zbest", "zqual-float", "model-nm", "no-coeffs"],
)
def test_broken_file_is_an_input_error(written, edit, match):
    with fits.open(written, mode="update") as hdul:
        edit(hdul)
    with pytest.raises(SlitwiseInputError, match=match) as info:
        read_zfit(written)
    assert str(written) in str(info.value)
    with pytest.raises(SlitwiseInputError, match=match):
        validate_product(written, "zfit")


def test_failed_write_leaves_nothing(product, tmp_path, monkeypatch):
    real_writeto = fits.HDUList.writeto

    def half_write(self, name, *args, **kwargs):
        real_writeto(self, name, *args, **kwargs)
        raise OSError("interrupted")

    monkeypatch.setattr(fits.HDUList, "writeto", half_write)
    with pytest.raises(OSError, match="interrupted"):
        write_zfit(product, tmp_path / "a.zfit.fits")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"zbest": float("nan")}, "zbest: nan is not finite"),
        ({"zqual": 2.5}, "zqual: expected an integer"),
        ({"ntempl": "3"}, "ntempl: expected a number"),
        ({"model_flux": [1.0, 2.0] * u.m}, "model_flux: unit 'm'"),
        ({"z": [0.0, 1.0], "chi2": [1.0], "pz": [1.0, 1.0]}, "same length"),
        ({"templates": ["a"], "coeffs": [1.0, 2.0]}, "must all have 1 entries"),
        ({"templates": ["a"], "coeffs": [1.0], "coeff_units": ["furlong"]}, "not a valid unit"),
        ({"meta": {"ZBEST": 1.0}}, "declared by the format"),
    ],
)
def test_bad_product_fields(kwargs, match):
    args = {
        "zbest": 1.0,
        "zqual": 3,
        "zconf": 0.9,
        "chi2min": 10.0,
        "zmin": 0.0,
        "zmax": 5.0,
        "ntempl": 1,
    } | kwargs
    with pytest.raises(SlitwiseInputError, match=match):
        ZfitProduct(**args)


def test_minimal_product_round_trip(tmp_path):
    product = ZfitProduct(
        zbest=0.0, zqual=0, zconf=0.0, chi2min=0.0, zmin=0.0, zmax=1.0, ntempl=0, zwarn=ZWarn.NODATA
    )
    back = read_zfit(write_zfit(product, tmp_path / "x.zfit.fits"))
    assert back.zwarn == 1 and back.templates == [] and back.z.size == 0
    assert back.model_wave.unit == u.um


def test_zwarn_matches_schema():
    """The IntFlag and the documented bits are the same list."""
    assert [(f.name, f.value) for f in ZWarn] == [(n, 1 << b) for n, b, _ in ZWARN_BITS]
