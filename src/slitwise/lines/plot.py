"""Figure of a line fit: per spectrum, data, model, components and residuals."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["plot_linefit"]


def plot_linefit(result, path: str | os.PathLike | None = None, *, title: str | None = None):
    """Plot every spectrum's fitted windows: data with errors, model, continuum, each line,
    and normalised residuals underneath (a row of windows per spectrum).

    With ``path`` the PNG is written atomically and the figure closed (nothing returned);
    without, the open figure is returned.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tabs = result.spectra
    nwin = result.prepared.structure.n_windows
    fig, axes = plt.subplots(
        2 * len(tabs), nwin, figsize=(5 * nwin, 3.6 * len(tabs)), squeeze=False,
        gridspec_kw=dict(height_ratios=[3, 1] * len(tabs)),
    )
    win_lo, win_hi = result.prepared.data["win_lo"], result.prepared.data["win_hi"]
    line_names = [ln.name for ln in result.prepared.structure.lines]
    for i, t in enumerate(tabs):
        wave = t["wave"].value
        labelled = False  # the flux unit on the first window this spectrum covers
        for k in range(nwin):
            ax, axr = axes[2 * i, k], axes[2 * i + 1, k]
            m = (wave >= win_lo[k]) & (wave <= win_hi[k])
            if not m.any():
                ax.set_visible(False)
                axr.set_visible(False)
                continue
            flux, err = t["flux"].value[m], t["err"].value[m]
            ax.step(wave[m], flux, where="mid", color="0.3", lw=0.8, label="data")
            ax.fill_between(wave[m], flux - err, flux + err, step="mid", color="0.8", lw=0)
            ax.plot(wave[m], t["continuum"].value[m], color="tab:green", lw=0.8,
                    label="continuum")
            for name in line_names:
                comp = t[name].value[m]
                if np.any(np.abs(comp) > 0.05 * np.max(np.abs(err))):
                    ax.plot(wave[m], t["continuum"].value[m] + comp, lw=0.7, label=name)
            ax.plot(wave[m], t["model"].value[m], color="tab:red", lw=1.0, label="model")
            ax.set_title(f"{t.meta.get('INSTRUME', '')}", fontsize=9)
            if not labelled:
                ax.set_ylabel(f"f_lambda [{t['flux'].unit.to_string()}]", fontsize=8)
                labelled = True
            axr.step(wave[m], (flux - t["model"].value[m]) / err, where="mid", color="k",
                     lw=0.7)
            axr.axhline(0, color="tab:red", lw=0.7)
            axr.set_ylabel("resid/err", fontsize=8)
            axr.set_xlabel("wavelength [um]", fontsize=8)
            if i == 0 and k == nwin - 1:
                ax.legend(fontsize=6, loc="upper right")
    d = result.diagnostics
    fig.suptitle(title or f"{d['sampler']}: reduced chi2 = {d['redchi2']:.2f} (dof {d['dof']})",
                 fontsize=10)
    fig.tight_layout()
    if path is None:
        return fig
    from slitwise.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return None
