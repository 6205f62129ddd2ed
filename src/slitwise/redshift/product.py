"""Conversion of a :class:`~slitwise.redshift.zfit.ZfitResult` to the ``zfit.fits`` product."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from slitwise.redshift.zfit import ZfitResult
from slitwise.spectra import FNU_UNIT

__all__ = ["to_product"]


def to_product(result: ZfitResult, *, meta: dict[str, Any] | None = None):
    """Build a :class:`slitwise.io.zfit_product.ZfitProduct` from ``result``.

    The model of every fitted spectrum is written (concatenated, in um and uJy; with its
    continuum templates alone beside it); fitter
    settings go to PRIMARY keywords (CHI2NU, NDOF, NPIXFIT, PZSCALE, IGM, DVCOARSE, DVFINE,
    ERRFLOOR). A failed fit (no finite ZBEST) is written with ZBEST = -1 and ZQUAL = 0.
    """
    from slitwise.io.zfit_product import ZfitProduct

    waves, fluxes, conts = [], [], []
    for spec, model, cont in zip(
        result.spectra, result.models, result.continuum_models, strict=True
    ):
        eq = u.spectral_density(spec.wave)
        waves.append(spec.wave.to_value(u.um))
        fluxes.append(model.to_value(FNU_UNIT, equivalencies=eq))
        conts.append(cont.to_value(FNU_UNIT, equivalencies=eq))
    first = result.spectra[0].meta if result.spectra else {}
    lower = {str(k).lower(): v for k, v in first.items()}
    info: dict[str, Any] = {
        "TEMPLSET": str(result.settings.get("templates", "")),
        "CHI2NU": float(result.chi2_nu),
        "NDOF": int(result.ndof),
        "NPIXFIT": int(result.npix),
        "PZSCALE": float(result.settings.get("pz_scale", 1.0)),
        "IGM": str(result.settings.get("igm", "")),
        "DVCOARSE": float(result.settings.get("dv_coarse", 0.0)),
        "DVFINE": float(result.settings.get("dv_fine", 0.0)),
        "ERRFLOOR": float(result.settings.get("error_floor", 0.0)),
    }
    for key in ("srcname", "grating", "filter"):
        if lower.get(key):
            info[key.upper()] = str(lower[key])
    if lower.get("filename"):
        info["INFILE"] = Path(str(lower["filename"])).name[-68:]
    info.update(meta or {})
    ok = math.isfinite(result.zbest)
    return ZfitProduct(
        zbest=result.zbest if ok else -1.0,
        zqual=result.zqual if ok else 0,
        zconf=result.zconf if math.isfinite(result.zconf) else 0.0,
        chi2min=result.chi2min if math.isfinite(result.chi2min) else -1.0,
        zmin=result.zmin,
        zmax=result.zmax,
        ntempl=result.ntempl,
        zwarn=int(result.zwarn),
        model_wave=np.concatenate(waves) * u.um if waves else np.zeros(0) * u.um,
        model_flux=np.concatenate(fluxes) * FNU_UNIT if fluxes else np.zeros(0) * FNU_UNIT,
        model_continuum=np.concatenate(conts) * FNU_UNIT if conts else np.zeros(0) * FNU_UNIT,
        z=result.z,
        chi2=result.chi2,
        pz=result.pz,
        templates=list(result.names),
        coeffs=result.coeffs,
        coeffs_err=result.coeff_errs,
        coeff_units=list(result.coeff_units),
        meta=info,
    )
