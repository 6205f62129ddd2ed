"""Detector-level cleaning of full-frame count-rate images.

:func:`clean_frame` runs the iterative model (picture-frame pedestal, smooth 2-D background,
column and row 1/f offsets; traces masked following their curvature), flags clustered
outliers and rescales the read-noise variance. Modules: ``frames`` (read/write rate files),
``traces`` (trace tables and masks, detection), ``pedestal``, ``background2d``, ``onef``,
``variance``, ``outliers``, ``clean`` (the loop), ``plot`` (diagnostic figure).
"""

from slitwise.detector.clean import (
    COMPONENTS,
    CleanRecord,
    CleanResult,
    build_source_mask,
    clean_frame,
    naive_column_clean,
)
from slitwise.detector.frames import RateFrame, read_rate_frame, write_rate_frame
from slitwise.detector.pedestal import picture_frame_template, read_pedestal_template
from slitwise.detector.plot import plot_clean
from slitwise.detector.traces import (
    FIXED_SLIT_ROWS,
    TRACE_COLUMNS,
    detect_trace_mask,
    make_trace_table,
    read_trace_table,
    trace_mask,
    write_trace_table,
)

__all__ = [
    "clean_frame",
    "build_source_mask",
    "naive_column_clean",
    "CleanResult",
    "CleanRecord",
    "COMPONENTS",
    "RateFrame",
    "read_rate_frame",
    "write_rate_frame",
    "plot_clean",
    "picture_frame_template",
    "read_pedestal_template",
    "FIXED_SLIT_ROWS",
    "TRACE_COLUMNS",
    "make_trace_table",
    "read_trace_table",
    "write_trace_table",
    "trace_mask",
    "detect_trace_mask",
]
