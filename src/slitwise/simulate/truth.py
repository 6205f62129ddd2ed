"""Truth tables of a simulated program and their conversion back to source models.

Files written by :func:`slitwise.simulate.simulate_program` (all ECSV with units):

``truth.ecsv``
    One row per source (primaries and serendipitous ones): ``source_id``, ``name``,
    ``is_serendip``, ``host_id`` (the slitlet's primary), ``slitlet_id``, ``z``, ``cont_fnu``
    (uJy at observed 3.5 um), ``beta``, ``igm_transmission``, ``sigma_kms`` (narrow lines),
    ``has_broad``, ``broad_sigma_kms``, ``size`` (Gaussian sigma, arcsec), ``xpos``/``ypos``
    (intra-shutter position at the first nod, shutter pitches), ``slit_offset`` (pitches from
    the primary, serendips), ``n_shutters``, ``stuck_shutter`` (k counted from the bottom, -1 if
    none), ``stuck_shutsta_index`` (its character index in SHUTSTA, -1 if none), one
    ``flux_<line>`` column per line of :data:`~slitwise.simulate.lines.LINES` and
    ``broad_flux_Halpha``/``broad_flux_Hbeta`` (erg/s/cm2). ``meta['line_wave_rest_um']``
    gives every line's vacuum rest wavelength.
``truth_lines.ecsv``
    Long form: ``source_id``, ``line``, ``component`` (narrow/broad), ``wave_rest``,
    ``wave_obs`` (um), ``flux`` (erg/s/cm2), ``sigma_kms``.
``truth_exposures.ecsv``
    One row per cut-out: file names, exposure number, nod, SHUTSTA, SRCXPOS/SRCYPOS (as in
    the headers: open-area units),
    ``source_blocked``, ``serendip_id``/``serendip_visible``, ``stuck_shutter``, exposure time.
"""

from __future__ import annotations

import os

import astropy.units as u
import numpy as np
from astropy.table import QTable

from slitwise.errors import input_error
from slitwise.simulate.lines import LINES
from slitwise.simulate.sources import SourceModel

__all__ = ["sources_to_table", "source_from_row", "lines_table", "read_truth", "FLUX_UNIT"]

FLUX_UNIT = u.erg / u.s / u.cm**2
_BROAD = ("Halpha", "Hbeta")


def sources_to_table(sources: list[SourceModel], slitlets: dict[int, dict]) -> QTable:
    """Truth table of ``sources``; ``slitlets[host_id]`` gives slitlet_id, n_shutters, stuck."""
    t = QTable()
    t["source_id"] = np.array([s.source_id for s in sources], dtype=int)
    t["name"] = [s.name for s in sources]
    t["is_serendip"] = np.array([s.is_serendip for s in sources], dtype=bool)
    t["host_id"] = np.array([s.host_id for s in sources], dtype=int)
    t["slitlet_id"] = np.array([slitlets[s.host_id]["slitlet_id"] for s in sources], dtype=int)
    t["z"] = [s.z for s in sources]
    t["cont_fnu"] = [s.cont_fnu for s in sources] * u.uJy
    t["beta"] = [s.beta for s in sources]
    t["igm_transmission"] = [s.igm_transmission for s in sources]
    t["sigma_kms"] = [s.sigma_kms for s in sources] * (u.km / u.s)
    t["has_broad"] = np.array([s.has_broad for s in sources], dtype=bool)
    t["broad_sigma_kms"] = [s.broad_sigma_kms for s in sources] * (u.km / u.s)
    t["size"] = [s.size for s in sources] * u.arcsec
    t["xpos"] = [s.xpos for s in sources]
    t["ypos"] = [s.ypos for s in sources]
    t["slit_offset"] = [s.slit_offset for s in sources]
    t["n_shutters"] = np.array([slitlets[s.host_id]["n_shutters"] for s in sources], dtype=int)
    stuck = [slitlets[s.host_id]["stuck"] for s in sources]
    t["stuck_shutter"] = np.array([-1 if k is None else k for k in stuck], dtype=int)
    t["stuck_shutsta_index"] = np.array(
        [-1 if k is None else n - 1 - k for k, n in zip(stuck, t["n_shutters"], strict=True)],
        dtype=int,
    )
    for name in LINES:
        t[f"flux_{name}"] = [float(s.line_flux.get(name, 0.0)) for s in sources] * FLUX_UNIT
    for name in _BROAD:
        t[f"broad_flux_{name}"] = [float(s.broad_flux.get(name, 0.0)) for s in sources] * FLUX_UNIT
    descriptions = {
        "cont_fnu": "continuum f_nu at observed 3.5 um before the Lyman break",
        "beta": "continuum slope, f_lambda ~ lambda**beta",
        "size": "intrinsic Gaussian sigma of the source",
        "xpos": "intra-shutter x at the first nod, shutter pitches (SRCXPOS / 1.34)",
        "ypos": "intra-shutter y at the first nod, shutter pitches (SRCYPOS / 1.15)",
        "slit_offset": "offset along the slit from the primary, shutter pitches",
        "stuck_shutter": "stuck-closed shutter, index from the bottom (-1: none)",
        "stuck_shutsta_index": "character index of the stuck shutter in SHUTSTA (-1: none)",
    }
    for col, text in descriptions.items():
        t[col].info.description = text
    t.meta["line_wave_rest_um"] = {k: v * 1e-4 for k, v in LINES.items()}
    t.meta["cont_ref_um"] = 3.5
    return t


