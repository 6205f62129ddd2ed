"""Diagnostic figure of a cleaning: before, after and each model component."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from slitwise.detector.clean import COMPONENTS, CleanResult
from slitwise.io.atomic import atomic_path

__all__ = ["plot_clean", "block_mean"]


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` blocks ignoring NaNs (edges cropped); for display."""
    if factor <= 1:
        return np.asarray(image, dtype=float)
    ny, nx = (s // factor * factor for s in image.shape)
    blocks = np.asarray(image[:ny, :nx], dtype=float).reshape(
        ny // factor, factor, nx // factor, factor
    )
    good = np.isfinite(blocks)
    total = np.where(good, blocks, 0.0).sum(axis=(1, 3))
    n = good.sum(axis=(1, 3))
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _limits(img: np.ndarray, lo: float = 1.0, hi: float = 99.0) -> tuple[float, float]:
    vals = img[np.isfinite(img)]
    if vals.size == 0:
        return -1.0, 1.0
    a, b = np.percentile(vals, [lo, hi])
    if b <= a:
        b = a + 1e-12
    return float(a), float(b)


def plot_clean(
    before: np.ndarray,
    result: CleanResult,
    path: str | os.PathLike,
    *,
    title: str = "",
    max_pixels: int = 512,
) -> Path:
    """Write a PNG: before, after, each component, and the mask with flagged outliers.

    Parameters
    ----------
    before : ndarray
        The input SCI image.
    result : CleanResult
        Output of :func:`slitwise.detector.clean_frame`.
    path : str or path-like
        PNG file (written atomically).
    title : str
        Figure title (e.g. the file name).
    max_pixels : int
        Images are block-averaged to at most this many pixels on a side.

    Returns
    -------
    Path
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    factor = max(1, int(np.ceil(max(before.shape) / max_pixels)))
    after = result.frame.sci
    rec = result.record
    amps = ", ".join(f"{a:.3g}" for a in rec.pedestal_amplitudes)
    captions = {
        "pedestal": f"picture frame (amplitudes {amps})",
        "background2d": f"2-D background (box {rec.box_size}, rms {rec.background_rms:.3g})",
        "column_1f": f"column 1/f (rms {rec.column_rms:.3g})",
        "row_1f": f"row 1/f (rms {rec.row_rms:.3g})" if rec.row_1f else "row 1/f (off)",
    }
    panels = [
        ("before", block_mean(before, factor), None),
        (f"after ({rec.n_passes} passes)", block_mean(after, factor), None),
    ]
    for name in COMPONENTS:
        panels.append((captions[name], block_mean(result.components[name], factor), "comp"))
    mask_img = result.mask.astype(float) + 2.0 * result.outliers
    panels.append(
        (
            f"mask ({rec.trace_source}) + outliers ({rec.n_outlier_pixels} px)",
            block_mean(mask_img, factor),
            "mask",
        )
    )

    fig = Figure(figsize=(16, 8.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 4).ravel()
    vmin, vmax = _limits(after, 2, 98)
    for ax, (label, img, kind) in zip(axes, panels, strict=False):
        if kind is None:
            lo, hi = _limits(panels[0][1], 2, 98) if label == "before" else (vmin, vmax)
            im = ax.imshow(img, origin="lower", cmap="gray", vmin=lo, vmax=hi)
        elif kind == "mask":
            im = ax.imshow(img, origin="lower", cmap="viridis", vmin=0, vmax=3)
        else:
            lo, hi = _limits(img, 1, 99)
            mid, half = 0.5 * (lo + hi), max(0.5 * (hi - lo), 1e-12)
            im = ax.imshow(img, origin="lower", cmap="RdBu_r", vmin=mid - half, vmax=mid + half)
        ax.set_title(label, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.8)
    for ax in axes[len(panels) :]:
        ax.axis("off")
    vf = rec.read_noise_factor
    fig.suptitle(
        f"{title}  read-noise variance x{vf:.3f} (scatter/ERR {rec.scatter_ratio:.3f})",
        fontsize=11,
    )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    return Path(path)
