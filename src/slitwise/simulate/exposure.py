"""Render one simulated slitlet exposure: noiseless model, noise, defects, truth.

Pure functions on arrays (no I/O). :func:`render_exposure` returns a
:class:`~slitwise.spectra.SlitletExposure` plus a :class:`TruthExposure` with the noiseless
images and the true trace.

Path loss (mimicking the JWST pipeline for a point source): the whole cut-out, sky included,
is divided by ``PATHLOSS_PS``, the fraction of a *point source's* light that passes the open
shutter at the source's intra-shutter position (SRCXPOS, SRCYPOS), evaluated at each pixel's
wavelength. ``PATHLOSS_PS`` holds that fraction; ``PATHLOSS_UN`` holds the uniform-illumination
fraction (not applied). Hence, for the primary source, ``sum over rows(SCI) * PIXAR_SR * 1e12``
is its total f_nu (uJy) times ``transmission / pathloss_ps`` -- exactly 1 for a point source,
less than 1 for an extended one (both columns are in the truth trace table). The sky in SCI is
``sky / PATHLOSS_PS``, so nods with different SRCXPOS/SRCYPOS (a few milli-pitch jitter here)
have slightly different sky levels unless the correction is undone.

Simplifications: the wavelength map is exact for every source (no wavelength shift with the
intra-shutter x position); a serendipitous source passes only through the shutter that contains
its centre (none if that shutter is stuck or outside the slitlet), with the Gaussian
transmission of :func:`~slitwise.simulate.slitpsf.shutter_transmission` for its intra-shutter
position, so a source centred on a bar is partly lost rather than split between two shutters.
"""

from __future__ import annotations

import dataclasses

import astropy.units as u
import numpy as np
from astropy.table import QTable

from slitwise.instruments import Disperser
from slitwise.simulate import noise as nz
from slitwise.simulate.geometry import SlitletGeometry, shutter_state
from slitwise.simulate.photometry import PIXAR_A2, PIXAR_SR, mjysr_per_eps, sky_mjysr
from slitwise.simulate.slitpsf import (
    PITCH_PX,
    SLIT_FRAME_X,
    SLIT_FRAME_Y,
    SPEC_BLUR_PX,
    box_pixel_fractions,
    gaussian_pixel_fractions,
    profile_sigma_px,
    shutter_transmission,
    uniform_transmission,
)
from slitwise.simulate.sources import SourceModel, fnu_pixel_average
from slitwise.spectra import SlitletExposure

__all__ = ["SlitletScene", "TruthExposure", "NodPlacement", "build_scene", "render_exposure"]


@dataclasses.dataclass(eq=False)
class SlitletScene:
    """Everything about one slitlet and disperser that does not change between nods.

    Attributes
    ----------
    geometry : SlitletGeometry
    disperser : Disperser
    primary, serendip : SourceModel (serendip may be None)
    stuck : int or None
        Index (k, from the bottom) of a stuck-closed shutter.
    slitlet_id : int
    wave, wave_lo, wave_hi : ndarray (ny, nx)
        Pixel-centre and edge wavelengths (NaN outside the slitlet for ``wave``).
    inside : ndarray of bool (ny, nx)
    sky_raw : ndarray (ny, nx)
        Sky surface brightness reaching each pixel (MJy/sr), before path-loss correction.
    conv : ndarray (ny, nx)
        MJy/sr per e-/s.
    fnu_primary, fnu_serendip : ndarray (ny, nx)
        LSF-convolved pixel-averaged f_nu (uJy) of each source at each pixel's wavelengths.
    hot, dead : ndarray of bool
        Detector defects (same for every nod).
    """

    geometry: SlitletGeometry
    disperser: Disperser
    primary: SourceModel
    serendip: SourceModel | None
    stuck: int | None
    slitlet_id: int
    wave: np.ndarray
    wave_lo: np.ndarray
    wave_hi: np.ndarray
    inside: np.ndarray
    sky_raw: np.ndarray
    conv: np.ndarray
    fnu_primary: np.ndarray
    fnu_serendip: np.ndarray | None
    hot: np.ndarray
    dead: np.ndarray


