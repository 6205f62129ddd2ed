"""Resolution-aware template design matrices on observed pixels.

The model of a template in pixel ``p`` is the template, redshifted, convolved with the
instrument's Gaussian line-spread function of FWHM = lambda / R(lambda) and **integrated over
the pixel's edges** (never point-sampled):

* **continua** are smoothed on a uniform ln(lambda) rest grid (a Gaussian of fixed velocity
  width is the same kernel in the rest and observed frames), at a few knots in ln R; their
  cumulative integral is then differenced at the pixel edges / (1+z), and the two knots that
  bracket the pixel's R are interpolated linearly in ln R;
* **emission lines** are analytic: the pixel integral of a Gaussian whose width adds the LSF
  and the intrinsic dispersion in quadrature (error functions at the pixel edges);
* **IGM** transmission (z-dependent) multiplies the continua after it has been averaged over
  each pixel's LSF-and-pixel kernel (samples fixed per pixel, so only a table look-up per z).

Pixel values are pixel averages of f_lambda (``1/dlambda`` weighting) or of f_nu
(``1/dnu``), so a line coefficient is the line flux in (flux unit) x Angstrom or x Hz.

:func:`prepare_design` does the per-spectrum set-up once; :func:`build_design` (numba) fills the
matrix for one redshift and is what the parallel kernels in :mod:`slitwise.redshift.nnls` call.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numba
import numpy as np
from numba import prange

from slitwise.redshift.igm import IGMTable, igm_table
from slitwise.redshift.templates import TemplateLibrary

__all__ = ["PixelSet", "DesignSetup", "prepare_design", "build_design", "design_matrix"]

log = logging.getLogger(__name__)

C_KMS = 299792.458
C_AA_S = 2.99792458e18
FWHM_TO_SIGMA = 1.0 / 2.3548200450309493
#: Number of samples of each pixel's LSF-and-pixel kernel for the IGM average.
N_IGM_SAMPLES = 12


@dataclasses.dataclass(frozen=True, eq=False)
class PixelSet:
    """Observed pixels of one or several spectra (concatenated; sorted within a segment).

    Attributes
    ----------
    lo, hi : ndarray
        Pixel edges, Angstrom (observed).
    R : ndarray
        Resolving power per pixel.
    conv : ndarray
        1/dlambda [1/A] (f_lambda) or 1/dnu [1/Hz] (f_nu) per pixel.
    seg_start, seg_end : ndarray of int
        Segment (spectrum) boundaries in the concatenated arrays.
    """

    lo: np.ndarray
    hi: np.ndarray
    R: np.ndarray
    conv: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray

    @property
    def npix(self) -> int:
        return int(self.lo.size)

    @classmethod
    def from_arrays(cls, segments, *, fnu: bool) -> PixelSet:
        """Build from a list of ``(lo_AA, hi_AA, R)`` tuples, one per spectrum."""
        los, his, rs, starts, ends = [], [], [], [], []
        n = 0
        for lo, hi, r in segments:
            lo = np.asarray(lo, dtype=float)
            hi = np.asarray(hi, dtype=float)
            los.append(lo)
            his.append(hi)
            rs.append(np.broadcast_to(np.asarray(r, dtype=float), lo.shape))
            starts.append(n)
            n += lo.size
            ends.append(n)
        lo = np.concatenate(los)
        hi = np.concatenate(his)
        conv = 1.0 / (C_AA_S * (1.0 / lo - 1.0 / hi)) if fnu else 1.0 / (hi - lo)
        return cls(
            lo,
            hi,
            np.concatenate(rs).astype(float),
            conv,
            np.asarray(starts, dtype=np.int64),
            np.asarray(ends, dtype=np.int64),
        )

    def subset(self, keep: np.ndarray) -> PixelSet:
        """Pixels where ``keep`` is True (segments renumbered)."""
        keep = np.asarray(keep, dtype=bool)
        counts = [int(keep[s:e].sum()) for s, e in zip(self.seg_start, self.seg_end, strict=True)]
        ends = np.cumsum(counts)
        return PixelSet(
            self.lo[keep],
            self.hi[keep],
            self.R[keep],
            self.conv[keep],
            (ends - np.asarray(counts)).astype(np.int64),
            ends.astype(np.int64),
        )


@dataclasses.dataclass(frozen=True, eq=False)
class DesignSetup:
    """Everything :func:`build_design` needs, as plain arrays (see :func:`prepare_design`)."""

    pixels: PixelSet
    names: tuple[str, ...]
    ncont: int
    # continuum cumulative integrals: (nknot, ngrid, ncont) on rest ln-lambda grid
    cum: np.ndarray
    lnl0: float
    dlnl: float
    knot_j: np.ndarray
    # IGM
    igm: IGMTable | None
    igm_lnu: np.ndarray
    igm_w: np.ndarray
    # lines
    comp_wave: np.ndarray
    comp_weight: np.ndarray
    comp_offset: np.ndarray
    line_sigma: np.ndarray
    seg_rmin: np.ndarray
    #: design cubes kept for re-use (see :func:`slitwise.redshift.nnls.chi2_grid`)
    cubes: dict = dataclasses.field(default_factory=dict)
    #: number of fits that used this set-up
    uses: list = dataclasses.field(default_factory=lambda: [0])

    @property
    def ntempl(self) -> int:
        return len(self.names)

    def kernel_args(self) -> tuple:
        """Positional arguments of :func:`build_design` after ``z``."""
        p = self.pixels
        if self.igm is None:
            tab = np.ones((2, 2))
            igm_par = np.array([0.0, 1.0, 0.0, 1.0, -1.0])
        else:
            t = self.igm
            tab = t.values
            igm_par = np.array([t.lnl0, t.dlnl, t.lnz0, t.dlnz, np.log(t.wave_max)])
        return (
            np.log(p.lo),
            np.log(p.hi),
            p.lo,
            p.hi,
            p.conv,
            p.R,
            self.knot_j,
            self.cum,
            self.lnl0,
            self.dlnl,
            self.igm_lnu,
            self.igm_w,
            tab,
            igm_par,
            self.comp_wave,
            self.comp_weight,
            self.comp_offset,
            self.line_sigma,
            p.seg_start,
            p.seg_end,
            self.seg_rmin,
        )


def _gauss_smooth_fft(y: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Gaussian-smooth rows of ``y`` for each sigma (grid units); returns (nsig, nrow, n).

    Single precision (relative error ~1e-7 of the template peak, far below any S/N).
    """
    import scipy.fft

    n = y.shape[-1]
    pad = int(5 * max(sigmas.max(), 1.0)) + 1
    nfft = scipy.fft.next_fast_len(n + 2 * pad, real=True)
    yp = np.zeros(y.shape[:-1] + (nfft,), dtype=np.float32)
    yp[..., pad : pad + n] = y
    fy = scipy.fft.rfft(yp, axis=-1, workers=2)
    k = np.fft.rfftfreq(nfft).astype(np.float32)
    out = np.empty((sigmas.size,) + y.shape, dtype=np.float32)
    for i, s in enumerate(sigmas):
        kernel = np.exp(-2.0 * (np.pi * k * np.float32(s)) ** 2)
        out[i] = scipy.fft.irfft(fy * kernel, n=nfft, axis=-1, workers=2)[..., pad : pad + n]
    return out


