"""Packaged list of rest-frame vacuum wavelengths of common emission lines.

The table ``data/emission_lines_vacuum.ecsv`` gives, per line, a short name (``Ha``,
``OIII_5008``), the rest vacuum wavelength in Angstrom and the ion; its header records the
provenance. A line in a fit configuration may give ``wave`` explicitly or only a ``name`` (or
``ref``) found here.
"""

from __future__ import annotations

import functools
from importlib import resources

from astropy.table import Table

from slitwise.errors import input_error

__all__ = ["line_table", "rest_wavelength", "LINE_ALIASES"]

#: Extra spellings accepted by :func:`rest_wavelength` (case-insensitive).
LINE_ALIASES = {
    "halpha": "Ha",
    "hbeta": "Hb",
    "hgamma": "Hg",
    "hdelta": "Hd",
    "lyalpha": "Lya",
    "oiii_4960.3": "OIII_4960",
    "oiii_5008.24": "OIII_5008",
    "oiii_5007": "OIII_5008",
    "oiii_4959": "OIII_4960",
}


@functools.lru_cache(maxsize=1)
def line_table() -> Table:
    """The packaged line list as an astropy Table (``name``, ``wave`` [Angstrom], ``ion``)."""
    ref = resources.files("slitwise.lines") / "data" / "emission_lines_vacuum.ecsv"
    with resources.as_file(ref) as path:
        return Table.read(path, format="ascii.ecsv")


def rest_wavelength(name: str) -> float:
    """Rest-frame vacuum wavelength in Angstrom of a line of the packaged list.

    Parameters
    ----------
    name : str
        Line name as in the table (``"Ha"``, ``"OIII_5008"``) or an alias from
        :data:`LINE_ALIASES`; case-insensitive.

    Raises
    ------
    SlitwiseInputError
        If the name is not in the list.
    """
    tab = line_table()
    key = LINE_ALIASES.get(str(name).lower(), str(name))
    names = {str(n).lower(): i for i, n in enumerate(tab["name"])}
    if key.lower() not in names:
        raise input_error(
            f"line '{name}'", "not in the packaged line list; give 'wave' (rest vacuum Angstrom)"
        )
    return float(tab["wave"][names[key.lower()]])