@dataclasses.dataclass(frozen=True)
class NodPlacement:
    """Where the sources are at one nod."""

    nod_index: int  # 0-based
    n_nods: int
    offset: int  # source shutter offset from the first nod (pitches)
    source_shutter: int  # k of the primary's shutter
    xpos: float
    ypos: float
    serendip_xpos: float = 0.0


@dataclasses.dataclass(eq=False)
class TruthExposure:
    """Noiseless truth of one exposure (same units and path-loss treatment as SCI).

    Attributes
    ----------
    sci : ndarray
        Noiseless SCI (sky + all sources), MJy/sr, NaN outside the slitlet.
    source : ndarray
        Primary source only (noiseless), MJy/sr.
    sky : ndarray
        Sky only (noiseless), MJy/sr.
    trace : QTable
        Per column: ``x``, ``wave`` (um, at the primary's trace), ``y`` (row of the primary's
        profile centre), ``sigma`` (profile sigma, px), ``fnu`` (true total f_nu, uJy,
        LSF-convolved and pixel-averaged, before slit loss), ``pathloss_ps`` (point-source
        fraction at the primary's position = PATHLOSS_PS), ``transmission`` (fraction of this
        source's light through the shutter; 0 if blocked), ``conv`` (MJy/sr per e-/s), and the
        same ``*_ser`` columns for a serendipitous source (NaN when there is none).
    meta : dict
        ``source_blocked``, ``serendip_visible``, ``serendip_id``, ``stuck_shutter``.
    """

    sci: np.ndarray
    source: np.ndarray
    sky: np.ndarray
    trace: QTable
    meta: dict


def build_scene(
    geometry: SlitletGeometry,
    disperser: Disperser,
    primary: SourceModel,
    *,
    serendip: SourceModel | None,
    stuck: int | None,
    slitlet_id: int,
    rng: np.random.Generator,
) -> SlitletScene:
    """Precompute the nod-independent parts of a slitlet's exposures."""
    wave, lo, hi = geometry.wavelength_maps()
    inside = geometry.in_slitlet()
    s = geometry.slit_coordinate()
    n = geometry.n_shutters
    illum = np.zeros(geometry.shape)
    for k in range(n):
        if stuck is not None and k == stuck:
            continue
        centre = float(geometry.shutter_center(k))
        illum += box_pixel_fractions(
            np.zeros_like(s),
            (centre - 0.5 - s) * PITCH_PX,
            (centre + 0.5 - s) * PITCH_PX,
            SPEC_BLUR_PX,
        )
    sky_raw = sky_mjysr(wave) * illum
    conv = mjysr_per_eps(disperser, wave, hi - lo)
    fnu_p = fnu_pixel_average(primary, wave, lo, hi, disperser=disperser)
    fnu_s = None
    if serendip is not None:
        fnu_s = fnu_pixel_average(serendip, wave, lo, hi, disperser=disperser)
    hot, dead = nz.bad_pixel_map(geometry.shape, rng)
    wave = np.where(inside, wave, np.nan)
    return SlitletScene(
        geometry=geometry,
        disperser=disperser,
        primary=primary,
        serendip=serendip,
        stuck=stuck,
        slitlet_id=slitlet_id,
        wave=wave,
        wave_lo=lo,
        wave_hi=hi,
        inside=inside,
        sky_raw=sky_raw,
        conv=conv,
        fnu_primary=fnu_p,
        fnu_serendip=fnu_s,
        hot=hot,
        dead=dead,
    )


def _source_image(scene, fnu_map, s_src, size, trans_fn):
    """uJy per pixel of one source at slit coordinate ``s_src`` (pitches from slitlet centre)."""
    geo = scene.geometry
    rows = np.arange(geo.ny, dtype=float)[:, None]
    y = geo.trace_row(s_src)[None, :]
    wave_filled = np.where(scene.inside, scene.wave, np.nanmedian(scene.wave))
    sig = profile_sigma_px(wave_filled, size)
    prof = gaussian_pixel_fractions(rows, y, sig)
    return fnu_map * trans_fn(wave_filled) * prof


