"""``slitwise inspect`` command line: export, import, merge into the summary, bad input."""

from __future__ import annotations

import argparse
import shutil

import pytest
from astropy.table import Table

from slitwise.cli import inspect as cli_inspect
from slitwise.errors import SlitwiseInputError
from slitwise.inspect.store import GradeStore, validate_grade


def _parse(argv):
    parser = argparse.ArgumentParser(prog="slitwise")
    cli_inspect.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["inspect", *argv])


def test_defaults_listen_on_loopback(tmp_path):
    args = _parse([str(tmp_path)])
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8765, None)


def test_export_import_merge(tmp_path, run_dir):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    store = GradeStore(run / "inspect_grades.sqlite")
    store.set_grade(validate_grade("1001", "ana", 3, 4.9, "Ha"))
    out = tmp_path / "grades.ecsv"
    assert cli_inspect.run(_parse([str(run), "--export", str(out)])) == 0
    table = Table.read(out, format="ascii.ecsv")
    assert list(table["source_id"]) == ["1001"] and table["grade"][0] == 3
    # import into a second database, then merge into the summary
    db2 = tmp_path / "other.sqlite"
    assert cli_inspect.run(_parse([str(run), "--db", str(db2), "--import", str(out),
                                   "--merge-summary"])) == 0  # fmt: skip
    assert [g.grade for g in GradeStore(db2).grades("1001")] == [3]
    summary = Table.read(run / "summary.ecsv", format="ascii.ecsv")
    row = summary[list(summary["source"]).index("1001")]
    assert (row["grade"], row["z_vi"], row["inspector"]) == (3, 4.9, "ana")
    assert len(summary) == 8 and sum(summary["grade"] == -99) == 7


def test_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(SlitwiseInputError, match="not a directory"):
        cli_inspect.run(_parse([str(tmp_path / "nope")]))


def test_bad_import_file_is_an_input_error(tmp_path, run_dir):
    bad = tmp_path / "bad.ecsv"
    Table({"source_id": ["1001"], "grade": [7], "inspector": ["ana"]}).write(bad)
    with pytest.raises(SlitwiseInputError, match="row 1: grade: 7"):
        cli_inspect.run(_parse([str(run_dir), "--db", str(tmp_path / "g.sqlite"),
                                "--import", str(bad)]))  # fmt: skip
    with pytest.raises(SlitwiseInputError, match="not an ECSV table"):
        bad.write_text("source_id grade inspector\n1001 3 ana\n")
        cli_inspect.run(_parse([str(run_dir), "--db", str(tmp_path / "g.sqlite"),
                                "--import", str(bad)]))  # fmt: skip
    assert GradeStore(tmp_path / "g.sqlite").counts()["history"] == 0
