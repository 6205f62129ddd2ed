"""Automatic fit of the OPT, CRV and IDS models from one arc and one flat frame.

Steps (every one automatic; the user gives only the instrument configuration and the mask):

1. Find the slits in the flat and match them to the mask (robust to an unknown shift, scale
   and rotation of the first-guess optical model); mask slits whose first-guess position is
   off the detector, or that are not found, are flagged, not guessed.
2. Trace both edges of every matched slit along dispersion.
3. Extract the arc along each slit (``nsplit`` slices for long slits); identify the lines of
   the best slice blind (pattern matching), the others by cross-correlation with it.
4. Fit OPT from the reference-wavelength positions, CRV from the edge traces and IDS from all
   identified lines, each a global polynomial with outlier rejection.
"""

from __future__ import annotations

import dataclasses
import enum
import logging

import astropy.units as u
import numpy as np
from astropy.table import QTable

from slitwise.calib.fit_crv import EdgeTrace, find_slit_spans, fit_curvature, trace_slit_edges
from slitwise.calib.fit_ids import (
    GridGuess,
    LineSample,
    extract_along,
    fit_dispersion,
    reidentify,
    shifted_guess,
)
from slitwise.calib.fit_opt import fit_optical, match_slits
from slitwise.calib.instrument_file import InstrumentConfig
from slitwise.calib.linelists import load_line_list
from slitwise.calib.mask_file import Mask
from slitwise.calib.models import OpticalModel, SpectrographModel
from slitwise.calib.wavecal import solve_arc
from slitwise.errors import input_error

__all__ = ["SlitFlag", "CalibrationResult", "fit_models"]

log = logging.getLogger(__name__)


class SlitFlag(enum.IntFlag):
    """Per-slit calibration flags (``flag`` column of :attr:`CalibrationResult.slits`)."""

    OFF_DETECTOR = 1
    NOT_FOUND = 2
    NO_ARC_SOLUTION = 4
    FEW_LINES = 8
    EDGE_TRACE_SHORT = 16


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
    """Fitted model, per-slit diagnostics and the fit residuals.

    ``slits`` columns: ``slit_id``, ``flag`` (:class:`SlitFlag`), ``d_ref``/``s_ref``
    (fitted reference position of the slit centre, pixels), ``n_lines``, ``ids_rms`` (pixels).
    ``arc_spectra``: ``(slit_id, t) -> arc flux`` of every slice; ``tuned``: fitted from a
    stored model rather than blind; ``edges``: the measured slit ends the spatial part of OPT
    was fitted to, ``(slit_id, t, x_mm, y_mm, s)`` (see :func:`slitwise.calib.refine.edges_table`).
    """

    model: SpectrographModel
    slits: QTable
    traces: dict[int, EdgeTrace]
    samples: list[LineSample]
    opt_rms: float
    crv_rms: float
    ids_rms: float
    arc_spectra: dict = dataclasses.field(default_factory=dict)
    tuned: bool = False
    edges: list = dataclasses.field(default_factory=list)


