"""Extraction stage: read cut-out files, extract, write ``spec.fits`` products and PNGs.

Thin shell around :func:`slitwise.extract.extract_source` (cut-outs) and
:func:`slitwise.extract.optimal_extract` (JWST ``s2d`` files): all I/O, configuration and
logging live here; the science is in the library functions.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from slitwise.errors import input_error
from slitwise.extract.figure import plot_extraction
from slitwise.extract.optimal import fit_rectified_profile, optimal_extract
from slitwise.extract.products import extract_source
from slitwise.extract.source import ExtractOptions
from slitwise.io.naming import product_filename
from slitwise.io.slitlet import read_slitlet
from slitwise.io.spec_product import SpecProduct, write_spec

__all__ = [
    "extract_unit",
    "extract_files",
    "extract_s2d_file",
    "extract_ground_unit",
    "product_from_rectified",
    "is_s2d",
]

log = logging.getLogger(__name__)


def is_s2d(path: str | os.PathLike) -> bool:
    """True for a JWST ``s2d`` product (rectified; no WAVELENGTH/DQ cut-out layout)."""
    try:
        with fits.open(path, memmap=False) as hdul:
            names = {h.name for h in hdul}
            model = str(hdul[0].header.get("DATAMODL", "")).upper()
    except (OSError, ValueError) as exc:
        raise input_error(path, f"not a readable FITS file ({exc.__class__.__name__})") from exc
    return "s2d" in os.path.basename(str(path)).lower() or (
        "WHT" in names and "DQ" not in names and "MULTISLIT" in model
    ) or ("WHT" in names and "WAVELENGTH" not in names and "DQ" not in names)


def _override_maps(files, overrides):
    stuck, background, exclude = {}, {}, set()
    for i, f in enumerate(files):
        for o in (overrides or {}).get(f, []) or []:
            if getattr(o, "exclude", False):
                exclude.add(i)
            if getattr(o, "stuck_shutters", ()):
                stuck[i] = tuple(o.stuck_shutters)
            if getattr(o, "background_exposures", ()):
                background[i] = tuple(o.background_exposures)
    return stuck, background, exclude


def extract_unit(
    files: list[str | os.PathLike],
    *,
    out_dir: str | os.PathLike,
    root: str = "slitwise",
    options: Any = None,
    overrides: dict[str, list] | None = None,
    do_nodsub: bool = True,
    do_combine: bool = True,
    plots: bool = True,
) -> dict[str, Any]:
    """Extract the cut-outs of one slitlet (all dispersers) and write the products.

    Parameters
    ----------
    files : list of path-like
        Cut-out files of one slitlet (``read_slitlet`` layout).
    out_dir : path-like
        Directory for the products.
    root : str
        File-name prefix (``{root}_{grating}-{filter}_{source}.spec.fits``).
    options : ExtractOptions or pipeline ``ExtractConfig``, optional
        Extraction options (matching attributes are used).
    overrides : dict, optional
        File name -> list of per-observation overrides (objects with ``stuck_shutters``,
        ``background_exposures``, ``exclude``).
    do_nodsub : bool
        Nod-subtract (otherwise only a local background measured in each exposure).
    do_combine : bool
        Combine the nod groups of one disperser into one product.
    plots : bool
        Write one PNG beside each product.

    Returns
    -------
    dict
        ``products``: written file names relative to ``out_dir``; ``records``: one summary
        record per source and disperser (source, serendip, gratings, snr, thumbnail).
    """
    out_dir = Path(out_dir)
    files = [str(f) for f in files]
    opt = options if isinstance(options, ExtractOptions) else ExtractOptions.from_config(options)
    if not do_nodsub:
        opt = dataclasses.replace(opt, background="local")
    stuck, background, exclude = _override_maps(files, overrides)
    keep = [i for i in range(len(files)) if i not in exclude]
    exposures = [read_slitlet(files[i]) for i in keep]
    remap = {i: k for k, i in enumerate(keep)}
    stuck = {remap[i]: v for i, v in stuck.items() if i in remap}
    background = {remap[i]: v for i, v in background.items() if i in remap}
    extracted = extract_source(
        exposures, options=opt, stuck_shutters=stuck, background_overrides=background,
        combine=do_combine, details=True,
    )  # fmt: skip
    products, records = [], []
    by_source: dict[str, dict[str, Any]] = defaultdict(dict)
    for item in extracted:
        prod = item.product
        name = product_filename(root, prod.grating, prod.filter, prod.source, "spec")
        write_spec(prod, out_dir / name)
        products.append(name)
        thumb = ""
        if plots:
            png = name.replace(".spec.fits", ".spec.png")
            plot_extraction(item, out_dir / png)
            products.append(png)
            thumb = png
        rec = by_source[prod.source]
        rec.setdefault("source", prod.source)
        rec["serendip"] = bool(item.result.serendip)
        rec.setdefault("gratings", []).append(prod.grating.lower() + "-" + prod.filter.lower())
        snr = item.result.snr
        rec["snr"] = max(rec.get("snr", -np.inf), snr) if np.isfinite(snr) else rec.get("snr")
        rec.setdefault("thumbnail", thumb)
        log.info("wrote %s (median S/N %.1f)", name, snr)
    records = list(by_source.values())
    return {"products": products, "records": records}


def product_from_rectified(
    rect,
    *,
    source: str,
    grating: str,
    filter: str,
    variance: str = "err",
    sigma_clip: float = 5.0,
    profile: str = "gaussian",
    y0: float | None = None,
    boxcar_widths: tuple[int, ...] = (3, 4, 5),
    extraction: dict | None = None,
    meta: dict | None = None,
    exposures: Table | None = None,
    resolution: np.ndarray | None = None,
) -> SpecProduct:
    """Fit the trace, extract (optimal and boxcars) a rectified 2D and build its product.

    ``rect.to_fnu`` converts a sum over rows to uJy; ``y0`` (row index) seeds the trace.
    """
    from slitwise.extract.boxcar import boxcar_extract
    from slitwise.extract.profile import profile_values
    from slitwise.spectra import FNU_UNIT

    trace = fit_rectified_profile(rect, kind=profile, y0=y0)
    spec, prof = optimal_extract(rect, profile=trace, variance=variance, sigma_clip=sigma_clip)
    if resolution is not None:
        spec = dataclasses.replace(spec, resolution=np.asarray(resolution, float))
    to_fnu = np.broadcast_to(np.asarray(rect.to_fnu, dtype=float), rect.wave.shape)
    ny, nx = rect.shape
    rows = np.arange(ny, dtype=float)
    centre = trace.centre(np.arange(nx), 0)
    boxes = {}
    for w in boxcar_widths:
        bf, bv = boxcar_extract(rect.sci, rect.var, rows, width=w, centre=centre, profile=prof)
        boxes[w] = (bf * to_fnu * FNU_UNIT, np.sqrt(bv) * to_fnu * FNU_UNIT)
    dy = rows[:, None] - centre[None, :]
    mean_prof = np.nanmean(profile_values(dy, np.broadcast_to(trace.sigma(rect.wave), (ny, nx))),
                           axis=1)  # fmt: skip
    return SpecProduct(
        spectrum=spec,
        source=source,
        grating=grating,
        filter=filter,
        boxcar=boxes,
        sci=rect.sci,
        err=np.sqrt(rect.var),
        wavelength=rect.wave,
        wht=rect.wht,
        bunit=rect.bunit or "",
        profiles=Table({"y": rows, "weight_optimal": mean_prof / np.nansum(mean_prof)}),
        meta={"PROFKIND": trace.kind, **(meta or {})},
        exposures=exposures,
        extraction={"EXTMETH": "optimal",
                    "PROFSIG": float(np.nanmedian(trace.sigma(rect.wave))),
                    "YTRACE": float(np.nanmedian(centre)), **(extraction or {})},  # fmt: skip
    )


def extract_s2d_file(
    path: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    root: str = "slitwise",
    variance: str = "err",
    sigma_clip: float = 5.0,
    profile: str = "gaussian",
) -> Path:
    """Optimal extraction of a JWST ``s2d`` file into a ``spec.fits`` product."""
    from slitwise.io.readers.jwst import read_s2d

    rect = read_s2d(path)
    meta = rect.meta
    grating = str(meta.get("grating", "")).upper()
    filt = str(meta.get("filter", "")).upper()
    source = str(meta.get("srcname") or meta.get("SRCNAME") or meta.get("source_name")
                 or Path(path).stem)  # fmt: skip
    source = source.replace(" ", "_").replace("/", "_")
    prod = product_from_rectified(
        rect, source=source, grating=grating, filter=filt, variance=variance,
        sigma_clip=sigma_clip, profile=profile, extraction={"BKGMETH": "pipeline"},
    )  # fmt: skip
    out = Path(out_dir) / product_filename(root, grating, filt, source, "spec")
    write_spec(prod, out)
    return out


def extract_ground_unit(
    files: list[str | os.PathLike],
    *,
    out_dir: str | os.PathLike,
    root: str = "slitwise",
    options: Any = None,
    flux_scale: float | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Combine and extract the rectified ground exposures of one slit; write its spec.fits
    (and, with ``plots``, the extraction figure beside it).

    See :func:`slitwise.extract.ground.prepare_ground`. Returns ``products`` and ``records``
    like :func:`extract_unit`.
    """
    from slitwise.calib.products import read_rectified
    from slitwise.extract.ground import prepare_ground

    rects = [read_rectified(f) for f in files]
    prepared = prepare_ground(rects, flux_scale=flux_scale)
    rect = prepared.rect
    source = str(rect.meta.get("source_name") or f"slit{rect.meta.get('slit_id', 0)}")
    # file names take letters and digits only ("SIM-MOS" -> "SIMMOS")
    grating = re.sub(r"[^A-Za-z0-9]", "", str(rect.meta.get("instrument", ""))).upper()
    grating = grating or "GROUND"
    exposures = Table(
        {
            "file": [os.path.basename(str(f)) for f in files],
            "nod_position": np.zeros(len(files), int),
            "exptime": [r.meta["exptime"] for r in rects] * u.s,
            "stuck_shutters": [""] * len(files),
            "n_clipped": prepared.n_clipped,
        }
    )
    sigma_clip = getattr(options, "sigma_clip", 5.0)
    kind = getattr(options, "profile", "gaussian")
    widths = tuple(getattr(options, "boxcar_widths", (3, 4, 5)))
    prod = product_from_rectified(
        rect, source=source, grating=grating, filter="NONE", sigma_clip=sigma_clip,
        profile=kind, y0=prepared.row, boxcar_widths=widths, exposures=exposures,
        resolution=rect.meta.get("resolution"),
        extraction={"BKGMETH": "slit-poly1", "NEXP": len(files),
                    "EXPTIME": float(sum(r.meta["exptime"] for r in rects))},
        meta={"FLUXCAL": prepared.fluxcal, "SLITID": int(rect.meta.get("slit_id", 0))},
    )  # fmt: skip
    name = product_filename(root, grating, "NONE", source, "spec")
    write_spec(prod, Path(out_dir) / name)
    products, thumb = [name], ""
    if plots:
        thumb = name.replace(".spec.fits", ".spec.png")
        _plot_rectified_product(prod, Path(out_dir) / thumb)
        products.append(thumb)
    snr = float(np.nanmedian(prod.spectrum.flux / prod.spectrum.err))
    record = {"source": source, "serendip": False, "gratings": [grating.lower() + "-none"],
              "snr": snr, "thumbnail": thumb}  # fmt: skip
    return {"products": products, "records": [record]}


