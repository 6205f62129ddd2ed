"""Column, unit and header helpers shared by the foreign-format readers.

Everything here turns a low-level surprise (an unparsable unit, a missing column, an unknown
grating) into a :class:`~slitwise.errors.SlitwiseInputError` that names the file, HDU and
column, so each reader can stay a short list of "take this, convert that".
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import astropy.units as u
import numpy as np

from slitwise.errors import SlitwiseInputError, input_error
from slitwise.instruments import get_disperser

__all__ = [
    "parse_unit",
    "find_column",
    "require_flux_unit",
    "require_length_unit",
    "nirspec_resolution",
    "header_meta",
    "USEFUL_KEYWORDS",
]

#: Primary/extension header keywords copied into ``Spectrum1D.meta['header']`` when present.
USEFUL_KEYWORDS = (
    "TELESCOP",
    "INSTRUME",
    "DETECTOR",
    "GRATING",
    "FILTER",
    "DISPELEM",
    "OBJECT",
    "SRCNAME",
    "SOURCEID",
    "SRCID",
    "SRCRA",
    "SRCDEC",
    "RA",
    "DEC",
    "SRCXPOS",
    "SRCYPOS",
    "SRCTYPE",
    "SHUTSTA",
    "SLITID",
    "PROGRAM",
    "PROG_ID",
    "EXP_TYPE",
    "MSAMETFL",
    "NOD_TYPE",
    "NUMDTHPT",
    "EFFEXPTM",
    "EXPTIME",
    "XPOSURE",
    "CAL_VER",
    "CRDS_CTX",
    "VERSION",
    "NFILES",
    "NCOMBINE",
    "SPEC_RES",
    "SPECSYS",
    "REDSHIFT",
    "Z",
    "DATE-OBS",
)

#: Spellings some writers use that astropy does not read as intended.
_UNIT_ALIASES = {
    "microjansky": "uJy",
    "ujy": "uJy",
    "mujy": "uJy",
    "micron": "um",
    "microns": "um",
    "angstroms": "Angstrom",
    "aa": "Angstrom",
}


def parse_unit(text: Any, where: str) -> u.UnitBase | None:
    """Parse a unit string from a file; ``None`` when the string is empty.

    Raises
    ------
    SlitwiseInputError
        If the string is not a unit astropy understands; the message names ``where``.
    """
    if text is None:
        return None
    if isinstance(text, u.UnitBase):
        return text
    text = str(text).strip()
    if not text:
        return None
    text = _UNIT_ALIASES.get(text.lower(), text)
    try:
        with warnings.catch_warnings():
            # "multiple slashes" style warnings: the unit is still unambiguous enough
            warnings.simplefilter("ignore", u.UnitsWarning)
            return u.Unit(text, parse_strict="raise")
    except (ValueError, TypeError) as exc:
        raise input_error(where, f"unit '{text}' is not a recognised unit") from exc


def find_column(
    names: Iterable[str], candidates: Iterable[str], where: str, *, what: str, required: bool = True
) -> str | None:
    """Return the first of ``candidates`` present in ``names`` (case-insensitive).

    Raises
    ------
    SlitwiseInputError
        When ``required`` and none is present; the message lists what was looked for and found.
    """
    names = list(names)
    lower = {n.lower(): n for n in names}
    candidates = list(candidates)
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    if required:
        raise input_error(
            where,
            f"no {what} column; expected one of {', '.join(candidates)}; "
            f"found {', '.join(names) or 'no columns'}",
        )
    return None


def require_flux_unit(unit: u.UnitBase | None, where: str) -> u.UnitBase:
    """Check that ``unit`` is an f_nu or f_lambda flux density and return it."""
    if unit is None:
        raise input_error(where, "flux column has no unit; expected f_nu (Jy) or f_lambda")
    if unit.physical_type not in (u.Jy.physical_type, (u.erg / u.s / u.cm**2 / u.AA).physical_type):
        raise input_error(
            where,
            f"flux unit '{unit}' is neither f_nu (e.g. uJy) nor f_lambda (e.g. erg/s/cm2/Angstrom)",
        )
    return unit


def require_length_unit(unit: u.UnitBase | None, where: str) -> u.UnitBase:
    """Check that ``unit`` is a length (wavelength) unit and return it."""
    if unit is None:
        raise input_error(where, "wavelength column has no unit; expected a length (um, Angstrom)")
    if unit.physical_type != "length":
        raise input_error(where, f"wavelength unit '{unit}' is not a length (um, Angstrom)")
    return unit


def nirspec_resolution(
    grating: str, filt: str, wave_um: np.ndarray, where: str
) -> tuple[np.ndarray, str]:
    """R(lambda) of a NIRSpec grating/filter at ``wave_um`` and the normalised disperser name.

    Raises
    ------
    SlitwiseInputError
        If ``grating``/``filt`` is not a NIRSpec disperser; names ``where`` (file and keyword).
    """
    try:
        disp = get_disperser(grating, filt or None)
    except SlitwiseInputError as exc:
        raise input_error(where, f"{exc}") from exc
    wave = np.asarray(wave_um, dtype=float)
    res = np.full(wave.shape, np.nan)
    ok = np.isfinite(wave)
    res[ok] = disp.resolving_power(wave[ok])
    return res, disp.name


def header_meta(*headers: Mapping, keys: Iterable[str] = USEFUL_KEYWORDS) -> dict[str, Any]:
    """Collect ``keys`` from the given headers (first header that has a key wins)."""
    out: dict[str, Any] = {}
    for key in keys:
        for hdr in headers:
            if hdr is not None and key in hdr:
                value = hdr[key]
                if isinstance(value, str):
                    value = value.strip()
                out[key] = value
                break
    return out