@numba.njit(cache=True, parallel=True)
def _cumulate(smooth, lam):  # pragma: no cover - compiled
    """Trapezoid cumulative integral over ``lam``; (nknot, ncont, n) -> (nknot, n, ncont)."""
    nk, nc, n = smooth.shape
    out = np.empty((nk, n, nc))
    for k in prange(nk):
        acc = np.zeros(nc)
        for t in range(nc):
            out[k, 0, t] = 0.0
        for i in range(1, n):
            half_dl = 0.5 * (lam[i] - lam[i - 1])
            for t in range(nc):
                acc[t] += (float(smooth[k, t, i]) + float(smooth[k, t, i - 1])) * half_dl
                out[k, i, t] = acc[t]
    return out


def prepare_design(
    library: TemplateLibrary,
    pixels: PixelSet,
    *,
    zmin: float,
    zmax: float,
    igm: str = "inoue14",
    knot_step: float = 0.1,
) -> DesignSetup:
    """Pre-compute the z-independent parts of the design for ``pixels``.

    Parameters
    ----------
    library : TemplateLibrary
    pixels : PixelSet
    zmin, zmax : float
        Redshift range that will be searched (sets the rest-wavelength range needed).
    igm : {"inoue14", "inoue14+damping", "none"}
        IGM transmission model applied to the continua.
    knot_step : float
        Spacing in ln R of the pre-smoothing knots; each pixel uses the nearest knot, so its
        LSF width is within +-5 % (default) of the exact one.
    """
    lo, hi, R = pixels.lo, pixels.hi, pixels.R
    sig_lsf_kms = C_KMS * FWHM_TO_SIGMA / R
    dv = float(np.clip(sig_lsf_kms.min() / 3.0, 10.0, 100.0))
    dlnl = dv / C_KMS
    # rest range needed, padded by 6 sigma of the broadest LSF
    pad = 6.0 * sig_lsf_kms.max() / C_KMS + 0.01
    lnmin = np.log(lo.min()) - np.log1p(zmax) - pad
    lnmax = np.log(hi.max()) - np.log1p(max(zmin, -0.5)) + pad
    ngrid = int(np.ceil((lnmax - lnmin) / dlnl)) + 2
    lnl = lnmin + dlnl * np.arange(ngrid)
    lam = np.exp(lnl)
    ncont = library.ncont
    # knots in ln R
    lr = np.log(R)
    nknot = max(1, int(np.ceil((lr.max() - lr.min()) / knot_step)) + 1)
    knots = np.linspace(lr.min(), lr.max(), nknot) if nknot > 1 else np.array([lr.mean()])
    if nknot > 1:
        j = np.clip(np.rint((lr - knots[0]) / (knots[1] - knots[0])), 0, nknot - 1)
    else:
        j = np.zeros(lr.size)
    if ncont:
        flam = np.zeros((ncont, ngrid))
        for i, t in enumerate(library.continua):
            flam[i] = np.interp(lam, t.wave, t.flux, left=0.0, right=0.0)
            # normalise so coefficients are O(1) for O(1) spectra; scale absorbed anyway
            peak = flam[i].max()
            if peak > 0:
                flam[i] /= peak
        sig_grid = C_KMS * FWHM_TO_SIGMA / np.exp(knots) / dv
        smooth = _gauss_smooth_fft(flam, sig_grid)  # (nknot, ncont, ngrid), float32
        cum = _cumulate(smooth, lam)
    else:
        cum = np.zeros((nknot, ngrid, 0))
    # IGM kernel samples (z independent)
    tab = None
    if igm != "none":
        if igm not in ("inoue14", "inoue14+damping"):
            raise ValueError(f"unknown igm model {igm!r}")
        tab = igm_table(damping=igm.endswith("damping"))
    cen = 0.5 * (lo + hi)
    sig = cen / R * FWHM_TO_SIGMA
    t = np.linspace(0.0, 1.0, N_IGM_SAMPLES)
    u = (lo - 3 * sig)[:, None] + t[None, :] * ((hi - lo) + 6 * sig)[:, None]
    from scipy.special import ndtr

    w = ndtr((u - lo[:, None]) / sig[:, None]) - ndtr((u - hi[:, None]) / sig[:, None])
    w /= w.sum(axis=1, keepdims=True)
    # lines
    waves, weights, offsets, sigmas = [], [], [0], []
    for g in library.lines:
        waves.extend(g.wavelengths)
        weights.extend(g.weights)
        offsets.append(len(waves))
        sigmas.append(library.line_sigma_kms if g.sigma_kms is None else g.sigma_kms)
    seg_rmin = np.array(
        [R[s:e].min() for s, e in zip(pixels.seg_start, pixels.seg_end, strict=True)]
    )
    log.debug(
        "design: %d pixels, %d continua on %d rest points (%.0f km/s), %d R knots, %d lines",
        pixels.npix,
        ncont,
        ngrid,
        dv,
        nknot,
        len(library.lines),
    )
    return DesignSetup(
        pixels=pixels,
        names=library.names,
        ncont=ncont,
        cum=cum,
        lnl0=float(lnmin),
        dlnl=float(dlnl),
        knot_j=j.astype(np.int64),
        igm=tab,
        igm_lnu=np.log(u),
        igm_w=w,
        comp_wave=np.asarray(waves, dtype=float),
        comp_weight=np.asarray(weights, dtype=float),
        comp_offset=np.asarray(offsets, dtype=np.int64),
        line_sigma=np.asarray(sigmas, dtype=float),
        seg_rmin=seg_rmin.astype(float),
    )


