"""Small FITS helpers that turn low-level failures into clear input errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from astropy.io import fits

from slitwise.errors import input_error

__all__ = ["open_fits", "require_hdu", "require_columns"]


@contextlib.contextmanager
def open_fits(path: str | os.PathLike) -> Iterator[fits.HDUList]:
    """Open a FITS file (gzip allowed), raising :class:`SlitwiseInputError` if it is not FITS."""
    path = str(path)
    if not os.path.exists(path):
        raise input_error(path, "file not found")
    try:
        hdul = fits.open(path, memmap=False)
        hdul.verify("silentfix")
        _ = hdul[0].header  # force reading the primary header
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise input_error(path, f"not a readable FITS file ({exc.__class__.__name__})") from exc
    try:
        yield hdul
    finally:
        hdul.close()


def require_hdu(hdul: fits.HDUList, name: str, path: str, *, expected: str = "") -> fits.FitsHDU:
    """Return HDU ``name`` or raise an input error naming file and HDU."""
    if name not in [h.name for h in hdul]:
        msg = "HDU missing" + (f"; expected {expected}" if expected else "")
        raise input_error(f"{path}[{name}]", msg)
    return hdul[name]


def require_columns(table_hdu, columns: list[str] | tuple[str, ...], path: str) -> None:
    """Raise an input error naming the first required column absent from a table HDU."""
    names = [c.upper() for c in table_hdu.columns.names]
    for col in columns:
        if col.upper() not in names:
            raise input_error(
                f"{path}[{table_hdu.name}]",
                f"column '{col}' missing; found {', '.join(table_hdu.columns.names)}",
            )
