"""Instrument configuration files (INI) for ground-based spectrographs.

Format (documented in ``docs/ground_calibration.md``)::

    [instrument]
    name = MODS1R
    pixel_scale = 0.123            ; arcsec per pixel
    focal_plane_scale = 0.598      ; arcsec per mm in the mask (focal) plane
    detector_size = 3088 8192      ; NAXIS1 NAXIS2 (x, y) in pixels
    dispersion_direction = BU      ; LR, RL, BU or UB (direction of increasing wavelength)
    linear_dispersion = 0.85       ; Angstrom per pixel (approximate)
    reference_wavelength = 7635.1  ; Angstrom, a bright arc line near the middle
    data_hdu = 0                   ; HDU index (or name) of the image in the FITS frames

    [optional]
    lamps = ArI,NeI,KrI,XeI       ; lamp catalogues for the arc
    wavelength_range = 5000 10000  ; Angstrom

Unknown keys are errors; every error names the file, section and key.

Detector frame vs *canonical* frame: the models work in a frame ``(d, s)`` where ``d`` runs
along dispersion with wavelength increasing and ``s`` across it. ``LR``: ``d = x, s = y``;
``RL``: ``d = nx - 1 - x, s = y``; ``BU``: ``d = y, s = x``; ``UB``: ``d = ny - 1 - y, s = x``
(0-based pixel centres; ``x`` is the FITS NAXIS1 axis).
"""

from __future__ import annotations

import configparser
import dataclasses
import os
from pathlib import Path

import numpy as np

from slitwise.errors import input_error
from slitwise.io.atomic import atomic_path

__all__ = ["InstrumentConfig", "read_instrument", "write_instrument", "DISPERSION_DIRECTIONS"]

DISPERSION_DIRECTIONS = ("LR", "RL", "BU", "UB")

_REQUIRED = {
    "name": str,
    "pixel_scale": float,
    "focal_plane_scale": float,
    "detector_size": "pair",
    "dispersion_direction": str,
    "linear_dispersion": float,
    "reference_wavelength": float,
}
_OPTIONAL_INSTRUMENT = {"data_hdu": "hdu"}
_OPTIONAL = {"lamps": str, "wavelength_range": "range"}


