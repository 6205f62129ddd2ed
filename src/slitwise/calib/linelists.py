"""Arc-lamp and sky line catalogues (vacuum wavelengths).

The catalogues shipped in ``slitwise/calib/data/linelists/`` are the PypeIt 2.0.1 lamp lists
(see the ``PROVENANCE.md`` beside them). A lamp is named as in those files: ``ArI``, ``NeI``,
``HgI_MODS``, ``Ar_IR_MOSFIRE``, ``OH_MOSFIRE_H``... Any other pipe-separated table with at least
a ``wave`` column (Angstrom, vacuum) can be loaded by giving its path instead of a lamp name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from slitwise.errors import input_error

__all__ = ["available_lamps", "load_line_list", "read_line_table"]

log = logging.getLogger(__name__)

_SUFFIX = "_lines.dat"


def _data_dir() -> Path:
    return Path(str(resources.files("slitwise.calib") / "data" / "linelists"))


def available_lamps() -> list[str]:
    """Names of the lamp catalogues shipped with slitwise, sorted."""
    return sorted(p.name[: -len(_SUFFIX)] for p in _data_dir().glob(f"*{_SUFFIX}"))


def read_line_table(path: str | os.PathLike) -> QTable:
    """Read one pipe-separated line table (PypeIt ``*_lines.dat`` layout).

    Parameters
    ----------
    path : str or path-like
        Text file: ``#`` comments, one header row ``| ion | wave | ... |``, then data rows.

    Returns
    -------
    QTable
        Columns ``ion`` (str), ``wave`` (Angstrom), ``amplitude`` (float, NaN if absent),
        ``source`` (str), sorted by wavelength.

    Raises
    ------
    SlitwiseInputError
        The file is missing, has no header with a ``wave`` column, or a row does not parse
        (named by line number).
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "line list not found")
    header: list[str] | None = None
    ions, waves, amps, sources = [], [], [], []
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        cells = [c.strip() for c in text.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            if "wave" not in header:
                raise input_error(f"{path}:{lineno}", "header row has no 'wave' column")
            continue
        if len(cells) != len(header):
            raise input_error(
                f"{path}:{lineno}", f"expected {len(header)} '|'-separated cells, got {len(cells)}"
            )
        row = dict(zip(header, cells, strict=True))
        try:
            wave = float(row["wave"])
            amp = float(row["amplitude"]) if row.get("amplitude") else np.nan
        except ValueError as exc:
            raise input_error(f"{path}:{lineno}", f"cannot parse a number ({exc})") from None
        waves.append(wave)
        amps.append(amp)
        ions.append(row.get("ion", ""))
        sources.append(row.get("source", ""))
    if header is None:
        raise input_error(path, "no header row found; expected '| ion | wave | ... |'")
    order = np.argsort(waves, kind="stable")
    table = QTable()
    table["ion"] = np.asarray(ions, dtype=str)[order] if ions else np.zeros(0, dtype=str)
    table["wave"] = np.asarray(waves, dtype=float)[order] * u.AA
    table["amplitude"] = np.asarray(amps, dtype=float)[order]
    table["source"] = np.asarray(sources, dtype=str)[order] if sources else np.zeros(0, str)
    table.meta["path"] = str(path)
    return table


def load_line_list(
    lamps: str | Sequence[str],
    *,
    wave_min: u.Quantity | float | None = None,
    wave_max: u.Quantity | float | None = None,
) -> QTable:
    """Load and merge the catalogues of one or more lamps.

    Parameters
    ----------
    lamps : str or sequence of str
        Lamp names (``"ArI"``, ``"NeI_MODS"``...; a comma-separated string is accepted) or paths
        of line tables.
    wave_min, wave_max : Quantity or float, optional
        Keep lines in this range (float: Angstrom).

    Returns
    -------
    QTable
        ``ion``, ``wave`` [Angstrom], ``amplitude``, ``source``, ``lamp``; sorted by wavelength,
        exact duplicates (same wavelength to 1e-3 Angstrom) removed.

    Raises
    ------
    SlitwiseInputError
        Unknown lamp name (the message lists the available ones) or unreadable file.
    """
    if isinstance(lamps, str):
        lamps = [s for s in (p.strip() for p in lamps.split(",")) if s]
    if not lamps:
        raise input_error("lamps", "no lamp given")
    tables = []
    known = None
    for lamp in lamps:
        candidate = Path(lamp)
        if candidate.suffix and candidate.is_file():
            table = read_line_table(candidate)
        else:
            path = _data_dir() / f"{lamp}{_SUFFIX}"
            if not path.is_file():
                known = known or available_lamps()
                raise input_error("lamps", f"unknown lamp '{lamp}'; known: {', '.join(known)}")
            table = read_line_table(path)
        table["lamp"] = np.full(len(table), str(lamp))
        tables.append(table)
    waves = np.concatenate([t["wave"].to_value(u.AA) for t in tables])
    keep = np.ones(waves.size, bool)
    lo = _as_angstrom(wave_min, "wave_min")
    hi = _as_angstrom(wave_max, "wave_max")
    if lo is not None:
        keep &= waves >= lo
    if hi is not None:
        keep &= waves <= hi
    cols = {
        name: np.concatenate([np.asarray(t[name]) for t in tables])[keep]
        for name in ("ion", "amplitude", "source", "lamp")
    }
    waves = waves[keep]
    order = np.argsort(waves, kind="stable")
    waves = waves[order]
    dup = np.zeros(waves.size, bool)
    dup[1:] = np.diff(waves) < 1e-3
    sel = order[~dup]
    out = QTable()
    out["ion"] = cols["ion"][sel]
    out["wave"] = waves[~dup] * u.AA
    out["amplitude"] = cols["amplitude"][sel]
    out["source"] = cols["source"][sel]
    out["lamp"] = cols["lamp"][sel]
    out.meta["lamps"] = list(lamps)
    log.debug("loaded %d lines from %s", len(out), ", ".join(lamps))
    return out


def _as_angstrom(value: u.Quantity | float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, u.Quantity):
        try:
            return float(value.to_value(u.AA, equivalencies=u.spectral()))
        except u.UnitConversionError:
            raise input_error(name, f"expected a wavelength, got unit {value.unit}") from None
    return float(value)
