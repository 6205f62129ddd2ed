"""spec.fits: exact round trip, TUNIT, checksums, atomic writing, schema validation, errors."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from slitwise.errors import SlitwiseInputError
from slitwise.io.atomic import TMP_PREFIX
from slitwise.io.schema import validate_product
from slitwise.io.spec_product import SpecProduct, read_spec, read_spec_1d, write_spec
from slitwise.spectra import Spectrum1D


def make_spec_product(*, nx: int = 60, ny: int = 9, seed: int = 1) -> SpecProduct:
    """A SpecProduct with every optional part filled, a NaN and masked pixels included."""
    rng = np.random.default_rng(seed)
    wave = np.linspace(0.6, 5.3, nx) * u.um
    flux = rng.normal(1.0, 0.3, nx)
    err = np.abs(rng.normal(0.1, 0.02, nx)) + 0.01
    flux[5] = np.nan  # a dead pixel: must come back as NaN and valid=False
    valid = np.ones(nx, bool)
    valid[10:13] = False
    spectrum = Spectrum1D(
        wave=wave,
        flux=flux * u.uJy,
        err=err * u.uJy,
        valid=valid,
        resolution=np.linspace(30.0, 300.0, nx),
    )
    boxcar = {w: (rng.normal(1, 0.3, nx) * u.uJy, np.full(nx, 0.1 * w) * u.uJy) for w in (3, 4, 5)}
    sci = rng.normal(0, 1, (ny, nx))
    y = np.arange(ny) - ny // 2
    profiles = Table(
        {
            "y": y.astype(float),
            "weight_optimal": np.exp(-0.5 * y**2),
            "weight_box3": (np.abs(y) <= 1).astype(float),
        }
    )
    exposures = Table(
        {
            "file": ["jw01_nrs1_phot.1.fits", "jw02_nrs1_phot.1.fits", "jw03_nrs1_phot.1.fits"],
            "nod_position": [1, 2, 3],
            "exptime": [1021.2, 1021.2, 1021.2] * u.s,
            "stuck_shutters": ["", "1x0", ""],
            "detector": ["NRS1", "NRS1", "NRS2"],
        }
    )
    return SpecProduct(
        spectrum=spectrum,
        source="1001",
        grating="PRISM",
        filter="CLEAR",
        redshift=4.321,
        boxcar=boxcar,
        sci=sci,
        err=np.abs(sci) * 0.1 + 0.05,
        wavelength=np.tile(wave.value, (ny, 1)),
        wht=1.0 / (np.abs(sci) * 0.1 + 0.05) ** 2,
        bunit="uJy",
        wht_unit="uJy-2",
        profiles=profiles,
        exposures=exposures,
        extraction={"EXTMETH": "optimal", "PROFSIG": 0.8, "NEXP": 3, "PATHCORR": True},
        meta={"PROGRAM": "demo", "SIMSEED": 42, "TELESCOP": "JWST"},
    )


def bitwise_equal(a, b) -> bool:
    """Same dtype, shape and bytes (so NaN payloads and signed zeros count)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_tables_equal(a: Table, b: Table) -> None:
    assert a.colnames == b.colnames
    for name in a.colnames:
        assert a[name].unit == b[name].unit, name
        assert bitwise_equal(np.asarray(a[name]), np.asarray(b[name])), name


@pytest.fixture
def product():
    return make_spec_product()


@pytest.fixture
def written(product, tmp_path):
    path = tmp_path / "demo_prism-clear_1001.spec.fits"
    write_spec(product, path)
    return path


def test_round_trip_is_exact(product, written):
    back = read_spec(written)
    s0, s1 = product.spectrum, back.spectrum
    for attr in ("wave", "flux", "err"):
        assert getattr(s1, attr).unit == getattr(s0, attr).unit
        assert bitwise_equal(getattr(s1, attr).value, getattr(s0, attr).value), attr
    assert bitwise_equal(s1.valid, s0.valid)
    assert not s1.valid[5] and not s1.valid[11] and np.isnan(s1.flux[5])
    assert bitwise_equal(s1.resolution, s0.resolution)
    assert sorted(back.boxcar) == [3, 4, 5]
    for w, (flux, err) in product.boxcar.items():
        assert back.boxcar[w][0].unit == u.uJy and back.boxcar[w][1].unit == u.uJy
        assert bitwise_equal(back.boxcar[w][0].value, flux.value)
        assert bitwise_equal(back.boxcar[w][1].value, err.value)
    for attr in ("sci", "err", "wavelength", "wht"):
        assert bitwise_equal(getattr(back, attr), getattr(product, attr)), attr
    assert (back.bunit, back.wht_unit) == (product.bunit, product.wht_unit)
    assert_tables_equal(back.profiles, product.profiles)
    assert_tables_equal(back.exposures, product.exposures)
    assert (back.source, back.grating, back.filter) == ("1001", "PRISM", "CLEAR")
    assert back.redshift == product.redshift
    assert back.extraction == product.extraction
    assert back.meta == product.meta
    assert type(back.extraction["NEXP"]) is int and type(back.extraction["PATHCORR"]) is bool


