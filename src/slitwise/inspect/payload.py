"""What the browser receives: source data as JSON-ready dicts, 2D spectra as PNG, thumbnails.

Pure functions of products and arrays; the web layer (:mod:`slitwise.inspect.app`) only
routes. Arrays become lists with NaN as ``None`` (JSON has no NaN) and floats rounded to
6 significant digits (wavelengths 8, i.e. better than 1e-3 of a G395H pixel) to keep pages
small.
"""

from __future__ import annotations

import functools
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from slitwise.inspect.catalog import SourceEntry, percentile_rows
from slitwise.io.spec_product import read_spec
from slitwise.io.zfit_product import read_zfit

__all__ = ["jsonable", "spectrum_payload", "zfit_payload", "source_payload", "png_gray",
           "image_png", "thumbnail_svg"]  # fmt: skip

_THUMB_W, _THUMB_H = 160, 40


def jsonable(values, digits: int = 6) -> list:
    """A float array as a list with NaN/inf replaced by None, rounded to ``digits`` digits."""
    arr = np.asarray(values, dtype=float).ravel()
    fmt = f"{{:.{int(digits)}g}}"
    out = [float(fmt.format(v)) for v in arr.tolist()]
    bad = ~np.isfinite(arr)
    if bad.any():
        for i in np.flatnonzero(bad):
            out[i] = None
    return out


def _scalar(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


@functools.lru_cache(maxsize=64)
def _read_spec_cached(path: str, mtime: float):
    return read_spec(path)


@functools.lru_cache(maxsize=64)
def _read_zfit_cached(path: str, mtime: float):
    return read_zfit(path)


def load_spec(path: Path):
    """:func:`slitwise.io.spec_product.read_spec`, cached by path and modification time."""
    return _read_spec_cached(str(path), path.stat().st_mtime)


def load_zfit(path: Path):
    """:func:`slitwise.io.zfit_product.read_zfit`, cached by path and modification time."""
    return _read_zfit_cached(str(path), path.stat().st_mtime)


def spectrum_payload(product, config: str, relpath: str) -> dict:
    """The 1D spectrum of a ``SpecProduct`` (um, uJy) and its 2D wavelength axis."""
    spec = product.spectrum
    out = {
        "config": config,
        "grating": product.grating,
        "filter": product.filter,
        "file": relpath,
        "wave": jsonable(spec.wave.to_value("um"), 8),
        "flux": jsonable(np.where(spec.valid, spec.flux.value, np.nan)),
        "err": jsonable(np.where(spec.valid, spec.err.value, np.nan)),
        "has2d": product.sci is not None,
        "wave2d": None,
        "ny": 0,
    }
    if product.sci is not None:
        wave2d = product.wavelength
        if wave2d is None:
            wave2d = spec.wave.to_value("um") if spec.npix == product.sci.shape[1] else None
        elif wave2d.ndim == 2:
            with np.errstate(all="ignore"):
                wave2d = np.nanmedian(wave2d, axis=0)
        out["wave2d"] = None if wave2d is None else jsonable(wave2d, 8)
        out["ny"] = int(product.sci.shape[0])
        out["has2d"] = wave2d is not None
    return out


def zfit_payload(product, config: str, relpath: str) -> dict:
    """Redshift fit: summary numbers, model, chi2(z) and p(z)."""
    return {
        "config": config,
        "file": relpath,
        "zbest": _scalar(product.zbest),
        "zconf": _scalar(product.zconf),
        "zqual": int(product.zqual),
        "zwarn": int(product.zwarn),
        "warnings": [w.name for w in type(product.warnings) if w in product.warnings],
        "chi2min": _scalar(product.chi2min),
        "model": {"wave": jsonable(product.model_wave.to_value("um"), 8),
                  "flux": jsonable(product.model_flux.to_value("uJy"))},  # fmt: skip
        "z": jsonable(product.z, 8),
        "chi2": jsonable(product.chi2),
        "pz": jsonable(product.pz),
    }


def lines_payload(path: Path, relpath: str) -> dict:
    """Line-fit results: each line's flux and the line ratios when the file has them (DERIVED,
    RATIOS), then the PARAMS table (median and spread of each parameter); ``models``, the
    comparison of line models the fit was chosen from (MODELS), when there was one."""
    from astropy.io import fits
    from astropy.table import Table

    out: dict = {"file": relpath, "params": []}
    try:
        with fits.open(path, memmap=False) as hdul:
            params = Table(hdul["PARAMS"].data)
            units = {c.name: c.unit for c in hdul["PARAMS"].columns}
            for name, med, err, unit in percentile_rows(hdul, "DERIVED", "line", "flux"):
                out["params"].append({"name": f"F({name})", "unit": unit,
                                      "value": _scalar(med), "err": _scalar(err)})  # fmt: skip
            for name, med, err, unit in percentile_rows(hdul, "RATIOS", "ratio", "value"):
                out["params"].append({"name": name, "unit": unit,
                                      "value": _scalar(med), "err": _scalar(err)})  # fmt: skip
            if "MODELS" in hdul:  # the fit was chosen among several line models
                out["models"] = [
                    {"model": str(r["model"]), "criterion": str(r["criterion"]),
                     "delta": _scalar(r["delta"]), "err": _scalar(r["delta_err"]),
                     "chosen": bool(r["chosen"])}
                    for r in hdul["MODELS"].data
                ]  # fmt: skip
    except (OSError, KeyError, ValueError, TypeError) as exc:
        out["error"] = f"not readable ({exc.__class__.__name__})"
        return out
    pcol = next((c for c in params.colnames if c.lower() in ("percentile", "quantile")), None)
    for name in params.colnames:
        if name == pcol or not np.issubdtype(params[name].dtype, np.number):
            continue
        values = np.asarray(params[name], dtype=float)
        if pcol is not None:
            pct = np.asarray(params[pcol], dtype=float)
            pct = pct * 100 if np.nanmax(pct) <= 1 else pct
            pick = {p: values[np.isclose(pct, p)] for p in (16, 50, 84)}
            if any(v.size == 0 for v in pick.values()):
                continue
            med, lo, hi = pick[50][0], pick[16][0], pick[84][0]
        else:
            med, lo, hi = (np.nanpercentile(values, q) for q in (50, 16, 84))
        out["params"].append({"name": name, "unit": units.get(name) or "",
                              "value": _scalar(med), "err": _scalar((hi - lo) / 2)})  # fmt: skip
    return out


def source_payload(entry: SourceEntry, root: Path) -> dict:
    """Everything the source page plots, read from the source's products."""
    spectra, zfits, lines, problems = [], [], [], []
    for config, rel in sorted(entry.spec.items()):
        try:
            spectra.append(spectrum_payload(load_spec(root / rel), config, rel))
        except (OSError, ValueError) as exc:
            problems.append(f"{rel}: {exc}")
    for config, rel in sorted(entry.zfit.items()):
        try:
            zfits.append(zfit_payload(load_zfit(root / rel), config, rel))
        except (OSError, ValueError) as exc:
            problems.append(f"{rel}: {exc}")
    for rel in entry.lines:
        lines.append(lines_payload(root / rel, rel))
    return {
        "source_id": entry.source_id,
        "z_auto": entry.z_auto,
        "zconf": entry.zconf,
        "zwarn": entry.zwarn,
        "status": entry.status,
        "spectra": spectra,
        "zfits": zfits,
        "lines": lines,
        "problems": problems,
    }


# -- images ----------------------------------------------------------------------------
def png_gray(pixels: np.ndarray) -> bytes:
    """Encode a 2D uint8 array as a grayscale PNG (no dependencies beyond zlib)."""
    img = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = img.shape
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))  # fmt: skip


