"""Turn a configuration and spectra into the static fit structure and padded data arrays.

Steps: convert every spectrum to f_lambda in ``flux_unit`` per micron (f_nu is converted, not
rejected); mask NaN fluxes or errors with a warning; refuse zero or negative errors (naming the
spectrum and the count); drop lines no spectrum covers and continuum windows without enough
pixels (one warning listing them); keep the valid pixels inside the windows; pad every
spectrum to a bucketed length so that sources with the same configuration reuse the compiled
model. The structure (:class:`FitStructure`) is hashable and contains no data; the data are a
dict of arrays passed as arguments to the compiled functions.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings

import astropy.units as u
import numpy as np

from slitwise.errors import input_error
from slitwise.lines.config import LineFitConfig
from slitwise.lines.instrument import instrument_key, resolve_instrument
from slitwise.lines.linelist import rest_wavelength
from slitwise.lines.priors import PriorSpec, topological_order
from slitwise.lines.support import inverse_index, line_supports, line_windows, one_hot
from slitwise.lines.template import as_template, template_at

__all__ = [
    "LineStructure",
    "SpectrumStructure",
    "FitStructure",
    "Prepared",
    "prepare",
    "load_spectrum",
    "continuum_coefficients",
    "pad_length",
    "LineFitWarning",
]

log = logging.getLogger(__name__)
C_KMS = 299792.458
_N_RTAB = 64


class LineFitWarning(UserWarning):
    """A data or configuration problem the fit works around (dropped lines, masked pixels)."""


@dataclasses.dataclass(frozen=True)
class LineStructure:
    name: str
    profile: str
    kind: str
    wave_rest: float  # Angstrom, vacuum
    strength: float
    params: tuple[tuple[str, str], ...]  # (role, parameter name)
    # continuum windows the line is evaluated on (None: all); see slitwise.lines.support
    # (data, not structure: sources differ only in their index arrays)
    windows: tuple[int, ...] | None = dataclasses.field(default=None, compare=False)

    def param(self, role: str) -> str:
        return dict(self.params)[role]


@dataclasses.dataclass(frozen=True)
class SpectrumStructure:
    name: str
    instrument: str
    r_scale: str | None
    flux_scale: tuple[str, ...]
    pix_offset: str | None
    error_scale: str | None
    # informative only: the data are padded, so sources whose pixel counts differ share one
    # structure (and one compiled posterior)
    npix: int = dataclasses.field(compare=False)


@dataclasses.dataclass(frozen=True)
class FitStructure:
    """Everything that decides the compiled model: no data, hashable."""

    order: tuple[str, ...]  # sampled / fixed parameters in dependency order
    priors: tuple[PriorSpec, ...]
    lines: tuple[LineStructure, ...]
    continuum_form: str
    n_windows: int
    continuum_params: tuple[tuple[str, ...], ...]  # per window, coefficient param names
    spectra: tuple[SpectrumStructure, ...]
    likelihood: str
    nu: float

    @property
    def prior_by_name(self) -> dict[str, PriorSpec]:
        return dict(zip(self.order, self.priors, strict=True))

    @property
    def free_parameters(self) -> tuple[str, ...]:
        return tuple(n for n, p in zip(self.order, self.priors, strict=True) if p.kind != "fixed")


@dataclasses.dataclass
class Prepared:
    """Output of :func:`prepare`: structure, padded data and bookkeeping for the results."""

    config: LineFitConfig
    structure: FitStructure
    data: dict
    pixel_index: list[np.ndarray]  # per spectrum, indices into the input spectrum
    offsets: np.ndarray  # spectrum i is data[offsets[i]:offsets[i+1]]
    spectra: list  # Spectrum1D in f_lambda [flux_unit / um]
    windows_rest: np.ndarray  # (n_windows, 2) Angstrom
    dropped_lines: list[str]
    dropped_windows: list[tuple[float, float]]
    flam_unit: u.UnitBase
    resolution_source: list[str]


def pad_length(n: int) -> int:
    """Bucketed padded length: a multiple of 128 (at least 128)."""
    return max(128, int(np.ceil(n / 128.0)) * 128)


def edge_pad_length(n_edges: int, n_pixels: int) -> int:
    """Padded length of the pixel-edge arrays: the padded pixel length plus a multiple of 32
    for the extra edge each run of contiguous pixels adds, so that every source in one pixel
    bucket has one edge length too (one compiled shape, not one per 32 edges)."""
    runs = n_edges - n_pixels
    return pad_length(n_pixels) + max(32, int(np.ceil(runs / 32.0)) * 32)


def shared_edges(lo: np.ndarray, hi: np.ndarray, spec: np.ndarray):
    """Unique pixel edges of concatenated pixels; neighbours in one spectrum share an edge.

    Returns ``edges``, ``edge_w`` (width of the pixels an edge bounds, averaged: the scale of
    its pixel-offset shift), ``edge_spec`` and, per pixel, the indices ``ilo`` and ``ihi`` of
    its edges. A line's CDF is then evaluated once per edge instead of twice per pixel.
    """
    n = lo.size
    width = hi - lo
    shares = np.zeros(n, bool)
    if n > 1:
        shares[1:] = (spec[1:] == spec[:-1]) & (
            np.abs(lo[1:] - hi[:-1]) <= 1e-9 * np.maximum(width[1:], width[:-1])
        )
    ilo = np.empty(n, np.int32)
    ihi = np.empty(n, np.int32)
    edges, edge_w, edge_spec = [], [], []
    for i in range(n):
        if shares[i]:
            ilo[i] = ihi[i - 1]
            edge_w[ilo[i]] = 0.5 * (edge_w[ilo[i]] + width[i])
        else:
            ilo[i] = len(edges)
            edges.append(lo[i])
            edge_w.append(width[i])
            edge_spec.append(spec[i])
        ihi[i] = len(edges)
        edges.append(hi[i])
        edge_w.append(width[i])
        edge_spec.append(spec[i])
    return (np.asarray(edges, float), np.asarray(edge_w, float),
            np.asarray(edge_spec, np.int32), ilo, ihi)  # fmt: skip


def _templates(cfg: LineFitConfig, spectra: list, given: list | None) -> list | None:
    """The continuum template of every spectrum (form 'template'), else None."""
    if cfg.continuum.form != "template":
        if given is not None:
            raise input_error(
                "continuum_templates", "given, but the configuration's continuum form is "
                f"'{cfg.continuum.form}' (set continuum: {{form: template}})",
            )
        return None
    if given is None or len(given) != len(spectra):
        n = 0 if given is None else len(given)
        raise input_error(
            "continuum_templates",
            f"continuum form 'template' needs one template per spectrum: {n} for "
            f"{len(spectra)} spectra",
        )
    return [as_template(t, f"continuum template {i}") for i, t in enumerate(given)]


def continuum_coefficients(
    form: str, *, order: int | None = None, knots: int = 4
) -> tuple[str, ...]:
    """Coefficient names of a continuum form (``order`` None: the form's default)."""
    if form == "linear":
        return ("c0", "c1")
    if form in ("polynomial", "chebyshev", "template"):
        if order is None:
            order = 0 if form == "template" else 1
        return tuple(f"c{k}" for k in range(order + 1))
    if form == "powerlaw":
        return ("amp", "beta")
    if form == "blackbody":
        return ("amp", "temp")
    if form == "bspline":
        return tuple(f"b{k}" for k in range(knots + 3))
    raise ValueError(form)


def _default_continuum_prior(name: str, coef: str) -> PriorSpec:
    # Coefficients are in units of the window's automatic flux scale (see prepare()).
    if coef == "beta":
        return PriorSpec.from_mapping(name, "uniform", {"low": -10, "high": 10})
    if coef == "temp":
        return PriorSpec.from_mapping(name, "loguniform", {"low": 1e3, "high": 1e6})
    return PriorSpec.from_mapping(name, "uniform", {"low": -100, "high": 100})


def load_spectrum(path: str):
    """Open a spectrum with :func:`slitwise.io.open_spectrum`, adding edges and R when present.

    DJA-like tables with ``low``/``high`` pixel-edge columns and an ``R`` column (such as the
    line-fit benchmark spectra) keep them: edges go to ``meta['edges_um']`` (shape (n, 2)) and
    R to ``resolution``.
    """
    from astropy.io import fits

    from slitwise.io import open_spectrum

    spec = open_spectrum(path)
    try:
        with fits.open(path) as hdul:
            hdu = hdul["SPEC1D"] if "SPEC1D" in hdul else hdul[1]
            names = [c.lower() for c in hdu.columns.names]
            data = hdu.data
            if len(data) == spec.npix:
                if "low" in names and "high" in names:
                    lo = np.asarray(data["low"], float)
                    hi = np.asarray(data["high"], float)
                    scale = u.Unit(hdu.columns["low"].unit or "um").to(u.um)
                    spec.meta["edges_um"] = np.stack([lo * scale, hi * scale], axis=1)
                if spec.resolution is None and "r" in names:
                    spec.resolution = np.asarray(data["R"], float)
    except (OSError, KeyError, TypeError, ValueError):
        log.debug("no edge/R columns read from %s", path)
    return spec


def _to_flambda(spec, flam_unit, where):
    wave = spec.wave.to(u.um)
    eq = u.spectral_density(wave)
    if spec.is_fnu:
        log.info("%s: f_nu (%s) converted to f_lambda (%s)", where, spec.flux.unit, flam_unit)
    flux = spec.flux.to(flam_unit, equivalencies=eq).value
    err = spec.err.to(flam_unit, equivalencies=eq).value
    return wave.value, flux, err


def _edges(spec, wave_um):
    if "edges_um" in spec.meta:
        e = np.asarray(spec.meta["edges_um"], float)
        return e[:, 0], e[:, 1]
    edges = spec.pixel_edges().to(u.um).value
    return edges[:-1], edges[1:]


def _merge(intervals):
    out = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def prepare(
    cfg: LineFitConfig,
    spectra: list,
    *,
    instruments: list[str | None] | None = None,
    redshift: float | None = None,
    continuum_templates: list | None = None,
) -> Prepared:
    """Build the fit structure and padded data for ``spectra`` of one source.

    Parameters
    ----------
    cfg : LineFitConfig
        Checked configuration.
    spectra : list of Spectrum1D
        Spectra of one source (f_nu or f_lambda).
    instruments : list of str or None, optional
        Instrument name per spectrum (None: from the spectrum's GRATING/FILTER).
    redshift : float, optional
        Overrides ``cfg.redshift`` (same configuration, another source).
    continuum_templates : list, optional
        With ``continuum: {form: template}``: one template per spectrum, each a file (a
        zfit product or a spectrum), a spectrum or a ``(wave, flux)`` pair of quantities
        (:mod:`slitwise.lines.template`).

    Raises
    ------
    SlitwiseInputError
        Zero or negative errors, no line covered, unknown instrument resolution, templates
        missing or not covering the fitted pixels.
    """
    z0 = float(cfg.redshift if redshift is None else redshift)
    instruments = instruments or [None] * len(spectra)
    flam_unit = cfg.flux_unit_quantity / u.um
    templates = _templates(cfg, spectra, continuum_templates)
    # -- per spectrum: units, masks, instrument -----------------------------------------
    rows = []
    for i, (spec, over) in enumerate(zip(spectra, instruments, strict=True)):
        where = spec.meta.get("filename", f"spectrum {i}")
        key = instrument_key(spec, over)
        wave, flux, err = _to_flambda(spec, flam_unit, where)
        lo, hi = _edges(spec, wave)
        finite_flux = np.isfinite(flux)
        bad_err = finite_flux & np.isfinite(err) & (err <= 0)
        if bad_err.any():
            raise input_error(
                where, f"{int(bad_err.sum())} pixels have zero or negative errors"
            )
        nan = ~finite_flux | ~np.isfinite(err)
        valid = np.asarray(spec.valid, bool) & ~nan
        if nan.any():
            warnings.warn(
                f"{where}: {int(nan.sum())} pixels with NaN flux or error masked",
                LineFitWarning,
                stacklevel=2,
            )
        inst = resolve_instrument(spec, key, cfg)
        rows.append(
            dict(where=str(where), key=key, wave=wave, flux=flux, err=err, lo=lo, hi=hi,
                 valid=valid, inst=inst, spec=spec, index=i)
        )
    # -- lines covered ------------------------------------------------------------------
    lines, dropped = [], []
    for line in cfg.lines:
        wave_rest = line.wave if line.wave is not None else rest_wavelength(line.name)
        lam = wave_rest * (1 + z0) * 1e-4
        covered = any(
            r["valid"].any() and r["wave"][r["valid"]].min() <= lam <= r["wave"][r["valid"]].max()
            for r in rows
        )
        (lines if covered else dropped).append((line, wave_rest))
    # -- windows -------------------------------------------------------------------------
    cc = cfg.continuum
    coefs = continuum_coefficients(cc.form, order=cc.order, knots=cc.knots)
    if cc.windows is not None:
        rest_windows = _merge([list(w) for w in cc.windows])
    else:
        half = 0.5 * cc.width / C_KMS
        rest_windows = _merge([[w * (1 - half), w * (1 + half)] for _, w in lines])
    kept_windows, dropped_windows = [], []
    for lo_r, hi_r in rest_windows:
        lo_o, hi_o = lo_r * (1 + z0) * 1e-4, hi_r * (1 + z0) * 1e-4
        n = sum(int(np.sum(r["valid"] & (r["wave"] >= lo_o) & (r["wave"] <= hi_o))) for r in rows)
        (kept_windows if n >= len(coefs) + 2 else dropped_windows).append((lo_r, hi_r))
    if cc.windows is None:
        in_window = [
            any(lo <= w <= hi for lo, hi in kept_windows) for _, w in lines
        ]
        dropped += [lw for lw, ok in zip(lines, in_window, strict=True) if not ok]
        lines = [lw for lw, ok in zip(lines, in_window, strict=True) if ok]
    dropped_names = [ln.name for ln, _ in dropped]
    if dropped_names or dropped_windows:
        warnings.warn(
            "not covered by any spectrum, dropped: "
            + (f"lines {dropped_names}" if dropped_names else "")
            + (f" windows {[(round(a), round(b)) for a, b in dropped_windows]} A"
               if dropped_windows else ""),
            LineFitWarning,
            stacklevel=2,
        )
    if not lines or not kept_windows:
        raise input_error(
            "line-fit config", f"no line is covered by the spectra at redshift {z0}"
        )
    win = np.asarray(kept_windows, float)
    win_obs = win * (1 + z0) * 1e-4
    # -- pixels in windows, concatenated over spectra and padded --------------------------
    parts, pixel_index, sstructs, prepared_spectra, res_src = [], [], [], [], []
    rtab_w, rtab_r, lam_ref = [], [], []
    for r in rows:
        inwin = np.full(r["wave"].size, -1)
        for k, (a, b) in enumerate(win_obs):
            inwin[(r["wave"] >= a) & (r["wave"] <= b) & (inwin < 0)] = k
        idx = np.flatnonzero(r["valid"] & (inwin >= 0))
        if idx.size == 0:
            warnings.warn(
                f"{r['where']}: no valid pixel in any continuum window; spectrum not used",
                LineFitWarning,
                stacklevel=2,
            )
            continue
        j = len(parts)
        parts.append(
            dict(lo=r["lo"][idx], hi=r["hi"][idx], flux=r["flux"][idx], err=r["err"][idx],
                 win=inwin[idx], spec=np.full(idx.size, j))
        )
        if templates is not None:
            parts[-1]["tmpl"] = template_at(
                templates[r["index"]], r["wave"], idx, flam_unit, r["where"]
            )
        pixel_index.append(idx)
        # R(lambda) table of this spectrum on fixed nodes (shape independent of the data)
        good = np.isfinite(r["inst"].resolution)
        nodes = np.linspace(r["wave"][good].min(), r["wave"][good].max(), _N_RTAB)
        rtab_w.append(nodes)
        rtab_r.append(np.interp(nodes, r["wave"][good], r["inst"].resolution[good]))
        lam_ref.append(float(np.median(r["wave"][idx])))
        ic = r["inst"].config
        fs = ic.flux_scale
        sstructs.append(
            SpectrumStructure(
                name=r["where"], instrument=r["key"], r_scale=ic.r_scale,
                flux_scale=tuple(fs) if isinstance(fs, list) else ((fs,) if fs else ()),
                pix_offset=ic.pix_offset, error_scale=ic.error_scale, npix=idx.size,
            )
        )
        prepared_spectra.append(r["spec"])
        res_src.append(r["inst"].resolution_source)
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n_pix = cat["lo"].size
    npad = pad_length(n_pix)
    offsets = np.cumsum([0] + [p["lo"].size for p in parts])

    def pad(a, fill, length=npad):
        out = np.full(length, fill, dtype=np.asarray(a).dtype)
        out[: np.asarray(a).size] = a
        return out

    edges, edge_w, edge_spec, ilo, ihi = shared_edges(cat["lo"], cat["hi"], cat["spec"])
    nepad = edge_pad_length(edges.size, n_pix)

    # continuum scale per window: robust level of the data (coefficients are in these units)
    cont_scale = np.ones(len(win))
    for k in range(len(win)):
        m = cat["win"] == k
        cont_scale[k] = max(
            abs(float(np.median(cat["flux"][m]))), 0.1 * float(np.median(cat["err"][m])), 1e-30
        )
    # -- parameters ----------------------------------------------------------------------
    used = set()
    lstructs = []
    for line, wave_rest in lines:
        names = line.parameter_names()
        used |= set(names.values())
        lstructs.append(
            LineStructure(
                name=line.name, profile=line.profile, kind=line.kind, wave_rest=float(wave_rest),
                strength=float(line.strength), params=tuple(names.items()),
            )
        )
    for s in sstructs:
        used |= {n for n in (s.r_scale, s.pix_offset, s.error_scale, *s.flux_scale) if n}
    specs = cfg.prior_specs()
    cont_params = []
    for k in range(len(win)):
        names = tuple(
            (f"cont_{c}" if c in cc.shared else f"cont{k}_{c}") for c in coefs
        )
        cont_params.append(names)
        for n, c in zip(names, coefs, strict=True):
            used.add(n)
            if n not in specs:
                specs[n] = _default_continuum_prior(n, c)
    # keep bound dependencies of used parameters
    todo = list(used)
    while todo:
        n = todo.pop()
        for dep in specs[n].depends_on:
            if dep not in used:
                used.add(dep)
                todo.append(dep)
    unused = [n for n in cfg.parameters if n not in used]
    if unused:
        log.info("parameters not used by the kept lines/spectra: %s", unused)
    specs = {n: s for n, s in specs.items() if n in used}
    order = topological_order(specs)
    # -- where each line is evaluated (the windows it can reach) ---------------------------
    def resolution_at(lam):
        return [np.interp(lam, w, r) for w, r in zip(rtab_w, rtab_r, strict=True)]

    pixel_kms = float(np.max((cat["hi"] - cat["lo"]) / (0.5 * (cat["hi"] + cat["lo"])))) * C_KMS
    reach = line_windows(lstructs, win, specs, sstructs, resolution_at, pixel_kms, z0)
    lstructs = [dataclasses.replace(ls, windows=w) for ls, w in zip(lstructs, reach, strict=True)]
    support = line_supports(lstructs, cat["win"], ilo, ihi, pad(edge_spec, 0, nepad), npad,
                            cat["hi"] - cat["lo"], len(parts))
    structure = FitStructure(
        order=tuple(order), priors=tuple(specs[n] for n in order), lines=tuple(lstructs),
        continuum_form=cc.form, n_windows=len(win), continuum_params=tuple(cont_params),
        spectra=tuple(sstructs), likelihood=cfg.likelihood.kind, nu=float(cfg.likelihood.nu),
    )
    data = dict(
        z0=np.float64(z0), win_lo=win_obs[:, 0].copy(), win_hi=win_obs[:, 1].copy(),
        cont_scale=cont_scale, lam_ref=np.asarray(lam_ref), rtab_w=np.asarray(rtab_w),
        rtab_r=np.asarray(rtab_r),
        lo=pad(cat["lo"], cat["lo"][-1]), hi=pad(cat["hi"], cat["hi"][-1]),
        flux=pad(cat["flux"], 0.0), err=pad(cat["err"], 1.0),
        win=pad(cat["win"], 0).astype(np.int32), spec=pad(cat["spec"], 0).astype(np.int32),
        w=np.r_[np.ones(n_pix), np.zeros(npad - n_pix)],
        edges=pad(edges, edges[-1], nepad), edge_w=pad(edge_w, 0.0, nepad),
        edge_spec=pad(edge_spec, 0, nepad), ilo=pad(ilo, 0), ihi=pad(ihi, 0),
        # inverses of ilo/ihi (the pixel an edge starts / ends, npad where none) and one-hot
        # pixel -> spectrum / window and edge -> spectrum matrices: with them the model's
        # gradient gathers and multiplies where plain indexing would scatter-add
        edge_pix_lo=inverse_index(ilo, nepad, npad), edge_pix_hi=inverse_index(ihi, nepad, npad),
        spec_onehot=one_hot(pad(cat["spec"], 0), len(parts)),
        win_onehot=one_hot(pad(cat["win"], 0), len(win)),
        edge_onehot=one_hot(pad(edge_spec, 0, nepad), len(parts)),
        support=support,
    )
    if templates is not None:
        # template in units of its window's continuum scale (a scale coefficient near 1)
        data["cont_template"] = pad(cat["tmpl"] / cont_scale[cat["win"]], 1.0)
    return Prepared(
        config=cfg, structure=structure, data=data, pixel_index=pixel_index,
        offsets=offsets,
        spectra=prepared_spectra, windows_rest=win, dropped_lines=dropped_names,
        dropped_windows=dropped_windows, flam_unit=flam_unit, resolution_source=res_src,
    )

