"""Figure of one source: every disperser's 1D spectrum, error band, model and line markers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from slitwise.io.atomic import atomic_path
from slitwise.spectra.spectrum1d import Spectrum1D

__all__ = ["plot_source", "MARKER_LINES"]

#: Rest-frame vacuum wavelengths (micron) of lines marked on figures.
MARKER_LINES = {
    "Lya": 0.121567,
    "CIII]": 0.190873,
    "MgII": 0.279875,
    "[OII]": 0.372709,
    "[NeIII]": 0.386986,
    "Hb": 0.486269,
    "[OIII]": 0.500824,
    "Ha": 0.656461,
    "[SIII]": 0.953321,
    "HeI": 1.083331,
    "Pab": 1.282161,
    "Paa": 1.875613,
}

_COLORS = ("0.25", "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")


def plot_source(
    spectra: Sequence[Spectrum1D],
    path: str | os.PathLike,
    *,
    models: Sequence[tuple[np.ndarray, np.ndarray, str]] = (),
    z: float | None = None,
    title: str = "",
) -> Path:
    """Write a PNG of a source's spectra (f_nu, uJy) with models and line markers.

    Parameters
    ----------
    spectra : sequence of Spectrum1D
        One per disperser; converted to uJy.
    path : path-like
        Output PNG (written atomically).
    models : sequence of (wave_um, flux_uJy, label)
        Curves drawn over the data (e.g. the zfit best-fit model).
    z : float, optional
        Redshift at which to mark emission lines.
    title : str
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
    ymax = 0.0
    for i, spec in enumerate(spectra):
        s = spec.to_fnu()
        w, f, e = s.wave.to_value("um"), s.flux.value, s.err.value
        good = s.valid
        f = np.where(good, f, np.nan)
        e = np.where(good, e, np.nan)
        color = _COLORS[i % len(_COLORS)]
        label = spec.meta.get("grating", f"spectrum {i + 1}")
        ax.fill_between(w, f - e, f + e, step="mid", color=color, alpha=0.25, lw=0)
        ax.step(w, f, where="mid", color=color, lw=0.7, label=str(label))
        if np.any(np.isfinite(f)):
            ymax = max(ymax, float(np.nanpercentile(f, 99.5)))
    for j, (mw, mf, label) in enumerate(models):
        ax.plot(mw, mf, color=("tab:red", "tab:pink", "tab:cyan")[j % 3], lw=0.9, label=label)
    if z is not None and np.isfinite(z):
        lo, hi = ax.get_xlim()
        for name, rest in MARKER_LINES.items():
            obs = rest * (1 + z)
            if lo < obs < hi:
                ax.axvline(obs, color="0.6", lw=0.5, ls=":")
                ax.text(obs, 1.02, name, rotation=90, fontsize=6, va="bottom", ha="center",
                        transform=ax.get_xaxis_transform())
    if ymax > 0:
        ax.set_ylim(-0.1 * ymax, 1.15 * ymax)
    ax.set_xlabel("observed wavelength [um]")
    ax.set_ylabel("f_nu [uJy]")
    ax.legend(fontsize=7, loc="upper left")
    if title:
        ax.set_title(title, fontsize=9, loc="right")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return Path(path)
