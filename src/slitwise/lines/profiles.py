"""Line profiles convolved with a Gaussian LSF and integrated over pixels (JAX).

Every profile is described by the cumulative distribution function (CDF) of the intrinsic
profile convolved with the instrument's Gaussian line-spread function of standard deviation
``s`` (the LSF at the line centre). The fraction of a line's flux falling in a pixel is the
CDF difference between its edges, so lines narrower than a pixel are integrated exactly.
All closed forms:

========================  ====================  ===============================================
profile                   shape parameters      convolved with the Gaussian LSF
========================  ====================  ===============================================
``gaussian``              fwhm                  Gaussian, widths in quadrature
``lorentzian``            fwhm                  Voigt, as Thompson-Cox-Hastings pseudo-Voigt
``voigt``                 fwhm (G), fwhm_l (L)  pseudo-Voigt (peak error ~1 %)
``laplace``               fwhm = 2 b ln 2       normal-Laplace CDF (exact)
``gauss_hermite``         fwhm, h3, h4          Gauss-Hermite, h_n -> h_n (sigma/sigma_t)^n (exact)
``skew_normal``           fwhm = 2.355 omega,   skew-normal (closed under Gaussian convolution,
                          alpha                 exact; CDF via Owen's T)
``split_normal``          fwhm = 1.1774(s1+s2), mixture of two skew-normals (exact)
                          asym = (s2-s1)/(s1+s2)
========================  ====================  ===============================================

Widths here are in the same unit as ``x`` (micron in the fitter). The functions broadcast.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import erf, erfc, ndtr, owens_t

__all__ = [
    "PROFILES",
    "SHAPE_PARAMETERS",
    "FWHM_TO_SIGMA",
    "convolved_cdf",
    "pixel_fractions",
    "edge_cdf",
    "absorption_optical_depth",
]

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_SQRT6 = math.sqrt(6.0)
_SQRT24 = math.sqrt(24.0)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)

#: Extra shape parameters (besides ``fwhm``) each profile takes, in order.
SHAPE_PARAMETERS = {
    "gaussian": (),
    "lorentzian": (),
    "voigt": ("fwhm_l",),
    "laplace": (),
    "gauss_hermite": ("h3", "h4"),
    "skew_normal": ("alpha",),
    "split_normal": ("asym",),
}
PROFILES = tuple(SHAPE_PARAMETERS)


def _gauss_cdf(x, sigma):
    return ndtr(x / sigma)


def _pseudo_voigt_cdf(x, fwhm_g, fwhm_l):
    # Thompson, Cox & Hastings (1987) total width and mixing parameter.
    fg, fl = fwhm_g, fwhm_l
    f = (
        fg**5
        + 2.69269 * fg**4 * fl
        + 2.42843 * fg**3 * fl**2
        + 4.47163 * fg**2 * fl**3
        + 0.07842 * fg * fl**4
        + fl**5
    ) ** 0.2
    r = fl / f
    eta = 1.36603 * r - 0.47719 * r**2 + 0.11116 * r**3
    lor = 0.5 + jnp.arctan(x / (0.5 * f)) / jnp.pi
    return eta * lor + (1.0 - eta) * ndtr(x / (f * FWHM_TO_SIGMA))


def _phi_cdf(y):
    return 0.5 * erfc(-y * _INV_SQRT2)


def _laplace_terms(x, b, s):
    """``t1 = e^{-x/b+q} Phi(x/s - s/b)`` and ``t2 = e^{x/b+q} Phi(-x/s - s/b)``, each as the
    exponential of a sum of logarithms: the exponent alone overflows for a Laplace much
    narrower than the LSF a few LSF sigmas from the line (this gave NaN), while the product
    stays below 1. Where Phi underflows to 0 the true product is < 1e-13 and 0 is returned."""
    q = 0.5 * (s / b) ** 2
    t1 = jnp.exp(-x / b + q + jnp.log(_phi_cdf(x / s - s / b)))
    t2 = jnp.exp(x / b + q + jnp.log(_phi_cdf(-x / s - s / b)))
    return t1, t2


@jax.custom_jvp
def _laplace_gauss_cdf_core(x, b, s):
    t1, t2 = _laplace_terms(x, b, s)
    return _phi_cdf(x / s) - 0.5 * t1 + 0.5 * t2


@_laplace_gauss_cdf_core.defjvp
def _laplace_gauss_cdf_jvp(primals, tangents):
    # The derivatives are closed forms in the same two terms (e^{-+x/b+q} Phi(u) products
    # times phi(x/s) collapse, as e^{-x/b+q} phi(x/s - s/b) = phi(x/s)), so the gradient
    # costs no transcendental beyond the value's:
    #   dF/dx = (t1 + t2) / 2b            (the density)
    #   dF/db = [s^2 (t1 - t2) / b - x (t1 + t2)] / 2b^2
    #   dF/ds = s (t2 - t1) / 2b^2
    x, b, s = primals
    dx, db, ds = tangents
    t1, t2 = _laplace_terms(x, b, s)
    value = _phi_cdf(x / s) - 0.5 * t1 + 0.5 * t2
    tsum, tdif = t1 + t2, t1 - t2
    slope = (tsum / (2.0 * b)) * dx
    slope = slope + ((s * s * tdif / b - x * tsum) / (2.0 * b * b)) * db
    slope = slope - (s * tdif / (2.0 * b * b)) * ds
    return value, slope


def _laplace_gauss_cdf(x, b, s):
    # X = N(0, s^2) + Laplace(0, b):  F = Phi(x/s) - 1/2 e^{-x/b+q} Phi(x/s - s/b)
    #                                             + 1/2 e^{ x/b+q} Phi(-x/s - s/b),
    # q = s^2 / 2b^2 (evaluated without overflow, see _laplace_terms). b >= s/30: a Laplace 30
    # times narrower than the LSF is a Gaussian for all purposes.
    b = jnp.maximum(b, s / 30.0)
    x, b, s = jnp.broadcast_arrays(x, b, s)
    return _laplace_gauss_cdf_core(x, b, s)


def _skew_normal_cdf(x, omega, alpha):
    z = x / omega
    return ndtr(z) - 2.0 * owens_t(z, alpha)


def _skew_normal_convolved(omega, alpha, s):
    omega_t = jnp.sqrt(omega**2 + s**2)
    delta = alpha / jnp.sqrt(1.0 + alpha**2) * omega / omega_t
    return omega_t, delta / jnp.sqrt(1.0 - delta**2)


def _gauss_hermite_cdf(x, sigma, h3, h4, s):
    st = jnp.sqrt(sigma**2 + s**2)
    ratio = sigma / st
    y = x / st
    h3t = h3 * ratio**3
    h4t = h4 * ratio**4
    he2 = y**2 - 1.0
    he3 = y**3 - 3.0 * y
    phi = jnp.exp(-0.5 * y**2) / math.sqrt(2.0 * math.pi)
    return ndtr(y) - phi * (h3t * he2 / _SQRT6 + h4t * he3 / _SQRT24)


def convolved_cdf(profile: str, x, fwhm, lsf_sigma, shape=()):
    """CDF at offset ``x`` from the line centre of a unit-flux profile convolved with the LSF.

    Parameters
    ----------
    profile : str
        One of :data:`PROFILES`.
    x : array
        Offset from the line centre (same unit as the widths).
    fwhm : array
        Intrinsic width parameter (see the module table).
    lsf_sigma : array
        Gaussian LSF standard deviation at the line centre.
    shape : tuple of arrays
        The extra shape parameters of :data:`SHAPE_PARAMETERS` for this profile.
    """
    s = lsf_sigma
    if profile == "gaussian":
        return _gauss_cdf(x, jnp.sqrt((fwhm * FWHM_TO_SIGMA) ** 2 + s**2))
    if profile == "lorentzian":
        return _pseudo_voigt_cdf(x, s / FWHM_TO_SIGMA, fwhm)
    if profile == "voigt":
        (fwhm_l,) = shape
        return _pseudo_voigt_cdf(x, jnp.sqrt(fwhm**2 + (s / FWHM_TO_SIGMA) ** 2), fwhm_l)
    if profile == "laplace":
        return _laplace_gauss_cdf(x, fwhm / (2.0 * math.log(2.0)), s)
    if profile == "gauss_hermite":
        h3, h4 = shape
        return _gauss_hermite_cdf(x, fwhm * FWHM_TO_SIGMA, h3, h4, s)
    if profile == "skew_normal":
        (alpha,) = shape
        omega_t, alpha_t = _skew_normal_convolved(fwhm * FWHM_TO_SIGMA, alpha, s)
        return _skew_normal_cdf(x, omega_t, alpha_t)
    if profile == "split_normal":
        (asym,) = shape
        total = fwhm / (0.5 / FWHM_TO_SIGMA)  # sigma_1 + sigma_2
        s1 = 0.5 * total * (1.0 - asym)
        s2 = 0.5 * total * (1.0 + asym)
        w1 = s1 / total
        om1, al1 = jnp.sqrt(s1**2 + s**2), -s1 / s
        om2, al2 = jnp.sqrt(s2**2 + s**2), s2 / s
        return w1 * _skew_normal_cdf(x, om1, al1) + (1.0 - w1) * _skew_normal_cdf(x, om2, al2)
    raise ValueError(f"unknown profile '{profile}'")


def pixel_fractions(profile: str, lo, hi, center, fwhm, lsf_sigma, shape=()):
    """Fraction of a unit-flux line falling between pixel edges ``lo`` and ``hi``.

    """
    if profile == "gaussian":
        scale = _INV_SQRT2 / jnp.sqrt((fwhm * FWHM_TO_SIGMA) ** 2 + lsf_sigma**2)
        return 0.5 * (erf((hi - center) * scale) - erf((lo - center) * scale))
    return convolved_cdf(profile, hi - center, fwhm, lsf_sigma, shape) - convolved_cdf(
        profile, lo - center, fwhm, lsf_sigma, shape
    )


def edge_cdf(profile: str, x, fwhm, lsf_sigma, shape=()):
    """Cumulative fraction of a unit-flux line (LSF-convolved) below offset ``x`` from its
    centre; differences at pixel edges give :func:`pixel_fractions`."""
    if profile == "gaussian":
        scale = _INV_SQRT2 / jnp.sqrt((fwhm * FWHM_TO_SIGMA) ** 2 + lsf_sigma**2)
        return 0.5 * erf(x * scale)
    return convolved_cdf(profile, x, fwhm, lsf_sigma, shape)


def absorption_optical_depth(x, tau0, fwhm, lsf_sigma):
    """Optical depth of a Gaussian absorber seen through the LSF at offset ``x``.

    The absorber's Gaussian is broadened by the LSF in quadrature with its peak lowered so that
    the integrated optical depth is kept (exact for optically thin absorbers; an approximation
    for saturated ones, whose transmitted profile the LSF would blur differently).
    """
    sig = fwhm * FWHM_TO_SIGMA
    sig_t = jnp.sqrt(sig**2 + lsf_sigma**2)
    return tau0 * sig / sig_t * jnp.exp(-0.5 * (x / sig_t) ** 2)
