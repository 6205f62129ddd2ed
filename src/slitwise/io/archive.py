"""Open spectra from local paths or HTTP(S) archive URLs (e.g. the DJA) with a download cache.

Downloads go to ``cache_dir`` (default: ``$SLITWISE_CACHE`` or ``~/.cache/slitwise``) under a
name made of a hash of the URL and the URL's file name, so the same URL maps to the same file
and the original suffix (``.spec.fits.gz``, ``.ecsv``) is kept for format detection. Each file
is written to a temporary name and renamed when complete (:func:`slitwise.io.atomic.atomic_path`),
so an interrupted download never leaves a half-written cache entry.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from slitwise.errors import input_error
from slitwise.io.atomic import atomic_path
from slitwise.spectra import Spectrum1D

__all__ = ["open_spectrum", "fetch_url", "default_cache_dir", "cache_path", "is_url"]

log = logging.getLogger(__name__)

#: Default network timeout in seconds.
DEFAULT_TIMEOUT = 60.0
_CHUNK = 1 << 16


def is_url(path_or_url: str | os.PathLike) -> bool:
    """True for ``http://`` and ``https://`` addresses."""
    return str(path_or_url).lower().startswith(("http://", "https://"))


def default_cache_dir() -> Path:
    """``$SLITWISE_CACHE`` if set, else ``~/.cache/slitwise``."""
    env = os.environ.get("SLITWISE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "slitwise"


def cache_path(url: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where ``url`` is (or would be) cached: ``<cache_dir>/<sha256[:16]>-<basename>``."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    parsed = urllib.parse.urlparse(url)
    base = Path(urllib.parse.unquote(parsed.path)).name or "download"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return cache_dir / f"{digest}-{base}"


def _download(url: str, dest: Path, timeout: float) -> None:
    """Stream ``url`` into ``dest`` atomically; raise an input error naming the URL on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": "slitwise"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            with atomic_path(dest) as tmp:
                written = 0
                with open(tmp, "wb") as fh:
                    while chunk := response.read(_CHUNK):
                        fh.write(chunk)
                        written += len(chunk)
                if expected is not None and written != int(expected):
                    raise input_error(
                        url, f"download incomplete: {written} of {expected} bytes received"
                    )
    except urllib.error.HTTPError as exc:
        raise input_error(url, f"HTTP error {exc.code} ({exc.reason})") from exc
    except urllib.error.URLError as exc:
        raise input_error(url, f"unreachable ({exc.reason})") from exc
    except (TimeoutError, ConnectionError) as exc:
        raise input_error(url, f"unreachable ({exc.__class__.__name__}: {exc})") from exc
    log.info("downloaded %s -> %s", url, dest)


def fetch_url(
    url: str,
    *,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Download ``url`` into the cache (or reuse the cached copy) and return the local path.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` address.
    cache : bool
        Reuse a cached copy when present. With ``False`` the file is downloaded again (and the
        cache entry refreshed atomically).
    cache_dir : path-like, optional
        Cache directory (default :func:`default_cache_dir`).
    timeout : float
        Network timeout in seconds.

    Raises
    ------
    SlitwiseInputError
        Not an http(s) URL, HTTP error (e.g. 404), unreachable host, or truncated download.
    """
    if not is_url(url):
        raise input_error(url, "not an http(s) URL")
    dest = cache_path(url, cache_dir)
    if cache and dest.is_file():
        log.debug("cache hit %s -> %s", url, dest)
        return dest
    _download(url, dest, timeout)
    return dest


def open_spectrum(
    path_or_url: str | os.PathLike,
    *,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Spectrum1D:
    """Open a 1D spectrum from a local file or an http(s) URL, whatever its layout.

    The layout is detected (:func:`slitwise.io.readers.detect_format`): our own spec.fits,
    DJA/msaexp spec.fits (0.6/0.8/0.9, gzip or not), JWST x1d, ESO Phase-3, or a generic
    FITS/ECSV table.

    Parameters
    ----------
    path_or_url : str or path-like
        Local path, or ``http(s)://`` URL (downloaded once into the cache).
    cache : bool
        For URLs: reuse the cached download when present. With ``False`` the file is fetched
        into a temporary directory and not kept.
    cache_dir : path-like, optional
        Cache directory (default ``$SLITWISE_CACHE`` or ``~/.cache/slitwise``).
    timeout : float
        Network timeout in seconds.

    Returns
    -------
    Spectrum1D
        For URLs ``meta['url']`` holds the address and ``meta['filename']`` the local copy.

    Raises
    ------
    SlitwiseInputError
        Missing file, unreachable URL, HTTP error, unknown layout or bad content.
    """
    from slitwise.io.readers.detect import read_spectrum

    text = str(path_or_url)
    if not is_url(text):
        if text.lower().startswith("file://"):
            text = urllib.parse.unquote(urllib.parse.urlparse(text).path)
        return read_spectrum(text)
    if cache:
        local = fetch_url(text, cache=True, cache_dir=cache_dir, timeout=timeout)
        spec = read_spectrum(local)
    else:
        tmpdir = Path(tempfile.mkdtemp(prefix="slitwise-dl-"))
        try:
            local = fetch_url(text, cache=False, cache_dir=tmpdir, timeout=timeout)
            spec = read_spectrum(local)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    spec.meta["url"] = text
    return spec
