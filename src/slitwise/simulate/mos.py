"""Simulated ground-based MOS and long-slit frames with known OPT, CRV and IDS models.

:func:`make_mos_frames` builds, in memory, an arc, a flat and a science frame of one mask
through a true :class:`~slitwise.calib.models.SpectrographModel` (distorted optics, curved
traces, non-linear and field-dependent dispersion; for the long slit, tilted lines), plus the
instrument configuration and mask description. :func:`simulate_mos` writes them to a
directory with the true model (``truth_model.yaml``) and a truth table.

The arc is rendered from a lamp catalogue (default the LBT MODS lists), each line a
pixel-integrated Gaussian at the exact model position; with ``arc_spectrum`` a real archived
arc (``wave``/``flux`` table, e.g. ``pypeit/reid_arxiv/lbt_mods1r_red.fits``) is resampled
along the traces instead. Frames are in electrons with Poisson and read noise.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from scipy.special import erf

from slitwise.calib.instrument_file import InstrumentConfig, write_instrument
from slitwise.calib.linelists import load_line_list
from slitwise.calib.mask_file import Mask, Slit, write_mask
from slitwise.calib.models import (
    CurvatureModel,
    DispersionModel,
    OpticalModel,
    Poly2D,
    SpectrographModel,
    save_model,
)
from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic
from slitwise.simulate.lines import LINES

__all__ = ["MosFrames", "make_mos_frames", "simulate_mos", "MODS_LAMPS"]

log = logging.getLogger(__name__)

MODS_LAMPS = "HgI_MODS,ArI_MODS,NeI_MODS,KrI_MODS,XeI_MODS"
_READ_NOISE = 4.0
_SIGMA_PX = 1.3  # line spread (Gaussian sigma, pixels)


@dataclasses.dataclass(frozen=True)
class MosFrames:
    """In-memory simulated frame set (images in detector orientation, electrons)."""

    config: InstrumentConfig
    mask: Mask
    model: SpectrographModel
    arc: np.ndarray
    flat: np.ndarray
    science: np.ndarray
    science_var: np.ndarray
    truth: QTable
    lamps: str
    long_slit: bool


def _true_model(config: InstrumentConfig, *, long_slit: bool, rng) -> SpectrographModel:
    """A distorted model: rotated, scaled, shifted optics; curved traces; non-linear IDS."""
    ppm = config.pixels_per_mm
    scale = 100.0
    rot = np.deg2rad(rng.uniform(0.3, 0.6) * rng.choice([-1, 1]))
    mag = 1.0 + rng.uniform(-0.015, 0.015)
    shift = rng.uniform(-25, 25, 2)
    d0 = 0.5 * (config.n_disp - 1) + shift[0]
    s0 = 0.5 * (config.n_spatial - 1) + shift[1]
    k = ppm * mag * scale
    # d = d0 + k (cos X - sin Y) + distortion; s = s0 + k (sin X + cos Y) + distortion
    d = np.array([[d0, -k * np.sin(rot), 2.0], [k * np.cos(rot), 0.8, 0.0], [3.0, 0.0, 0.0]])
    s = np.array([[s0, k * np.cos(rot), -1.5], [k * np.sin(rot), 1.2, 0.0], [0.5, 0.0, 0.0]])
    opt = OpticalModel(Poly2D(d, scale), Poly2D(s, scale))
    # CRV: trace tilt and curvature, varying over the field.
    dscale = 0.5 * config.n_disp
    c1 = np.array([[4.0, 2.0], [1.5, 0.0]])
    c2 = np.array([[-3.0, 1.0], [0.0, 0.0]])
    crv = CurvatureModel((Poly2D(c1, scale), Poly2D(c2, scale)), dscale)
    # IDS: delta(u) with u = (lambda - lambda_ref) / wave_scale; dispersion varies ~8 % across
    # the detector and ~1 % across the field; long slits get tilted lines (e0 depends on Y).
    wscale = 0.5 * config.n_disp * config.linear_dispersion
    e1 = wscale / config.linear_dispersion
    tilt = 0.05 * ppm * scale if long_slit else 0.0  # ~1.5 degrees
    e0 = np.array([[0.0, tilt], [0.0, 0.0]])
    e1c = np.array([[e1, 0.004 * e1], [-0.006 * e1, 0.0]])
    e2 = np.array([[-0.04 * e1, 0.0], [0.003 * e1, 0.0]])
    e3 = np.array([[0.012 * e1, 0.0], [0.0, 0.0]])
    ids = DispersionModel(
        tuple(Poly2D(c, scale) for c in (e0, e1c, e2, e3)),
        reference_wavelength=config.reference_wavelength,
        wave_scale=wscale,
    )
    return SpectrographModel(config=config, opt=opt, crv=crv, ids=ids, nsplit=5 if long_slit else 1)


def _make_mask(config: InstrumentConfig, *, n_slits: int, long_slit: bool, rng) -> Mask:
    ppm = config.pixels_per_mm
    fpscale = config.focal_plane_scale
    if long_slit:
        length_mm = 0.8 * config.n_spatial / ppm
        width_mm = 1.0 / fpscale
        return Mask(
            (Slit(1, width_mm, length_mm, 0.0, 0.0, 0.0, 1.0, length_mm * fpscale, False),),
            name="longslit",
        )
    usable = 0.9 * config.n_spatial / ppm
    pitch = usable / n_slits
    length_mm = pitch - 8.0 / ppm  # 8 px gap between neighbouring slits
    if length_mm * ppm < 12:
        raise input_error("n_slits", f"{n_slits} slits do not fit on {config.n_spatial} pixels")
    ys = (np.arange(n_slits) - 0.5 * (n_slits - 1)) * pitch
    xs = rng.uniform(-0.06, 0.06, n_slits) * config.n_disp / ppm
    width_mm = 1.0 / fpscale
    slits = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ref = i in (0, n_slits - 1)
        dim = (2.0 / fpscale, length_mm) if ref else (width_mm, length_mm)
        slits.append(
            Slit(
                i + 1,
                dim[0],
                dim[1],
                float(x),
                float(y),
                0.0,
                dim[0] * fpscale,
                dim[1] * fpscale,
                ref,
            )
        )
    return Mask(tuple(slits), name="simulated")


def _render(
    model: SpectrographModel,
    mask: Mask,
    spectrum,
    *,
    spatial=None,
    lines: tuple[np.ndarray, np.ndarray] | None = None,
    samples_per_px: int = 2,
) -> np.ndarray:
    """Render every slit into a canonical image ``(n_spatial, n_disp)``.

    ``spectrum(wave)`` gives the continuum per pixel at each column's wavelength; ``lines`` =
    (wavelengths, amplitudes) adds pixel-integrated Gaussian lines at their exact positions;
    ``spatial(slit, t)`` weights each slit position (default uniform).
    """
    cfg = model.config
    nd, ns = cfg.n_disp, cfg.n_spatial
    image = np.zeros((ns, nd))
    cols = np.arange(nd, dtype=float)
    wr = (
        cfg.reference_wavelength - 0.6 * nd * cfg.linear_dispersion,
        cfg.reference_wavelength + 0.6 * nd * cfg.linear_dispersion,
    )
    for slit in mask:
        x_end, y_end = slit.point(np.array([0.0, 1.0]))
        s_end = model.opt(x_end, y_end)[1]
        n_t = max(int(abs(s_end[1] - s_end[0]) * samples_per_px), 4)
        ts = (np.arange(n_t) + 0.5) / n_t
        weight = abs(s_end[1] - s_end[0]) / n_t
        for t in ts:
            x, y = slit.point(t)
            d_ref, s_ref = model.opt(x, y)
            wave = model.ids.wavelength(x, y, cols - d_ref, wave_range=wr)
            row = np.zeros(nd)
            ok = np.isfinite(wave)
            if spectrum is not None:
                row[ok] = spectrum(wave[ok])
            if lines is not None:
                lam, amp = lines
                dk = d_ref + model.ids.delta(x, y, lam)
                sel = (dk > -5) & (dk < nd + 5)
                dk, ak = dk[sel], amp[sel]
                offs = np.arange(-6, 7)
                idx = np.floor(dk).astype(int)[:, None] + offs[None, :]
                lo = (idx - 0.5 - dk[:, None]) / (np.sqrt(2) * _SIGMA_PX)
                hi = (idx + 0.5 - dk[:, None]) / (np.sqrt(2) * _SIGMA_PX)
                vals = ak[:, None] * 0.5 * (erf(hi) - erf(lo))
                good = (idx >= 0) & (idx < nd)
                np.add.at(row, idx[good], vals[good])
            if spatial is not None:
                row = row * spatial(slit, t)
            s = s_ref + model.crv.offset(x, y, cols - d_ref)
            s0 = np.floor(s).astype(int)
            frac = s - s0
            for r, wgt in ((s0, 1.0 - frac), (s0 + 1, frac)):
                inside = (r >= 0) & (r < ns)
                np.add.at(
                    image, (r[inside], np.flatnonzero(inside)), row[inside] * wgt[inside] * weight
                )
    return image


def make_mos_frames(
    *,
    n_slits: int = 24,
    long_slit: bool = False,
    seed: int = 0,
    nx: int | None = None,
    ny: int | None = None,
    dispersion_direction: str = "LR",
    lamps: str = MODS_LAMPS,
    arc_spectrum: str | os.PathLike | None = None,
    redshift: float = 0.8,
    flexure: tuple[float, float] = (0.0, 0.0),
) -> MosFrames:
    """Simulate an arc, a flat and a science frame of one mask (or a long slit).

    Parameters
    ----------
    n_slits : int
        Number of slits (the first and last are alignment boxes); ignored for a long slit.
    long_slit : bool
        One long slit with tilted arc lines instead of a mask.
    seed : int
        Random seed (distortions, slit positions, noise).
    nx, ny : int, optional
        Detector size (default 2048 along dispersion, 1024 across it); dispersion runs
        along the axis named by ``dispersion_direction``.
    dispersion_direction : str
        ``LR``, ``RL``, ``BU`` or ``UB``.
    lamps : str
        Lamp catalogues for the arc.
    arc_spectrum : path, optional
        FITS table with ``wave`` [Angstrom] and ``flux`` columns (a real archived arc), used
        instead of the catalogue lines.
    redshift : float
        Redshift of the emission-line galaxy in the science frame (one per science slit,
        ``redshift`` for the first and increasing by 0.05 per slit).
    flexure : (float, float)
        Shift (pixels) of the whole spectral format along and across dispersion: the same seed
        with a different ``flexure`` is the same mask observed on another night.

    Returns
    -------
    MosFrames
    """
    if dispersion_direction not in ("LR", "RL", "BU", "UB"):
        raise input_error(
            "dispersion_direction", f"expected LR, RL, BU or UB, got '{dispersion_direction}'"
        )
    if not long_slit and n_slits < 3:
        raise input_error("n_slits", f"expected >= 3, got {n_slits}")
    rng = np.random.default_rng(seed)
    horizontal = dispersion_direction in ("LR", "RL")
    nx = nx or (2048 if horizontal else 1024)
    ny = ny or (1024 if horizontal else 2048)
    n_disp, n_spat = (nx, ny) if dispersion_direction in ("LR", "RL") else (ny, nx)
    disp = 6000.0 / n_disp  # ~ 4700-10700 Angstrom on any detector length
    config = InstrumentConfig(
        name="SIM-MOS" if not long_slit else "SIM-LONGSLIT",
        pixel_scale=0.12,
        focal_plane_scale=0.6,
        nx=nx,
        ny=ny,
        dispersion_direction=dispersion_direction,
        linear_dispersion=round(disp, 4),
        reference_wavelength=7640.0,
        data_hdu=0,
        lamps=lamps,
        wavelength_range=(4500.0, 11000.0),
    )
    del n_spat
    model = _true_model(config, long_slit=long_slit, rng=rng)
    if any(flexure):
        d_c, s_c = model.opt.d.coeffs.copy(), model.opt.s.coeffs.copy()
        d_c[0, 0] += flexure[0]
        s_c[0, 0] += flexure[1]
        opt = OpticalModel(Poly2D(d_c, model.opt.d.scale), Poly2D(s_c, model.opt.s.scale))
        model = dataclasses.replace(model, opt=opt)
    mask = _make_mask(config, n_slits=n_slits, long_slit=long_slit, rng=rng)
    # Arc
    if arc_spectrum is not None:
        data = fits.getdata(arc_spectrum, 1)
        aw = np.asarray(data["wave"], float)
        af = np.clip(np.asarray(data["flux"], float), 0, None)
        per_aa = af / np.gradient(aw)
        norm = 3e4 / np.percentile(af, 99.9)

        def arc_fn(w):
            return norm * np.interp(w, aw, per_aa, left=0, right=0) * config.linear_dispersion

        arc_lines = None
    else:
        cat = load_line_list(lamps, wave_min=4000, wave_max=11500)
        amp = np.nan_to_num(np.asarray(cat["amplitude"], float), nan=100.0)
        amp = 3e4 * np.clip(amp / np.percentile(amp, 95), 0.01, 1.0)
        arc_lines = (cat["wave"].to_value(u.AA), amp)

        def arc_fn(w):
            return np.full(w.shape, 5.0)

    arc = _render(model, mask, arc_fn, lines=arc_lines)

    def flat_fn(w):
        return 2e4 * np.exp(-0.5 * ((w - 7500.0) / 2500.0) ** 2) + 2e3

    flat = _render(model, mask, flat_fn)
    # Science: sky continuum + sky lines over the slit, galaxy trace with emission lines.
    science_slits = [s for s in mask if not s.ref]
    zs = {s.id: redshift + 0.05 * i for i, s in enumerate(science_slits)}
    t_obj = {s.id: float(rng.uniform(0.35, 0.65)) for s in science_slits}

    def sky_fn(w):
        return 40.0 + 0.004 * (w - 4500.0)

    science = _render(model, mask, sky_fn)
    names = (
        "OII_3727",
        "OII_3730",
        "Hbeta",
        "OIII_4960",
        "OIII_5008",
        "Halpha",
        "NII_6585",
        "SII_6718",
        "SII_6733",
    )
    fluxes = np.array([3.0, 4.0, 3.0, 2.0, 6.0, 9.0, 3.0, 1.5, 1.2]) * 400.0
    for slit in science_slits:
        z = zs[slit.id]
        lam = np.array([LINES[n] for n in names]) * (1 + z)
        sub = Mask((slit,))
        sig_t = 0.8 / slit.len  # 0.8 arcsec Gaussian seeing, in units of the slit length

        def profile(sl, t, _t0=t_obj[slit.id], _s=sig_t):
            return np.exp(-0.5 * ((t - _t0) / _s) ** 2) / (_s * np.sqrt(2 * np.pi))

        def cont(w, _z=z):
            return 60.0 * (w / 7000.0) ** -1.0

        science += _render(model, sub, cont, spatial=profile, lines=(lam, fluxes)) / 30.0
    # Noise (electrons): Poisson + read noise.
    frames = []
    for img in (arc, flat, science):
        expected = img + 10.0
        noisy = rng.poisson(np.clip(expected, 0, None)).astype(float)
        noisy += rng.normal(0, _READ_NOISE, img.shape)
        frames.append(
            (config.canonical_to_image(noisy), config.canonical_to_image(expected + _READ_NOISE**2))
        )
    truth = QTable()
    truth["slit_id"] = [s.id for s in mask]
    truth["ref"] = [s.ref for s in mask]
    d_ref, s_ref = model.opt(mask.centres()[:, 0], mask.centres()[:, 1])
    truth["d_ref"] = d_ref * u.pix
    truth["s_ref"] = s_ref * u.pix
    truth["redshift"] = [zs.get(s.id, np.nan) for s in mask]
    truth["t_object"] = [t_obj.get(s.id, np.nan) for s in mask]
    truth.meta["seed"] = seed
    truth.meta["long_slit"] = long_slit
    return MosFrames(
        config=config,
        mask=mask,
        model=model,
        arc=frames[0][0],
        flat=frames[1][0],
        science=frames[2][0],
        science_var=frames[2][1],
        truth=truth,
        lamps=lamps,
        long_slit=long_slit,
    )


def simulate_mos(
    out_dir: str | os.PathLike,
    *,
    n_slits: int = 24,
    seed: int = 0,
    long_slit: bool = True,
    arc_spectrum: str | os.PathLike | None = None,
    dispersion_direction: str = "LR",
) -> dict[str, Path]:
    """Write a simulated MOS frame set (and, with ``long_slit``, a long-slit set) to a directory.

    Files per set (prefix ``mos_`` or ``longslit_``): ``instrument.icf`` (INI), ``mask.mdf``,
    ``arc.fits``, ``flat.fits``, ``science.fits`` (HDU 0 image in electrons; the science file
    has a ``VAR`` HDU), ``truth_model.yaml`` (true OPT/CRV/IDS) and ``truth.ecsv``.

    Returns
    -------
    dict
        File paths keyed by ``"<set>_<kind>"`` (e.g. ``"mos_arc"``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    sets = [("mos", False)] + ([("longslit", True)] if long_slit else [])
    for prefix, is_long in sets:
        frames = make_mos_frames(
            n_slits=n_slits,
            long_slit=is_long,
            seed=seed,
            arc_spectrum=arc_spectrum,
            dispersion_direction=dispersion_direction,
        )
        written[f"{prefix}_instrument"] = write_instrument(
            frames.config, out / f"{prefix}_instrument.icf"
        )
        written[f"{prefix}_mask"] = write_mask(frames.mask, out / f"{prefix}_mask.mdf")
        for kind in ("arc", "flat", "science"):
            hdr = fits.Header()
            hdr["ORIGIN"] = "slitwise"
            hdr["SIMULATE"] = (True, "written by slitwise.simulate.mos")
            hdr["SIMSEED"] = seed
            hdr["IMAGETYP"] = kind.upper()
            hdr["BUNIT"] = "electron"
            if kind == "science":
                hdr["EXPTIME"] = (1800.0, "s")
            hdus = [fits.PrimaryHDU(getattr(frames, kind).astype(np.float32), header=hdr)]
            if kind == "science":
                hdus.append(fits.ImageHDU(frames.science_var.astype(np.float32), name="VAR"))
            written[f"{prefix}_{kind}"] = write_fits_atomic(
                fits.HDUList(hdus), out / f"{prefix}_{kind}.fits"
            )
        written[f"{prefix}_model"] = save_model(frames.model, out / f"{prefix}_truth_model.yaml")
        path = out / f"{prefix}_truth.ecsv"
        frames.truth.write(path, overwrite=True)
        written[f"{prefix}_truth"] = path
        log.info("wrote %s frame set (%d slits) to %s", prefix, len(frames.mask), out)
    return written
