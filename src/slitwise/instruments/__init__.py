"""Instrument models: NIRSpec dispersers, generic resolution curves and the LSF."""

from slitwise.instruments.nirspec import DISPERSERS, Disperser, disperser_key, get_disperser
from slitwise.instruments.resolution import (
    ConstantResolution,
    ResolutionModel,
    TabulatedResolution,
    gaussian_lsf_pixel_integrated,
)

__all__ = [
    "DISPERSERS",
    "Disperser",
    "disperser_key",
    "get_disperser",
    "ResolutionModel",
    "ConstantResolution",
    "TabulatedResolution",
    "gaussian_lsf_pixel_integrated",
]
