"""Figure of a redshift fit: data and model, chi2(z) and p(z)."""

from __future__ import annotations

import os

import numpy as np

from slitwise.redshift.zfit import ZfitResult

__all__ = ["plot_zfit"]


def plot_zfit(result: ZfitResult, path: str | os.PathLike | None = None, *, title: str = ""):
    """Plot data with the best-fit model (top), chi2(z) and p(z) (bottom).

    Returns the matplotlib Figure; writes it to ``path`` (PNG) when given, atomically.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(9, 6.5), height_ratios=(3, 2))
    for spec, model in zip(result.spectra, result.models, strict=True):
        w = spec.wave.to_value("um")
        ok = spec.valid
        ax0.step(w, np.where(ok, spec.flux.value, np.nan), where="mid", lw=0.7, color="0.3")
        ax0.fill_between(
            w,
            np.where(ok, spec.flux.value - spec.err.value, np.nan),
            np.where(ok, spec.flux.value + spec.err.value, np.nan),
            step="mid",
            color="0.8",
            lw=0,
        )
        ax0.plot(w, model.value, color="tab:red", lw=1.0)
        unit = spec.flux.unit
    ax0.set_xlabel("observed wavelength [um]")
    ax0.set_ylabel(f"flux [{unit.to_string()}]")
    ax0.set_title(
        title or f"z = {result.zbest:.4f}  ZCONF = {result.zconf:.2f}  ZWARN = {result.zwarn}"
    )
    ax1.plot(result.z, result.chi2 - result.chi2.min(), color="tab:blue", lw=0.8)
    ax1.set_yscale("symlog", linthresh=10)
    ax1.set_xlabel("z")
    ax1.set_ylabel(r"$\chi^2 - \chi^2_{min}$", color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(result.z, result.pz, color="tab:orange", lw=0.8)
    ax2.set_ylabel("p(z)", color="tab:orange")
    ax1.axvline(result.zbest, color="k", lw=0.5, ls=":")
    fig.tight_layout()
    if path is not None:
        from slitwise.io.atomic import atomic_path

        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=90)
        plt.close(fig)
    return fig
