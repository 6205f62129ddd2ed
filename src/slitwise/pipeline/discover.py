"""Find the units of work of a program: one per (slitlet, primary source).

Only FITS headers are read, so discovery of tens of thousands of cut-outs stays fast.
Serendipitous sources are found later, inside the extraction of their slitlet's unit.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from pathlib import Path

from astropy.io import fits

from slitwise.errors import input_error

__all__ = ["SourceUnit", "discover_sources"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SourceUnit:
    """The cut-outs of one primary source in one slitlet, all dispersers."""

    source_id: int
    source_name: str
    slitlet_id: int
    files: tuple[str, ...]
    dispersers: tuple[str, ...]

    @property
    def key(self) -> str:
        """Stable identifier used for logs and manifests."""
        return f"{self.source_name or self.source_id}"


def _header_facts(path: Path) -> tuple[int, str, int, str]:
    try:
        with fits.open(path, memmap=False) as hdul:
            prim = hdul[0].header
            sci = hdul["SCI"].header
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise input_error(path, f"not a slitlet cut-out with a SCI HDU ({exc})") from exc
    disperser = f"{prim.get('GRATING', '')}/{prim.get('FILTER', '')}".upper()
    return (
        int(sci.get("SOURCEID", 0)),
        str(sci.get("SRCNAME", sci.get("SOURCEID", ""))),
        int(sci.get("SLITID", 0)),
        disperser,
    )


def discover_sources(
    input_dir: str | Path, *, pattern: str = "*.fits", exclude: tuple[str, ...] = ()
) -> list[SourceUnit]:
    """Group the cut-outs in ``input_dir`` into :class:`SourceUnit` objects.

    Parameters
    ----------
    input_dir : path-like
        Directory of slitlet cut-outs.
    pattern : str
        Glob for the cut-out files.
    exclude : tuple of str
        File-name substrings to leave out (per-observation ``exclude`` overrides).

    Raises
    ------
    SlitwiseInputError
        Missing directory or no matching files.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise input_error(input_dir, "input directory not found")
    files = sorted(p for p in input_dir.glob(pattern) if not p.name.startswith("."))
    files = [p for p in files if not any(text in p.name for text in exclude)]
    if not files:
        raise input_error(input_dir, f"no cut-out files matching '{pattern}'")
    groups: dict[tuple[int, int], list[tuple[Path, str, str]]] = defaultdict(list)
    for path in files:
        source_id, name, slitlet, disperser = _header_facts(path)
        groups[(slitlet, source_id)].append((path, name, disperser))
    units = []
    for (slitlet, source_id), members in sorted(groups.items()):
        units.append(
            SourceUnit(
                source_id=source_id,
                source_name=members[0][1],
                slitlet_id=slitlet,
                files=tuple(str(m[0]) for m in members),
                dispersers=tuple(sorted({m[2] for m in members})),
            )
        )
    log.info("found %d sources in %d cut-outs", len(units), len(files))
    return units
