"""Rest-frame emission lines used by the simulator (vacuum wavelengths).

Provenance: vacuum rest wavelengths of the standard nebular lines as listed by the NIST Atomic
Spectra Database (https://physics.nist.gov/asd), rounded to 0.01 Angstrom; these are the same
values found in the SDSS and DESI emission-line tables. Hydrogen recombination ratios
(``CASE_B``) are the Case B values for T = 10^4 K, n_e = 100 cm^-3 of Osterbrock & Ferland
(2006, Table 4.4), rounded; they only set plausible relative strengths for fake galaxies.
"""

from __future__ import annotations

__all__ = ["LINES", "line_wave_um", "CASE_B"]

#: Line name -> vacuum rest wavelength in Angstrom.
LINES: dict[str, float] = {
    "Lya": 1215.67,
    "OII_3727": 3727.09,
    "OII_3730": 3729.88,
    "NeIII_3870": 3869.86,
    "Hdelta": 4102.89,
    "Hgamma": 4341.68,
    "Hbeta": 4862.68,
    "OIII_4960": 4960.30,
    "OIII_5008": 5008.24,
    "HeI_5877": 5877.25,
    "OI_6302": 6302.05,
    "NII_6550": 6549.86,
    "Halpha": 6564.61,
    "NII_6585": 6585.27,
    "SII_6718": 6718.29,
    "SII_6733": 6732.67,
    "SIII_9071": 9071.10,
    "SIII_9533": 9533.20,
    "HeI_10833": 10833.30,
    "Pagamma": 10941.09,
    "Pabeta": 12821.59,
    "Paalpha": 18756.13,
}

#: Case B flux ratios relative to H-alpha.
CASE_B: dict[str, float] = {
    "Hbeta": 1.0 / 2.86,
    "Hgamma": 0.468 / 2.86,
    "Hdelta": 0.259 / 2.86,
    "Paalpha": 0.116,
    "Pabeta": 0.057,
    "Pagamma": 0.031,
}


def line_wave_um(name: str) -> float:
    """Vacuum rest wavelength of line ``name`` in micron."""
    return LINES[name] * 1e-4