def test_round_trip_minimal_product(tmp_path):
    spec = Spectrum1D(
        wave=np.array([1.0, 2.0]) * u.um, flux=[1.0, 2.0] * u.uJy, err=[0.1, 0.2] * u.uJy
    )
    product = SpecProduct(spectrum=spec, source="7", grating="G395M", filter="F290LP")
    path = write_spec(product, tmp_path / "x_g395m-f290lp_7.spec.fits")
    back = read_spec(path)
    assert back.boxcar == {} and back.sci is None and back.exposures is None
    assert back.redshift is None and back.meta == {} and back.extraction == {}
    assert back.spectrum.resolution is None
    assert bitwise_equal(back.spectrum.flux.value, np.array([1.0, 2.0]))
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SPEC1D"]


def test_spectrum_is_stored_in_um_and_ujy(tmp_path):
    """Other units are converted once, on construction; the file holds um and uJy."""
    wave = np.array([10000.0, 20000.0]) * u.AA
    spec = Spectrum1D(wave=wave, flux=[1.0, 2.0] * u.mJy, err=[0.1, 0.2] * u.mJy)
    product = SpecProduct(spectrum=spec, source="a", grating="G140M", filter="F100LP")
    assert product.spectrum.wave.unit == u.um and product.spectrum.flux.unit == u.uJy
    path = write_spec(product, tmp_path / "x.spec.fits")
    data = fits.getdata(path, "SPEC1D")
    # Tolerances: float64 round-off of one unit conversion.
    np.testing.assert_allclose(data["wave"], [1.0, 2.0], rtol=1e-14)
    np.testing.assert_allclose(data["flux"], [1000.0, 2000.0], rtol=1e-14)
    # f_lambda = f_nu c / lambda^2: 1 mJy at 1 um is 1e-26 * 2.99792458e18 / 1e8 erg/s/cm2/A.
    expected = 1e-26 * 2.99792458e18 / 1e4**2 / 1e-20
    np.testing.assert_allclose(data["flam"][0], expected, rtol=1e-12)
    np.testing.assert_allclose(data["flam_err"][0], 0.1 * expected, rtol=1e-12)


def test_every_column_has_tunit(written):
    with fits.open(written) as hdul:
        tables = [h for h in hdul if isinstance(h, fits.BinTableHDU)]
        assert [h.name for h in tables] == ["SPEC1D", "PROF1D", "EXPOSURES"]
        for hdu in tables:
            for i, name in enumerate(hdu.columns.names, start=1):
                assert f"TUNIT{i}" in hdu.header, f"{hdu.name}.{name}"
        units = {
            n: hdul["SPEC1D"].header[f"TUNIT{i}"]
            for i, n in enumerate(hdul["SPEC1D"].columns.names, start=1)
        }
    assert units["wave"] == "um" and units["flux"] == "uJy" and units["err_box4"] == "uJy"
    assert u.Unit(units["flam"], format="fits") == u.Unit(1e-20 * u.erg / u.s / u.cm**2 / u.AA)
    assert units["valid"] == ""


def test_primary_keywords(written):
    hdr = fits.getheader(written, 0)
    assert hdr["ORIGIN"] == "slitwise" and hdr["PRODTYPE"] == "spec" and hdr["FMTVER"] == "1.0"
    assert (hdr["SRCNAME"], hdr["GRATING"], hdr["FILTER"]) == ("1001", "PRISM", "CLEAR")
    assert hdr["REDSHIFT"] == 4.321 and hdr["EXTMETH"] == "optimal" and hdr["SIMSEED"] == 42


def test_checksums_are_valid(written):
    with fits.open(written, checksum=True) as hdul:
        for hdu in hdul:
            assert "CHECKSUM" in hdu.header and "DATASUM" in hdu.header
            assert hdu.verify_checksum() == 1 and hdu.verify_datasum() == 1


