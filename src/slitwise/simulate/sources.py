"""Simulated sources: population, and the true spectrum of a source on any wavelength grid.

A :class:`SourceModel` is a galaxy with a redshift, a power-law continuum with a Lyman break,
narrow emission lines (one velocity width for all), an optional broad H-alpha/H-beta component,
a Gaussian size and a position in its MSA shutter.

Continuum (f_nu, uJy)::

    f_nu(lam) = cont_fnu * (lam / 3.5 um)**(beta + 2) * S(lam)

with ``f_lambda ~ lam**beta``; ``S = 1`` redward of Ly-alpha, ``igm_transmission`` between the
Lyman limit and Ly-alpha, 0 blueward of the Lyman limit (a mean-IGM step, Madau 1995 form
``exp(-0.0036 (1+z)**3.46)``). Lines are Gaussians in wavelength with integrated fluxes in
erg/s/cm2 and widths sigma in km/s.

:func:`true_spectrum` returns the *pixel-averaged* f_nu on a grid: every value is the mean of
the spectrum over the pixel (edges half-way between centres unless given), so that summing
``f_lambda * dlambda`` over pixels conserves line fluxes on any grid. With a ``disperser`` the
spectrum is first convolved with that disperser's Gaussian LSF for this source (see
:func:`source_lsf_sigma`); without one it is the intrinsic spectrum. The values are the total
flux of the source, before any slit loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from slitwise.instruments import Disperser, get_disperser
from slitwise.simulate.lines import CASE_B, LINES
from slitwise.simulate.slitpsf import OPEN_X, _phi_cdf, _phi_cdf_integral

__all__ = [
    "SourceModel",
    "CONT_REF_UM",
    "C_UM_S",
    "draw_source",
    "igm_transmission",
    "source_lsf_sigma",
    "fnu_pixel_average",
    "true_spectrum",
    "pixel_edges",
    "flam_to_fnu_ujy",
]

#: Observed wavelength (micron) at which ``cont_fnu`` is defined.
CONT_REF_UM = 3.5
#: Speed of light in micron/s and km/s.
C_UM_S = 2.99792458e14
_C_KMS = 299792.458
_LYA_UM = LINES["Lya"] * 1e-4
_LYLIMIT_UM = 0.0911753
#: Tiny width (micron) used for "sharp" features when no LSF is applied.
_SHARP_UM = 1e-9
#: Source sigma (arcsec) at which the LSF is half-way from point-source to uniform (box/sqrt12).
_LSF_SIZE_SCALE = OPEN_X / np.sqrt(12.0)


@dataclasses.dataclass(frozen=True)
class SourceModel:
    """One simulated galaxy (all fluxes total, before slit losses).

    Attributes
    ----------
    source_id : int
        Identifier (SOURCEID).
    name : str
        Name (SRCNAME).
    z : float
        Redshift.
    cont_fnu : float
        Continuum f_nu at observed 3.5 micron, uJy (before the Lyman break).
    beta : float
        UV/optical slope, ``f_lambda ~ lambda**beta``.
    igm_transmission : float
        Continuum transmission between the Lyman limit and Ly-alpha.
    line_flux : mapping
        Narrow-line fluxes in erg/s/cm2, keyed by :data:`~slitwise.simulate.lines.LINES` name.
    sigma_kms : float
        Intrinsic Gaussian sigma of the narrow lines, km/s.
    broad_flux : mapping
        Broad-component fluxes (erg/s/cm2), e.g. ``{"Halpha": ..., "Hbeta": ...}``; empty if none.
    broad_sigma_kms : float
        Sigma of the broad component, km/s (0 when there is none).
    size : float
        Intrinsic Gaussian sigma of the source, arcsec (0 = point source).
    xpos, ypos : float
        Intra-shutter position (pitch units) at the first nod. For a serendipitous source
        ``ypos`` is its intra-shutter y at the first nod if it falls in a shutter.
    is_serendip : bool
        True for a second source that falls in another source's slitlet by chance.
    host_id : int
        ``source_id`` of the slitlet's primary source (itself for a primary).
    slit_offset : float
        Offset along the slit from the primary source, in shutter pitches (0 for a primary).
    """

    source_id: int
    name: str
    z: float
    cont_fnu: float
    beta: float
    igm_transmission: float
    line_flux: Mapping[str, float]
    sigma_kms: float
    broad_flux: Mapping[str, float] = dataclasses.field(default_factory=dict)
    broad_sigma_kms: float = 0.0
    size: float = 0.0
    xpos: float = 0.0
    ypos: float = 0.0
    is_serendip: bool = False
    host_id: int = 0
    slit_offset: float = 0.0

    @property
    def has_broad(self) -> bool:
        """True when a broad component is present."""
        return bool(self.broad_flux) and self.broad_sigma_kms > 0

    def lines(self) -> list[tuple[str, str, float, float, float]]:
        """``(name, component, rest_um, flux, sigma_kms)`` of every line with positive flux."""
        out = []
        for name, flux in self.line_flux.items():
            if flux > 0:
                out.append((name, "narrow", LINES[name] * 1e-4, float(flux), self.sigma_kms))
        if self.has_broad:
            for name, flux in self.broad_flux.items():
                if flux > 0:
                    out.append(
                        (name, "broad", LINES[name] * 1e-4, float(flux), self.broad_sigma_kms)
                    )
        return out


def igm_transmission(z: float) -> float:
    """Mean Ly-alpha forest transmission at redshift ``z`` (Madau 1995 form)."""
    return float(np.exp(-0.0036 * (1.0 + z) ** 3.46))


def draw_source(
    rng: np.random.Generator,
    source_id: int,
    *,
    serendip: bool = False,
    host_id: int | None = None,
    z_range: tuple[float, float] = (1.5, 9.0),
) -> SourceModel:
    """Draw one random galaxy.

    Primary sources: H-alpha flux log-uniform in 2e-18..3e-17 erg/s/cm2, continuum log-uniform
    in 0.05..0.8 uJy at 3.5 micron, narrow sigma 40..200 km/s, a broad H-alpha/H-beta
    component (sigma 700..1500 km/s) for a quarter of them, sizes 0 (40 %) or 0.01..0.08",
    intra-shutter positions uniform in +-0.3 pitch. Serendipitous sources are 3x fainter and sit
    0.55..0.95 pitch above or below the primary.
    """
    z = float(rng.uniform(*z_range))
    faint = 1.0 / 3.0 if serendip else 1.0
    f_ha = float(10 ** rng.uniform(np.log10(2e-18), np.log10(3e-17))) * faint
    cont = float(10 ** rng.uniform(np.log10(0.05), np.log10(0.8))) * faint
    beta = float(rng.uniform(-2.6, -1.2))
    dust = float(rng.uniform(1.0, 1.4))  # Balmer decrement / Case B
    f_hb = f_ha * CASE_B["Hbeta"] / dust
    o3 = f_hb * float(rng.uniform(2.0, 7.0))
    o2 = f_hb * float(rng.uniform(0.5, 2.0))
    n2 = f_ha * float(rng.uniform(0.02, 0.2))
    flux = {
        "Lya": f_ha * float(rng.uniform(0.0, 1.0)),
        "OII_3727": o2 / 2.3,
        "OII_3730": o2 * 1.3 / 2.3,
        "NeIII_3870": f_hb * float(rng.uniform(0.2, 0.6)),
        "Hdelta": f_ha * CASE_B["Hdelta"] / dust**1.2,
        "Hgamma": f_ha * CASE_B["Hgamma"] / dust**1.1,
        "Hbeta": f_hb,
        "OIII_4960": o3 / 2.98,
        "OIII_5008": o3,
        "HeI_5877": f_hb * 0.1,
        "OI_6302": f_ha * 0.03,
        "NII_6550": n2 / 3.05,
        "Halpha": f_ha,
        "NII_6585": n2,
        "SII_6718": f_ha * 0.05,
        "SII_6733": f_ha * 0.04,
        "SIII_9071": f_ha * 0.1 / 2.44,
        "SIII_9533": f_ha * 0.1,
        "HeI_10833": f_ha * 0.08,
        "Pagamma": f_ha * CASE_B["Pagamma"],
        "Pabeta": f_ha * CASE_B["Pabeta"],
        "Paalpha": f_ha * CASE_B["Paalpha"],
    }
    has_broad = (not serendip) and rng.uniform() < 0.25
    broad = {}
    broad_sigma = 0.0
    if has_broad:
        fb = f_ha * float(rng.uniform(0.5, 2.0))
        broad = {"Halpha": fb, "Hbeta": fb * CASE_B["Hbeta"]}
        broad_sigma = float(rng.uniform(700.0, 1500.0))
    size = 0.0 if rng.uniform() < 0.4 else float(rng.uniform(0.01, 0.08))
    xpos, ypos = (float(v) for v in rng.uniform(-0.3, 0.3, size=2))
    offset = 0.0
    if serendip:
        offset = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.55, 0.95))
    return SourceModel(
        source_id=int(source_id),
        name=str(source_id),
        z=z,
        cont_fnu=cont,
        beta=beta,
        igm_transmission=igm_transmission(z),
        line_flux=flux,
        sigma_kms=float(rng.uniform(40.0, 200.0)),
        broad_flux=broad,
        broad_sigma_kms=broad_sigma,
        size=size,
        xpos=xpos,
        ypos=ypos,
        is_serendip=serendip,
        host_id=int(source_id if host_id is None else host_id),
        slit_offset=offset,
    )


def _disperser_pair(disperser: str | Disperser) -> tuple[Disperser, Disperser]:
    name = disperser.name if isinstance(disperser, Disperser) else str(disperser)
    return get_disperser(name, point_source=True), get_disperser(name, point_source=False)


def source_lsf_sigma(
    source: SourceModel, disperser: str | Disperser, wave_um: np.ndarray
) -> np.ndarray:
    """Gaussian LSF sigma (micron) of ``source`` through ``disperser``.

    Interpolates in variance between the point-source LSF (``get_disperser(...,
    point_source=True)``) and the uniform-illumination LSF, with weight
    ``size**2 / (size**2 + s0**2)`` where ``s0 = 0.2" / sqrt(12)`` is the sigma of a uniformly
    filled shutter: a heuristic, not a calibrated model.
    """
    ps, un = _disperser_pair(disperser)
    s_ps = ps.lsf_sigma(wave_um)
    s_un = un.lsf_sigma(wave_um)
    w = source.size**2 / (source.size**2 + _LSF_SIZE_SCALE**2)
    return np.sqrt(s_ps**2 + w * (s_un**2 - s_ps**2))


def flam_to_fnu_ujy(flam_per_um: np.ndarray, wave_um: np.ndarray) -> np.ndarray:
    """Convert f_lambda in erg/s/cm2/micron to f_nu in uJy at ``wave_um``."""
    return np.asarray(flam_per_um) * np.asarray(wave_um) ** 2 / C_UM_S * 1e29


def _step_below_average(lo, hi, edge, sigma):
    # Pixel average of a unit step that is 1 blueward of ``edge``, blurred by ``sigma``.
    return (_phi_cdf_integral(edge - lo, sigma) - _phi_cdf_integral(edge - hi, sigma)) / (hi - lo)


def _powerlaw_average(lo, hi, p):
    x_lo, x_hi = lo / CONT_REF_UM, hi / CONT_REF_UM
    if abs(p + 1.0) < 1e-9:
        return np.log(x_hi / x_lo) / (x_hi - x_lo)
    return (x_hi ** (p + 1) - x_lo ** (p + 1)) / ((p + 1) * (x_hi - x_lo))


def fnu_pixel_average(
    source: SourceModel,
    center: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    disperser: str | Disperser | None = None,
) -> np.ndarray:
    """Pixel-averaged f_nu (uJy) of ``source`` on pixels ``[lo, hi]`` (micron, any shape).

    ``center`` is the wavelength used for the f_lambda -> f_nu conversion of the lines.
    With ``disperser`` the spectrum is convolved with the source's LSF first.
    """
    center = np.asarray(center, dtype=float)
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)

    def lsf(w):
        if disperser is None:
            return np.full_like(np.asarray(w, dtype=float), _SHARP_UM)
        return source_lsf_sigma(source, disperser, w)

    z1 = 1.0 + source.z
    lya, lyl = _LYA_UM * z1, _LYLIMIT_UM * z1
    step = (
        1.0
        - (1.0 - source.igm_transmission) * _step_below_average(lo, hi, lya, lsf(lya))
        - source.igm_transmission * _step_below_average(lo, hi, lyl, lsf(lyl))
    )
    fnu = source.cont_fnu * _powerlaw_average(lo, hi, source.beta + 2.0) * step
    wmin, wmax = np.nanmin(lo), np.nanmax(hi)
    flam = np.zeros_like(fnu)
    for _name, _comp, rest, flux, sig_kms in source.lines():
        wc = rest * z1
        sig = float(np.hypot(wc * sig_kms / _C_KMS, lsf(wc)))
        if wc + 8 * sig < wmin or wc - 8 * sig > wmax:
            continue
        frac = _phi_cdf((hi - wc) / sig) - _phi_cdf((lo - wc) / sig)
        flam += flux * frac / (hi - lo)
    return fnu + flam_to_fnu_ujy(flam, center)


def pixel_edges(wave_um: np.ndarray) -> np.ndarray:
    """Pixel edges half-way between centres, extrapolated at both ends (length n + 1)."""
    w = np.asarray(wave_um, dtype=float)
    mid = 0.5 * (w[1:] + w[:-1])
    return np.concatenate([[2 * w[0] - mid[0]], mid, [2 * w[-1] - mid[-1]]])


def true_spectrum(
    source,
    wave_um,
    *,
    disperser: str | Disperser | None = None,
    edges_um: np.ndarray | None = None,
):
    """True total f_nu of a source on a wavelength grid, in uJy (before slit losses).

    Parameters
    ----------
    source : SourceModel or truth-table row
        The source (a row of ``truth.ecsv`` is converted with
        :func:`slitwise.simulate.truth.source_from_row`).
    wave_um : array_like or Quantity
        Pixel-centre wavelengths (micron if no unit), increasing.
    disperser : str or Disperser, optional
        Convolve with this disperser's LSF for the source (as the simulator does); None gives
        the intrinsic spectrum.
    edges_um : array_like, optional
        Pixel edges (length n + 1); default half-way between centres.

    Returns
    -------
    Quantity
        Pixel-averaged f_nu in uJy.
    """
    import astropy.units as u

    from slitwise.simulate.truth import source_from_row

    if not isinstance(source, SourceModel):
        source = source_from_row(source)
    if isinstance(wave_um, u.Quantity):
        wave_um = wave_um.to_value(u.um)
    wave = np.asarray(wave_um, dtype=float)
    edges = pixel_edges(wave) if edges_um is None else np.asarray(edges_um, dtype=float)
    fnu = fnu_pixel_average(source, wave, edges[:-1], edges[1:], disperser=disperser)
    return fnu * u.uJy
