"""Per-source stage wrappers: read inputs, call the library, write products atomically.

Each stage is a function ``stage(ctx) -> dict`` that returns at least ``products`` (paths of
the files it wrote) plus whatever the summary needs (``records``). The science lives in the
library subpackages (``slitwise.extract``, ``slitwise.redshift``, ``slitwise.lines``); these
wrappers only do I/O and bookkeeping, so a user can call the same library functions from a
notebook.

Stage order per source: nodsub → extract → combine → zfit → linefit. Nod subtraction,
extraction and combination of the exposures are one library call (``extract_source``) that
works on the unrectified cut-outs; the ``nodsub`` and ``combine`` stage names select or skip
parts of that call and carry no products of their own.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from slitwise.pipeline.config import PipelineConfig
from slitwise.pipeline.discover import SourceUnit

__all__ = ["StageContext", "SOURCE_STAGES", "stage_extract", "stage_zfit", "stage_linefit"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class StageContext:
    """State shared by the stages of one source."""

    cfg: PipelineConfig
    unit: SourceUnit
    out_dir: Path
    outputs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def products_of(self, stage: str) -> list[Path]:
        """Absolute paths of the products a previous stage wrote."""
        return [self.out_dir / p for p in self.outputs.get(stage, {}).get("products", [])]

    def records(self, **extra) -> list[dict[str, Any]]:
        """One summary record per extracted source (serendips included), merged over stages."""
        by_source: dict[str, dict[str, Any]] = {}
        for stage in ("extract", "zfit", "linefit", "summary"):
            for rec in self.outputs.get(stage, {}).get("records", []):
                by_source.setdefault(str(rec["source"]), {}).update(rec)
        if not by_source:
            by_source[self.unit.key] = {"source": self.unit.key}
        out = []
        for rec in by_source.values():
            rec = {"unit": self.unit.key, "slitlet": self.unit.slitlet_id, **rec, **extra}
            out.append(rec)
        return out


def stage_extract(ctx: StageContext) -> dict[str, Any]:
    """Nod-subtract, extract and combine the cut-outs of one slitlet; write spec.fits files.

    Ground programs: stack, sky-subtract and extract the rectified exposures of one slit.
    """
    from slitwise.extract.stage import extract_unit

    cfg = ctx.cfg
    if cfg.is_ground:
        from slitwise.extract.stage import extract_ground_unit

        return extract_ground_unit(
            list(ctx.unit.files),
            out_dir=ctx.out_dir,
            root=cfg.run.root,
            options=cfg.extract,
            flux_scale=cfg.calibrate.flux_scale,
        )
    overrides = {f: cfg.overrides_for(f) for f in ctx.unit.files}
    return extract_unit(
        list(ctx.unit.files),
        out_dir=ctx.out_dir,
        root=cfg.run.root,
        options=cfg.extract,
        overrides=overrides,
        do_nodsub="nodsub" in cfg.run.stages,
        do_combine="combine" in cfg.run.stages,
    )


def _spec_files(ctx: StageContext) -> list[Path]:
    return [p for p in ctx.products_of("extract") if p.name.endswith(".spec.fits")]


def _rank_zfit(rec: dict[str, Any]) -> tuple:
    """Sort key of a source's fits: no fatal warning, then quality, then a good chi2, then
    confidence. A fit at the edge of the range or without data never wins over a clean one."""
    from slitwise.io.zfit_product import ZWarn

    fatal = ZWarn.NODATA | ZWarn.LITTLE_COVERAGE | ZWarn.Z_AT_EDGE | ZWarn.NEGATIVE_MODEL
    return (
        bool(rec["zwarn"] & fatal),
        -rec["zqual"],
        bool(rec["zwarn"] & ZWarn.BAD_CHI2),
        -rec["zconf"],
    )


def stage_zfit(ctx: StageContext) -> dict[str, Any]:
    """Fit a redshift to every spec.fits of the source; write one zfit.fits per spectrum.

    The source's summary redshift is that of its best fit (quality, then confidence).
    """
    from slitwise.errors import SlitwiseInputError
    from slitwise.io.naming import parse_product_filename, product_filename
    from slitwise.io.spec_product import read_spec_1d
    from slitwise.io.zfit_product import write_zfit
    from slitwise.redshift.product import to_product
    from slitwise.redshift.zfit import zfit

    products, fits_by_source = [], {}
    for path in _spec_files(ctx):
        name = parse_product_filename(path.name)
        spec = read_spec_1d(path)
        try:
            result = zfit(spec, zmin=ctx.cfg.zfit.zmin, zmax=ctx.cfg.zfit.zmax)
        except SlitwiseInputError as exc:
            log.warning("no redshift for %s: %s", path.name, exc)
            continue
        out = ctx.out_dir / product_filename(
            name.root, name.grating, name.filter, name.source, "zfit"
        )
        write_zfit(to_product(result, meta={"SPECFILE": path.name}), out)
        products.append(out)
        rec = {
            "source": name.source,
            "z": float(result.zbest),
            "zconf": float(result.zconf),
            "zqual": int(result.zqual),
            "zwarn": int(result.zwarn),
            "zgrating": f"{name.grating}-{name.filter}",
        }
        best = fits_by_source.get(name.source)
        if best is None or _rank_zfit(rec) < _rank_zfit(best):
            fits_by_source[name.source] = rec
    return {"products": products, "records": list(fits_by_source.values())}


def stage_figure(ctx: StageContext) -> dict[str, Any]:
    """One PNG per source: every disperser's spectrum with its zfit model and line markers."""
    from slitwise.io.naming import parse_product_filename
    from slitwise.io.spec_product import read_spec_1d
    from slitwise.io.zfit_product import read_zfit
    from slitwise.plotting import plot_source

    zrec = {r["source"]: r for r in ctx.outputs.get("zfit", {}).get("records", [])}
    by_source: dict[str, list[Path]] = {}
    for path in _spec_files(ctx):
        by_source.setdefault(parse_product_filename(path.name).source, []).append(path)
    products, records = [], []
    zfits = {p.name.replace(".zfit.fits", ""): p for p in ctx.products_of("zfit")}
    for source, paths in sorted(by_source.items()):
        spectra, models = [], []
        for path in sorted(paths):
            spectra.append(read_spec_1d(path))
            zpath = zfits.get(path.name.replace(".spec.fits", ""))
            if zpath is not None:
                zp = read_zfit(zpath)
                label = f"zfit {parse_product_filename(path.name).grating}"
                models.append((np.asarray(zp.model_wave), np.asarray(zp.model_flux), label))
        z = zrec.get(source, {}).get("z")
        root = parse_product_filename(paths[0].name).root
        out = ctx.out_dir / f"{root}_{source}.png"
        title = f"{source}" + (f"  z = {z:.4f}" if z is not None and np.isfinite(z) else "")
        plot_source(spectra, out, models=models, z=z, title=title)
        products.append(out)
        records.append({"source": source, "thumbnail": out.name})
    return {"products": products, "records": records}


