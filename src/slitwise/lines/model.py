"""The forward model and the numpyro model of a joint line fit.

Everything here is a pure function of the parameters (a dict by name, or inside the compiled
posterior the full vector of :mod:`slitwise.lines.params`), the data dict of
:func:`slitwise.lines.prepare.prepare` (passed as an argument, never closed over) and the
static :class:`~slitwise.lines.prepare.FitStructure`. Wavelengths are in micron, fluxes in the
configuration's ``flux_unit`` and flux densities in ``flux_unit`` per micron.

Per spectrum, pixel edges are shifted by the pixel offset (a labelled pixel sees light from
``lambda - p * dlambda``), the continuum of the pixel's window is evaluated at the shifted
pixel centre, each line is integrated over the shifted edges (of the windows it can reach,
:mod:`slitwise.lines.support`) after convolution with the LSF at the line centre (R from the
spectrum's instrument, times the resolution scale), absorbers multiply everything listed
before them, and the sum is multiplied by the flux scale (a constant or a polynomial in
``lambda / lambda_ref - 1``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from slitwise.lines.params import layout
from slitwise.lines.prepare import FitStructure
from slitwise.lines.profiles import (
    FWHM_TO_SIGMA,
    SHAPE_PARAMETERS,
    absorption_optical_depth,
    edge_cdf,
)

__all__ = [
    "sample_parameters",
    "predict",
    "predict_vector",
    "pointwise_loglike_vector",
    "pointwise_loglike",
    "total_loglike",
    "numpyro_model",
    "constrain_unit_cube",
    "unconstrain",
    "log_posterior",
    "log_posterior_parts",
    "whitened_model",
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
            vals[name] = spec.fixed_value(vals)
        else:
            vals[name] = spec.ppf(u[i], vals)
            i += 1
    return vals


def _continuum(form, coefs, t, lam, lam_mid_rest, z, template=None):
    """Continuum shape; ``coefs`` is a list of per-pixel coefficient arrays."""
    if form == "linear":
        return coefs[0] + coefs[1] * t
    if form in ("polynomial", "template"):  # a template times a polynomial
        poly = sum(c * t**k for k, c in enumerate(coefs))
        return poly if form == "polynomial" else template * poly
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
        x = (t + 1.0) * 0.5 * nk  # knot units, 0..nk; basis j is centred on knot j - 1
        return sum(c * _cubic_bspline(x - (j - 1.0)) for j, c in enumerate(coefs))
    raise ValueError(form)


def _cubic_bspline(x):
    """Cardinal cubic B-spline centred on 0 (support -2..2)."""
    ax = jnp.abs(x)
    inner = 2.0 / 3.0 - ax**2 + 0.5 * ax**3
    outer = (2.0 - ax) ** 3 / 6.0
    return jnp.where(ax < 1, inner, jnp.where(ax < 2, outer, 0.0))


def _take_or_zero(x, idx):
    xz = jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (1,), x.dtype)], axis=-1)
    return xz[..., idx]


@jax.custom_vjp
def take_rows(x, idx, inv):
    """Row ``j`` of the result is ``x[idx[j]]`` for 1-D ``x``, or ``x[j, idx[j]]`` for 2-D
    ``x``, where an index one past the end of ``x`` picks zero; with a gradient that is a
    gather too.

    Each row of ``idx`` must be injective apart from that zero slot, and the same row of
    ``inv`` its inverse (for each element of ``x``, its position in the row, or the row's
    length where none). Plain indexing would differentiate into a scatter-add, which on a
    CPU costs more than evaluating the lines themselves. The gradient of a 1-D ``x`` sums
    the rows. Elements an index repeats beyond the zero slot (padding pixels) get no
    gradient: they must not reach the likelihood."""
    return _take_rows(x, idx)


def _take_rows(x, idx):
    if x.ndim == 1:
        return _take_or_zero(x, idx)
    return jnp.take_along_axis(_take_or_zero(x, slice(None)), idx, axis=-1)


def _take_rows_fwd(x, idx, inv):
    return _take_rows(x, idx), (inv, x.ndim)


def _take_rows_bwd(res, g):
    inv, ndim = res
    gx = jnp.take_along_axis(_take_or_zero(g, slice(None)), inv, axis=-1)
    return (gx.sum(axis=0) if ndim == 1 else gx), None, None


take_rows.defvjp(_take_rows_fwd, _take_rows_bwd)


def _spread(onehot, values):
    """Per-spectrum (or per-window) values onto elements through a one-hot matrix.

    ``onehot`` (..., n, k) and ``values`` (k, ...) -> (..., n, ...) for 1-D values, or with
    a leading row axis ``values`` (g, k) and ``onehot`` (g, n, k) -> (g, n). Written as a sum
    over the few ``k`` rather than a matrix product: XLA fuses it with its neighbours, and
    its gradient is a product too (plain indexing would scatter-add)."""
    k = onehot.shape[-1]
    if onehot.ndim == 3:  # (g, n, k) with values (g, k)
        return sum(onehot[..., j] * values[:, j, None] for j in range(k))
    v = jnp.asarray(values)
    return sum(onehot[:, j].reshape((-1,) + (1,) * (v.ndim - 1)) * v[j] for j in range(k))



def _resolution_at(lam, rtab_w, rtab_r):
    """R of every spectrum at wavelengths ``lam``: linear interpolation in the per-spectrum
    tables, whose nodes are evenly spaced (so the index is arithmetic, not a search), held
    constant beyond the ends. ``lam`` (n,) or scalar -> (n_spectra, n) or (n_spectra,)."""
    w0 = rtab_w[:, :1]
    step = rtab_w[:, 1:2] - w0
    x = jnp.atleast_1d(lam)[None, :]
    pos = jnp.clip((x - w0) / step, 0.0, rtab_w.shape[1] - 1.0)
    i = jnp.clip(jnp.floor(pos).astype(int), 0, rtab_w.shape[1] - 2)
    frac = pos - i
    r0 = jnp.take_along_axis(rtab_r, i, axis=1)
    r1 = jnp.take_along_axis(rtab_r, i + 1, axis=1)
    out = r0 + frac * (r1 - r0)
    return out if jnp.ndim(lam) else out[:, 0]


def predict(vals: dict, data: dict, structure: FitStructure) -> dict:
    """Model of all (concatenated, padded) pixels from parameter values by name.

    Returns a dict with ``total``, ``continuum`` and ``flux_scale`` (npix,) and ``lines``
    (n_lines, npix), in the configuration's order; everything but ``flux_scale`` is as
    observed, i.e. multiplied by the flux scale of the pixel's spectrum.
    """
    return predict_vector(layout(structure).from_dict(vals), data, structure)


def predict_vector(p, data: dict, structure: FitStructure) -> dict:
    """:func:`predict` from the full parameter vector of :class:`~slitwise.lines.params.Layout`.

    Parameters are gathered with static index arrays (one gather per role), and lines of one
    profile are evaluated together (one broadcast call per profile), which keeps the compiled
    graph small.
    """
    lay = layout(structure)
    z0 = data["z0"]
    spec, win = data["spec"], data["win"]
    sp = structure.spectra
    pix = lay.take(p, [s.pix_offset for s in sp])
    rscale = lay.take(p, [s.r_scale for s in sp], default="one")
    # shifted pixel edges; neighbouring pixels share theirs (lines are evaluated per edge)
    # per-spectrum and per-window values reach pixels and edges through one-hot matrices
    # (their gradients are then products, not scatter-adds)
    edge_oh, spec_oh, win_oh = data["edge_onehot"], data["spec_onehot"], data["win_onehot"]
    edges = data["edges"] - _spread(edge_oh, pix) * data["edge_w"]
    lam = 0.5 * (take_rows(edges, data["ilo"][None], data["edge_pix_lo"][None])
                 + take_rows(edges, data["ihi"][None], data["edge_pix_hi"][None]))[0]
    # continuum of each pixel's window
    a, b = data["win_lo"][win], data["win_hi"][win]
    t = 2.0 * (lam - a) / (b - a) - 1.0
    mid_rest = 0.5 * (a + b) / (1 + z0)
    coef = _spread(win_oh, lay.take(p, structure.continuum_params))  # (npix, ncoef)
    ncoef = len(structure.continuum_params[0])
    cont = data["cont_scale"][win] * _continuum(
        structure.continuum_form, [coef[:, k] for k in range(ncoef)], t, lam, mid_rest, z0,
        data.get("cont_template"),
    )
    # emission lines, grouped by profile
    comps = [None] * len(structure.lines)
    groups: dict[str, list[int]] = {}
    for i, line in enumerate(structure.lines):
        if line.kind == "emission":
            groups.setdefault(line.profile, []).append(i)

    def gather(lines, role):
        return lay.take(p, [ln.param(role) for ln in lines])

    for profile, idx in groups.items():
        lines = [structure.lines[i] for i in idx]
        lam_c = np.array([ln.wave_rest * 1e-4 for ln in lines]) * (1.0 + z0 + gather(lines, "z"))
        r_c = _resolution_at(lam_c, data["rtab_w"], data["rtab_r"]) * rscale[:, None]
        sig = (lam_c[None, :] / r_c * FWHM_TO_SIGMA).T  # (ng, n_spectra)
        fwhm = gather(lines, "fwhm") * lam_c / C_KMS
        amp = np.array([ln.strength for ln in lines]) * gather(lines, "flux")
        shape = tuple(gather(lines, r)[:, None] for r in SHAPE_PARAMETERS[profile])
        # each line only on the edges of the windows it reaches (slitwise.lines.support)
        sup = data["support"][profile]
        e = take_rows(edges, sup["edge"], sup["edge_inv"])  # (ng, ne)
        lsf = _spread(sup["edge_onehot"], sig)
        cdf = edge_cdf(profile, e - lam_c[:, None], fwhm[:, None], lsf, shape)
        frac = (take_rows(cdf, sup["hi"], sup["hi_inv"])
                - take_rows(cdf, sup["lo"], sup["lo_inv"]))  # fmt: skip
        block = take_rows(amp[:, None] * frac / sup["width"], sup["pix"], sup["pix_inv"])
        for j, i in enumerate(idx):
            comps[i] = block[j]
    # absorbers multiply everything listed before them
    running = cont
    cont_transmission = 1.0  # of the continuum, which comes before every absorber
    for i, line in enumerate(structure.lines):
        if line.kind == "emission":
            running = running + comps[i]
            continue
        lam_c = line.wave_rest * 1e-4 * (1.0 + z0 + p[lay.idx(line.param("z"))])
        r_c = _resolution_at(lam_c, data["rtab_w"], data["rtab_r"]) * rscale
        lsf = _spread(spec_oh, lam_c / r_c * FWHM_TO_SIGMA)
        fwhm = lam_c * p[lay.idx(line.param("fwhm"))] / C_KMS
        att = jnp.exp(
            -absorption_optical_depth(lam - lam_c, p[lay.idx(line.param("tau"))], fwhm, lsf)
        )
        new = running * att
        cont_transmission = cont_transmission * att
        comps[i] = new - running
        running = new
    # flux scale: constant or polynomial in lambda / lambda_ref - 1
    order = max([len(s.flux_scale) for s in sp] + [1])
    rows = []
    for s in sp:
        names = [lay.idx(n) for n in s.flux_scale] or [lay.one]
        rows.append(names + [lay.zero] * (order - len(names)))
    fs_idx = np.array(rows)
    fs_coef = _spread(spec_oh, p[fs_idx])  # (npix, order)
    x = lam / data["lam_ref"][spec] - 1.0
    fs = fs_coef[:, 0]
    for k in range(1, order):
        fs = fs + fs_coef[:, k] * x**k
    total, observed_cont = running * fs, cont * fs
    if structure.continuum_form == "template":
        # a spectrum's template already has that spectrum's calibration: not scaled again
        # (absorbers still act on it)
        total = total + cont * cont_transmission * (1.0 - fs)
        observed_cont = cont
    return dict(total=total, continuum=observed_cont, lines=jnp.stack(comps) * fs[None, :],
                flux_scale=fs)


def pointwise_loglike(vals: dict, data: dict, structure: FitStructure, model=None):
    """Log-likelihood of every (padded) pixel from values by name; padding contributes 0."""
    return pointwise_loglike_vector(layout(structure).from_dict(vals), data, structure, model)


def pointwise_loglike_vector(p, data: dict, structure: FitStructure, model=None):
    """:func:`pointwise_loglike` from the full parameter vector."""
    lay = layout(structure)
    model = predict_vector(p, data, structure) if model is None else model
    escale = lay.take(p, [s.error_scale for s in structure.spectra], default="one")
    err = data["err"] * _spread(data["spec_onehot"], escale)
    if structure.likelihood == "student_t":
        lp = dist.StudentT(structure.nu, model["total"], err).log_prob(data["flux"])
    else:
        r = (data["flux"] - model["total"]) / err
        lp = -0.5 * r**2 - jnp.log(err) - 0.5 * jnp.log(2 * jnp.pi)
    return jnp.where(data["w"] > 0, lp, 0.0)


def total_loglike(vals: dict, data: dict, structure: FitStructure):
    """Sum of :func:`pointwise_loglike`."""
    return jnp.sum(pointwise_loglike(vals, data, structure))


def numpyro_model(data: dict, structure: FitStructure) -> None:
    """numpyro model: priors of every parameter plus the likelihood of all spectra."""
    vals = sample_parameters(structure)
    numpyro.factor("loglike", total_loglike(vals, data, structure))


def unconstrain(vals: dict, structure: FitStructure):
    """Unconstrained vector of the free parameters from their values."""
    out, done = [], {}
    for name, spec in zip(structure.order, structure.priors, strict=True):
        done[name] = vals[name]
        if spec.kind == "fixed":
            continue
        out.append(spec.to_unconstrained(vals[name], done))
    if all(isinstance(x, float) for x in out):  # Python numbers in, numbers out
        return np.array(out)
    return jnp.stack(out)


def log_posterior_parts(u, data: dict, structure: FitStructure):
    """Log posterior in the unconstrained space (prior, Jacobian and likelihood) and, beside
    it, what it was computed from: ``(logpost, (p, model, pointwise_loglike))``."""
    p, logp = layout(structure).transform(u)
    model = predict_vector(p, data, structure)
    pll = pointwise_loglike_vector(p, data, structure, model)
    return logp + jnp.sum(pll), (p, model, pll)


def log_posterior(u, data: dict, structure: FitStructure):
    """Log posterior density in the unconstrained space (prior, Jacobian and likelihood)."""
    return log_posterior_parts(u, data, structure)[0]


def whitened_model(data: dict, structure: FitStructure) -> None:
    """numpyro model in whitened coordinates ``u = data['u_map'] + data['chol'] @ xi``.

    With ``u_map`` the MAP and ``chol`` the Cholesky factor of the Laplace covariance (both
    data, not constants), the posterior of ``xi`` is close to a unit normal, which NUTS and
    SVI handle with short trajectories and a diagonal mass matrix.
    """
    k = data["u_map"].shape[0]
    xi = numpyro.sample("xi", dist.ImproperUniform(constraints.real_vector, (), (k,)))
    numpyro.factor("logpost", log_posterior(data["u_map"] + data["chol"] @ xi, data, structure))
