"""One-dimensional spectrum container.

A :class:`Spectrum1D` holds wavelength, flux density, 1-sigma error and a validity mask, all
with units, plus the instrumental resolving power R(lambda) when known and free-form metadata.
Flux may be f_nu (e.g. uJy) or f_lambda (e.g. 1e-20 erg/s/cm2/A); :meth:`Spectrum1D.to_fnu` and
:meth:`Spectrum1D.to_flambda` convert explicitly, never silently.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import astropy.units as u
import numpy as np

from slitwise.errors import input_error

__all__ = ["Spectrum1D", "FNU_UNIT", "FLAM_UNIT"]

#: Default f_nu unit of slitwise products (DJA convention).
FNU_UNIT = u.uJy
#: Default f_lambda unit of slitwise products.
FLAM_UNIT = u.Unit(1e-20 * u.erg / u.s / u.cm**2 / u.AA)


def _is_fnu(unit: u.UnitBase) -> bool:
    return unit.physical_type == u.Jy.physical_type


def _is_flambda(unit: u.UnitBase) -> bool:
    return unit.physical_type == FLAM_UNIT.physical_type


@dataclasses.dataclass(eq=False)
class Spectrum1D:
    """A 1D spectrum with units.

    Parameters
    ----------
    wave : Quantity
        Wavelength of each pixel centre (any length unit), strictly increasing.
    flux : Quantity
        Flux density, f_nu or f_lambda.
    err : Quantity
        1-sigma uncertainty, same unit as ``flux``.
    valid : ndarray of bool, optional
        True where the pixel may be used. Default: finite flux and positive finite error.
    resolution : ndarray, optional
        Resolving power R = lambda / FWHM at each pixel, when known.
    meta : dict, optional
        Metadata (source name, grating, filter, redshift, file, ...).
    """

    wave: u.Quantity
    flux: u.Quantity
    err: u.Quantity
    valid: np.ndarray | None = None
    resolution: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.meta.get("filename", "Spectrum1D")
        for attr in ("wave", "flux", "err"):
            value = getattr(self, attr)
            if not isinstance(value, u.Quantity):
                raise input_error(name, f"'{attr}' must be an astropy Quantity with units")
        if self.wave.unit.physical_type != "length":
            raise input_error(name, f"wavelength unit '{self.wave.unit}' is not a length")
        if not (_is_fnu(self.flux.unit) or _is_flambda(self.flux.unit)):
            raise input_error(
                name, f"flux unit '{self.flux.unit}' is neither f_nu (Jy) nor f_lambda"
            )
        try:
            self.err = self.err.to(self.flux.unit)
        except u.UnitConversionError as exc:
            raise input_error(name, f"error unit '{self.err.unit}' differs from flux") from exc
        n = self.wave.size
        for attr in ("flux", "err"):
            if getattr(self, attr).shape != (n,):
                raise input_error(
                    name, f"'{attr}' has shape {getattr(self, attr).shape}, expected ({n},)"
                )
        finite = np.isfinite(self.flux.value) & np.isfinite(self.err.value) & (self.err.value > 0)
        if self.valid is None:
            self.valid = finite
        else:
            self.valid = np.asarray(self.valid, dtype=bool) & finite
        if self.resolution is not None:
            self.resolution = np.asarray(self.resolution, dtype=float)
            if self.resolution.shape != (n,):
                raise input_error(name, "'resolution' must have one value per pixel")

    # -- convenience -------------------------------------------------------------------
    @property
    def npix(self) -> int:
        """Number of pixels."""
        return int(self.wave.size)

    @property
    def is_fnu(self) -> bool:
        """True when the flux is a frequency flux density (f_nu)."""
        return _is_fnu(self.flux.unit)

    def _with_flux_unit(self, unit: u.UnitBase) -> Spectrum1D:
        eq = u.spectral_density(self.wave)
        return dataclasses.replace(
            self,
            flux=self.flux.to(unit, equivalencies=eq),
            err=self.err.to(unit, equivalencies=eq),
            meta=dict(self.meta),
        )

    def to_fnu(self, unit: u.UnitBase = FNU_UNIT) -> Spectrum1D:
        """Return a copy with flux and error in the f_nu ``unit`` (default uJy)."""
        return self._with_flux_unit(unit)

    def to_flambda(self, unit: u.UnitBase = FLAM_UNIT) -> Spectrum1D:
        """Return a copy with flux and error in the f_lambda ``unit``."""
        return self._with_flux_unit(unit)

    def pixel_edges(self) -> u.Quantity:
        """Pixel edges from the midpoints between centres (extrapolated at both ends)."""
        w = self.wave.value
        mid = 0.5 * (w[1:] + w[:-1])
        edges = np.concatenate([[2 * w[0] - mid[0]], mid, [2 * w[-1] - mid[-1]]])
        return edges * self.wave.unit

    # -- specutils -----------------------------------------------------------------------
    def to_specutils(self):
        """Convert to a specutils ``Spectrum`` (specutils 2.x).

        The error becomes a ``StdDevUncertainty``; invalid pixels become ``mask=True``;
        R(lambda) is kept in ``meta['resolution']``.
        """
        from astropy.nddata import StdDevUncertainty
        from specutils import Spectrum

        meta = dict(self.meta)
        if self.resolution is not None:
            meta["resolution"] = self.resolution.copy()
        return Spectrum(
            spectral_axis=self.wave,
            flux=self.flux,
            uncertainty=StdDevUncertainty(self.err.value),
            mask=~self.valid,
            meta=meta,
        )

    @classmethod
    def from_specutils(cls, spectrum) -> Spectrum1D:
        """Build from a specutils ``Spectrum``; its uncertainty must be convertible to 1-sigma."""
        from astropy.nddata import StdDevUncertainty

        meta = dict(spectrum.meta or {})
        unc = spectrum.uncertainty
        if unc is None:
            raise input_error("specutils Spectrum", "has no uncertainty; an error is required")
        if not isinstance(unc, StdDevUncertainty):
            unc = unc.represent_as(StdDevUncertainty)
        err = np.asarray(unc.array, dtype=float) * spectrum.flux.unit
        valid = None if spectrum.mask is None else ~np.asarray(spectrum.mask, dtype=bool)
        resolution = meta.pop("resolution", None)
        return cls(
            wave=spectrum.spectral_axis.to(u.um),
            flux=spectrum.flux,
            err=err,
            valid=valid,
            resolution=resolution,
            meta=meta,
        )
