"""Atomic file writing: write to a temporary name in the same directory, then rename.

An interrupted writer leaves either the complete old file, the complete new file, or a
temporary file whose name starts with ``.tmp-`` (never a half-written product).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_fits_atomic", "TMP_PREFIX"]

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    On error the temporary file is removed and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; products should get the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_fits_atomic(hdul, path: str | os.PathLike, *, checksum: bool = True) -> Path:
    """Write an ``HDUList`` to ``path`` atomically (with FITS checksums by default)."""
    with atomic_path(path) as tmp:
        hdul.writeto(tmp, overwrite=True, checksum=checksum)
    return Path(path)
