"""JWST/NIRSpec disperser model: wavelength ranges, dispersion and resolving power.

Resolving power and dispersion come from the STScI JDox dispersion tables shipped in
``slitwise/instruments/data/nirspec_disp/`` (see the PROVENANCE.md there). The tabulated R is
for a source that uniformly fills the 0.2" shutter. A compact source under-fills the shutter,
so its line-spread function is narrower: ``point_source=True`` multiplies R by a factor,
by default 1.3 for PRISM and 1.5 for the gratings, the values used by the CAMPFIRE pipeline
(``f_LSF``); msaexp uses 1.3 (``scale_disp``) for all dispersers. De Graaff et al. (2024, A&A
690, A84) model the point-source LSF in detail and find enhancements of the same order.

Nominal wavelength ranges are those of the JDox "NIRSpec dispersers and filters" table.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.instruments.resolution import (
    FWHM_TO_SIGMA,
    TabulatedResolution,
    gaussian_lsf_pixel_integrated,
)

__all__ = [
    "Disperser",
    "DISPERSERS",
    "get_disperser",
    "disperser_key",
    "POINT_SOURCE_FACTOR",
]

#: (grating, filter) -> nominal wavelength range in micron (JDox).
_RANGES = {
    ("PRISM", "CLEAR"): (0.60, 5.30),
    ("G140M", "F070LP"): (0.90, 1.27),
    ("G140M", "F100LP"): (0.97, 1.89),
    ("G235M", "F170LP"): (1.66, 3.17),
    ("G395M", "F290LP"): (2.87, 5.27),
    ("G140H", "F070LP"): (0.95, 1.27),
    ("G140H", "F100LP"): (0.97, 1.89),
    ("G235H", "F170LP"): (1.66, 3.17),
    ("G395H", "F290LP"): (2.87, 5.27),
}

#: Default filter for a grating given alone (``"g395m"``).
_DEFAULT_FILTER = {
    "PRISM": "CLEAR",
    "G140M": "F100LP",
    "G235M": "F170LP",
    "G395M": "F290LP",
    "G140H": "F100LP",
    "G235H": "F170LP",
    "G395H": "F290LP",
}

#: Point-source resolving-power enhancement (CAMPFIRE f_LSF values).
POINT_SOURCE_FACTOR = {"PRISM": 1.3, "M": 1.5, "H": 1.5}

DISPERSERS = tuple(f"{g}/{f}" for g, f in _RANGES)


@functools.cache
def _load_table(grating: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    name = f"jwst_nirspec_{grating.lower()}_disp.fits"
    ref = resources.files("slitwise.instruments") / "data" / "nirspec_disp" / name
    with resources.as_file(ref) as path, fits.open(path) as hdul:
        tab = hdul[1].data
        wave = np.asarray(tab["WAVELENGTH"], dtype=float)
        dlds = np.asarray(tab["DLDS"], dtype=float)
        res = np.asarray(tab["R"], dtype=float)
    return wave, dlds, res


def disperser_key(name: str, filter: str | None = None) -> tuple[str, str]:
    """Normalise a disperser name to ``(GRATING, FILTER)``.

    Accepts ``"PRISM/CLEAR"``, ``"prism-clear"``, ``"G395M_F290LP"``, ``"g395m"`` (default
    filter) or a grating with ``filter`` given separately.

    Raises
    ------
    SlitwiseInputError
        If the combination is not a NIRSpec disperser.
    """
    text = str(name).strip().upper()
    for sep in ("/", "-", "_", " "):
        if sep in text:
            grating, _, filt = text.partition(sep)
            break
    else:
        grating, filt = text, ""
    if filter:
        filt = str(filter).strip().upper()
    if not filt:
        filt = _DEFAULT_FILTER.get(grating, "")
    key = (grating, filt)
    if key not in _RANGES:
        raise input_error(
            f"disperser '{name}'" + (f" filter '{filter}'" if filter else ""),
            "unknown NIRSpec grating/filter; expected one of " + ", ".join(DISPERSERS),
        )
    return key


@dataclasses.dataclass(frozen=True, eq=False)
class Disperser:
    """One NIRSpec grating/filter combination.

    Attributes
    ----------
    grating, filter : str
        Upper-case names (``"G395M"``, ``"F290LP"``).
    wave_range : tuple of float
        Nominal wavelength range in micron.
    point_source : bool
        Whether R includes the point-source enhancement.
    """

    grating: str
    filter: str
    wave_range: tuple[float, float]
    point_source: bool = False
    point_source_factor: float = 1.0

    @property
    def name(self) -> str:
        """``GRATING/FILTER``."""
        return f"{self.grating}/{self.filter}"

    @property
    def slug(self) -> str:
        """Lower-case file-name form, ``grating-filter`` (``prism-clear``)."""
        return f"{self.grating}-{self.filter}".lower()

    @property
    def is_prism(self) -> bool:
        return self.grating == "PRISM"

    @property
    def resolution(self) -> TabulatedResolution:
        """R(lambda) model (with the point-source factor when requested)."""
        wave, _, res = _load_table(self.grating)
        scale = self.point_source_factor if self.point_source else 1.0
        return TabulatedResolution(wave, res, scale=scale)

    def resolving_power(self, wave_um: np.ndarray) -> np.ndarray:
        """R = lambda / FWHM at ``wave_um`` (micron)."""
        return self.resolution.resolving_power(wave_um)

    def lsf_sigma(self, wave_um: np.ndarray) -> np.ndarray:
        """Gaussian LSF sigma in micron."""
        wave_um = np.asarray(wave_um, dtype=float)
        return wave_um / self.resolving_power(wave_um) * FWHM_TO_SIGMA

    def dispersion(self, wave_um: np.ndarray) -> np.ndarray:
        """Dispersion dlambda/dpixel in micron per pixel at ``wave_um``."""
        wave, dlds, _ = _load_table(self.grating)
        return np.interp(np.asarray(wave_um, dtype=float), wave, dlds)

    def pixel_grid(self, *, oversample: float = 1.0) -> np.ndarray:
        """Pixel-centre wavelengths (micron) covering ``wave_range`` at the native dispersion.

        Integrates dlambda/dpix so that the grid follows the dispersion (non-linear for PRISM).
        """
        lo, hi = self.wave_range
        waves = [lo]
        while waves[-1] < hi:
            waves.append(waves[-1] + float(self.dispersion(waves[-1])) / oversample)
        return np.asarray(waves)

    def lsf_pixel_integrated(
        self, edges_um: np.ndarray, center_um: float, *, intrinsic_sigma_um: float = 0.0
    ) -> np.ndarray:
        """Pixel-integrated Gaussian LSF of a line at ``center_um`` on pixels with ``edges_um``.

        The instrumental sigma at the line centre is added in quadrature to
        ``intrinsic_sigma_um``. Returns the fraction of the line flux in each pixel.
        """
        sig = np.hypot(float(self.lsf_sigma(center_um)), intrinsic_sigma_um)
        return gaussian_lsf_pixel_integrated(edges_um, center_um, sig)


def get_disperser(
    name: str,
    filter: str | None = None,
    *,
    point_source: bool = False,
    point_source_factor: float | None = None,
) -> Disperser:
    """Return the :class:`Disperser` for a grating/filter name.

    Parameters
    ----------
    name : str
        ``"PRISM/CLEAR"``, ``"g395m-f290lp"``, ``"G140H"``, ...
    filter : str, optional
        Filter, when ``name`` is a grating alone.
    point_source : bool
        Apply the point-source resolving-power enhancement.
    point_source_factor : float, optional
        Override the enhancement factor (default :data:`POINT_SOURCE_FACTOR`).

    Examples
    --------
    >>> bool(get_disperser("prism").resolving_power(1.1) < 40)
    True
    """
    grating, filt = disperser_key(name, filter)
    if point_source_factor is None:
        point_source_factor = POINT_SOURCE_FACTOR["PRISM" if grating == "PRISM" else grating[-1]]
    return Disperser(
        grating=grating,
        filter=filt,
        wave_range=_RANGES[(grating, filt)],
        point_source=point_source,
        point_source_factor=float(point_source_factor),
    )

