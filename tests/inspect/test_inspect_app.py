"""The web app over HTTP (real server thread on 127.0.0.1, real SQLite)."""

from __future__ import annotations

import io
import json
import re
import struct

import numpy as np
import pytest
from astropy.table import Table

from slitwise.inspect.exchange import grades_table, merge_into_summary, read_grades_ecsv
from slitwise.inspect.store import GradeStore, validate_grade
from slitwise.io.spec_product import read_spec
from slitwise.io.zfit_product import read_zfit


def _json(body: bytes):
    def no_nan(token):
        raise AssertionError(f"invalid JSON constant {token}")

    return json.loads(body, parse_constant=no_nan)


def test_overview_lists_every_source_with_headers(live):
    status, headers, body = live.request("GET", "/")
    assert status == 200
    html = body.decode()
    assert len(re.findall(r'<tr data-href="/source/(\d+)', html)) == 8
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in html  # no inline script (CSP forbids it anyway)


def test_overview_filters_sorts_and_pages(live):
    live.grade("1003", 3, z_vi=2.0)
    live.grade("1005", -1)
    rows = _json(live.request("GET", "/api/sources?grade=graded")[2])["rows"]
    assert {r["source_id"] for r in rows} == {"1003", "1005"}
    rows = _json(live.request("GET", "/api/sources?grade=-1")[2])["rows"]
    assert [r["source_id"] for r in rows] == ["1005"]
    rows = _json(live.request("GET", "/api/sources?grade=none")[2])["rows"]
    assert len(rows) == 6
    all_rows = _json(live.request("GET", "/api/sources?sort=z_auto&order=desc")[2])["rows"]
    z = [r["z_auto"] for r in all_rows]
    assert z == sorted(z, reverse=True)
    rows = _json(live.request("GET", "/api/sources?zmin=2&zmax=6")[2])["rows"]
    assert rows and all(2 <= r["z_auto"] <= 6 for r in rows)
    assert len(rows) == sum(2 <= v <= 6 for v in z)
    page = _json(live.request("GET", "/api/sources?per_page=3&page=3")[2])
    assert page["pages"] == 3 and [r["source_id"] for r in page["rows"]] == ["1007", "1008"]
    rows = _json(live.request("GET", "/api/sources?q=1004")[2])["rows"]
    assert [r["source_id"] for r in rows] == ["1004"]


@pytest.mark.parametrize("query", ["grade=7", "zmin=abc", "sort=evil", "per_page=0",
                                   "page=-1", "order=up", "zmax=inf", "q=" + "x" * 201])
def test_bad_overview_query_is_400(live, query):
    assert live.request("GET", "/?" + query)[0] == 400
    assert live.request("GET", "/api/sources?" + query)[0] == 400


def test_source_data_match_the_products(live, run_dir):
    status, _, body = live.request("GET", "/api/source/1001")
    assert status == 200
    data = _json(body)
    assert [s["config"] for s in data["spectra"]] == ["g395m-f290lp", "prism-clear"]
    prism = data["spectra"][1]
    product = read_spec(next(run_dir.glob("*prism-clear_1001.spec.fits")))
    # the page carries wavelengths to 8 and fluxes to 6 significant digits (half a unit in the
    # last digit: relative 5e-8 and 5e-6)
    np.testing.assert_allclose(prism["wave"], product.spectrum.wave.to_value("um"), rtol=5e-8)
    np.testing.assert_allclose(prism["flux"], product.spectrum.flux.value, rtol=5e-6)
    assert prism["ny"] == product.sci.shape[0] and len(prism["wave2d"]) == product.sci.shape[1]
    zf = read_zfit(next(run_dir.glob("*prism-clear_1001.zfit.fits")))
    zpay = data["zfits"][1]
    assert zpay["zbest"] == pytest.approx(zf.zbest) and len(zpay["z"]) == zf.z.size
    assert "SMALL_DELTA_CHI2" in zpay["warnings"] or zpay["zwarn"] == 0
    assert any(line["name"] == "Hα" and line["wave"] == pytest.approx(6564.61)
               for line in data["linelist"])  # fmt: skip
    assert live.request("GET", "/source/1001")[0] == 200
    assert live.request("GET", "/source/nope")[0] == 404
    assert live.request("GET", "/api/source/nope")[0] == 404


