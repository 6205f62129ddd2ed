"""Continuum templates for line fits (``continuum: {form: template}``).

A template is a model of one spectrum's continuum, typically the zfit best fit of that
spectrum with its emission lines left out (the ``continuum`` column of a ``zfit.fits`` MODEL
HDU). In the fit, each continuum window multiplies the template by a low-order polynomial
(degree ``order``; 0: one free scale per window). Because a template is a model *of that
spectrum*, it already carries the spectrum's flux calibration: an instrument's flux scale
applies to the lines, not to its template continuum.

Templates are evaluated at the pixel centres of the spectrum they belong to: a template on
the spectrum's own grid (as a zfit model is) is used as it is, any other is interpolated
linearly, and must cover every fitted pixel.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np

from slitwise.errors import input_error

__all__ = ["ContinuumTemplate", "as_template", "load_continuum_template", "template_at"]


@dataclasses.dataclass(frozen=True)
class ContinuumTemplate:
    """A continuum model: wavelengths and flux densities (f_nu or f_lambda), with a name."""

    wave: u.Quantity
    flux: u.Quantity
    name: str = "template"


def load_continuum_template(path: str | Path) -> ContinuumTemplate:
    """A template from a file: a ``zfit.fits`` product or any spectrum file.

    From a zfit product the MODEL HDU's ``continuum`` column is taken (the best fit without
    its emission-line templates); a product without it gives its total model, with a warning
    (the lines would then be counted twice). A zfit product of several spectra fitted
    together holds their models one after the other: give one product per spectrum.

    Raises
    ------
    SlitwiseInputError
        The file cannot be read, or its MODEL wavelengths do not increase.
    """
    from slitwise.io.fitsutil import open_fits

    path = str(path)
    with open_fits(path) as hdul:
        kind = str(hdul[0].header.get("PRODTYPE", "")).lower()
        is_zfit = kind == "zfit" or (not kind and "MODEL" in hdul and "CHI2" in hdul)
    if not is_zfit:
        from slitwise.lines.prepare import load_spectrum

        spec = load_spectrum(path)
        return ContinuumTemplate(spec.wave, spec.flux, Path(path).name)
    from slitwise.io.zfit_product import read_zfit

    prod = read_zfit(path)
    flux = prod.model_continuum
    if not flux.size:
        warnings.warn(
            f"{path}: MODEL has no 'continuum' column; its total model (with emission lines) "
            "is used as the continuum template",
            stacklevel=2,
        )
        flux = prod.model_flux
    wave = prod.model_wave
    if wave.size < 2 or np.any(np.diff(wave.value) <= 0):
        raise input_error(
            f"{path}[MODEL]",
            "wavelengths do not increase: a model of several spectra? give one zfit product "
            "per spectrum",
        )
    return ContinuumTemplate(wave, flux, Path(path).name)


def as_template(obj, where: str) -> ContinuumTemplate:
    """A :class:`ContinuumTemplate` from a template, a spectrum, a ``(wave, flux)`` pair of
    quantities or a file path."""
    if isinstance(obj, ContinuumTemplate):
        return obj
    if isinstance(obj, str | Path):
        return load_continuum_template(obj)
    if hasattr(obj, "wave") and hasattr(obj, "flux"):
        return ContinuumTemplate(obj.wave, obj.flux, str(obj.meta.get("filename", where)))
    if isinstance(obj, tuple | list) and len(obj) == 2:
        wave, flux = obj
        if isinstance(wave, u.Quantity) and isinstance(flux, u.Quantity):
            return ContinuumTemplate(wave, flux, where)
    raise input_error(
        where,
        f"a continuum template must be a file, a spectrum or (wave, flux) quantities, not "
        f"{type(obj).__name__}",
    )


def template_at(
    tmpl: ContinuumTemplate, wave_um: np.ndarray, pixels: np.ndarray, flam_unit, where: str
) -> np.ndarray:
    """Template f_lambda (in ``flam_unit``) at pixels ``pixels`` of a spectrum whose pixel
    centres are ``wave_um``.

    Raises
    ------
    SlitwiseInputError
        The template's units are not a flux density, or it does not cover the pixels.
    """
    try:
        tw = tmpl.wave.to_value(u.um, equivalencies=u.spectral())
        tf = tmpl.flux.to_value(flam_unit, equivalencies=u.spectral_density(tmpl.wave))
    except u.UnitConversionError as exc:
        raise input_error(f"{where} template '{tmpl.name}'", f"units: {exc}") from None
    if tw.shape == wave_um.shape and np.allclose(tw, wave_um, rtol=1e-9, atol=0):
        out = np.asarray(tf, float)[pixels]  # on the spectrum's own grid
    else:
        ok = np.isfinite(tw) & np.isfinite(tf)
        order = np.argsort(tw[ok])
        tw, tf = tw[ok][order], tf[ok][order]
        lam = wave_um[pixels]
        if tw.size < 2 or lam.min() < tw[0] or lam.max() > tw[-1]:
            span = f"{tw[0]:.4f}-{tw[-1]:.4f} um" if tw.size else "nothing"
            raise input_error(
                f"{where} template '{tmpl.name}'",
                f"covers {span}, not the fitted pixels at {lam.min():.4f}-{lam.max():.4f} um",
            )
        out = np.interp(lam, tw, tf)
    if not np.all(np.isfinite(out)):
        raise input_error(
            f"{where} template '{tmpl.name}'",
            f"{int(np.sum(~np.isfinite(out)))} fitted pixels have no finite template value",
        )
    return out
