"""Spectrum containers: 1D spectra, 2D slitlet exposures and rectified 2D spectra."""

from slitwise.spectra.rectified import RectifiedSpectrum2D
from slitwise.spectra.slitlet import DQ_DO_NOT_USE, SlitletExposure
from slitwise.spectra.spectrum1d import FLAM_UNIT, FNU_UNIT, Spectrum1D

__all__ = [
    "Spectrum1D",
    "SlitletExposure",
    "RectifiedSpectrum2D",
    "FNU_UNIT",
    "FLAM_UNIT",
    "DQ_DO_NOT_USE",
]