def test_2d_png_has_the_shape_of_sci(live, run_dir):
    status, headers, png = live.request("GET", "/api/source/1001/2d/prism-clear.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    sci = read_spec(next(run_dir.glob("*prism-clear_1001.spec.fits"))).sci
    assert (height, width) == sci.shape
    assert live.request("GET", "/api/source/1001/2d/g140m-f100lp.png")[0] == 404
    status, headers, svg = live.request("GET", "/thumb/1002.svg")
    assert status == 200 and b"<polyline" in svg


def test_grade_round_trip_and_history(live):
    status, _, body = live.grade("1002", 2, z_vi=3.25, comment="Ha + [OIII]")
    assert status == 200 and _json(body)["record"]["grade"] == 2
    live.grade("1002", 3, z_vi=3.251)
    hist = _json(live.request("GET", "/api/history/1002")[2])["history"]
    assert [h["grade"] for h in hist] == [2, 3] and hist[0]["comment"] == "Ha + [OIII]"
    row = next(r for r in _json(live.request("GET", "/api/sources")[2])["rows"]
               if r["source_id"] == "1002")  # fmt: skip
    assert (row["grade"], row["z_vi"], row["inspector"]) == (3, 3.251, "tester")


def test_export_import_and_merge_over_http(live, run_dir, tmp_path):
    live.grade("1001", 3, z_vi=4.0, comment="clear lines")
    live.grade("1004", 0)
    status, headers, body = live.request("GET", "/export.ecsv")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    recs = read_grades_ecsv(body)
    assert {(r.source_id, r.grade) for r in recs} == {("1001", 3), ("1004", 0)}
    table = Table.read(body.decode(), format="ascii.ecsv")
    assert list(table.colnames) == ["source_id", "z_auto", "z_vi", "grade", "inspector",
                                    "comment", "timestamp"]  # fmt: skip
    assert table["z_auto"][0] == pytest.approx(live.index.sources["1001"].z_auto)
    # import a file from another inspector through the form endpoint
    other = GradeStore(tmp_path / "other.sqlite")
    other.set_grade(validate_grade("1006", "zoe", 1, 6.1, "maybe"))
    buf = io.StringIO()
    grades_table(other).write(buf, format="ascii.ecsv")
    boundary = "XyZ"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"zoe.ecsv\"\r\nContent-Type: text/plain\r\n\r\n{buf.getvalue()}\r\n"
            f"--{boundary}--\r\n").encode()  # fmt: skip
    status, _, body = live.request(
        "POST", "/import", raw=form,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                 "X-CSRF-Token": live.token, "Accept": "application/json"},
    )  # fmt: skip
    assert status == 200 and _json(body)["applied"] == 1
    assert {(g.source_id, g.inspector) for g in live.store.grades()} == {
        ("1001", "tester"), ("1004", "tester"), ("1006", "zoe")}
    assert live.store.history("1006")[0]["origin"] == "import:zoe.ecsv"
    merged = merge_into_summary(Table.read(run_dir / "summary.ecsv"), grades_table(live.store))
    row = merged[list(merged["source"]).index("1006")]
    assert (row["grade"], row["inspector"], row["n_inspectors"]) == (1, "zoe", 1)
    assert merged["grade"][list(merged["source"]).index("1002")] == -99


def test_line_fit_results_reach_the_source_data(tmp_path, run_dir):
    import shutil

    from astropy.io import fits

    from slitwise.inspect.app import create_app

    for path in run_dir.glob("*_1001.*.fits"):
        shutil.copy(path, tmp_path / path.name)
    params = Table({"percentile": [16.0, 50.0, 84.0], "Ha_flux": [8.0, 10.0, 12.0]})
    params["Ha_flux"].unit = "1e-20 erg / (s cm2)"
    fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(params)]).writeto(
        tmp_path / "synth_prism-clear_1001.lines.fits")
    with fits.open(tmp_path / "synth_prism-clear_1001.lines.fits", mode="update") as hdul:
        hdul[1].name = "PARAMS"
    client = create_app(tmp_path, db_path=tmp_path / "g.sqlite").test_client()
    data = client.get("/api/source/1001").get_json()
    (lines,) = data["lines"]
    assert lines["params"] == [{"name": "Ha_flux", "unit": "10**-20 erg s-1 cm-2", "value": 10.0,
                                "err": 2.0}]  # fmt: skip
    row = client.get("/api/sources").get_json()["rows"][0]
    assert row["line_snr"] == pytest.approx(5.0)
