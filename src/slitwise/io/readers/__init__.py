"""Readers for foreign spectrum formats: DJA/msaexp, JWST pipeline products, generic tables.

Each reader returns slitwise containers (:class:`~slitwise.spectra.Spectrum1D`,
:class:`~slitwise.spectra.RectifiedSpectrum2D`) or astropy Tables, and raises
:class:`~slitwise.errors.SlitwiseInputError` naming file, HDU and column on bad input.
"""

from slitwise.io.readers.detect import ACCEPTED_LAYOUTS, detect_format, read_spectrum
from slitwise.io.readers.dja import dja_layout, read_dja_spec, read_dja_spec2d
from slitwise.io.readers.generic import read_eso_phase3, read_table_spectrum
from slitwise.io.readers.jwst import (
    MsaMetafile,
    msa_shutter_state,
    msa_source_shutters,
    read_msa_metafile,
    read_s2d,
    read_x1d,
)

__all__ = [
    "ACCEPTED_LAYOUTS",
    "detect_format",
    "read_spectrum",
    "dja_layout",
    "read_dja_spec",
    "read_dja_spec2d",
    "read_eso_phase3",
    "read_table_spectrum",
    "MsaMetafile",
    "msa_shutter_state",
    "msa_source_shutters",
    "read_msa_metafile",
    "read_s2d",
    "read_x1d",
]
