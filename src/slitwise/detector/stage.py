"""Stage wrapper: clean one rate file and write its products (used by the CLI and pipeline)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["clean_output_paths", "sibling_traces", "clean_file"]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in ("_rate.fits.gz", "_rate.fits", ".fits.gz", ".fits"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def clean_output_paths(rate: str | os.PathLike, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """``(fits, png)`` output paths for one input rate file."""
    stem = _stem(Path(rate))
    out = Path(out_dir)
    return out / f"{stem}_rate_clean.fits", out / f"{stem}_rate_clean.png"


def sibling_traces(rate: str | os.PathLike) -> Path | None:
    """``<stem>_traces.ecsv`` beside the rate file (the simulator's convention), if present."""
    rate = Path(rate)
    cand = rate.with_name(f"{_stem(rate)}_traces.ecsv")
    return cand if cand.exists() else None


def clean_file(
    rate: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    traces: str | os.PathLike | None = None,
    detect_traces: bool = False,
    template=None,
    n_passes: int = 5,
    box_size: int = 8,
    row_1f: bool | None = None,
    plot: bool = True,
):
    """Clean ``rate`` and write ``<stem>_rate_clean.fits`` (and the PNG) into ``out_dir``.

    Traces: the given table, else the sibling ``<stem>_traces.ecsv``, else detected.
    Returns ``(fits_path, png_path or None, record, seconds)``.
    """
    import time

    from slitwise.detector import clean_frame, plot_clean, read_rate_frame, read_trace_table
    from slitwise.detector.frames import write_rate_frame

    t0 = time.perf_counter()
    rate = Path(rate)
    frame = read_rate_frame(rate)
    if traces is not None:
        table = read_trace_table(traces)
    elif detect_traces:
        table = None
    else:
        sib = sibling_traces(rate)
        table = read_trace_table(sib) if sib is not None else None
    result = clean_frame(
        frame,
        traces=table,
        detect_traces=True if detect_traces else None,
        template=template,
        n_passes=n_passes,
        box_size=box_size,
        row_1f=row_1f,
    )
    fits_path, png_path = clean_output_paths(rate, out_dir)
    keywords = result.record.header_keywords()
    keywords["CLNSRC"] = (rate.name, "slitwise clean: input rate file")
    write_rate_frame(result.frame, fits_path, keywords=keywords, like=rate)
    if plot:
        plot_clean(frame.sci, result, png_path, title=rate.name)
    return fits_path, (png_path if plot else None), result.record, time.perf_counter() - t0
