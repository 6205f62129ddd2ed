"""One call from spectra to a line-fit result: prepare, infer, tabulate.

>>> result = fit_lines(cfg, [prism, g395m], sampler="nuts")       # doctest: +SKIP
>>> result.params                                                  # doctest: +SKIP

Sources with the same configuration (same lines, continuum, instruments and padded pixel
count) reuse the compiled functions: call :func:`fit_lines` in a loop, or :func:`fit_many`,
which fits the first source alone (compiling) and the others on several threads (compiled
JAX code releases the GIL, so the threads use every core with no recompilation or copying).
"""

from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

from slitwise.errors import input_error
from slitwise.lines.config import LineFitConfig
from slitwise.lines.inference import compiled, run_map, run_nested, run_nuts, run_svi
from slitwise.lines.prepare import Prepared, prepare
from slitwise.lines.results import LineFitResult, make_result

__all__ = ["fit_lines", "fit_many", "rescale_errors", "SAMPLERS"]

log = logging.getLogger(__name__)
SAMPLERS = ("map", "svi", "nuts", "nested")
C_KMS = 299792.458


def rescale_errors(prepared: Prepared, post, *, mask_fwhm: float = 3.0) -> np.ndarray:
    """Rescale errors per spectrum and window from the continuum pixels' chi-square.

    Pixels within ``mask_fwhm`` times each line's *fitted* total FWHM (intrinsic and LSF) of
    its centre are left out, so broad wings do not inflate the errors. Returns the scale
    factors, shape (n_spectra, n_windows) (1 where fewer than 5 pixels remain); the data
    errors of ``prepared`` are multiplied in place.
    """
    st, d = prepared.structure, prepared.data
    best = post.best
    with jax.enable_x64(True):
        _, model, _ = compiled(st).evaluate(
            post.info["u_best"], jax.tree_util.tree_map(jnp.asarray, d))
    total = model["total"][0]
    lam = 0.5 * (d["lo"] + d["hi"])
    z0 = float(d["z0"])
    mask = d["w"] > 0
    for line in st.lines:
        lam_c = line.wave_rest * 1e-4 * (1 + z0 + best[line.param("z")])
        for i in range(len(st.spectra)):  # each spectrum's own resolution
            r = np.interp(lam_c, d["rtab_w"][i], d["rtab_r"][i])
            fwhm = np.hypot(lam_c * best[line.param("fwhm")] / C_KMS, lam_c / r)
            mask &= (d["spec"] != i) | (np.abs(lam - lam_c) > mask_fwhm * fwhm)
    scales = np.ones((len(st.spectra), st.n_windows))
    for i in range(len(st.spectra)):
        for k in range(st.n_windows):
            m = mask & (d["spec"] == i) & (d["win"] == k)
            if m.sum() >= 5:
                chi2 = np.sum(((d["flux"] - total) / d["err"])[m] ** 2) / m.sum()
                scales[i, k] = np.sqrt(chi2)
                sel = (d["spec"] == i) & (d["win"] == k)
                d["err"][sel] *= scales[i, k]
    return scales


