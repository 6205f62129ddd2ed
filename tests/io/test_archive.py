"""open_spectrum on local paths and on URLs served by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import shutil
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from slitwise.errors import SlitwiseInputError
from slitwise.io import archive
from slitwise.io.archive import cache_path, default_cache_dir, fetch_url, open_spectrum
from slitwise.io.atomic import TMP_PREFIX

FILES = {
    "calib_prism.spec.fits.gz": (
        "dja-nirspec-wavecal/calib_prism-clear_iras-05248-7007_s200a1.v1.spec.fits.gz"
    ),
    "nirspec_prism-clear_1345_933.spec.fits": (
        "msaexp-pypi-0.9.19/derived/nirspec_prism-clear_1345_933.spec.fits"
    ),
    "x1d.fits": "nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits",
    "legac.fits": "ppxf-legac/legac_M19_56670_v3.0.fits",
}


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server API)
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server(real, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    for name, rel in FILES.items():
        shutil.copy(real(rel), root / name)

    class Handler(_CountingHandler):
        requests: list[str] = []

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield base, root, Handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.realdata
@pytest.mark.parametrize("name", list(FILES))
def test_url_equals_local_and_second_call_hits_cache(server, tmp_path, name):
    base, root, handler = server
    cache = tmp_path / "cache"
    url = f"{base}/{name}"
    local = open_spectrum(root / name)
    remote = open_spectrum(url, cache_dir=cache)
    np.testing.assert_array_equal(remote.wave.value, local.wave.value)
    np.testing.assert_array_equal(remote.flux.value, local.flux.value)
    np.testing.assert_array_equal(remote.err.value, local.err.value)
    np.testing.assert_array_equal(remote.valid, local.valid)
    assert remote.flux.unit == local.flux.unit
    assert remote.meta["url"] == url
    assert handler.requests == [f"/{name}"]
    cached = cache_path(url, cache)
    assert cached.is_file() and cached.read_bytes() == (root / name).read_bytes()
    again = open_spectrum(url, cache_dir=cache)
    assert handler.requests == [f"/{name}"], "second call must not reach the server"
    np.testing.assert_array_equal(again.flux.value, local.flux.value)
    # cache=False downloads again and leaves nothing behind in the cache dir
    fresh = open_spectrum(url, cache=False, cache_dir=cache)
    assert len(handler.requests) == 2
    np.testing.assert_array_equal(fresh.flux.value, local.flux.value)
    assert sorted(p.name for p in cache.iterdir()) == [cached.name]


@pytest.mark.realdata
def test_http_404_names_url(server, tmp_path):
    base, _, _ = server
    url = f"{base}/missing.spec.fits"
    with pytest.raises(SlitwiseInputError, match=r"missing\.spec\.fits.*HTTP error 404"):
        open_spectrum(url, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_unreachable_url(tmp_path):
    # port 9 on localhost: nothing listens there in the test environment -> refused
    url = "http://127.0.0.1:9/x.spec.fits"
    with pytest.raises(SlitwiseInputError, match=r"127\.0\.0\.1:9/x\.spec\.fits: unreachable"):
        fetch_url(url, cache_dir=tmp_path, timeout=5)


def test_interrupted_download_leaves_no_cache_file(tmp_path, monkeypatch):
    """A connection that dies mid-body leaves neither the cache file nor a temporary file."""

    class Broken:
        headers = {"Content-Length": "100"}

        def __init__(self):
            self.sent = False

        def read(self, n):
            if not self.sent:
                self.sent = True
                return b"SIMPLE  =" + b" " * 20
            raise ConnectionResetError("peer reset")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(archive.urllib.request, "urlopen", lambda *a, **k: Broken())
    url = "http://example.invalid/a.spec.fits"
    with pytest.raises(SlitwiseInputError, match="unreachable"):
        fetch_url(url, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_truncated_body_is_an_error(tmp_path, monkeypatch):
    class Short:
        headers = {"Content-Length": "1000"}

        def __init__(self):
            self.chunks = [b"x" * 10]

        def read(self, n):
            return self.chunks.pop() if self.chunks else b""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(archive.urllib.request, "urlopen", lambda *a, **k: Short())
    url = "http://example.invalid/b.spec.fits"
    with pytest.raises(SlitwiseInputError, match="incomplete: 10 of 1000 bytes"):
        fetch_url(url, cache_dir=tmp_path)
    assert not any(p.name.startswith(TMP_PREFIX) or p.is_file() for p in tmp_path.iterdir())


def test_http_error_is_wrapped(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise urllib.error.HTTPError("http://h/c.fits", 503, "Service Unavailable", {}, None)

    monkeypatch.setattr(archive.urllib.request, "urlopen", fail)
    with pytest.raises(SlitwiseInputError, match=r"http://h/c\.fits: HTTP error 503"):
        fetch_url("http://h/c.fits", cache_dir=tmp_path)


def test_default_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SLITWISE_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SLITWISE_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "slitwise"
    p = cache_path("https://s3.amazonaws.com/dja/x/abc.spec.fits?v=1", tmp_path)
    assert p.parent == tmp_path and p.name.endswith("-abc.spec.fits")


def test_local_missing_file():
    with pytest.raises(SlitwiseInputError, match="nope.fits: file not found"):
        open_spectrum("nope.fits")
