"""Serving the inspection app with werkzeug's threaded WSGI server."""

from __future__ import annotations

import ipaddress
import logging
import os
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from slitwise.errors import input_error
from slitwise.inspect.app import create_app

__all__ = ["make_inspect_server", "serve", "start_in_thread", "DEFAULT_HOST", "DEFAULT_PORT"]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_inspect_server(
    directory: str | os.PathLike,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db_path: str | os.PathLike | None = None,
    **app_options,
) -> BaseWSGIServer:
    """Build a threaded server for the app over ``directory`` (port 0 picks a free port).

    Binding to a non-loopback ``host`` exposes the grades to the network; the ``Host`` header
    check then also accepts that address.
    """
    if not 0 <= int(port) <= 65535:
        raise input_error("--port", f"{port}; expected 0-65535")
    hosts = ("127.0.0.1", "localhost", "[::1]")
    if not _is_loopback(host):
        log.warning("listening on %s: anyone who can reach this address can grade", host)
        hosts = (*hosts, host)
    app = create_app(directory, db_path=db_path, allowed_hosts=hosts, **app_options)
    try:
        server = make_server(host, int(port), app, threaded=True)
    except OSError as exc:
        where = f"--host {host} --port {port}"
        raise input_error(where, f"cannot listen ({exc.strerror})") from exc
    server.daemon_threads = True
    return server


def start_in_thread(server: BaseWSGIServer) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread (stop with ``server.shutdown()``)."""
    thread = threading.Thread(target=server.serve_forever, name="slitwise-inspect", daemon=True)
    thread.start()
    return thread


def serve(directory: str | os.PathLike, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          db_path: str | os.PathLike | None = None) -> None:  # fmt: skip
    """Serve the app until interrupted, printing its address."""
    server = make_inspect_server(directory, host=host, port=port, db_path=db_path)
    shown = f"[{host}]" if ":" in host else host
    info = server.app.extensions["slitwise"]
    print(f"slitwise inspect: {len(info['index'].sources)} sources in {info['index'].root}")
    print(f"slitwise inspect: grades in {info['db']}")
    print(f"slitwise inspect: open http://{shown}:{server.server_port}/  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