#: Lines whose fitted fluxes go into the run summary (``flux_<name>`` columns).
SUMMARY_LINES = ("OIII_5008", "Halpha")


def stage_linefit(ctx: StageContext) -> dict[str, Any]:
    """Joint line fit of all spectra of each source at its zfit redshift.

    Runs only when ``[linefit] config`` is set; with ``alternatives``, every model is fitted
    and each source keeps the one the comparison prefers (:mod:`slitwise.lines.compare`;
    recorded as ``line_model``). Writes ``{root}_{source}.lines.fits`` and its
    figure ``{root}_{source}.lines.png``, and records the fitted fluxes of
    :data:`SUMMARY_LINES` (median and half the 16-84 % range).
    A configuration with ``continuum: {form: template}`` takes each spectrum's continuum
    template from its zfit product (the best fit without its emission lines).
    """
    if ctx.cfg.linefit.config is None:
        return {"products": [], "records": []}
    import warnings

    from slitwise.io.naming import parse_product_filename
    from slitwise.io.spec_product import read_spec_1d
    from slitwise.lines import write_linefit
    from slitwise.lines.compare import fit_and_choose, load_models
    from slitwise.lines.plot import plot_linefit

    lcfg = ctx.cfg.linefit
    configs = load_models([lcfg.config, *lcfg.alternatives])
    need_templates = any(c.continuum.form == "template" for c in configs.values())
    zfits = {p.name: p for p in ctx.products_of("zfit")}
    zrec = {r["source"]: r for r in ctx.outputs.get("zfit", {}).get("records", [])}
    by_source: dict[str, list[Path]] = {}
    for path in _spec_files(ctx):
        by_source.setdefault(parse_product_filename(path.name).source, []).append(path)
    products, records = [], []
    for source, paths in sorted(by_source.items()):
        z = zrec.get(source, {}).get("z")
        if z is None or not np.isfinite(z):
            log.warning("no redshift for %s: line fit skipped", source)
            continue
        paths = sorted(paths)
        spectra = [read_spec_1d(p) for p in paths]
        templates = None
        if need_templates:  # each spectrum's zfit model without lines
            names = [p.name.replace(".spec.fits", ".zfit.fits") for p in paths]
            templates = [zfits.get(n) for n in names]
            missing = [n for n, t in zip(names, templates, strict=True) if t is None]
            if missing:
                log.warning("no zfit product %s for the template continuum: line fit of %s "
                            "skipped", missing, source)  # fmt: skip
                continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fit_and_choose(configs, spectra, margin=lcfg.margin, redshift=float(z),
                                    sampler=lcfg.method, continuum_templates=templates)
        for w in caught:
            log.warning("linefit %s: %s", source, w.message)
        root = parse_product_filename(paths[0].name).root
        out = ctx.out_dir / f"{root}_{source}.lines.fits"
        write_linefit(result, out, srcname=source)
        plot_linefit(result, out.with_suffix(".png"), title=f"{source}: lines at z = {z:.4f}")
        products += [out, out.with_suffix(".png")]
        rec: dict[str, Any] = {"source": source}
        if result.models is not None:
            rec["line_model"] = result.chosen_model
        unit = "1e-18 erg / (s cm2)"
        for row in result.derived:
            if str(row["line"]) in SUMMARY_LINES:
                p16, p50, p84 = row["flux"].to_value(unit)
                rec[f"flux_{row['line']}"] = float(p50)
                rec[f"fluxerr_{row['line']}"] = float(0.5 * (p84 - p16))
        records.append(rec)
    return {"products": products, "records": records}


#: Per-source stages in order; program-level stages (clean, calibrate, summary) run elsewhere.
SOURCE_STAGES: dict[str, Callable[[StageContext], dict[str, Any]]] = {
    "extract": stage_extract,
    "zfit": stage_zfit,
    "linefit": stage_linefit,
    "summary": stage_figure,
}
