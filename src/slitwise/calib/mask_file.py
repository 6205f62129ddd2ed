"""Mask description files: one slit per row, whitespace separated.

Format (documented in ``docs/ground_calibration.md``)::

    # ID  DIMX  DIMY   X       Y      ROT  WID  LEN  REF
    1     0.50  4.00  -30.00   12.50  0.0  0.8  6.7  0
    2     2.00  2.00    5.00  -40.00  0.0  3.3  3.3  1

``ID`` slit identifier (integer, unique); ``DIMX``, ``DIMY`` slit size in mm along the mask X and
Y axes; ``X``, ``Y`` slit centre in mm from the field centre; ``ROT`` rotation in degrees
(counter-clockwise); ``WID``, ``LEN`` slit width and length in arcsec; ``REF`` 1 for an alignment
(reference) box, 0 for a science slit. Lines starting with ``#`` and blank lines are ignored.
A header line ``ID DIMX ...`` (with or without ``#``) is accepted.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from slitwise.errors import input_error
from slitwise.io.atomic import atomic_path

__all__ = ["Slit", "Mask", "read_mask", "write_mask", "MASK_COLUMNS"]

MASK_COLUMNS = ("ID", "DIMX", "DIMY", "X", "Y", "ROT", "WID", "LEN", "REF")


@dataclasses.dataclass(frozen=True)
class Slit:
    """One slit of a mask (sizes and positions in mm, WID/LEN in arcsec, ROT in degrees)."""

    id: int
    dimx: float
    dimy: float
    x: float
    y: float
    rot: float
    wid: float
    len: float
    ref: bool = False

    def point(self, t: np.ndarray | float, *, along: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Mask coordinates (mm) of slit position ``t`` in [0, 1] across the slit length.

        ``t = 0`` and ``1`` are the two ends of the slit (along the slit's long axis, mask Y
        when ``ROT = 0``); ``along`` is an offset in mm along the short axis.
        """
        t = np.asarray(t, float)
        rot = np.deg2rad(self.rot)
        long_axis = np.array([-np.sin(rot), np.cos(rot)])
        short_axis = np.array([np.cos(rot), np.sin(rot)])
        offset = (t - 0.5) * self.dimy
        return (
            self.x + offset * long_axis[0] + along * short_axis[0],
            self.y + offset * long_axis[1] + along * short_axis[1],
        )


@dataclasses.dataclass(frozen=True)
class Mask:
    """A set of slits, in file order."""

    slits: tuple[Slit, ...]
    name: str = ""

    def __len__(self) -> int:
        return len(self.slits)

    def __iter__(self):
        return iter(self.slits)

    def by_id(self, slit_id: int) -> Slit:
        """The slit with identifier ``slit_id``."""
        for slit in self.slits:
            if slit.id == slit_id:
                return slit
        raise input_error(f"mask {self.name}", f"no slit with ID {slit_id}")

    @property
    def science(self) -> tuple[Slit, ...]:
        """Slits that are not alignment boxes."""
        return tuple(s for s in self.slits if not s.ref)

    def centres(self) -> np.ndarray:
        """``(n, 2)`` slit centres in mm."""
        return np.array([[s.x, s.y] for s in self.slits], float)


def read_mask(path: str | os.PathLike) -> Mask:
    """Read a mask description file.

    Raises
    ------
    SlitwiseInputError
        Missing file, a malformed row (named by ``file:line``: wrong number of columns,
        non-numeric value, non-positive size, REF not 0/1), duplicate IDs, or no slits.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "mask description file not found")
    slits: list[Slit] = []
    seen: dict[int, int] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        cells = text.split()
        if cells[0].upper() == "ID":
            continue
        where = f"{path}:{lineno}"
        if len(cells) != len(MASK_COLUMNS):
            raise input_error(
                where,
                f"expected {len(MASK_COLUMNS)} columns "
                f"({' '.join(MASK_COLUMNS)}), got {len(cells)}",
            )
        try:
            slit_id = int(cells[0])
        except ValueError:
            raise input_error(where, f"ID must be an integer, got '{cells[0]}'") from None
        values = []
        for name, cell in zip(MASK_COLUMNS[1:], cells[1:], strict=True):
            try:
                val = float(cell)
            except ValueError:
                raise input_error(where, f"column {name} must be a number, got '{cell}'") from None
            if not np.isfinite(val):
                raise input_error(where, f"column {name} is not finite")
            values.append(val)
        dimx, dimy, x, y, rot, wid, length, ref = values
        for name, val in (("DIMX", dimx), ("DIMY", dimy), ("WID", wid), ("LEN", length)):
            if val <= 0:
                raise input_error(where, f"column {name} must be positive, got {val}")
        if ref not in (0.0, 1.0):
            raise input_error(where, f"column REF must be 0 or 1, got {cells[-1]}")
        if slit_id in seen:
            raise input_error(where, f"duplicate slit ID {slit_id} (first on line {seen[slit_id]})")
        seen[slit_id] = lineno
        slits.append(Slit(slit_id, dimx, dimy, x, y, rot, wid, length, bool(ref)))
    if not slits:
        raise input_error(path, "no slits found")
    return Mask(slits=tuple(slits), name=path.name)


def write_mask(mask: Mask | Iterable[Slit], path: str | os.PathLike) -> Path:
    """Write a mask description file (atomically)."""
    slits = mask.slits if isinstance(mask, Mask) else tuple(mask)
    lines = ["# " + " ".join(f"{c:>9s}" for c in MASK_COLUMNS)]
    for s in slits:
        lines.append(
            f"  {s.id:9d} {s.dimx:9.4f} {s.dimy:9.4f} {s.x:9.4f} {s.y:9.4f} {s.rot:9.4f} "
            f"{s.wid:9.4f} {s.len:9.4f} {int(s.ref):9d}"
        )
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return Path(path)
