"""Ground-based MOS and long-slit calibration.

The three models of a spectrograph (SpectraPy's design): the optical model (OPT, mask
millimetres to detector pixels at a reference wavelength), the curvature model (CRV, trace
offset across dispersion) and the inverse dispersion solution (IDS, wavelength to pixel along
the trace); readers and writers of instrument configuration and mask description files;
automatic arc-line identification and 1D wavelength solutions; rectification of slits onto
(wavelength, slit position).

Modules: :mod:`~slitwise.calib.linelists` (lamp catalogues), :mod:`~slitwise.calib.linedetect`
(line detection), :mod:`~slitwise.calib.arcid` (pattern matching), :mod:`~slitwise.calib.wavefit`
(robust polynomial fits), :mod:`~slitwise.calib.wavecal` (1D solutions and quality flags),
:mod:`~slitwise.calib.instrument_file`, :mod:`~slitwise.calib.mask_file`,
:mod:`~slitwise.calib.models`, :mod:`~slitwise.calib.fit_opt`, :mod:`~slitwise.calib.fit_crv`,
:mod:`~slitwise.calib.fit_ids`, :mod:`~slitwise.calib.rectify`.
"""

from slitwise.calib.linelists import available_lamps, load_line_list
from slitwise.calib.wavecal import (
    PixelFlag,
    WavelengthSolution,
    WaveQuality,
    read_solution,
    solve_arc,
    write_solution,
)

__all__ = [
    "available_lamps",
    "load_line_list",
    "solve_arc",
    "WavelengthSolution",
    "WaveQuality",
    "PixelFlag",
    "read_solution",
    "write_solution",
]