def _value(v, unit=None) -> float:
    if isinstance(v, u.Quantity):
        return float(v.to_value(unit) if unit is not None else v.value)
    return float(v)


def source_from_row(row) -> SourceModel:
    """Rebuild the :class:`SourceModel` of one ``truth.ecsv`` row (exact round trip)."""
    try:
        line_flux = {name: _value(row[f"flux_{name}"], FLUX_UNIT) for name in LINES}
        broad = {name: _value(row[f"broad_flux_{name}"], FLUX_UNIT) for name in _BROAD}
        has_broad = bool(row["has_broad"])
        return SourceModel(
            source_id=int(row["source_id"]),
            name=str(row["name"]),
            z=_value(row["z"]),
            cont_fnu=_value(row["cont_fnu"], u.uJy),
            beta=_value(row["beta"]),
            igm_transmission=_value(row["igm_transmission"]),
            line_flux=line_flux,
            sigma_kms=_value(row["sigma_kms"], u.km / u.s),
            broad_flux=broad if has_broad else {},
            broad_sigma_kms=_value(row["broad_sigma_kms"], u.km / u.s),
            size=_value(row["size"], u.arcsec),
            xpos=_value(row["xpos"]),
            ypos=_value(row["ypos"]),
            is_serendip=bool(row["is_serendip"]),
            host_id=int(row["host_id"]),
            slit_offset=_value(row["slit_offset"]),
        )
    except KeyError as exc:
        raise input_error("truth row", f"column {exc} missing; expected a truth.ecsv row") from exc


def lines_table(sources: list[SourceModel]) -> QTable:
    """Long-form line truth: one row per (source, line, component) with positive flux."""
    rows = []
    for s in sources:
        for name, comp, rest, flux, sig in s.lines():
            rows.append((s.source_id, name, comp, rest, rest * (1 + s.z), flux, sig))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    t = QTable()
    t["source_id"] = np.asarray(cols[0], dtype=int)
    t["line"] = list(cols[1])
    t["component"] = list(cols[2])
    t["wave_rest"] = np.asarray(cols[3], dtype=float) * u.um
    t["wave_obs"] = np.asarray(cols[4], dtype=float) * u.um
    t["flux"] = np.asarray(cols[5], dtype=float) * FLUX_UNIT
    t["sigma_kms"] = np.asarray(cols[6], dtype=float) * (u.km / u.s)
    return t


def read_truth(path: str | os.PathLike) -> QTable:
    """Read ``truth.ecsv`` (or a directory containing it)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "truth.ecsv")
    if not os.path.exists(path):
        raise input_error(path, "file not found; expected a simulator truth.ecsv")
    return QTable.read(path, format="ascii.ecsv")
