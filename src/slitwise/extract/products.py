"""Extraction of a source's exposures into ``spec.fits`` products (in memory).

:func:`extract_source` is the library entry point the pipeline and the demo call: it groups
the exposures by disperser (never mixing gratings) and by nod group (slitlet, MSA
configuration, detector), extracts each group (:func:`slitwise.extract.source.extract_group`),
imposes the source size measured with the highest-S/N disperser on the others, combines the
groups of one disperser (:func:`slitwise.combine.combine_spectra`) and returns one
:class:`~slitwise.io.spec_product.SpecProduct` per source found and per disperser.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict

import astropy.units as u
import numpy as np
from astropy.table import Table

from slitwise.background.stuck import shutter_label
from slitwise.combine.combine import combine_arrays
from slitwise.errors import input_error
from slitwise.extract.source import (
    ExtractOptions,
    GroupExtraction,
    SourceResult,
    extract_group,
    profile_weights,
)
from slitwise.instruments import get_disperser
from slitwise.io.spec_product import SpecProduct
from slitwise.spectra.slitlet import SlitletExposure
from slitwise.spectra.spectrum1d import FNU_UNIT, Spectrum1D

__all__ = ["extract_source", "group_exposures", "ExtractedProduct"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class ExtractedProduct:
    """A product and the extraction it came from (for figures and diagnostics)."""

    product: SpecProduct
    result: SourceResult
    groups: list[GroupExtraction]


def group_exposures(
    exposures: list[SlitletExposure],
) -> dict[tuple[str, str], list[list[int]]]:
    """Indices of the exposures per disperser, split into nod groups.

    A nod group shares slitlet, detector, MSA metadata file, program and cut-out shape.
    Exposures whose DQ flags every pixel are dropped with a warning.
    """
    by_disp: dict[tuple[str, str], dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, e in enumerate(exposures):
        if not np.any(np.isfinite(e.wave)):
            raise input_error(
                f"{e.meta.get('filename', f'exposure {i}')}[WAVELENGTH]",
                "no finite wavelength; wavelength information is required for extraction",
            )
        if not np.any(e.valid):
            log.warning(
                "%s: every pixel is flagged in DQ (or has no data); cut-out skipped",
                e.meta.get("filename", f"exposure {i}"),
            )
            continue
        key = (
            e.slitlet_id,
            e.detector,
            str(e.meta.get("msa_metafile", "")),
            str(e.meta.get("program", "")),
            e.shape,
            e.n_nods,
        )
        by_disp[(e.grating, e.filter)][key].append(i)
    return {d: list(groups.values()) for d, groups in by_disp.items()}


def _exposure_table(group: GroupExtraction, start: int = 0) -> Table:
    rows = []
    for i, e in enumerate(group.exposures):
        stuck = group.stuck.get(i, set())
        rows.append(
            {
                "file": str(e.meta.get("filename", "")).rsplit("/", 1)[-1],
                "nod_position": int(e.nod_position),
                "exptime": float(e.exptime),
                "stuck_shutters": shutter_label(e.shutter_state, stuck) if i in group.stuck
                else "",
                "shutter_state": e.shutter_state,
                "used": i not in group.excluded,
                "note": group.excluded.get(i, ""),
                "group": start,
            }
        )  # fmt: skip
    return Table(rows=rows)


def _combine_results(results: list[SourceResult], exptimes: list[float]):
    """Combine the same source's results from several nod groups on the first grid."""
    from slitwise.combine.resample import resample_flux

    grid = results[0].wave
    flux, var = [], []
    boxes = {w: ([], []) for w in results[0].boxcar}
    for r in results:
        f, v = resample_flux(grid, r.wave, r.flux, r.err**2)
        flux.append(f)
        var.append(v)
        for w, (bf, be) in r.boxcar.items():
            f2, v2 = resample_flux(grid, r.wave, bf, be**2)
            boxes[w][0].append(f2)
            boxes[w][1].append(v2)
    mean, mvar, _ = combine_arrays(np.array(flux), np.array(var), weights=np.asarray(exptimes))
    out_box = {}
    for w, (fl, vl) in boxes.items():
        m2, v2, _ = combine_arrays(np.array(fl), np.array(vl), weights=np.asarray(exptimes))
        out_box[w] = (m2, np.sqrt(v2))
    return grid, mean, np.sqrt(mvar), out_box


