"""Results of a joint line fit: parameter tables, per-spectrum models, diagnostics, FITS.

FITS layout (``lines.fits``): declared in :mod:`slitwise.io.schema` and documented in
``docs/products.md`` -- PRIMARY (configuration YAML as data, sampler and settings), PARAMS
(percentiles), SAMPLES, SPEC1..SPECn (data and model per spectrum), DERIVED (per line flux,
rest-frame equivalent width, velocity offset, intrinsic FWHM), RATIOS (line ratios),
DIAGNOSTICS (goodness of fit, WAIC, PSIS-LOO, sampler diagnostics), CONVERGENCE (NUTS).
"""

from __future__ import annotations

import dataclasses
import re

import astropy.units as u
import jax
import jax.numpy as jnp
import numpy as np
from astropy.io import fits
from astropy.table import QTable

from slitwise.io.atomic import write_fits_atomic
from slitwise.lines.config import config_to_yaml
from slitwise.lines.derived import line_quantities, line_ratios
from slitwise.lines.inference import Posterior, compiled
from slitwise.lines.loo import psis_loo
from slitwise.lines.prepare import Prepared

__all__ = ["LineFitResult", "PERCENTILES", "make_result", "write_linefit", "read_linefit"]

#: Percentiles of the PARAMS table.
PERCENTILES = (0.15, 2.5, 16.0, 50.0, 84.0, 97.5, 99.85)


@dataclasses.dataclass
class LineFitResult:
    """Everything a fit produced."""

    prepared: Prepared
    posterior: Posterior
    params: QTable
    spectra: list[QTable]
    derived: QTable
    diagnostics: dict
    ratios: QTable
    #: PSIS-LOO expected log predictive density of each fitted pixel (model comparison)
    elpd_loo_i: np.ndarray | None = None
    #: comparison with other line models, when the fit was chosen among several
    #: (:func:`slitwise.lines.compare.compare_models`)
    models: QTable | None = None

    @property
    def chosen_model(self) -> str | None:
        """Name of this fit's line model when it was chosen among several, else None."""
        if self.models is None:
            return None
        return str(self.models["model"][np.argmax(self.models["chosen"])])

    @property
    def samples(self) -> dict[str, np.ndarray]:
        return self.posterior.samples

    def percentile(self, name: str, q) -> np.ndarray:
        """Percentile(s) ``q`` of parameter ``name``."""
        return np.percentile(self.samples[name], q)


def _unit_of(name: str, prepared: Prepared) -> u.UnitBase:
    cfg = prepared.config
    roles = {}
    for line in cfg.lines:
        for role, pname in line.parameter_names().items():
            roles.setdefault(pname, role)
    role = roles.get(name)
    if role == "flux":
        return cfg.flux_unit_quantity
    if role in ("fwhm", "fwhm_l"):
        return u.km / u.s
    return u.dimensionless_unscaled


def make_result(prepared: Prepared, post: Posterior, *, n_model_draws: int = 200) -> LineFitResult:
    """Build tables and diagnostics from a posterior."""
    st = prepared.structure
    names = list(st.order)
    params = QTable()
    params["percentile"] = np.asarray(PERCENTILES)
    for n in names:
        params[n] = np.percentile(post.samples[n], PERCENTILES) * _unit_of(n, prepared)
    with jax.enable_x64(True):
        data = jax.tree_util.tree_map(jnp.asarray, prepared.data)
        comp = compiled(st)
        m = len(post.u)
        idx = np.random.default_rng(0).choice(m, size=min(n_model_draws, m), replace=False)
        draws = {k: v[idx] for k, v in post.samples.items()}
        u_best = post.info.get("u_best") if post.sampler == "map" else None
        if u_best is None:
            u_best = comp.unconstrain_point(post.best)
        # the best point rides along as the last row
        _, all_models, all_lps = comp.evaluate(np.vstack([post.u[idx], u_best]), data)
        models = {k: v[:-1] for k, v in all_models.items()}
        model_best = {k: v[-1] for k, v in all_models.items()}
        med = {k: np.median(v, axis=0) for k, v in models.items()}
        lp_best = all_lps[-1]
    lps = all_lps[:-1]
    w = np.asarray(prepared.data["w"]) > 0
    lps = lps[:, w]
    loo = psis_loo(lps)
    lppd = loo["elpd_loo"] + loo["p_loo"]  # p_loo = lppd - elpd_loo
    p_waic = float(np.sum(np.var(lps, axis=0, ddof=1)))
    resid = (prepared.data["flux"] - np.asarray(model_best["total"])) / prepared.data["err"]
    chi2 = float(np.sum(resid[w] ** 2))
    n_free = len(st.free_parameters)
    dof = int(w.sum()) - n_free
    diag = dict(
        sampler=post.sampler, loglike=float(lp_best[w].sum()), lppd=float(lppd),
        waic=float(-2 * (lppd - p_waic)), p_waic=p_waic,
        **{k: v for k, v in loo.items() if k != "elpd_loo_i"},
        chi2=chi2, dof=dof, redchi2=chi2 / max(dof, 1), n_free=n_free, n_pix=int(w.sum()),
    )
    for k, v in post.info.items():
        if np.isscalar(v) or isinstance(v, bool | int | float):
            diag[k] = v
    # per spectrum tables
    flam = prepared.flam_unit
    tables = []
    for i, s in enumerate(st.spectra):
        a, b = prepared.offsets[i], prepared.offsets[i + 1]
        t = QTable()
        t.meta["EXTNAME"] = f"SPEC{i + 1}"
        t.meta["INSTRUME"] = s.instrument
        t.meta["FILENAME"] = str(s.name)[-68:]
        t["wave"] = 0.5 * (prepared.data["lo"][a:b] + prepared.data["hi"][a:b]) * u.um
        t["flux"] = prepared.data["flux"][a:b] * flam
        t["err"] = prepared.data["err"][a:b] * flam
        t["model"] = med["total"][a:b] * flam
        t["continuum"] = med["continuum"][a:b] * flam
        for j, line in enumerate(st.lines):
            t[line.name] = med["lines"][j, a:b] * flam
        tables.append(t)
    derived = line_quantities(prepared, post.samples, draws, np.asarray(models["continuum"]),
                              np.asarray(models["flux_scale"]))
    ratios = line_ratios(prepared, post.samples)
    return LineFitResult(prepared, post, params, tables, derived, diag, ratios,
                         elpd_loo_i=loo["elpd_loo_i"])