def test_corrupted_file_fails_checksum(written):
    raw = bytearray(written.read_bytes())
    idx = raw.rfind(b"NRS2")  # a byte inside the EXPOSURES table data
    raw[idx] = ord("X")
    written.write_bytes(bytes(raw))
    with fits.open(written) as hdul:
        assert hdul["EXPOSURES"].verify_datasum() == 0


def test_readable_the_dja_way(written):
    table = Table.read(written, "SPEC1D")
    assert table["wave"].unit == u.um
    assert table["flux"].unit == u.uJy and table["err"].unit == u.uJy
    assert len(table) == 60


def test_written_file_validates(written):
    validate_product(written, "spec")
    with pytest.raises(SlitwiseInputError, match="PRODTYPE"):
        validate_product(written, "zfit")


def _rewrite(path, edit):
    """Edit a written file in place (update mode keeps every other card, empty TUNITs too)."""
    with fits.open(path, mode="update") as hdul:
        edit(hdul)


def _drop_column(name):
    def edit(hdul):
        old = hdul["SPEC1D"]
        keep = [i for i, c in enumerate(old.columns) if c.name != name]
        new = fits.BinTableHDU.from_columns([old.columns[i] for i in keep], name="SPEC1D")
        for j, i in enumerate(keep, start=1):
            new.header[f"TUNIT{j}"] = old.header[f"TUNIT{i + 1}"]
        hdul[1] = new

    return edit


def _set_tunit(name, unit):
    def edit(hdul):
        i = hdul["SPEC1D"].columns.names.index(name) + 1
        hdul["SPEC1D"].header[f"TUNIT{i}"] = unit

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (_drop_column("flux"), r"\[SPEC1D\]: column 'flux' missing"),
        (_set_tunit("flux", "Jy"), r"\[SPEC1D\]\.flux: unit 'Jy', expected 'uJy'"),
        (_set_tunit("wave", "Angstrom"), r"\[SPEC1D\]\.wave: unit 'Angstrom', expected 'um'"),
        (lambda h: h.__delitem__(1), r"\[SPEC1D\]: HDU missing"),
        (lambda h: h[0].header.remove("GRATING"), r"\[PRIMARY\]: keyword GRATING missing"),
        (lambda h: h[0].header.set("ORIGIN", "msaexp"), r"\[PRIMARY\]: keyword ORIGIN"),
        (lambda h: h[0].header.set("FMTVER", "2.0"), r"\[PRIMARY\]: FMTVER='2.0'"),
        (lambda h: h["WAVELENGTH"].header.set("BUNIT", "nm"), r"\[WAVELENGTH\]: BUNIT 'nm'"),
        (_set_tunit("valid", "uJy"), r"\[SPEC1D\]\.valid: unit"),
    ],
    ids=[
        "no-flux",
        "flux-Jy",
        "wave-AA",
        "no-SPEC1D",
        "no-GRATING",
        "origin",
        "version",
        "wave2d-nm",
        "valid-unit",
    ],
)
def test_broken_file_is_an_input_error(written, edit, match):
    _rewrite(written, edit)
    with pytest.raises(SlitwiseInputError, match=match) as info:
        read_spec(written)
    assert str(written) in str(info.value)
    with pytest.raises(SlitwiseInputError, match=match):
        validate_product(written, "spec")


def test_missing_tunit_fails_validation_but_reads(written):
    """astropy drops empty TUNIT cards when it rewrites a table; readers take '' then."""
    with fits.open(written) as hdul:
        copy = fits.HDUList([h.copy() for h in hdul])
    copy.writeto(written, overwrite=True)
    i = fits.getdata(written, "SPEC1D").columns.names.index("valid") + 1
    assert f"TUNIT{i}" not in fits.getheader(written, "SPEC1D")
    with pytest.raises(SlitwiseInputError, match=r"\[SPEC1D\]\.valid: column has no TUNIT"):
        validate_product(written, "spec")
    assert read_spec(written).spectrum.npix == 60


def test_not_fits_is_an_input_error(tmp_path):
    path = tmp_path / "notfits.spec.fits"
    path.write_text("hello")
    with pytest.raises(SlitwiseInputError, match="not a readable FITS"):
        read_spec(path)


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir())


