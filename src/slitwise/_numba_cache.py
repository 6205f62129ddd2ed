"""Keep numba's on-disk cache honest about cross-module dependencies.

numba (``cache=True``) re-validates a cached kernel against the source file that defines it,
not against the files of the functions it inlines. A kernel in ``nnls.py`` that calls
``design.build_design`` would keep running the old ``build_design`` after an edit or upgrade of
``design.py``. :func:`drop_stale` removes a module's cache files when the digest of the files
it depends on has changed since they were written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["drop_stale"]


def drop_stale(module_file: str, *depends: str) -> None:
    """Delete ``module_file``'s numba cache entries if any of ``depends`` changed.

    Best effort: a read-only install or a cache elsewhere (``NUMBA_CACHE_DIR``) is left alone.
    """
    src = Path(module_file)
    cache = src.parent / "__pycache__"
    digest = hashlib.sha256()
    for name in (src, *map(Path, depends)):
        try:
            digest.update(name.read_bytes())
        except OSError:
            return
    want = digest.hexdigest()[:16]
    stamp = cache / f"{src.stem}.deps-digest"
    try:
        if stamp.exists() and stamp.read_text().strip() == want:
            return
        if cache.is_dir():
            for entry in cache.glob(f"{src.stem}.*.nb[ic]"):
                entry.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(want + "\n")
    except OSError:
        return
