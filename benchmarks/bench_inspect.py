"""Benchmark of ``slitwise inspect`` on a directory of simulated products.

Writes N synthetic sources (spec.fits + zfit.fits each, default 1,000) and measures:

- the cold product index (walk + PRIMARY headers of every zfit.fits + summary.ecsv);
- HTTP time of the overview page (50 rows, and all N rows on one page) and of the JSON listing;
- in headless Chromium (when /usr/bin/chromium and playwright are present), the time from
  navigation to the ``load`` event of the overview, including the thumbnails it shows;
- the source page's data request.

Ratios are against a baseline measured in the same run: the HTTP round trip of a small static
file from the same server (what any page costs at least). Run::

    .venv/bin/python benchmarks/bench_inspect.py [--n 1000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from slitwise.inspect.catalog import ProductIndex
from slitwise.inspect.server import make_inspect_server, start_in_thread
from slitwise.inspect.synthetic import write_synthetic_run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of sources")
    parser.add_argument("--dir", default=None, help="reuse/keep products in this directory")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = None
    if args.dir:
        root = Path(args.dir)
    else:
        tmp = tempfile.mkdtemp(prefix="bench_inspect_")
        root = Path(tmp)
    try:
        if not any(root.glob("*.zfit.fits")):
            t0 = time.perf_counter()
            write_synthetic_run(root, args.n, seed=1, configs=("prism-clear",), ny=11)
            print(f"wrote {args.n} sources ({2 * args.n} products) in "
                  f"{time.perf_counter() - t0:.1f} s")
        n_files = len(list(root.glob("*.fits")))
        t0 = time.perf_counter()
        index = ProductIndex(root)
        cold = time.perf_counter() - t0
        print(f"products: {n_files} files, {len(index.sources)} sources")
        print(f"cold index (walk + {len(index.sources)} zfit headers + summary): {cold:.3f} s")

        server = make_inspect_server(root, port=0, db_path=root / "bench.sqlite")
        start_in_thread(server)
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            mid = 1000 + args.n // 2
            _get(base + "/")  # warm: first request refreshes nothing (index just built)
            rows = {
                "baseline: GET /static/style.css": base + "/static/style.css",
                "GET / (overview, 50 rows)": base + "/",
                f"GET /?per_page=1000 ({min(args.n, 1000)} rows)": base + "/?per_page=1000",
                "GET /api/sources?per_page=1000 (JSON)": base + "/api/sources?per_page=1000",
                "GET /?sort=z_auto&order=desc&zmin=2&zmax=6": base + "/?sort=z_auto&order=desc"
                "&zmin=2&zmax=6",
                "GET /api/source/<middle one> (source data)": f"{base}/api/source/{mid}",
            }
            results = {name: _best(lambda u=url: _get(u)) for name, url in rows.items()}
            ref = results["baseline: GET /static/style.css"][0]
            print(f"\n{'request':52s} {'best ms':>8s} {'median':>8s} {'x baseline':>10s}")
            for name, (best, med) in results.items():
                print(f"{name:52s} {best * 1e3:8.1f} {med * 1e3:8.1f} {best / ref:10.1f}")
            _browser(base, args.n)
        finally:
            server.shutdown()
            server.server_close()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _browser(base: str, n: int) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\n(browser timing skipped: playwright not installed)")
        return
    if not CHROMIUM.exists():
        print(f"\n(browser timing skipped: {CHROMIUM} missing)")
        return
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        print(f"\n{'in Chromium (navigation start -> load event)':52s} {'best ms':>8s} "
              f"{'median':>8s}")
        for label, path in (("overview, 50 rows + thumbnails", "/"),
                            (f"overview, {min(n, 1000)} rows + visible thumbnails",
                             "/?per_page=1000"),
                            ("static file (baseline)", "/static/style.css"),
                            ("source page until plots drawn", f"/source/{1000 + n // 2}")):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                page.goto(base + path, wait_until="load")
                if path.startswith("/source"):
                    page.wait_for_selector('body[data-ready="1"]')
                times.append(time.perf_counter() - t0)
            print(f"{label:52s} {min(times) * 1e3:8.1f} {statistics.median(times) * 1e3:8.1f}")
        browser.close()


if __name__ == "__main__":
    main()
