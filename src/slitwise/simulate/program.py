"""Simulate a NIRSpec MSA program: sources, slitlets, nodded exposures, truth files.

:func:`simulate_program` writes, in ``out_dir``:

``{root}_{exposure:05d}_nrs1_s{slitlet:03d}_{source_id}.fits``
    One cut-out per slitlet and exposure, in the layout :func:`slitwise.io.read_slitlet` reads
    (see :mod:`slitwise.simulate.exposure` for units and the path-loss convention).
    ``exposure`` numbers the MSA exposures 1, 2, ... over gratings then nods
    (``grating_index * n_nods + nod``); all slitlets share them. PRIMARY ``EXPOSURE`` is the nod
    position (1-based), ``NUMDTHPT`` the number of nods. Detector is always NRS1.
``truth/{stem}.truth.fits``
    Noiseless images and true trace of each cut-out (:mod:`slitwise.simulate.sidecar`).
``truth.ecsv``, ``truth_lines.ecsv``, ``truth_exposures.ecsv``
    See :mod:`slitwise.simulate.truth`.

Randomness: every random stream is ``numpy.random.default_rng([seed, purpose, ...])``, so a
seed gives identical files (apart from the FITS CHECKSUM/DATASUM comments, which carry the
writing time), and the noise of one exposure does not depend on how many others are made.
Stuck shutters and serendipitous sources go to ``round(fraction * n_sources)`` slitlets chosen
at random (at least one of each in the default 6-source program).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import QTable

from slitwise.errors import SlitwiseInputError, input_error
from slitwise.instruments import Disperser, get_disperser
from slitwise.io.atomic import atomic_path
from slitwise.io.slitlet import write_slitlet
from slitwise.simulate.exposure import NodPlacement, build_scene, render_exposure
from slitwise.simulate.geometry import draw_geometry, n_shutters_for, nod_offsets, shutter_state
from slitwise.simulate.sidecar import truth_path, write_truth_exposure
from slitwise.simulate.slitpsf import SLIT_FRAME_X, SLIT_FRAME_Y
from slitwise.simulate.sources import SourceModel, draw_source
from slitwise.simulate.truth import lines_table, sources_to_table

__all__ = ["SimulatedProgram", "simulate_program", "DEFAULT_GRATINGS", "cutout_name"]

log = logging.getLogger(__name__)

DEFAULT_GRATINGS = ("PRISM/CLEAR", "G395M/F290LP")
#: Per-nod jitter of the intra-shutter position (pitches, Gaussian sigma).
POSITION_JITTER = 0.003
# purposes of the random streams
_POP, _SELECT, _SERENDIP, _GEOMETRY, _JITTER, _NOISE = range(6)


@dataclasses.dataclass
class SimulatedProgram:
    """What :func:`simulate_program` wrote.

    Attributes
    ----------
    out_dir : Path
    truth : QTable
        One row per source (also ``truth.ecsv``).
    exposures : list of Path
        Cut-out files, ordered by exposure number then slitlet.
    sources : list of SourceModel
        Primaries then serendipitous sources, as in ``truth``.
    lines : QTable
        Long-form line truth (``truth_lines.ecsv``).
    exposure_table : QTable
        One row per cut-out (``truth_exposures.ecsv``).
    """

    out_dir: Path
    truth: QTable
    exposures: list[Path]
    sources: list[SourceModel]
    lines: QTable
    exposure_table: QTable

    def truth_file(self, cutout: str | os.PathLike) -> Path:
        """Truth sidecar of a cut-out."""
        return truth_path(cutout)


def cutout_name(root: str, exposure: int, slitlet_id: int, source_id: int) -> str:
    """File name of a simulated cut-out."""
    return f"{root}_{exposure:05d}_nrs1_s{slitlet_id:03d}_{source_id}.fits"


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *[int(k) for k in keys]])


def _check_inputs(
    n_sources, seed, gratings, n_nods, root, stuck_fraction, serendip_fraction, exptime
) -> list[Disperser]:
    if isinstance(n_sources, bool) or not isinstance(n_sources, (int, np.integer)):
        raise input_error("n_sources", f"got {n_sources!r}; expected an integer >= 1")
    if n_sources < 1 or n_sources > 999:
        raise input_error("n_sources", f"got {n_sources}; expected 1..999")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise input_error("seed", f"got {seed!r}; expected a non-negative integer")
    nod_offsets(n_nods)
    if isinstance(gratings, str):
        gratings = [gratings]
    if not gratings:
        raise input_error("gratings", "empty; expected at least one NIRSpec disperser")
    dispersers = []
    for g in gratings:
        try:
            d = get_disperser(g)
        except SlitwiseInputError as exc:
            raise input_error("gratings", str(exc)) from exc
        if d.name in [x.name for x in dispersers]:
            raise input_error("gratings", f"'{g}' given twice")
        dispersers.append(d)
    if not root or any(c in root for c in "/\\ ") or root.startswith("."):
        raise input_error("root", f"got {root!r}; expected a plain file-name prefix")
    for name, value in (
        ("stuck_fraction", stuck_fraction),
        ("serendip_fraction", serendip_fraction),
    ):
        if not 0.0 <= float(value) <= 1.0:
            raise input_error(name, f"got {value}; expected a fraction in 0..1")
    if not float(exptime) > 0:
        raise input_error("exptime", f"got {exptime}; expected a positive number of seconds")
    return dispersers


def simulate_program(
    out_dir: str | os.PathLike,
    *,
    n_sources: int = 6,
    seed: int = 0,
    gratings: Sequence[str] = DEFAULT_GRATINGS,
    n_nods: int = 3,
    root: str = "sim",
    stuck_fraction: float = 0.17,
    serendip_fraction: float = 0.17,
    exptime: float = 1021.2,
    sources: Sequence[SourceModel] | None = None,
    add_noise: bool = True,
) -> SimulatedProgram:
    """Simulate an MSA program and write its cut-outs and truth.

    Parameters
    ----------
    out_dir : path
        Output directory (created).
    n_sources : int
        Number of primary sources, one slitlet each (ignored when ``sources`` is given).
    seed : int
        Seed of every random stream.
    gratings : sequence of str
        Dispersers (``"PRISM/CLEAR"``, ``"G395M/F290LP"``, ``"g140m"``...).
    n_nods : int
        Nod pattern: 2 or 3 (3-shutter slitlets) or 5 (5-shutter slitlets).
    root : str
        File-name prefix.
    stuck_fraction, serendip_fraction : float
        Fraction of slitlets with a stuck-closed shutter / a serendipitous second source.
    exptime : float
        Exposure time per nod, seconds.
    sources : sequence of SourceModel, optional
        Use these primaries instead of a random population (ids must be unique).
    add_noise : bool
        False writes noiseless SCI (no cosmic rays or bad pixels), for tests.

    Returns
    -------
    SimulatedProgram

    Raises
    ------
    SlitwiseInputError
        Unknown grating, nods not 2/3/5, bad counts, fractions or root.
    """
    if sources is not None:
        n_sources = len(sources)
    dispersers = _check_inputs(
        n_sources, seed, gratings, n_nods, root, stuck_fraction, serendip_fraction, exptime
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    offsets = nod_offsets(n_nods)
    n_shut = n_shutters_for(n_nods)
    centre = (n_shut - 1) // 2

    if sources is None:
        rng = _rng(seed, _POP)
        primaries = [draw_source(rng, 1001 + i) for i in range(n_sources)]
    else:
        primaries = list(sources)
        if len({s.source_id for s in primaries}) != len(primaries):
            raise input_error("sources", "source ids must be unique")
    sel = _rng(seed, _SELECT)
    n_ser = int(round(serendip_fraction * n_sources))
    n_stuck = int(round(stuck_fraction * n_sources))
    with_ser = set(sel.choice(n_sources, n_ser, replace=False).tolist())
    with_stuck = set(sel.choice(n_sources, n_stuck, replace=False).tolist())
    others = [k for k in range(n_shut) if k != centre]
    stuck_of = {i: int(sel.choice(others)) if i in with_stuck else None for i in range(n_sources)}
    serendips = {}
    for i in sorted(with_ser):
        host = primaries[i]
        serendips[i] = draw_source(
            _rng(seed, _SERENDIP, i),
            2001 + i if sources is None else 100000 + host.source_id,
            serendip=True,
            host_id=host.source_id,
        )
    slitlets = {
        p.source_id: {"slitlet_id": i + 1, "n_shutters": n_shut, "stuck": stuck_of[i]}
        for i, p in enumerate(primaries)
    }

    written: list[tuple[int, int, Path]] = []
    rows = []
    for g_idx, disp in enumerate(dispersers):
        for i, prim in enumerate(primaries):
            slit_id = i + 1
            geo_rng = _rng(seed, _GEOMETRY, slit_id, g_idx)
            geometry = draw_geometry(disp, n_shut, geo_rng)
            scene = build_scene(
                geometry,
                disp,
                prim,
                serendip=serendips.get(i),
                stuck=stuck_of[i],
                slitlet_id=slit_id,
                rng=geo_rng,
            )
            jit = _rng(seed, _JITTER, slit_id, g_idx).normal(0, POSITION_JITTER, (n_nods, 2))
            ser = serendips.get(i)
            for nod, off in enumerate(offsets):
                place = NodPlacement(
                    nod_index=nod,
                    n_nods=n_nods,
                    offset=off,
                    source_shutter=centre + off,
                    xpos=prim.xpos + float(jit[nod, 0]),
                    ypos=prim.ypos + float(jit[nod, 1]),
                    serendip_xpos=(ser.xpos + float(jit[nod, 0])) if ser else 0.0,
                )
                expnum = g_idx * n_nods + nod + 1
                exposure, truth = render_exposure(
                    scene,
                    place,
                    _rng(seed, _NOISE, slit_id, g_idx, nod),
                    exptime=exptime,
                    add_noise=add_noise,
                    meta={"seed": seed},
                )
                path = out_dir / cutout_name(root, expnum, slit_id, prim.source_id)
                write_slitlet(exposure, path)
                write_truth_exposure(truth, path, sourceid=prim.source_id, exposure=expnum)
                written.append((expnum, slit_id, path))
                rows.append(
                    {
                        "file": path.name,
                        "truth_file": f"truth/{truth_path(path).name}",
                        "exposure": expnum,
                        "source_id": prim.source_id,
                        "slitlet_id": slit_id,
                        "grating": disp.grating,
                        "filter": disp.filter,
                        "nod": nod + 1,
                        "n_nods": n_nods,
                        "shutter_state": shutter_state(n_shut, centre + off, stuck_of[i]),
                        "srcxpos": place.xpos * SLIT_FRAME_X,
                        "srcypos": place.ypos * SLIT_FRAME_Y,
                        "source_blocked": truth.meta["source_blocked"],
                        "serendip_id": truth.meta["serendip_id"],
                        "serendip_visible": truth.meta["serendip_visible"],
                        "stuck_shutter": truth.meta["stuck_shutter"],
                        "exptime": float(exptime),
                    }
                )
    all_sources = primaries + [serendips[i] for i in sorted(serendips)]
    truth_table = sources_to_table(all_sources, slitlets)
    truth_table.meta.update(
        {
            "seed": int(seed),
            "n_nods": int(n_nods),
            "root": root,
            "gratings": [d.name for d in dispersers],
        }
    )
    lines = lines_table(all_sources)
    exp_table = QTable(rows=rows) if rows else QTable()
    if "exptime" in exp_table.colnames:
        import astropy.units as u

        exp_table["exptime"].unit = u.s
    for name, table in (
        ("truth.ecsv", truth_table),
        ("truth_lines.ecsv", lines),
        ("truth_exposures.ecsv", exp_table),
    ):
        with atomic_path(out_dir / name) as tmp:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
    written.sort(key=lambda t: (t[0], t[1]))
    log.info("simulated %d sources, %d cut-outs in %s", len(all_sources), len(written), out_dir)
    return SimulatedProgram(
        out_dir=out_dir,
        truth=truth_table,
        exposures=[p for _, _, p in written],
        sources=all_sources,
        lines=lines,
        exposure_table=exp_table,
    )
