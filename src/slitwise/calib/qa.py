"""Quality-assessment plots of a ground calibration.

* :func:`plot_model_on_frame`: the arc (or flat) frame with the fitted model drawn on it: both
  edges of every slit along its whole spectrum, the reference wavelength across each slit, and
  the identified arc lines where the model puts them. A wrong solution shows as edges off the
  illuminated slits or line markers off the arc lines.
* :func:`plot_line_residuals`: residuals of every identified line against wavelength, coloured
  by slit, with the lines dropped in the table shown as crosses; below, the RMS and number of
  lines per slit.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from slitwise.calib.mask_file import Mask
from slitwise.calib.models import SpectrographModel
from slitwise.io.atomic import atomic_path

__all__ = ["plot_model_on_frame", "plot_line_residuals"]


def _save(fig, path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def plot_model_on_frame(
    model: SpectrographModel,
    mask: Mask,
    frame: np.ndarray,
    path: str | os.PathLike,
    *,
    lines: Table | None = None,
    title: str = "",
) -> Path:
    """Draw slit edges, reference wavelength and identified lines over ``frame``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = model.config
    img = np.asarray(frame, float)
    ny, nx = img.shape
    lo, hi = np.nanpercentile(img, [5, 99.5])
    fig, ax = plt.subplots(figsize=(9, 9 * min(max(ny / nx, 0.3), 1.5)))
    ax.imshow(np.arcsinh((img - lo) / max(hi - lo, 1e-30) * 10), origin="lower", cmap="gray",
              aspect="auto", interpolation="nearest")  # fmt: skip
    half = 0.6 * cfg.n_disp * cfg.linear_dispersion
    lo_w, hi_w = cfg.wavelength_range or (
        cfg.reference_wavelength - half,
        cfg.reference_wavelength + half,
    )
    waves = np.linspace(lo_w, hi_w, 200)
    for slit in mask:
        if not model.on_detector(slit):
            continue
        colour = "tab:orange" if slit.ref else "tab:cyan"
        for t in (0.0, 1.0):
            x, y = model.detector_position(slit, np.full(waves.size, t), waves)
            ax.plot(x, y, color=colour, lw=0.6)
        tt = np.linspace(0, 1, 10)
        x, y = model.detector_position(slit, tt, np.full(tt.size, cfg.reference_wavelength))
        ax.plot(x, y, color="tab:red", lw=1.0)
        xc, yc = model.detector_position(slit, np.array([1.0]), np.array([hi_w]))
        ax.text(min(float(xc[0]), nx - 0.04 * nx), min(max(float(yc[0]), 0), ny - 1), str(slit.id),
                color=colour, fontsize=7)  # fmt: skip
    if lines is not None and len(lines):
        slits = {s.id: s for s in mask}
        use = np.asarray(lines["use"]).astype(bool)
        sid = np.asarray(lines["slit_id"], int)[use]
        tt = np.asarray(lines["t"], float)[use]
        ww = np.asarray(lines["wave"], float)[use]
        xs, ys = [], []
        for k in np.unique(sid):
            if int(k) not in slits:
                continue
            m = sid == k
            x, y = model.detector_position(slits[int(k)], tt[m], ww[m])
            xs += list(x)
            ys += list(y)
        ax.plot(xs, ys, "o", ms=2.0, mfc="none", mec="tab:green", mew=0.5,
                label="identified lines (model position)")  # fmt: skip
        ax.legend(loc="upper right", fontsize=7)
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    ax.set_xlabel("x [pixel]")
    ax.set_ylabel("y [pixel]")
    ax.set_title(title or f"{cfg.name}: slit edges (cyan), reference wavelength (red)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    return _save(fig, path)


def plot_line_residuals(lines: Table, path: str | os.PathLike, *, title: str = "") -> Path:
    """Residuals per line (top) and RMS per slit (bottom) of a line table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(2, 1, figsize=(9, 6), height_ratios=(2, 1))
    use = np.asarray(lines["use"]).astype(bool)
    ids = np.asarray(lines["slit_id"], int)
    wave = np.asarray(lines["wave"], float)
    res = np.asarray(lines["residual"], float)
    slit_ids = np.unique(ids)
    cmap = plt.get_cmap("tab20")
    rms, counts = [], []
    for k, sid in enumerate(slit_ids):
        m = (ids == sid) & use
        ax.plot(wave[m], res[m], ".", ms=3, color=cmap(k % 20))
        rms.append(float(np.sqrt(np.mean(res[m] ** 2))) if m.any() else np.nan)
        counts.append(int(m.sum()))
    ax.plot(wave[~use], res[~use], "x", ms=4, color="k", label="dropped (use = 0)")
    ax.axhline(0, color="0.5", lw=0.6)
    total = float(np.sqrt(np.mean(res[use] ** 2))) if use.any() else np.nan
    ax.set_xlabel("wavelength [A]")
    ax.set_ylabel("measured - model [pixel]")
    ax.set_title(title or f"{int(use.sum())} lines, RMS {total:.3f} pixel", fontsize=9)
    if (~use).any():
        ax.legend(fontsize=7)
    bx.bar(np.arange(slit_ids.size), rms, color=[cmap(k % 20) for k in range(slit_ids.size)])
    for k, n in enumerate(counts):
        bx.text(k, (rms[k] if np.isfinite(rms[k]) else 0), str(n), ha="center", va="bottom",
                fontsize=6)  # fmt: skip
    bx.set_xticks(np.arange(slit_ids.size), [str(s) for s in slit_ids], fontsize=7)
    bx.set_xlabel("slit (number above the bar: lines used)")
    bx.set_ylabel("RMS [pixel]")
    fig.tight_layout()
    return _save(fig, path)
