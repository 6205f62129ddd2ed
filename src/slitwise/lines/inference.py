"""Inference for joint line fits: MAP + Laplace, SVI, NUTS and nested sampling.

All compiled functions are built once per :class:`~slitwise.lines.prepare.FitStructure` and
take the data dict as an argument, so a second source with the same configuration (and the
same padded pixel counts) reuses them without recompiling. Everything runs in float64 inside
``jax.enable_x64(True)`` blocks; the global JAX configuration is not changed.

Nested sampling uses ``dynesty`` (static sampler, random-walk proposals) on the unit cube of
the priors' quantile functions, with the JAX log-likelihood compiled once.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoMultivariateNormal
from numpyro.infer.hmc import hmc
from numpyro.infer.initialization import init_to_value
from numpyro.infer.util import ParamInfo

from slitwise.lines.model import (
    constrain_unit_cube,
    log_posterior,
    log_posterior_parts,
    total_loglike,
    unconstrain,
    whitened_model,
)
from slitwise.lines.params import layout
from slitwise.lines.prepare import FitStructure

__all__ = [
    "Posterior",
    "InferenceWarning",
    "run_map",
    "run_svi",
    "run_nuts",
    "run_nested",
    "compiled",
]

log = logging.getLogger(__name__)


class InferenceWarning(UserWarning):
    """The sampler or optimiser did not converge cleanly (R-hat, divergences, SVI loss...)."""


@dataclasses.dataclass
class Posterior:
    """Samples (constrained, by parameter name) and what the sampler reports.

    ``u`` holds the same samples in the unconstrained space of the free parameters (one row
    per sample, aligned with ``samples``), from which the compiled posterior evaluates models.
    """

    sampler: str
    samples: dict[str, np.ndarray]
    best: dict[str, float]
    settings: dict
    info: dict
    u: np.ndarray | None = None


def _jnp_data(data):
    return jax.tree_util.tree_map(jnp.asarray, data)


class _Compiled:
    """Compiled functions of one structure (posterior, transforms, samplers).

    One compiled function, :meth:`value_and_grad` (the potential and its gradient, nothing
    else: every extra output would be computed and copied on each of the optimiser's
    hundreds of calls), serves the optimiser, the Hessian and the NUTS start; the models of
    the results come from one vectorised forward evaluation (:meth:`evaluate`). Compiling
    few functions is what keeps a single fit's compilation short.
    """

    def __init__(self, structure: FitStructure):
        self.structure = structure
        self.free = structure.free_parameters
        self.layout = layout(structure)
        self.model = functools.partial(whitened_model, structure=structure)
        self._mcmc = {}
        self._svi = {}
        with jax.enable_x64(True):

            def potential(u, data):
                return -log_posterior(u, data, structure)

            self._value_and_grad = jax.jit(jax.value_and_grad(potential))
            # many points at once, without gradients (results: posterior draws' models)
            self._evaluate_rows = jax.jit(jax.vmap(
                lambda u, data: log_posterior_parts(u, data, structure)[1], in_axes=(0, None)))
            # samples -> parameters: the transform alone, vectorised (a small compilation,
            # and thousands of rows cost nothing, which matters when many sources are fitted)
            self._transform_rows = jax.jit(jax.vmap(lambda u: self.layout.transform(u)[0]))
            self.cube_to_u_many = jax.jit(jax.vmap(
                lambda c: unconstrain(constrain_unit_cube(c, structure), structure)))
            self.loglike_cube = jax.jit(
                lambda c, data: total_loglike(constrain_unit_cube(c, structure), data, structure)
            )

    def value_and_grad(self, u, data):
        """Potential (minus the log posterior) and its gradient at ``u``."""
        return self._value_and_grad(u, data)

    def evaluate(self, u, data):
        """Parameters by name, models and per-pixel log-likelihoods at the rows of ``u``.

        Returns ``(params, models, pll)``: ``params[name]`` (n,), ``models[key]`` (n, ...)
        with the keys of :func:`~slitwise.lines.model.predict`, ``pll`` (n, npix).
        """
        u = np.atleast_2d(np.asarray(u, float))
        n = u.shape[0]
        npad = -(-n // _EVAL_ROWS) * _EVAL_ROWS  # few shapes: one compilation serves all
        u = np.vstack([u, np.repeat(u[-1:], npad - n, axis=0)])
        with jax.enable_x64(True):
            p, m, pll = self._evaluate_rows(u, data)
        models = {k: np.asarray(v)[:n] for k, v in m.items()}
        return self.layout.to_dict(np.asarray(p)[:n]), models, np.asarray(pll)[:n]

    def unconstrain_point(self, values: dict) -> np.ndarray:
        """Unconstrained vector of one point given by parameter values (in Python numbers:
        a handful of scalar operations, not worth a compilation)."""
        return unconstrain({k: float(values[k]) for k in self.layout.names}, self.structure)

    def constrain_rows(self, u) -> dict[str, np.ndarray]:
        """Parameter values by name for unconstrained vectors ``u`` (..., k).

        Rows are padded to a multiple of 512, so the best point, Laplace draws and NUTS
        samples share one or two compiled shapes.
        """
        u = np.asarray(u, float)
        flat = u.reshape(-1, u.shape[-1])
        n = flat.shape[0]
        npad = -(-n // 512) * 512
        flat = np.vstack([flat, np.repeat(flat[-1:], npad - n, axis=0)])
        p = np.asarray(self._transform_rows(jnp.asarray(flat)))[:n]
        return {k: v.reshape(u.shape[:-1]) for k, v in self.layout.to_dict(p).items()}

    def hessian(self, u, data, step=1e-5):
        """Hessian of the potential by central differences of the compiled gradient."""
        u = np.asarray(u, float)
        k = u.size
        hess = np.empty((k, k))
        for i in range(k):
            du = np.zeros(k)
            du[i] = step
            gp = np.asarray(self.value_and_grad(u + du, data)[1])
            gm = np.asarray(self.value_and_grad(u - du, data)[1])
            hess[i] = (gp - gm) / (2 * step)
        return 0.5 * (hess + hess.T)

    # cached samplers
    def nuts(self, warmup, samples, target_accept, max_tree_depth):
        """Compiled NUTS run ``(key, data, xi0, pe0, grad0) -> (xi, diverging, num_steps)``
        of one chain, started at ``xi0`` whose potential and gradient are given.

        Built on numpyro's functional ``hmc(potential_fn_gen=..., algo="NUTS")`` with the data
        as an argument of one jitted warmup + sampling scan, so that every source with the
        same structure and padded size reuses the compiled code. The starting potential and
        gradient come from the (already compiled) MAP gradient, so the sampler's code holds
        the posterior's gradient once, in its integrator, not a second time for its start.
        """
        key = (warmup, samples, target_accept, max_tree_depth)
        if key in self._mcmc:
            return self._mcmc[key]
        structure = self.structure

        def potential_gen(data):
            def pot(xi):
                u = data["u_map"] + data["chol"] @ xi
                return -log_posterior(u, data, structure)

            return pot

        init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo="NUTS")

        def run(rng_key, data, xi0, pe0, grad0):
            state = init_kernel(
                ParamInfo(xi0, pe0, grad0), warmup, target_accept_prob=target_accept,
                max_tree_depth=max_tree_depth, model_args=(data,), rng_key=rng_key,
            )

            def body(st, _):
                st = sample_kernel(st, model_args=(data,))
                return st, (st.z, st.diverging, st.num_steps)

            _, (z, div, nsteps) = jax.lax.scan(body, state, None, length=warmup + samples)
            return z[warmup:], div[warmup:], nsteps[warmup:]

        with jax.enable_x64(True):
            self._mcmc[key] = jax.jit(run)
        return self._mcmc[key]

    def svi(self, step_size, steps, particles):
        key = (step_size, steps, particles)
        if key not in self._svi:
            guide = AutoMultivariateNormal(self.model, init_loc_fn=init_to_value(values={}))
            svi = SVI(self.model, guide, numpyro.optim.Adam(step_size),
                      Trace_ELBO(num_particles=particles))

            def run(state, data):
                return jax.lax.scan(lambda s, _: svi.update(s, data), state, None, length=steps)

            self._svi[key] = (guide, svi, jax.jit(run))
        return self._svi[key]


def _whitened_data(data, post: Posterior):
    out = dict(data)
    out["u_map"] = jnp.asarray(post.info["u_best"])
    out["chol"] = jnp.asarray(np.linalg.cholesky(post.info["cov_u"]))
    return out


_EVAL_ROWS = 256


@functools.lru_cache(maxsize=32)
def compiled(structure: FitStructure) -> _Compiled:
    """The (cached) compiled functions of a structure."""
    return _Compiled(structure)


#: Continuum forms whose coefficients enter the model linearly.
_LINEAR_CONTINUA = ("linear", "polynomial", "template", "chebyshev", "bspline")


def _linear_parameters(structure: FitStructure) -> list[str]:
    """Free parameters the model is linear in: line fluxes and (for the polynomial-like
    forms) continuum coefficients."""
    names = [line.param("flux") for line in structure.lines if "flux" in dict(line.params)]
    if structure.continuum_form in _LINEAR_CONTINUA:
        names += [n for window in structure.continuum_params for n in window]
    prior = structure.prior_by_name
    return [n for n in dict.fromkeys(names) if prior[n].kind != "fixed"]


def _linear_start(comp, data, vals: dict, edge=1e-3) -> dict:
    """``vals`` with the linear parameters replaced by their weighted bounded least-squares
    values given the others (each kept inside its prior's [edge, 1 - edge] quantiles).

    The model is linear in line fluxes and continuum coefficients, so one vectorised model
    evaluation (a row per parameter, one step each) gives the exact design matrix.
    Starting from fluxes the data support, instead of prior medians that may be orders of
    magnitude off, keeps the optimiser out of basins where components cancel each other
    (e.g. a negative narrow line under a positive broad one).
    """
    from scipy.optimize import lsq_linear

    st = comp.structure
    names = _linear_parameters(st)
    if not names:
        return vals
    prior = st.prior_by_name
    lo = np.array([float(prior[n].ppf(edge, vals)) for n in names])
    hi = np.array([float(prior[n].ppf(1 - edge, vals)) for n in names])
    x0 = np.array([vals[n] for n in names], float)
    # one step per parameter, a quarter of its range, towards the farther bound (the model
    # is linear, so any step gives the exact column)
    step = 0.25 * (hi - lo) * np.where(hi - x0 >= x0 - lo, 1.0, -1.0)
    if np.any(step == 0):
        return vals
    rows = [vals] + [{**vals, n: vals[n] + d} for n, d in zip(names, step, strict=True)]
    try:
        u = np.array([unconstrain(r, st) for r in rows])
    except (ValueError, ZeroDivisionError):  # a bound depends on a stepped parameter
        return vals
    if not np.all(np.isfinite(u)):
        return vals
    _, models, _ = comp.evaluate(u, data)
    total = models["total"]
    w = np.asarray(data["w"]) > 0
    err = np.asarray(data["err"])[w]
    design = ((total[1:] - total[0])[:, w] / err).T / step
    resid = (np.asarray(data["flux"])[w] - total[0][w]) / err
    used = np.any(design != 0, axis=0)
    if not used.any():
        return vals
    sol = lsq_linear(design[:, used], resid, bounds=(lo[used] - x0[used], hi[used] - x0[used]),
                     method="bvls")
    out = dict(vals)
    for n, x in zip(np.array(names)[used], x0[used] + sol.x, strict=True):
        out[str(n)] = float(x)
    return out


def _start_points(comp, data, n_starts, rng):
    """The prior medians and random prior quantiles in [0.1, 0.9], each with its linear
    parameters (fluxes, continuum) solved for (:func:`_linear_start`)."""
    k = len(comp.free)
    cubes = np.vstack([np.full(k, 0.5), rng.uniform(0.1, 0.9, size=(max(n_starts - 1, 0), k))])
    # in Python numbers: a handful of scalar operations, not worth a compilation
    st = comp.structure
    starts = []
    for c in cubes:
        vals = constrain_unit_cube([float(x) for x in c], st)
        starts.append(unconstrain(_linear_start(comp, data, vals), st))
    return starts


def _laplace_cov(hess):
    """Covariance from a Hessian, with non-positive curvature clipped; and how many
    directions were clipped."""
    w, v = np.linalg.eigh(hess)
    bad = int(np.sum(w <= 0))
    w = np.clip(w, 1e-12 * max(w.max(), 1e-300), None)
    return (v / w) @ v.T, bad


def _preconditioner(hess):
    """Linear map ``M`` with ``M.T @ |H| @ M ~ I``: eigenvalues taken in absolute value and
    floored, so that it is defined far from an optimum too."""
    w, v = np.linalg.eigh(hess)
    w = np.abs(w)
    w = np.maximum(w, 1e-10 * max(w.max(), 1e-300))
    return v / np.sqrt(w)


def _map_point(comp, data, n_starts, seed, agree=1e-4):
    """Best optimum over the start points, and the Hessian there.

    Starts run one after the other and stop early once two of them have reached the best
    value found (within ``agree`` in log posterior): the basin has then been found twice
    from different places. Otherwise every start runs.

    Each start is optimised in preconditioned coordinates ``u = u0 + M v``, where ``M``
    whitens the (finite-difference) Hessian at the start point, eigenvalues taken in absolute
    value. Redshift, widths and fluxes have curvatures orders of magnitude apart in ``u``; on
    the line-fit benchmark the start at the prior medians needs ~120 evaluations instead of
    ~320 (random starts far from the optimum gain less). The optimum does not depend on ``M``.
    """
    from scipy.optimize import minimize

    # L-BFGS-B rather than BFGS: a failed line search is reported in the result instead of
    # a LineSearchWarning (warnings filters are process-global, so fits running on threads
    # could not silence it safely)
    opts = {"maxiter": 5000, "gtol": 1e-7, "ftol": 1e-13, "maxcor": 20}

    def fun_u(u):
        val, grad = comp.value_and_grad(u, data)  # numpy in: no jnp.asarray per call
        val = float(val)
        if not np.isfinite(val):
            return 1e300, np.zeros_like(u)
        return val, np.asarray(grad, dtype=float)

    best_u, best_f, values = None, np.inf, []
    for u0 in _start_points(comp, data, n_starts, np.random.default_rng(seed)):
        u0 = np.asarray(u0, float)
        h = comp.hessian(u0, data)
        m = _preconditioner(h) if np.all(np.isfinite(h)) else np.eye(u0.size)

        def fun(v, u0=u0, m=m):
            val, grad = fun_u(u0 + m @ v)
            return val, m.T @ grad

        res = minimize(fun, np.zeros(u0.size), jac=True, method="L-BFGS-B", options=opts)
        values.append(float(res.fun))
        if res.fun < best_f:
            best_u, best_f = u0 + m @ res.x, float(res.fun)
        if sum(v <= best_f + agree for v in values) >= 2:
            break
    if best_u is None or not np.isfinite(best_f) or best_f >= 1e300:
        raise RuntimeError("MAP optimisation failed from every start point")
    return best_u, best_f, comp.hessian(best_u, data)


def run_map(structure, data, *, n_starts=4, n_draws=2000, seed=0) -> Posterior:
    """Maximum a posteriori fit with Laplace (Gaussian in unconstrained space) errors.

    Parameters
    ----------
    structure, data
        From :func:`slitwise.lines.prepare.prepare`.
    n_starts : int
        Optimiser start points: the prior medians plus random prior quantiles in [0.1, 0.9]
        (at most; the search stops once two starts agree on the best optimum).
    n_draws : int
        Samples drawn from the Laplace approximation.
    seed : int
        Random seed.
    """
    t0 = time.perf_counter()
    comp = compiled(structure)
    with jax.enable_x64(True):
        data = _jnp_data(data)
        u_best, f_best, hess = _map_point(comp, data, n_starts, seed)
    return laplace_posterior(comp, u_best, f_best, hess, n_draws=n_draws, seed=seed,
                             settings=dict(n_starts=n_starts, n_draws=n_draws, seed=seed),
                             t0=t0)


def laplace_posterior(comp, u_best, f_best, hess, *, n_draws, seed, settings, t0) -> Posterior:
    """The MAP posterior: the optimum, Gaussian (Laplace) draws around it in the
    unconstrained space and their parameter values."""
    cov, bad = _laplace_cov(hess)
    if bad:
        warnings.warn(
            f"MAP Hessian not positive definite ({bad} directions); "
            "Laplace errors are unreliable",
            InferenceWarning,
            stacklevel=3,
        )
    u_best = np.asarray(u_best, float)
    # Laplace evidence: the posterior in the unconstrained space (prior, Jacobian and
    # likelihood, all normalised) integrated as a Gaussian around its mode
    sign, logdet = np.linalg.slogdet(cov)
    ln_z = -f_best + 0.5 * u_best.size * np.log(2 * np.pi) + 0.5 * logdet
    ln_z = float(ln_z) if (sign > 0 and not bad) else float("nan")
    rng = np.random.default_rng(seed + 1)
    draws = rng.multivariate_normal(u_best, cov, size=n_draws, method="cholesky")
    with jax.enable_x64(True):
        rows = comp.constrain_rows(np.vstack([u_best[None], draws]))
    samples = {k: v[1:] for k, v in rows.items()}
    best = {k: float(v[0]) for k, v in rows.items()}
    return Posterior(
        "map", samples, best, settings,
        dict(neg_log_posterior=f_best, ln_z_laplace=ln_z, time_s=time.perf_counter() - t0,
             u_best=u_best, cov_u=cov),
        u=draws,
    )


def run_svi(structure, data, *, steps=3000, step_size=2e-3, particles=4, n_draws=2000,
            seed=0, init: Posterior | None = None) -> Posterior:
    """Stochastic variational inference (full-rank Gaussian guide) started at the MAP.

    Convergence is checked on the ELBO trace: the mean loss over the last 20 % of the steps
    must not be lower than over the 20 % before by more than twice its standard error (or
    0.5). Otherwise an :class:`InferenceWarning` says so.
    """
    t0 = time.perf_counter()
    comp = compiled(structure)
    init = init or run_map(structure, data, seed=seed)
    with jax.enable_x64(True):
        data = _jnp_data(data)
        guide, svi, run = comp.svi(step_size, steps, particles)
        wdata = _whitened_data(data, init)
        state = svi.init(jax.random.PRNGKey(seed), wdata)
        state, losses = run(state, wdata)
        losses = np.asarray(losses)
        params = svi.get_params(state)
        n = max(len(losses) // 5, 2)
        a, b = losses[-2 * n : -n], losses[-n:]
        se = np.sqrt(np.var(a) / len(a) + np.var(b) / len(b))
        drop = float(np.mean(a) - np.mean(b))
        converged = bool(np.isfinite(losses[-1]) and drop < max(2 * se, 0.5))
        if not converged:
            warnings.warn(
                f"SVI did not converge: ELBO loss still falling by {drop:.2f} between the last "
                f"two fifths of {steps} steps; increase steps or use NUTS",
                InferenceWarning,
                stacklevel=2,
            )
        xi = guide.sample_posterior(
            jax.random.PRNGKey(seed + 1), params, sample_shape=(n_draws,)
        )["xi"]
        u = np.asarray(wdata["u_map"]) + np.asarray(xi) @ np.asarray(wdata["chol"]).T
        samples = comp.constrain_rows(u)
    return Posterior(
        "svi", samples, dict(init.best),
        dict(steps=steps, step_size=step_size, particles=particles, seed=seed),
        dict(converged=converged, final_loss=float(losses[-1]), loss_drop=drop,
             time_s=time.perf_counter() - t0),
        u=u,
    )


def run_nuts(structure, data, *, warmup=500, samples=500, chains=1, seed=0,
             target_accept=0.85, max_tree_depth=10, init: Posterior | None = None) -> Posterior:
    """NUTS (numpyro) from the MAP, reporting R-hat, effective sample size and divergences.

    Sampling runs in whitened coordinates around the MAP (Laplace covariance), with step size
    and diagonal mass matrix adapted during warmup. The compiled sampler is cached per
    structure and settings, so further sources reuse it. Chains run one after the other.
    """
    t0 = time.perf_counter()
    comp = compiled(structure)
    init = init or run_map(structure, data, seed=seed, n_draws=10)
    with jax.enable_x64(True):
        data = _jnp_data(data)
        run = comp.nuts(warmup, samples, target_accept, max_tree_depth)
        wdata = _whitened_data(data, init)
        u_map, chol = np.asarray(wdata["u_map"]), np.asarray(wdata["chol"])
        k = len(comp.free)
        rng = np.random.default_rng(seed)
        xis, divs, steps = [], [], []
        for c in range(chains):
            xi0 = rng.normal(0, 0.1, size=k) if chains > 1 else np.zeros(k)
            # small linear algebra in numpy: eager jnp operations would each compile
            pe0, grad_u = comp.value_and_grad(jnp.asarray(u_map + chol @ xi0), data)
            xi, div, nst = run(jax.random.PRNGKey(seed + 1000 * c), wdata, jnp.asarray(xi0),
                               pe0, jnp.asarray(chol.T @ np.asarray(grad_u)))
            xis.append(np.asarray(xi))
            divs.append(np.asarray(div))
            steps.append(np.asarray(nst))
    return nuts_posterior(comp, np.stack(xis), divs, steps, u_map, chol,
                          dict(warmup=warmup, samples=samples, chains=chains, seed=seed,
                               target_accept=target_accept), t0)


def nuts_posterior(comp, xi, divs, steps, u_map, chol, settings, t0) -> Posterior:
    """Samples, R-hat, effective sample sizes and divergences from whitened NUTS draws
    ``xi`` (chains, n, k) around ``u_map`` with Cholesky factor ``chol``."""
    from numpyro.diagnostics import summary

    k = xi.shape[-1]
    chains = xi.shape[0]
    u = u_map + xi @ chol.T  # (chains, n, k)
    with jax.enable_x64(True):
        grouped = comp.constrain_rows(u)
    flat = {n: v.reshape(-1) for n, v in grouped.items()}
    sm = summary({n: grouped[n] for n in comp.free})
    rhat = {k: float(v["r_hat"]) for k, v in sm.items()}
    ess = {k: float(v["n_eff"]) for k, v in sm.items()}
    div = int(np.sum(np.concatenate([np.asarray(d) for d in divs])))
    if div:
        warnings.warn(f"NUTS: {div} divergent transitions", InferenceWarning, stacklevel=3)
    if chains > 1 and max(rhat.values()) > 1.05:
        warnings.warn(
            f"NUTS: R-hat up to {max(rhat.values()):.3f} (> 1.05); run longer",
            InferenceWarning,
            stacklevel=3,
        )
    best = {k: float(np.median(v)) for k, v in flat.items()}
    return Posterior(
        "nuts", flat, best, settings,
        dict(divergences=div, r_hat=rhat, ess=ess, min_ess=float(min(ess.values())),
             max_r_hat=float(np.nanmax(list(rhat.values()))),
             mean_steps=float(np.mean(np.concatenate([np.asarray(x) for x in steps]))),
             time_s=time.perf_counter() - t0),
        u=u.reshape(-1, k),
    )


def run_nested(structure, data, *, nlive=400, dlogz=0.1, seed=0, n_draws=2000,
               sample="rwalk") -> Posterior:
    """Nested sampling with dynesty: posterior samples and the log evidence ``ln_z``.

    The sampler works on the unit cube; each coordinate is mapped through its prior's
    quantile function (dependent bounds evaluated in dependency order), so the evidence is
    that of the configured priors.
    """
    import dynesty
    from dynesty.utils import resample_equal

    t0 = time.perf_counter()
    comp = compiled(structure)
    ndim = len(comp.free)
    with jax.enable_x64(True):
        data = _jnp_data(data)

        def loglike(cube):
            val = float(comp.loglike_cube(cube, data))
            return val if np.isfinite(val) else -1e300

        sampler = dynesty.NestedSampler(
            loglike, lambda c: c, ndim, nlive=nlive, sample=sample, bound="multi",
            rstate=np.random.default_rng(seed),
        )
        sampler.run_nested(dlogz=dlogz, print_progress=False)
        res = sampler.results
        weights = np.exp(res.logwt - res.logz[-1])
        cubes = resample_equal(res.samples, weights / weights.sum(),
                               rstate=np.random.default_rng(seed + 1))
        pick = np.random.default_rng(seed + 2).choice(len(cubes), size=n_draws)
        u = np.asarray(comp.cube_to_u_many(jnp.asarray(cubes[pick])))
        samples = comp.constrain_rows(u)
    best = {k: float(np.median(v)) for k, v in samples.items()}
    return Posterior(
        "nested", samples, best, dict(nlive=nlive, dlogz=dlogz, seed=seed, sample=sample),
        dict(ln_z=float(res.logz[-1]), ln_z_err=float(res.logzerr[-1]),
             n_calls=int(np.sum(res.ncall)), time_s=time.perf_counter() - t0),
        u=u,
    )
