"""Security: loopback by default, no file outside DIR, validated input, CSRF, Host check.

Each refused request must also leave the database exactly as it was.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil

import pytest

from slitwise.inspect.server import DEFAULT_HOST, make_inspect_server


def _raw_get(live, path: str, host: str | None = None):
    """GET with the path sent byte for byte (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", live.server.server_port, timeout=30)
    conn.putrequest("GET", path, skip_host=host is not None)
    if host is not None:
        conn.putheader("Host", host)
    conn.endheaders()
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def _state(live):
    return live.store.counts(), [g.as_dict() for g in live.store.grades()]


def test_listens_on_loopback_by_default(run_dir, tmp_path):
    assert DEFAULT_HOST == "127.0.0.1"
    server = make_inspect_server(run_dir, port=0, db_path=tmp_path / "g.sqlite")
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


@pytest.mark.parametrize("path", [
    "/files/../../../../etc/passwd",
    "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/files/..%2f..%2f..%2fetc%2fpasswd",
    "/files//etc/passwd",
    "/files/%2fetc%2fpasswd",
    "/files/grades.sqlite",
    "/files/truth.ecsv",
    "/static/../app.py",
    "/static/%2e%2e/app.py",
    "/static/..%2fapp.py",
    "/thumb/..%2f..%2fetc%2fpasswd.svg",
    "/api/source/..%2f..%2fetc/2d/x.png",
])  # fmt: skip
def test_path_traversal_serves_nothing(live, path):
    status, body = _raw_get(live, path)
    assert 400 <= status < 500
    assert b"root:" not in body and b"import " not in body and b"SQLite" not in body


def test_only_indexed_products_are_served(live, run_dir):
    name = next(run_dir.glob("*.spec.fits")).name
    status, body = _raw_get(live, f"/files/{name}")
    assert status == 200 and body[:6] == b"SIMPLE"


def test_symlink_out_of_dir_is_not_served(tmp_path, run_dir, live_factory):
    root = tmp_path / "run"
    root.mkdir()
    for path in run_dir.glob("*_1001.*.fits"):
        shutil.copy(path, root / path.name)
    secret = tmp_path / "secret_prism-clear_9.spec.fits"
    secret.write_bytes(b"SIMPLE secret")
    os.symlink(secret, root / "evil_prism-clear_9.spec.fits")
    srv = live_factory(root, tmp_path / "g.sqlite")
    try:
        status, body = _raw_get(srv, "/files/evil_prism-clear_9.spec.fits")
        assert status == 404 and b"secret" not in body
    finally:
        srv.close()


@pytest.mark.parametrize("body", [
    {"source_id": "1001", "grade": 4, "inspector": "a"},
    {"source_id": "1001", "grade": -2, "inspector": "a"},
    {"source_id": "1001", "grade": "3", "inspector": "a"},
    {"source_id": "1001", "grade": True, "inspector": "a"},
    {"source_id": "1001", "grade": 2.5, "inspector": "a"},
    {"source_id": "1001", "grade": 3, "inspector": "a", "z_vi": 1e6},
    {"source_id": "1001", "grade": 3, "inspector": "a", "z_vi": "two"},
    {"source_id": "1001", "grade": 3, "inspector": "a", "z_vi": float("nan")},
    {"source_id": "1001", "grade": 3, "inspector": "a", "comment": "x" * 2001},
    {"source_id": "1001", "grade": 3, "inspector": ""},
    {"source_id": "1001", "grade": 3, "inspector": "a" * 65},
    {"source_id": "1001", "grade": 3, "inspector": "a", "admin": True},
    {"source_id": "no-such-source", "grade": 3, "inspector": "a"},
    ["not", "an", "object"],
])  # fmt: skip
def test_invalid_grade_is_4xx_and_changes_nothing(live, body):
    live.grade("1002", 1)  # something already stored
    before = _state(live)
    status, _, resp = live.request("POST", "/api/grade", raw=json.dumps(body).encode(),
                                   headers={"Content-Type": "application/json",
                                            "X-CSRF-Token": live.token})  # fmt: skip
    assert 400 <= status < 500
    assert json.loads(resp)["ok"] is False
    assert _state(live) == before


def test_non_json_body_is_400(live):
    status, _, _ = live.request("POST", "/api/grade", raw=b"grade=3&source_id=1001",
                                headers={"Content-Type": "application/x-www-form-urlencoded",
                                         "X-CSRF-Token": live.token})  # fmt: skip
    assert status == 400 and live.store.counts()["history"] == 0


@pytest.mark.parametrize("headers", [
    {},                                                    # no token
    {"X-CSRF-Token": "forged"},                            # wrong token
    {"X-CSRF-Token": ""},                                  # empty token
    "ORIGIN",                                              # right token, foreign Origin
])  # fmt: skip
def test_forged_requests_are_refused_and_change_nothing(live, headers):
    live.grade("1002", 1)
    before = _state(live)
    if headers == "ORIGIN":
        headers = {"X-CSRF-Token": live.token, "Origin": "http://evil.example"}
    body = json.dumps({"source_id": "1001", "grade": 3, "inspector": "mallory"}).encode()
    for path, ctype, data in (
        ("/api/grade", "application/json", body),
        ("/api/grade", "text/plain", body),  # what a cross-site <form> or fetch could send
        ("/api/merge-summary", "application/json", b"{}"),
        ("/import", "multipart/form-data; boundary=b",
         b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.ecsv\"\r\n\r\n"
         b"# %ECSV 1.0\r\n--b--\r\n"),
    ):
        status, _, _ = live.request("POST", path, raw=data,
                                    headers={"Content-Type": ctype, **headers})  # fmt: skip
        assert status == 403, path
    assert _state(live) == before
    summary = (live.index.root / "summary.ecsv").read_text()
    assert "vi_comment" not in summary


def test_foreign_host_header_is_refused(live):
    status, body = _raw_get(live, "/", host="attacker.example:80")
    assert status == 403 and live.token.encode() not in body
    assert _raw_get(live, "/", host=f"localhost:{live.server.server_port}")[0] == 200


def test_bad_import_applies_nothing(live):
    live.grade("1002", 1)
    before = _state(live)
    text = ("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: source_id, datatype: string}\n"
            "# - {name: grade, datatype: int64}\n# - {name: inspector, datatype: string}\n"
            "source_id grade inspector\n1001 3 ana\n1003 9 ana\n")  # fmt: skip
    form = ("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bad.ecsv\"\r\n\r\n"
            + text + "\r\n--b--\r\n").encode()  # fmt: skip
    status, _, body = live.request("POST", "/import", raw=form, headers={
        "Content-Type": "multipart/form-data; boundary=b", "X-CSRF-Token": live.token})
    assert status == 400 and b"row 2" in body and b"grade" in body
    assert _state(live) == before
