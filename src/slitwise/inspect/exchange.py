"""Grades in and out as ECSV, and merged into a run's ``summary.ecsv``.

The exchange table has one row per (source, inspector) with the columns of
:data:`EXCHANGE_COLUMNS`: ``source_id``, ``z_auto`` (the pipeline redshift), ``z_vi`` (visual
redshift, NaN when none), ``grade``, ``inspector``, ``comment``, ``timestamp`` (ISO 8601 UTC).
Importing validates every row first and applies nothing if one is bad; rows older than what
the database holds for that inspector are skipped, so importing the same file twice is harmless.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from slitwise.errors import input_error
from slitwise.inspect.store import GRADE_LABELS, GradeRecord, GradeStore, validate_grade
from slitwise.io.atomic import atomic_path

__all__ = [
    "EXCHANGE_COLUMNS",
    "grades_table",
    "write_grades_ecsv",
    "read_grades_ecsv",
    "import_grades",
    "merge_into_summary",
    "write_merged_summary",
]

#: Column name -> (dtype, description) of the exchange table.
EXCHANGE_COLUMNS = {
    "source_id": (str, "source name"),
    "z_auto": (float, "pipeline redshift (zfit ZBEST, or the summary z)"),
    "z_vi": (float, "redshift given by the inspector (NaN when none)"),
    "grade": (int, "3 robust, 2 likely, 1 tentative, 0 no redshift, -1 bad data"),
    "inspector": (str, "who graded"),
    "comment": (str, "free text"),
    "timestamp": (str, "time of the grade, ISO 8601 UTC"),
}
MAX_IMPORT_BYTES = 20_000_000


def grades_table(store: GradeStore, z_auto: dict[str, float | None] | None = None) -> Table:
    """All current grades as an exchange table, sorted by source then inspector."""
    z_auto = z_auto or {}
    recs = sorted(store.grades(), key=lambda r: (r.source_id, r.inspector))
    rows = [
        (r.source_id, _nan(z_auto.get(r.source_id)), _nan(r.z_vi), r.grade, r.inspector,
         r.comment, r.timestamp)
        for r in recs
    ]  # fmt: skip
    names = list(EXCHANGE_COLUMNS)
    dtypes = [EXCHANGE_COLUMNS[c][0] for c in names]
    table = Table(rows=rows or None, names=names, dtype=dtypes)
    for name, (_, doc) in EXCHANGE_COLUMNS.items():
        table[name].description = doc
    table.meta["grades"] = {str(k): v for k, v in GRADE_LABELS.items()}
    return table


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def write_grades_ecsv(table: Table, path: str | os.PathLike | None = None) -> str:
    """Write an exchange table as ECSV to ``path`` (atomically) and return the text."""
    buf = io.StringIO()
    table.write(buf, format="ascii.ecsv")
    text = buf.getvalue()
    if path is not None:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)
    return text


def read_grades_ecsv(source: str | os.PathLike | bytes, *, where: str = "") -> list[GradeRecord]:
    """Parse and validate an exchange ECSV (a path, or the file's bytes).

    Raises
    ------
    SlitwiseInputError
        Naming the file, the row and the field at fault; nothing is returned in that case.
    """
    if isinstance(source, bytes):
        where = where or "uploaded ECSV"
        if len(source) > MAX_IMPORT_BYTES:
            raise input_error(where, f"larger than {MAX_IMPORT_BYTES} bytes")
        text = source.decode("utf-8", "replace")
    else:
        where = where or str(source)
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise input_error(where, f"cannot read ({exc.strerror})") from exc
    try:
        table = Table.read(text, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many kinds on malformed text
        raise input_error(where, f"not an ECSV table ({exc.__class__.__name__})") from exc
    missing = [c for c in ("source_id", "grade", "inspector") if c not in table.colnames]
    if missing:
        raise input_error(where, f"column(s) {', '.join(missing)} missing; expected "
                          f"{', '.join(EXCHANGE_COLUMNS)}")  # fmt: skip
    records = []
    for i, row in enumerate(table, start=1):
        try:
            grade = row["grade"]
            grade = int(grade) if np.issubdtype(type(grade), np.integer) else grade
            z_vi = float(row["z_vi"]) if "z_vi" in table.colnames else None
            if z_vi is not None and math.isnan(z_vi):
                z_vi = None
            records.append(validate_grade(
                str(row["source_id"]), str(row["inspector"]), grade, z_vi,
                str(row["comment"]) if "comment" in table.colnames else "",
                str(row["timestamp"]) if "timestamp" in table.colnames else None,
            ))  # fmt: skip
        except (ValueError, TypeError) as exc:
            raise input_error(f"{where} row {i}", str(exc)) from exc
    return records


def import_grades(store: GradeStore, source: str | os.PathLike | bytes, *, where: str = ""):
    """Validate an exchange ECSV and merge it into ``store``; return ``(applied, skipped)``."""
    records = read_grades_ecsv(source, where=where)
    label = where or (str(source) if not isinstance(source, bytes) else "upload")
    return store.merge(records, origin=f"import:{os.path.basename(label)}"[:200])


def merge_into_summary(summary: Table, grades: Table) -> Table:
    """Add the inspection columns to a run summary (one row per source).

    For each source the most recent grade (over inspectors) gives ``grade``, ``z_vi``,
    ``inspector``, ``vi_comment`` and ``vi_time``; ``n_inspectors`` counts the inspectors.
    Sources without a grade get grade -99 (not inspected) and NaN ``z_vi``. Columns from a
    previous merge are replaced. The summary's key column is ``source_id`` or ``source``.
    """
    key = next((c for c in ("source_id", "source") if c in summary.colnames), None)
    if key is None:
        raise input_error("summary table", "no 'source_id' or 'source' column")
    latest: dict[str, tuple] = {}
    count: dict[str, int] = {}
    for row in grades:
        sid = str(row["source_id"])
        count[sid] = count.get(sid, 0) + 1
        if sid not in latest or str(row["timestamp"]) > latest[sid][4]:
            latest[sid] = (int(row["grade"]), float(row["z_vi"]), str(row["inspector"]),
                           str(row["comment"]), str(row["timestamp"]))  # fmt: skip
    out = summary.copy()
    new = {"grade": [], "z_vi": [], "inspector": [], "vi_comment": [], "vi_time": [],
           "n_inspectors": []}  # fmt: skip
    for sid in (str(s) for s in out[key]):
        g = latest.get(sid, (-99, float("nan"), "", "", ""))
        for name, value in zip(list(new)[:5], g, strict=True):
            new[name].append(value)
        new["n_inspectors"].append(count.get(sid, 0))
    docs = {
        "grade": "visual grade (3 robust .. -1 bad data; -99 not inspected)",
        "z_vi": "visual redshift of the latest grade",
        "inspector": "who gave the latest grade",
        "vi_comment": "comment of the latest grade",
        "vi_time": "time of the latest grade (ISO 8601 UTC)",
        "n_inspectors": "number of inspectors who graded the source",
    }
    for name, values in new.items():
        if name in out.colnames:
            out.remove_column(name)
        dtype = {"grade": int, "n_inspectors": int, "z_vi": float}.get(name, str)
        out[name] = np.array(values, dtype=dtype)
        out[name].description = docs[name]
    return out


def write_merged_summary(directory: str | os.PathLike, store: GradeStore) -> Path:
    """Merge the store's grades into ``DIR/summary.ecsv`` in place (atomic rewrite)."""
    path = Path(directory) / "summary.ecsv"
    if not path.is_file():
        raise input_error(path, "no summary table to merge into")
    summary = Table.read(path, format="ascii.ecsv")
    merged = merge_into_summary(summary, grades_table(store))
    with atomic_path(path) as tmp:
        merged.write(tmp, format="ascii.ecsv", overwrite=True)
    return path
