"""Fixtures of the inspection-app tests: a synthetic run, a live server, a headless browser."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from slitwise.inspect.server import make_inspect_server, start_in_thread
from slitwise.inspect.synthetic import write_synthetic_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
N_SOURCES = 8


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A synthetic run: 8 sources, prism for all, G395M for every third (products only)."""
    out = tmp_path_factory.mktemp("inspect_run")
    write_synthetic_run(out, N_SOURCES, seed=3)
    return out


class Live:
    """A running server over ``run_dir`` with its own grade database."""

    def __init__(self, directory: Path, db: Path) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = make_inspect_server(directory, port=0, db_path=db)
        self.thread = start_in_thread(self.server)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        ext = self.server.app.extensions["slitwise"]
        self.token, self.store, self.index = ext["csrf"], ext["store"], ext["index"]
        self.db = db

    def request(self, method: str, path: str, *, body=None, headers=None, raw: bytes | None = None):
        """(status, headers, body bytes) of one request; never raises on HTTP errors."""
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            out = exc.code, dict(exc.headers), exc.read()
            exc.close()
            return out

    def grade(self, source_id: str, grade, *, token: str | None = None, **fields):
        body = {"source_id": source_id, "grade": grade, "inspector": "tester", **fields}
        return self.request("POST", "/api/grade", body=body,
                            headers={"X-CSRF-Token": self.token if token is None else token})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_factory():
    """The :class:`Live` class, to start a server over another directory."""
    return Live


@pytest.fixture
def live(run_dir, tmp_path):
    """A live server on 127.0.0.1 (free port) with a fresh grade database."""
    srv = Live(run_dir, tmp_path / "grades.sqlite")
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by Playwright (skips when either is missing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed (pip install playwright)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Directory for the browser tests' screenshots (path printed by the tests)."""
    return tmp_path_factory.mktemp("inspect_screens")