def image_png(sci: np.ndarray) -> bytes:
    """A 2D spectrum scaled for display (robust range, dark = low) as PNG, top row first."""
    data = np.asarray(sci, dtype=float)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return png_gray(np.zeros(data.shape, dtype=np.uint8))
    lo, hi = np.percentile(finite, [1.0, 99.5])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    img = np.clip((np.nan_to_num(data, nan=lo) - lo) * scale, 0, 255).astype(np.uint8)
    return png_gray(img[::-1])  # FITS row 0 at the bottom


def thumbnail_svg(wave: np.ndarray, flux: np.ndarray, *, width: int = _THUMB_W,
                  height: int = _THUMB_H) -> str:  # fmt: skip
    """A small SVG sparkline of a spectrum (binned to ``width`` points)."""
    wave = np.asarray(wave, dtype=float)
    flux = np.asarray(flux, dtype=float)
    ok = np.isfinite(wave) & np.isfinite(flux)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">')  # fmt: skip
    if ok.sum() < 2:
        return head + "</svg>"
    wave, flux = wave[ok], flux[ok]
    edges = np.linspace(wave.min(), wave.max(), width + 1)
    idx = np.clip(np.searchsorted(edges, wave, side="right") - 1, 0, width - 1)
    sums = np.bincount(idx, weights=flux, minlength=width)
    counts = np.bincount(idx, minlength=width)
    keep = counts > 0
    x = np.arange(width)[keep] + 0.5
    y = sums[keep] / counts[keep]
    lo, hi = np.percentile(y, [1, 99])
    hi = hi if hi > lo else lo + 1
    py = height - 2 - (np.clip(y, lo, hi) - lo) / (hi - lo) * (height - 4)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, py, strict=True))
    return (head + f'<polyline fill="none" stroke="#1f4e9c" stroke-width="1" '
            f'points="{points}"/></svg>')  # fmt: skip
