"""Full-frame NIRSpec count-rate images with known truth (for detector-level cleaning).

:func:`make_fullframe` builds one 2048 x 2048 (or subarray) rate-like frame in memory;
:func:`simulate_fullframe` writes, per detector (NRS1, NRS2)::

    {root}_{det}_rate.fits     SCI (DN/s), ERR, DQ, VAR_POISSON, VAR_RNOISE
    {root}_{det}_truth.fits    SCI: noiseless source-only image (MSA traces + fixed-slit light);
                               PEDESTAL, BACKGROUND, ONE_OVER_F: the nuisance components;
                               SIGMA: per-pixel white-noise sigma; OUTLIERS: injected
                               snowballs (2) and cosmic-ray residuals (1)
    {root}_{det}_traces.ecsv   trace table (:mod:`slitwise.detector.traces` format) with the
                               source id, redshift, total rate and an ``empty`` flag
    {root}_pictureframe.fits   the picture-frame template used (SCI, full frame)

Geometry (DMS orientation, dispersion along x): each trace is a curved spectrum whose
centre follows ``y_ref + slope (x - x_ref) + curvature (x - x_ref)**2`` with a pixel-
integrated Gaussian spatial profile (sigma ``profile_sigma`` rows). Its spectrum is the true
f_nu of a galaxy drawn by :func:`slitwise.simulate.sources.draw_source` on the disperser's
pixel grid, scaled to a total rate log-uniform in ``brightness`` (DN/s per column, mean over
the trace). ``n_empty`` traces carry no light (empty slitlets): they are in the table, so the
cleaning masks them, and give source-free pixels under a mask for validation.

Noise and nuisances (all in DN/s):

* picture frame: :func:`slitwise.detector.pedestal.picture_frame_template` times one
  amplitude per 512-row amplifier band (uniform in ``pedestal_range``);
* smooth background: ``background`` times a tilted plane plus three broad Gaussian blobs;
* 1/f read noise: each amplifier band is read along the columns (fast direction, 512 rows
  plus ``READ_OVERHEAD`` idle samples per column, odd amplifiers read backwards) and the
  column index is the slow direction; a time series with power spectrum proportional to 1/f
  (a ``common_fraction`` of its variance shared by the four amplifiers, read simultaneously)
  is laid out in that order and scaled to ``one_over_f_rms`` per pixel;
* Poisson noise of (source + background) over ``exptime`` (gain 1 e-/DN) and Gaussian read
  noise ``read_noise``; VAR_POISSON and VAR_RNOISE are the noiseless expectations (the 1/f
  noise is not in VAR_RNOISE, as in a ramp fit that ignores it);
* defects: dead pixels (NaN, DQ DO_NOT_USE|DEAD), hot pixels (DQ DO_NOT_USE|HOT), unflagged
  cosmic-ray residuals (1-3 pixels plus 2 % inter-pixel capacitance) and snowballs (disks of
  radius 3-7 pixels with an exponential halo).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import QTable
from scipy.special import ndtr

from slitwise.detector.frames import RateFrame, write_rate_frame
from slitwise.detector.pedestal import BAND_ROWS, FULL_SHAPE, picture_frame_template
from slitwise.detector.traces import FIXED_SLIT_ROWS, make_trace_table, trace_centre
from slitwise.errors import input_error
from slitwise.instruments import get_disperser
from slitwise.io.atomic import write_fits_atomic

__all__ = [
    "FullFrame",
    "FullFrameFiles",
    "make_fullframe",
    "simulate_fullframe",
    "one_over_f_noise",
    "READ_OVERHEAD",
    "DETECTORS",
]

#: Idle samples at the start of each column read (new-row overhead).
READ_OVERHEAD = 12
#: Detectors simulated by default.
DETECTORS = ("NRS1", "NRS2")
DQ_DEAD = 1024
DQ_HOT = 2048


@dataclasses.dataclass(frozen=True, eq=False)
class FullFrame:
    """One simulated frame and its truth.

    Attributes
    ----------
    rate : RateFrame
        The noisy rate-like frame.
    source : ndarray
        Noiseless source-only image (traces and fixed-slit light), DN/s.
    pedestal, background, one_over_f : ndarray
        Nuisance components added to the frame.
    sigma : ndarray
        Per-pixel white-noise sigma (Poisson and read noise).
    outliers : ndarray of uint8
        Injected snowballs (2) and cosmic-ray residuals (1).
    traces : QTable
        Trace table (full-frame coordinates).
    pedestal_amplitudes : tuple of float
        Picture-frame amplitude per amplifier band in the frame.
    """

    rate: RateFrame
    source: np.ndarray
    pedestal: np.ndarray
    background: np.ndarray
    one_over_f: np.ndarray
    sigma: np.ndarray
    outliers: np.ndarray
    traces: QTable
    pedestal_amplitudes: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class FullFrameFiles:
    """Paths written for one detector by :func:`simulate_fullframe`."""

    detector: str
    rate: Path
    truth: Path
    traces: Path


def _pink_series(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-variance series of length ``n`` with power spectrum proportional to 1/f."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    scale = np.zeros_like(f)
    scale[1:] = 1.0 / np.sqrt(f[1:])
    series = np.fft.irfft(spec * scale, n)
    return series / series.std()


def one_over_f_noise(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    rms: float,
    origin: tuple[int, int] = (0, 0),
    band_rows: int = BAND_ROWS,
    overhead: int = READ_OVERHEAD,
    common_fraction: float = 0.7,
) -> np.ndarray:
    """1/f read noise laid out in readout order (see the module docstring).

    Parameters
    ----------
    shape : tuple of int
        Frame shape ``(ny, nx)``.
    rng : numpy.random.Generator
        Random generator.
    rms : float
        Standard deviation per pixel.
    origin : tuple of int
        Full-frame position of the frame.
    band_rows, overhead : int
        Amplifier band height and idle samples per column.
    common_fraction : float
        Fraction of the variance shared by all amplifiers.
    """
    ny, nx = shape
    r0 = origin[0]
    period = band_rows + overhead
    n = nx * period
    common = _pink_series(rng, n)
    out = np.empty(shape)
    rows_full = np.arange(r0, r0 + ny)
    amps = rows_full // band_rows
    for amp in np.unique(amps):
        own = _pink_series(rng, n)
        series = np.sqrt(common_fraction) * common + np.sqrt(1.0 - common_fraction) * own
        grid = series.reshape(nx, period)[:, overhead:].T  # (band_rows, nx), fast along y
        if amp % 2 == 1:
            grid = grid[::-1]
        sel = amps == amp
        out[sel] = grid[rows_full[sel] % band_rows]
    return rms * out


def _smooth_background(shape, origin, rng, level) -> np.ndarray:
    ny, nx = shape
    y = (np.arange(origin[0], origin[0] + ny) / FULL_SHAPE[0])[:, None]
    x = (np.arange(origin[1], origin[1] + nx) / FULL_SHAPE[1])[None, :]
    gx, gy = rng.uniform(-0.3, 0.3, 2)
    bg = 1.0 + gx * (x - 0.5) + gy * (y - 0.5)
    for _ in range(3):
        cy, cx = rng.uniform(0.1, 0.9, 2)
        s = rng.uniform(0.08, 0.2)
        bg = bg + rng.uniform(0.2, 0.5) * np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / s**2)
    return level * bg


def _profile_rows(yc: np.ndarray, sigma: float, ny: int, r0: int):
    """Rows (frame) and pixel-integrated Gaussian fractions around centres ``yc`` (full)."""
    half = int(np.ceil(5 * sigma)) + 1
    base = np.floor(yc).astype(int)[None, :] + np.arange(-half, half + 1)[:, None]
    frac = ndtr((base + 0.5 - yc) / sigma) - ndtr((base - 0.5 - yc) / sigma)
    rows = base - r0
    ok = (rows >= 0) & (rows < ny)
    return rows, frac, ok


def _draw_traces(
    rng, shape, origin, *, grating, n_traces, n_empty, half_width, brightness, profile_sigma
):
    """Trace table and the source image of the MSA traces."""
    from slitwise.simulate.sources import draw_source, true_spectrum

    disp = get_disperser(grating)
    grid = disp.pixel_grid()
    ny, nx = shape
    r0, c0 = origin
    length = min(grid.size, nx - 40)
    fs_lo, fs_hi = FIXED_SLIT_ROWS
    margin = half_width + 8
    placed: list[tuple[float, int, int]] = []
    rows_out = []
    image = np.zeros(shape)
    total = n_traces + n_empty
    for k in range(total):
        for _attempt in range(2000):
            x_min = int(rng.integers(c0 + 20, c0 + nx - 20 - length + 1))
            x_max = x_min + length - 1
            y_ref = float(rng.uniform(r0 + margin, r0 + ny - margin))
            if fs_lo - margin < y_ref < fs_hi + margin:
                continue
            clash = any(
                abs(y_ref - y) < 2 * half_width + 8 and not (x_max < a or x_min > b)
                for y, a, b in placed
            )
            if not clash:
                break
        else:
            raise input_error("n_traces", f"cannot place {total} traces on a {shape} frame")
        placed.append((y_ref, x_min, x_max))
        x_ref = 0.5 * (x_min + x_max)
        slope = float(rng.uniform(-2.0, 2.0)) / length
        curvature = float(rng.uniform(-2.0, 2.0)) / (0.5 * length) ** 2
        empty = k >= n_traces
        src = draw_source(rng, 1000 + k)
        level = 0.0 if empty else float(np.exp(rng.uniform(*np.log(brightness))))
        xs = np.arange(x_min, x_max + 1)
        row = {"x_ref": x_ref, "y_ref": y_ref, "slope": slope, "curvature": curvature}
        yc = trace_centre(row, xs)
        if not empty:
            fnu = np.asarray(true_spectrum(src, grid[:length], disperser=disp).value)
            fnu = np.clip(np.nan_to_num(fnu), 0.0, None)
            spec = level * fnu / max(fnu.mean(), 1e-30)
            rows, frac, ok = _profile_rows(yc, profile_sigma, ny, r0)
            cols = np.broadcast_to(xs - c0, rows.shape)
            np.add.at(image, (rows[ok], cols[ok]), (frac * spec[None, :])[ok])
        rows_out.append(
            (k + 1, x_min, x_max, x_ref, y_ref, slope, curvature, src.source_id, src.z, empty)
        )
    cols = list(zip(*rows_out, strict=True))
    tab = make_trace_table(
        cols[0],
        cols[1],
        cols[2],
        cols[3],
        cols[4],
        cols[5],
        cols[6],
        np.full(total, float(half_width)),
    )
    tab["source_id"] = np.asarray(cols[7], dtype=int)
    tab["z"] = np.asarray(cols[8], dtype=float)
    tab["empty"] = np.asarray(cols[9], dtype=bool)
    tab.meta.update({"grating": disp.grating, "filter": disp.filter})
    # total truth rate inside each trace's mask window (for flux checks)
    return tab, image


def _fixed_slit_light(shape, origin, rng, level) -> np.ndarray:
    """Four sky spectra through the fixed slits, in the fixed-slit band."""
    ny, nx = shape
    r0 = origin[0]
    image = np.zeros(shape)
    lo, hi = FIXED_SLIT_ROWS
    xs = np.arange(nx)
    for yc in np.linspace(lo + 25, hi - 25, 4):
        if not (r0 <= yc < r0 + ny):
            continue
        rows, frac, ok = _profile_rows(np.full(nx, yc), 2.5, ny, r0)
        cols = np.broadcast_to(xs, rows.shape)
        spec = level * (1.0 + 0.5 * np.sin(xs / float(rng.uniform(60, 200))))
        np.add.at(image, (rows[ok], cols[ok]), (frac * spec[None, :])[ok])
    return image


def _defects(shape, rng, sigma, *, n_snowballs, cr_rate, bad_fraction):
    """Additive outlier image, injected-outlier map, dead and hot pixel masks."""
    ny, nx = shape
    add = np.zeros(shape)
    kind = np.zeros(shape, dtype=np.uint8)
    yy, xx = np.mgrid[-15:16, -15:16]
    for _ in range(n_snowballs):
        cy, cx = int(rng.integers(20, ny - 20)), int(rng.integers(20, nx - 20))
        rad = float(rng.uniform(3.0, 7.0))
        amp = float(rng.uniform(30.0, 200.0)) * float(np.median(sigma))
        d = np.hypot(yy, xx)
        blob = np.where(d <= rad, amp, amp * 0.3 * np.exp(-(d - rad) / 2.0))
        blob[blob < 0.5 * float(np.median(sigma))] = 0.0
        sl = (slice(cy - 15, cy + 16), slice(cx - 15, cx + 16))
        add[sl] += blob
        kind[sl][blob > 0] = 2
    n_cr = int(rng.poisson(cr_rate * ny * nx))
    ys, xs = rng.integers(1, ny - 1, n_cr), rng.integers(1, nx - 1, n_cr)
    for y, x in zip(ys, xs, strict=True):
        amp = float(rng.uniform(10.0, 100.0)) * float(sigma[y, x])
        tail = int(rng.integers(0, 3))
        for k in range(tail + 1):
            yk, xk = min(y + k, ny - 2), x
            add[yk, xk] += amp
            add[yk - 1 : yk + 2, xk - 1 : xk + 2] += 0.02 * amp
            add[yk, xk] -= 0.02 * amp
            kind[yk, xk] = max(kind[yk, xk], 1)
    u = rng.uniform(size=shape)
    dead = u < bad_fraction / 2
    hot = (u >= bad_fraction / 2) & (u < bad_fraction)
    return add, kind, dead, hot


def make_fullframe(
    *,
    seed: int = 0,
    detector: str = "NRS1",
    grating: str = "PRISM/CLEAR",
    n_traces: int = 30,
    n_empty: int = 6,
    shape: tuple[int, int] = FULL_SHAPE,
    origin: tuple[int, int] = (0, 0),
    exptime: float = 1000.0,
    background: float = 0.02,
    pedestal_range: tuple[float, float] = (0.01, 0.03),
    one_over_f_rms: float = 0.002,
    common_fraction: float = 0.7,
    read_noise: float = 0.008,
    brightness: tuple[float, float] = (0.1, 1.0),
    profile_sigma: float = 1.2,
    half_width: float = 6.0,
    fixed_slit_level: float = 0.3,
    n_snowballs: int = 4,
    cr_rate: float = 2e-5,
    bad_fraction: float = 1e-3,
) -> FullFrame:
    """Simulate one full-frame (or subarray) NIRSpec rate image in memory.

    Parameters
    ----------
    seed : int
        Random seed (the detector name is mixed in, so NRS1 and NRS2 differ).
    detector : str
        ``NRS1`` or ``NRS2``.
    grating : str
        Disperser, e.g. ``PRISM/CLEAR`` or ``G395M/F290LP``.
    n_traces, n_empty : int
        Source traces and empty (masked, source-free) traces.
    shape, origin : tuple of int
        Frame shape and full-frame position of its first pixel (subarrays, e.g. 512 x 2048).
    exptime : float
        Effective exposure time (s) for the Poisson noise.
    background : float
        Mean smooth background (DN/s).
    pedestal_range : tuple of float
        Range of the per-band picture-frame amplitudes (DN/s).
    one_over_f_rms : float
        Per-pixel RMS of the 1/f noise (DN/s).
    common_fraction : float
        Fraction of the 1/f variance common to the four amplifiers.
    read_noise : float
        White read noise per pixel (DN/s).
    brightness : tuple of float
        Range of mean trace rates (DN/s per column, log-uniform).
    profile_sigma, half_width : float
        Spatial Gaussian sigma of the traces and the masked half-width in the table (rows).
    fixed_slit_level : float
        Rate per column of the fixed-slit sky spectra (DN/s).
    n_snowballs, cr_rate, bad_fraction : int, float, float
        Snowballs per frame, cosmic-ray residuals per pixel, dead+hot pixel fraction.

    Returns
    -------
    FullFrame
    """
    detector = str(detector).upper()
    if detector not in DETECTORS:
        raise input_error("detector", f"got '{detector}'; expected NRS1 or NRS2")
    ny, nx = (int(v) for v in shape)
    if ny < 64 or nx < 512 or origin[0] + ny > FULL_SHAPE[0] or origin[1] + nx > FULL_SHAPE[1]:
        raise input_error(
            "shape", f"{shape} at {origin} does not fit a 2048x2048 detector (min 64x512)"
        )
    if n_traces < 0 or n_empty < 0:
        raise input_error("n_traces", "expected non-negative numbers of traces")
    disp = get_disperser(grating)
    rng = np.random.default_rng([int(seed), DETECTORS.index(detector)])
    shape = (ny, nx)

    traces, source = _draw_traces(
        rng,
        shape,
        origin,
        grating=disp.name,
        n_traces=n_traces,
        n_empty=n_empty,
        half_width=half_width,
        brightness=brightness,
        profile_sigma=profile_sigma,
    )
    source = source + _fixed_slit_light(shape, origin, rng, fixed_slit_level)
    template = picture_frame_template(shape, origin=origin)
    band_of_row = np.arange(origin[0], origin[0] + ny) // BAND_ROWS
    amps_all = rng.uniform(*pedestal_range, size=FULL_SHAPE[0] // BAND_ROWS)
    pedestal = template * amps_all[band_of_row][:, None]
    bands = tuple(float(amps_all[b]) for b in np.unique(band_of_row))
    bkg = _smooth_background(shape, origin, rng, background)
    onef = one_over_f_noise(
        shape, rng, rms=one_over_f_rms, origin=origin, common_fraction=common_fraction
    )

    expected = source + bkg
    var_p = np.clip(expected, 0.0, None) / exptime
    var_rn = np.full(shape, read_noise**2)
    sigma = np.sqrt(var_p + var_rn)
    photons = rng.poisson(np.clip(expected, 0.0, None) * exptime) / exptime
    sci = photons + rng.normal(0.0, read_noise, shape) + pedestal + onef
    add, kind, dead, hot = _defects(
        shape, rng, sigma, n_snowballs=n_snowballs, cr_rate=cr_rate, bad_fraction=bad_fraction
    )
    sci = sci + add
    sci[hot] += rng.uniform(0.5, 5.0, int(hot.sum()))
    sci[dead] = np.nan
    dq = np.zeros(shape, dtype=np.uint32)
    dq[dead] |= 1 | DQ_DEAD
    dq[hot] |= 1 | DQ_HOT

    header = fits.Header()
    header["TELESCOP"] = "JWST"
    header["INSTRUME"] = "NIRSPEC"
    header["DETECTOR"] = detector
    header["GRATING"] = disp.grating
    header["FILTER"] = disp.filter
    header["EXP_TYPE"] = "NRS_MSASPEC"
    header["DATAMODL"] = "ImageModel"
    header["EFFEXPTM"] = (float(exptime), "effective exposure time (s)")
    full = (ny, nx) == FULL_SHAPE
    header["SUBARRAY"] = "FULL" if full else "SUBARRAY"
    header["SUBSTRT1"] = origin[1] + 1
    header["SUBSTRT2"] = origin[0] + 1
    header["SUBSIZE1"] = nx
    header["SUBSIZE2"] = ny
    header["SIMULATD"] = (True, "slitwise simulate_fullframe")
    header["SEED"] = int(seed)
    sci_header = fits.Header()
    sci_header["BUNIT"] = "DN/s"
    traces.meta.update({"detector": detector, "seed": int(seed)})
    rate = RateFrame(
        sci=sci,
        err=sigma.copy(),
        dq=dq,
        var={"VAR_POISSON": var_p, "VAR_RNOISE": var_rn},
        header=header,
        sci_header=sci_header,
    )
    return FullFrame(
        rate=rate,
        source=source,
        pedestal=pedestal,
        background=bkg,
        one_over_f=onef,
        sigma=sigma,
        outliers=kind,
        traces=traces,
        pedestal_amplitudes=bands,
    )


def _write_truth(ff: FullFrame, path: Path) -> Path:
    hdr = fits.Header()
    for key in ("DETECTOR", "GRATING", "FILTER", "SUBSTRT1", "SUBSTRT2", "SEED"):
        hdr[key] = ff.rate.header[key]
    for i, a in enumerate(ff.pedestal_amplitudes, start=1):
        hdr[f"PEDAMP{i}"] = (a, f"picture-frame amplitude, band {i} in frame (DN/s)")
    unit = fits.Header({"BUNIT": "DN/s"})
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(header=hdr),
            fits.ImageHDU(ff.source.astype(np.float32), header=unit, name="SCI"),
            fits.ImageHDU(ff.pedestal.astype(np.float32), header=unit, name="PEDESTAL"),
            fits.ImageHDU(ff.background.astype(np.float32), header=unit, name="BACKGROUND"),
            fits.ImageHDU(ff.one_over_f.astype(np.float32), header=unit, name="ONE_OVER_F"),
            fits.ImageHDU(ff.sigma.astype(np.float32), header=unit, name="SIGMA"),
            fits.ImageHDU(ff.outliers, name="OUTLIERS"),
        ]
    )
    return write_fits_atomic(hdul, path)


def simulate_fullframe(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    n_traces: int = 30,
    grating: str = "PRISM/CLEAR",
    detectors: tuple[str, ...] = DETECTORS,
    root: str = "sim",
    **options,
) -> list[FullFrameFiles]:
    """Write simulated full-frame rate images, truth images and trace tables.

    Parameters
    ----------
    out_dir : str or path-like
        Output directory (created).
    seed : int
        Random seed.
    n_traces : int
        Source traces per detector.
    grating : str
        Disperser (``PRISM/CLEAR``, ``G395M/F290LP``, ...).
    detectors : tuple of str
        Detectors to simulate.
    root : str
        File-name prefix.
    **options
        Passed to :func:`make_fullframe` (``n_empty``, ``shape``, ``origin``, noise levels).

    Returns
    -------
    list of FullFrameFiles
        The paths written, one entry per detector.
    """
    from slitwise.detector.traces import write_trace_table

    if int(seed) < 0:
        raise input_error("seed", f"got {seed}; expected a non-negative integer")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmpl_hdul = fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(picture_frame_template(FULL_SHAPE).astype(np.float32), name="SCI"),
        ]
    )
    write_fits_atomic(tmpl_hdul, out / f"{root}_pictureframe.fits")
    written = []
    for det in detectors:
        ff = make_fullframe(seed=seed, detector=det, grating=grating, n_traces=n_traces, **options)
        stem = f"{root}_{det.lower()}"
        rate = write_rate_frame(ff.rate, out / f"{stem}_rate.fits")
        truth = _write_truth(ff, out / f"{stem}_truth.fits")
        traces = write_trace_table(ff.traces, out / f"{stem}_traces.ecsv")
        written.append(FullFrameFiles(detector=det.upper(), rate=rate, truth=truth, traces=traces))
    return written
