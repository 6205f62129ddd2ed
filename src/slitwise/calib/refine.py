"""Manual refinement without DS9: an editable table of identified arc lines, and a refit.

``slitwise calib fit`` writes ``lines.ecsv``: one row per identified arc line and slit slice,

=========  ===========================================================================
column     meaning
=========  ===========================================================================
slit_id    slit of the mask description
t          slit position of the slice (0 and 1 are the slit ends)
x_mm/y_mm  mask position of the slice (mm)
pixel      measured line centre along dispersion (canonical ``d``, pixels)
wave       catalogue wavelength assigned to it (Angstrom) -- edit to re-identify
model_pix  where the fitted model puts ``wave`` (pixels)
residual   ``pixel - model_pix`` (pixels)
use        1 to use the line, 0 to drop it -- edit to reject a misidentification
=========  ===========================================================================

Any text editor or ``astropy.table`` can change ``wave`` and ``use`` (or delete rows);
:func:`refit_from_lines` (``slitwise calib refit``) re-reads the table and refits the
dispersion-axis part of the optical model and the inverse dispersion solution from the lines
kept. A slit whose lines are all dropped keeps no dispersion constraint of its own; the global
polynomials carry it.

Slit positions across dispersion are edited in ``edges.ecsv``, also written by every fit: one
row per slit end that the spatial part of the optical model was fitted to.

=========  ===========================================================================
column     meaning
=========  ===========================================================================
slit_id    slit of the mask description
t          0 or 1: which end of the slit
x_mm/y_mm  mask position of that end (mm)
s          measured position across dispersion at the reference wavelength (pixels,
           from the flat's edge trace) -- edit to move the edge
model_s    where the fitted optical model puts it (pixels)
residual   ``s - model_s`` (pixels)
use        1 to use the edge, 0 to drop it (e.g. an edge traced on a neighbouring slit)
=========  ===========================================================================

``slitwise calib refit --edges edges.ecsv`` then refits the spatial part of the optical model
from the rows kept; without it the spatial part is kept as stored. The curvature model
(trace shapes relative to the reference position) is kept in both cases. The refit rejects
outliers as the automatic fit does (beyond 4 sigma and 0.3 px): one end moved far from what
its neighbours imply is rejected, not followed; drop wrong rows with ``use`` = 0.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from slitwise.calib.fit_ids import LineSample, fit_dispersion
from slitwise.calib.fit_opt import fit_optical
from slitwise.calib.mask_file import Mask
from slitwise.calib.models import SpectrographModel
from slitwise.errors import input_error
from slitwise.io.atomic import atomic_path

__all__ = [
    "LINE_COLUMNS",
    "lines_table",
    "write_lines_table",
    "read_lines_table",
    "samples_from_table",
    "column_values",
    "with_model_columns",
    "refit_from_lines",
    "EDGE_COLUMNS",
    "edges_table",
    "with_edge_model_columns",
    "read_edges_table",
]

#: Columns :func:`read_lines_table` requires.
LINE_COLUMNS = ("slit_id", "t", "x_mm", "y_mm", "pixel", "wave", "use")


def lines_table(model: SpectrographModel, samples: list[LineSample]) -> QTable:
    """One row per identified line, with the model's position and residual."""
    rows = [
        (smp.slit_id, round(smp.t, 4), round(smp.x, 4), round(smp.y, 4), round(p, 4), w, 1)
        for smp in samples
        for p, w in zip(smp.pixel, smp.wave, strict=True)
    ]
    names = ("slit_id", "t", "x_mm", "y_mm", "pixel", "wave", "use")
    table = QTable(rows=rows, names=names) if rows else QTable(names=names)
    table["x_mm"].unit = table["y_mm"].unit = u.mm
    table["pixel"].unit = u.pix
    table["wave"].unit = u.AA
    table.meta["comments"] = [
        "slitwise arc line identifications: edit 'wave' to re-identify a line, set 'use'",
        "to 0 to drop it, then run: slitwise calib refit --lines THIS_FILE ...",
    ]
    return with_model_columns(table, model)


