"""From the nodded cut-outs of one slitlet to extracted spectra of every source in it.

:func:`extract_group` handles one nod group (one disperser, one slitlet, one MSA
configuration): calibration to uJy per pixel with any nod-dependent path-loss correction
undone, nod subtraction, joint trace/profile fit on the unrectified pixels, nod subtraction
again with the source masked and the background smoothed along the dispersion, a low-order
residual background, stuck-shutter checks, optimal extraction with model-based variances and
outlier rejection, secondary sources (deblended), path loss, rectification and boxcars.

:func:`slitwise.extract.extract_source` (in :mod:`slitwise.extract.products`) groups
exposures by disperser and MSA configuration, calls this and combines groups.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import uniform_filter1d

from slitwise.background.nod import nod_subtract
from slitwise.background.stuck import configured_stuck_exposures, detect_missing_source
from slitwise.errors import input_error
from slitwise.extract.boxcar import aperture_weights, boxcar_pixels
from slitwise.extract.optimal import horne_solve
from slitwise.extract.pathloss import (
    UNRESOLVED_SIGMA_PIX,
    intra_shutter_y,
    pathloss_correction,
    shutter_fraction,
)
from slitwise.extract.pixels import PixelTable, build_pixel_table
from slitwise.extract.profile import (
    NIRSPEC_PIXEL_ARCSEC,
    TraceProfile,
    fit_trace_profile,
    initial_centres,
    model_matrix,
    profile_values,
)
from slitwise.extract.rectify import rectify, wavelength_grid
from slitwise.extract.sources import edge_rows, find_secondary_sources, visibility
from slitwise.spectra.rectified import RectifiedSpectrum2D
from slitwise.spectra.slitlet import SlitletExposure

__all__ = ["ExtractOptions", "GroupExtraction", "SourceResult", "extract_group", "to_ujy_factor"]

log = logging.getLogger(__name__)

PathlossMode = Literal["auto", "keep", "model", "none"]


@dataclasses.dataclass(frozen=True)
class ExtractOptions:
    """Extraction options (the pipeline's ``[extract]`` section maps onto these).

    Attributes
    ----------
    profile : {'gaussian', 'moffat'}
        Cross-dispersion profile shape.
    trace_degree : int
        Degree of the trace-centre polynomial in wavelength.
    boxcar_widths : tuple of int
        Boxcar aperture full widths (pixels).
    sigma_clip : float
        Outlier rejection threshold (sigma).
    detect_stuck : bool
        Detect exposures whose source shutter is stuck closed.
    serendips : bool
        Look for and extract secondary sources.
    background : {'nod', 'local'}
        'nod': subtract the other nod positions; 'local': no nod subtraction, only the
        residual background measured in each exposure away from the trace.
    background_smooth : int
        Running mean (columns) of the nod background along the dispersion; 1 gives plain
        DJA-v2 differences.
    mask_source_in_background : bool
        Leave the source out of the background exposures (no negative images).
    residual_background : int
        Window (columns) of the per-exposure residual background measured away from the
        trace; 0 disables.
    pathloss : {'auto', 'keep', 'model', 'none'}
        'keep': the inputs carry the right point-source correction (kept; undone and re-applied
        around the differencing). 'model': undo whatever was applied and apply
        :func:`~slitwise.extract.pathloss.pathloss_correction`. 'auto': 'keep' when the
        inputs are point-source corrected, else 'model'. 'none': undo and apply nothing.
    pathloss_size : bool
        With 'keep': also correct for the extra loss of a resolved source, i.e. multiply by
        the modelled shutter fraction of a point source over that of a Gaussian source of
        the fitted intrinsic size at the same intra-shutter position (1 for a point source).
    half_height : int
        Rows of the rectified 2D on each side of the trace.
    oversample : float
        Wavelength bins per detector column.
    max_secondaries : int
        At most this many secondary sources per slitlet.
    rescale_errors : bool
        Scale the pixel variances so that the residuals away from every source image (and
        from the slitlet edges) have unit robust scatter, per wavelength range (for inputs
        whose variances do not describe their real noise, e.g. JWST VAR arrays that miss
        correlated read noise). The factor is kept in the product (``ERRSCALE``).
    """

    profile: Literal["gaussian", "moffat"] = "gaussian"
    trace_degree: int = 2
    boxcar_widths: tuple[int, ...] = (3, 4, 5)
    sigma_clip: float = 5.0
    detect_stuck: bool = True
    serendips: bool = True
    background: Literal["nod", "local"] = "nod"
    background_smooth: int = 15
    mask_source_in_background: bool = True
    residual_background: int = 9
    pathloss: PathlossMode = "auto"
    pathloss_size: bool = True
    half_height: int = 8
    oversample: float = 1.0
    max_secondaries: int = 2
    rescale_errors: bool = False

    @classmethod
    def from_config(cls, config=None, **overrides) -> ExtractOptions:
        """Options from any object with matching attributes (e.g. the pipeline config)."""
        values = {}
        if config is not None:
            for field in dataclasses.fields(cls):
                if hasattr(config, field.name):
                    values[field.name] = getattr(config, field.name)
        values.update(overrides)
        if "boxcar_widths" in values:
            values["boxcar_widths"] = tuple(int(w) for w in values["boxcar_widths"])
        return cls(**values)


@dataclasses.dataclass(eq=False)
class SourceResult:
    """Extraction of one source of a nod group, all arrays on the output wavelength grid.

    Fluxes are uJy (f_nu), already path-loss corrected (``path_corr`` is the factor applied).
    """

    name: str
    serendip: bool
    trace: TraceProfile
    wave: np.ndarray
    flux: np.ndarray
    err: np.ndarray
    path_corr: np.ndarray
    boxcar: dict[int, tuple[np.ndarray, np.ndarray]]
    rect: RectifiedSpectrum2D
    profile2d: np.ndarray
    dy: float = 0.0

    @property
    def snr(self) -> float:
        """Median per-bin S/N over valid bins."""
        ok = np.isfinite(self.flux) & np.isfinite(self.err) & (self.err > 0)
        return float(np.median(self.flux[ok] / self.err[ok])) if np.any(ok) else np.nan


@dataclasses.dataclass(eq=False)
class GroupExtraction:
    """Everything :func:`extract_group` produced for one nod group."""

    sources: list[SourceResult]
    exposures: list[SlitletExposure]
    excluded: dict[int, str]
    stuck: dict[int, set[int]]
    background_method: str
    pathloss_mode: str
    table: PixelTable
    pixvar: np.ndarray
    used: np.ndarray
    error_scale: float = 1.0


def to_ujy_factor(exposure: SlitletExposure) -> tuple[float, str]:
    """Factor converting the exposure's SCI to uJy per pixel, and the resulting unit."""
    unit = exposure.bunit.strip().replace(" ", "").lower()
    where = exposure.meta.get("filename", "SlitletExposure")
    if unit in ("mjy/sr", "mjy/steradian"):
        pixar = exposure.meta.get("pixar_sr")
        if not pixar:
            raise input_error(f"{where}[SCI]", "BUNIT is MJy/sr but PIXAR_SR is missing")
        return float(pixar) * 1e12, "uJy"
    table = {"mjy": 1e12, "jy": 1e6, "ujy": 1.0, "microjansky": 1.0, "njy": 1e-3}
    if unit in table:
        return table[unit], "uJy"
    log.warning("%s: SCI unit '%s' is not a flux density; extracting in that unit",
                where, exposure.bunit)  # fmt: skip
    return 1.0, exposure.bunit


def applied_pathloss(exposure: SlitletExposure) -> str:
    """Which path-loss correction the inputs carry: 'PS', 'UN' or 'NONE'.

    From ``meta['pathloss_applied']`` when the reader set it; simulated cut-outs are
    point-source corrected; real JWST cut-outs without a source type follow the JWST default
    for MOS sources of unknown type (uniform correction), as DJA/msaexp assume.
    """
    value = str(exposure.meta.get("pathloss_applied", "")).upper()
    if value in ("PS", "UN", "NONE"):
        return value
    srctype = str(exposure.meta.get("srctype", "")).upper()
    if srctype == "POINT" or exposure.meta.get("simulated"):
        return "PS" if exposure.pathloss_ps is not None else "NONE"
    if srctype == "EXTENDED" or exposure.pathloss_un is not None:
        return "UN" if exposure.pathloss_un is not None else "NONE"
    return "NONE"


def _nan_running_median(arr: np.ndarray, width: int) -> np.ndarray:
    """Running median along axis 1 ignoring NaN (edges padded with NaN)."""
    half = width // 2
    pad = np.pad(arr, ((0, 0), (half, half)), constant_values=np.nan)
    win = sliding_window_view(pad, width, axis=1)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(win, axis=-1)


def _poisson_gain(sci: np.ndarray, var_poisson: np.ndarray) -> np.ndarray:
    """Poisson variance per unit signal, per column (broadcast to the image)."""
    ok = (sci > 0) & (var_poisson > 0) & np.isfinite(sci) & np.isfinite(var_poisson)
    ratio = np.where(ok, var_poisson / np.where(ok, sci, 1.0), np.nan)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        col = np.nanmedian(ratio, axis=0)
    good = np.isfinite(col)
    if not np.any(good):
        return np.zeros_like(sci)
    x = np.arange(col.size)
    col = np.interp(x, x[good], col[good])
    return np.broadcast_to(col, sci.shape).copy()


@dataclasses.dataclass(eq=False)
class _Prepared:
    sci: list[np.ndarray]
    var_model: list[np.ndarray]
    var_fixed: list[np.ndarray]
    gain: list[np.ndarray]
    valid: list[np.ndarray]
    reapply: list[np.ndarray | None]
    pl_mode: str
    unit: str


def _prepare(exposures: list[SlitletExposure], mode: PathlossMode) -> _Prepared:
    applied = [applied_pathloss(e) for e in exposures]
    if mode == "auto":
        mode = "keep" if all(a == "PS" for a in applied) else "model"
    out = _Prepared([], [], [], [], [], [], mode, "uJy")
    for exp, app in zip(exposures, applied, strict=True):
        scale, unit = to_ujy_factor(exp)
        out.unit = unit
        pl = np.ones(exp.shape)
        if app == "PS" and exp.pathloss_ps is not None:
            pl = exp.pathloss_ps
        elif app == "UN" and exp.pathloss_un is not None:
            pl = exp.pathloss_un
        pl = np.where(np.isfinite(pl) & (pl > 0), pl, np.nan)
        fac = scale * pl
        sci = exp.sci * fac
        valid = exp.valid & np.isfinite(sci)
        vfix = (exp.var_rnoise + exp.var_flat) * fac**2
        vpois = exp.var_poisson * fac**2
        gain = _poisson_gain(np.where(valid, sci, np.nan), np.where(valid, vpois, np.nan))
        smooth = _nan_running_median(np.where(valid, sci, np.nan), 9)
        smooth = np.where(np.isfinite(smooth), smooth, 0.0)
        vmodel = vfix + gain * np.maximum(smooth, 0.0)
        # keep the pipeline variance where the model cannot be formed
        vmodel = np.where(vmodel > 0, vmodel, (exp.var * fac**2))
        # cosmic-ray hits the jump step left: out of every background and difference image
        valid &= ~_exposure_hits(np.where(valid, sci, np.nan), vmodel)
        out.sci.append(np.where(valid, sci, np.nan))
        out.var_model.append(np.where(valid, vmodel, np.nan))
        out.var_fixed.append(np.where(valid, vfix, np.nan))
        out.gain.append(gain)
        out.valid.append(valid & (vmodel > 0))
        out.reapply.append(pl if (mode == "keep" and app == "PS") else None)
    return out


def _exposure_hits(
    sci: np.ndarray, var: np.ndarray, nsigma: float = 8.0, fraction: float = 0.15
) -> np.ndarray:
    """Cosmic-ray hits in an exposure (what the jump step missed), before nod subtraction.

    A pixel is a hit when it exceeds the median of its 3x3 neighbourhood by ``nsigma``
    standard deviations and by three times that median, and its two neighbours across the
    dispersion (rows) or its two neighbours along it (columns) carry less than ``fraction``
    of its excess. Light that came through the spectrograph is spread both ways: across by
    the PSF (an undersampled sigma = 0.5 px core still puts ~25 % of its peak into the next
    row), along by the continuum or the line spread function (about two pixels per
    resolution element). A hit, or a two-pixel hit along either axis, is sharp in at least
    one direction. Masking hits before nod subtraction matters: a hit in a background nod is
    otherwise smeared over the smoothed background of the others.
    """
    from scipy.ndimage import median_filter

    filled = np.where(np.isfinite(sci), sci, 0.0)
    med = median_filter(filled, size=3, mode="nearest")

    def brighter_neighbour(axis):
        a = np.roll(filled, 1, axis=axis)
        b = np.roll(filled, -1, axis=axis)
        return np.maximum(a, b) - med

    with np.errstate(invalid="ignore"):
        excess = filled - med
        sharp = (brighter_neighbour(0) < fraction * excess) | (
            brighter_neighbour(1) < fraction * excess
        )
        return (
            np.isfinite(sci)
            & (excess > nsigma * np.sqrt(var))
            & (excess > 3.0 * np.abs(med))
            & sharp
        )


def _cosmic_ray_mask(sci: np.ndarray, var: np.ndarray, nsigma: float = 8.0) -> np.ndarray:
    """Isolated outliers (cosmic-ray-like) of either sign in a difference image.

    A pixel is flagged when it differs from the median of its 3x3 neighbourhood by ``nsigma``
    standard deviations and by three times that median. A hit left in a background exposure
    shows as a negative outlier in the differences that use it. Used only to keep the trace
    fit off hits (see :func:`_exposure_hits` for the exposures themselves); the extraction
    rejects outliers against the model.
    """
    from scipy.ndimage import median_filter

    filled = np.where(np.isfinite(sci), sci, 0.0)
    med = median_filter(filled, size=3, mode="nearest")
    with np.errstate(invalid="ignore"):
        excess = np.abs(filled - med)
        return (excess > nsigma * np.sqrt(var)) & (excess > 3.0 * np.abs(med))


def _no_background(prep: _Prepared, n: int) -> list:
    from slitwise.background.nod import NodDifference

    out = []
    for i in range(n):
        zero = np.zeros_like(prep.sci[i])
        out.append(
            NodDifference(
                sci=prep.sci[i].copy(), var=prep.var_model[i].copy(), background=zero,
                var_background=zero, weights=np.zeros((n, *zero.shape)), background_exposures=(),
            )
        )  # fmt: skip
    return out


def _diff_arrays(prep: _Prepared, diffs, reapply=True):
    sci, var, weights, bkg = [], [], [], []
    for i, d in enumerate(diffs):
        s, v = d.sci, d.var
        if reapply and prep.reapply[i] is not None:
            s = s / prep.reapply[i]
            v = v / prep.reapply[i] ** 2
        sci.append(s)
        var.append(v)
        weights.append(d.weights)
        bkg.append(d.background)
    return sci, var, weights, bkg


def _source_masks(trace: TraceProfile, waves: list[np.ndarray], width: float) -> list[np.ndarray]:
    masks = []
    for e, wave in enumerate(waves):
        rows = np.arange(wave.shape[0])[:, None]
        cols = np.arange(wave.shape[1])[None, :]
        with np.errstate(invalid="ignore"):
            dist = np.abs(rows - trace.centre(cols, e))
            half = np.maximum(width * trace.sigma(np.where(np.isfinite(wave), wave, 1.0)), 2.0)
        masks.append(np.isfinite(wave) & (dist < half + 0.5))
    return masks


def _without_images(table: PixelTable, excluded) -> PixelTable:
    """The table with no negative source image from excluded (source-less) exposures."""
    if table.neg_weights is None or not excluded:
        return table
    neg = table.neg_weights.copy()
    neg[:, sorted(excluded)] = 0.0
    return dataclasses.replace(table, neg_weights=neg)


def _residual_background(table, resid, used, trace, window, mask_width, other_traces=()):
    """Per-exposure, per-column median of the residual away from all traces, smoothed."""
    nx = int(table.col.max()) + 1
    bkg = np.zeros(table.sci.size)
    bvar = np.zeros(table.sci.size)
    away = used.copy()
    for t in (trace, *other_traces):
        for e in range(table.n_exp):
            sel = table.exp == e
            dist = np.abs(table.row[sel] - t.centre(table.col[sel], e))
            half = np.maximum(mask_width * t.sigma(table.wave[sel]), 2.0) + 0.5
            away[np.flatnonzero(sel)[dist < half]] = False
        if table.neg_weights is not None:
            for j in range(table.n_exp):
                negsel = table.neg_weights[:, j] > 0
                if np.any(negsel):
                    dist = np.abs(table.row[negsel] - t.centre(table.col[negsel], j))
                    half = np.maximum(mask_width * t.sigma(table.wave[negsel]), 2.0) + 0.5
                    away[np.flatnonzero(negsel)[dist < half]] = False
    for e in range(table.n_exp):
        sel = (table.exp == e) & away
        if np.count_nonzero(sel) < 20:
            continue
        cols = table.col[sel].astype(int)
        med = np.full(nx, np.nan)
        cnt = np.bincount(cols, minlength=nx)
        order = np.lexsort((resid[sel], cols))
        sorted_r = resid[sel][order]
        starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        for c in np.flatnonzero(cnt >= 3):
            med[c] = sorted_r[starts[c] + cnt[c] // 2]
        good = np.isfinite(med)
        num = uniform_filter1d(np.where(good, med, 0.0), window, mode="nearest")
        den = uniform_filter1d(good.astype(float), window, mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            sm = np.where(den > 0, num / den, 0.0)
        allsel = table.exp == e
        bkg[allsel] = sm[table.col[allsel].astype(int)]
        # variance of a median of n pixels ~ (pi/2) var / n, averaged over the window
        nrow = np.maximum(np.median(cnt[cnt > 0]), 1.0)
        bvar[allsel] = (np.pi / 2) * table.var[allsel] / (nrow * max(window, 1))
    return bkg, bvar


def _pixel_terms(table: PixelTable, prep: _Prepared, bkg, diffs):
    """Per-pixel terms of the variance model: sky (background frame), gain, fixed variance,
    background variance and the re-applied path-loss factor."""

    def take(frames, fill_nan=False):
        out = []
        for e in range(len(frames)):
            sel = table.exp == e
            if frames[e] is None:
                out.append(np.ones(np.count_nonzero(sel)))
                continue
            v = frames[e].ravel()[table.flat_index[sel]]
            out.append(np.nan_to_num(v) if fill_nan else v)
        return np.concatenate(out)

    return (
        take(bkg, fill_nan=True),
        take(prep.gain),
        take(prep.var_fixed),
        take([d.var_background for d in diffs], fill_nan=True),
        take(prep.reapply),
    )


def _slit_frame_y(exposures, table: PixelTable, trace: TraceProfile) -> np.ndarray:
    """Slit-frame y (JWST convention, the cut-outs' ``yslit``) of a trace's centre in each
    exposure: median over the columns where the trace lies on finite ``yslit``; NaN where
    there is none (no ``yslit``, or the trace off the cut-out)."""
    out = np.full(len(exposures), np.nan)
    for e, exp in enumerate(exposures):
        ys = exp.yslit
        cols = np.unique(table.col[table.exp == e].astype(int))
        if ys is None or cols.size == 0:
            continue
        rows = trace.centre(cols, e)
        i = np.floor(rows).astype(int)
        ok = (i >= 0) & (i < ys.shape[0] - 1)
        i, c, frac = i[ok], cols[ok], (rows - np.floor(rows))[ok]
        vals = ys[i, c] + frac * (ys[i + 1, c] - ys[i, c])
        vals = vals[np.isfinite(vals)]
        if vals.size >= max(5, 0.2 * cols.size):
            out[e] = float(np.median(vals))
    return out


def _secondary_throughput(exposures, table: PixelTable, trace: TraceProfile, mode: str):
    """``f(j, wave)``: a secondary source's transmission in exposure ``j`` relative to what
    the data were corrected for.

    The secondary sits elsewhere in its shutter than the primary, often close to a bar, so
    the primary's path-loss correction does not apply to it. Its intra-shutter y comes from
    the slit-frame coordinate of its trace; its x is unknown (assumed centred). With the
    point-source correction of the primary kept in the data ('keep'), the factor is the
    secondary's fraction through the shutter over the primary's point-source fraction; with
    no correction in the data ('model') it is the fraction itself; 'none' (and cut-outs
    without ``yslit``) leave the secondary uncorrected (factor 1).
    """
    y = _slit_frame_y(exposures, table, trace)
    intra = intra_shutter_y(y)
    resolved = np.sqrt(max(trace.source_sigma**2 - UNRESOLVED_SIGMA_PIX**2, 0.0))
    size = (resolved if mode == "keep" else trace.source_sigma) * NIRSPEC_PIXEL_ARCSEC
    if mode == "none" or not np.any(np.isfinite(intra)):
        if mode != "none":
            log.info("secondary source: no slit-frame coordinate, its slit loss not modelled")
        return None

    def factor(j: int, wave: np.ndarray) -> np.ndarray:
        if not np.isfinite(intra[j]):
            return np.ones_like(wave)
        own = shutter_fraction(wave, ypos=float(intra[j]), source_sigma_arcsec=size,
                               psf_scale=trace.psf_scale)  # fmt: skip
        if mode != "keep":
            return own
        e = exposures[j]
        applied = shutter_fraction(wave, xpos=e.source_xpos, ypos=e.source_ypos,
                                   psf_scale=trace.psf_scale)  # fmt: skip
        return own / applied

    return factor


def _fit_secondary_size(table, data, models, traces, k, res) -> TraceProfile:
    """Trace ``k`` (a secondary) with its intrinsic size fitted: least squares of the pixels
    with every source's amplitude per bin solved again for each trial size (fixed pixel
    variances and rejections of ``res``). A size imposed on the primary from another
    disperser does not apply to it."""
    from scipy.optimize import minimize_scalar

    w = np.where(res.used, 1.0 / res.pixvar, 0.0)

    def chi2(size: float) -> float:
        trial = dataclasses.replace(traces[k], source_sigma=float(size))
        ms = list(models)
        ms[k] = model_matrix(table, trial)
        sol = horne_solve(data, ms, table.bin, table.nbins, variance=res.pixvar,
                          sigma_clip=0.0, max_iter=1, used=res.used)  # fmt: skip
        model = sum(np.nan_to_num(sol.flux[j])[table.bin] * ms[j] for j in range(len(ms)))
        return float(np.sum(w * (data - model) ** 2))

    best = minimize_scalar(chi2, bounds=(0.05, 3.0), method="bounded",
                           options={"xatol": 0.02})  # fmt: skip
    return dataclasses.replace(traces[k], source_sigma=float(best.x))


def empirical_error_scale(table: PixelTable, data, models, res, traces, *, chunks: int = 6,
                          min_pixels: int = 100) -> np.ndarray | None:
    """Per-pixel factor on the errors that gives the residuals unit robust scatter.

    Residuals ``(data - model) / sqrt(pixvar)`` of the used pixels more than ``max(3 sigma,
    2)`` rows from every image of every source (own and negative nod images) and off the
    slitlet edges are split into ``chunks`` wavelength ranges of equal counts; each range's
    scatter (1.4826 MAD) is interpolated in wavelength. None when fewer than ``min_pixels``
    such pixels exist in every range.
    """
    model = sum(np.nan_to_num(res.flux[k])[table.bin] * models[k] for k in range(len(models)))
    resid = (data - model) / np.sqrt(res.pixvar)
    away = res.used & np.isfinite(resid) & ~edge_rows(table)
    for t in traces:
        half = np.maximum(3.0 * t.sigma(table.wave), 2.0) + 0.5
        for j in range(table.n_exp):  # image rows of nod j (own in j, negative elsewhere)
            away &= np.abs(table.row - t.centre(table.col, j)) >= half
    if np.count_nonzero(away) < min_pixels:
        return None
    wave, r = table.wave[away], resid[away]
    edges = np.quantile(wave, np.linspace(0.0, 1.0, chunks + 1))
    centres, scales = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (wave >= lo) & (wave <= hi)
        if np.count_nonzero(sel) >= min_pixels:
            x = r[sel]
            centres.append(float(np.median(wave[sel])))
            scales.append(1.4826 * float(np.median(np.abs(x - np.median(x)))))
    if not scales:
        return None
    return np.interp(table.wave, centres, scales)


def _refit_trace(table, data, trace, used, step, opt, ref) -> TraceProfile:
    """Trace and profile refitted to ``data`` near the current trace's images (every
    ``step``-th column of the ``used`` pixels), starting from its centres."""
    cen = np.polyval(trace.coeffs, 0.0) + np.asarray(trace.offsets)
    keep = used & (np.abs(table.row - cen[table.exp]) < 6.0)
    keep &= (table.col.astype(int) % step) == 0
    return fit_trace_profile(
        dataclasses.replace(table, sci=data).subset(keep), centres0=cen, kind=opt.profile,
        degree=opt.trace_degree, reference=ref,
    )  # fmt: skip


def extract_group(
    exposures: list[SlitletExposure],
    *,
    options: ExtractOptions | None = None,
    stuck_shutters: dict[int, tuple[int, ...]] | None = None,
    background_overrides: dict[int, tuple[int, ...]] | None = None,
    impose: TraceProfile | None = None,
    name: str | None = None,
) -> GroupExtraction:
    """Extract every source of one nod group (one slitlet, one disperser, one configuration).

    Parameters
    ----------
    exposures : list of SlitletExposure
        Cut-outs of the nod pattern (same shape and disperser).
    options : ExtractOptions, optional
        Extraction options.
    stuck_shutters : dict, optional
        Exposure index -> 1-based shutters known to be stuck closed.
    background_overrides : dict, optional
        Exposure index -> nod positions to use as its background.
    impose : TraceProfile, optional
        Profile from another disperser whose source size and PSF scale are imposed.
    name : str, optional
        Source name (default: the exposures' source name).

    Returns
    -------
    GroupExtraction

    Raises
    ------
    SlitwiseInputError
        No wavelength information, mixed dispersers or shapes, or fewer than two nods.
    """
    opt = options or ExtractOptions()
    if not exposures:
        raise input_error("extract_group", "no exposures given")
    name = name or exposures[0].source_name or str(exposures[0].source_id)
    for e in exposures:
        if not np.any(np.isfinite(e.wave)):
            raise input_error(
                e.meta.get("filename", "cut-out"), "WAVELENGTH has no finite value; "
                "wavelength information is required for extraction"
            )
    prep = _prepare(exposures, opt.pathloss)
    excluded: dict[int, str] = {}
    stuck = configured_stuck_exposures(exposures, stuck_shutters)
    for i in stuck:
        excluded[i] = "source shutter stuck closed (configured)"
    grid = wavelength_grid(
        exposures[0].wave, prism=exposures[0].grating == "PRISM", oversample=opt.oversample
    )
    waves = [e.wave for e in exposures]

    # pass 1: plain differences, trace fit
    local = opt.background == "local" or len({e.nod_position for e in exposures}) < 2
    if local:
        if opt.background != "local":
            log.warning("%s: a single nod position; using a local background", name)
        diffs = _no_background(prep, len(exposures))
    else:
        diffs = nod_subtract(
            prep.sci, prep.var_model, exposures, valid=prep.valid,
            overrides=background_overrides, excluded=set(),
        )  # fmt: skip
    sci, var, weights, bkg = _diff_arrays(prep, diffs)
    crs = [_cosmic_ray_mask(s, v) for s, v in zip(sci, var, strict=True)]
    table = build_pixel_table(sci, var, waves, grid, neg_weights=weights,
                              use=[~c for c in crs])  # fmt: skip
    if table.sci.size == 0:
        raise input_error(name, "no usable pixels after nod subtraction")
    centres, signif = initial_centres(
        table, nod_offsets_arcsec=np.array([e.meta.get("nod_offset", 0.0) for e in exposures])
    )
    if opt.detect_stuck and len(exposures) > 2:
        # a source missing from one nod already shows in the collapsed difference images; the
        # trace fit must not try to put it there (the amplitude test below confirms others)
        for e in detect_missing_source(signif, np.ones_like(signif)):
            if e not in excluded:
                excluded[e] = "source signal missing (stuck-closed shutter detected)"
                stuck.setdefault(e, set())
                log.warning(
                    "%s: no source signal in nod %d (S/N %.1f vs %.1f in the others); "
                    "stuck-closed shutter, exposure not extracted",
                    exposures[e].meta.get("filename", name), exposures[e].nod_position,
                    signif[e], np.median(np.delete(signif, e)),
                )  # fmt: skip
    use = [np.full(s.shape, i not in excluded) for i, s in enumerate(sci)]
    keep_fit = np.isin(table.exp, list(excluded), invert=True)
    table = _without_images(table.subset(keep_fit), excluded)
    fix_s = impose.source_sigma if impose is not None else None
    fix_a = impose.psf_scale if impose is not None else None
    # fit on pixels near a source image (own or negative nod images) only
    sub = np.zeros(table.sci.size, dtype=bool)
    for c in centres:
        sub |= np.abs(table.row - c) < 6.0
    # the trace is smooth along the dispersion: every k-th column is enough for the shape fit
    step = max(1, int(np.ceil((table.col.max() - table.col.min() + 1) / 200)))
    sub &= (table.col.astype(int) % step) == 0
    trace = fit_trace_profile(
        table.subset(sub), centres0=centres, kind=opt.profile, degree=opt.trace_degree,
        fix_source_sigma=fix_s, fix_psf_scale=fix_a, reference=int(np.argmax(signif)),
    )  # fmt: skip
    fit_excluded = set(excluded)

    # pass 2: source masked in the backgrounds, background smoothed along the dispersion
    method = "local" if local else "nod"
    masked_backgrounds = not local and (opt.mask_source_in_background or opt.background_smooth > 1)

    def background_pass(mask_traces):
        # nod backgrounds with the given sources masked, smoothed along the dispersion
        masks = None
        if opt.mask_source_in_background:
            per_trace = [_source_masks(t, waves, 3.0) for t in mask_traces]
            masks = [np.logical_or.reduce([m[e] for m in per_trace]) for e in range(len(waves))]
        d = nod_subtract(
            prep.sci, prep.var_model, exposures, valid=prep.valid, source_masks=masks,
            smooth=opt.background_smooth, overrides=background_overrides, excluded=set(),
        )  # fmt: skip
        s, v, w, b = _diff_arrays(prep, d)
        tab = build_pixel_table(s, v, waves, grid, neg_weights=w, use=use)
        return _without_images(tab, excluded), b, d

    if masked_backgrounds:
        table, bkg, diffs = background_pass([trace])
        method = f"nod-masked-smooth{opt.background_smooth}"
    sky_pix, gain_pix, vfix_pix, vbkg_pix, reap_pix = _pixel_terms(table, prep, bkg, diffs)
    resbkg = np.zeros(table.sci.size)
    resvar = np.zeros(table.sci.size)

    def variance_model(model_total):
        own = np.maximum(sky_pix + resbkg * reap_pix + np.maximum(model_total, 0) * reap_pix, 0)
        v = vfix_pix + gain_pix * own + vbkg_pix
        return v / reap_pix**2 + resvar

    traces = [trace]
    used = np.ones(table.sci.size, dtype=bool)
    res = None
    window = max(opt.residual_background, 9) if local else opt.residual_background
    for _ in range(3 if local else (2 if window > 0 else 1)):
        data = table.sci - resbkg
        models = [model_matrix(table, t) for t in traces]
        res = horne_solve(
            data, models, table.bin, table.nbins, variance=variance_model,
            sigma_clip=opt.sigma_clip, used=used & np.isin(table.exp, list(excluded), invert=True),
        )  # fmt: skip
        if window > 0:
            model_total = sum(res.flux[k][table.bin] * models[k] for k in range(len(models)))
            resbkg, resvar = _residual_background(
                table, table.sci - model_total, res.used, trace, window, 3.0,
            )  # fmt: skip
    models = [model_matrix(table, trace)]

    # stuck-closed source shutters: the source signal is missing in one nod
    if opt.detect_stuck and table.n_exp > 2:
        fm = res.flux[0][table.bin] * models[0]
        w = np.where(res.used, 1.0 / res.pixvar, 0.0)
        data = table.sci - resbkg
        amp = np.zeros(table.n_exp)
        aerr = np.full(table.n_exp, np.inf)
        for e in range(table.n_exp):
            sel = (table.exp == e) & (fm > 0)
            den = np.sum(w[sel] * fm[sel] ** 2)
            if den > 0:
                amp[e] = np.sum(w[sel] * data[sel] * fm[sel]) / den
                aerr[e] = 1.0 / np.sqrt(den)
        for e in detect_missing_source(amp, aerr):
            if e not in excluded:
                excluded[e] = "source signal missing (stuck-closed shutter detected)"
                log.warning(
                    "%s: source signal missing in nod %d (amplitude %.2f +- %.2f); "
                    "stuck-closed shutter, exposure not extracted",
                    exposures[e].meta.get("filename", name), exposures[e].nod_position,
                    amp[e], aerr[e],
                )  # fmt: skip
                stuck.setdefault(e, set())

    base_used = np.isin(table.exp, list(excluded), invert=True)
    table = _without_images(table, excluded)
    data = table.sci - resbkg
    if set(excluded) != fit_excluded and impose is None:
        # refit the profile without the exposures found to hold no source
        ref = int(np.flatnonzero(np.isin(np.arange(table.n_exp), list(excluded),
                                         invert=True))[0])  # fmt: skip
        trace = _refit_trace(table, data, trace, base_used, step, opt, ref)
        traces = [trace]
        models = [model_matrix(table, trace)]
    res = horne_solve(
        data, models, table.bin, table.nbins, variance=variance_model,
        sigma_clip=opt.sigma_clip, used=base_used,
    )  # fmt: skip

    # secondary sources, deblended with the primary
    thr = [None]
    if opt.serendips and opt.max_secondaries > 0:
        dys = find_secondary_sources(
            table, traces, res.pixvar, used=base_used,
            max_sources=opt.max_secondaries,
        )  # fmt: skip
        if dys:
            traces = [trace] + [
                dataclasses.replace(t, visible=visibility(table, t))
                for t in (trace.shifted(dy, 0.5) for dy in dys)
            ]
            # each secondary's own slit loss, in its models: its amplitude is its flux
            thr = [None] + [
                _secondary_throughput(exposures, table, t, prep.pl_mode) for t in traces[1:]
            ]
            rebuilt = not local and opt.mask_source_in_background and opt.background_smooth > 1
            if rebuilt:
                # the secondaries were not masked in the backgrounds, where the smoothing along
                # the dispersion spread their negative images (lines lose their peaks there,
                # and fitting sharp images to them biased line fluxes low by ~2x): rebuild
                # the backgrounds with every source masked (unsmoothed images are modelled
                # exactly, masked or not)
                table, bkg, diffs = background_pass(traces)
                sky_pix, gain_pix, vfix_pix, vbkg_pix, reap_pix = _pixel_terms(
                    table, prep, bkg, diffs
                )
                resbkg = np.zeros(table.sci.size)
                resvar = np.zeros(table.sci.size)
                base_used = np.isin(table.exp, list(excluded), invert=True)
            # the models on the (possibly rebuilt) pixel table
            models = [model_matrix(table, t, f) for t, f in zip(traces, thr, strict=True)]
            if rebuilt and window > 0:
                res = horne_solve(
                    table.sci, models, table.bin, table.nbins, variance=variance_model,
                    sigma_clip=opt.sigma_clip, used=base_used,
                )  # fmt: skip
                model_total = sum(res.flux[k][table.bin] * models[k]
                                  for k in range(len(models)))  # fmt: skip
                resbkg, resvar = _residual_background(
                    table, table.sci - model_total, res.used, trace, window, 3.0,
                    other_traces=traces[1:],
                )  # fmt: skip
            if rebuilt:
                data = table.sci - resbkg
            res = horne_solve(
                data, models, table.bin, table.nbins, variance=variance_model,
                sigma_clip=opt.sigma_clip, used=base_used,
            )  # fmt: skip
            if impose is None:
                # the primary's profile was fitted with the secondaries in the data, which
                # widens and pulls it when they are close: refit it with their fitted images
                # removed, then solve all amplitudes again
                others = sum(np.nan_to_num(res.flux[j])[table.bin] * models[j]
                             for j in range(1, len(models)))  # fmt: skip
                ref = int(np.argmin(np.abs(trace.offsets)))  # the same reference exposure
                trace = _refit_trace(table, data - others, trace, base_used, step, opt, ref)
                traces[0] = trace
                models[0] = model_matrix(table, trace)
                res = horne_solve(
                    data, models, table.bin, table.nbins, variance=variance_model,
                    sigma_clip=opt.sigma_clip, used=base_used,
                )  # fmt: skip
            # each secondary's size: it sets its profile and, near a bar, its slit loss
            for k in range(1, len(traces)):
                traces[k] = _fit_secondary_size(table, data, models, traces, k, res)
                thr[k] = _secondary_throughput(exposures, table, traces[k], prep.pl_mode)
                models[k] = model_matrix(table, traces[k], thr[k])
            res = horne_solve(
                data, models, table.bin, table.nbins, variance=variance_model,
                sigma_clip=opt.sigma_clip, used=base_used,
            )  # fmt: skip

    error_scale = 1.0
    if opt.rescale_errors:
        scale = empirical_error_scale(table, data, models, res, traces)
        if scale is None:
            log.warning("%s: too few pixels away from the sources to rescale the errors", name)
        else:
            error_scale = float(np.median(scale))
            log.info("%s: pixel errors scaled by %.3f (median; %.3f-%.3f)", name,
                     error_scale, scale.min(), scale.max())  # fmt: skip
            unscaled = variance_model

            def variance_model(model_total, _s2=scale**2):
                return unscaled(model_total) * _s2

            res = horne_solve(
                data, models, table.bin, table.nbins, variance=variance_model,
                sigma_clip=opt.sigma_clip, used=base_used,
            )  # fmt: skip

    # path loss
    xpos = float(np.mean([e.source_xpos for e in exposures]))
    ypos = float(np.mean([e.source_ypos for e in exposures]))
    sources = []
    # rectification weights without the source term, so the mean of a bin is unbiased
    rect_w = 1.0 / variance_model(np.zeros(table.sci.size))
    for k, t in enumerate(traces):
        dy = 0.0 if k == 0 else float(t.coeffs[-1] - trace.coeffs[-1])
        own_thr = thr[k] if k > 0 else None
        if own_thr is not None:
            # a secondary's slit loss is inside its model (see _secondary_throughput); the
            # column holds the mean correction over the exposures that see it
            seen = [e for e in range(table.n_exp)
                    if t.visible is None or t.visible[e]] or [0]  # fmt: skip
            mean_thr = np.mean([own_thr(e, grid) for e in seen], axis=0)
            with np.errstate(divide="ignore"):
                path_col = np.where(mean_thr > 0, 1.0 / mean_thr, np.nan)
            corr = np.ones(grid.size)
        elif prep.pl_mode == "model":
            corr = pathloss_correction(
                grid, xpos=xpos, ypos=ypos,
                source_sigma_arcsec=t.source_sigma * NIRSPEC_PIXEL_ARCSEC,
                psf_scale=t.psf_scale, include_y=False,
            )  # fmt: skip
        elif prep.pl_mode == "keep" and opt.pathloss_size:
            resolved = np.sqrt(max(t.source_sigma**2 - UNRESOLVED_SIGMA_PIX**2, 0.0))
            corr = pathloss_correction(
                grid, xpos=xpos, ypos=ypos,
                source_sigma_arcsec=resolved * NIRSPEC_PIXEL_ARCSEC, psf_scale=t.psf_scale,
                reference="point_here",
            )  # fmt: skip
        else:
            corr = np.ones(grid.size)
        if own_thr is None:
            path_col = corr
        flux = res.flux[k] * corr
        err = np.sqrt(res.var[k]) * corr
        bad = ~np.isfinite(err) | ~(err > 0)
        flux[bad] = np.nan
        err[bad] = np.nan
        # rectified 2D and profile relative to this source's own trace
        rect_k = rectify(
            table, t, grid, half_height=opt.half_height, data=data, variance=res.pixvar,
            used=res.used, weights=rect_w, meta={"source": name},
        )  # fmt: skip
        prof2d = profile_values(
            rect_k.y[:, None], np.broadcast_to(t.sigma(grid), (rect_k.y.size, grid.size)),
            kind=t.kind,
        )  # fmt: skip
        # boxcars on the unrectified pixels, other sources' models removed
        others = sum(
            (res.flux[j][table.bin] * models[j] for j in range(len(traces)) if j != k),
            np.zeros(table.sci.size),
        )
        dy_pix = table.row - t.centre(table.col, table.exp)
        own = t.profile(table.row, table.col, table.wave, table.exp)
        box_used = res.used
        if own_thr is not None:
            for e in range(table.n_exp):
                sel = table.exp == e
                own[sel] *= own_thr(e, table.wave[sel])
            box_used = res.used & (own > 0)  # not the exposures that do not see it
        boxes = {}
        for w in opt.boxcar_widths:
            bf, bv = boxcar_pixels(
                data - others, res.pixvar, dy_pix, own, table.bin, table.nbins, width=w,
                sigma=t.sigma(grid), used=box_used,
            )  # fmt: skip
            boxes[int(w)] = (bf * corr, np.sqrt(bv) * corr)
        sources.append(
            SourceResult(
                name=name if k == 0 else f"{name}_s{k}",
                serendip=k > 0,
                trace=t,
                wave=grid,
                flux=flux,
                err=err,
                path_corr=path_col,
                boxcar=boxes,
                rect=rect_k,
                profile2d=prof2d,
                dy=dy,
            )
        )
    return GroupExtraction(
        sources=sources,
        exposures=exposures,
        excluded=excluded,
        stuck={k: set(v) for k, v in stuck.items()},
        background_method=method,
        pathloss_mode=prep.pl_mode,
        table=table,
        pixvar=res.pixvar,
        used=res.used,
        error_scale=error_scale,
    )


def profile_weights(result: SourceResult, widths=(3, 4, 5)) -> dict[str, np.ndarray]:
    """Mean extraction weights per rectified row for the optimal and boxcar methods."""
    y = result.rect.y
    prof = np.nanmean(result.profile2d, axis=1)
    out = {"weight_optimal": prof / np.nansum(prof)}
    for w in widths:
        out[f"weight_box{w}"] = aperture_weights(y, 0.0, w)
    return out
