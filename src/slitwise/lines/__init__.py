"""Bayesian emission-line fitting of several spectra of one source (JAX + numpyro).

Configuration in YAML (:mod:`slitwise.lines.config`), profiles integrated over pixels and
convolved with each instrument's LSF (:mod:`slitwise.lines.profiles`), calibration nuisance
parameters shared across spectra, MAP + Laplace, SVI, NUTS and nested sampling
(:mod:`slitwise.lines.inference`), results as QTables and a FITS product
(:mod:`slitwise.lines.results`). Float64 is used inside ``jax.enable_x64`` blocks only.
"""

from slitwise.lines.config import LineFitConfig, config_from_yaml, load_config, save_config
from slitwise.lines.fit import SAMPLERS, fit_lines, fit_many
from slitwise.lines.prepare import load_spectrum, prepare
from slitwise.lines.results import LineFitResult, read_linefit, write_linefit

__all__ = [
    "LineFitConfig",
    "load_config",
    "save_config",
    "config_from_yaml",
    "fit_lines",
    "fit_many",
    "SAMPLERS",
    "prepare",
    "load_spectrum",
    "LineFitResult",
    "write_linefit",
    "read_linefit",
]
