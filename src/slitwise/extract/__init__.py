"""From slitlet exposures to 1D spectra: trace and profile fitting, optimal and boxcar
extraction, path loss, every source in the slitlet.

Library entry points:

* :func:`extract_source` — cut-outs of one slitlet (any dispersers) to one
  :class:`~slitwise.io.spec_product.SpecProduct` per source and disperser;
* :func:`extract_group` — one nod group, with every intermediate result;
* :func:`optimal_extract` — Horne extraction of a rectified 2D (ours or a JWST s2d);
* :func:`horne_solve`, :func:`boxcar_pixels`, :func:`boxcar_extract`,
  :func:`pathloss_correction`, :func:`fit_trace_profile` — the pieces.

Stage wrappers (file I/O) are in :mod:`slitwise.extract.stage`.
"""

from slitwise.extract.boxcar import aperture_fraction, boxcar_extract, boxcar_pixels
from slitwise.extract.optimal import (
    HorneResult,
    fit_rectified_profile,
    horne_solve,
    optimal_extract,
)
from slitwise.extract.pathloss import pathloss_correction, shutter_fraction
from slitwise.extract.products import ExtractedProduct, extract_source, group_exposures
from slitwise.extract.profile import (
    TraceProfile,
    fit_trace_profile,
    profile_values,
    psf_sigma_pixels,
)
from slitwise.extract.rectify import rectify, wavelength_grid
from slitwise.extract.source import ExtractOptions, GroupExtraction, SourceResult, extract_group

__all__ = [
    "extract_source",
    "extract_group",
    "ExtractOptions",
    "ExtractedProduct",
    "GroupExtraction",
    "SourceResult",
    "group_exposures",
    "optimal_extract",
    "fit_rectified_profile",
    "horne_solve",
    "HorneResult",
    "boxcar_pixels",
    "boxcar_extract",
    "aperture_fraction",
    "pathloss_correction",
    "shutter_fraction",
    "TraceProfile",
    "fit_trace_profile",
    "profile_values",
    "psf_sigma_pixels",
    "rectify",
    "wavelength_grid",
]
