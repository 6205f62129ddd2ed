"""Quantities derived from a line fit's posterior draws: per line and line ratios.

Per line: flux (``strength`` times its flux parameter), rest-frame equivalent width against
the fitted continuum at the line, velocity offset from the input redshift and intrinsic FWHM.
Line ratios are computed draw by draw, so the shared parameters' correlations (a shared
flux scale, a broad component trading flux with a narrow one) are in their uncertainties.

Which ratios: those listed under ``ratios:`` in the configuration (``"OIII_5008/Hb"``, sums
with ``+``: ``"SII_6718+SII_6733/Ha"``), else the standard diagnostics among the fitted
lines (:data:`STANDARD_RATIOS`), each line recognised by its rest wavelength (within 0.5 A of
the packaged line list; of several lines at one wavelength, e.g. narrow and broad Halpha, the
first listed).
"""

from __future__ import annotations

import logging

import astropy.units as u
import numpy as np
from astropy.table import QTable

from slitwise.lines.linelist import rest_wavelength

__all__ = ["STANDARD_RATIOS", "line_quantities", "line_ratios", "parse_ratio"]

log = logging.getLogger(__name__)

C_KMS = 299792.458
PCT = (16, 50, 84)

#: Standard diagnostic ratios (names of the packaged line list).
STANDARD_RATIOS = (
    "Ha/Hb",
    "OIII_5008/Hb",
    "NII_6585/Ha",
    "SII_6718+SII_6733/Ha",
    "SII_6718/SII_6733",
    "OII_3727+OII_3730/Hb",
    "NeIII_3870/OII_3727+OII_3730",
    "OIII_4364/OIII_5008",
)


def parse_ratio(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"A+B/C"`` -> ``(("A", "B"), ("C",))``; ValueError when malformed."""
    parts = str(text).split("/")
    if len(parts) != 2:
        raise ValueError(f"ratio '{text}' must be NUMERATOR/DENOMINATOR")
    out = tuple(tuple(n.strip() for n in p.split("+")) for p in parts)
    if any(not n for side in out for n in side):
        raise ValueError(f"ratio '{text}': empty line name")
    return out


def _percentiles(arr: np.ndarray) -> np.ndarray:
    return np.nanpercentile(arr, PCT) if np.isfinite(arr).any() else np.full(3, np.nan)


def line_quantities(
    prepared, samples: dict, draws: dict, cont: np.ndarray, flux_scale: np.ndarray
) -> QTable:
    """Per line: flux, rest-frame EW, velocity offset and intrinsic FWHM (p16, p50, p84).

    Flux, velocity offset and FWHM come from every posterior draw (``samples``); the
    equivalent width from the draws ``draws`` whose observed continuum model ``cont`` (in
    ``flux_unit`` / um) and flux scale ``flux_scale`` were evaluated on every (padded)
    pixel: at the pixel nearest the line, the line as observed there (its flux times that
    spectrum's flux scale) over the continuum observed there.
    """
    st = prepared.structure
    z0 = float(prepared.data["z0"])
    rows = []
    lam_pix = 0.5 * (prepared.data["lo"] + prepared.data["hi"])
    w = prepared.data["w"] > 0
    for line in st.lines:
        z = np.asarray(samples[line.param("z")])
        dv = C_KMS * z / (1 + z0)
        fwhm = np.asarray(samples[line.param("fwhm")], float)
        if line.kind == "emission":
            flux = line.strength * np.asarray(samples[line.param("flux")])
            zd = np.asarray(draws[line.param("z")])
            lam_c = line.wave_rest * 1e-4 * (1 + z0 + zd)
            j = np.argmin(np.where(w, np.abs(lam_pix[None, :] - lam_c[:, None]), np.inf), axis=1)
            c_at = cont[np.arange(len(j)), j]  # flux_unit / um, observed frame
            observed = line.strength * np.asarray(draws[line.param("flux")]) * flux_scale[
                np.arange(len(j)), j]
            with np.errstate(divide="ignore", invalid="ignore"):
                ew = observed / c_at / (1 + z0 + zd) * 1e4  # Angstrom, rest frame
        else:
            flux = np.full(len(z), np.nan)
            ew = np.full(len(z), np.nan)
        rows.append((line.name, line.wave_rest, *map(_percentiles, (flux, ew, dv, fwhm))))
    t = QTable()
    t["line"] = [r[0] for r in rows]
    t["wave_rest"] = [r[1] for r in rows] * u.AA
    t["flux"] = np.array([r[2] for r in rows]) * prepared.config.flux_unit_quantity
    t["ew_rest"] = np.array([r[3] for r in rows]) * u.AA
    t["dv"] = np.array([r[4] for r in rows]) * u.km / u.s
    t["fwhm"] = np.array([r[5] for r in rows]) * u.km / u.s
    t.meta["COLNOTE"] = "flux, ew_rest, dv, fwhm columns hold p16, p50, p84"
    return t


def _standard_names(structure) -> dict[str, str]:
    """Packaged line-list name -> the first fitted emission line at its wavelength."""
    out: dict[str, str] = {}
    for text in STANDARD_RATIOS:
        for name in (n for side in parse_ratio(text) for n in side):
            if name in out:
                continue
            wave = rest_wavelength(name)
            for line in structure.lines:
                if line.kind == "emission" and abs(line.wave_rest - wave) < 0.5:
                    out[name] = line.name
                    break
    return out


def line_ratios(prepared, samples: dict) -> QTable:
    """Line ratios (p16, p50, p84), computed per draw; see the module docstring."""
    st = prepared.structure
    emission = {ln.name: ln for ln in st.lines if ln.kind == "emission"}
    requested = list(prepared.config.ratios)
    if requested:
        wanted = [(text, parse_ratio(text)) for text in requested]
    else:
        names = _standard_names(st)
        wanted = []
        for text in STANDARD_RATIOS:
            num, den = parse_ratio(text)
            if all(n in names for n in num + den):
                mapped = (tuple(names[n] for n in num), tuple(names[n] for n in den))
                label = "/".join("+".join(side) for side in mapped)
                wanted.append((label, mapped))

    def total(side):
        return sum(emission[n].strength * np.asarray(samples[emission[n].param("flux")], float)
                   for n in side)  # fmt: skip

    labels, values = [], []
    for label, (num, den) in wanted:
        missing = [n for n in num + den if n not in emission]
        if missing:
            log.info("ratio %s not computed: lines %s not fitted", label, missing)
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            values.append(_percentiles(total(num) / total(den)))
        labels.append(label)
    t = QTable()
    t["ratio"] = np.array(labels, dtype=str)
    t["value"] = np.array(values, float).reshape(len(labels), 3)
    t.meta["COLNOTE"] = "value holds p16, p50, p84 of the ratio of the line fluxes"
    return t