#: Columns :func:`read_edges_table` requires.
EDGE_COLUMNS = ("slit_id", "t", "x_mm", "y_mm", "s", "use")


def edges_table(model: SpectrographModel, edges: list[tuple]) -> QTable:
    """Editable slit-end positions ``(slit_id, t, x_mm, y_mm, s)`` with the model's."""
    rows = [(int(i), float(t), round(x, 4), round(y, 4), round(sv, 4), 1)
            for i, t, x, y, sv in edges]  # fmt: skip
    names = ("slit_id", "t", "x_mm", "y_mm", "s", "use")
    table = QTable(rows=rows, names=names) if rows else QTable(names=names)
    table["x_mm"].unit = table["y_mm"].unit = u.mm
    table["s"].unit = u.pix
    table.meta["comments"] = [
        "slitwise slit ends across dispersion: edit 's' to move an edge, set 'use' to 0 to",
        "drop it, then run: slitwise calib refit --edges THIS_FILE ...",
    ]
    return with_edge_model_columns(table, model)


def with_edge_model_columns(table: Table, model: SpectrographModel) -> QTable:
    """The edge table with ``model_s`` and ``residual`` (``s - model_s``) set, before ``use``."""
    x, y = column_values(table, "x_mm"), column_values(table, "y_mm")
    ref = np.full(x.size, model.ids.reference_wavelength)
    _, s_model = model.position(x, y, ref) if x.size else (x, x)
    return _with_residual(table, "s", "model_s", s_model)


def _with_residual(table: Table, measured: str, name: str, values: np.ndarray) -> QTable:
    """Copy of ``table`` with model positions ``values`` as column ``name`` and ``residual``
    (``measured - name``), in pixels, placed (again) just before ``use``."""
    out = QTable(table)
    for col in (name, "residual"):
        if col in out.colnames:
            out.remove_column(col)
    at = out.colnames.index("use")
    out.add_column(np.round(values, 4) * u.pix, name=name, index=at)
    resid = np.round(column_values(out, measured) - values, 4) * u.pix
    out.add_column(resid, name="residual", index=at + 1)
    return out


def read_edges_table(path: str | os.PathLike) -> Table:
    """Read an (edited) slit-edge table; errors name the file and the missing column."""
    return _read_table(path, EDGE_COLUMNS, ("x_mm", "y_mm", "s"), "slit-edge table")


def _read_table(path, columns, finite, what) -> Table:
    path = Path(path)
    if not path.is_file():
        raise input_error(path, f"{what} not found")
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise input_error(path, f"not a readable ECSV table ({exc})") from None
    for name in columns:
        if name not in table.colnames:
            expected = ", ".join(columns)
            raise input_error(f"{path}: column '{name}'", f"missing; expected {expected}")
    bad = np.zeros(len(table), bool)
    for name in finite:
        bad |= ~np.isfinite(column_values(table, name))
    if np.any(bad):
        raise input_error(path, f"{int(bad.sum())} rows with a non-finite {'/'.join(finite)}")
    return table


def with_model_columns(table: Table, model: SpectrographModel) -> QTable:
    """The table with ``model_pix`` (where ``model`` puts each line) and ``residual``
    (``pixel - model_pix``) set, in pixels, placed before ``use``."""
    d_model, _ = model.position(
        column_values(table, "x_mm"), column_values(table, "y_mm"), column_values(table, "wave")
    )
    return _with_residual(table, "pixel", "model_pix", d_model)


def write_lines_table(table: QTable, path: str | os.PathLike) -> Path:
    """Write the table as ECSV (atomically)."""
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return Path(path)


def read_lines_table(path: str | os.PathLike) -> Table:
    """Read an (edited) line table; errors name the file and the missing column."""
    return _read_table(path, LINE_COLUMNS, ("pixel", "wave"), "line table")


def column_values(table: Table, name: str, dtype=float) -> np.ndarray:
    """Plain values of a column (Quantity or not), in the table's units."""
    col = table[name]
    return np.asarray(getattr(col, "value", col), dtype=dtype)


