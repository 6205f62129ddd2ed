"""Filtering, sorting and paging of the overview table (pure functions on rows)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from slitwise.errors import input_error
from slitwise.inspect.catalog import SourceEntry, _natural
from slitwise.inspect.store import GradeRecord
from slitwise.io.schema import ZWARN_BITS

__all__ = ["ListQuery", "parse_query", "overview_rows", "select", "SORT_KEYS"]

SORT_KEYS = ("source_id", "gratings", "z_auto", "zconf", "zwarn", "grade", "z_vi", "line_snr",
             "snr", "status")  # fmt: skip
PER_PAGE_MAX = 1000
_GRADE_FILTERS = ("any", "none", "graded", "-1", "0", "1", "2", "3")


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """A validated overview query."""

    q: str = ""
    grade: str = "any"
    zmin: float | None = None
    zmax: float | None = None
    sort: str = "source_id"
    order: str = "asc"
    page: int = 1
    per_page: int = 50

    def params(self, **changes) -> dict[str, str]:
        """Query-string parameters (non-default only), with ``changes`` applied."""
        query = dataclasses.replace(self, **changes)
        default = ListQuery()
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(query, field.name)
            if value != getattr(default, field.name):
                out[field.name] = "" if value is None else str(value)
        return out


def _number(args: Mapping[str, str], name: str, lo: float, hi: float) -> float | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise input_error(name, f"'{text[:40]}' is not a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise input_error(name, f"{value} outside [{lo}, {hi}]")
    return value


def _integer(args: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    text = (args.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise input_error(name, f"'{text[:40]}'; expected an integer in [{lo}, {hi}]")
    return int(text)


def parse_query(args: Mapping[str, str]) -> ListQuery:
    """Validate overview query parameters (raises :class:`SlitwiseInputError` naming one)."""
    q = (args.get("q") or "").strip()
    if len(q) > 200:
        raise input_error("q", "search text longer than 200 characters")
    grade = (args.get("grade") or "any").strip()
    if grade not in _GRADE_FILTERS:
        raise input_error("grade", f"'{grade[:40]}'; expected one of {', '.join(_GRADE_FILTERS)}")
    sort = (args.get("sort") or "source_id").strip()
    if sort not in SORT_KEYS:
        raise input_error("sort", f"'{sort[:40]}'; expected one of {', '.join(SORT_KEYS)}")
    order = (args.get("order") or "asc").strip()
    if order not in ("asc", "desc"):
        raise input_error("order", f"'{order[:40]}'; expected asc or desc")
    return ListQuery(
        q=q, grade=grade, zmin=_number(args, "zmin", -1, 100), zmax=_number(args, "zmax", -1, 100),
        sort=sort, order=order, page=_integer(args, "page", 1, 1, 10**6),
        per_page=_integer(args, "per_page", 50, 1, PER_PAGE_MAX),
    )  # fmt: skip


def overview_rows(
    sources: Mapping[str, SourceEntry], latest: Mapping[str, tuple[GradeRecord, int]]
) -> list[dict]:
    """One dict per source: index facts plus the latest grade (None when ungraded)."""
    rows = []
    for sid, entry in sources.items():
        rec, n = latest.get(sid, (None, 0))
        rows.append({
            "source_id": sid, "gratings": ", ".join(entry.gratings), "z_auto": entry.z_auto,
            "zconf": entry.zconf, "zwarn": entry.zwarn,
            "flag_names": _flag_names(entry.zwarn), "line_snr": entry.line_snr,
            "snr": entry.snr, "status": entry.status, "thumbnail": entry.thumbnail,
            "has_spec": bool(entry.spec),
            "grade": None if rec is None else rec.grade,
            "z_vi": None if rec is None else rec.z_vi,
            "inspector": "" if rec is None else rec.inspector, "n_inspectors": n,
        })  # fmt: skip
    return rows


def _flag_names(zwarn: int | None) -> str:
    if not zwarn:
        return ""
    return ", ".join(name for name, bit, _ in ZWARN_BITS if zwarn & (1 << bit))


def _sort_key(sort: str):
    if sort == "source_id":
        return lambda r: _natural(r["source_id"])
    return lambda r: r[sort]


def select(rows: list[dict], query: ListQuery) -> tuple[list[dict], list[dict], int]:
    """Apply ``query``: returns (all matching rows in order, rows of the page, number of pages).

    Rows whose sort value is missing (None) go last in either order.
    """
    out = rows
    if query.q:
        needle = query.q.lower()
        out = [r for r in out if needle in r["source_id"].lower()
               or needle in r["gratings"].lower() or needle in r["inspector"].lower()]  # fmt: skip
    if query.grade == "none":
        out = [r for r in out if r["grade"] is None]
    elif query.grade == "graded":
        out = [r for r in out if r["grade"] is not None]
    elif query.grade != "any":
        out = [r for r in out if r["grade"] == int(query.grade)]
    if query.zmin is not None:
        out = [r for r in out if r["z_auto"] is not None and r["z_auto"] >= query.zmin]
    if query.zmax is not None:
        out = [r for r in out if r["z_auto"] is not None and r["z_auto"] <= query.zmax]
    present = [r for r in out if r[query.sort] is not None]
    missing = [r for r in out if r[query.sort] is None]
    present.sort(key=_sort_key(query.sort), reverse=query.order == "desc")
    ordered = present + missing
    pages = max(1, math.ceil(len(ordered) / query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    return ordered, ordered[start : start + query.per_page], pages
