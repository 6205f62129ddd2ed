"""Spectral lines marked on the inspection plots (vacuum, rest frame).

A short list of the emission and absorption features an inspector uses to judge a redshift
from the UV to the near-infrared. Wavelengths are vacuum values in Angstrom, rounded to 0.01 A
(0.1 A for the Paschen/Brackett lines and blends) - far finer than any NIRSpec pixel, which is
all a marker needs.

Provenance: the SDSS spectral-line table of vacuum wavelengths
(https://classic.sdss.org/dr6/algorithms/linestable.html) for the UV/optical lines, and the
NIST Atomic Spectra Database (https://physics.nist.gov/asd, Ritz wavelengths, vacuum) for the
hydrogen Paschen/Brackett series, He I 10833 and [S III]. Doublets whose components a prism
cannot separate (N V, C IV, O III], Mg II, [O II], Na D) are given at the mean of their
components' vacuum wavelengths.
"""

from __future__ import annotations

import dataclasses

__all__ = ["MarkerLine", "MARKER_LINES", "marker_lines"]


@dataclasses.dataclass(frozen=True)
class MarkerLine:
    """One line marker: label, vacuum rest wavelength [Angstrom] and kind."""

    name: str
    wave: float
    kind: str  # "emission", "absorption" or "break"


_EMISSION = (
    ("Lyα", 1215.67), ("N V", 1240.81), ("C IV", 1549.48), ("He II", 1640.42),
    ("O III]", 1663.48), ("C III]", 1908.73), ("Mg II", 2799.94), ("[O II]", 3728.48),
    ("[Ne III]", 3869.86), ("Hδ", 4102.89), ("Hγ", 4341.68), ("[O III]", 4364.44),
    ("Hβ", 4862.68), ("[O III]", 4960.30), ("[O III]", 5008.24), ("He I", 5877.25),
    ("[O I]", 6302.05), ("[N II]", 6549.86), ("Hα", 6564.61), ("[N II]", 6585.27),
    ("[S II]", 6718.29), ("[S II]", 6732.67), ("[S III]", 9071.1), ("[S III]", 9533.2),
    ("Paδ", 10052.1), ("He I", 10833.3), ("Paγ", 10941.1), ("Paβ", 12821.6),
    ("Paα", 18756.1), ("Brβ", 26258.7), ("Brα", 40522.6),
)  # fmt: skip

_ABSORPTION = (
    ("Ca K", 3934.78), ("Ca H", 3969.59), ("G", 4305.61), ("Mg b", 5176.7),
    ("Na D", 5894.6), ("Ca T", 8500.36), ("Ca T", 8544.44), ("Ca T", 8664.52),
)  # fmt: skip

_BREAKS = (("Lyman limit", 911.75), ("Balmer limit", 3646.0))

#: Every marker, sorted by wavelength.
MARKER_LINES: tuple[MarkerLine, ...] = tuple(
    sorted(
        [MarkerLine(n, w, "emission") for n, w in _EMISSION]
        + [MarkerLine(n, w, "absorption") for n, w in _ABSORPTION]
        + [MarkerLine(n, w, "break") for n, w in _BREAKS],
        key=lambda line: line.wave,
    )
)


def marker_lines() -> list[dict[str, object]]:
    """The markers as JSON-ready dicts ``{"name", "wave" [Angstrom, vacuum], "kind"}``."""
    return [dataclasses.asdict(line) for line in MARKER_LINES]
