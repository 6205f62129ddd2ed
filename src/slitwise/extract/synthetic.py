"""Small synthetic nodded slitlets with known truth, for tests and benchmarks of extraction.

This is deliberately simpler than :mod:`slitwise.simulate` (no instrument optics): a tilted,
slightly curved trace, a Gaussian cross-dispersion profile whose width follows
:func:`slitwise.extract.profile.psf_sigma_pixels` plus a source size, a smooth sky, Poisson
and read noise, the nod pattern and optional cosmic rays, stuck shutters and a second source.
The exact expected pixel values and variances are returned, so the Horne limit is known.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from slitwise.extract.profile import profile_values, psf_sigma_pixels
from slitwise.spectra.slitlet import DQ_DO_NOT_USE, SlitletExposure

__all__ = ["SyntheticSlitlet", "make_nodded_slitlet"]

PIXAR_SR = 4.85e-13
_TO_UJY = PIXAR_SR * 1e12


@dataclasses.dataclass(eq=False)
class SyntheticSlitlet:
    """Exposures and truth of a synthetic nod group.

    Attributes
    ----------
    exposures : list of SlitletExposure
        SCI in MJy/sr with PIXAR_SR in meta.
    wave_true : callable
        ``wave_true(col)`` wavelength at the trace row.
    flux_true : callable
        ``flux_true(wave_um)`` true f_nu (uJy) of the primary.
    model : list of ndarray
        Expected source-only signal (uJy/pixel) in each exposure.
    var_true : list of ndarray
        Expected total variance (uJy^2/pixel^2) of each exposure.
    profile : list of ndarray
        True unit-area profile of the primary in each exposure.
    centres : list of ndarray
        True trace row per column.
    """

    exposures: list[SlitletExposure]
    flux_true: object
    model: list[np.ndarray]
    var_true: list[np.ndarray]
    profile: list[np.ndarray]
    centres: list[np.ndarray]
    sigma: np.ndarray
    secondary_dy: float | None = None

    def binned_truth(self, grid: np.ndarray) -> np.ndarray:
        """Expected optimal-extraction value per bin of ``grid``.

        The Horne-weighted (``P^2 / V``) mean over the pixels that land in each bin of the true
        spectrum at each pixel's own wavelength: the exact target of an unbiased extraction.
        """
        from slitwise.extract.pixels import assign_bins

        num = np.zeros(grid.size)
        den = np.zeros(grid.size)
        for e, exp in enumerate(self.exposures):
            b = assign_bins(exp.wave.ravel(), grid)
            w = (self.profile[e] ** 2 / self.var_true[e]).ravel()
            f = self.flux_true(exp.wave).ravel()
            ok = (b >= 0) & np.isfinite(w) & np.isfinite(f) & (self.model[e].ravel() != 0)
            num += np.bincount(b[ok], w[ok] * f[ok], minlength=grid.size)
            den += np.bincount(b[ok], w[ok], minlength=grid.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)


def make_nodded_slitlet(
    *,
    n_nods: int = 3,
    nx: int = 160,
    ny: int = 25,
    grating: str = "PRISM",
    flux_ujy: float = 2.0,
    sky_ujy: float = 0.5,
    read_noise_ujy: float = 0.02,
    counts_per_ujy: float = 400.0,
    source_sigma: float = 0.3,
    psf_scale: float = 1.0,
    nod_step: float = 5.1,
    centre: float = 12.3,
    curvature: float = 0.6,
    cosmic_rays: int = 0,
    stuck_nod: int | None = None,
    secondary_dy: float | None = None,
    secondary_ratio: float = 0.5,
    flagged_exposure: int | None = None,
    lines: bool = False,
    seed: int = 1,
) -> SyntheticSlitlet:
    """Make ``n_nods`` exposures of one slitlet with a point-like source.

    Parameters
    ----------
    n_nods : int
        Number of nod positions (2, 3 or 5).
    nx, ny : int
        Cut-out size.
    flux_ujy : float
        Mean source flux density (uJy); the spectrum has a slope and two emission lines.
    sky_ujy : float
        Sky per pixel (uJy).
    read_noise_ujy : float
        Read-noise sigma per pixel (uJy).
    counts_per_ujy : float
        Detected counts per uJy (sets the Poisson noise).
    source_sigma : float
        Intrinsic source size (pixels).
    stuck_nod : int, optional
        Exposure index whose source shutter is stuck closed (no source, dark rows).
    secondary_dy : float, optional
        Add a second source this many rows from the primary.
    flagged_exposure : int, optional
        Exposure whose DQ is entirely "do not use".
    lines : bool
        Add two unresolved emission lines (2.5 and 4.3 um).
    """
    rng = np.random.default_rng(seed)
    cols = np.arange(nx, dtype=float)
    rows = np.arange(ny, dtype=float)[:, None]
    if grating == "PRISM":
        lam = 0.8 + 4.4 * (cols / (nx - 1)) ** 1.6
        filt = "CLEAR"
    else:
        lam = 2.9 + 2.3 * cols / (nx - 1)
        filt = "F290LP"
    dlam = np.gradient(lam)
    # tilted iso-wavelength lines: wavelength also changes a little along the slit
    wave = lam[None, :] + 0.15 * dlam[None, :] * (rows - ny / 2)

    def flux_true(w):
        w = np.asarray(w, dtype=float)
        cont = flux_ujy * (w / 3.0) ** -0.5
        lines = 0.0
        for lc, amp in ((2.5, 6.0), (4.3, 4.0)) if lines else ():
            sig = lc / 400.0
            lines = lines + amp * flux_ujy * np.exp(-0.5 * ((w - lc) / sig) ** 2)
        return cont + lines

    t = 2 * cols / (nx - 1) - 1
    base_centre = centre + curvature * t**2 + 0.4 * t
    offsets = (np.arange(n_nods) - (n_nods - 1) / 2) * nod_step
    sigma = np.hypot(psf_scale * psf_sigma_pixels(wave), source_sigma)
    exposures, models, vars_, profs, centres = [], [], [], [], []
    sky = sky_ujy * (wave / 3.0) ** 0.5
    illum = np.broadcast_to((rows >= 3) & (rows <= ny - 4), (ny, nx))
    dark = np.zeros((ny, nx), dtype=bool)
    if stuck_nod is not None:
        c_stuck = base_centre + offsets[stuck_nod]
        dark = np.abs(rows - c_stuck[None, :]) < nod_step / 2
    for e in range(n_nods):
        c = base_centre + offsets[e]
        prof = profile_values(rows - c[None, :], sigma)
        src = flux_true(wave) * prof
        if secondary_dy is not None:
            prof2 = profile_values(rows - (c[None, :] + secondary_dy), np.hypot(sigma, 0.3))
            src = src + secondary_ratio * flux_ujy * prof2
        if stuck_nod is not None:
            src = np.where(dark, 0.0, src)
        total = np.where(illum & ~dark, sky + src, 0.0)
        var_p = np.maximum(total, 0) / counts_per_ujy
        var_r = np.full((ny, nx), read_noise_ujy**2)
        counts = rng.poisson(np.maximum(total, 0) * counts_per_ujy)
        obs = counts / counts_per_ujy + rng.normal(0, read_noise_ujy, (ny, nx))
        # like the JWST pipeline, the Poisson variance comes from the (noisy) data
        var_p_data = np.maximum(obs, 0) / counts_per_ujy
        dq = np.zeros((ny, nx), dtype=np.uint32)
        dq[~illum] = DQ_DO_NOT_USE
        if flagged_exposure == e:
            dq[:] = DQ_DO_NOT_USE
        for _ in range(cosmic_rays):
            r, k = rng.integers(3, ny - 3), rng.integers(0, nx)
            obs[r, k] += 50 * flux_ujy
        wmap = np.where(illum, wave, np.nan)
        state = ["1"] * n_nods
        state[n_nods - 1 - e] = "x"
        exp = SlitletExposure(
            sci=obs / _TO_UJY,
            var_poisson=var_p_data / _TO_UJY**2,
            var_rnoise=var_r / _TO_UJY**2,
            var_flat=np.zeros((ny, nx)),
            dq=dq,
            wave=wmap,
            source_id=42,
            source_name="synth42",
            grating=grating,
            filter=filt,
            detector="NRS1",
            exptime=1000.0,
            nod_position=e + 1,
            n_nods=n_nods,
            shutter_state="".join(state),
            bunit="MJy/sr",
            pathloss_ps=np.ones((ny, nx)),
            meta={"filename": f"synth_{grating.lower()}_{e + 1}.fits", "pixar_sr": PIXAR_SR,
                  "nod_offset": float(offsets[e]) * 0.1035,
                  "pathloss_applied": "PS"},  # fmt: skip
        )
        exposures.append(exp)
        models.append(np.where(illum & ~dark, src, 0.0))
        vars_.append(var_p + var_r)
        profs.append(prof)
        centres.append(c)
    return SyntheticSlitlet(
        exposures=exposures,
        flux_true=flux_true,
        model=models,
        var_true=vars_,
        profile=profs,
        centres=centres,
        sigma=sigma,
        secondary_dy=secondary_dy,
    )
