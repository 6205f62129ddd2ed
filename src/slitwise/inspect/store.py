"""Visual-inspection grades in SQLite, with the history of every change.

One row of ``grades`` per (source, inspector): two inspectors grading the same source keep
their own grades, and two inspectors grading at once never overwrite each other. Every change
is also appended to ``history``, which triggers make append-only. The database runs in WAL
mode and every write is one ``BEGIN IMMEDIATE`` transaction (the current grade and its history
row commit together), so concurrent writers from several threads or processes serialise
instead of losing updates.

Grades follow the DJA convention: 3 robust, 2 likely, 1 tentative, 0 no redshift, -1 bad data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from slitwise.errors import input_error

__all__ = [
    "GRADES",
    "GRADE_LABELS",
    "Z_RANGE",
    "MAX_COMMENT",
    "MAX_INSPECTOR",
    "GradeRecord",
    "GradeStore",
    "validate_grade",
    "utc_now",
]

log = logging.getLogger(__name__)

#: Allowed grades and their meaning (DJA convention).
GRADE_LABELS = {3: "robust", 2: "likely", 1: "tentative", 0: "no redshift", -1: "bad data"}
GRADES = frozenset(GRADE_LABELS)
#: Accepted visual redshifts (inclusive).
Z_RANGE = (0.0, 30.0)
#: Longest accepted comment and inspector name, in characters.
MAX_COMMENT = 2000
MAX_INSPECTOR = 64
MAX_SOURCE_ID = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    source_id  TEXT NOT NULL,
    inspector  TEXT NOT NULL,
    grade      INTEGER NOT NULL CHECK (grade BETWEEN -1 AND 3),
    z_vi       REAL,
    comment    TEXT NOT NULL DEFAULT '',
    timestamp  TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (source_id, inspector)
);
CREATE TABLE IF NOT EXISTS history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id  TEXT NOT NULL,
    inspector  TEXT NOT NULL,
    grade      INTEGER NOT NULL,
    z_vi       REAL,
    comment    TEXT NOT NULL,
    timestamp  TEXT NOT NULL,
    origin     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_source ON history (source_id);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
"""


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and a ``Z`` suffix."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass(frozen=True)
class GradeRecord:
    """A validated grade: who said what about which source, and when."""

    source_id: str
    inspector: str
    grade: int
    z_vi: float | None
    comment: str
    timestamp: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


