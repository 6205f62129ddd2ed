"""Product schema: generated docs up to date, naming rule, unit parsing, schema coherence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import astropy.units as u
import pytest

from slitwise.errors import SlitwiseInputError
from slitwise.io.naming import ProductName, parse_product_filename, product_filename
from slitwise.io.schema import (
    PRODUCTS,
    column_unit,
    main,
    parse_unit,
    render_markdown,
    validate_product,
)

REPO = Path(__file__).resolve().parents[2]


def test_docs_page_is_up_to_date(tmp_path):
    """docs/products.md must equal what the schema renders (regenerate it if this fails)."""
    out = tmp_path / "products.md"
    assert main([str(out)]) == 0
    committed = (REPO / "docs" / "products.md").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed, (
        "docs/products.md is stale: run python -m slitwise.io.schema docs/products.md"
    )


def test_docs_module_entry_point(tmp_path):
    out = tmp_path / "p.md"
    subprocess.run([sys.executable, "-m", "slitwise.io.schema", str(out)], check=True)
    assert out.read_text(encoding="utf-8") == render_markdown()


def test_docs_mention_every_hdu_column_and_keyword():
    text = render_markdown()
    for product in PRODUCTS.values():
        for hdu in product.hdus:
            assert f"[{hdu.name}]" in text
            for col in hdu.columns:
                assert f"| `{col.name}` |" in text
            for key in hdu.keywords:
                assert f"| `{key.name}` |" in text


def test_schema_units_parse_and_dtypes_are_known():
    keys = {"FLUXUNIT": "1e-18 erg / (s cm2)"}  # a line fit's flux unit
    for product in PRODUCTS.values():
        for hdu in product.hdus:
            for col in hdu.columns:
                column_unit(col, keys, f"{hdu.name}.{col.name}")
                assert col.dtype in {"float64", "int32", "int64", "bool", "str"}, col.name
                assert col.description and len(col.description) < 100


def test_design_contract_columns_present():
    """The columns DESIGN.md promises users, with their units."""
    spec1d = PRODUCTS["spec"].hdu("SPEC1D")
    assert spec1d.column("wave").unit == "um"
    for name in ("flux", "err", "flux_box3", "err_box5"):
        assert parse_unit(spec1d.column(name).unit, name) == u.uJy
    flam = parse_unit(spec1d.column("flam").unit, "flam")
    assert flam == u.Unit(1e-20 * u.erg / u.s / u.cm**2 / u.AA)
    keys = PRODUCTS["zfit"].keywords()
    for key in ("ZBEST", "ZQUAL", "ZCONF", "CHI2MIN", "ZMIN", "ZMAX", "NTEMPL", "ZWARN"):
        assert keys[key].required


def test_parse_unit_rejects_garbage():
    with pytest.raises(SlitwiseInputError, match="'furlongs per parsec' is not a valid unit"):
        parse_unit("furlongs per parsec", "here")


def test_validate_unknown_kind(tmp_path):
    with pytest.raises(SlitwiseInputError, match="unknown product"):
        from astropy.io import fits

        path = tmp_path / "x.fits"
        fits.HDUList([fits.PrimaryHDU()]).writeto(path)
        validate_product(path, "lines2")


@pytest.mark.parametrize(
    "args, name",
    [
        (("demo", "PRISM", "CLEAR", 1001, "spec"), "demo_prism-clear_1001.spec.fits"),
        (
            ("nirspec", "prism", "clear", "1345_933", "spec"),
            "nirspec_prism-clear_1345_933.spec.fits",
        ),
        (("gds-deep", "G395M", "F290LP", "s1.v2", "zfit"), "gds-deep_g395m-f290lp_s1.v2.zfit.fits"),
    ],
)
def test_product_filename_round_trip(args, name):
    assert product_filename(*args) == name
    root, grating, filt, source, kind = args
    assert parse_product_filename(name) == ProductName(
        root, grating.lower(), filt.lower(), str(source), kind
    )


def test_parse_dja_names():
    """Real DJA names: gzip suffix, source with underscores and dots, path prefix."""
    parsed = parse_product_filename(
        "../data/calib_g140m-f070lp_iras-05248-7007_s200a1.v1.spec.fits.gz"
    )
    assert parsed == ProductName("calib", "g140m", "f070lp", "iras-05248-7007_s200a1.v1", "spec")


@pytest.mark.parametrize(
    "args, match",
    [
        (("demo", "PRISM/X", "CLEAR", 1, "spec"), "grating 'prism/x'"),
        (("demo", "PRISM", "", 1, "spec"), "filter ''"),
        (("", "PRISM", "CLEAR", 1, "spec"), "root ''"),
        (("demo", "PRISM", "CLEAR", "a b", "spec"), "source 'a b'"),
        (("demo", "PRISM", "CLEAR", 1, "Spec.x"), "kind"),
        (("a_g140m-f100lp_b", "PRISM", "CLEAR", 1, "spec"), "ambiguous"),
    ],
)
def test_product_filename_rejects_bad_parts(args, match):
    with pytest.raises(SlitwiseInputError, match=match):
        product_filename(*args)


@pytest.mark.parametrize("name", ["demo.spec.fits", "demo_prism_1001.spec.fits", "x_a-b_c.fits"])
def test_parse_rejects_other_names(name):
    with pytest.raises(SlitwiseInputError, match="not a product file name"):
        parse_product_filename(name)
