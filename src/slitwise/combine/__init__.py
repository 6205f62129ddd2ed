"""Combination of 1D spectra: flux-conserving resampling, weighting and sigma clipping."""

from slitwise.combine.combine import combine_arrays, combine_spectra
from slitwise.combine.resample import bin_edges, resample_flux

__all__ = ["combine_spectra", "combine_arrays", "resample_flux", "bin_edges"]
