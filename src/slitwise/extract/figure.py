"""The extraction figure: rectified 2D above the 1D spectrum, profile fit beside the 2D."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from slitwise.io.atomic import atomic_path

__all__ = ["plot_extraction"]


def plot_extraction(extracted, path: str | os.PathLike) -> Path:
    """Write a PNG of one :class:`~slitwise.extract.products.ExtractedProduct`.

    Top left: rectified 2D (rows relative to the trace); top right: the collapsed profile
    of the data with the fitted profile; bottom: optimal and boxcar 1D spectra.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prod, res = extracted.product, extracted.result
    spec = prod.spectrum
    rect = res.rect
    fig = plt.figure(figsize=(10, 5.5))
    gs = fig.add_gridspec(2, 2, width_ratios=(5, 1), height_ratios=(1, 1.6), hspace=0.08,
                          wspace=0.04)  # fmt: skip
    ax2 = fig.add_subplot(gs[0, 0])
    axp = fig.add_subplot(gs[0, 1], sharey=ax2)
    ax1 = fig.add_subplot(gs[1, 0], sharex=ax2)
    sci = rect.sci
    vmax = np.nanpercentile(np.abs(sci), 98) if np.any(np.isfinite(sci)) else 1.0
    w = rect.wave
    ax2.pcolormesh(w, rect.y, sci, cmap="gray_r", vmin=-0.3 * vmax, vmax=vmax, shading="nearest")
    ax2.set_ylabel("rows from trace")
    ax2.tick_params(labelbottom=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        wt = np.where(np.isfinite(rect.var) & (rect.var > 0), 1.0 / rect.var, 0.0)
        prof = np.nansum(np.nan_to_num(sci) * wt, axis=1) / np.nansum(wt, axis=1)
    model = np.nanmean(res.profile2d, axis=1)
    scale = np.nansum(prof) / np.nansum(model) if np.nansum(model) else 1.0
    axp.step(prof, rect.y, where="mid", color="k", lw=1)
    axp.plot(model * scale, rect.y, color="tab:red", lw=1)
    axp.tick_params(labelleft=False)
    axp.set_xlabel("profile")
    wave = spec.wave.value
    for width, (bf, _) in prod.boxcar.items():
        ax1.step(wave, bf.value, where="mid", lw=0.6, alpha=0.7, label=f"box {width}px")
    ax1.step(wave, spec.flux.value, where="mid", color="k", lw=1, label="optimal")
    ax1.fill_between(wave, -spec.err.value, spec.err.value, color="0.8", step="mid")
    finite = spec.flux.value[np.isfinite(spec.flux.value)]
    if finite.size:
        lo, hi = np.percentile(finite, [1, 99])
        ax1.set_ylim(min(lo, 0) - 0.1 * (hi - lo), hi + 0.3 * (hi - lo))
    ax1.set_xlabel("wavelength [um]")
    ax1.set_ylabel("f_nu [uJy]")
    ax1.legend(fontsize=7, ncol=4, loc="upper left")
    ax2.set_title(f"{prod.source}  {prod.grating}/{prod.filter}", fontsize=10)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path
