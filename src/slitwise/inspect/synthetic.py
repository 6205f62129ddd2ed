"""Synthetic run directories for trying, testing and benchmarking the inspection app.

:func:`write_synthetic_run` writes, per source, a ``spec.fits`` (1D optimal spectrum with
boxcar, 2D SCI/ERR/WAVELENGTH/WHT) and a ``zfit.fits`` (model, chi2(z), p(z)) through the
product writers of :mod:`slitwise.io`, plus a ``summary.ecsv``. The spectra are a power-law
continuum with Gaussian emission lines at a known redshift; the chi2 curve has its minimum at
that redshift. It is display material with a known truth, not a physical simulation.
"""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from slitwise.inspect.linelist import MARKER_LINES
from slitwise.io.atomic import atomic_path
from slitwise.io.naming import product_filename
from slitwise.io.spec_product import SpecProduct, write_spec
from slitwise.io.zfit_product import ZfitProduct, write_zfit
from slitwise.spectra import Spectrum1D

__all__ = ["write_synthetic_run", "CONFIGS"]

#: Grating-filter configurations: (grating, filter, lambda_min, lambda_max [um], npix).
CONFIGS = {
    "prism-clear": ("prism", "clear", 0.6, 5.3, 435),
    "g395m-f290lp": ("g395m", "f290lp", 2.87, 5.10, 1300),
}
_STRONG = ("Lyα", "[O II]", "Hβ", "[O III]", "Hα", "[S III]", "Paβ")


def _model(wave_um: np.ndarray, z: float, resolution: float, amp: float) -> np.ndarray:
    rest = wave_um / (1 + z) * 1e4
    flux = amp * (wave_um / 2.0) ** 0.5
    flux = np.where(rest < 1215.67, 0.05 * flux, flux)  # Lyman-alpha break
    for line in MARKER_LINES:
        if line.kind != "emission" or line.name not in _STRONG:
            continue
        centre = line.wave * (1 + z) / 1e4
        sigma = centre / resolution / 2.355
        strength = 6.0 if line.name in ("[O III]", "Hα") else 2.5
        flux = flux + strength * amp * np.exp(-0.5 * ((wave_um - centre) / sigma) ** 2)
    return flux


def write_synthetic_run(
    directory: str | os.PathLike,
    n_sources: int,
    *,
    seed: int = 1,
    root: str = "synth",
    configs: tuple[str, ...] = ("prism-clear", "g395m-f290lp"),
    second_every: int = 3,
    ny: int = 21,
) -> Table:
    """Write a synthetic run directory and return its truth table.

    Parameters
    ----------
    directory : str or path-like
        Where the products go (created).
    n_sources : int
        Number of sources (ids 1001, 1002, ...).
    seed : int
        Random seed.
    root : str
        File-name root.
    configs : tuple of str
        Keys of :data:`CONFIGS`; the first is written for every source, the others for every
        ``second_every``-th source.
    ny : int
        Rows of the 2D spectra.

    Returns
    -------
    Table
        ``source``, ``z_true``, ``gratings`` (also written as ``truth.ecsv``).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    summary = []
    for i in range(n_sources):
        source = str(1001 + i)
        z_true = float(rng.uniform(0.5, 9.0))
        amp = float(rng.uniform(0.05, 1.0))
        used = [c for k, c in enumerate(configs) if k == 0 or i % second_every == 0]
        for config in used:
            grating, filt, wmin, wmax, npix = CONFIGS[config]
            wave = np.linspace(wmin, wmax, npix)
            res = 100.0 if grating == "prism" else 1000.0
            truth = _model(wave, z_true, res, amp)
            noise = 0.05 + 0.1 * amp
            err = np.full(npix, noise)
            flux = truth + rng.normal(0, noise, npix)
            rows_y = np.arange(ny) - ny // 2
            profile = np.exp(-0.5 * (rows_y / 1.5) ** 2)
            profile /= profile.sum()
            sci = profile[:, None] * truth[None, :] + rng.normal(0, noise / 3, (ny, npix))
            spec = Spectrum1D(wave * u.um, flux * u.uJy, err * u.uJy)
            product = SpecProduct(
                spectrum=spec, source=source, grating=grating.upper(), filter=filt.upper(),
                boxcar={3: (flux * 0.9, err * 1.2)}, sci=sci, err=np.full_like(sci, noise / 3),
                wavelength=wave, wht=np.full_like(sci, (3 / noise) ** 2),
                extraction={"EXTMETH": "optimal"},
            )  # fmt: skip
            write_spec(product, out / product_filename(root, grating, filt, source, "spec"))
            zgrid = np.linspace(0.0, 10.0, 2001)
            chi2 = npix + 400 * np.minimum(1.0, ((zgrid - z_true) / 0.05) ** 2)
            chi2 += 30 * np.cos(7 * zgrid) ** 2
            pz = np.exp(-0.5 * (chi2 - chi2.min()))
            pz /= np.trapezoid(pz, zgrid)
            zbest = float(zgrid[np.argmin(chi2)])
            zfit = ZfitProduct(
                zbest=zbest, zqual=3, zconf=float(rng.uniform(0.5, 1.0)),
                chi2min=float(chi2.min()), zmin=0.0, zmax=10.0, ntempl=3,
                zwarn=int(rng.integers(0, 2)) * 4, model_wave=wave * u.um,
                model_flux=_model(wave, zbest, res, amp) * u.uJy, z=zgrid, chi2=chi2, pz=pz,
                templates=["young", "old", "lines"], coeffs=np.array([amp, 0.1, 1.0]),
                meta={"SRCNAME": source, "GRATING": grating.upper(), "FILTER": filt.upper()},
            )  # fmt: skip
            write_zfit(zfit, out / product_filename(root, grating, filt, source, "zfit"))
        rows.append((source, z_true, ",".join(used)))
        summary.append((source, "ok", z_true, 0.9, 0, float(amp / (0.05 + 0.1 * amp))))
    truth = Table(rows=rows, names=("source", "z_true", "gratings"))
    with atomic_path(out / "truth.ecsv") as tmp:
        truth.write(tmp, format="ascii.ecsv", overwrite=True)
    summ = Table(rows=summary, names=("source", "status", "z", "zconf", "zwarn", "snr"))
    with atomic_path(out / "summary.ecsv") as tmp:
        summ.write(tmp, format="ascii.ecsv", overwrite=True)
    return truth