def _to_product(
    results: list[SourceResult],
    groups: list[GroupExtraction],
    *,
    grating: str,
    filt: str,
    options: ExtractOptions,
) -> SpecProduct:
    main = results[0]
    exptimes = [sum(e.exptime for i, e in enumerate(g.exposures) if i not in g.excluded)
                for g in groups]  # fmt: skip
    if len(results) > 1:
        wave, flux, err, boxes = _combine_results(results, [max(t, 1e-6) for t in exptimes])
    else:
        wave, flux, err, boxes = main.wave, main.flux, main.err, main.boxcar
    disp = get_disperser(grating, filt, point_source=True)
    valid = np.isfinite(flux) & np.isfinite(err) & (err > 0)
    spectrum = Spectrum1D(
        wave=wave * u.um,
        flux=flux * FNU_UNIT,
        err=err * FNU_UNIT,
        valid=valid,
        resolution=disp.resolving_power(wave),
        meta={"source": main.name},
    )
    best = int(np.argmax(exptimes))
    rect = results[best].rect
    prof = profile_weights(results[best], options.boxcar_widths)
    profiles = Table({"y": rect.y, **prof})
    exposures = Table()
    tables = [_exposure_table(g, k) for k, g in enumerate(groups)]
    from astropy.table import vstack

    exposures = vstack(tables) if len(tables) > 1 else tables[0]
    trace = main.trace
    ref_col = 0.5 * (trace.col_range[0] + trace.col_range[1])
    sig = trace.sigma(wave)
    extraction = {
        "EXTMETH": "optimal",
        "PROFCEN": float(main.dy),
        "PROFSIG": float(np.nanmedian(sig)),
        "YTRACE": float(trace.centre(ref_col, 0)),
        "BKGMETH": groups[0].background_method,
        "PATHCORR": bool(groups[0].pathloss_mode in ("model", "keep")),
        "NEXP": int(sum(len(g.exposures) - len(g.excluded) for g in groups)),
        "EXPTIME": float(sum(exptimes)),
    }
    e0 = groups[0].exposures[0]
    meta = {
        "SRCID": int(e0.source_id),
        "SLITID": int(e0.slitlet_id),
        "SERENDIP": bool(main.serendip),
        "SRCDY": float(main.dy),
        "SRCXPOS": float(e0.source_xpos),
        "SRCYPOS": float(e0.source_ypos),
        "PROFKIND": trace.kind,
        "SRCSIG": float(trace.source_sigma),
        "PSFSCALE": float(trace.psf_scale),
        "PLMODE": groups[0].pathloss_mode,
        "PLMED": float(np.nanmedian(main.path_corr)),
        "ERRSCALE": float(np.mean([g.error_scale for g in groups])),
        "NGROUPS": len(groups),
    }
    return SpecProduct(
        spectrum=spectrum,
        source=main.name,
        grating=grating,
        filter=filt,
        boxcar=boxes,
        sci=rect.sci,
        err=np.sqrt(rect.var),
        wavelength=rect.wave,
        wht=rect.wht,
        bunit="uJy",
        wht_unit="1/uJy2",
        profiles=profiles,
        exposures=exposures,
        extraction=extraction,
        meta=meta,
    )


def extract_source(
    exposures: list[SlitletExposure],
    *,
    options: ExtractOptions | None = None,
    stuck_shutters: dict[int, tuple[int, ...]] | None = None,
    background_overrides: dict[int, tuple[int, ...]] | None = None,
    combine: bool = True,
    details: bool = False,
) -> list[SpecProduct] | list[ExtractedProduct]:
    """Extract every source of one slitlet from its cut-outs, one product per disperser.

    Parameters
    ----------
    exposures : list of SlitletExposure
        All cut-outs of the slitlet (any dispersers, any nod groups).
    options : ExtractOptions, optional
        Extraction options.
    stuck_shutters : dict, optional
        Index in ``exposures`` -> 1-based shutters stuck closed (configuration).
    background_overrides : dict, optional
        Index in ``exposures`` -> nod positions to use as its background.
    combine : bool
        Combine several nod groups of one disperser; otherwise one product per group (the
        source name then gets a ``_g{k}`` suffix for groups after the first).
    details : bool
        Return :class:`ExtractedProduct` (product + extraction) instead of bare products.

    Returns
    -------
    list of SpecProduct (or ExtractedProduct)
        Empty when no cut-out has usable pixels (a warning is logged).

    Raises
    ------
    SlitwiseInputError
        Missing wavelength information, or a nod group with a single nod position.
    """
    opt = options or ExtractOptions()
    groups = group_exposures(exposures)
    if not groups:
        log.warning("no usable cut-out among %d: no product", len(exposures))
        return []

    def run(idx: list[int], impose=None) -> GroupExtraction:
        sub = [exposures[i] for i in idx]
        local = {k: i for k, i in enumerate(idx)}
        stuck = {k: tuple(stuck_shutters[i]) for k, i in local.items()
                 if stuck_shutters and i in stuck_shutters}  # fmt: skip
        over = {k: tuple(background_overrides[i]) for k, i in local.items()
                if background_overrides and i in background_overrides}  # fmt: skip
        return extract_group(sub, options=opt, stuck_shutters=stuck,
                             background_overrides=over, impose=impose)  # fmt: skip

    done: dict[tuple[str, str], list[GroupExtraction]] = {}
    for disp, glist in groups.items():
        done[disp] = [run(g) for g in glist]
    # impose the source size of the highest-S/N disperser on the others
    if len(done) > 1:
        snr = {d: np.nanmax([g.sources[0].snr for g in gl]) for d, gl in done.items()}
        best = max(snr, key=lambda d: snr[d] if np.isfinite(snr[d]) else -np.inf)
        ref = done[best][int(np.nanargmax([g.sources[0].snr for g in done[best]]))].sources[0]
        log.info("imposing source size %.2f px from %s on the other dispersers",
                 ref.trace.source_sigma, "/".join(best))  # fmt: skip
        for disp, glist in groups.items():
            if disp != best:
                done[disp] = [run(g, impose=ref.trace) for g in glist]
    out = []
    for (grating, filt), glist in done.items():
        nsrc = len(glist[0].sources)
        if combine:
            batches = [glist]
        else:
            batches = [[g] for g in glist]
        for b, batch in enumerate(batches):
            for k in range(nsrc):
                results = [g.sources[k] for g in batch if k < len(g.sources)]
                if not results:
                    continue
                prod = _to_product(results, batch, grating=grating, filt=filt, options=opt)
                if b > 0:
                    prod.source = f"{prod.source}_g{b}"
                out.append(ExtractedProduct(prod, results[0], batch) if details else prod)
    if not out:
        raise input_error("extract_source", "no source could be extracted")
    return out