@numba.njit(cache=True, fastmath=True)
def build_design(
    zs,
    A,
    rng_lo,
    rng_hi,
    lnlo,
    lnhi,
    lo,
    hi,
    conv,
    R,
    knot_j,
    cum,
    lnl0,
    dlnl,
    igm_lnu,
    igm_w,
    igm_tab,
    igm_par,
    comp_wave,
    comp_weight,
    comp_offset,
    line_sigma,
    seg_start,
    seg_end,
    seg_rmin,
):  # pragma: no cover - compiled
    """Fill ``A[b]`` (ntempl, npix) with the templates at redshift ``zs[b]`` for a batch.

    ``rng_lo[b]/rng_hi[b]`` receive, per template, the pixel range holding its non-zero
    values. The continuum loop runs over pixels outside and redshifts inside: neighbouring
    redshifts of a batch read neighbouring rows of the cumulative tables (cache friendly).
    """
    nb = zs.size
    npix = lo.size
    nknot, ngrid, ncont = cum.shape
    lzp = np.empty(nb)
    iz_igm = np.empty(nb, dtype=np.int64)
    tz_igm = np.empty(nb)
    for b in range(nb):
        lzp[b] = math.log1p(zs[b])
        fz = (lzp[b] - igm_par[2]) / igm_par[3]
        iz = min(max(int(fz), 0), igm_tab.shape[0] - 2)
        iz_igm[b] = iz
        tz_igm[b] = min(max(fz - iz, 0.0), 1.0)
    # --- continua: cumulative integral at both pixel edges, differenced. Adjacent pixels
    # share an edge: its values are reused when the knot is the same.
    prev = np.empty((nb, ncont))
    prev_ok = np.zeros(nb, dtype=np.bool_)
    nl = igm_tab.shape[1]
    nk = igm_lnu.shape[1]
    for p in range(npix):
        j = knot_j[p]
        shared = p > 0 and lo[p] == hi[p - 1] and knot_j[p - 1] == j
        for b in range(nb):
            xl = (lnlo[p] - lzp[b] - lnl0) / dlnl
            xh = (lnhi[p] - lzp[b] - lnl0) / dlnl
            if xl < 0.0 or xh > ngrid - 2 or ncont == 0:
                for t in range(ncont):
                    A[b, t, p] = 0.0
                prev_ok[b] = False
                continue
            il = int(xl)
            tl = xl - il
            ih = int(xh)
            th = xh - ih
            scale = (1.0 + zs[b]) * conv[p]
            # IGM averaged over the pixel's LSF-and-pixel kernel, whenever any sample of the
            # kernel lies blueward of Lya (a pixel straddling the break is partly absorbed)
            if igm_par[4] > 0.0 and igm_lnu[p, 0] - lzp[b] < igm_par[4]:
                iz = iz_igm[b]
                tz = tz_igm[b]
                tr = 0.0
                for k in range(nk):
                    fl = (igm_lnu[p, k] - lzp[b] - igm_par[0]) / igm_par[1]
                    if fl >= nl - 1:
                        v = 1.0
                    elif fl < 0.0:
                        v = 0.0
                    else:
                        i0 = int(fl)
                        t0 = fl - i0
                        v = (1 - tz) * (
                            (1 - t0) * igm_tab[iz, i0] + t0 * igm_tab[iz, i0 + 1]
                        ) + tz * ((1 - t0) * igm_tab[iz + 1, i0] + t0 * igm_tab[iz + 1, i0 + 1])
                    tr += igm_w[p, k] * v
                scale *= tr
            reuse = shared and prev_ok[b]
            for t in range(ncont):
                ch = cum[j, ih, t] * (1 - th) + cum[j, ih + 1, t] * th
                if reuse:
                    cl = prev[b, t]
                else:
                    cl = cum[j, il, t] * (1 - tl) + cum[j, il + 1, t] * tl
                A[b, t, p] = (ch - cl) * scale
                prev[b, t] = ch
            prev_ok[b] = True
    for b in range(nb):
        for t in range(ncont):
            rng_lo[b, t] = 0
            rng_hi[b, t] = npix
    # --- lines
    nline = comp_offset.size - 1
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for b in range(nb):
        zp = 1.0 + zs[b]
        for li in range(nline):
            row = ncont + li
            for p in range(npix):
                A[b, row, p] = 0.0
            plo = npix
            phi = 0
            sv = line_sigma[li] / 299792.458
            for c in range(comp_offset[li], comp_offset[li + 1]):
                mu = comp_wave[c] * zp
                wgt = comp_weight[c]
                for s in range(seg_start.size):
                    s0 = seg_start[s]
                    s1 = seg_end[s]
                    if s1 <= s0:
                        continue
                    if mu < lo[s0] - 0.2 * mu or mu > hi[s1 - 1] + 0.2 * mu:
                        continue
                    # window from the local R (x 0.7 margin for its variation)
                    pc = s0 + np.searchsorted(lo[s0:s1], mu)
                    pc = min(max(pc, s0), s1 - 1)
                    sl = 0.4246609 / (0.7 * min(R[pc], R[max(pc - 1, s0)]))
                    smax = mu * math.sqrt(sl * sl + sv * sv)
                    if mu + 7 * smax < lo[s0] or mu - 7 * smax > hi[s1 - 1]:
                        continue
                    a = s0 + np.searchsorted(lo[s0:s1], mu - 7 * smax) - 1
                    e = s0 + np.searchsorted(lo[s0:s1], mu + 7 * smax) + 1
                    a = max(a, s0)
                    e = min(e, s1)
                    e_prev = 0.0
                    have_prev = False
                    for p in range(a, e):
                        sp = 0.4246609 / R[p]
                        sig = mu * math.sqrt(sp * sp + sv * sv)
                        if have_prev and lo[p] == hi[p - 1] and R[p] == R[p - 1]:
                            e_lo = e_prev
                        else:
                            e_lo = math.erf((lo[p] - mu) * inv_sqrt2 / sig)
                        e_hi = math.erf((hi[p] - mu) * inv_sqrt2 / sig)
                        frac = 0.5 * (e_hi - e_lo)
                        e_prev = e_hi
                        have_prev = True
                        if frac > 0.0:
                            A[b, row, p] += wgt * frac * conv[p]
                    if e > a:
                        plo = min(plo, a)
                        phi = max(phi, e)
            if phi <= plo:
                plo = 0
                phi = 0
            rng_lo[b, row] = plo
            rng_hi[b, row] = phi


def design_matrix(setup: DesignSetup, z: float) -> np.ndarray:
    """The (ntempl, npix) design matrix at one redshift (unweighted)."""
    nt = setup.ntempl
    A = np.zeros((1, nt, setup.pixels.npix))
    rlo = np.zeros((1, nt), dtype=np.int64)
    rhi = np.zeros((1, nt), dtype=np.int64)
    build_design(np.array([float(z)]), A, rlo, rhi, *setup.kernel_args())
    return A[0]
