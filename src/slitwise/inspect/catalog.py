"""Index of the products in a run directory, one entry per source.

The index walks the directory (not following symbolic links, skipping hidden directories and
``.tmp-`` files), groups ``{root}_{grating}-{filter}_{source}.{kind}.fits`` files by source,
reads only the PRIMARY header of each ``zfit.fits`` (ZBEST, ZCONF, ZWARN, ZQUAL), and merges
the run's ``summary.ecsv`` when present. A refresh re-reads only files whose size or time
changed, so products that appear while a run is going are picked up cheaply.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from slitwise.errors import SlitwiseInputError, input_error
from slitwise.io.naming import ProductName, parse_product_filename

__all__ = ["SourceEntry", "ProductIndex", "read_primary_header", "SUMMARY_NAME", "line_snr"]

log = logging.getLogger(__name__)

SUMMARY_NAME = "summary.ecsv"
_KINDS = ("spec", "zfit", "lines")
_BLOCK = 2880


def read_primary_header(path: str | os.PathLike) -> fits.Header:
    """Read only the PRIMARY header of a FITS file (a few kB, no data, no HDU parsing)."""
    blocks = []
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            if len(block) < _BLOCK:
                raise input_error(path, "truncated FITS header (no END card)")
            blocks.append(block)
            for i in range(0, _BLOCK, 80):
                if block[i : i + 8] == b"END     ":
                    return fits.Header.fromstring(b"".join(blocks).decode("ascii", "replace"))
            if len(blocks) > 200:
                raise input_error(path, "no END card in the first 200 header blocks")


def _finite(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def percentile_rows(hdul, hdu: str, key: str, column: str) -> list[tuple]:
    """``(name, p50, half the 16-84 % range, unit)`` per row of table ``hdu`` whose ``column``
    holds (p16, p50, p84), as the DERIVED and RATIOS tables of a lines product do; [] when
    the file has no such table."""
    if hdu not in hdul or column not in hdul[hdu].columns.names:
        return []
    data = hdul[hdu].data
    values = np.asarray(data[column], dtype=float)
    if values.ndim != 2 or values.shape[1] != 3:
        return []
    unit = hdul[hdu].columns[column].unit or ""
    return [(str(name), v[1], (v[2] - v[0]) / 2, unit)
            for name, v in zip(data[key], values, strict=True)]  # fmt: skip


def line_snr(path: str | os.PathLike) -> float | None:
    """Largest flux S/N over the lines of a line-fit file (None when it cannot tell).

    A slitwise product: its DERIVED table's per-line flux percentiles (p16, p50, p84),
    S/N = p50 / ((p84 - p16) / 2). Otherwise the PARAMS table: every column whose name
    contains ``flux`` is a line flux; with a ``percentile`` column S/N is as above, else the
    rows are posterior samples and S/N = median / standard deviation.
    """
    try:
        with fits.open(path, memmap=False) as hdul:
            rows = percentile_rows(hdul, "DERIVED", "line", "flux")
            if rows:
                return _best_snr(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
            params = Table(hdul["PARAMS"].data)
    except (OSError, KeyError, ValueError, TypeError):
        return None
    names = [c for c in params.colnames if "flux" in c.lower()]
    pcol = next((c for c in params.colnames if c.lower() in ("percentile", "quantile")), None)
    meds, sigmas = [], []
    for name in names:
        values = np.asarray(params[name], dtype=float)
        if pcol is not None:
            pct = np.asarray(params[pcol], dtype=float)
            pct = pct * 100 if np.nanmax(pct) <= 1 else pct
            try:
                p16, p50, p84 = (values[np.isclose(pct, p)][0] for p in (16, 50, 84))
            except IndexError:
                continue
            meds.append(p50)
            sigmas.append((p84 - p16) / 2)
        else:
            values = values[np.isfinite(values)]
            meds.append(float(np.median(values)) if values.size else np.nan)
            sigmas.append(float(np.std(values)) if values.size > 1 else 0.0)
    return _best_snr(np.asarray(meds, float), np.asarray(sigmas, float))


def _best_snr(values: np.ndarray, sigmas: np.ndarray) -> float | None:
    """Largest finite ``values / sigmas`` over entries with a positive sigma, or None."""
    ok = np.isfinite(values) & np.isfinite(sigmas) & (sigmas > 0)
    if not ok.any():
        return None
    return float(np.max(values[ok] / sigmas[ok]))


@dataclasses.dataclass
class SourceEntry:
    """Everything the overview shows about one source (paths relative to the directory)."""

    source_id: str
    root: str = ""
    spec: dict[str, str] = dataclasses.field(default_factory=dict)  # "grating-filter" -> path
    zfit: dict[str, str] = dataclasses.field(default_factory=dict)
    lines: list[str] = dataclasses.field(default_factory=list)
    zfits: dict[str, dict[str, float | int | None]] = dataclasses.field(default_factory=dict)
    z_auto: float | None = None
    zconf: float | None = None
    zwarn: int | None = None
    zqual: int | None = None
    line_snr: float | None = None
    snr: float | None = None
    status: str = ""
    thumbnail: str = ""

    @property
    def gratings(self) -> list[str]:
        """The grating-filter configurations with any product, sorted."""
        return sorted(set(self.spec) | set(self.zfit))

    def as_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["gratings"] = self.gratings
        return out


class ProductIndex:
    """The products of a run directory grouped by source, refreshed on demand.

    Parameters
    ----------
    directory : str or path-like
        The run directory (``slitwise inspect DIR``).
    min_interval : float
        A :meth:`refresh` within this many seconds of the previous one does nothing.
    """

    def __init__(self, directory: str | os.PathLike, *, min_interval: float = 5.0) -> None:
        self.root = Path(directory).resolve()
        if not self.root.is_dir():
            raise input_error(directory, "not a directory")
        self.min_interval = float(min_interval)
        self._lock = threading.Lock()
        self._headers: dict[str, tuple[float, int, dict]] = {}
        self._sources: dict[str, SourceEntry] = {}
        self._files: set[str] = set()
        self._last = -math.inf
        self.refresh(force=True)

    # -- public ------------------------------------------------------------------------
    @property
    def sources(self) -> dict[str, SourceEntry]:
        """Source id -> entry, sorted by id (natural order: numbers numerically)."""
        return self._sources

    def files(self) -> set[str]:
        """Relative paths of every indexed file (what the app may serve)."""
        return self._files

    def refresh(self, *, force: bool = False) -> bool:
        """Re-scan the directory; return True when it was scanned."""
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return False
        with self._lock:
            t0 = time.perf_counter()
            found = self._scan()
            sources, files = self._group(found)
            self._merge_summary(sources, files)
            self._sources = dict(sorted(sources.items(), key=lambda kv: _natural(kv[0])))
            self._files = files
            self._last = time.monotonic()
            log.debug("indexed %d sources in %.3f s", len(sources), time.perf_counter() - t0)
        return True

    def resolve(self, relpath: str) -> Path | None:
        """Absolute path of an indexed file, or None if ``relpath`` is not one of them."""
        if relpath not in self._files:
            return None
        path = (self.root / relpath).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    # -- internals ---------------------------------------------------------------------
    def _scan(self) -> list[tuple[str, os.stat_result]]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith(".") or not (name.endswith(".fits") or name == SUMMARY_NAME
                                                or name.endswith(".png")):  # fmt: skip
                    continue
                full = os.path.join(dirpath, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                if os.path.islink(full) and not Path(full).resolve().is_relative_to(self.root):
                    continue
                found.append((os.path.relpath(full, self.root).replace(os.sep, "/"), st))
        return found

    def _facts(self, rel: str, st: os.stat_result, kind: str) -> dict:
        cached = self._headers.get(rel)
        if cached and cached[0] == st.st_mtime and cached[1] == st.st_size:
            return cached[2]
        facts: dict = {}
        try:
            if kind == "zfit":
                hdr = read_primary_header(self.root / rel)
                facts = {
                    "zbest": _finite(hdr.get("ZBEST")),
                    "zconf": _finite(hdr.get("ZCONF")),
                    "zwarn": int(hdr["ZWARN"]) if "ZWARN" in hdr else None,
                    "zqual": int(hdr["ZQUAL"]) if "ZQUAL" in hdr else None,
                }
            elif kind == "lines":
                hdr = read_primary_header(self.root / rel)
                facts = {"line_snr": line_snr(self.root / rel),
                         "source": str(hdr.get("SRCNAME", "")).strip()}  # fmt: skip
        except (OSError, SlitwiseInputError, ValueError) as exc:
            log.warning("%s: skipped (%s)", rel, exc)
            facts = {"bad": True}
        self._headers[rel] = (st.st_mtime, st.st_size, facts)
        return facts

    def _group(self, found) -> tuple[dict[str, SourceEntry], set[str]]:
        sources: dict[str, SourceEntry] = {}
        files: set[str] = set()
        for rel, st in found:
            base = rel.rsplit("/", 1)[-1]
            if base == SUMMARY_NAME or base.endswith(".png"):
                files.add(rel)
                continue
            try:
                name = parse_product_filename(base)
            except SlitwiseInputError:
                name = self._lines_name(rel, st, base)
                if name is None:
                    continue
            if name.kind not in _KINDS:
                continue
            facts = self._facts(rel, st, name.kind)
            if facts.get("bad"):
                continue
            files.add(rel)
            entry = sources.setdefault(name.source, SourceEntry(name.source, root=name.root))
            config = f"{name.grating}-{name.filter}"
            if name.kind == "spec":
                entry.spec[config] = rel
            elif name.kind == "zfit":
                entry.zfit[config] = rel
                entry.zfits[config] = facts
            else:
                entry.lines.append(rel)
                snr = facts.get("line_snr")
                if snr is not None and (entry.line_snr is None or snr > entry.line_snr):
                    entry.line_snr = snr
        for entry in sources.values():
            best = None
            for facts in entry.zfits.values():
                key = (facts.get("zconf") or 0.0, facts.get("zqual") or -1)
                if facts.get("zbest") is not None and (best is None or key > best[0]):
                    best = (key, facts)
            if best is not None:
                facts = best[1]
                entry.z_auto, entry.zconf = facts["zbest"], facts["zconf"]
                entry.zwarn, entry.zqual = facts["zwarn"], facts["zqual"]
        return sources, files

    def _lines_name(self, rel: str, st: os.stat_result, base: str) -> ProductName | None:
        """A joint line fit may be named without grating (``{root}_{source}.lines.fits``):
        its source then comes from the SRCNAME keyword."""
        if not base.endswith(".lines.fits"):
            return None
        source = self._facts(rel, st, "lines").get("source")
        if not source:
            return None
        return ProductName(base.split("_")[0], "multi", "any", source, "lines")

    def _merge_summary(self, sources: dict[str, SourceEntry], files: set[str]) -> None:
        path = self.root / SUMMARY_NAME
        if not path.is_file():
            return
        try:
            st = path.stat()
            cached = self._headers.get(SUMMARY_NAME)
            if cached and cached[0] == st.st_mtime and cached[1] == st.st_size:
                table = cached[2]["table"]
            else:
                table = Table.read(path, format="ascii.ecsv")
                self._headers[SUMMARY_NAME] = (st.st_mtime, st.st_size, {"table": table})
        except (OSError, ValueError) as exc:
            log.warning("%s: not read (%s)", path, exc)
            return
        key = next((c for c in ("source_id", "source") if c in table.colnames), None)
        if key is None:
            log.warning("%s: no source_id or source column; ignored", path)
            return
        cols = set(table.colnames)
        for row in table:
            sid = str(row[key])
            entry = sources.get(sid)
            if entry is None:  # listed in the summary (e.g. failed) but without products
                entry = sources[sid] = SourceEntry(sid)
            if "status" in cols:
                entry.status = str(row["status"])
            if entry.z_auto is None and "z" in cols:
                entry.z_auto = _finite(row["z"])
                if "zconf" in cols:
                    entry.zconf = _finite(row["zconf"])
            if entry.zwarn is None:
                for col in ("zwarn", "flags"):
                    if col in cols and _finite(row[col]) is not None:
                        entry.zwarn = int(row[col])
                        break
            if "snr" in cols:
                entry.snr = _finite(row["snr"])
            if entry.line_snr is None:
                for col in ("line_snr", "snr_line", "max_line_snr"):
                    if col in cols:
                        entry.line_snr = _finite(row[col])
            if "thumbnail" in cols and str(row["thumbnail"]).strip():
                thumb = str(row["thumbnail"]).strip()
                if thumb in files:
                    entry.thumbnail = thumb


def _natural(text: str) -> tuple:
    """Sort key putting '2' before '10' and numbers before names."""
    parts = []
    for chunk in _split_digits(text):
        parts.append((0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk))
    return tuple(parts)


def _split_digits(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        if cur and ch.isdigit() != cur[-1].isdigit():
            out.append(cur)
            cur = ""
        cur += ch
    if cur:
        out.append(cur)
    return out
