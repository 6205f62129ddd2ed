"""Which instrument a spectrum comes from, and its resolving power R(lambda) for the fit.

A spectrum's instrument is given explicitly (``SPEC.fits@g395m``) or read from its metadata
(``GRATING`` and ``FILTER``). Configuration entries under ``instruments:`` are matched by
normalised NIRSpec disperser name (``prism-clear`` == ``PRISM/CLEAR`` == ``prism``) or, for
other instruments, by exact name.

Resolution (``resolution:`` of an instrument entry):

* ``auto`` (default): the R(lambda) the spectrum carries (e.g. an ``R`` column) when present,
  else the NIRSpec disperser model (:func:`slitwise.instruments.get_disperser`, with the
  point-source enhancement unless ``point_source: false``);
* ``spectrum`` / ``disperser``: force one of those;
* a number: constant R (generic instrument).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from slitwise.errors import SlitwiseInputError, input_error
from slitwise.instruments import ConstantResolution, disperser_key, get_disperser
from slitwise.lines.config import InstrumentConfig, LineFitConfig

__all__ = ["ResolvedInstrument", "instrument_key", "resolve_instrument"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ResolvedInstrument:
    """Instrument of one spectrum: its key, calibration parameters and R at every pixel."""

    key: str
    config: InstrumentConfig
    resolution: np.ndarray
    resolution_source: str


def _normalise(name: str) -> str:
    try:
        g, f = disperser_key(name)
        return f"{g}/{f}"
    except SlitwiseInputError:
        return str(name).strip().lower()


def instrument_key(spectrum, override: str | None = None) -> str:
    """Instrument name of a spectrum: ``override`` or GRATING/FILTER from its metadata."""
    if override:
        return _normalise(override)
    meta = spectrum.meta or {}
    header = meta.get("header", {}) or {}
    grating = meta.get("grating") or header.get("GRATING")
    filt = meta.get("filter") or header.get("FILTER")
    if not grating:
        raise input_error(
            meta.get("filename", "spectrum"),
            "no GRATING in the header; name the instrument as SPEC@INSTRUMENT",
        )
    try:
        g, f = disperser_key(str(grating), str(filt) if filt else None)
        return f"{g}/{f}"
    except SlitwiseInputError:
        return str(grating).strip().lower()


def resolve_instrument(spectrum, key: str, cfg: LineFitConfig) -> ResolvedInstrument:
    """Match a spectrum's instrument to the configuration and compute R at its pixels.

    Raises
    ------
    SlitwiseInputError
        If R cannot be determined (not NIRSpec, no R in the spectrum, no number given).
    """
    entries = {_normalise(k): v for k, v in cfg.instruments.items()}
    inst = entries.get(key)
    if inst is None:
        log.info("instrument %s has no entry under 'instruments': no calibration parameters", key)
        inst = InstrumentConfig()
    wave = spectrum.wave.to("um").value
    where = f"{spectrum.meta.get('filename', 'spectrum')} ({key})"
    mode = inst.resolution
    if not isinstance(mode, str):
        return ResolvedInstrument(
            key, inst, ConstantResolution(float(mode)).resolving_power(wave), f"constant R={mode}"
        )
    have_own = spectrum.resolution is not None and np.all(np.isfinite(spectrum.resolution))
    if mode == "spectrum" or (mode == "auto" and have_own):
        if not have_own:
            raise input_error(where, "resolution: spectrum, but the spectrum carries no R")
        return ResolvedInstrument(key, inst, np.asarray(spectrum.resolution, float), "spectrum")
    try:
        disp = get_disperser(key, point_source=inst.point_source)
    except SlitwiseInputError:
        raise input_error(
            where,
            "not a NIRSpec disperser and no R in the spectrum; give 'resolution: <R>' for "
            "this instrument",
        ) from None
    return ResolvedInstrument(
        key, inst, disp.resolving_power(wave), f"disperser {disp.name} ps={inst.point_source}"
    )
