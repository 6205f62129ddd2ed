"""Recognise the layout of a spectrum file and dispatch to its reader.

Layouts, tried in this order:

``slitwise``
    Our own ``spec.fits`` (PRIMARY ``ORIGIN = 'slitwise'`` and PRODTYPE ``spec`` or a SPEC1D
    HDU), read by :func:`slitwise.io.spec_product.read_spec`.
``dja``
    DJA / msaexp ``spec.fits`` (SPEC1D table with wave/flux/err and msaexp keywords).
``jwst-x1d``
    JWST ``x1d`` (EXTRACT1D tables).
``eso-phase3``
    ESO Phase-3 1D spectrum (PRODCATG SCIENCE.SPECTRUM / PHASE3SPECTRA table).
``table``
    Any other FITS binary table, or an ``.ecsv`` file, with wavelength/flux/error columns.
"""

from __future__ import annotations

import os
from pathlib import Path

from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.fitsutil import open_fits
from slitwise.io.readers.dja import is_dja_spec, read_dja_spec
from slitwise.io.readers.generic import (
    ERR_COLUMNS,
    FLUX_COLUMNS,
    WAVE_COLUMNS,
    is_eso_phase3,
    read_eso_phase3,
    read_table_spectrum,
)
from slitwise.io.readers.jwst import read_x1d
from slitwise.spectra import Spectrum1D

__all__ = ["detect_format", "read_spectrum", "ACCEPTED_LAYOUTS"]

ACCEPTED_LAYOUTS = (
    "slitwise spec.fits (PRIMARY ORIGIN='slitwise')",
    "DJA/msaexp spec.fits (SPEC1D wave/flux/err)",
    "JWST x1d (EXTRACT1D)",
    "ESO Phase-3 spectrum (PHASE3SPECTRA)",
    "FITS or ECSV table with wavelength/flux/error columns",
)


def _has_spectrum_columns(hdu: fits.FitsHDU) -> bool:
    if not isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
        return False
    cols = {c.lower() for c in hdu.columns.names}
    return (
        bool(cols & set(WAVE_COLUMNS))
        and bool(cols & set(FLUX_COLUMNS))
        and bool(cols & set(ERR_COLUMNS))
    )


def _unknown(path: str, found: str) -> Exception:
    return input_error(
        path, f"unknown spectrum layout ({found}); accepted: " + "; ".join(ACCEPTED_LAYOUTS)
    )


def detect_format(path: str | os.PathLike) -> str:
    """Return the layout name of a spectrum file (see the module docstring).

    Raises
    ------
    SlitwiseInputError
        Not FITS/ECSV, or no known layout; the message lists the accepted layouts.
    """
    path = str(path)
    if Path(path).name.lower().endswith(".ecsv"):
        if not os.path.exists(path):
            raise input_error(path, "file not found")
        return "table"
    with open_fits(path) as hdul:
        prim = hdul[0].header
        names = [h.name for h in hdul]
        if str(prim.get("ORIGIN", "")).strip().lower() == "slitwise":
            # our slitlet cut-outs carry ORIGIN too: only spec products are 1D spectra
            if str(prim.get("PRODTYPE", "")).strip().lower() == "spec" or "SPEC1D" in names:
                return "slitwise"
            raise _unknown(path, f"a slitwise product of type '{prim.get('PRODTYPE', '?')}'")
        if is_dja_spec(hdul):
            return "dja"
        if "EXTRACT1D" in names:
            return "jwst-x1d"
        if is_eso_phase3(hdul):
            return "eso-phase3"
        if any(_has_spectrum_columns(h) for h in hdul[1:]):
            return "table"
        found = "HDUs " + ", ".join(names)
    raise _unknown(path, found)


def _read_slitwise_spec(path: str) -> Spectrum1D:
    """Our own spec.fits, via the product module (imported lazily: it imports io.readers)."""
    try:
        from slitwise.io.spec_product import read_spec
    except ImportError:
        try:
            from slitwise.io.products import read_spec
        except ImportError as exc:
            raise input_error(path, "the slitwise spec.fits reader is not installed") from exc
    result = read_spec(path)
    return getattr(result, "spectrum", result)


def read_spectrum(path: str | os.PathLike) -> Spectrum1D:
    """Read a local spectrum file of any accepted layout into a :class:`Spectrum1D`."""
    path = str(path)
    layout = detect_format(path)
    if layout == "slitwise":
        return _read_slitwise_spec(path)
    if layout == "dja":
        return read_dja_spec(path)
    if layout == "jwst-x1d":
        return read_x1d(path)
    if layout == "eso-phase3":
        return read_eso_phase3(path)
    return read_table_spectrum(path)