def _serendip_placement(scene, s_prim):
    """Slit coordinate, shutter, intra-shutter y and visibility of the serendip at this nod."""
    ser = scene.serendip
    geo = scene.geometry
    s_ser = s_prim + ser.slit_offset
    k = geo.shutter_of(s_ser)
    visible = 0 <= k < geo.n_shutters and not (scene.stuck is not None and k == scene.stuck)
    y_intra = s_ser - float(geo.shutter_center(k))
    return s_ser, k, y_intra, visible


def render_exposure(
    scene: SlitletScene,
    place: NodPlacement,
    rng: np.random.Generator,
    *,
    exptime: float,
    add_noise: bool = True,
    meta: dict | None = None,
) -> tuple[SlitletExposure, TruthExposure]:
    """Simulate one nod exposure of a slitlet.

    Returns the exposure (SCI in MJy/sr, path-loss corrected as in the module docstring) and
    its noiseless truth. ``add_noise=False`` gives SCI equal to the truth (variances are still
    those of the noisy case) and no cosmic rays or bad pixels.
    """
    geo = scene.geometry
    prim = scene.primary
    n = geo.n_shutters
    k_src = place.source_shutter
    s_prim = float(geo.shutter_center(k_src)) + place.ypos
    blocked = scene.stuck is not None and k_src == scene.stuck
    to_sb = 1.0 / (PIXAR_SR * 1e12)

    def prim_trans(w):
        if blocked:
            return np.zeros_like(w)
        return shutter_transmission(w, place.xpos, place.ypos, source_sigma=prim.size)

    src_raw = _source_image(scene, scene.fnu_primary, s_prim, prim.size, prim_trans) * to_sb
    ser_raw = np.zeros(geo.shape)
    ser_info = None
    if scene.serendip is not None:
        ser = scene.serendip
        s_ser, k_ser, y_intra, visible = _serendip_placement(scene, s_prim)

        def ser_trans(w):
            if not visible:
                return np.zeros_like(w)
            return shutter_transmission(w, place.serendip_xpos, y_intra, source_sigma=ser.size)

        ser_raw = _source_image(scene, scene.fnu_serendip, s_ser, ser.size, ser_trans) * to_sb
        ser_info = (s_ser, visible, ser_trans)

    wave_filled = np.where(scene.inside, scene.wave, np.nanmedian(scene.wave))
    pl_ps = shutter_transmission(wave_filled, place.xpos, place.ypos)
    pl_un = uniform_transmission(wave_filled)
    raw = scene.sky_raw + src_raw + ser_raw
    conv = scene.conv
    expected_e = raw / conv * exptime
    scale = conv / exptime / pl_ps  # electrons -> MJy/sr (path-loss corrected)
    var_p = expected_e * scale**2
    var_r = np.full(geo.shape, nz.READ_NOISE_E**2) * scale**2
    dq = np.zeros(geo.shape, dtype=np.uint32)
    if add_noise:
        counts = nz.realise_counts(expected_e, rng)
        hits = nz.cosmic_ray_hits(geo.shape, rng)
        counts = counts + hits
        dq[hits > 0] |= nz.DQ_DO_NOT_USE | nz.DQ_JUMP_DET
        counts = np.where(scene.hot, counts + 1000.0, counts)
        counts = np.where(scene.dead, 0.0, counts)
        dq[scene.hot] |= nz.DQ_DO_NOT_USE | nz.DQ_HOT
        dq[scene.dead] |= nz.DQ_DO_NOT_USE | nz.DQ_DEAD
    else:
        counts = expected_e
    outside = ~scene.inside
    dq[outside] |= nz.DQ_DO_NOT_USE | nz.DQ_NON_SCIENCE
    sci = counts * scale
    truth_sci = raw / pl_ps
    s_map = geo.slit_coordinate()
    # slit frame of the JWST pipeline: open-area units from the source shutter centre
    yslit = (s_map - float(geo.shutter_center(k_src))) * SLIT_FRAME_Y
    nanout = [sci, var_p, var_r, truth_sci, pl_ps, pl_un, yslit]
    sci, var_p, var_r, truth_sci, pl_ps, pl_un, yslit = (
        np.where(outside, np.nan, a) for a in nanout
    )
    truth_src = np.where(outside, np.nan, src_raw / pl_ps)
    truth_sky = np.where(outside, np.nan, scene.sky_raw / pl_ps)

    trace = _trace_table(scene, place, s_prim, prim_trans, ser_info)
    info = {
        "source_blocked": bool(blocked),
        "serendip_id": -1 if scene.serendip is None else scene.serendip.source_id,
        "serendip_visible": bool(ser_info[1]) if ser_info else False,
        "stuck_shutter": -1 if scene.stuck is None else int(scene.stuck),
    }
    m = dict(meta or {})
    m.update(
        {
            "simulated": True,
            "pathloss_applied": "PS",
            "srctype": "POINT",
            "pixar_sr": PIXAR_SR,
            "pixar_a2": PIXAR_A2,
            "nod_type": _nod_type(place.n_nods, n),
            "nod_offset": place.offset * 0.529,
        }
    )
    exposure = SlitletExposure(
        sci=sci,
        var_poisson=var_p,
        var_rnoise=var_r,
        var_flat=np.where(outside, np.nan, 0.0),
        dq=dq,
        wave=scene.wave,
        yslit=yslit,
        source_id=prim.source_id,
        source_name=prim.name,
        grating=scene.disperser.grating,
        filter=scene.disperser.filter,
        detector="NRS1",
        exptime=float(exptime),
        nod_position=place.nod_index + 1,
        n_nods=place.n_nods,
        shutter_state=shutter_state(n, k_src, scene.stuck),
        source_xpos=place.xpos * SLIT_FRAME_X,
        source_ypos=place.ypos * SLIT_FRAME_Y,
        slitlet_id=scene.slitlet_id,
        bunit="MJy/sr",
        pathloss_ps=pl_ps,
        pathloss_un=pl_un,
        meta=m,
    )
    return exposure, TruthExposure(
        sci=truth_sci, source=truth_src, sky=truth_sky, trace=trace, meta=info
    )


