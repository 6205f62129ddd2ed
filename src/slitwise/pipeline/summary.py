"""Run summary: ``summary.ecsv`` (one row per extracted source) and ``index.html``."""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from slitwise.io.atomic import atomic_path

__all__ = ["summary_table", "write_summary", "SUMMARY_NAME", "INDEX_NAME"]

log = logging.getLogger(__name__)

SUMMARY_NAME = "summary.ecsv"
INDEX_NAME = "index.html"

_COLUMNS = {
    "source": (str, "source name (serendipitous sources have their own row)"),
    "unit": (str, "primary source of the slitlet this source was found in"),
    "slitlet": (int, "slitlet id"),
    "status": (str, "ok / skipped (already done) / failed"),
    "serendip": (bool, "True for a secondary source found in the slitlet"),
    "gratings": (str, "dispersers with a spec.fits product"),
    "z": (float, "best redshift (highest-confidence zfit over the source's dispersers)"),
    "zconf": (float, "fraction of p(z) within |dz| <= 0.03 of z"),
    "zwarn": (int, "zfit warning bitmask (0 = none)"),
    "snr": (float, "median per-pixel S/N of the best spectrum"),
    "line_model": (str, "line model chosen among the configured ones (empty: only one)"),
    "products": (str, "product files, comma separated, relative to the output directory"),
    "thumbnail": (str, "PNG of the source"),
    "error": (str, "failure message when status is failed"),
}


def summary_table(run) -> Table:
    """Build the summary table from a :class:`~slitwise.pipeline.runner.RunResult`."""
    rows = []
    line_cols = sorted({k for res in run.results for rec in res.records
                        for k in rec if k.startswith(("flux_", "fluxerr_"))})  # fmt: skip
    for res in run.results:
        all_products = sorted({p for prods in res.products.values() for p in prods})
        for rec in res.records:
            name = str(rec.get("source", res.unit_key))
            mine = [p for p in all_products if f"_{name}." in os.path.basename(p)]
            row = {
                "source": name,
                "unit": res.unit_key,
                "slitlet": int(rec.get("slitlet", 0)),
                "status": res.status,
                "serendip": bool(rec.get("serendip", False)),
                "gratings": ",".join(rec.get("gratings", [])),
                "z": float(rec.get("z", np.nan)),
                "zconf": float(rec.get("zconf", np.nan)),
                "zwarn": int(rec.get("zwarn", -1)),
                "snr": float(rec.get("snr", np.nan)),
                "line_model": str(rec.get("line_model", "")),
                "products": ",".join(mine or all_products),
                "thumbnail": str(rec.get("thumbnail", "")),
                "error": res.error,
            }
            for col in line_cols:
                row[col] = float(rec.get(col, np.nan))
            rows.append(row)
    names = list(_COLUMNS) + line_cols
    tab = Table(
        rows=[[r[c] for c in names] for r in rows] or None,
        names=names,
        dtype=[_COLUMNS[c][0] for c in _COLUMNS] + [float] * len(line_cols),
    )
    for name, (_, doc) in _COLUMNS.items():
        tab[name].description = doc
    for name in line_cols:
        tab[name].unit = "1e-18 erg / (s cm2)"
        tab[name].description = "line flux from the joint line fit"
    tab.sort("source")
    return tab


def _html_index(tab: Table, title: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("thumbnail", *_COLUMNS))
    body = []
    for row in tab:
        cells = []
        thumb = str(row["thumbnail"])
        img = f'<a href="{html.escape(thumb)}"><img src="{html.escape(thumb)}" width="320"></a>'
        cells.append(f"<td>{img if thumb else ''}</td>")
        for col in _COLUMNS:
            value = row[col]
            if col == "products":
                links = [
                    f'<a href="{html.escape(p)}">{html.escape(os.path.basename(p))}</a>'
                    for p in str(value).split(",")
                    if p
                ]
                text = "<br>".join(links)
            elif isinstance(value, float | np.floating):
                text = "" if not np.isfinite(value) else f"{value:.4f}"
            else:
                text = html.escape(str(value))
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px;font-size:13px;vertical-align:top}"
        "tr.failed{background:#fdd}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(tab)} sources</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "</body></html>"
    )


def write_summary(run, cfg) -> Path:
    """Write ``summary.ecsv`` and ``index.html`` into the run's output directory."""
    out_dir = Path(run.output_dir)
    tab = summary_table(run)
    path = out_dir / SUMMARY_NAME
    with atomic_path(path) as tmp:
        tab.write(tmp, format="ascii.ecsv", overwrite=True)
    with atomic_path(out_dir / INDEX_NAME) as tmp:
        tmp.write_text(_html_index(tab, f"slitwise run: {cfg.run.root}"))
    log.info("wrote %s and %s", path, out_dir / INDEX_NAME)
    return path