def test_failed_write_leaves_nothing(product, tmp_path, monkeypatch):
    """An exception in the middle of writing leaves neither the product nor a temporary file."""
    real_writeto = fits.HDUList.writeto

    def half_write(self, name, *args, **kwargs):
        real_writeto(self, name, *args, **kwargs)  # the temporary file is complete on disk...
        raise OSError("disk full")  # ...and then the write fails

    monkeypatch.setattr(fits.HDUList, "writeto", half_write)
    target = tmp_path / "out" / "demo_prism-clear_1001.spec.fits"
    with pytest.raises(OSError, match="disk full"):
        write_spec(product, target)
    assert _leftovers(target.parent) == []


def test_unserializable_meta_is_an_input_error_and_writes_nothing(tmp_path):
    product = make_spec_product()
    product.meta["BADVALUE"] = {"not": "a scalar"}  # bypasses __post_init__ checks
    with pytest.raises((SlitwiseInputError, ValueError)):
        write_spec(product, tmp_path / "x.spec.fits")
    assert _leftovers(tmp_path) == []
    with pytest.raises(SlitwiseInputError, match="meta 'BAD'"):
        SpecProduct(
            spectrum=product.spectrum,
            source="1",
            grating="PRISM",
            filter="CLEAR",
            meta={"BAD": object()},
        )


def test_existing_product_survives_failed_overwrite(product, written, monkeypatch):
    before = written.read_bytes()

    def fail(self, name, *args, **kwargs):
        raise OSError("boom")

    monkeypatch.setattr(fits.HDUList, "writeto", fail)
    with pytest.raises(OSError):
        write_spec(product, written)
    assert written.read_bytes() == before
    assert not any(p.name.startswith(TMP_PREFIX) for p in written.parent.iterdir())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"source": ""}, "'source' must be"),
        ({"boxcar": {0: ([1.0] * 4, [1.0] * 4)}}, "boxcar width 0"),
        ({"boxcar": {3: ([1.0] * 3, [1.0] * 4)}}, r"flux_box3: shape \(3,\)"),
        ({"boxcar": {3: ([1.0] * 4 * u.m, [1.0] * 4)}}, "flux_box3: unit 'm' is not f_nu"),
        ({"extraction": {"FOO": 1}}, "extraction 'FOO': unknown parameter"),
        ({"meta": {"GRATING": "X"}}, "declared by the format"),
        ({"meta": {"TOOLONGKEY": 1}}, "at most 8"),
        ({"sci": np.zeros((2, 4)), "err": np.zeros((3, 4))}, r"err: shape \(3, 4\)"),
        ({"sci": np.zeros((2, 4)), "wavelength": np.zeros(5)}, "wavelength: shape"),
        ({"exposures": Table({"file": ["a"]})}, "column 'nod_position' missing"),
        ({"profiles": Table({"y": [0.0], "optimal": [1.0]})}, "profiles column 'optimal'"),
        ({"redshift": float("nan")}, "not finite"),
    ],
)
def test_bad_product_fields(kwargs, match):
    spec = Spectrum1D(
        wave=np.arange(1.0, 5.0) * u.um, flux=np.ones(4) * u.uJy, err=np.ones(4) * u.uJy
    )
    args = {"spectrum": spec, "source": "1", "grating": "PRISM", "filter": "CLEAR"} | kwargs
    with pytest.raises(SlitwiseInputError, match=match):
        SpecProduct(**args)


def test_read_spec_1d(written, product):
    spec = read_spec_1d(written)
    assert isinstance(spec, Spectrum1D)
    assert bitwise_equal(spec.flux.value, product.spectrum.flux.value)
    assert spec.meta["source"] == "1001" and spec.meta["filename"] == str(written)


def test_flambda_input_gives_back_flam_column(tmp_path):
    """An f_lambda spectrum is stored as f_nu; the derived `flam` column recovers the input."""
    flam_unit = u.Unit(1e-20 * u.erg / u.s / u.cm**2 / u.AA)
    wave = np.array([1.0, 2.0, 4.0]) * u.um
    spec = Spectrum1D(wave=wave, flux=[1.0, 2.0, 3.0] * flam_unit, err=[0.1, 0.1, 0.1] * flam_unit)
    product = SpecProduct(spectrum=spec, source="a", grating="G235M", filter="F170LP")
    data = fits.getdata(write_spec(product, tmp_path / "x.spec.fits"), "SPEC1D")
    # Two conversions (f_lambda -> f_nu -> f_lambda) in float64: round-off only.
    np.testing.assert_allclose(data["flam"], [1.0, 2.0, 3.0], rtol=1e-12)
    np.testing.assert_allclose(data["flam_err"], [0.1, 0.1, 0.1], rtol=1e-12)