def _slices(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n if n > 1 else np.array([0.5])


def fit_models(
    config: InstrumentConfig,
    mask: Mask,
    arc: np.ndarray,
    flat: np.ndarray,
    *,
    lamps: str | None = None,
    nsplit: int | None = None,
    flip_x: bool = False,
    flip_y: bool = False,
    opt_degrees: tuple[int, int] = (2, 2),
    crv_order: int = 2,
    crv_degrees: tuple[int, int] = (1, 1),
    ids_order: int = 3,
    ids_degrees: tuple[int, int] = (1, 1),
    trace_step: int = 32,
    initial: SpectrographModel | None = None,
    stored_arcs: dict | None = None,
) -> CalibrationResult:
    """Fit OPT, CRV and IDS from an arc and a flat frame (detector orientation).

    Parameters
    ----------
    config, mask : InstrumentConfig, Mask
        From :func:`read_instrument` and :func:`read_mask`.
    arc, flat : ndarray, shape (ny, nx)
        Frames as read from the FITS files.
    lamps : str, optional
        Lamp catalogues (default ``config.lamps``).
    nsplit : int, optional
        Slices per slit for the IDS (default 1 for MOS slits, 5 for slits longer than 100 px).
    flip_x, flip_y : bool
        Mirrored optics in the first-guess model.
    opt_degrees, crv_order, crv_degrees, ids_order, ids_degrees
        Polynomial degrees of the three models.
    trace_step : int
        Column step of the edge tracing.
    initial : SpectrographModel, optional
        Per-night tuning: a stored model (e.g. last night's) replaces the first-guess optics
        for finding the slits, and the arc is identified from it instead of blind; every model
        is then refitted on the new frames.
    stored_arcs : dict, optional
        ``(slit_id, t) -> (flux, wavelength per pixel)`` of the stored calibration's arc slices
        (:func:`slitwise.calib.stage.read_stored_arcs`): each new slice is cross-correlated
        with its stored twin (shift and stretch), which absorbs flexure along dispersion.

    Raises
    ------
    SlitwiseInputError
        No lamps, frames of the wrong shape, no slit found, or no arc solution at all.
    """
    lamps = lamps or config.lamps
    if not lamps:
        raise input_error(
            "lamps", "no lamp catalogue given (instrument [optional] lamps or --lamps)"
        )
    arc_c = config.image_to_canonical(np.asarray(arc, float))
    flat_c = config.image_to_canonical(np.asarray(flat, float))
    nd, ns = config.n_disp, config.n_spatial
    guess = (
        initial.opt
        if initial is not None
        else OpticalModel.first_guess(config, flip_x=flip_x, flip_y=flip_y)
    )
    slits = list(mask)
    flags = np.zeros(len(slits), int)
    ends = np.array([guess(*sl.point(np.array([0.0, 1.0]))) for sl in slits])  # (n, 2, 2)
    pred_lo, pred_hi = ends[:, 1, 0], ends[:, 1, 1]
    d_guess = ends[:, 0, :].mean(axis=1)
    off = (np.minimum(pred_lo, pred_hi) < 0) | (np.maximum(pred_lo, pred_hi) > ns - 1)
    off |= (d_guess < 0) | (d_guess > nd - 1)
    flags[off] |= SlitFlag.OFF_DETECTOR
    for i in np.flatnonzero(off):
        log.warning("slit %d: first-guess position off the detector; flagged", slits[i].id)
    spans = find_slit_spans(flat_c)
    if not spans:
        raise input_error("flat", "no illuminated slit found in the flat frame")
    on = np.flatnonzero(~off)
    pairing = match_slits(spans, pred_lo[on], pred_hi[on])
    matched = {int(on[p]): q for p, q in pairing.items()}
    for i in on:
        if int(i) not in matched:
            flags[i] |= SlitFlag.NOT_FOUND
            log.warning("slit %d: not found in the flat; flagged", slits[i].id)
    # Edge traces (orientation: t = 0 at the lower spatial edge of the predicted slit).
    traces: dict[int, EdgeTrace] = {}
    for i, q in matched.items():
        tr = trace_slit_edges(flat_c, spans[q], step=trace_step)
        if np.isfinite(tr.lo).sum() < 4:
            flags[i] |= SlitFlag.EDGE_TRACE_SHORT
            continue
        if pred_lo[i] > pred_hi[i]:  # mirrored: t = 0 is the upper edge
            tr = EdgeTrace(d=tr.d, lo=tr.hi, hi=tr.lo)
        traces[i] = tr
    # Arc spectra along the slices.
    cols = np.arange(nd, dtype=float)
    spectra: dict[tuple[int, float], np.ndarray] = {}
    for i, tr in traces.items():
        n_split = nsplit or (5 if abs(pred_hi[i] - pred_lo[i]) > 100 else 1)
        length = float(np.nanmedian(tr.hi - tr.lo))
        # Aperture: a third of the slice (more arc signal), within 1.5..10 px.
        half_width = float(np.clip(length / n_split / 3.0, 1.5, 10.0))
        for t in _slices(n_split):
            spectra[(i, float(t))] = extract_along(arc_c, tr.at(cols, t), half_width=half_width)
    if not spectra:
        raise input_error("flat", "no slit could be traced")
    half = 0.5 * nd * config.linear_dispersion * 1.6
    catalog = load_line_list(
        lamps,
        wave_min=config.reference_wavelength - half,
        wave_max=config.reference_wavelength + half,
    )["wave"].to_value(u.AA)
    wr = wavelength_search_range(config)
    if initial is not None:
        guesses, arc_fwhm = _tuning_guesses(spectra, slits, initial, stored_arcs or {}, wr, catalog)
    else:
        guesses, arc_fwhm = _blind_guesses(spectra, slits, d_guess, lamps, config)
    samples, d_ref_slice = _collect(spectra, guesses, catalog, slits, flags, config)
    opt, crv, ids, opt_rms, crv_rms, ids_rms, per_slit, edges = _fit_three(
        samples,
        d_ref_slice,
        traces,
        slits,
        config,
        opt_degrees=opt_degrees,
        crv_order=crv_order,
        crv_degrees=crv_degrees,
        ids_order=ids_order,
        ids_degrees=ids_degrees,
    )
    # Pass 2: re-identify every slice from the global model (accurate everywhere), refit.
    guesses = {}
    for key in spectra:
        x, y = slits[key[0]].point(key[1])
        lam = ids.wavelength(float(x), float(y), cols - float(opt.d(x, y)), wave_range=wr)
        ok = np.isfinite(lam)
        if ok.sum() > 10:
            guesses[key] = GridGuess(cols[ok], lam[ok])
    flags[:] &= ~(SlitFlag.NO_ARC_SOLUTION | SlitFlag.FEW_LINES)
    samples, d_ref_slice = _collect(spectra, guesses, catalog, slits, flags, config, tol_px=0.6)
    opt, crv, ids, opt_rms, crv_rms, ids_rms, per_slit, edges = _fit_three(
        samples,
        d_ref_slice,
        traces,
        slits,
        config,
        opt_degrees=opt_degrees,
        crv_order=crv_order,
        crv_degrees=crv_degrees,
        ids_order=ids_order,
        ids_degrees=ids_degrees,
    )
    n_split_model = max((sum(1 for k in spectra if k[0] == i) for i in traces), default=1)
    model = SpectrographModel(
        config=config, opt=opt, crv=crv, ids=ids, nsplit=n_split_model, arc_fwhm=arc_fwhm
    )
    table = QTable()
    table["slit_id"] = [s.id for s in slits]
    table["ref"] = [s.ref for s in slits]
    table["flag"] = flags
    cen = mask.centres()
    dref, sref = opt(cen[:, 0], cen[:, 1])
    table["d_ref"] = (
        np.where(flags & (SlitFlag.OFF_DETECTOR | SlitFlag.NOT_FOUND), np.nan, dref) * u.pix
    )
    table["s_ref"] = (
        np.where(flags & (SlitFlag.OFF_DETECTOR | SlitFlag.NOT_FOUND), np.nan, sref) * u.pix
    )
    table["n_lines"] = [
        int(sum(s.pixel.size for s in samples if s.slit_id == sl.id)) for sl in slits
    ]
    table["ids_rms"] = [per_slit.get(sl.id, np.nan) for sl in slits] * u.pix
    return CalibrationResult(
        arc_spectra={(slits[i].id, round(t, 4)): f for (i, t), f in spectra.items()},
        tuned=initial is not None,
        model=model,
        slits=table,
        traces=traces,
        samples=samples,
        opt_rms=opt_rms,
        crv_rms=crv_rms,
        ids_rms=ids_rms,
        edges=edges,
    )


def wavelength_search_range(config: InstrumentConfig) -> tuple[float, float]:
    """Wavelengths (Angstrom) over which the dispersion model is inverted: 1.6 detector
    lengths at the nominal dispersion, centred on the reference wavelength."""
    half = 0.8 * config.n_disp * config.linear_dispersion
    return config.reference_wavelength - half, config.reference_wavelength + half


def _blind_guesses(spectra, slits, d_guess, lamps, config):
    """Blind solution of the most central, brightest slice, mapped onto every other slice.

    Returns the per-slice pixel -> wavelength guesses and the arc line FWHM (pixels).
    """
    nd = config.n_disp
    keys = sorted(spectra, key=lambda k: (abs(k[1] - 0.5), -np.percentile(spectra[k], 99)))
    reference = None
    ref_key = None
    for key in keys[:5]:
        i = key[0]
        wcen = (
            config.reference_wavelength + (0.5 * (nd - 1) - d_guess[i]) * config.linear_dispersion
        )
        sol = solve_arc(
            spectra[key], lamps, dispersion=config.linear_dispersion, central_wavelength=wcen
        )
        if sol.reliable:
            reference, ref_key = sol, key
            break
    if reference is None:
        raise input_error(
            "arc",
            "no reliable blind wavelength solution in any of the 5 best "
            "slices; check lamps, linear_dispersion and reference_wavelength",
        )
    log.info(
        "reference slice: slit %d t=%.2f (%d lines)",
        slits[ref_key[0]].id,
        ref_key[1],
        reference.n_lines,
    )
    # every slice from the reference solution shifted (and stretched) onto it
    guesses = {
        key: shifted_guess(reference.fit, spectra[ref_key], flux, max_shift=int(0.25 * nd))
        for key, flux in spectra.items()
    }
    fwhm = float(reference.detected.fwhm) if reference.detected is not None else np.nan
    return guesses, fwhm


def _tuning_guesses(spectra, slits, initial, stored_arcs, wave_range, catalog):
    """Per-slice guesses from a stored calibration.

    Each slice is cross-correlated (shift and stretch) with its stored arc when there is one,
    otherwise with a comb of the catalogue lines where the stored model puts them (the
    observed arc square-root compressed, so that a few bright lines do not dominate the
    equal-height comb): flexure along dispersion is measured, not assumed zero.
    """
    nd = initial.config.n_disp
    cols = np.arange(nd, dtype=float)
    guesses, n_xcorr = {}, 0
    for key, flux in spectra.items():
        i, t = key
        stored = stored_arcs.get((slits[i].id, round(t, 4)))
        if stored is not None and stored[0].size == flux.size and np.isfinite(stored[1]).sum() > 10:
            ok = np.isfinite(stored[1])
            ref = GridGuess(cols[ok], stored[1][ok])
            guesses[key] = shifted_guess(ref, stored[0], flux, max_shift=int(0.05 * nd))
            n_xcorr += 1
            continue
        x, y = slits[i].point(t)
        lam = initial.ids.wavelength(
            float(x), float(y), cols - float(initial.opt.d(x, y)), wave_range=wave_range
        )
        ok = np.isfinite(lam)
        if ok.sum() <= 10:
            continue
        guess = GridGuess(cols[ok], lam[ok])
        inside = (catalog > lam[ok].min()) & (catalog < lam[ok].max())
        pos = np.interp(catalog[inside], lam[ok], cols[ok])
        sig = max(float(initial.arc_fwhm), 2.0) / 2.3548 if np.isfinite(initial.arc_fwhm) else 1.3
        comb = np.zeros(nd)
        for p in pos:
            lo, hi = int(max(p - 5 * sig, 0)), int(min(p + 5 * sig + 1, nd))
            comb[lo:hi] += np.exp(-0.5 * ((cols[lo:hi] - p) / sig) ** 2)
        signal_ = np.sqrt(np.clip(flux - np.median(flux), 0, None))
        guesses[key] = shifted_guess(guess, comb, signal_, max_shift=int(0.05 * nd))
    log.info("tuning from a stored model: %d of %d slices cross-correlated with stored arcs",
             n_xcorr, len(spectra))  # fmt: skip
    return guesses, float(initial.arc_fwhm)


def _collect(spectra, guesses, catalog, slits, flags, config, *, tol_px=1.0):
    """Identified lines and reference-wavelength position of every slice."""
    nd = config.n_disp
    grid = np.arange(nd, dtype=float)
    samples: list[LineSample] = []
    d_ref_slice: dict[tuple[int, float], float] = {}
    for key, flux in spectra.items():
        i, t = key
        if key not in guesses:
            flags[i] |= SlitFlag.NO_ARC_SOLUTION
            continue
        res = reidentify(flux, guesses[key], catalog, order=4, tol_px=tol_px)
        if res is None or res[0].size < 8:
            flags[i] |= SlitFlag.NO_ARC_SOLUTION if res is None else SlitFlag.FEW_LINES
            continue
        pix, wav, fit = res
        lam = fit(grid)
        if np.any(np.diff(lam) <= 0):
            flags[i] |= SlitFlag.NO_ARC_SOLUTION
            continue
        d_ref_slice[key] = float(np.interp(config.reference_wavelength, lam, grid))
        x, y = slits[i].point(t)
        samples.append(LineSample(slits[i].id, t, float(x), float(y), pix, wav))
    return samples, d_ref_slice


def _fit_three(
    samples,
    d_ref_slice,
    traces,
    slits,
    config,
    *,
    opt_degrees,
    crv_order,
    crv_degrees,
    ids_order,
    ids_degrees,
):
    """OPT from reference positions, CRV from edges, IDS from lines."""
    nd = config.n_disp
    dx, dy, dd = [], [], []
    for (i, t), dr in d_ref_slice.items():
        x, y = slits[i].point(t)
        dx.append(x)
        dy.append(y)
        dd.append(dr)
    if len(dd) < 2:
        raise input_error("arc", f"only {len(dd)} reference positions measured; cannot fit OPT")
    # Spatial positions: both edges of every traced slit, at the reference column of that end
    # (linear in t through the slices of the slit; constant for a single slice).
    sx, sy, ss, edges = [], [], [], []
    for i, tr in traces.items():
        ts = np.array([k[1] for k in d_ref_slice if k[0] == i])
        if ts.size == 0:
            continue
        drs = np.array([d_ref_slice[(i, t)] for t in ts])
        coef = np.polyfit(ts, drs, 1) if ts.size > 1 else np.array([0.0, drs[0]])
        for te in (0.0, 1.0):
            xe, ye = slits[i].point(te)
            sx.append(xe)
            sy.append(ye)
            ss.append(float(tr.at(np.polyval(coef, te), te)))
            edges.append((slits[i].id, te, float(xe), float(ye), ss[-1]))
    opt, opt_rms = fit_optical(
        (np.array(dx), np.array(dy), np.array(dd)),
        (np.array(sx), np.array(sy), np.array(ss)),
        degrees=opt_degrees,
    )
    points = []
    for i, tr in traces.items():
        for te, edge in ((0.0, tr.lo), (1.0, tr.hi)):
            xe, ye = slits[i].point(te)
            dr = float(opt.d(xe, ye))
            s0 = float(tr.at(dr, te))
            points.append((xe, ye, tr.d - dr, edge - s0))
    crv, crv_rms = fit_curvature(points, order=crv_order, degrees=crv_degrees, delta_scale=0.5 * nd)
    ids, per_slit, ids_rms = fit_dispersion(
        samples,
        opt.d,
        reference_wavelength=config.reference_wavelength,
        wave_scale=0.5 * nd * config.linear_dispersion,
        order=ids_order,
        degrees=ids_degrees,
    )
    return opt, crv, ids, opt_rms, crv_rms, ids_rms, per_slit, edges
