"""Inspection and grading web app over a run's products (``slitwise inspect DIR``).

- :func:`create_app` builds the Flask application (overview, source pages, grading API);
- :class:`GradeStore` keeps grades in SQLite with the history of every change;
- :class:`ProductIndex` finds the products of a run directory, grouped by source;
- :mod:`slitwise.inspect.exchange` exports and imports grades as ECSV and merges them into the
  run's ``summary.ecsv``;
- :func:`serve` runs the app on 127.0.0.1.

All assets (JavaScript plots, CSS) are bundled under ``static/``; nothing is fetched from the
internet.
"""

from slitwise.inspect.app import DEFAULT_DB_NAME, create_app
from slitwise.inspect.catalog import ProductIndex, SourceEntry
from slitwise.inspect.exchange import (
    grades_table,
    import_grades,
    merge_into_summary,
    read_grades_ecsv,
    write_grades_ecsv,
    write_merged_summary,
)
from slitwise.inspect.server import make_inspect_server, serve, start_in_thread
from slitwise.inspect.store import GRADE_LABELS, GradeRecord, GradeStore, validate_grade

__all__ = [
    "create_app",
    "DEFAULT_DB_NAME",
    "ProductIndex",
    "SourceEntry",
    "GradeStore",
    "GradeRecord",
    "GRADE_LABELS",
    "validate_grade",
    "grades_table",
    "write_grades_ecsv",
    "read_grades_ecsv",
    "import_grades",
    "merge_into_summary",
    "write_merged_summary",
    "make_inspect_server",
    "serve",
    "start_in_thread",
]
