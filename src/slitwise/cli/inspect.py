"""``slitwise inspect DIR``: serve the inspection and grading web app over a run's products."""

from __future__ import annotations

import argparse
from pathlib import Path

from slitwise.errors import input_error

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``inspect`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "inspect",
        help="browse and grade a run's spectra in a local web page",
        description="Serve a local web app to inspect the products in DIR (spec, zfit, line "
        "fits) and grade redshifts (3 robust, 2 likely, 1 tentative, 0 no redshift, -1 bad "
        "data). Grades go to an SQLite file with the history of every change. With --export, "
        "--import or --merge-summary the command does that and exits without serving.",
    )
    p.add_argument("directory", metavar="DIR", help="run directory with the products")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 = any free)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--db", metavar="FILE", default=None,
                   help="grade database (default DIR/inspect_grades.sqlite)")
    p.add_argument("--export", metavar="FILE", default=None,
                   help="write all grades as ECSV to FILE and exit")
    p.add_argument("--import", dest="import_file", metavar="FILE", default=None,
                   help="merge grades from an ECSV file into the database and exit")
    p.add_argument("--merge-summary", action="store_true",
                   help="add the grade columns to DIR/summary.ecsv and exit")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``slitwise inspect`` with parsed arguments; returns the exit status."""
    directory = Path(args.directory)
    if not directory.is_dir():
        raise input_error(directory, "not a directory; expected a run output directory")
    if args.export or args.import_file or args.merge_summary:
        from slitwise.inspect.app import DEFAULT_DB_NAME
        from slitwise.inspect.catalog import ProductIndex
        from slitwise.inspect.exchange import (
            grades_table,
            import_grades,
            write_grades_ecsv,
            write_merged_summary,
        )
        from slitwise.inspect.store import GradeStore

        store = GradeStore(args.db or directory / DEFAULT_DB_NAME)
        if args.import_file:
            applied, skipped = import_grades(store, args.import_file)
            print(f"slitwise inspect: imported {applied} grades ({skipped} older or unchanged "
                  "skipped)")  # fmt: skip
        if args.export:
            index = ProductIndex(directory)
            z_auto = {sid: e.z_auto for sid, e in index.sources.items()}
            table = grades_table(store, z_auto)
            write_grades_ecsv(table, args.export)
            print(f"slitwise inspect: wrote {len(table)} grades to {args.export}")
        if args.merge_summary:
            path = write_merged_summary(directory, store)
            print(f"slitwise inspect: merged grades into {path}")
        return 0
    from slitwise.inspect.server import serve

    try:
        serve(directory, host=args.host, port=args.port, db_path=args.db)
    except KeyboardInterrupt:
        print("slitwise inspect: stopped")
    return 0
