"""Grade store: validation, history, append-only log, concurrent writers, merging."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from slitwise.errors import SlitwiseInputError
from slitwise.inspect.store import MAX_COMMENT, GradeStore, validate_grade


def test_validate_accepts_every_grade_and_normalises():
    for g in (-1, 0, 1, 2, 3):
        rec = validate_grade(" 1001 ", " ana ", g, 2.5, "  ok ", "2025-01-02T03:04:05+01:00")
        assert (rec.source_id, rec.inspector, rec.grade, rec.z_vi, rec.comment) == (
            "1001", "ana", g, 2.5, "ok")
        assert rec.timestamp == "2025-01-02T02:04:05.000000Z"  # converted to UTC


@pytest.mark.parametrize(
    "field, args",
    [
        ("grade", ("1", "a", 4)),
        ("grade", ("1", "a", -2)),
        ("grade", ("1", "a", True)),
        ("grade", ("1", "a", 2.0)),
        ("grade", ("1", "a", "3")),
        ("grade", ("1", "a", None)),
        ("z_vi", ("1", "a", 3, 31.0)),
        ("z_vi", ("1", "a", 3, -0.5)),
        ("z_vi", ("1", "a", 3, float("nan"))),
        ("z_vi", ("1", "a", 3, "2.1")),
        ("comment", ("1", "a", 3, None, "x" * (MAX_COMMENT + 1))),
        ("comment", ("1", "a", 3, None, "bell\x07")),
        ("inspector", ("1", "", 3)),
        ("inspector", ("1", "a" * 65, 3)),
        ("source_id", ("", "a", 3)),
        ("timestamp", ("1", "a", 3, None, "", "yesterday")),
    ],
)
def test_validate_rejects_naming_the_field(field, args):
    with pytest.raises(SlitwiseInputError, match=field):
        validate_grade(*args)


def test_history_keeps_every_change_and_is_append_only(tmp_path):
    store = GradeStore(tmp_path / "g.sqlite")
    store.set_grade(validate_grade("1001", "ana", 1, 2.0, "first"))
    store.set_grade(validate_grade("1001", "ana", 3, 2.1, "second"))
    store.set_grade(validate_grade("1001", "ben", 2, None, ""))
    current = {g.inspector: g for g in store.grades("1001")}
    assert current["ana"].grade == 3 and current["ana"].z_vi == 2.1
    assert current["ben"].grade == 2 and current["ben"].z_vi is None
    hist = store.history("1001")
    assert [(h["inspector"], h["grade"]) for h in hist] == [("ana", 1), ("ana", 3), ("ben", 2)]
    assert store.counts() == {"grades": 2, "history": 3}
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE history SET grade = 0")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM history")
    conn.close()
    assert store.counts()["history"] == 3
    with sqlite3.connect(store.path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    latest = store.latest_by_source()
    assert latest["1001"][0].inspector == "ben" and latest["1001"][1] == 2


def test_two_writers_at_once_lose_nothing(tmp_path):
    """Two stores (as two server processes would have) write 150 grades each, interleaved."""
    path = tmp_path / "g.sqlite"
    stores = [GradeStore(path), GradeStore(path)]
    n = 150
    errors = []
    barrier = threading.Barrier(2)

    def work(k: int) -> None:
        try:
            barrier.wait()
            for i in range(n):
                # each writer grades its own sources and, every time, the shared source "0"
                stores[k].set_grade(validate_grade(f"{k}-{i}", f"insp{k}", i % 5 - 1, 0.01 * i))
                stores[k].set_grade(validate_grade("0", f"insp{k}", i % 5 - 1, None, str(i)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    check = GradeStore(path)
    assert check.counts() == {"grades": 2 * n + 2, "history": 4 * n}
    shared = {g.inspector: g for g in check.grades("0")}
    assert shared["insp0"].comment == shared["insp1"].comment == str(n - 1)
    assert len(check.history("0")) == 2 * n


def test_merge_applies_newer_and_skips_older(tmp_path):
    store = GradeStore(tmp_path / "g.sqlite")
    store.set_grade(validate_grade("1", "ana", 2, 1.0, "", "2025-01-01T00:00:00Z"))
    applied, skipped = store.merge([
        validate_grade("1", "ana", 3, 1.1, "", "2024-12-31T00:00:00Z"),  # older: skipped
        validate_grade("1", "ben", 1, 1.2, "", "2024-12-31T00:00:00Z"),  # new inspector
        validate_grade("2", "ana", 0, None, "", "2025-02-01T00:00:00Z"),  # new source
    ])  # fmt: skip
    assert (applied, skipped) == (2, 1)
    assert {(g.source_id, g.inspector, g.grade) for g in store.grades()} == {
        ("1", "ana", 2), ("1", "ben", 1), ("2", "ana", 0)}
    assert store.history("1")[-1]["origin"] == "import"


def test_unwritable_database_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SlitwiseInputError, match="--db"):
        GradeStore(blocker / "sub" / "g.sqlite")
