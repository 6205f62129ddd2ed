"""Rest-frame vacuum emission-line list and the physically tied line groups used as templates.

Wavelengths are vacuum, in Angstrom (NIST Atomic Spectra Database values as tabulated in the
usual nebular line lists). A :class:`LineGroup` is one NNLS template: several lines whose flux
ratios are fixed by atomic physics (doublets with a common upper level) or by recombination
theory (Case B, T = 1e4 K, n_e = 1e2 cm^-3, Storey & Hummer 1995, rounded). Groups whose ratios
are only typical (not fixed) are split so that the fit can vary them.

Ratios are *flux* ratios (not peak heights). Each group is normalised so that the ratios sum
to one: its coefficient is then the total flux of the group.
"""

from __future__ import annotations

import dataclasses

__all__ = ["LineGroup", "LINES", "LINE_GROUPS", "BROAD_GROUPS", "OPTIONAL_GROUPS", "line_group"]

#: Single lines, name -> vacuum rest wavelength (Angstrom).
LINES: dict[str, float] = {
    "Lya": 1215.670,
    "NV-1239": 1238.821,
    "NV-1243": 1242.804,
    "CIV-1548": 1548.187,
    "CIV-1551": 1550.772,
    "HeII-1640": 1640.420,
    "OIII]-1661": 1660.809,
    "OIII]-1666": 1666.150,
    "CIII]-1907": 1906.683,
    "CIII]-1909": 1908.734,
    "MgII-2796": 2796.352,
    "MgII-2804": 2803.531,
    "[OII]-3727": 3727.092,
    "[OII]-3730": 3729.875,
    "[NeIII]-3870": 3869.860,
    "[NeIII]-3969": 3968.590,
    "H8": 3890.166,
    "Heps": 3971.198,
    "Hdelta": 4102.892,
    "Hgamma": 4341.692,
    "[OIII]-4364": 4364.436,
    "HeII-4687": 4687.015,
    "Hbeta": 4862.683,
    "[OIII]-4960": 4960.295,
    "[OIII]-5008": 5008.240,
    "HeI-5877": 5877.249,
    "[OI]-6302": 6302.046,
    "[OI]-6366": 6365.535,
    "[NII]-6550": 6549.860,
    "Halpha": 6564.610,
    "[NII]-6585": 6585.270,
    "[SII]-6718": 6718.295,
    "[SII]-6733": 6732.674,
    "[ArIII]-7138": 7137.770,
    "[SIII]-9071": 9071.100,
    "[SIII]-9533": 9533.200,
    "Paeps": 9548.590,
    "Padelta": 10052.130,
    "HeI-10833": 10833.306,
    "Pagamma": 10941.090,
    "Pabeta": 12821.590,
    "[FeII]-12570": 12570.210,
    "[FeII]-16440": 16440.020,
    "Paalpha": 18756.130,
    "Brdelta": 19450.870,
    "Brgamma": 21661.200,
    "Brbeta": 26258.670,
    "Pfepsilon": 30392.020,
    "Pfdelta": 32969.800,
    "Pfgamma": 37405.560,
    "Bralpha": 40522.620,
    "Pfbeta": 46537.800,
}


@dataclasses.dataclass(frozen=True)
class LineGroup:
    """Lines fitted with one coefficient.

    Attributes
    ----------
    name : str
        Template name.
    lines : tuple of str
        Keys of :data:`LINES`.
    ratios : tuple of float
        Relative fluxes (any normalisation; normalised to unit sum on use).
    sigma_kms : float or None
        Intrinsic Gaussian velocity dispersion; ``None`` uses the library default.
    note : str
        Where the ratios come from.
    rest_waves : tuple of float, optional
        Explicit rest vacuum wavelengths (Angstrom) for lines not in :data:`LINES`.
    """

    name: str
    lines: tuple[str, ...]
    ratios: tuple[float, ...]
    sigma_kms: float | None = None
    note: str = ""
    rest_waves: tuple[float, ...] | None = None

    @property
    def wavelengths(self) -> tuple[float, ...]:
        """Rest vacuum wavelengths (Angstrom)."""
        if self.rest_waves is not None:
            return tuple(self.rest_waves)
        return tuple(LINES[n] for n in self.lines)

    @property
    def weights(self) -> tuple[float, ...]:
        """Flux ratios normalised to unit sum."""
        total = float(sum(self.ratios))
        return tuple(r / total for r in self.ratios)


def line_group(name, lines, ratios=None, *, sigma_kms=None, note="", rest_waves=None) -> LineGroup:
    """Build a :class:`LineGroup` (equal ratios when ``ratios`` is None).

    ``lines`` are keys of :data:`LINES`, unless ``rest_waves`` gives the wavelengths (Angstrom).
    """
    lines = tuple(lines)
    ratios = tuple(ratios) if ratios is not None else (1.0,) * len(lines)
    if len(ratios) != len(lines):
        raise ValueError(f"line group {name}: {len(lines)} lines but {len(ratios)} ratios")
    if rest_waves is not None:
        rest_waves = tuple(float(w) for w in rest_waves)
        if len(rest_waves) != len(lines) or min(rest_waves) <= 0:
            raise ValueError(f"line group {name}: need one positive wavelength per line")
    else:
        for n in lines:
            if n not in LINES:
                raise ValueError(f"line group {name}: unknown line {n!r}")
    return LineGroup(name, lines, ratios, sigma_kms, note, rest_waves)


