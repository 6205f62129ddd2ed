"""The three spectrograph models (OPT, CRV, IDS) as global 2D polynomials, and their file format.

All models work in the *canonical* detector frame ``(d, s)`` of
:class:`~slitwise.calib.instrument_file.InstrumentConfig` (``d`` along dispersion with
wavelength increasing, ``s`` across) and take mask coordinates ``(X, Y)`` in mm.

- **OPT** (:class:`OpticalModel`): ``(X, Y) -> (d_ref, s_ref)``, the position of the reference
  wavelength; ``d`` and ``s`` are each a full 2D polynomial in ``(X, Y)``.
- **CRV** (:class:`CurvatureModel`): trace offset across dispersion,
  ``s(delta) = s_ref + sum_k c_k(X, Y) (delta / D)^k`` for ``k = 1..K``, where ``delta = d -
  d_ref`` and ``D`` a fixed normalisation (half the detector length); every ``c_k`` is a global
  2D polynomial.
- **IDS** (:class:`DispersionModel`): ``delta(lambda) = sum_k e_k(X, Y) u^k`` for ``k = 0..K``,
  ``u = (lambda - lambda_ref) / L`` (``L`` half the wavelength range), each ``e_k`` a global 2D
  polynomial. Long slits are sampled at ``nsplit`` points along the slit when fitting, so that
  tilted or curved lines are followed by the ``(X, Y)`` dependence.

A point of a slit is addressed by ``t`` in [0, 1] across the slit length
(:meth:`~slitwise.calib.mask_file.Slit.point`).

File format: YAML (see :func:`save_model`), round-trips exactly.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import yaml
from numpy.polynomial import polynomial as P

from slitwise.calib.instrument_file import InstrumentConfig
from slitwise.calib.mask_file import Slit
from slitwise.errors import input_error
from slitwise.io.atomic import atomic_path

__all__ = [
    "Poly2D",
    "OpticalModel",
    "CurvatureModel",
    "DispersionModel",
    "SpectrographModel",
    "save_model",
    "load_model",
    "MODEL_FORMAT",
]

MODEL_FORMAT = "slitwise-spectrograph-model"
_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Poly2D:
    """``z(X, Y) = sum_ij c_ij (X / scale)^i (Y / scale)^j`` (``i <= deg_x``, ``j <= deg_y``)."""

    coeffs: np.ndarray
    scale: float = 100.0

    @property
    def degrees(self) -> tuple[int, int]:
        """``(deg_x, deg_y)``."""
        return self.coeffs.shape[0] - 1, self.coeffs.shape[1] - 1

    def __call__(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        return P.polyval2d(
            np.asarray(x, float) / self.scale, np.asarray(y, float) / self.scale, self.coeffs
        )

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        z: np.ndarray,
        degrees: tuple[int, int],
        *,
        scale: float = 100.0,
        weights: np.ndarray | None = None,
    ) -> Poly2D:
        """Least-squares fit (degrees are lowered when there are too few points)."""
        x = np.asarray(x, float).ravel() / scale
        y = np.asarray(y, float).ravel() / scale
        z = np.asarray(z, float).ravel()
        dx, dy = degrees
        # With (nearly) one distinct coordinate along an axis, that axis cannot be constrained.
        if np.ptp(x) < 1e-9:
            dx = 0
        if np.ptp(y) < 1e-9:
            dy = 0
        while (dx + 1) * (dy + 1) > z.size and (dx > 0 or dy > 0):
            if dx >= dy:
                dx -= 1
            else:
                dy -= 1
        vander = P.polyvander2d(x, y, (dx, dy))
        zz = z
        if weights is not None:
            w = np.sqrt(np.asarray(weights, float).ravel())
            vander, zz = vander * w[:, None], z * w
        coef, *_ = np.linalg.lstsq(vander, zz, rcond=None)
        return cls(coeffs=coef.reshape(dx + 1, dy + 1), scale=float(scale))

    def to_dict(self) -> dict:
        return {"scale": float(self.scale), "coeffs": self.coeffs.tolist()}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> Poly2D:
        try:
            coeffs = np.asarray(data["coeffs"], float)
            scale = float(data.get("scale", 100.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise input_error(where, f"bad 2D polynomial ({exc})") from None
        if coeffs.ndim != 2:
            raise input_error(where, "coeffs must be a 2D list")
        return cls(coeffs=coeffs, scale=scale)


@dataclasses.dataclass(frozen=True)
class OpticalModel:
    """OPT: mask ``(X, Y)`` mm -> canonical ``(d, s)`` at the reference wavelength."""

    d: Poly2D
    s: Poly2D

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.d(x, y), self.s(x, y)

    @classmethod
    def first_guess(
        cls,
        config: InstrumentConfig,
        *,
        flip_x: bool = False,
        flip_y: bool = False,
        d_ref: float | None = None,
    ) -> OpticalModel:
        """Linear model from the configuration: mask X along dispersion, Y across.

        ``d_ref`` is the dispersion pixel of the reference wavelength at the field centre
        (default the detector centre).
        """
        ppm = config.pixels_per_mm
        sx = -1.0 if flip_x else 1.0
        sy = -1.0 if flip_y else 1.0
        d0 = 0.5 * (config.n_disp - 1) if d_ref is None else d_ref
        s0 = 0.5 * (config.n_spatial - 1)
        scale = 100.0
        d = np.array([[d0, 0.0], [sx * ppm * scale, 0.0]])
        s = np.array([[s0, sy * ppm * scale], [0.0, 0.0]])
        return cls(Poly2D(d, scale), Poly2D(s, scale))


@dataclasses.dataclass(frozen=True)
class CurvatureModel:
    """CRV: ``s(delta) = s_ref + sum_{k>=1} c_k(X, Y) (delta / delta_scale)^k``."""

    coeffs: tuple[Poly2D, ...]
    delta_scale: float

    def offset(self, x: np.ndarray, y: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Trace offset across dispersion at offset ``delta`` along it."""
        u = np.asarray(delta, float) / self.delta_scale
        out = np.zeros(np.broadcast(np.asarray(x), np.asarray(y), u).shape)
        for k, c in enumerate(self.coeffs, start=1):
            out = out + c(x, y) * u**k
        return out


