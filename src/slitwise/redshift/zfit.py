"""Template redshift fitting of 1D spectra: :func:`zfit`.

Pipeline for one source (one or several spectra fitted jointly for one redshift):

1. resolution per pixel (the spectrum's own R, else its NIRSpec disperser with the
   point-source factor, else the user's value), pixel edges (air wavelengths, flagged by
   ``meta['wave_medium'] == 'air'``, converted to vacuum), weights 1/err (0 for invalid
   pixels; an optional error floor is added in quadrature and recorded);
2. z-independent set-up of the design (:func:`~slitwise.redshift.design.prepare_design`);
3. chi2 on a velocity-spaced coarse grid (NNLS at every z, numba-parallel), then fine grids
   around the best ``nrefine`` distinct minima, merged into one non-uniform grid;
4. ZBEST (parabolic interpolation of the fine minimum), p(z), ZCONF (integral within +-0.03),
   ZWARN bits (:mod:`slitwise.redshift.flags`), coefficients with errors, line fluxes and the
   best-fit model on every pixel.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import QTable

from slitwise.errors import SlitwiseInputError, input_error
from slitwise.redshift.design import DesignSetup, PixelSet, prepare_design
from slitwise.redshift.flags import ZWarn
from slitwise.redshift.grid import (
    C_KMS,
    default_spacing,
    find_minima,
    merge_grids,
    refine_windows,
    velocity_grid,
)
from slitwise.redshift.nnls import chi2_grid, gram_at, nnls_gram
from slitwise.redshift.pz import pz_from_chi2, zconf
from slitwise.redshift.templates import TemplateLibrary
from slitwise.spectra import Spectrum1D

__all__ = ["zfit", "ZfitResult", "resolve_resolution", "air_to_vacuum", "ZCONF_WINDOW"]

log = logging.getLogger(__name__)

#: Half-width (in z) of the ZCONF integration window.
ZCONF_WINDOW = 0.03
_CACHE: dict[str, DesignSetup] = {}
_CACHE_MAX = 4


@dataclasses.dataclass(frozen=True, eq=False)
class ZfitResult:
    """Outcome of :func:`zfit`.

    Attributes
    ----------
    zbest : float
        Best redshift (NaN when no fit was possible).
    zconf : float
        Integral of p(z) within +-``ZCONF_WINDOW`` of ``zbest``.
    zqual : int
        3 secure, 2 probable, 1 possible, 0 failed (see ``slitwise.io.schema.ZQUAL_VALUES``).
    chi2min, chi2_nu : float
        chi2 and reduced chi2 at ``zbest``; ``ndof`` degrees of freedom.
    zwarn : int
        :class:`~slitwise.redshift.flags.ZWarn` bitmask.
    z, chi2, pz : ndarray
        Merged non-uniform grid, chi2 and normalised p(z).
    z_coarse, chi2_coarse : ndarray
        The coarse grid and its chi2.
    minima_z, minima_chi2 : ndarray
        The refined distinct minima, best first.
    names : tuple of str
        Template names; ``coeffs``/``coeff_errs`` their coefficients at ``zbest`` and 1-sigma
        errors (NaN for templates not constrained); ``coeff_units`` the unit string of each.
    models : list of Quantity
        Best-fit model on every pixel of each input spectrum (in that spectrum's flux unit).
    continuum_models : list of Quantity
        The same with the continuum templates alone (no emission-line templates).
    settings : dict
        Every option used (recorded in products).
    """

    zbest: float
    zconf: float
    zqual: int
    chi2min: float
    chi2_nu: float
    ndof: int
    npix: int
    zwarn: int
    zmin: float
    zmax: float
    z: np.ndarray
    chi2: np.ndarray
    pz: np.ndarray
    z_coarse: np.ndarray
    chi2_coarse: np.ndarray
    minima_z: np.ndarray
    minima_chi2: np.ndarray
    names: tuple[str, ...]
    ncont: int
    coeffs: np.ndarray
    coeff_errs: np.ndarray
    coeff_units: tuple[str, ...]
    models: list
    continuum_models: list
    spectra: list
    settings: dict[str, Any]
    timing: dict[str, float]

    @property
    def ntempl(self) -> int:
        return len(self.names)

    @property
    def flags(self) -> list[str]:
        """Names of the ZWARN bits set."""
        from slitwise.redshift.flags import describe

        return describe(self.zwarn)

    def line_fluxes(self) -> QTable:
        """Line-group fluxes and 1-sigma errors at ``zbest`` in erg/s/cm^2."""
        rows = slice(self.ncont, None)
        unit = u.Unit(self.coeff_units[self.ncont]) if self.ntempl > self.ncont else u.one
        scale = (1.0 * unit).to(u.erg / u.s / u.cm**2).value if unit != u.one else 1.0
        return QTable(
            {
                "line": list(self.names[rows]),
                "flux": self.coeffs[rows] * scale * u.erg / u.s / u.cm**2,
                "err": self.coeff_errs[rows] * scale * u.erg / u.s / u.cm**2,
            }
        )


def resolve_resolution(spec: Spectrum1D, resolution=None) -> np.ndarray:
    """Resolving power per pixel of ``spec``.

    Order: ``resolution`` if given (a number, a per-pixel array, a
    :class:`~slitwise.instruments.ResolutionModel` or a NIRSpec disperser name), else
    ``spec.resolution``, else the NIRSpec disperser in ``spec.meta['grating']`` (point-source
    R), else ``spec.meta['spec_res']`` (either also looked up in ``spec.meta['header']``).

    Raises
    ------
    SlitwiseInputError
        If none is available or the values are not positive and finite.
    """
    from slitwise.instruments import ResolutionModel, get_disperser

    name = spec.meta.get("filename", "spectrum")
    wave_um = spec.wave.to_value(u.um)
    res = None
    if resolution is not None:
        if isinstance(resolution, ResolutionModel):
            res = resolution.resolving_power(wave_um)
        elif isinstance(resolution, str):
            res = get_disperser(resolution, point_source=True).resolving_power(wave_um)
        else:
            arr = np.asarray(resolution, dtype=float)
            res = np.full(wave_um.shape, float(arr)) if arr.ndim == 0 else arr
    elif spec.resolution is not None:
        res = spec.resolution
    else:
        meta = _meta_lower(spec)
        grating = meta.get("grating")
        if grating:
            try:
                d = get_disperser(str(grating), meta.get("filter") or None, point_source=True)
            except SlitwiseInputError as exc:
                raise input_error(f"{name}: GRATING", str(exc)) from exc
            res = d.resolving_power(wave_um)
        elif meta.get("spec_res"):
            res = np.full(wave_um.shape, float(meta["spec_res"]))
    if res is None:
        raise input_error(
            name,
            "no resolution known: give resolution=R (number, per-pixel array or disperser), "
            "or a spectrum with R or a NIRSpec grating in its metadata",
        )
    res = np.asarray(res, dtype=float)
    if res.shape != wave_um.shape:
        raise input_error(f"{name}: resolution", f"has shape {res.shape}, expected {wave_um.shape}")
    bad = ~(np.isfinite(res) & (res > 0))
    if bad.all():
        raise input_error(f"{name}: resolution", "no positive finite value")
    if bad.any():
        res = np.interp(wave_um, wave_um[~bad], res[~bad])
    return res


def _meta_lower(spec: Spectrum1D) -> dict[str, Any]:
    """Lower-case metadata, falling back on the file's header cards (``meta['header']``)."""
    meta = {}
    header = spec.meta.get("header")
    if isinstance(header, dict):
        meta.update({str(k).lower(): v for k, v in header.items()})
    meta.update({str(k).lower(): v for k, v in spec.meta.items() if v is not None})
    return meta


def air_to_vacuum(wave_aa: np.ndarray) -> np.ndarray:
    """Air to vacuum wavelengths (Angstrom), refractive index of Morton (2000, ApJS 130, 403).

    The index is evaluated at the air wavelength (error < 1e-8 in n).
    """
    s2 = (1e4 / np.asarray(wave_aa, dtype=float)) ** 2
    n = 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)
    return wave_aa * n


