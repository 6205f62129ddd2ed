"""The Flask application: overview, source pages, grading API, export/import, file serving.

Security model (a local tool that may be reached by a hostile web page in the same browser):

- it listens on 127.0.0.1 unless told otherwise (see :mod:`slitwise.inspect.server`);
- requests whose ``Host`` header is not one of the served names are refused (403), which
  defeats DNS-rebinding pages;
- every state-changing request (POST) needs the per-process CSRF token, sent in the
  ``X-CSRF-Token`` header (or the ``csrf_token`` form field) and compared in constant time; a
  request with a foreign ``Origin`` is refused as well;
- only files found by the product index inside DIR are served (no path is ever joined from
  user input), so traversal attempts get 404;
- every input is validated before anything is written; pages carry a strict
  Content-Security-Policy (scripts from this server only, no inline script).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from slitwise.errors import SlitwiseInputError
from slitwise.inspect.catalog import ProductIndex
from slitwise.inspect.exchange import grades_table, import_grades, write_grades_ecsv
from slitwise.inspect.exchange import write_merged_summary as _write_merged_summary
from slitwise.inspect.linelist import marker_lines
from slitwise.inspect.listing import ListQuery, overview_rows, parse_query, select
from slitwise.inspect.payload import image_png, load_spec, source_payload, thumbnail_svg
from slitwise.inspect.store import (
    GRADE_LABELS,
    MAX_COMMENT,
    MAX_INSPECTOR,
    Z_RANGE,
    GradeStore,
    validate_grade,
)

__all__ = ["create_app", "DEFAULT_DB_NAME"]

log = logging.getLogger(__name__)

#: Name of the grade database inside DIR when ``--db`` is not given.
DEFAULT_DB_NAME = "inspect_grades.sqlite"
_HERE = Path(__file__).parent
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def create_app(
    directory: str | os.PathLike,
    *,
    db_path: str | os.PathLike | None = None,
    allowed_hosts: tuple[str, ...] = _LOOPBACK,
    csrf_token: str | None = None,
    refresh_interval: float = 5.0,
) -> Flask:
    """Build the inspection app over the products in ``directory``.

    Parameters
    ----------
    directory : str or path-like
        Run directory (``{root}_{grating}-{filter}_{source}.{kind}.fits`` products, and
        ``summary.ecsv`` when present).
    db_path : str or path-like, optional
        SQLite grade database (default ``DIR/inspect_grades.sqlite``).
    allowed_hosts : tuple of str
        Host names (without port) accepted in the ``Host`` header.
    csrf_token : str, optional
        Token for state-changing requests (default: random per process).
    refresh_interval : float
        Seconds between re-scans of the directory for new products.

    Returns
    -------
    Flask
        The application; ``app.extensions["slitwise"]`` holds the index and the store.
    """
    index = ProductIndex(directory, min_interval=refresh_interval)
    db = Path(db_path) if db_path is not None else index.root / DEFAULT_DB_NAME
    store = GradeStore(db)
    app = Flask(
        "slitwise.inspect",
        static_folder=str(_HERE / "static"),
        template_folder=str(_HERE / "templates"),
    )
    app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024
    app.url_map.merge_slashes = False  # "/files//etc/passwd" is a 404, not a redirect
    app.json.sort_keys = False
    token = csrf_token or secrets.token_urlsafe(32)
    hosts = {h.lower() for h in allowed_hosts}
    app.extensions["slitwise"] = {"index": index, "store": store, "csrf": token, "db": db}

    def is_api() -> bool:
        return request.path.startswith("/api/") or request.path.endswith(".ecsv")

    @app.errorhandler(SlitwiseInputError)
    def _bad_input(exc: SlitwiseInputError):
        if is_api() or request.method == "POST":
            return jsonify({"ok": False, "error": str(exc)}), 400
        return render_template("error.html", status=400, message=str(exc), csrf_token=""), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if is_api() or request.method == "POST":
            return jsonify({"ok": False, "error": exc.description}), exc.code
        # error pages never carry the token (a refused Host must not learn it)
        page = render_template("error.html", status=exc.code, message=exc.description,
                               csrf_token="")  # fmt: skip
        return page, exc.code

    @app.before_request
    def _guard():
        host = (request.host or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in hosts:
            abort(403, f"host '{host[:60]}' not served; use one of {', '.join(sorted(hosts))}")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                abort(403, "cross-origin request refused")
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not hmac.compare_digest(str(sent).encode(), token.encode()):
                abort(403, "missing or wrong CSRF token; reload the page")

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = _CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.path.startswith("/api/") or request.path == "/":
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.context_processor
    def _globals():
        return {"csrf_token": token, "grade_labels": GRADE_LABELS, "directory": index.root.name}

    def rows_for(query: ListQuery):
        index.refresh()
        rows = overview_rows(index.sources, store.latest_by_source())
        return select(rows, query)

    # -- pages ---------------------------------------------------------------------------
    @app.get("/")
    def overview():
        query = parse_query(request.args)
        ordered, page_rows, pages = rows_for(query)
        page = min(query.page, pages)
        return render_template(
            "overview.html", rows=page_rows, query=query, page=page, pages=pages,
            total=len(index.sources), matching=len(ordered), counts=store.counts(),
            sort_keys=("source_id", "gratings", "z_auto", "zconf", "zwarn", "grade", "z_vi",
                       "line_snr", "snr"),
        )  # fmt: skip

    @app.get("/source/<sid>")
    def source_page(sid: str):
        query = parse_query(request.args)
        entry = index.sources.get(sid)
        if entry is None:
            index.refresh(force=True)
            entry = index.sources.get(sid)
            if entry is None:
                abort(404, f"source '{sid[:80]}' not found")
        ordered, _, _ = rows_for(query)
        ids = [r["source_id"] for r in ordered]
        pos = ids.index(sid) if sid in ids else -1
        prev_id = ids[pos - 1] if pos > 0 else None
        next_id = ids[pos + 1] if 0 <= pos < len(ids) - 1 else None
        params = query.params(page=1)
        return render_template(
            "source.html", entry=entry, prev_id=prev_id, next_id=next_id, params=params,
            position=pos + 1, count=len(ids), z_range=Z_RANGE, max_comment=MAX_COMMENT,
            max_inspector=MAX_INSPECTOR, back=url_for("overview", **query.params()),
        )  # fmt: skip

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)

    # -- data ----------------------------------------------------------------------------
    @app.get("/api/sources")
    def api_sources():
        query = parse_query(request.args)
        ordered, page_rows, pages = rows_for(query)
        return jsonify({"total": len(index.sources), "matching": len(ordered), "pages": pages,
                        "rows": page_rows})  # fmt: skip

    def entry_or_404(sid: str):
        entry = index.sources.get(sid)
        if entry is None:
            abort(404, f"source '{sid[:80]}' not found")
        return entry

    @app.get("/api/source/<sid>")
    def api_source(sid: str):
        entry = entry_or_404(sid)
        data = source_payload(entry, index.root)
        data["grades"] = [g.as_dict() for g in store.grades(sid)]
        data["history"] = store.history(sid)
        data["linelist"] = marker_lines()
        return jsonify(data)

    @app.get("/api/source/<sid>/2d/<config>.png")
    def api_2d(sid: str, config: str):
        entry = entry_or_404(sid)
        rel = entry.spec.get(config)
        if rel is None:
            abort(404, "no such spectrum")
        product = load_spec(index.root / rel)
        if product.sci is None:
            abort(404, "no 2D spectrum in this product")
        return Response(image_png(product.sci), mimetype="image/png")

    @app.get("/thumb/<sid>.svg")
    def thumbnail(sid: str):
        entry = entry_or_404(sid)
        if not entry.spec:
            return Response(thumbnail_svg([], []), mimetype="image/svg+xml")
        config = "prism-clear" if "prism-clear" in entry.spec else sorted(entry.spec)[0]
        spec = load_spec(index.root / entry.spec[config]).spectrum
        svg = thumbnail_svg(spec.wave.value, spec.flux.value * spec.valid)
        resp = Response(svg, mimetype="image/svg+xml")
        resp.headers["Cache-Control"] = "max-age=60"
        return resp

    @app.get("/api/history/<sid>")
    def api_history(sid: str):
        return jsonify({"source_id": sid, "history": store.history(sid)})

    @app.get("/files/<path:relpath>")
    def files(relpath: str):
        path = index.resolve(relpath)
        if path is None:
            index.refresh()
            path = index.resolve(relpath)
        if path is None:
            abort(404, "not a product of this directory")
        from flask import send_file

        return send_file(path, as_attachment=not relpath.endswith(".png"))

    # -- state changes -------------------------------------------------------------------
    @app.post("/api/grade")
    def api_grade():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, "expected a JSON object")
        unknown = set(body) - {"source_id", "grade", "z_vi", "comment", "inspector"}
        if unknown:
            abort(400, f"unknown field(s): {', '.join(sorted(unknown))[:100]}")
        record = validate_grade(body.get("source_id"), body.get("inspector"), body.get("grade"),
                                body.get("z_vi"), body.get("comment", ""))  # fmt: skip
        if record.source_id not in index.sources:
            abort(404, f"source '{record.source_id[:80]}' not found")
        store.set_grade(record, origin="web")
        grades = [g.as_dict() for g in store.grades(record.source_id)]
        return jsonify({"ok": True, "record": record.as_dict(), "grades": grades})

    @app.get("/export.ecsv")
    def export():
        z_auto = {sid: e.z_auto for sid, e in index.sources.items()}
        text = write_grades_ecsv(grades_table(store, z_auto))
        return Response(text, mimetype="text/plain; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{index.root.name}_grades.ecsv"'})

    @app.post("/import")
    def import_ecsv():
        upload = request.files.get("file")
        if upload is None:
            abort(400, "no file uploaded (form field 'file')")
        applied, skipped = import_grades(store, upload.read(), where=upload.filename or "upload")
        if request.accept_mimetypes.best == "application/json":
            return jsonify({"ok": True, "applied": applied, "skipped": skipped})
        return redirect(url_for("overview", imported=f"{applied}/{applied + skipped}"))

    @app.post("/api/merge-summary")
    def merge_summary():
        path = _write_merged_summary(index.root, store)
        return jsonify({"ok": True, "file": path.name})

    return app
