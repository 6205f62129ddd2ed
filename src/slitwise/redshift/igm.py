"""Intergalactic-medium transmission: Inoue et al. (2014) analytic model and a Lya damping wing.

Our own implementation of the analytic mean transmission of Inoue, Shimizu, Iwata & Tanaka
(2014, MNRAS 442, 1805; "I14"): Lyman-series optical depths of the Lya forest (LAF) and damped
Lya systems (DLA), their eqs. (21)-(22) with the coefficients of their Table 2 (packaged as
``data/inoue2014_table2.csv``, transcribed from the paper), and the Lyman-continuum optical
depths, eqs. (25)-(29).

For sources at z > 6 a neutral IGM adds a Lya damping wing redward of Lya. We use the
Miralda-Escude (1998, ApJ 501, 15) closed form for a uniformly neutral IGM with neutral fraction
``x_hi`` between the end of reionisation ``z_end`` and the source, and a Gunn-Peterson optical
depth tau_GP(z) = 7.16e5 ((1+z)/10)^1.5 (Planck-like cosmology, e.g. Mason et al. 2018).
The default neutral-fraction history :func:`neutral_fraction` is a simple tanh centred on the
Planck 2018 mid-point (z = 7.7) and is *only* a mean: real sight lines scatter widely.

All wavelengths here are in Angstrom. :class:`IGMTable` tabulates the transmission on a grid of
rest wavelength and ln(1+z) for the fast redshift kernels.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

import numpy as np

__all__ = [
    "LYA",
    "LYMAN_LIMIT",
    "inoue14_tau",
    "inoue14_transmission",
    "damping_wing_tau",
    "neutral_fraction",
    "igm_transmission",
    "IGMTable",
    "igm_table",
]

LYA = 1215.67
#: Lyman limit used by I14 (Angstrom).
LYMAN_LIMIT = 911.8


@functools.lru_cache(maxsize=1)
def _table2() -> np.ndarray:
    ref = resources.files("slitwise.redshift") / "data" / "inoue2014_table2.csv"
    with resources.as_file(ref) as path:
        return np.loadtxt(path, delimiter=",", comments="#", skiprows=4)


def _tau_lyman_series(lobs: np.ndarray, z: float) -> np.ndarray:
    """LAF + DLA Lyman-series optical depth (I14 eqs. 21-22)."""
    tab = _table2()
    tau = np.zeros_like(lobs)
    for _, lam, a1, a2, a3, d1, d2 in tab:
        inside = (lobs > lam) & (lobs < lam * (1.0 + z))
        if not inside.any():
            continue
        x = lobs[inside] / lam
        laf = np.where(x < 2.2, a1 * x**1.2, np.where(x < 5.7, a2 * x**3.7, a3 * x**5.5))
        dla = np.where(x < 3.0, d1 * x**2.0, d2 * x**3.0)
        tau[inside] += laf + dla
    return tau


def _tau_lyman_continuum(lobs: np.ndarray, z: float) -> np.ndarray:
    """LAF + DLA Lyman-continuum optical depth (I14 eqs. 25-29)."""
    zp = 1.0 + z
    x = lobs / LYMAN_LIMIT
    inside = x < zp
    tau = np.zeros_like(lobs)
    # LAF
    if z < 1.2:
        laf = 0.325 * (x**1.2 - zp**-0.9 * x**2.1)
    elif z < 4.7:
        laf = np.where(
            x < 2.2,
            2.55e-2 * zp**1.6 * x**2.1 + 0.325 * x**1.2 - 0.250 * x**2.1,
            2.55e-2 * (zp**1.6 * x**2.1 - x**3.7),
        )
    else:
        laf = np.where(
            x < 2.2,
            5.22e-4 * zp**3.4 * x**2.1 + 0.325 * x**1.2 - 3.14e-2 * x**2.1,
            np.where(
                x < 5.7,
                5.22e-4 * zp**3.4 * x**2.1 + 0.218 * x**2.1 - 2.55e-2 * x**3.7,
                5.22e-4 * (zp**3.4 * x**2.1 - x**5.5),
            ),
        )
    # DLA
    if z < 2.0:
        dla = 0.211 * zp**2 - 7.66e-2 * zp**2.3 * x**-0.3 - 0.135 * x**2
    else:
        dla = np.where(
            x < 3.0,
            0.634 + 4.7e-2 * zp**3 - 1.78e-2 * zp**3.3 * x**-0.3 - 0.135 * x**2 - 0.291 * x**-0.3,
            4.7e-2 * zp**3 - 1.78e-2 * zp**3.3 * x**-0.3 - 2.92e-2 * x**3,
        )
    tau[inside] = (laf + dla)[inside]
    return np.clip(tau, 0.0, None)


def inoue14_tau(wave_obs: np.ndarray, z: float) -> np.ndarray:
    """Mean IGM optical depth of Inoue et al. (2014) at observed wavelengths (Angstrom)."""
    lobs = np.atleast_1d(np.asarray(wave_obs, dtype=float))
    return _tau_lyman_series(lobs, float(z)) + _tau_lyman_continuum(lobs, float(z))


def inoue14_transmission(wave_obs: np.ndarray, z: float) -> np.ndarray:
    """Mean IGM transmission exp(-tau) of Inoue et al. (2014); ``wave_obs`` in Angstrom."""
    return np.exp(-inoue14_tau(wave_obs, z))


def neutral_fraction(z: np.ndarray | float, *, z_mid: float = 7.7, width: float = 0.5):
    """Mean IGM neutral fraction: 0.5 (1 + tanh((z - z_mid) / width)), zero below z = 6."""
    z = np.asarray(z, dtype=float)
    x = 0.5 * (1.0 + np.tanh((z - z_mid) / width))
    return np.where(z > 6.0, x, 0.0)


def _me98_integral(x: np.ndarray) -> np.ndarray:
    sx = np.sqrt(x)
    return (
        x**4.5 / (1.0 - x)
        + 9.0 / 7.0 * x**3.5
        + 9.0 / 5.0 * x**2.5
        + 3.0 * x**1.5
        + 9.0 * sx
        - 4.5 * np.log((1.0 + sx) / (1.0 - sx))
    )


def damping_wing_tau(
    wave_rest: np.ndarray, z: float, *, x_hi: float | None = None, z_end: float = 6.0
) -> np.ndarray:
    """Lya damping-wing optical depth redward of Lya (Miralda-Escude 1998).

    Parameters
    ----------
    wave_rest : ndarray
        Rest wavelength (Angstrom) in the frame of the source at ``z``.
    z : float
        Source redshift; zero optical depth for ``z <= z_end``.
    x_hi : float, optional
        Neutral fraction between ``z_end`` and ``z`` (default :func:`neutral_fraction`).
    z_end : float
        Redshift where the IGM becomes ionised.

    Returns
    -------
    ndarray
        Optical depth; zero blueward of Lya (where the forest model applies) and for low z.
    """
    lam = np.atleast_1d(np.asarray(wave_rest, dtype=float))
    tau = np.zeros_like(lam)
    if z <= z_end:
        return tau
    if x_hi is None:
        x_hi = float(neutral_fraction(z))
    if x_hi <= 0:
        return tau
    red = lam > LYA * (1.0 + 1e-6)
    onepd = lam[red] / LYA  # 1 + delta
    r_alpha = 2.02e-8  # Lambda lambda_alpha / (4 pi c)
    tau_gp = 7.16e5 * ((1.0 + z) / 10.0) ** 1.5
    x2 = 1.0 / onepd
    x1 = np.minimum((1.0 + z_end) / ((1.0 + z) * onepd), x2)
    tau[red] = (
        x_hi * tau_gp * r_alpha / np.pi * onepd**1.5 * (_me98_integral(x2) - _me98_integral(x1))
    )
    return np.clip(tau, 0.0, None)


def igm_transmission(
    wave_rest: np.ndarray,
    z: float,
    *,
    damping: bool = False,
    x_hi: float | None = None,
    lyc_zero: bool = True,
) -> np.ndarray:
    """Total IGM transmission at rest wavelengths (Angstrom) of a source at ``z``.

    Parameters
    ----------
    damping : bool
        Add the z > 6 Lya damping wing (:func:`damping_wing_tau`).
    lyc_zero : bool
        Set the transmission to zero below the Lyman limit (912 A rest), i.e. assume no
        ionising photons escape the galaxy (as most template fitters do).
    """
    lam = np.atleast_1d(np.asarray(wave_rest, dtype=float))
    t = inoue14_transmission(lam * (1.0 + z), z)
    if damping:
        t = t * np.exp(-damping_wing_tau(lam, z, x_hi=x_hi))
    if lyc_zero:
        t = np.where(lam < 912.0, 0.0, t)
    return t


@dataclasses.dataclass(frozen=True, eq=False)
class IGMTable:
    """IGM transmission tabulated on uniform ln(rest wavelength) x ln(1+z) grids.

    ``values[iz, il]`` is the transmission at ``exp(lnl0 + il * dlnl)`` Angstrom (rest) for a
    source at ``exp(lnz0 + iz * dlnz) - 1``. Rest wavelengths above the table are transmitted
    (1), below it absorbed (0).
    """

    lnl0: float
    dlnl: float
    lnz0: float
    dlnz: float
    values: np.ndarray
    damping: bool

    @property
    def wave_max(self) -> float:
        """Largest tabulated rest wavelength (Angstrom)."""
        return float(np.exp(self.lnl0 + (self.values.shape[1] - 1) * self.dlnl))

    def __call__(self, wave_rest: np.ndarray, z: float) -> np.ndarray:
        """Bilinear interpolation of the table."""
        lam = np.asarray(wave_rest, dtype=float)
        fl = (np.log(lam) - self.lnl0) / self.dlnl
        fz = (np.log1p(z) - self.lnz0) / self.dlnz
        nz, nl = self.values.shape
        iz = int(np.clip(np.floor(fz), 0, nz - 2))
        tz = float(np.clip(fz - iz, 0.0, 1.0))
        il = np.clip(np.floor(fl).astype(int), 0, nl - 2)
        tl = np.clip(fl - il, 0.0, 1.0)
        v = self.values
        row = (1 - tz) * v[iz] + tz * v[iz + 1]
        out = (1 - tl) * row[il] + tl * row[il + 1]
        return np.where(fl > nl - 1, 1.0, np.where(fl < 0, 0.0, out))


@functools.lru_cache(maxsize=4)
def igm_table(
    *, damping: bool = False, zmax: float = 25.0, dlnz: float = 0.02, dv_kms: float = 60.0
) -> IGMTable:
    """Build (once per setting) the :class:`IGMTable` used by the fitting kernels.

    Rest wavelengths 900 A to 1216 A (1400 A with the damping wing) at ``dv_kms`` spacing;
    ln(1+z) from 0 to ln(1 + zmax) in steps of ``dlnz`` (the mean transmission is smooth in z;
    the table is linearly interpolated in both directions).
    """
    lam_hi = 1400.0 if damping else LYA * 1.0001
    dlnl = dv_kms / 299792.458
    lnl = np.arange(np.log(900.0), np.log(lam_hi) + dlnl, dlnl)
    lnz = np.arange(0.0, np.log1p(zmax) + dlnz, dlnz)
    lam = np.exp(lnl)
    values = np.empty((lnz.size, lnl.size))
    for i, lz in enumerate(lnz):
        values[i] = igm_transmission(lam, float(np.expm1(lz)), damping=damping, lyc_zero=True)
    return IGMTable(float(lnl[0]), float(dlnl), 0.0, float(dlnz), values, damping)