def _text(value: object, name: str, limit: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise input_error(name, f"expected text, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise input_error(name, "must not be empty")
    if len(value) > limit:
        raise input_error(name, f"{len(value)} characters; at most {limit} allowed")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise input_error(name, "contains control characters")
    return value


def _timestamp(value: object) -> str:
    if value is None or value == "":
        return utc_now()
    text = _text(value, "timestamp", 40, required=True)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise input_error("timestamp", f"'{text}' is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def validate_grade(
    source_id: object,
    inspector: object,
    grade: object,
    z_vi: object = None,
    comment: object = "",
    timestamp: object = None,
) -> GradeRecord:
    """Check every field of a grade and return it as a :class:`GradeRecord`.

    Parameters
    ----------
    source_id, inspector : str
        Non-empty, at most 200 and 64 characters, no control characters.
    grade : int
        One of -1, 0, 1, 2, 3 (an integer, not a bool, float or string).
    z_vi : float or None
        Visual redshift, finite and within :data:`Z_RANGE`; None when not given.
    comment : str
        At most :data:`MAX_COMMENT` characters.
    timestamp : str, optional
        ISO 8601 time (default: now, UTC).

    Raises
    ------
    SlitwiseInputError
        Naming the field and what was expected.
    """
    sid = _text(source_id, "source_id", MAX_SOURCE_ID, required=True)
    who = _text(inspector, "inspector", MAX_INSPECTOR, required=True)
    if "\n" in who or "\t" in who:
        raise input_error("inspector", "must be a single line")
    if isinstance(grade, bool) or not isinstance(grade, int) or grade not in GRADES:
        raise input_error("grade", f"{grade!r}; expected one of -1, 0, 1, 2, 3")
    z = None
    if z_vi is not None and z_vi != "":
        if isinstance(z_vi, bool) or not isinstance(z_vi, int | float):
            raise input_error("z_vi", f"{z_vi!r}; expected a number")
        z = float(z_vi)
        if not math.isfinite(z) or not (Z_RANGE[0] <= z <= Z_RANGE[1]):
            raise input_error("z_vi", f"{z}; expected a finite redshift in "
                              f"[{Z_RANGE[0]}, {Z_RANGE[1]}]")  # fmt: skip
    note = _text(comment, "comment", MAX_COMMENT, required=False)
    return GradeRecord(sid, who, int(grade), z, note, _timestamp(timestamp))


class GradeStore:
    """SQLite store of grades (one connection per thread; WAL; one transaction per write).

    Parameters
    ----------
    path : str or path-like
        Database file; created with its tables when absent.

    Examples
    --------
    >>> store = GradeStore(tmp_path / "grades.sqlite")            # doctest: +SKIP
    >>> store.set_grade(validate_grade("1001", "ana", 3, 2.31))   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise input_error(self.path, f"cannot open the grade database ({exc}); "
                              "choose another file with --db") from exc  # fmt: skip

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writes ------------------------------------------------------------------------
    def set_grade(self, record: GradeRecord, *, origin: str = "web") -> GradeRecord:
        """Store ``record`` as its inspector's current grade and append it to the history."""
        with self._write() as conn:
            self._upsert(conn, record, origin)
        log.debug("grade %s by %s: %s", record.source_id, record.inspector, record.grade)
        return record

    @staticmethod
    def _upsert(conn: sqlite3.Connection, rec: GradeRecord, origin: str) -> None:
        conn.execute(
            "INSERT INTO grades (source_id, inspector, grade, z_vi, comment, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, inspector) DO UPDATE SET "
            "grade=excluded.grade, z_vi=excluded.z_vi, comment=excluded.comment, "
            "timestamp=excluded.timestamp, version=grades.version + 1",
            (rec.source_id, rec.inspector, rec.grade, rec.z_vi, rec.comment, rec.timestamp),
        )
        conn.execute(
            "INSERT INTO history (source_id, inspector, grade, z_vi, comment, timestamp, origin)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rec.source_id, rec.inspector, rec.grade, rec.z_vi, rec.comment, rec.timestamp,
             origin),
        )  # fmt: skip

    def merge(self, records: list[GradeRecord], *, origin: str = "import") -> tuple[int, int]:
        """Merge grades from elsewhere (e.g. an imported ECSV) in one transaction.

        A record replaces an inspector's current grade only when it is newer (by timestamp);
        older or identical records are skipped. Returns ``(applied, skipped)``.
        """
        applied = skipped = 0
        with self._write() as conn:
            for rec in records:
                row = conn.execute(
                    "SELECT grade, z_vi, comment, timestamp FROM grades "
                    "WHERE source_id=? AND inspector=?",
                    (rec.source_id, rec.inspector),
                ).fetchone()
                if row is not None and row["timestamp"] >= rec.timestamp:
                    skipped += 1
                    continue
                self._upsert(conn, rec, origin)
                applied += 1
        return applied, skipped

    # -- reads -------------------------------------------------------------------------
    @staticmethod
    def _record(row: sqlite3.Row) -> GradeRecord:
        return GradeRecord(row["source_id"], row["inspector"], int(row["grade"]), row["z_vi"],
                           row["comment"], row["timestamp"])  # fmt: skip

    def grades(self, source_id: str | None = None) -> list[GradeRecord]:
        """Current grades (of one source, or all), newest first."""
        conn = self._connect()
        if source_id is None:
            rows = conn.execute("SELECT * FROM grades ORDER BY timestamp DESC")
        else:
            rows = conn.execute(
                "SELECT * FROM grades WHERE source_id=? ORDER BY timestamp DESC", (source_id,)
            )
        return [self._record(r) for r in rows]

    def latest_by_source(self) -> dict[str, tuple[GradeRecord, int]]:
        """Per source: the most recent grade over all inspectors and the number of inspectors."""
        out: dict[str, tuple[GradeRecord, int]] = {}
        for rec in self.grades():  # newest first: the first seen is the latest
            if rec.source_id in out:
                out[rec.source_id] = (out[rec.source_id][0], out[rec.source_id][1] + 1)
            else:
                out[rec.source_id] = (rec, 1)
        return out

    def history(self, source_id: str | None = None) -> list[dict[str, object]]:
        """Every change (of one source, or all), oldest first, with its origin."""
        conn = self._connect()
        sql = "SELECT * FROM history"
        args: tuple = ()
        if source_id is not None:
            sql += " WHERE source_id=?"
            args = (source_id,)
        return [dict(r) for r in conn.execute(sql + " ORDER BY id", args)]

    def counts(self) -> dict[str, int]:
        """Numbers of current grade rows and history rows."""
        conn = self._connect()
        n_grades = conn.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
        n_hist = conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
        return {"grades": int(n_grades), "history": int(n_hist)}
