"""Choosing between line models fitted to the same spectra (e.g. with or without a broad
component).

Each sampler has one yardstick, on the log scale (nats), larger is better:

* ``nested``: the log evidence ``ln Z`` of nested sampling;
* ``map``: the Laplace approximation of ``ln Z`` (the posterior in the unconstrained space
  integrated as a Gaussian around its mode, with the normalised prior and Jacobian);
* ``nuts`` and ``svi``: the PSIS-LOO expected log predictive density ``elpd_loo``, whose
  difference between two models has a paired standard error (pixel by pixel).

Evidences pay for prior volume (an extra component with a wide flux prior costs a few nats
unless the data need it); ``elpd_loo`` pays for effective parameters. Models are listed
simplest first, and one is only preferred over the model chosen before it when it is better
by more than ``margin`` nats (and, for ``elpd_loo``, by more than twice the standard error of
the difference): a more complex model has to earn its place.
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.table import QTable

from slitwise.errors import input_error
from slitwise.lines.prepare import LineFitWarning

__all__ = ["CRITERION", "compare_models", "criterion_of", "fit_and_choose", "load_models"]

#: The yardstick of each sampler's results.
CRITERION = {"nested": "ln_z", "map": "ln_z_laplace", "nuts": "elpd_loo", "svi": "elpd_loo"}
#: Standard error of each yardstick (per model).
_ERROR = {"ln_z": "ln_z_err", "ln_z_laplace": None, "elpd_loo": "elpd_loo_se"}


def criterion_of(result) -> tuple[str, float, float]:
    """``(name, value, error)`` of the comparison yardstick of one fit (error 0 when the
    criterion has none)."""
    d = result.diagnostics
    name = CRITERION[d["sampler"]]
    err = _ERROR[name]
    return name, float(d.get(name, np.nan)), float(d.get(err, 0.0)) if err else 0.0


def _fitted_pixels(result) -> np.ndarray:
    data = result.prepared.data
    w = np.asarray(data["w"]) > 0
    return np.round(0.5 * (np.asarray(data["lo"]) + np.asarray(data["hi"]))[w], 9)


def compare_models(results: dict, *, margin: float = 3.0) -> QTable:
    """Compare fits of the same spectra with different line models.

    Parameters
    ----------
    results : dict
        Model name -> :class:`~slitwise.lines.results.LineFitResult`, simplest first, all
        with the same sampler and fitted on the same pixels.
    margin : float
        Nats by which a model must beat the one chosen before it to replace it.

    Returns
    -------
    QTable
        One row per model: ``model``, ``criterion``, ``value``, ``error``, ``delta`` (value
        minus the first model's), ``delta_err`` (paired standard error for ``elpd_loo``, else
        the models' errors in quadrature), ``n_free``, ``redchi2``, ``khat_max`` and
        ``chosen`` (True for exactly one row).

    Raises
    ------
    SlitwiseInputError
        Fewer than two models, samplers that differ, or models fitted on different pixels.
    """
    names = list(results)
    if len(names) < 2:
        raise input_error("results", f"need at least two models to compare, got {len(names)}")
    samplers = {n: results[n].diagnostics["sampler"] for n in names}
    if len(set(samplers.values())) > 1:
        raise input_error("results", f"models were fitted with different samplers {samplers}; "
                          "their criteria cannot be compared")  # fmt: skip
    base = _fitted_pixels(results[names[0]])
    for n in names[1:]:
        pix = _fitted_pixels(results[n])
        if pix.shape != base.shape or not np.array_equal(pix, base):
            raise input_error(
                "results", f"models '{names[0]}' and '{n}' were fitted on different pixels "
                f"({base.size} and {pix.size}); give them the same windows (continuum width)")
    crit = {n: criterion_of(results[n]) for n in names}
    for n in names:
        if not np.isfinite(crit[n][1]):
            warnings.warn(f"line model '{n}': {crit[n][0]} is not finite (a MAP Hessian that is "
                          "not positive definite?); it cannot replace another model",
                          LineFitWarning, stacklevel=2)  # fmt: skip
    pointwise = {n: results[n].elpd_loo_i for n in names}

    def delta(a, b):
        """value(b) - value(a) and its standard error."""
        d = crit[b][1] - crit[a][1]
        if crit[a][0] == "elpd_loo" and pointwise[a] is not None and pointwise[b] is not None:
            diff = pointwise[b] - pointwise[a]
            return d, float(np.sqrt(diff.size * np.var(diff)))
        return d, float(np.hypot(crit[a][2], crit[b][2]))

    chosen = names[0]
    for n in names[1:]:
        d, se = delta(chosen, n)
        if d > margin and (crit[n][0] != "elpd_loo" or d > 2 * se):
            chosen = n
    rows = []
    for n in names:
        d, se = delta(names[0], n)
        diag = results[n].diagnostics
        rows.append(dict(model=n, criterion=crit[n][0], value=crit[n][1], error=crit[n][2],
                         delta=d, delta_err=se, n_free=int(diag["n_free"]),
                         redchi2=float(diag["redchi2"]), khat_max=float(diag["khat_max"]),
                         chosen=n == chosen))  # fmt: skip
    return QTable(rows=rows)


def fit_and_choose(configs: dict, spectra: list, *, margin: float = 3.0, **options):
    """Fit every configuration to ``spectra`` and return the chosen fit, with the comparison
    table as its ``models`` (:func:`compare_models`).

    Parameters
    ----------
    configs : dict
        Model name -> :class:`~slitwise.lines.config.LineFitConfig`, simplest first.
    spectra : list
        The spectra of one source.
    margin : float
        See :func:`compare_models`.
    **options
        Passed to :func:`~slitwise.lines.fit.fit_lines` (``sampler``, ``redshift``, ...);
        ``continuum_templates`` only to the configurations with a template continuum.
    """
    from slitwise.lines.fit import fit_lines

    templates = options.pop("continuum_templates", None)
    results = {
        name: fit_lines(cfg, spectra, **options, continuum_templates=(
            templates if cfg.continuum.form == "template" else None))
        for name, cfg in configs.items()
    }
    if len(results) == 1:
        return next(iter(results.values()))
    table = compare_models(results, margin=margin)
    best = results[str(table["model"][np.argmax(table["chosen"])])]
    best.models = table
    return best


def load_models(paths) -> dict:
    """Line configurations from YAML files, by name (the file stem, made unique by a
    suffix), in the given order: the ``configs`` of :func:`fit_and_choose`."""
    from pathlib import Path

    from slitwise.lines.config import load_config

    out = {}
    for path in paths:
        name, k = Path(path).stem, 2
        while name in out:
            name, k = f"{Path(path).stem}_{k}", k + 1
        out[name] = load_config(path)
    return out
