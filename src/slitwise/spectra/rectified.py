"""Rectified two-dimensional spectrum container.

A :class:`RectifiedSpectrum2D` is a 2D spectrum on a regular grid: one wavelength per column
and one cross-dispersion coordinate per row. It is what rectification produces from slitlet
exposures and what a JWST ``s2d`` product holds.

Axis convention: arrays are ``(ny, nx)``; ``wave`` has length ``nx`` (micron), ``y`` has length
``ny`` (cross-dispersion coordinate in pixels relative to the nominal source position unless
``meta['y_unit']`` says otherwise).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from slitwise.errors import input_error

__all__ = ["RectifiedSpectrum2D"]


@dataclasses.dataclass(eq=False)
class RectifiedSpectrum2D:
    """A rectified 2D spectrum.

    Parameters
    ----------
    sci : ndarray, shape (ny, nx)
        Surface brightness or flux per pixel, in ``bunit``.
    var : ndarray, shape (ny, nx)
        Variance in ``bunit**2``; non-positive or non-finite means unusable.
    wave : ndarray, shape (nx,)
        Wavelength of each column in micron.
    y : ndarray, shape (ny,)
        Cross-dispersion coordinate of each row.
    wht : ndarray, shape (ny, nx), optional
        Weight map (e.g. inverse variance or exposure weight); defaults to 1/var.
    bunit : str
        Unit of ``sci``.
    to_fnu : ndarray, shape (nx,) or float
        Multiply a sum over rows of ``sci`` by this to get f_nu in uJy (e.g. pixel solid angle
        times 1e12 for MJy/sr). 1.0 when ``sci`` is already uJy per pixel.
    meta : dict
        Source name, grating, filter, file, ...
    """

    sci: np.ndarray
    var: np.ndarray
    wave: np.ndarray
    y: np.ndarray
    wht: np.ndarray | None = None
    bunit: str = ""
    to_fnu: np.ndarray | float = 1.0
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.meta.get("filename", "RectifiedSpectrum2D")
        self.sci = np.asarray(self.sci, dtype=float)
        self.var = np.asarray(self.var, dtype=float)
        self.wave = np.asarray(self.wave, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        if self.sci.ndim != 2:
            raise input_error(where, f"SCI must be 2D, got shape {self.sci.shape}")
        ny, nx = self.sci.shape
        if self.var.shape != self.sci.shape:
            raise input_error(where, f"variance shape {self.var.shape} != SCI {self.sci.shape}")
        if self.wave.shape != (nx,):
            raise input_error(where, f"wavelength must have {nx} values, got {self.wave.shape}")
        if self.y.shape != (ny,):
            raise input_error(where, f"y must have {ny} values, got {self.y.shape}")
        if self.wht is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.wht = np.where(self.var > 0, 1.0 / self.var, 0.0)
        else:
            self.wht = np.asarray(self.wht, dtype=float)

    @property
    def shape(self) -> tuple[int, int]:
        return self.sci.shape

    @property
    def valid(self) -> np.ndarray:
        """Finite data with positive finite variance."""
        return np.isfinite(self.sci) & np.isfinite(self.var) & (self.var > 0)
