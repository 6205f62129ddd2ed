"""Slitlet geometry on the detector: curved slit, wavelength map, nod pattern, shutter states.

Conventions (all 0-based pixel coordinates, arrays ``(ny, nx)``, wavelength increasing with x):

* The slitlet has ``n_shutters`` shutters stacked along y, numbered ``k = 0`` (bottom, lowest
  rows) to ``n - 1`` (top), on a pitch of :data:`~slitwise.simulate.slitpsf.PITCH_PX` pixels.
* The slitlet centre follows a curved trace ``y_c(x) = (ny - 1)/2 + c0 + c1 u + c2 u**2`` with
  ``u = (x - (nx - 1)/2) / ((nx - 1)/2)``. The slit coordinate of pixel ``(j, x)`` is
  ``s = (j - y_c(x)) / PITCH_PX`` in pitches from the slitlet centre; shutter ``k`` spans
  ``k - n/2 <= s < k + 1 - n/2``.
* Lines of constant wavelength are tilted: pixel ``(j, x)`` has the wavelength of column
  ``x + tilt * (j - y_c(x))`` of the disperser's pixel grid. Pixel edges are at ``x -+ 0.5``.
* The wavelength grid per column is ``get_disperser(...).pixel_grid()`` (PRISM: 405 columns,
  padded by 15 columns on each side and extrapolated with the end dispersion; gratings: the
  full nominal range on one cut-out, e.g. 1339 columns for G395M -- the real NRS1/NRS2 gap is
  ignored).
* Pixels farther than ``n/2 + 0.3`` pitches from the slitlet centre are outside the slitlet:
  their wavelength, SCI and variances are NaN and their DQ is DO_NOT_USE | NON_SCIENCE.
* Nod pattern (source shutter offsets from the first nod, in pitches): 2 nods ``[0, +1]`` in a
  3-shutter slitlet, 3 nods ``[0, +1, -1]`` in a 3-shutter slitlet, 5 nods
  ``[0, +1, -1, +2, -2]`` in a 5-shutter slitlet; the first nod has the source in the central
  shutter. The telescope moves, the slitlet stays on the same detector pixels.
* SHUTSTA lists the shutters from the *top* (k = n - 1) to the bottom (k = 0), as in the real
  CEERS NRS2 cut-outs (``'x11'`` has the source in the upper shutter): ``x`` the shutter the
  source is assigned to, ``0`` a closed (stuck) shutter, ``1`` an open one. ``x`` wins over
  ``0`` (as in the JWST metafile), so when the source is nodded into a stuck shutter the
  string still shows ``x`` there; the truth says ``source_blocked``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from slitwise.errors import input_error
from slitwise.instruments import Disperser
from slitwise.simulate.slitpsf import PITCH_PX

__all__ = [
    "SlitletGeometry",
    "NOD_OFFSETS",
    "nod_offsets",
    "n_shutters_for",
    "shutter_state",
    "column_wavelengths",
    "draw_geometry",
    "NY",
]

#: Cut-out height in rows.
NY = 35
#: Padding (columns) added on each side of the PRISM grid.
PRISM_PAD = 15
#: Nods -> source-shutter offsets (pitches) relative to the first nod.
NOD_OFFSETS: dict[int, tuple[int, ...]] = {2: (0, 1), 3: (0, 1, -1), 5: (0, 1, -1, 2, -2)}
#: Pixels farther than n/2 + this many pitches from the slitlet centre are outside.
SLIT_MARGIN = 0.3


def nod_offsets(n_nods: int) -> tuple[int, ...]:
    """Source shutter offsets for a nod pattern; raises SlitwiseInputError unless 2, 3 or 5."""
    if n_nods not in NOD_OFFSETS:
        raise input_error("n_nods", f"got {n_nods}; expected 2, 3 or 5")
    return NOD_OFFSETS[n_nods]


def n_shutters_for(n_nods: int) -> int:
    """Shutters per slitlet: 5 for the 5-nod pattern, else 3."""
    nod_offsets(n_nods)
    return 5 if n_nods == 5 else 3


def shutter_state(n_shutters: int, source_shutter: int, stuck: int | None) -> str:
    """SHUTSTA string (top shutter first); see the module docstring."""
    chars = []
    for k in range(n_shutters - 1, -1, -1):
        if k == source_shutter:
            chars.append("x")
        elif stuck is not None and k == stuck:
            chars.append("0")
        else:
            chars.append("1")
    return "".join(chars)


def column_wavelengths(disperser: Disperser) -> np.ndarray:
    """Wavelength (micron) at every integer column of a cut-out for ``disperser``."""
    grid = disperser.pixel_grid()
    if not disperser.is_prism:
        return grid
    lo = [grid[0]]
    hi = [grid[-1]]
    for _ in range(PRISM_PAD):
        lo.append(lo[-1] - float(disperser.dispersion(lo[-1])))
        hi.append(hi[-1] + float(disperser.dispersion(hi[-1])))
    return np.concatenate([lo[:0:-1], grid, hi[1:]])


@dataclasses.dataclass(frozen=True, eq=False)
class SlitletGeometry:
    """Where a slitlet lies on its cut-out and what wavelength each pixel sees.

    Attributes
    ----------
    col_wave : ndarray, shape (nx,)
        Wavelength at integer columns along the slitlet centre (micron).
    n_shutters : int
        Shutters in the slitlet.
    c0, c1, c2 : float
        Curvature coefficients of the slitlet centre (pixels), see module docstring.
    tilt : float
        Column shift per row of the lines of constant wavelength.
    ny : int
        Rows in the cut-out.
    """

    col_wave: np.ndarray
    n_shutters: int
    c0: float = 0.0
    c1: float = 0.0
    c2: float = 0.0
    tilt: float = 0.0
    ny: int = NY

    @property
    def nx(self) -> int:
        return int(self.col_wave.size)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    def center_row(self, x: np.ndarray) -> np.ndarray:
        """Row of the slitlet centre at (fractional) column ``x``."""
        half = (self.nx - 1) / 2.0
        u = (np.asarray(x, dtype=float) - half) / half
        return (self.ny - 1) / 2.0 + self.c0 + self.c1 * u + self.c2 * u * u

    def shutter_center(self, k: int | np.ndarray) -> np.ndarray | float:
        """Slit coordinate (pitches from the slitlet centre) of the centre of shutter ``k``."""
        return np.asarray(k, dtype=float) - (self.n_shutters - 1) / 2.0

    def shutter_of(self, s: float) -> int:
        """Index of the shutter containing slit coordinate ``s`` (may be outside 0..n-1)."""
        return int(np.floor(s + self.n_shutters / 2.0))

    def trace_row(self, s: float, x: np.ndarray | None = None) -> np.ndarray:
        """Detector row of slit coordinate ``s`` at columns ``x`` (default every column)."""
        if x is None:
            x = np.arange(self.nx)
        return self.center_row(x) + s * PITCH_PX

    def slit_coordinate(self) -> np.ndarray:
        """``s`` (pitches from the slitlet centre) of every pixel, shape (ny, nx)."""
        rows = np.arange(self.ny, dtype=float)[:, None]
        return (rows - self.center_row(np.arange(self.nx))[None, :]) / PITCH_PX

    def in_slitlet(self) -> np.ndarray:
        """Pixels inside the slitlet (boolean, shape (ny, nx))."""
        return np.abs(self.slit_coordinate()) <= self.n_shutters / 2.0 + SLIT_MARGIN

    def wave_at(self, x: np.ndarray, row: np.ndarray) -> np.ndarray:
        """Wavelength (micron) at fractional column ``x`` and row ``row`` (broadcast)."""
        x = np.asarray(x, dtype=float)
        row = np.asarray(row, dtype=float)
        xe = x + self.tilt * (row - self.center_row(x))
        idx = np.arange(self.nx, dtype=float)
        w = self.col_wave
        # linear extrapolation one pixel beyond the ends (pixel edges at -0.5 and nx - 0.5)
        idx_ext = np.concatenate([[-1.0], idx, [float(self.nx)]])
        w_ext = np.concatenate([[2 * w[0] - w[1]], w, [2 * w[-1] - w[-2]]])
        return np.interp(xe, idx_ext, w_ext)

    def wavelength_maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel-centre, lower-edge and upper-edge wavelength maps, shape (ny, nx) each."""
        x = np.arange(self.nx, dtype=float)[None, :]
        rows = np.arange(self.ny, dtype=float)[:, None]
        return self.wave_at(x, rows), self.wave_at(x - 0.5, rows), self.wave_at(x + 0.5, rows)


def draw_geometry(
    disperser: Disperser, n_shutters: int, rng: np.random.Generator, *, ny: int = NY
) -> SlitletGeometry:
    """Random slitlet placement: centre offset +-0.7 px, slope +-1 px, curvature +-1.5 px,
    tilt +-0.03 column per row."""
    c0, c1, c2 = rng.uniform(-0.7, 0.7), rng.uniform(-1.0, 1.0), rng.uniform(-1.5, 1.5)
    tilt = rng.uniform(-0.03, 0.03)
    return SlitletGeometry(
        col_wave=column_wavelengths(disperser),
        n_shutters=n_shutters,
        c0=float(c0),
        c1=float(c1),
        c2=float(c2),
        tilt=float(tilt),
        ny=ny,
    )
