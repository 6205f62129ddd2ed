"""Iterative detector-level cleaning of a count-rate frame (the public entry point).

Each pass re-estimates, in order and each on the frame minus all the *other* components
(backfitting), with the traces, the fixed-slit region, bad pixels and flagged outliers masked:

1. the picture-frame pedestal (:mod:`slitwise.detector.pedestal`),
2. the smooth 2-D background (:mod:`slitwise.detector.background2d`),
3. column 1/f offsets per amplifier band (:mod:`slitwise.detector.onef`),
4. row 1/f offsets (PRISM only by default).

After each pass, clustered outliers (snowballs, cosmic-ray residuals) are searched outside
the traces and added to the mask. Finally the read-noise variance is rescaled to the scatter
of the cleaned source-free pixels (:mod:`slitwise.detector.variance`).
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
from astropy.table import QTable

from slitwise.detector.background2d import fit_background2d
from slitwise.detector.frames import DQ_DO_NOT_USE, DQ_JUMP_DET, RateFrame
from slitwise.detector.onef import column_offsets, row_offsets
from slitwise.detector.outliers import flag_clustered_outliers
from slitwise.detector.pedestal import (
    BAND_ROWS,
    fit_pedestal,
    picture_frame_template,
    read_pedestal_template,
)
from slitwise.detector.stats import robust_std
from slitwise.detector.traces import (
    FIXED_SLIT_ROWS,
    detect_trace_mask,
    fixed_slit_mask,
    trace_mask,
)
from slitwise.detector.variance import VarianceRescale, measure_variance_rescale
from slitwise.errors import input_error

__all__ = [
    "clean_frame",
    "build_source_mask",
    "CleanResult",
    "CleanRecord",
    "COMPONENTS",
    "naive_column_clean",
]

log = logging.getLogger(__name__)

#: Model components, in the order each pass estimates them.
COMPONENTS = ("pedestal", "background2d", "column_1f", "row_1f")


@dataclasses.dataclass(frozen=True)
class CleanRecord:
    """What the cleaning did: amplitudes of each component, passes and variance factor.

    Attributes
    ----------
    n_passes : int
        Passes run.
    pedestal_amplitudes : tuple of float
        Template amplitude per amplifier band (frame units, DN/s).
    background_median, background_rms : float
        Median and RMS (about the median) of the 2-D background model.
    column_rms, row_rms : float
        RMS of the column and row 1/f models (0 when not applied).
    row_1f : bool
        Whether row offsets were fitted.
    read_noise_factor : float
        Factor applied to VAR_RNOISE.
    scatter_ratio : float
        Robust std of cleaned/ERR in source-free pixels before the rescaling.
    n_outlier_pixels : int
        Pixels newly flagged as clustered outliers.
    masked_fraction : float
        Fraction of pixels excluded from the estimates (traces, fixed slits, bad pixels).
    trace_source : str
        ``"table"``, ``"mask"``, ``"detected"`` or a ``+``-joined combination.
    box_size : int
        2-D background box size.
    history : tuple of dict
        Per pass: component amplitudes and the largest change of the total model.
    """

    n_passes: int
    pedestal_amplitudes: tuple[float, ...]
    background_median: float
    background_rms: float
    column_rms: float
    row_rms: float
    row_1f: bool
    read_noise_factor: float
    scatter_ratio: float
    n_outlier_pixels: int
    masked_fraction: float
    trace_source: str
    box_size: int
    history: tuple[dict, ...] = ()

    def header_keywords(self) -> dict[str, tuple[object, str]]:
        """FITS keywords ``{KEY: (value, comment)}`` recording this cleaning."""

        def f(x: float) -> float:
            return float(f"{x:.6g}") if np.isfinite(x) else 0.0

        kw: dict[str, tuple[object, str]] = {
            "CLNPASS": (self.n_passes, "slitwise clean: passes of the iterative model"),
            "CLNBOX": (self.box_size, "2-D background box size (pixels)"),
            "CLNBKGMD": (f(self.background_median), "2-D background median (DN/s)"),
            "CLNBKGRM": (f(self.background_rms), "2-D background RMS (DN/s)"),
            "CLNCOLRM": (f(self.column_rms), "column 1/f model RMS (DN/s)"),
            "CLNROW1F": (bool(self.row_1f), "row 1/f offsets fitted"),
            "CLNROWRM": (f(self.row_rms), "row 1/f model RMS (DN/s)"),
            "CLNVARF": (f(self.read_noise_factor), "factor applied to VAR_RNOISE"),
            "CLNSCAT": (f(self.scatter_ratio), "robust std(cleaned/ERR) source-free, before"),
            "CLNNOUT": (self.n_outlier_pixels, "pixels flagged as clustered outliers"),
            "CLNMASKF": (f(self.masked_fraction), "fraction of pixels masked in the fits"),
            "CLNTRACE": (self.trace_source, "origin of the trace mask"),
        }
        for i, a in enumerate(self.pedestal_amplitudes, start=1):
            kw[f"CLNPED{i}"] = (f(a), f"picture-frame amplitude, band {i} (DN/s)")
        return kw


@dataclasses.dataclass(frozen=True, eq=False)
class CleanResult:
    """Output of :func:`clean_frame`.

    Attributes
    ----------
    frame : RateFrame
        The cleaned frame (SCI minus the model, DQ with outliers, VAR_RNOISE/ERR rescaled).
    components : dict of str to ndarray
        Each model component (:data:`COMPONENTS`), same shape as the frame.
    mask : ndarray of bool
        Trace and fixed-slit mask used.
    outliers : ndarray of bool
        Clustered outliers flagged.
    record : CleanRecord
        Amplitudes, passes and variance factor.
    """

    frame: RateFrame
    components: dict[str, np.ndarray]
    mask: np.ndarray
    outliers: np.ndarray
    record: CleanRecord

    @property
    def model(self) -> np.ndarray:
        """Sum of all components."""
        return sum(self.components.values())


def _resolve_template(template, shape, origin) -> np.ndarray | None:
    if template is False:
        return None
    if template is None:
        return picture_frame_template(shape, origin=origin)
    if isinstance(template, str | os.PathLike):
        return read_pedestal_template(template, shape, origin=origin)
    arr = np.asarray(template, dtype=float)
    if arr.shape != tuple(shape):
        raise input_error("template", f"shape {arr.shape} does not match the frame {shape}")
    return arr


def build_source_mask(
    frame: RateFrame,
    *,
    traces: QTable | None = None,
    mask: np.ndarray | None = None,
    detect: bool | None = None,
    mask_dilate: float = 1.0,
    fixed_slit_rows: tuple[int, int] | None = FIXED_SLIT_ROWS,
) -> tuple[np.ndarray, str]:
    """Trace + fixed-slit mask of a frame and a word saying where the traces came from."""
    shape, origin = frame.shape, frame.origin
    out = fixed_slit_mask(shape, origin=origin, rows=fixed_slit_rows)
    source = []
    if traces is not None:
        out |= trace_mask(traces, shape, origin=origin, dilate=mask_dilate)
        source.append("table")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != shape:
            raise input_error("mask", f"shape {mask.shape} does not match the frame {shape}")
        out |= mask
        source.append("mask")
    if detect or (detect is None and not source):
        bad = ~np.isfinite(frame.sci) | ((frame.dq & DQ_DO_NOT_USE) > 0) | out
        out |= detect_trace_mask(frame.sci, mask=bad)
        source.append("detected")
    return out, "+".join(source)


def clean_frame(
    frame: RateFrame,
    *,
    traces: QTable | None = None,
    mask: np.ndarray | None = None,
    detect_traces: bool | None = None,
    template=None,
    n_passes: int = 5,
    box_size: int = 8,
    filter_size: int = 3,
    row_1f: bool | None = None,
    band_rows: int | None = BAND_ROWS,
    mask_dilate: float = 1.0,
    fixed_slit_rows: tuple[int, int] | None = FIXED_SLIT_ROWS,
    flag_outliers: bool = True,
    rescale_variance: bool = True,
) -> CleanResult:
    """Remove pedestal, smooth background and 1/f noise from a count-rate frame.

    Parameters
    ----------
    frame : RateFrame
        Input frame (not modified).
    traces : QTable, optional
        Trace table (see :mod:`slitwise.detector.traces`); masked following curvature.
    mask : ndarray of bool, optional
        Extra pixels to exclude from the estimates (True = source).
    detect_traces : bool, optional
        Detect traces in the data; default: only when neither ``traces`` nor ``mask`` given.
    template : None, False, ndarray or path
        Picture-frame template: None the built-in one, a path a FITS reference file that
        replaces it, False no pedestal.
    n_passes : int
        Passes of the iterative model (default 5).
    box_size, filter_size : int
        2-D background box size and box-map median filter (boxes).
    row_1f : bool, optional
        Fit row offsets; default only for the PRISM (GRATING keyword).
    band_rows : int or None
        Amplifier band height for the pedestal and column offsets (None: whole columns).
    mask_dilate : float
        Rows added to each trace's half-width.
    fixed_slit_rows : tuple of int or None
        Full-frame rows of the fixed-slit region, always masked (None: none).
    flag_outliers : bool
        Flag clustered outliers in DQ (DO_NOT_USE | JUMP_DET).
    rescale_variance : bool
        Rescale VAR_RNOISE (and ERR) to the observed scatter.

    Returns
    -------
    CleanResult
        Cleaned frame plus components and a :class:`CleanRecord`.

    Raises
    ------
    SlitwiseInputError
        For a bad trace table (off the frame), template or mask, or ``n_passes < 1``.
    """
    if int(n_passes) < 1:
        raise input_error("n_passes", f"got {n_passes}; expected an integer >= 1")
    if int(box_size) < 2:
        raise input_error("box_size", f"got {box_size}; expected an integer >= 2")
    shape, origin = frame.shape, frame.origin
    sci = frame.sci
    do_row = frame.is_prism if row_1f is None else bool(row_1f)
    bad = ~np.isfinite(sci) | ((frame.dq & DQ_DO_NOT_USE) > 0)
    source, trace_source = build_source_mask(
        frame,
        traces=traces,
        mask=mask,
        detect=detect_traces,
        mask_dilate=mask_dilate,
        fixed_slit_rows=fixed_slit_rows,
    )
    tmpl = _resolve_template(template, shape, origin)
    err = np.where(np.isfinite(frame.err) & (frame.err > 0), frame.err, np.nan)
    sigma = np.where(np.isfinite(err), err, robust_std(sci[~bad & ~source]))

    comps = {name: np.zeros(shape) for name in COMPONENTS}
    estimators = []
    if tmpl is not None:
        estimators.append(
            ("pedestal", lambda r, m: fit_pedestal(r, tmpl, m, origin=origin, band_rows=bands))
        )
    estimators.append(
        (
            "background2d",
            lambda r, m: fit_background2d(r, m, box_size=box_size, filter_size=filter_size),
        )
    )
    estimators.append(
        ("column_1f", lambda r, m: column_offsets(r, m, origin=origin, band_rows=band_rows))
    )
    if do_row:
        estimators.append(("row_1f", row_offsets))
    bands = band_rows or BAND_ROWS
    outliers = np.zeros(shape, dtype=bool)
    history = []
    amps = np.zeros(0)
    resid = sci.copy()  # always sci minus the sum of the components
    n_passes = int(n_passes)
    for i in range(n_passes):
        use = source | bad | outliers
        before = resid.copy()
        for name, estimate in estimators:
            partial = resid + comps[name]
            new = estimate(partial, use)
            if name == "pedestal":
                new, amps = new
            resid = partial - new
            comps[name] = new
        change = float(np.nanmax(np.abs(resid - before)))
        if flag_outliers and (i == 0 or i == n_passes - 1):
            outliers |= flag_clustered_outliers(resid, sigma, source | bad)
        history.append(
            {
                "pass": i + 1,
                "pedestal": [float(a) for a in amps],
                "background_rms": float(np.std(comps["background2d"][::4, ::4])),
                "column_rms": float(np.std(comps["column_1f"][:: max(shape[0] // 8, 1)])),
                "row_rms": float(np.std(comps["row_1f"][:, 0])),
                "max_change": change,
                "n_outliers": int(outliers.sum()),
            }
        )
        log.debug("pass %d: %s", i + 1, history[-1])

    # Medians sit below the mean of the (Poisson-skewed) noise by ~0.005 sigma; the flux under
    # a trace needs the mean background, so move the 2-D background by the clipped mean of the
    # residual in the fitted pixels (one number; outliers beyond 5 sigma excluded).
    level = _clipped_mean(resid[~(source | bad | outliers)])
    comps["background2d"] += level
    cleaned = resid - level
    out = frame.copy()
    out.sci = cleaned
    new_out = outliers & ~bad
    out.dq = frame.dq | np.where(new_out, DQ_DO_NOT_USE | DQ_JUMP_DET, 0).astype(np.uint32)

    rescale = VarianceRescale()
    if rescale_variance:
        use = source | bad | outliers
        if "VAR_RNOISE" in frame.var:
            v_rn = frame.var["VAR_RNOISE"]
            v_o = (
                sum(v for k, v in frame.var.items() if k != "VAR_RNOISE")
                if len(frame.var) > 1
                else None
            )
        else:
            v_rn, v_o = frame.err**2, None
        rescale = measure_variance_rescale(cleaned, v_rn, v_o, use)
        k = rescale.read_noise_factor
        if "VAR_RNOISE" in frame.var:
            out.var["VAR_RNOISE"] = frame.var["VAR_RNOISE"] * k
            out.err = np.sqrt(np.clip(frame.err**2 + (k - 1.0) * frame.var["VAR_RNOISE"], 0, None))
        else:
            out.err = frame.err * np.sqrt(k)

    bkg = comps["background2d"]
    bkg_med = float(np.median(bkg))
    record = CleanRecord(
        n_passes=int(n_passes),
        pedestal_amplitudes=tuple(float(a) for a in amps),
        background_median=bkg_med,
        background_rms=float(np.sqrt(np.mean((bkg - bkg_med) ** 2))),
        column_rms=float(np.std(comps["column_1f"])),
        row_rms=float(np.std(comps["row_1f"])),
        row_1f=do_row,
        read_noise_factor=rescale.read_noise_factor,
        scatter_ratio=rescale.scatter_ratio,
        n_outlier_pixels=int(new_out.sum()),
        masked_fraction=float((source | bad).mean()),
        trace_source=trace_source,
        box_size=int(box_size),
        history=tuple(history),
    )
    return CleanResult(frame=out, components=comps, mask=source, outliers=outliers, record=record)


def _clipped_mean(values: np.ndarray, *, nsigma: float = 5.0, stride: int = 4) -> float:
    """Mean of ``values`` within ``nsigma`` robust sigmas of the median (0 if none)."""
    v = values[::stride]
    v = v[np.isfinite(v)]
    if v.size < 100:
        return 0.0
    med = float(np.median(v))
    sig = robust_std(v)
    keep = np.abs(v - med) < nsigma * sig
    return float(v[keep].mean()) if keep.any() else 0.0


def naive_column_clean(sci: np.ndarray) -> np.ndarray:
    """The naive approach, for comparison: subtract each column's median over all pixels.

    No trace mask, no pedestal or 2-D background: the median of a column that crosses
    traces is pulled up by the source light, so the source flux is over-subtracted.
    """
    from slitwise.detector.stats import nanmedian

    return sci - nanmedian(sci, axis=0)[None, :]
