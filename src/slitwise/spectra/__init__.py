"""Spectrum containers: 1D spectra and 2D slitlet exposures."""

from slitwise.spectra.slitlet import DQ_DO_NOT_USE, SlitletExposure
from slitwise.spectra.spectrum1d import FLAM_UNIT, FNU_UNIT, Spectrum1D

__all__ = ["Spectrum1D", "SlitletExposure", "FNU_UNIT", "FLAM_UNIT", "DQ_DO_NOT_USE"]
