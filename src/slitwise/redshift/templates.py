"""Template library for redshift fitting: continua, emission-line groups, broad Balmer lines.

A :class:`TemplateLibrary` holds

* rest-frame **continuum** templates (:class:`ContinuumTemplate`, f_lambda on a wavelength
  grid in Angstrom): by default the 12 FSPS "QSF 12 v3" SEDs without lines (Brammer's EAZY set,
  ages, star-formation histories and dust spanning quiescent to young star-forming; packaged
  in ``data/`` with provenance), the same 12 behind a Calzetti A_V = 1.5 screen,
  blackbodies at 500, 2500 and 5000 K and one modified blackbody (hot dust, 1200 K,
  emissivity index 1.5);
* **emission-line groups** (:class:`~slitwise.redshift.lines.LineGroup`): lines with ratios
  tied by physics, built analytically as pixel-integrated Gaussians at fit time;
* **broad** Halpha and Hbeta at FWHM 1500 and 3000 km/s.

User templates (two-column ASCII ``wave flux`` in Angstrom and f_lambda, or an ECSV/FITS table
with ``wave``/``flux`` columns) are added with :meth:`TemplateLibrary.with_continua` or loaded
from a directory with :func:`load_user_templates`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from slitwise.errors import input_error
from slitwise.redshift.lines import BROAD_GROUPS, LINE_GROUPS, LineGroup

__all__ = [
    "ContinuumTemplate",
    "TemplateLibrary",
    "fsps_templates",
    "blackbody_templates",
    "calzetti_klambda",
    "reddened",
    "load_user_templates",
    "powerlaw_templates",
    "DEFAULT_LINE_SIGMA_KMS",
]

#: Default intrinsic velocity dispersion of narrow lines (km/s).
DEFAULT_LINE_SIGMA_KMS = 100.0

_H = 6.62607015e-27  # erg s
_C_CM = 2.99792458e10  # cm/s
_K = 1.380649e-16  # erg/K


@dataclasses.dataclass(frozen=True, eq=False)
class ContinuumTemplate:
    """One rest-frame continuum template.

    Attributes
    ----------
    name : str
        Template name (unique within a library).
    wave : ndarray
        Rest wavelength, Angstrom, strictly increasing.
    flux : ndarray
        f_lambda, arbitrary normalisation (non-negative).
    """

    name: str
    wave: np.ndarray
    flux: np.ndarray

    def __post_init__(self) -> None:
        w = np.asarray(self.wave, dtype=float)
        f = np.asarray(self.flux, dtype=float)
        if w.ndim != 1 or w.shape != f.shape or w.size < 2:
            raise input_error(f"template {self.name}", "wave and flux must be 1D, equal length")
        if np.any(np.diff(w) <= 0) or np.any(w <= 0):
            raise input_error(f"template {self.name}", "wavelengths must be positive, increasing")
        if not np.all(np.isfinite(f)):
            raise input_error(f"template {self.name}", "flux has non-finite values")
        if np.any(f < 0):
            raise input_error(f"template {self.name}", "flux must be non-negative for NNLS")
        object.__setattr__(self, "wave", w)
        object.__setattr__(self, "flux", f)


@functools.lru_cache(maxsize=1)
def _fsps_arrays() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    ref = resources.files("slitwise.redshift") / "data" / "fsps_qsf12_v3_nolines.npz"
    with resources.as_file(ref) as path, np.load(path) as d:
        return d["wave"].astype(float), d["flux"].astype(float), tuple(str(n) for n in d["names"])


def fsps_templates() -> tuple[ContinuumTemplate, ...]:
    """The 12 packaged FSPS QSF v3 continua without lines (normalised at 5500 A)."""
    wave, flux, names = _fsps_arrays()
    return tuple(ContinuumTemplate(n, wave, f) for n, f in zip(names, flux, strict=True))


def _planck_flam(wave_aa: np.ndarray, temp: float) -> np.ndarray:
    lam = wave_aa * 1e-8
    x = np.minimum(_H * _C_CM / (lam * _K * temp), 700.0)
    return 1.0 / (lam**5 * np.expm1(x))


def blackbody_templates(
    temps: Sequence[float] = (500.0, 2500.0, 5000.0),
    *,
    modified: tuple[float, float] | None = (1200.0, 1.5),
) -> tuple[ContinuumTemplate, ...]:
    """Blackbodies (f_lambda) and one modified blackbody B_lambda(T) (lambda_0/lambda)^beta.

    Each is normalised to a unit maximum on 500 A - 20 um.
    """
    wave = np.geomspace(200.0, 2.0e5, 4000)
    out = []
    for t in temps:
        f = _planck_flam(wave, t)
        out.append(ContinuumTemplate(f"bb_{int(t)}K", wave, f / f.max()))
    if modified is not None:
        t, beta = modified
        f = _planck_flam(wave, t) * (1e4 / wave) ** beta
        out.append(ContinuumTemplate(f"mbb_{int(t)}K_beta{beta:g}", wave, f / f.max()))
    return tuple(out)


def powerlaw_templates(
    betas: Sequence[float] = (-3.0, -2.5, -2.0, -1.5, -1.0, 0.0),
) -> tuple[ContinuumTemplate, ...]:
    """Power-law continua ``f_lambda ~ lambda**beta`` from 912 A (zero below) to 20 um.

    Non-negative sums of neighbouring slopes reach any UV slope between them. Young, blue
    star-forming galaxies and AGN-like continua without a Balmer break are power laws over the
    whole NIRSpec range; the FSPS set alone cannot follow them and then places bright, blue,
    line-emitting sources at z ~ 0 (the IGM break is applied at each trial redshift as for every
    continuum). Normalised to 1 at 1500 A.
    """
    wave = np.geomspace(100.0, 2.0e5, 3000)
    out = []
    for beta in betas:
        f = np.where(wave >= 912.0, (wave / 1500.0) ** beta, 0.0)
        out.append(ContinuumTemplate(f"powerlaw_beta{beta:+g}", wave, f))
    return tuple(out)


def calzetti_klambda(wave_aa: np.ndarray) -> np.ndarray:
    """Calzetti et al. (2000) starburst attenuation curve k(lambda), R_V = 4.05.

    Their eqs. (4) for 0.12-0.63 um and 0.63-2.2 um, extended with the same formulae outside
    (and clipped at zero in the infrared).
    """
    x = np.asarray(wave_aa, dtype=float) / 1e4
    k = np.where(
        x < 0.63,
        2.659 * (-2.156 + 1.509 / x - 0.198 / x**2 + 0.011 / x**3) + 4.05,
        2.659 * (-1.857 + 1.040 / x) + 4.05,
    )
    return np.clip(k, 0.0, None)


def reddened(template: ContinuumTemplate, av: float) -> ContinuumTemplate:
    """``template`` attenuated by a Calzetti curve with A_V = ``av`` mag."""
    att = 10.0 ** (-0.4 * av * calzetti_klambda(template.wave))
    return ContinuumTemplate(f"{template.name}_av{av:g}", template.wave, template.flux * att)


def _read_template_file(path: Path) -> ContinuumTemplate:
    try:
        if path.suffix.lower() in (".fits", ".fit", ".ecsv"):
            from astropy.table import Table

            tab = Table.read(path)
            cols = {c.lower(): c for c in tab.colnames}
            if "wave" not in cols or "flux" not in cols:
                raise input_error(path, "template table needs 'wave' and 'flux' columns")
            wave = np.asarray(tab[cols["wave"]], dtype=float)
            flux = np.asarray(tab[cols["flux"]], dtype=float)
        else:
            data = np.loadtxt(path, comments="#", ndmin=2)
            if data.shape[1] < 2:
                raise input_error(path, "template file needs two columns: wave (A), f_lambda")
            wave, flux = data[:, 0], data[:, 1]
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValueError) and exc.__class__.__name__ == "SlitwiseInputError":
            raise
        raise input_error(path, f"cannot read template: {exc}") from exc
    return ContinuumTemplate(path.stem, wave, np.clip(flux, 0.0, None))


def load_user_templates(path: str | Path) -> tuple[ContinuumTemplate, ...]:
    """Read continuum templates from a file or from every ``*.dat/*.txt/*.ecsv/*.fits`` in a dir."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.suffix.lower() in (".dat", ".txt", ".ecsv", ".fits")
        )
        if not files:
            raise input_error(path, "no template files (*.dat, *.txt, *.ecsv, *.fits) found")
        return tuple(_read_template_file(p) for p in files)
    if not path.exists():
        raise input_error(path, "template file or directory does not exist")
    return (_read_template_file(path),)


@dataclasses.dataclass(frozen=True, eq=False)
class TemplateLibrary:
    """Continua plus emission-line groups, fitted together with non-negative coefficients.

    Attributes
    ----------
    name : str
        Short name recorded in products (``TEMPLSET``).
    continua : tuple of ContinuumTemplate
    lines : tuple of LineGroup
        Narrow and broad line groups.
    line_sigma_kms : float
        Intrinsic velocity dispersion of lines whose group does not set its own.
    """

    name: str
    continua: tuple[ContinuumTemplate, ...]
    lines: tuple[LineGroup, ...]
    line_sigma_kms: float = DEFAULT_LINE_SIGMA_KMS

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise input_error(f"template library {self.name}", "template names must be unique")
        if not names:
            raise input_error(f"template library {self.name}", "has no templates")

    @classmethod
    def default(cls, *, dusty_av: float | None = 1.5) -> TemplateLibrary:
        """The default library (63 templates).

        12 FSPS continua, the same 12 attenuated by a Calzetti curve with A_V = ``dusty_av``
        (``None`` to omit them), 6 UV-slope power laws, 4 (modified) blackbodies, 25 narrow
        line groups and 4 broad Balmer lines. The attenuated copies let non-negative sums
        reach the red, dusty continua that the FSPS set alone cannot (without them dusty
        z ~ 3 galaxies are often fitted at z ~ 7-9, where the IGM break mimics a red UV slope).
        """
        fsps = fsps_templates()
        dusty = tuple(reddened(t, dusty_av) for t in fsps) if dusty_av else ()
        name = "fsps12" + (f"+av{dusty_av:g}" if dusty_av else "") + "+pl+bb+lines"
        continua = fsps + dusty + powerlaw_templates() + blackbody_templates()
        return cls(name, continua, LINE_GROUPS + BROAD_GROUPS)

    def subset(self, names: Sequence[str]) -> TemplateLibrary:
        """A library with only the templates named (order kept)."""
        keep = set(names)
        unknown = keep - set(self.names)
        if unknown:
            raise input_error("templates", f"unknown template names {sorted(unknown)}")
        return dataclasses.replace(
            self,
            name=f"{self.name}[{len(keep)}]",
            continua=tuple(t for t in self.continua if t.name in keep),
            lines=tuple(g for g in self.lines if g.name in keep),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Template names, continua first."""
        return tuple(t.name for t in self.continua) + tuple(g.name for g in self.lines)

    @property
    def ncont(self) -> int:
        return len(self.continua)

    @property
    def ntempl(self) -> int:
        return len(self.continua) + len(self.lines)

    def with_continua(self, continua: Sequence[ContinuumTemplate], *, replace: bool = False):
        """A new library with ``continua`` added to (or replacing) the continuum set."""
        new = tuple(continua) if replace else self.continua + tuple(continua)
        return dataclasses.replace(self, name=self.name + "+user", continua=new)

    def with_lines(self, lines: Sequence[LineGroup], *, replace: bool = False):
        """A new library with extra (or only these) line groups."""
        new = tuple(lines) if replace else self.lines + tuple(lines)
        return dataclasses.replace(self, lines=new)

    def rest_range(self) -> tuple[float, float]:
        """Rest wavelength range (Angstrom) covered by the continuum templates."""
        if not self.continua:
            return (np.inf, -np.inf)
        return (
            min(float(t.wave[0]) for t in self.continua),
            max(float(t.wave[-1]) for t in self.continua),
        )