def samples_from_table(table: Table) -> list[LineSample]:
    """Group the rows with ``use`` true into per-slice :class:`LineSample` objects."""
    use = column_values(table, "use").astype(bool)
    sid, t = column_values(table, "slit_id", int)[use], column_values(table, "t")[use]
    x, y = column_values(table, "x_mm")[use], column_values(table, "y_mm")[use]
    pix, wave = column_values(table, "pixel")[use], column_values(table, "wave")[use]
    out = []
    for k, tk in sorted({(int(a), round(float(b), 6)) for a, b in zip(sid, t, strict=True)}):
        m = (sid == k) & np.isclose(t, tk)
        order = np.argsort(pix[m])
        out.append(LineSample(slit_id=k, t=tk, x=float(x[m][0]), y=float(y[m][0]),
                              pixel=pix[m][order], wave=wave[m][order]))  # fmt: skip
    return out


def _slice_reference(smp: LineSample, reference_wavelength: float) -> float | None:
    """Pixel of the reference wavelength in one slice from its own lines (or None)."""
    n = smp.pixel.size
    if n < 3:
        return None
    deg = int(min(4, n - 2))
    scale = max(np.ptp(smp.wave), 1.0)
    coef = np.polyfit((smp.wave - reference_wavelength) / scale, smp.pixel, deg)
    return float(np.polyval(coef, 0.0))


def refit_from_lines(
    model: SpectrographModel,
    mask: Mask,
    table: Table,
    *,
    opt_degrees: tuple[int, int] = (2, 2),
    ids_order: int = 3,
    ids_degrees: tuple[int, int] = (1, 1),
    edges: Table | None = None,
) -> tuple[SpectrographModel, dict[int, float], float]:
    """Refit OPT (dispersion axis) and IDS from an edited line table; with ``edges`` (an
    edited :func:`edges_table`) the spatial axis of OPT too, from the rows kept.

    Returns the new model, the RMS per slit and the overall RMS (pixels).

    Raises
    ------
    SlitwiseInputError
        Too few slices with enough lines left to fit the models.
    """
    samples = samples_from_table(table)
    ref = model.ids.reference_wavelength
    dx, dy, dd = [], [], []
    for smp in samples:
        d0 = _slice_reference(smp, ref)
        if d0 is not None:
            dx.append(smp.x)
            dy.append(smp.y)
            dd.append(d0)
    n_terms = (opt_degrees[0] + 1) * (opt_degrees[1] + 1)
    if len(dd) < 2:
        raise input_error("line table", f"only {len(dd)} slices keep >= 3 lines; cannot refit")
    if len(dd) < n_terms:
        opt_degrees = (1, 1) if len(dd) >= 4 else (0, 0)
    if edges is not None:  # edited measured ends
        keep = column_values(edges, "use").astype(bool)
        sx, sy, ss = (column_values(edges, c)[keep] for c in ("x_mm", "y_mm", "s"))
        if sx.size < 2:
            raise input_error("slit-edge table", f"only {sx.size} edges kept; cannot refit")
    else:  # the stored model at both ends of every slit (fitted to the flat)
        sx, sy, ss = [], [], []
        for slit in mask:
            if slit.ref or not model.on_detector(slit):
                continue
            for te in (0.0, 1.0):
                xe, ye = slit.point(te)
                _, s = model.position(np.atleast_1d(xe), np.atleast_1d(ye), np.atleast_1d(ref))
                sx.append(float(xe))
                sy.append(float(ye))
                ss.append(float(s[0]))
    opt, _ = fit_optical(
        (np.array(dx), np.array(dy), np.array(dd)),
        (np.array(sx), np.array(sy), np.array(ss)),
        degrees=opt_degrees,
    )
    ids, per_slit, rms = fit_dispersion(
        samples,
        opt.d,
        reference_wavelength=ref,
        wave_scale=model.ids.wave_scale,
        order=ids_order,
        degrees=ids_degrees,
    )
    return dataclasses.replace(model, opt=opt, ids=ids), per_slit, rms