_CASE_B = "Case B, T=1e4 K, n_e=1e2 (Storey & Hummer 1995), relative to Hbeta, rounded"

#: Narrow emission-line templates of the default library (25 groups).
LINE_GROUPS: tuple[LineGroup, ...] = (
    line_group("Lya", ["Lya"]),
    line_group("CIV", ["CIV-1548", "CIV-1551"], [2.0, 1.0], note="optically thin 2:1"),
    line_group("HeII-1640", ["HeII-1640"]),
    line_group("OIII]-1663", ["OIII]-1661", "OIII]-1666"], [1.0, 2.5], note="typical"),
    line_group("CIII]", ["CIII]-1907", "CIII]-1909"], [1.5, 1.0], note="low density"),
    line_group("MgII", ["MgII-2796", "MgII-2804"], [2.0, 1.0], note="optically thin 2:1"),
    line_group("[OII]", ["[OII]-3727", "[OII]-3730"], [1.0, 1.4], note="n_e ~ 100"),
    line_group("[NeIII]", ["[NeIII]-3870", "[NeIII]-3969"], [1.0, 0.301], note="A-value ratio"),
    line_group(
        "Balmer",
        ["Halpha", "Hbeta", "Hgamma", "Hdelta", "Heps", "H8"],
        [2.86, 1.0, 0.468, 0.259, 0.159, 0.105],
        note=_CASE_B + "; extra Halpha/Hbeta templates absorb dust reddening",
    ),
    line_group("Hbeta", ["Hbeta"]),
    line_group("[OIII]-4364", ["[OIII]-4364"]),
    line_group("HeII-4687", ["HeII-4687"]),
    line_group("[OIII]", ["[OIII]-4960", "[OIII]-5008"], [1.0, 2.98], note="A-value ratio"),
    line_group("HeI-5877", ["HeI-5877"]),
    line_group("[OI]", ["[OI]-6302", "[OI]-6366"], [3.05, 1.0], note="A-value ratio"),
    line_group("Halpha", ["Halpha"]),
    line_group("[NII]", ["[NII]-6550", "[NII]-6585"], [1.0, 2.94], note="A-value ratio"),
    line_group("[SII]", ["[SII]-6718", "[SII]-6733"], [1.0, 0.75], note="n_e ~ 300"),
    line_group("[ArIII]", ["[ArIII]-7138"]),
    line_group("[SIII]", ["[SIII]-9071", "[SIII]-9533"], [1.0, 2.5], note="A-value ratio"),
    line_group("HeI-10833", ["HeI-10833"]),
    line_group(
        "Paschen",
        ["Paalpha", "Pabeta", "Pagamma", "Padelta", "Paeps"],
        [0.332, 0.162, 0.0901, 0.0554, 0.0366],
        note=_CASE_B,
    ),
    line_group("Paalpha", ["Paalpha"]),
    line_group(
        "Brackett",
        ["Bralpha", "Brbeta", "Brgamma", "Brdelta"],
        [0.0778, 0.0445, 0.0275, 0.0181],
        note=_CASE_B,
    ),
    line_group(
        "Pfund",
        ["Pfbeta", "Pfgamma", "Pfdelta", "Pfepsilon"],
        [0.0144, 0.0090, 0.0059, 0.0041],
        note=_CASE_B + " (approximate)",
    ),
)

#: Line groups left out of the default library. [FeII] 1.257/1.644 um (ratio 1.308) aliases
#: Halpha/[OIII] 5008 (ratio 1.311) to 0.2 %, below the PRISM resolution: with it, line
#: emitters at z ~ 2-3 were fitted at z ~ 0.3 and z ~ 3.5 at z ~ 0.8 with full confidence.
#: Add them with ``TemplateLibrary.default().with_lines(OPTIONAL_GROUPS)``.
OPTIONAL_GROUPS: tuple[LineGroup, ...] = (
    line_group("[FeII]", ["[FeII]-12570", "[FeII]-16440"], [1.0, 0.75], note="common upper level"),
)

_FWHM_TO_SIGMA = 1.0 / 2.3548200450309493

#: Broad Balmer templates: Halpha and Hbeta at FWHM 1500 and 3000 km/s.
BROAD_GROUPS: tuple[LineGroup, ...] = tuple(
    line_group(f"{name}_broad{fwhm}", [name], sigma_kms=fwhm * _FWHM_TO_SIGMA)
    for fwhm in (1500, 3000)
    for name in ("Halpha", "Hbeta")
)