def fit_lines(
    cfg: LineFitConfig,
    spectra: list,
    *,
    instruments: list[str | None] | None = None,
    redshift: float | None = None,
    sampler: str = "nuts",
    warmup: int = 500,
    samples: int = 500,
    chains: int = 1,
    seed: int = 0,
    svi_steps: int = 3000,
    nlive: int = 400,
    continuum_templates: list | None = None,
) -> LineFitResult:
    """Fit the configured lines jointly to ``spectra`` of one source.

    Parameters
    ----------
    cfg : LineFitConfig
        Configuration (:func:`slitwise.lines.config.load_config`).
    spectra : list of Spectrum1D
        The spectra (f_nu or f_lambda).
    instruments : list of str or None
        Instrument per spectrum, when not in the metadata.
    redshift : float, optional
        Overrides ``cfg.redshift``.
    sampler : {"map", "svi", "nuts", "nested"}
        Inference method (MAP always runs first: it starts and whitens the others).
    warmup, samples, chains : int
        NUTS settings (``samples`` is also the number of draws kept for MAP/SVI/nested).
    seed : int
        Random seed.
    svi_steps, nlive : int
        SVI optimisation steps; live points of nested sampling.
    continuum_templates : list, optional
        One continuum template per spectrum for ``continuum: {form: template}``: a file (a
        zfit product, whose line-free model is used, or a spectrum), a spectrum or a
        ``(wave, flux)`` pair (:mod:`slitwise.lines.template`).
    """
    if sampler not in SAMPLERS:
        raise input_error("sampler", f"'{sampler}' is not one of {SAMPLERS}")
    t0 = time.perf_counter()
    prepared = prepare(cfg, spectra, instruments=instruments, redshift=redshift,
                       continuum_templates=continuum_templates)
    st = prepared.structure
    # Laplace draws only when the MAP is the answer; the other samplers start from its point
    n_draws = max(samples, 200) if sampler == "map" else 0
    post = run_map(st, prepared.data, seed=seed, n_draws=n_draws)
    if cfg.prepare.error_rescale:
        scales = rescale_errors(prepared, post, mask_fwhm=cfg.prepare.line_mask_fwhm)
        log.info("error scales per spectrum and window: %s", np.round(scales, 3).tolist())
        post = run_map(st, prepared.data, seed=seed, n_draws=n_draws)
    if sampler == "svi":
        post = run_svi(st, prepared.data, steps=svi_steps, seed=seed, init=post,
                       n_draws=max(samples, 200))
    elif sampler == "nuts":
        post = run_nuts(st, prepared.data, warmup=warmup, samples=samples, chains=chains,
                        seed=seed, init=post)
    elif sampler == "nested":
        post = run_nested(st, prepared.data, nlive=nlive, seed=seed, n_draws=max(samples, 200))
    result = make_result(prepared, post)
    result.diagnostics["wall_s"] = time.perf_counter() - t0
    return result


def fit_many(
    cfg: LineFitConfig,
    sources: list[list],
    *,
    redshifts: list[float | None] | None = None,
    continuum_templates: list[list] | None = None,
    workers: int | None = None,
    seed: int = 0,
    **options,
) -> list[LineFitResult | Exception]:
    """Fit many sources with one configuration in one process.

    Parameters
    ----------
    cfg : LineFitConfig
        Configuration shared by every source.
    sources : list of list of Spectrum1D
        The spectra of each source.
    redshifts : list of float or None, optional
        Per-source redshift overriding ``cfg.redshift``.
    continuum_templates : list of list, optional
        Per source, its spectra's continuum templates (``continuum: {form: template}``).
    workers : int, optional
        Threads for the sources after the first (default: the number of CPUs).
    seed : int
        Source ``i`` is fitted with seed ``seed + i``: results do not depend on ``workers``.
    **options
        Passed to :func:`fit_lines` (``sampler``, ``warmup``, ``samples``, ...).

    Returns
    -------
    list
        One :class:`LineFitResult` per source, or the exception that source raised (logged;
        the other sources go on).
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    if redshifts is not None and len(redshifts) != len(sources):
        raise input_error("redshifts", f"{len(redshifts)} values for {len(sources)} sources")
    zs = list(redshifts) if redshifts is not None else [None] * len(sources)
    if continuum_templates is not None and len(continuum_templates) != len(sources):
        raise input_error(
            "continuum_templates",
            f"{len(continuum_templates)} template lists for {len(sources)} sources",
        )
    tmpls = continuum_templates or [None] * len(sources)

    def one(i: int):
        try:
            return fit_lines(cfg, sources[i], redshift=zs[i], seed=seed + i,
                             continuum_templates=tmpls[i], **options)
        except Exception as exc:  # noqa: BLE001 - one source must not stop the others
            log.error("line fit of source %d failed: %s", i, exc)
            return exc

    if not sources:
        return []
    first = one(0)  # compiles every function the others reuse
    n = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, n)) as pool:
        rest = list(pool.map(one, range(1, len(sources))))
    return [first, *rest]
