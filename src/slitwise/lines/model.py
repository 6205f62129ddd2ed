"""The forward model and the numpyro model of a joint line fit.

Everything here is a pure function of a parameter dict, the data dict of
:func:`slitwise.lines.prepare.prepare` (passed as an argument, never closed over) and the
static :class:`~slitwise.lines.prepare.FitStructure`. Wavelengths are in micron, fluxes in the
configuration's ``flux_unit`` and flux densities in ``flux_unit`` per micron.

Per spectrum, pixel edges are shifted by the pixel offset (a labelled pixel sees light from
``lambda - p * dlambda``), the continuum of the pixel's window is evaluated at the shifted
pixel centre, each line is integrated over the shifted edges after convolution with the LSF at
the line centre (R from the spectrum's instrument, times the resolution scale), absorbers
multiply everything listed before them, and the sum is multiplied by the flux scale (a
constant or a polynomial in ``lambda / lambda_ref - 1``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from slitwise.lines.prepare import FitStructure
from slitwise.lines.profiles import (
    FWHM_TO_SIGMA,
    SHAPE_PARAMETERS,
    absorption_optical_depth,
    pixel_fractions,
)

__all__ = [
    "sample_parameters",
    "predict",
    "pointwise_loglike",
    "total_loglike",
    "numpyro_model",
    "constrain_unit_cube",
]

C_KMS = 299792.458
_H_C_K_UM = 14387.7688  # h c / k in micron kelvin


def sample_parameters(structure: FitStructure) -> dict:
    """Inside a numpyro model: draw every parameter from its prior, in dependency order."""
    vals = {}
    for name, spec in zip(structure.order, structure.priors, strict=True):
        if spec.kind == "fixed":
            vals[name] = numpyro.deterministic(name, jnp.asarray(spec.fixed_value(vals), float))
        else:
            vals[name] = numpyro.sample(name, spec.distribution(vals))
    return vals


def constrain_unit_cube(u, structure: FitStructure) -> dict:
    """Map a point of the unit cube (one coordinate per free parameter) to parameter values."""
    vals = {}
    i = 0
    for name, spec in zip(structure.order, structure.priors, strict=True):
        if spec.kind == "fixed":
            vals[name] = jnp.asarray(spec.fixed_value(vals), float)
        else:
            vals[name] = spec.ppf(u[i], vals)
            i += 1
    return vals


def _continuum(form, coefs, t, lam, lam_mid_rest, z):
    if form == "linear":
        return coefs[0] + coefs[1] * t
    if form == "polynomial":
        return sum(c * t**k for k, c in enumerate(coefs))
    if form == "chebyshev":
        out = coefs[0] * jnp.ones_like(t)
        t_prev, t_cur = jnp.ones_like(t), t
        for c in coefs[1:]:
            out = out + c * t_cur
            t_prev, t_cur = t_cur, 2 * t * t_cur - t_prev
        return out
    if form == "powerlaw":
        return coefs[0] * (lam / (lam_mid_rest * (1 + z))) ** coefs[1]
    if form == "blackbody":
        amp, temp = coefs
        lam_rest = lam / (1 + z)

        def planck(x):
            return x**-5 / jnp.expm1(_H_C_K_UM / (x * temp))

        return amp * planck(lam_rest) / planck(lam_mid_rest)
    if form == "bspline":
        nk = len(coefs) - 3
        x = (t + 1.0) * 0.5 * nk  # knot units, 0..nk
        out = jnp.zeros_like(t)
        for j, c in enumerate(coefs):
            out = out + c * _cubic_bspline(x - (j - 3) - 2.0)
        return out
    raise ValueError(form)


def _cubic_bspline(x):
    """Cardinal cubic B-spline centred on 0 (support -2..2)."""
    ax = jnp.abs(x)
    inner = 2.0 / 3.0 - ax**2 + 0.5 * ax**3
    outer = (2.0 - ax) ** 3 / 6.0
    return jnp.where(ax < 1, inner, jnp.where(ax < 2, outer, 0.0))


def predict(vals: dict, data: dict, structure: FitStructure) -> list[dict]:
    """Model of every spectrum: ``total``, ``continuum`` and ``lines`` (n_lines, npad)."""
    z0 = data["z0"]
    out = []
    for s, d in zip(structure.spectra, data["spectra"], strict=True):
        width = d["hi"] - d["lo"]
        shift = vals[s.pix_offset] * width if s.pix_offset else 0.0
        lo, hi = d["lo"] - shift, d["hi"] - shift
        lam = 0.5 * (lo + hi)
        lam_tab = 0.5 * (d["lo"] + d["hi"])
        rs = vals[s.r_scale] if s.r_scale else 1.0
        # continuum of each pixel's window
        cont = jnp.zeros_like(lam)
        for k, names in enumerate(structure.continuum_params):
            a, b = data["win_lo"][k], data["win_hi"][k]
            t = 2.0 * (lam - a) / (b - a) - 1.0
            mid_rest = 0.5 * (a + b) / (1 + z0)
            ck = _continuum(structure.continuum_form, [vals[n] for n in names], t, lam,
                            mid_rest, z0)
            cont = cont + jnp.where(d["win"] == k, data["cont_scale"][k] * ck, 0.0)
        running = cont
        comps = []
        for line in structure.lines:
            lam_c = line.wave_rest * 1e-4 * (1.0 + z0 + vals[line.param("z")])
            r_c = jnp.interp(lam_c, lam_tab, d["R"]) * rs
            lsf = lam_c / r_c * FWHM_TO_SIGMA
            fwhm = lam_c * vals[line.param("fwhm")] / C_KMS
            if line.kind == "absorption":
                tau = absorption_optical_depth(lam - lam_c, vals[line.param("tau")], fwhm, lsf)
                new = running * jnp.exp(-tau)
                comps.append(new - running)
                running = new
                continue
            shape = tuple(vals[line.param(r)] for r in SHAPE_PARAMETERS[line.profile])
            frac = pixel_fractions(line.profile, lo, hi, lam_c, fwhm, lsf, shape)
            comp = line.strength * vals[line.param("flux")] * frac / width
            comps.append(comp)
            running = running + comp
        if s.flux_scale:
            x = lam / d["lam_ref"] - 1.0
            fs = sum(vals[n] * x**k for k, n in enumerate(s.flux_scale))
        else:
            fs = 1.0
        out.append(
            dict(total=running * fs, continuum=cont * fs, lines=jnp.stack(comps) * fs)
        )
    return out


def pointwise_loglike(vals: dict, data: dict, structure: FitStructure, models=None) -> list:
    """Log-likelihood of every (padded) pixel of every spectrum; padding contributes 0."""
    models = predict(vals, data, structure) if models is None else models
    out = []
    for s, d, m in zip(structure.spectra, data["spectra"], models, strict=True):
        err = d["err"] * (vals[s.error_scale] if s.error_scale else 1.0)
        if structure.likelihood == "student_t":
            lp = dist.StudentT(structure.nu, m["total"], err).log_prob(d["flux"])
        else:
            r = (d["flux"] - m["total"]) / err
            lp = -0.5 * r**2 - jnp.log(err) - 0.5 * jnp.log(2 * jnp.pi)
        out.append(jnp.where(d["w"] > 0, lp, 0.0))
    return out


def total_loglike(vals: dict, data: dict, structure: FitStructure):
    """Sum of :func:`pointwise_loglike`."""
    return sum(jnp.sum(lp) for lp in pointwise_loglike(vals, data, structure))


def numpyro_model(data: dict, structure: FitStructure) -> None:
    """numpyro model: priors of every parameter plus the likelihood of all spectra."""
    vals = sample_parameters(structure)
    numpyro.factor("loglike", total_loglike(vals, data, structure))