@dataclasses.dataclass(frozen=True)
class DispersionModel:
    """IDS: ``delta(lambda) = sum_{k>=0} e_k(X, Y) ((lambda - lambda_ref) / wave_scale)^k``."""

    coeffs: tuple[Poly2D, ...]
    reference_wavelength: float
    wave_scale: float

    def delta(self, x: np.ndarray, y: np.ndarray, wave: np.ndarray) -> np.ndarray:
        """Offset along dispersion (pixels) from the OPT reference position."""
        u = (np.asarray(wave, float) - self.reference_wavelength) / self.wave_scale
        out = np.zeros(np.broadcast(np.asarray(x), np.asarray(y), u).shape)
        for k, c in enumerate(self.coeffs):
            out = out + c(x, y) * u**k
        return out

    def wavelength(
        self, x: float, y: float, delta: np.ndarray, *, wave_range: tuple[float, float]
    ) -> np.ndarray:
        """Inverse of :meth:`delta` at one mask point, by interpolation on a fine grid."""
        grid = np.linspace(wave_range[0], wave_range[1], 1536)
        dgrid = self.delta(x, y, grid)
        if np.any(np.diff(dgrid) <= 0):
            raise input_error("IDS model", f"not monotonic at mask point ({x:.2f}, {y:.2f}) mm")
        return np.interp(delta, dgrid, grid, left=np.nan, right=np.nan)


