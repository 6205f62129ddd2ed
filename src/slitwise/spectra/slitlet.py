"""Two-dimensional slitlet exposure container.

A :class:`SlitletExposure` is one exposure of one MSA slitlet (or one ground-based slit) as a
cut-out on the detector grid, before any resampling: the science array, its variance components,
the data-quality bits, the wavelength of every pixel and the cross-dispersion slit coordinate,
plus the observation facts the downstream stages need (source, nod position, exposure time,
disperser, detector).

Axis convention: arrays are ``(ny, nx)`` with wavelength increasing along ``x`` (axis 1).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from slitwise.errors import input_error

__all__ = ["SlitletExposure", "DQ_DO_NOT_USE"]

#: JWST DQ bit 0: the pipeline's "do not use" flag; slitwise uses the same meaning.
DQ_DO_NOT_USE = 1


@dataclasses.dataclass(eq=False)
class SlitletExposure:
    """One exposure of one slitlet, unrectified.

    Parameters
    ----------
    sci : ndarray, shape (ny, nx)
        Science data in ``bunit`` (MJy/sr for JWST ``cal`` products, DN/s or e-/s elsewhere).
    var_poisson, var_rnoise, var_flat : ndarray, shape (ny, nx)
        Variance components in ``bunit**2``. ``var_flat`` may be zeros.
    dq : ndarray of uint32, shape (ny, nx)
        Data-quality bits (JWST convention; bit 0 = do not use).
    wave : ndarray, shape (ny, nx)
        Wavelength of each pixel in micron; NaN outside the illuminated slit.
    yslit : ndarray, shape (ny, nx) or None
        Cross-dispersion slit coordinate of each pixel in shutter pitches relative to the
        centre of the source's shutter (JWST ``slit_frame`` y); None when not known.
    source_id : int
        Source identifier in the MSA catalogue.
    source_name : str
        Source name (e.g. ``"1345_933"``).
    grating, filter : str
        Disperser, upper case (``"PRISM"``, ``"CLEAR"``).
    detector : str
        ``"NRS1"``, ``"NRS2"`` or a ground detector name.
    exptime : float
        Effective exposure time in seconds.
    nod_position : int
        Index of this exposure within the nod pattern (1-based, JWST ``EXPOSURE``).
    n_nods : int
        Number of positions in the nod pattern (2, 3 or 5).
    shutter_state : str
        Open/closed pattern of the slitlet's shutters (``"11x"``; ``x`` marks the source shutter,
        ``0`` a closed one).
    source_xpos, source_ypos : float
        Intra-shutter source position (JWST ``SRCXPOS``/``SRCYPOS``, shutter units, -0.5..0.5).
    slitlet_id : int
        Slitlet number in the MSA configuration.
    bunit : str
        Unit of ``sci``.
    pathloss_ps, pathloss_un : ndarray or None
        Path-loss corrections already applied by the pipeline (point source / uniform).
    meta : dict
        Anything else (original header cards, file name, ...).
    """

    sci: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    var_flat: np.ndarray
    dq: np.ndarray
    wave: np.ndarray
    yslit: np.ndarray | None = None
    source_id: int = 0
    source_name: str = ""
    grating: str = ""
    filter: str = ""
    detector: str = ""
    exptime: float = 0.0
    nod_position: int = 1
    n_nods: int = 1
    shutter_state: str = ""
    source_xpos: float = 0.0
    source_ypos: float = 0.0
    slitlet_id: int = 0
    bunit: str = ""
    pathloss_ps: np.ndarray | None = None
    pathloss_un: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.meta.get("filename", "SlitletExposure")
        self.sci = np.asarray(self.sci, dtype=float)
        if self.sci.ndim != 2:
            raise input_error(where, f"SCI must be 2D, got shape {self.sci.shape}")
        shape = self.sci.shape
        for name in ("var_poisson", "var_rnoise", "var_flat", "wave", "dq"):
            arr = getattr(self, name)
            if arr is None:
                raise input_error(where, f"missing required array '{name}'")
            arr = np.asarray(arr)
            if arr.shape != shape:
                raise input_error(where, f"'{name}' has shape {arr.shape}, SCI has {shape}")
            setattr(self, name, arr.astype(np.uint32) if name == "dq" else arr.astype(float))
        for name in ("yslit", "pathloss_ps", "pathloss_un"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.asarray(arr, dtype=float)
                if arr.shape != shape:
                    raise input_error(where, f"'{name}' has shape {arr.shape}, SCI has {shape}")
                setattr(self, name, arr)
        self.grating = self.grating.upper()
        self.filter = self.filter.upper()

    @property
    def shape(self) -> tuple[int, int]:
        """Array shape ``(ny, nx)``."""
        return self.sci.shape

    @property
    def var(self) -> np.ndarray:
        """Total variance (sum of the components)."""
        return self.var_poisson + self.var_rnoise + self.var_flat

    @property
    def valid(self) -> np.ndarray:
        """Pixels that may be used: finite data, wavelength and variance, DQ bit 0 unset."""
        return (
            np.isfinite(self.sci)
            & np.isfinite(self.wave)
            & np.isfinite(self.var)
            & (self.var > 0)
            & ((self.dq & DQ_DO_NOT_USE) == 0)
        )

    @property
    def disperser(self) -> str:
        """``GRATING/FILTER`` (e.g. ``PRISM/CLEAR``)."""
        return f"{self.grating}/{self.filter}"