def _fits_unit(unit) -> str:
    return "" if unit is None or unit == u.dimensionless_unscaled else unit.to_string("fits")


def _hdu(name: str, table: QTable, units: dict[str, str] | None = None) -> fits.BinTableHDU:
    """Table HDU ``name`` of the lines product: plain columns, a TUNIT card on each."""
    from slitwise.io.product_fits import table_hdu

    cols, tunits = {}, dict(units or {})
    for col in table.colnames:
        val = table[col]
        cols[col] = np.asarray(getattr(val, "value", val))
        tunits.setdefault(col, _fits_unit(getattr(val, "unit", None)))
    return table_hdu("lines", name, cols, units=tunits)


def _source_name(result: LineFitResult) -> str | None:
    names = {str(s.meta.get("SRCNAME", "")).strip() for s in result.prepared.spectra}
    return names.pop() if len(names) == 1 and "" not in names else None


def write_linefit(result: LineFitResult, path, *, srcname: str | None = None) -> None:
    """Write the line-fit product atomically (layout: ``docs/products.md``, ``lines.fits``).

    ``srcname`` (default: the SRCNAME the fitted spectra share, if any) goes to the PRIMARY
    header, where the inspection page finds the source of a ``{root}_{source}.lines.fits``.
    """
    from slitwise.io.product_fits import primary_header

    post = result.posterior
    cfg = result.prepared.config
    text = config_to_yaml(cfg).encode()
    values = dict(
        SAMPLER=post.sampler, Z_INPUT=float(result.prepared.data["z0"]),
        FLUXUNIT=cfg.flux_unit, NSPEC=len(result.spectra), CONFIG="YAML",
        SRCNAME=srcname or _source_name(result),
    )
    if result.models is not None:
        values["LINEMODL"] = result.chosen_model
    hdr = primary_header("lines", values, {})
    for k, v in post.settings.items():
        hdr[f"HIERARCH SAMPLER {k.upper()}"] = v
    hdus = [fits.PrimaryHDU(np.frombuffer(text, dtype=np.uint8), header=hdr)]
    punits = {c: _fits_unit(result.params[c].unit) for c in result.params.colnames[1:]}
    hdus.append(_hdu("PARAMS", result.params))
    samples = QTable({k: np.asarray(v) for k, v in post.samples.items()})
    hdus.append(_hdu("SAMPLES", samples, punits))
    for t in result.spectra:
        hdu = _hdu(t.meta["EXTNAME"], t)
        hdu.header["INSTRUME"] = str(t.meta["INSTRUME"])
        hdu.header["FILENAME"] = str(t.meta["FILENAME"])
        hdus.append(hdu)
    hdus.append(_hdu("DERIVED", result.derived))
    hdus[-1].header["COLNOTE"] = result.derived.meta["COLNOTE"]
    if len(result.ratios):
        hdus.append(_hdu("RATIOS", result.ratios))
    diag = QTable({k: [v] for k, v in result.diagnostics.items()})
    hdus.append(_hdu("DIAGNOSTICS", diag, {"time_s": "s", "wall_s": "s"}))
    rhat, ess = post.info.get("r_hat"), post.info.get("ess")
    if isinstance(rhat, dict) and isinstance(ess, dict):
        names = list(rhat)
        conv = QTable({"parameter": names, "r_hat": [rhat[n] for n in names],
                       "ess": [ess.get(n, np.nan) for n in names]})  # fmt: skip
        hdus.append(_hdu("CONVERGENCE", conv))
    if result.models is not None:
        hdus.append(_hdu("MODELS", result.models))
    write_fits_atomic(fits.HDUList(hdus), path)


def read_linefit(path) -> dict:
    """Read a line-fit product: ``config`` (YAML text), ``header``, ``params``, ``samples``,
    ``spectra`` (list), ``derived``, ``diagnostics``, and when present ``ratios``, (NUTS)
    ``convergence`` and (a model chosen among several) ``models`` (QTables).

    Raises
    ------
    SlitwiseInputError
        The file is not a lines product (naming the file, HDU and column at fault).
    """
    from slitwise.io.fitsutil import open_fits
    from slitwise.io.schema import validate_hdul

    with open_fits(path) as hdul:
        validate_hdul(hdul, "lines", str(path), strict=False)
        out = dict(config=bytes(hdul[0].data).decode(), header=dict(hdul[0].header))
        for key in ("PARAMS", "SAMPLES", "DERIVED", "RATIOS", "DIAGNOSTICS", "CONVERGENCE",
                    "MODELS"):
            if key in hdul:
                out[key.lower()] = QTable.read(hdul[key])
        out["spectra"] = [QTable.read(h) for h in hdul if re.fullmatch(r"SPEC[0-9]+", h.name)]
    return out
