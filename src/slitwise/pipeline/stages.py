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
        for stage in ("extract", "zfit", "linefit"):
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
    """Nod-subtract, extract and combine the cut-outs of one slitlet; write spec.fits files."""
    from slitwise.extract.stage import extract_unit

    cfg = ctx.cfg
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


def stage_zfit(ctx: StageContext) -> dict[str, Any]:
    """Fit a redshift to every spec.fits of the source; write zfit.fits files."""
    from slitwise.redshift.stage import zfit_products

    return zfit_products(
        ctx.products_of("extract"),
        out_dir=ctx.out_dir,
        zmin=ctx.cfg.zfit.zmin,
        zmax=ctx.cfg.zfit.zmax,
    )


def stage_linefit(ctx: StageContext) -> dict[str, Any]:
    """Joint line fit of all spectra of each source (only with a line configuration)."""
    if ctx.cfg.linefit.config is None:
        return {"products": [], "records": []}
    from slitwise.lines.stage import linefit_products

    return linefit_products(
        ctx.products_of("extract"),
        zfit_files=ctx.products_of("zfit"),
        config_path=ctx.cfg.linefit.config,
        out_dir=ctx.out_dir,
        method=ctx.cfg.linefit.method,
    )


#: Per-source stages in order; program-level stages (clean, calibrate, summary) run elsewhere.
SOURCE_STAGES: dict[str, Callable[[StageContext], dict[str, Any]]] = {
    "extract": stage_extract,
    "zfit": stage_zfit,
    "linefit": stage_linefit,
}