def _nod_type(n_nods: int, n_shutters: int) -> str:
    if n_nods == n_shutters:
        return f"{n_shutters}-SHUTTER-SLITLET"
    return f"{n_nods}-NOD-{n_shutters}-SHUTTER-SLITLET"


def _trace_columns(scene, s_src, size, trans_fn, fnu_source):
    geo = scene.geometry
    x = np.arange(geo.nx, dtype=float)
    y = geo.trace_row(s_src, x)
    wave = geo.wave_at(x, y)
    lo, hi = geo.wave_at(x - 0.5, y), geo.wave_at(x + 0.5, y)
    fnu = fnu_pixel_average(fnu_source, wave, lo, hi, disperser=scene.disperser)
    conv = mjysr_per_eps(scene.disperser, wave, hi - lo)
    return x, y, wave, profile_sigma_px(wave, size), fnu, trans_fn(wave), conv


def _trace_table(scene, place, s_prim, prim_trans, ser_info) -> QTable:
    prim = scene.primary
    x, y, wave, sig, fnu, trans, conv = _trace_columns(scene, s_prim, prim.size, prim_trans, prim)
    t = QTable()
    t["x"] = x * u.pix
    t["wave"] = wave * u.um
    t["y"] = y * u.pix
    t["sigma"] = sig * u.pix
    t["fnu"] = fnu * u.uJy
    t["pathloss_ps"] = shutter_transmission(wave, place.xpos, place.ypos)
    t["transmission"] = trans
    t["conv"] = conv
    t["conv"].info.description = "MJy/sr per e-/s (SCI before path-loss correction)"
    nan = np.full_like(x, np.nan)
    if ser_info is not None:
        s_ser, _visible, ser_trans = ser_info
        ser = scene.serendip
        _, ys, ws, ss, fs, ts, _ = _trace_columns(scene, s_ser, ser.size, ser_trans, ser)
        t["y_ser"], t["wave_ser"], t["sigma_ser"] = ys * u.pix, ws * u.um, ss * u.pix
        t["fnu_ser"], t["transmission_ser"] = fs * u.uJy, ts
    else:
        t["y_ser"], t["wave_ser"], t["sigma_ser"] = nan * u.pix, nan * u.um, nan * u.pix
        t["fnu_ser"], t["transmission_ser"] = nan * u.uJy, nan
    return t