@dataclasses.dataclass(frozen=True)
class InstrumentConfig:
    """Instrument configuration.

    Attributes
    ----------
    name : str
    pixel_scale : float
        Arcsec per detector pixel.
    focal_plane_scale : float
        Arcsec per mm in the mask plane.
    nx, ny : int
        Detector size (FITS NAXIS1, NAXIS2).
    dispersion_direction : str
        ``LR``, ``RL``, ``BU`` or ``UB``.
    linear_dispersion : float
        Approximate dispersion, Angstrom per pixel (positive).
    reference_wavelength : float
        Angstrom.
    data_hdu : int or str
        HDU holding the image.
    lamps : str
        Comma-separated lamp catalogues ('' if not given).
    wavelength_range : tuple of float or None
        Angstrom.
    """

    name: str
    pixel_scale: float
    focal_plane_scale: float
    nx: int
    ny: int
    dispersion_direction: str
    linear_dispersion: float
    reference_wavelength: float
    data_hdu: int | str = 0
    lamps: str = ""
    wavelength_range: tuple[float, float] | None = None

    @property
    def pixels_per_mm(self) -> float:
        """Nominal detector pixels per mask mm."""
        return self.focal_plane_scale / self.pixel_scale

    @property
    def n_disp(self) -> int:
        """Detector length along dispersion."""
        return self.nx if self.dispersion_direction in ("LR", "RL") else self.ny

    @property
    def n_spatial(self) -> int:
        """Detector length across dispersion."""
        return self.ny if self.dispersion_direction in ("LR", "RL") else self.nx

    def to_canonical(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detector ``(x, y)`` pixels -> canonical ``(d, s)``."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        return {
            "LR": lambda: (x, y),
            "RL": lambda: (self.nx - 1 - x, y),
            "BU": lambda: (y, x),
            "UB": lambda: (self.ny - 1 - y, x),
        }[self.dispersion_direction]()

    def to_detector(self, d: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canonical ``(d, s)`` -> detector ``(x, y)`` pixels."""
        d, s = np.asarray(d, float), np.asarray(s, float)
        return {
            "LR": lambda: (d, s),
            "RL": lambda: (self.nx - 1 - d, s),
            "BU": lambda: (s, d),
            "UB": lambda: (s, self.ny - 1 - d),
        }[self.dispersion_direction]()

    def image_to_canonical(self, image: np.ndarray) -> np.ndarray:
        """Reorient a detector image ``(ny, nx)`` to canonical ``(n_spatial, n_disp)``."""
        image = np.asarray(image)
        if image.shape != (self.ny, self.nx):
            raise input_error(
                "image", f"shape {image.shape} does not match detector ({self.ny}, {self.nx})"
            )
        return {
            "LR": lambda: image,
            "RL": lambda: image[:, ::-1],
            "BU": lambda: image.T,
            "UB": lambda: image[::-1, :].T,
        }[self.dispersion_direction]()

    def canonical_to_image(self, image: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`image_to_canonical`."""
        image = np.asarray(image)
        return {
            "LR": lambda: image,
            "RL": lambda: image[:, ::-1],
            "BU": lambda: image.T,
            "UB": lambda: image.T[::-1, :],
        }[self.dispersion_direction]()


def _parse(value: str, kind, where: str):
    value = value.split(";")[0].split("#")[0].strip()
    try:
        if kind is str:
            return value
        if kind is float:
            out = float(value)
            if not np.isfinite(out):
                raise ValueError("not finite")
            return out
        if kind == "pair":
            a, b = value.split()
            return int(a), int(b)
        if kind == "range":
            a, b = value.split()
            return float(a), float(b)
        if kind == "hdu":
            return int(value) if value.lstrip("-").isdigit() else value
    except ValueError:
        expected = {
            float: "a number",
            "pair": "two integers 'NX NY'",
            "range": "two numbers 'MIN MAX'",
        }.get(kind, "a value")
        raise input_error(where, f"expected {expected}, got '{value}'") from None
    raise AssertionError(kind)  # pragma: no cover


def read_instrument(path: str | os.PathLike) -> InstrumentConfig:
    """Read an instrument configuration file.

    Raises
    ------
    SlitwiseInputError
        Missing file, section or key; unknown key; unparsable or out-of-range value (named by
        ``file[section].key``).
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "instrument configuration file not found")
    parser = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise input_error(path, f"not a valid INI file ({str(exc).splitlines()[0]})") from None
    if "instrument" not in parser:
        raise input_error(path, "missing section [instrument]")
    for section in parser.sections():
        if section not in ("instrument", "optional"):
            raise input_error(
                f"{path}[{section}]",
                "unknown section; expected [instrument] and optionally [optional]",
            )
    sec = parser["instrument"]
    values: dict = {}
    allowed = set(_REQUIRED) | set(_OPTIONAL_INSTRUMENT)
    for key in sec:
        if key not in allowed:
            raise input_error(
                f"{path}[instrument].{key}",
                f"unknown key; expected one of {', '.join(sorted(allowed))}",
            )
    for key, kind in {**_REQUIRED, **_OPTIONAL_INSTRUMENT}.items():
        where = f"{path}[instrument].{key}"
        if key not in sec:
            if key in _REQUIRED:
                raise input_error(where, "required key missing")
            continue
        values[key] = _parse(sec[key], kind, where)
    if "optional" in parser:
        opt = parser["optional"]
        for key in opt:
            if key not in _OPTIONAL:
                raise input_error(
                    f"{path}[optional].{key}", "unknown key; expected lamps or wavelength_range"
                )
            values[key] = _parse(opt[key], _OPTIONAL[key], f"{path}[optional].{key}")
    direction = values["dispersion_direction"].upper()
    if direction not in DISPERSION_DIRECTIONS:
        raise input_error(
            f"{path}[instrument].dispersion_direction",
            f"expected one of LR, RL, BU, UB, got '{values['dispersion_direction']}'",
        )
    for key in ("pixel_scale", "focal_plane_scale", "linear_dispersion", "reference_wavelength"):
        if values[key] <= 0:
            raise input_error(f"{path}[instrument].{key}", f"must be positive, got {values[key]}")
    nx, ny = values.pop("detector_size")
    if nx <= 0 or ny <= 0:
        raise input_error(f"{path}[instrument].detector_size", f"must be positive, got {nx} {ny}")
    values["dispersion_direction"] = direction
    return InstrumentConfig(nx=nx, ny=ny, **values)


def write_instrument(config: InstrumentConfig, path: str | os.PathLike) -> Path:
    """Write an instrument configuration file (atomically)."""
    lines = [
        "[instrument]",
        f"name = {config.name}",
        f"pixel_scale = {config.pixel_scale!r}  ; arcsec per pixel",
        f"focal_plane_scale = {config.focal_plane_scale!r}  ; arcsec per mm",
        f"detector_size = {config.nx} {config.ny}  ; NAXIS1 NAXIS2",
        f"dispersion_direction = {config.dispersion_direction}",
        f"linear_dispersion = {config.linear_dispersion!r}  ; Angstrom per pixel",
        f"reference_wavelength = {config.reference_wavelength!r}  ; Angstrom",
        f"data_hdu = {config.data_hdu}",
    ]
    if config.lamps or config.wavelength_range:
        lines.append("")
        lines.append("[optional]")
        if config.lamps:
            lines.append(f"lamps = {config.lamps}")
        if config.wavelength_range:
            lines.append(
                f"wavelength_range = {config.wavelength_range[0]!r} {config.wavelength_range[1]!r}"
            )
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return Path(path)