def _grating_of(spec: Spectrum1D) -> str | None:
    g = _meta_lower(spec).get("grating")
    return str(g).upper() if g else None


def _setup_cached(lib, pixels, zmin, zmax, igm) -> DesignSetup:
    h = hashlib.sha1()
    for a in (pixels.lo, pixels.hi, pixels.R, pixels.conv, pixels.seg_end):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((id(lib), lib.names, lib.line_sigma_kms, zmin, zmax, igm)).encode())
    key = h.hexdigest()
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = prepare_design(lib, pixels, zmin=zmin, zmax=zmax, igm=igm)
    return _CACHE[key]


def _parabola_min(z: np.ndarray, c: np.ndarray, i: int) -> float:
    if i <= 0 or i >= z.size - 1:
        return float(z[i])
    x0, x1, x2 = np.log1p(z[i - 1 : i + 2])
    y0, y1, y2 = c[i - 1 : i + 2]
    den = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
    if a <= 0:
        return float(z[i])
    xm = -b / (2 * a)
    if not x0 <= xm <= x2:
        return float(z[i])
    return float(np.expm1(xm))


def zfit(
    spectrum: Spectrum1D | Sequence[Spectrum1D],
    *,
    zmin: float = 0.0,
    zmax: float | None = None,
    templates: TemplateLibrary | None = None,
    resolution=None,
    dv_coarse: float | None = None,
    dv_fine: float | None = None,
    nrefine: int = 5,
    nscreen: int = 15,
    refine_half_width: float = 3000.0,
    igm: str = "inoue14",
    error_floor: float = 0.0,
    pz_rescale: bool = True,
    zconf_window: float = ZCONF_WINDOW,
) -> ZfitResult:
    """Fit the redshift of one source by NNLS template fitting on coarse and fine z grids.

    Parameters
    ----------
    spectrum : Spectrum1D or sequence of Spectrum1D
        One spectrum, or several spectra of the same source fitted jointly (same redshift,
        same template coefficients).
    zmin, zmax : float
        Search range. ``zmax`` defaults to 20 for PRISM and 15 otherwise, but never beyond
        the redshift where Lya leaves the observed range (lambda_max / 1215.67 A - 1).
    templates : TemplateLibrary, optional
        Default :meth:`TemplateLibrary.default` (63 templates).
    resolution : float, array, ResolutionModel or str, optional
        Resolving power (see :func:`resolve_resolution`); a sequence of these for several
        spectra.
    dv_coarse, dv_fine : float, optional
        Grid steps in km/s (default by disperser: PRISM 500/30, M 100/10, H 30/5; otherwise
        c/R/2 and a quarter of that).
    nrefine : int
        Number of distinct minima refined on the fine grid (>= 3 recommended).
    nscreen : int
        Number of coarse local minima screened first on a grid 5x finer than the coarse one
        (+-2 coarse steps), before the ``nrefine`` best are refined.
    refine_half_width : float
        Half-width (km/s) of each fine window.
    igm : {"inoue14", "inoue14+damping", "none"}
        IGM model for the continua (``+damping`` adds the z > 6 Lya damping wing).
    error_floor : float
        Fraction of |flux| added in quadrature to the errors (default 0: errors used as given).
    pz_rescale : bool
        Divide delta chi2 by max(1, reduced chi2) in p(z) (broadens p(z) when the templates
        do not fit to within the errors; default True, recorded in ``settings``).
    zconf_window : float
        Half-width in z of the ZCONF integral.

    Returns
    -------
    ZfitResult

    Raises
    ------
    SlitwiseInputError
        No valid pixel, bad resolution, bad range, or no overlap of the templates with the
        data at any redshift in range.
    """
    t0 = time.perf_counter()
    spectra = [spectrum] if isinstance(spectrum, Spectrum1D) else list(spectrum)
    if not spectra or not all(isinstance(s, Spectrum1D) for s in spectra):
        raise input_error("zfit spectrum", "expected a Spectrum1D or a sequence of them")
    lib = templates if templates is not None else TemplateLibrary.default()
    if isinstance(resolution, (list, tuple)) and len(resolution) == len(spectra) > 1:
        resolutions = list(resolution)
    else:
        resolutions = [resolution] * len(spectra)
    # one flux convention for all spectra (that of the first)
    fnu = spectra[0].is_fnu
    unit0 = spectra[0].flux.unit
    conv_spectra = [
        (s.to_fnu(unit0) if fnu else s.to_flambda(unit0)) if s.flux.unit != unit0 else s
        for s in spectra
    ]
    gratings = [_grating_of(s) for s in spectra]
    segments, flux, err, valid = [], [], [], []
    rmed = []
    for s, res in zip(conv_spectra, resolutions, strict=True):
        R = resolve_resolution(s, res)
        edges = s.pixel_edges().to_value(u.AA)
        if str(_meta_lower(s).get("wave_medium", "vacuum")).lower() == "air":
            # templates and line lists are in vacuum
            edges = air_to_vacuum(edges)
        segments.append((edges[:-1], edges[1:], R))
        f = s.flux.value.astype(float)
        e = s.err.value.astype(float)
        ok = np.asarray(s.valid, dtype=bool) & np.isfinite(f) & np.isfinite(e) & (e > 0)
        if error_floor > 0:
            e = np.sqrt(e**2 + (error_floor * np.abs(f)) ** 2)
        flux.append(np.where(ok, f, 0.0))
        err.append(np.where(ok, e, 1.0))
        valid.append(ok)
        rmed.append(np.median(R))
    flux = np.concatenate(flux)
    err = np.concatenate(err)
    valid = np.concatenate(valid)
    names = ", ".join(str(s.meta.get("filename", "spectrum")) for s in spectra)
    nvalid = int(valid.sum())
    if nvalid == 0:
        raise input_error(names, "no valid pixel (flux and error finite, error > 0)")
    pixels = PixelSet.from_arrays(segments, fnu=fnu)
    wv = 0.5 * (pixels.lo + pixels.hi)[valid]
    # ranges and grids
    is_prism = any(g and g.startswith("PRISM") for g in gratings)
    if zmax is None:
        # no higher than where the reddest pixel falls below Lya (nothing left but the IGM)
        zmax = min(20.0 if is_prism else 15.0, float(wv.max()) / 1215.67 - 1.0)
        zmax = max(zmax, zmin + 0.1)
    if not (np.isfinite(zmin) and np.isfinite(zmax)) or zmin <= -0.5 or zmax <= zmin:
        raise input_error("zfit zmin/zmax", f"need -0.5 < zmin < zmax, got {zmin}, {zmax}")
    rest_lo, rest_hi = lib.rest_range()
    if lib.lines:
        lw = [w for g in lib.lines for w in g.wavelengths]
        rest_lo, rest_hi = min(rest_lo, min(lw)), max(rest_hi, max(lw))
    if wv.max() / (1 + zmin) < rest_lo or wv.min() / (1 + zmax) > rest_hi:
        raise input_error(
            names,
            f"observed range {wv.min():.0f}-{wv.max():.0f} A never overlaps the templates "
            f"({rest_lo:.0f}-{rest_hi:.0f} A rest) for {zmin} <= z <= {zmax}",
        )
    g0 = next((g for g in gratings if g), None)
    if is_prism:
        g0 = "PRISM"
    dc, df = default_spacing(g0, float(np.median(rmed)))
    dv_coarse = dc if dv_coarse is None else float(dv_coarse)
    dv_fine = df if dv_fine is None else float(dv_fine)
    setup = _setup_cached(lib, pixels, float(zmin), float(zmax), igm)
    t1 = time.perf_counter()
    zc = velocity_grid(zmin, zmax, dv_coarse)
    err_w = np.where(valid, err, np.inf)
    # spectra sharing a pixel grid (benchmarks, resampled archives) re-use the coarse design
    setup.uses[0] += 1
    chi2c, _ = chi2_grid(setup, zc, flux, err_w, reuse=setup.uses[0] > 1)
    bb = float(np.sum((flux[valid] / err[valid]) ** 2))
    if np.all(chi2c >= bb * (1 - 1e-12)) and bb > 0:
        raise input_error(
            names, f"no template has flux on the valid pixels at any z in [{zmin}, {zmax}]"
        )
    t2 = time.perf_counter()
    # screening: a short, finer grid around many coarse local minima. Strong narrow lines make
    # chi2(z) much narrower than the coarse step, so the coarse value at the true z can be
    # far above its minimum; screening catches those before the choice of the refined minima.
    iscr = find_minima(zc, chi2c, nmax=nscreen, separation_kms=2.0 * dv_coarse)
    zs = refine_windows(
        zc[iscr], dv_kms=dv_coarse / 5.0, half_width_kms=2.0 * dv_coarse, zmin=zmin, zmax=zmax
    )
    chi2s, _ = chi2_grid(setup, zs, flux, err_w) if zs.size else (np.zeros(0), None)
    z1, c1 = merge_grids(zc, chi2c, zs, chi2s)
    imin = find_minima(z1, c1, nmax=nrefine, separation_kms=refine_half_width)
    zf = refine_windows(
        z1[imin], dv_kms=dv_fine, half_width_kms=refine_half_width, zmin=zmin, zmax=zmax
    )
    chi2f, _ = chi2_grid(setup, zf, flux, err_w) if zf.size else (np.zeros(0), None)
    z, chi2 = merge_grids(z1, c1, zf, chi2f)
    t3 = time.perf_counter()
    ibest = int(np.argmin(np.where(np.isfinite(chi2), chi2, np.inf)))
    zbest = _parabola_min(z, chi2, ibest)
    # fit at zbest: coefficients, errors, model
    A, G, h = gram_at(setup, zbest, flux, err_w)
    x, q = nnls_gram(G, h, 0)
    chi2min = float(bb - q)
    active = x > 0
    nact = int(active.sum())
    errs = np.full(x.size, np.nan)
    if nact:
        sub = G[np.ix_(active, active)]
        try:
            cov = np.linalg.inv(sub)
            errs[active] = np.sqrt(np.clip(np.diag(cov), 0, None))
        except np.linalg.LinAlgError:
            pass
    # templates with flux but zero coefficient: error from their own column (upper-limit scale)
    inact = (~active) & (np.diag(G) > 0)
    errs[inact] = 1.0 / np.sqrt(np.diag(G)[inact])
    ndof = max(nvalid - nact, 1)
    chi2_nu = chi2min / ndof
    scale = max(1.0, chi2_nu) if pz_rescale else 1.0
    pz = pz_from_chi2(z, chi2, scale=scale)
    zc_val = zconf(z, pz, zbest, window=zconf_window)
    # minima after refinement (for SMALL_DELTA_CHI2)
    mz, mc = [], []
    for i in imin:
        lnc = np.log1p(z1[i])
        win = np.abs(np.log1p(z) - lnc) <= refine_half_width / C_KMS
        if win.any():
            j = np.flatnonzero(win)[np.argmin(chi2[win])]
            mz.append(z[j])
            mc.append(chi2[j])
    order = np.argsort(mc)
    mz, mc = np.asarray(mz)[order], np.asarray(mc)[order]
    # flags
    zwarn = ZWarn(0)
    nfit = valid.size
    if nvalid < max(10, 2 * max(nact, 1)) or (wv.max() / wv.min() < 1.1):
        zwarn |= ZWarn.LITTLE_COVERAGE
    if nvalid < 0.8 * nfit:
        zwarn |= ZWarn.MASKED_PIXELS
    dist = np.abs(mz - zbest) / (1 + zbest)
    if np.any((dist > 0.01) & ((mc - chi2.min()) / scale < 9.0)):
        zwarn |= ZWarn.SMALL_DELTA_CHI2
    step = np.expm1(dv_fine / C_KMS) * (1 + zbest)
    if zbest <= zmin + step or zbest >= zmax - step:
        zwarn |= ZWarn.Z_AT_EDGE
    if chi2_nu > 4.0 or chi2_nu < 0.1:
        zwarn |= ZWarn.BAD_CHI2
    if not np.any(np.abs(A[:, valid]).sum(axis=1) > 0):
        zwarn |= ZWarn.NO_TEMPLATE_COVERAGE
    if nact == 0:
        zwarn |= ZWarn.ZERO_COEFFS
    if zc_val < 0.5:
        zwarn |= ZWarn.LOW_ZCONF
    above = pz >= 0.5 * pz.max()
    if above.sum() <= 1:
        zwarn |= ZWarn.UNRESOLVED_PEAK
    severe = ZWarn.NODATA | ZWarn.NO_TEMPLATE_COVERAGE | ZWarn.ZERO_COEFFS
    if zwarn & severe:
        zqual = 0
    elif zc_val >= 0.95 and not zwarn & ZWarn.SMALL_DELTA_CHI2:
        zqual = 3
    elif zc_val >= 0.68:
        zqual = 2
    else:
        zqual = 1
    model = x @ A
    cont_model = x[: lib.ncont] @ A[: lib.ncont]
    models, continuum_models = [], []
    for s, a, b in zip(conv_spectra, pixels.seg_start, pixels.seg_end, strict=True):
        models.append(model[a:b] * s.flux.unit)
        continuum_models.append(cont_model[a:b] * s.flux.unit)
    line_unit = (unit0 * u.Hz) if fnu else (unit0 * u.AA)
    units = ("",) * lib.ncont + (line_unit.to_string(),) * (lib.ntempl - lib.ncont)
    t4 = time.perf_counter()
    timing = {
        "setup": t1 - t0,
        "coarse": t2 - t1,
        "fine": t3 - t2,
        "final": t4 - t3,
        "total": t4 - t0,
        "n_coarse": float(zc.size),
        "n_screen": float(zs.size),
        "n_fine": float(zf.size),
    }
    settings = {
        "templates": lib.name,
        "ntempl": lib.ntempl,
        "igm": igm,
        "dv_coarse": dv_coarse,
        "dv_fine": dv_fine,
        "nrefine": nrefine,
        "nscreen": nscreen,
        "refine_half_width": refine_half_width,
        "error_floor": error_floor,
        "pz_rescale": pz_rescale,
        "pz_scale": scale,
        "zconf_window": zconf_window,
        "line_sigma_kms": lib.line_sigma_kms,
        "flux_convention": "fnu" if fnu else "flambda",
    }
    log.info(
        "zfit %s: z=%.5f zconf=%.3f chi2_nu=%.2f zwarn=%d (%.2fs)",
        names,
        zbest,
        zc_val,
        chi2_nu,
        int(zwarn),
        timing["total"],
    )
    return ZfitResult(
        zbest=float(zbest),
        zconf=float(zc_val),
        zqual=int(zqual),
        chi2min=chi2min,
        chi2_nu=float(chi2_nu),
        ndof=int(ndof),
        npix=nvalid,
        zwarn=int(zwarn),
        zmin=float(zmin),
        zmax=float(zmax),
        z=z,
        chi2=chi2,
        pz=pz,
        z_coarse=zc,
        chi2_coarse=chi2c,
        minima_z=mz,
        minima_chi2=mc,
        names=lib.names,
        ncont=lib.ncont,
        coeffs=x,
        coeff_errs=errs,
        coeff_units=units,
        models=models,
        continuum_models=continuum_models,
        spectra=conv_spectra,
        settings=settings,
        timing=timing,
    )
