"""Cross-dispersion profile and trace of a source in nodded slitlet exposures.

The model of a source in exposure ``e`` at a detector pixel of row ``r`` and wavelength
``lambda`` is ``F(lambda) * P(r - c_e(lambda); sigma(lambda))``, where

* ``P`` is a pixel-integrated Gaussian (or Moffat) of unit area;
* ``c_e = poly(t) + offset_e`` is the trace centre, a polynomial along the dispersion shared
  by all exposures plus one offset per exposure (the nod). ``t`` in [-1, 1] is the normalised
  detector column, on which the trace is smooth for every disperser (for PRISM the
  wavelength is far from linear in the column, so a low-order polynomial in wavelength would
  not follow the trace); through the wavelength map it is equally a function of wavelength;
* ``sigma(lambda)**2 = (a * sigma_psf(lambda))**2 + s**2``: the NIRSpec PSF width (scaled by a
  fitted factor ``a``) in quadrature with the intrinsic source size ``s`` (pixels).

In a nod difference the background exposures carry the source at their own positions, which
enters the model as negative images weighted as in the background (see
:class:`slitwise.background.NodDifference`). ``F(lambda)`` is solved linearly in every
wavelength bin for given shape parameters, so the non-linear fit has only a handful of
parameters (trace polynomial, offsets, ``a``, ``s``) and is done jointly over all exposures on
the unrectified pixels.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

import numpy as np
from scipy.optimize import least_squares
from scipy.special import gammaln, ndtr

from slitwise.extract.pixels import PixelTable, binned_solve

__all__ = [
    "TraceProfile",
    "psf_sigma_pixels",
    "profile_values",
    "fit_trace_profile",
    "initial_centres",
    "NIRSPEC_PIXEL_ARCSEC",
]

log = logging.getLogger(__name__)

#: NIRSpec detector pixel scale along the slit (arcsec per pixel).
NIRSPEC_PIXEL_ARCSEC = 0.1035
_JWST_DIAMETER_M = 6.5
#: Detector + optics blur (pixels, sigma) added in quadrature to the diffraction core.
_PSF_FLOOR_PIX = 0.30
#: FWHM (arcsec) in quadrature with diffraction at the MSA: JWST is diffraction limited only
#: above ~1.1 um; wavefront error and pointing jitter keep the image FWHM near 0.035-0.04"
#: below (0.04" in the simulator).
_MSA_FWHM_FLOOR_ARCSEC = 0.04


ProfileKind = Literal["gaussian", "moffat"]
MOFFAT_BETA = 2.5


def psf_sigma_pixels(wave_um: np.ndarray, *, pixel_arcsec: float = NIRSPEC_PIXEL_ARCSEC):
    """Gaussian sigma (pixels) of the NIRSpec cross-dispersion PSF at ``wave_um``.

    The diffraction core of :func:`msa_psf_sigma_arcsec` in quadrature with the
    ``_PSF_FLOOR_PIX`` spectrograph blur; the fit scales it by a free factor.
    """
    sig = msa_psf_sigma_arcsec(wave_um) / pixel_arcsec
    return np.hypot(sig, _PSF_FLOOR_PIX)


def msa_psf_sigma_arcsec(wave_um: np.ndarray) -> np.ndarray:
    """Gaussian sigma (arcsec) of the telescope PSF at the MSA.

    A diffraction core of FWHM ``1.025 lambda / D`` (D = 6.5 m) with a 0.04" FWHM floor. The
    light a shutter passes depends on this width, not on the spectrograph blur after it.
    """
    wave_um = np.asarray(wave_um, dtype=float)
    fwhm_arcsec = 1.025 * wave_um * 1e-6 / _JWST_DIAMETER_M * 206264.806
    fwhm_arcsec = np.hypot(fwhm_arcsec, _MSA_FWHM_FLOOR_ARCSEC)
    return fwhm_arcsec / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def _gauss_cdf(x: np.ndarray) -> np.ndarray:
    return ndtr(x)


_SUB = (np.arange(7) + 0.5) / 7 - 0.5


def profile_values(
    dy: np.ndarray, sigma: np.ndarray, *, kind: ProfileKind = "gaussian", beta: float = MOFFAT_BETA
) -> np.ndarray:
    """Fraction of a unit-area profile falling in a pixel whose centre is ``dy`` from the peak.

    Parameters
    ----------
    dy : ndarray
        Pixel centre minus profile centre (pixels).
    sigma : ndarray
        Gaussian sigma; for a Moffat, the sigma of the Gaussian of the same FWHM.
    kind : {'gaussian', 'moffat'}
        Profile shape.
    beta : float
        Moffat index.
    """
    dy = np.asarray(dy, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    if kind == "gaussian":
        return _gauss_cdf((dy + 0.5) / sigma) - _gauss_cdf((dy - 0.5) / sigma)
    if kind != "moffat":
        raise ValueError(f"unknown profile kind {kind!r}")
    fwhm = 2.0 * np.sqrt(2.0 * np.log(2.0)) * sigma
    alpha = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    norm = np.exp(gammaln(beta) - gammaln(beta - 0.5)) / (alpha * np.sqrt(np.pi))
    y = dy[..., None] + _SUB
    val = (1.0 + (y / alpha[..., None]) ** 2) ** (-beta)
    return norm * val.mean(axis=-1)


@dataclasses.dataclass(frozen=True)
class TraceProfile:
    """Fitted trace and profile of one source in one nod group.

    Attributes
    ----------
    coeffs : tuple of float
        Trace-centre polynomial in ``t`` (highest power first, ``numpy.polyval`` order), rows.
    offsets : tuple of float
        Row offset of each exposure (zero for the reference exposure).
    psf_scale : float
        Factor ``a`` applied to :func:`psf_sigma_pixels`.
    source_sigma : float
        Intrinsic source size ``s`` (Gaussian sigma, pixels).
    col_range : tuple of float
        Detector columns mapped to t = -1 and t = +1.
    kind : str
        'gaussian' or 'moffat'.
    chi2, ndof : float, int
        Fit quality.
    visible : tuple of bool, optional
        Exposures in which the source falls inside the open slitlet (None: all). A source
        outside the slitlet in one nod has no image there and no negative image in the
        exposures that use that nod as background.
    """

    coeffs: tuple[float, ...]
    offsets: tuple[float, ...]
    psf_scale: float
    source_sigma: float
    col_range: tuple[float, float]
    kind: str = "gaussian"
    chi2: float = np.nan
    ndof: int = 0
    visible: tuple[bool, ...] | None = None

    def t(self, col: np.ndarray) -> np.ndarray:
        """Normalised column in [-1, 1]."""
        lo, hi = self.col_range
        return (2.0 * np.asarray(col, dtype=float) - lo - hi) / (hi - lo)

    def centre(self, col: np.ndarray, exposure: int | np.ndarray) -> np.ndarray:
        """Trace row of ``exposure`` at detector column ``col``."""
        off = np.asarray(self.offsets)[np.asarray(exposure)]
        return np.polyval(self.coeffs, self.t(col)) + off

    def sigma(self, wave: np.ndarray) -> np.ndarray:
        """Profile sigma (pixels) at ``wave``: scaled PSF in quadrature with the source size."""
        return np.hypot(self.psf_scale * psf_sigma_pixels(wave), self.source_sigma)

    def profile(self, row: np.ndarray, col: np.ndarray, wave: np.ndarray, exposure) -> np.ndarray:
        """Unit-area profile of the source of ``exposure`` at pixels (row, col) of ``wave``
        (zero in exposures where it is not :attr:`visible`)."""
        values = profile_values(
            np.asarray(row, dtype=float) - self.centre(col, exposure),
            self.sigma(wave),
            kind=self.kind,
        )
        if self.visible is not None:
            values = values * np.asarray(self.visible, dtype=float)[np.asarray(exposure)]
        return values

    def with_shape_of(self, other: TraceProfile) -> TraceProfile:
        """Copy with the source size and PSF scale imposed from ``other`` (another disperser)."""
        return dataclasses.replace(
            self, source_sigma=other.source_sigma, psf_scale=other.psf_scale
        )

    def shifted(self, dy: float, source_sigma: float | None = None) -> TraceProfile:
        """A second source ``dy`` rows away from this one (same trace shape)."""
        coeffs = list(self.coeffs)
        coeffs[-1] += dy
        return dataclasses.replace(
            self,
            coeffs=tuple(coeffs),
            source_sigma=self.source_sigma if source_sigma is None else source_sigma,
            visible=None,
        )


def model_matrix(table: PixelTable, trace: TraceProfile, throughput=None) -> np.ndarray:
    """Source model per unit flux at every pixel of ``table``: own image minus nod images.

    ``throughput(j, wave)``, when given, multiplies the image the source makes in exposure
    ``j`` at wavelengths ``wave`` (e.g. its own slit loss relative to what the data were
    corrected for), so the fitted amplitude is the flux before that loss.
    """
    m = trace.profile(table.row, table.col, table.wave, table.exp)
    if throughput is not None:
        for e in range(table.n_exp):
            sel = table.exp == e
            if np.any(sel):
                m[sel] *= throughput(e, table.wave[sel])
    if table.neg_weights is not None:
        for j in range(table.n_exp):
            wj = table.neg_weights[:, j]
            sel = wj > 0
            if np.any(sel):
                img = trace.profile(table.row[sel], table.col[sel], table.wave[sel], j)
                if throughput is not None:
                    img = img * throughput(j, table.wave[sel])
                m[sel] -= wj[sel] * img
    return m


def initial_centres(
    table: PixelTable,
    *,
    nod_offsets_arcsec: np.ndarray | None = None,
    pixel_arcsec: float = NIRSPEC_PIXEL_ARCSEC,
    sigma0: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """First guess of the source row in each exposure and its significance.

    The positive peak of the inverse-variance weighted, wavelength-collapsed difference is
    taken for each exposure (smoothed with a ``sigma0`` Gaussian). Exposures whose peak is
    below 3 sigma are placed from the nod offsets relative to the best-detected one.
    """
    n = table.n_exp
    rows = np.arange(int(np.floor(table.row.min())), int(np.ceil(table.row.max())) + 1)
    centres = np.full(n, np.nan)
    signif = np.zeros(n)
    kern_r = np.arange(-3, 4)
    kern = np.exp(-0.5 * (kern_r / sigma0) ** 2)
    kern /= kern.sum()
    for e in range(n):
        sel = table.exp == e
        if not np.any(sel):
            continue
        idx = (table.row[sel] - rows[0]).astype(int)
        w = 1.0 / table.var[sel]
        num = np.bincount(idx, table.sci[sel] * w, minlength=rows.size)
        den = np.bincount(idx, w, minlength=rows.size)
        # matched filter: sum of the collapsed signal over a few rows, in units of its error
        snum = np.convolve(num, kern, mode="same")
        sden = np.convolve(den, kern**2, mode="same")
        with np.errstate(invalid="ignore", divide="ignore"):
            snr = np.where(sden > 0, snum / np.sqrt(sden), 0.0)
        k = int(np.argmax(snr))
        centres[e] = rows[k]
        if 0 < k < rows.size - 1 and snr[k] > 0:
            a, b, c = snr[k - 1], snr[k], snr[k + 1]
            den2 = a - 2 * b + c
            if den2 < 0:
                centres[e] += 0.5 * (a - c) / den2
        signif[e] = snr[k]
    good = signif >= 3.0
    if nod_offsets_arcsec is not None and np.any(~good) and np.any(good):
        off = np.asarray(nod_offsets_arcsec, dtype=float)
        ref = int(np.argmax(signif))
        sign = 1.0
        others = [e for e in np.flatnonzero(good) if e != ref and off[e] != off[ref]]
        if others:
            e2 = others[0]
            sign = np.sign((centres[e2] - centres[ref]) / (off[e2] - off[ref])) or 1.0
        for e in np.flatnonzero(~good):
            centres[e] = centres[ref] + sign * (off[e] - off[ref]) / pixel_arcsec
    return centres, signif


def fit_trace_profile(
    table: PixelTable,
    *,
    centres0: np.ndarray,
    kind: ProfileKind = "gaussian",
    degree: int = 2,
    fix_source_sigma: float | None = None,
    fix_psf_scale: float | None = None,
    fix_offsets: bool = False,
    background: np.ndarray | None = None,
    reference: int | None = None,
    max_nfev: int = 200,
) -> TraceProfile:
    """Fit the trace polynomial, nod offsets, PSF scale and source size jointly.

    Parameters
    ----------
    table : PixelTable
        Background-subtracted pixels of all exposures of one nod group.
    centres0 : ndarray (n_exp,)
        Initial source row of each exposure (see :func:`initial_centres`).
    kind : {'gaussian', 'moffat'}
        Profile shape.
    degree : int
        Degree of the trace-centre polynomial in wavelength.
    fix_source_sigma, fix_psf_scale : float, optional
        Impose these (e.g. from the highest-S/N disperser of the same source).
    fix_offsets : bool
        Keep the relative nod offsets at their initial values.
    background : ndarray, optional
        Residual background to subtract from ``table.sci`` before fitting.
    reference : int, optional
        Exposure whose offset is zero (the best-detected one); default 0.

    Returns
    -------
    TraceProfile
    """
    n = table.n_exp
    lo, hi = float(np.min(table.col)), float(np.max(table.col))
    if hi <= lo:
        hi = lo + 1.0
    data = table.sci if background is None else table.sci - background
    wgt = 1.0 / table.var
    sw = np.sqrt(wgt)
    centres0 = np.asarray(centres0, dtype=float)
    ref = int(reference) if reference is not None else 0
    base_off = centres0 - centres0[ref]
    # exposures without pixels (e.g. excluded) keep their initial offset
    present = np.bincount(table.exp, minlength=n) > 0
    free = [e for e in range(n) if e != ref and present[e]]
    nfree = len(free) if not fix_offsets else 0

    def unpack(theta):
        k = 0
        coeffs = np.zeros(degree + 1)
        coeffs[:] = theta[k : k + degree + 1]
        k += degree + 1
        offs = base_off.copy()
        if nfree:
            offs[free] = base_off[free] + theta[k : k + nfree]
            k += nfree
        a = fix_psf_scale if fix_psf_scale is not None else theta[k]
        if fix_psf_scale is None:
            k += 1
        s = fix_source_sigma if fix_source_sigma is not None else theta[k]
        return TraceProfile(
            coeffs=tuple(coeffs),
            offsets=tuple(offs),
            psf_scale=float(a),
            source_sigma=float(abs(s)),
            col_range=(lo, hi),
            kind=kind,
        )

    theta0 = [0.0] * degree + [float(centres0[ref])]
    lower = [-np.inf] * degree + [-np.inf]
    upper = [np.inf] * degree + [np.inf]
    if nfree:
        theta0 += [0.0] * nfree
        lower += [-2.0] * nfree
        upper += [2.0] * nfree
    if fix_psf_scale is None:
        theta0.append(1.0)
        lower.append(0.5)
        upper.append(2.5)
    if fix_source_sigma is None:
        theta0.append(0.3)
        lower.append(0.0)
        upper.append(6.0)

    # wavelength- and column-dependent pieces do not change during the fit: compute them once
    tpix = (2.0 * table.col - lo - hi) / (hi - lo)
    psf = psf_sigma_pixels(table.wave)
    negs = []
    if table.neg_weights is not None:
        for j in range(n):
            sel = np.flatnonzero(table.neg_weights[:, j] > 0)
            if sel.size:
                negs.append((j, sel, table.neg_weights[sel, j]))

    def fast_model(theta):
        trace = unpack(theta)
        poly = np.polyval(trace.coeffs, tpix)
        sig = np.hypot(trace.psf_scale * psf, trace.source_sigma)
        offs = np.asarray(trace.offsets)
        m = profile_values(table.row - poly - offs[table.exp], sig, kind=kind)
        for j, sel, wj in negs:
            m[sel] -= wj * profile_values(table.row[sel] - poly[sel] - offs[j], sig[sel],
                                          kind=kind)  # fmt: skip
        return m

    def resid(theta):
        m = fast_model(theta)
        flux, _ = binned_solve(data, wgt, m, table.bin, table.nbins)
        return (data - flux[table.bin] * m) * sw

    theta0 = np.clip(np.asarray(theta0, dtype=float), lower, upper)
    res = least_squares(
        resid,
        theta0,
        bounds=(lower, upper),
        loss="soft_l1",
        f_scale=3.0,
        x_scale="jac",
        # an iterative trust-region solver: the exact one takes an SVD of the Jacobian at every
        # step, which multi-threaded BLAS makes slow on a busy machine
        tr_solver="lsmr",
        max_nfev=max_nfev,
        diff_step=1e-3,
        ftol=1e-5,
        xtol=1e-5,
    )
    trace = unpack(res.x)
    r = resid(res.x)
    chi2 = float(np.sum(np.clip(r, -10, 10) ** 2))
    trace = dataclasses.replace(trace, chi2=chi2, ndof=int(r.size - res.x.size - table.nbins))
    log.debug(
        "trace fit: coeffs=%s offsets=%s a=%.3f s=%.3f chi2/dof=%.3f (%d evaluations)",
        np.round(trace.coeffs, 3),
        np.round(trace.offsets, 3),
        trace.psf_scale,
        trace.source_sigma,
        chi2 / max(trace.ndof, 1),
        res.nfev,
    )
    return trace
