"""Forward models with known truth: simulated NIRSpec MSA programs.

Entry points: :func:`simulate_program` writes nodded slitlet cut-outs (the layout
:func:`slitwise.io.read_slitlet` reads) plus truth tables; :func:`true_spectrum` gives the true
f_nu of a source on any grid; :func:`true_pathloss` the fraction of a source's light passing
its shutter; :func:`read_truth_exposure` the noiseless images and trace of one cut-out.
Modules: ``sources`` (galaxies and spectra), ``lines`` (rest wavelengths), ``geometry``
(slitlet on the detector, nods), ``slitpsf`` (profile, path loss), ``photometry`` (sky,
throughput, MJy/sr per e-/s), ``noise`` (noise and defects), ``exposure`` (one cut-out),
``sidecar`` (per-exposure truth files), ``truth`` (truth tables), ``program`` (orchestration).
"""

from slitwise.simulate.exposure import TruthExposure
from slitwise.simulate.lines import LINES
from slitwise.simulate.program import (
    DEFAULT_GRATINGS,
    SimulatedProgram,
    cutout_name,
    simulate_program,
)
from slitwise.simulate.sidecar import read_truth_exposure, truth_path
from slitwise.simulate.slitpsf import shutter_transmission as true_pathloss
from slitwise.simulate.sources import SourceModel, draw_source, true_spectrum
from slitwise.simulate.truth import read_truth, source_from_row

__all__ = [
    "simulate_program",
    "SimulatedProgram",
    "DEFAULT_GRATINGS",
    "cutout_name",
    "true_spectrum",
    "true_pathloss",
    "read_truth",
    "read_truth_exposure",
    "truth_path",
    "TruthExposure",
    "SourceModel",
    "draw_source",
    "source_from_row",
    "LINES",
]