def _plot_rectified_product(prod: SpecProduct, path: Path) -> Path:
    """The extraction figure of a product extracted from a rectified 2D (rows from the trace,
    the mean extraction profile beside it)."""
    from types import SimpleNamespace

    from slitwise.spectra import RectifiedSpectrum2D

    ny = prod.sci.shape[0]
    y = np.arange(ny, dtype=float) - float(prod.extraction.get("YTRACE", 0.5 * (ny - 1)))
    rect = RectifiedSpectrum2D(
        sci=prod.sci, var=np.asarray(prod.err, float) ** 2, wave=np.asarray(prod.wavelength),
        y=y, bunit=prod.bunit,
    )  # fmt: skip
    weights = np.asarray(prod.profiles["weight_optimal"], float)
    profile2d = np.repeat(weights[:, None], prod.sci.shape[1], axis=1)
    item = SimpleNamespace(product=prod, result=SimpleNamespace(rect=rect, profile2d=profile2d))
    return plot_extraction(item, path)


def extract_files(
    paths: list[str | os.PathLike],
    *,
    out_dir: str | os.PathLike,
    root: str = "slitwise",
    options: Any = None,
    plots: bool = True,
) -> list[str]:
    """Group cut-out files by slitlet and source, extract each group; s2d files one by one.

    Returns the product file names written (relative to ``out_dir``).
    """
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    written: list[str] = []
    for p in paths:
        p = str(p)
        if not os.path.exists(p):
            raise input_error(p, "file not found")
        if is_s2d(p):
            written.append(extract_s2d_file(p, out_dir=out_dir, root=root).name)
            continue
        with fits.open(p, memmap=False) as hdul:
            if "SCI" not in [h.name for h in hdul]:
                raise input_error(f"{p}[SCI]", "HDU missing; expected a slitlet cut-out or s2d")
            hdr = hdul["SCI"].header
            key = (int(hdr.get("SLITID", 0) or 0), int(hdr.get("SOURCEID", 0) or 0))
        groups[key].append(p)
    for key in sorted(groups):
        res = extract_unit(groups[key], out_dir=out_dir, root=root, options=options, plots=plots)
        written.extend(p for p in res["products"] if p.endswith(".fits"))
    return written