@dataclasses.dataclass(frozen=True)
class SpectrographModel:
    """Instrument configuration plus the three models."""

    config: InstrumentConfig
    opt: OpticalModel
    crv: CurvatureModel
    ids: DispersionModel
    nsplit: int = 1
    #: Median FWHM of the arc lines (detector pixels); sets the resolving power of the
    #: rectified spectra (NaN when unknown).
    arc_fwhm: float = float("nan")

    def resolving_power(self, wave: np.ndarray) -> np.ndarray:
        """R = lambda / (arc FWHM x nominal dispersion) at ``wave`` (Angstrom); NaN if unknown."""
        fwhm_aa = self.arc_fwhm * self.config.linear_dispersion
        return np.asarray(wave, float) / fwhm_aa

    def position(
        self, x: np.ndarray, y: np.ndarray, wave: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Canonical ``(d, s)`` of mask point ``(X, Y)`` mm at wavelength ``wave`` (Angstrom)."""
        d_ref, s_ref = self.opt(x, y)
        delta = self.ids.delta(x, y, wave)
        return d_ref + delta, s_ref + self.crv.offset(x, y, delta)

    def slit_position(
        self, slit: Slit, t: np.ndarray, wave: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Canonical ``(d, s)`` of slit position ``t`` in [0, 1] at ``wave``."""
        x, y = slit.point(t)
        return self.position(x, y, wave)

    def detector_position(
        self, slit: Slit, t: np.ndarray, wave: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Detector ``(x, y)`` pixels of slit position ``t`` at ``wave``."""
        return self.config.to_detector(*self.slit_position(slit, t, wave))

    def on_detector(self, slit: Slit, *, margin: float = 0.0) -> bool:
        """Whether the slit's reference position (both ends) falls on the detector."""
        d, s = self.opt(*slit.point(np.array([0.0, 1.0])))
        return bool(
            np.all((d >= -margin) & (d <= self.config.n_disp - 1 + margin))
            and np.all((s >= -margin) & (s <= self.config.n_spatial - 1 + margin))
        )


def _config_dict(config: InstrumentConfig) -> dict:
    out = dataclasses.asdict(config)
    if out["wavelength_range"] is not None:
        out["wavelength_range"] = [float(v) for v in out["wavelength_range"]]
    return out


def save_model(model: SpectrographModel, path: str | os.PathLike) -> Path:
    """Write a spectrograph model as YAML (atomically).

    Layout::

        format: slitwise-spectrograph-model
        version: 1
        instrument: {name, pixel_scale, focal_plane_scale, nx, ny, dispersion_direction,
                     linear_dispersion, reference_wavelength, data_hdu, lamps, wavelength_range}
        nsplit: 1
        arc_fwhm: 2.9                          # optional, detector pixels
        opt: {d: {scale, coeffs}, s: {scale, coeffs}}  # coeffs[i][j]: (X/scale)^i (Y/scale)^j
        crv: {delta_scale: D, coeffs: [{scale, coeffs}, ...]}  # k = 1..K
        ids: {reference_wavelength: L0, wave_scale: L, coeffs: [{scale, coeffs}, ...]}  # k = 0..K
    """
    data = {
        "format": MODEL_FORMAT,
        "version": _VERSION,
        "instrument": _config_dict(model.config),
        "nsplit": int(model.nsplit),
        "arc_fwhm": float(model.arc_fwhm) if np.isfinite(model.arc_fwhm) else None,
        "opt": {"d": model.opt.d.to_dict(), "s": model.opt.s.to_dict()},
        "crv": {
            "delta_scale": float(model.crv.delta_scale),
            "coeffs": [c.to_dict() for c in model.crv.coeffs],
        },
        "ids": {
            "reference_wavelength": float(model.ids.reference_wavelength),
            "wave_scale": float(model.ids.wave_scale),
            "coeffs": [c.to_dict() for c in model.ids.coeffs],
        },
    }
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    return Path(path)


def load_model(path: str | os.PathLike) -> SpectrographModel:
    """Read a model written by :func:`save_model`.

    Raises
    ------
    SlitwiseInputError
        Missing file, not YAML, wrong ``format``, or a missing/malformed section (named).
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "model file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise input_error(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise input_error(path, f"not a slitwise model (expected 'format: {MODEL_FORMAT}')")
    for key in ("instrument", "opt", "crv", "ids"):
        if key not in data:
            raise input_error(f"{path}:{key}", "section missing")
    inst = dict(data["instrument"])
    if inst.get("wavelength_range") is not None:
        inst["wavelength_range"] = tuple(inst["wavelength_range"])
    try:
        config = InstrumentConfig(**inst)
    except TypeError as exc:
        raise input_error(f"{path}:instrument", str(exc)) from None
    opt = OpticalModel(
        Poly2D.from_dict(data["opt"]["d"], f"{path}:opt.d"),
        Poly2D.from_dict(data["opt"]["s"], f"{path}:opt.s"),
    )
    crv = CurvatureModel(
        coeffs=tuple(
            Poly2D.from_dict(c, f"{path}:crv.coeffs[{k}]")
            for k, c in enumerate(data["crv"]["coeffs"])
        ),
        delta_scale=float(data["crv"]["delta_scale"]),
    )
    ids = DispersionModel(
        coeffs=tuple(
            Poly2D.from_dict(c, f"{path}:ids.coeffs[{k}]")
            for k, c in enumerate(data["ids"]["coeffs"])
        ),
        reference_wavelength=float(data["ids"]["reference_wavelength"]),
        wave_scale=float(data["ids"]["wave_scale"]),
    )
    return SpectrographModel(
        config=config,
        opt=opt,
        crv=crv,
        ids=ids,
        nsplit=int(data.get("nsplit", 1)),
        arc_fwhm=float(data["arc_fwhm"]) if data.get("arc_fwhm") is not None else float("nan"),
    )
