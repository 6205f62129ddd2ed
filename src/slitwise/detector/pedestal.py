"""Picture-frame pedestal: a template image scaled per 512-row amplifier band.

NIRSpec full frames show a "picture frame": a border region near the detector edges whose
level differs from the interior (a thermal artifact). It is modelled as a fixed template
``T(y, x)`` (1 in the frame, 0 in the interior) scaled by one amplitude per amplifier band
(the four 512-row readout bands of the DMS orientation). The built-in template,
:func:`picture_frame_template`, is the shape the simulator uses; for real data pass the
reference template as a FITS file (:func:`read_pedestal_template`), which replaces it.

Each band's amplitude is the ``a`` of a least-squares fit ``a T + b`` over the unmasked pixels
(with sigma clipping), so the band's mean level ``b`` stays with the smooth background and
only the frame's contrast is attributed to the pedestal. In the middle bands the frame only
covers the left and right edge columns, where it is degenerate with the column 1/f offsets
and the 2-D background: the *sum* of the components is well determined, the split between
them (and so the recorded amplitude) to about 10-20 %.
"""

from __future__ import annotations

import os

import numpy as np

from slitwise.errors import input_error
from slitwise.io.fitsutil import open_fits

__all__ = [
    "BAND_ROWS",
    "FULL_SHAPE",
    "amplifier_bands",
    "picture_frame_template",
    "read_pedestal_template",
    "fit_pedestal",
]

#: Rows per amplifier band (full frame, DMS orientation).
BAND_ROWS = 512
#: Full-frame detector shape.
FULL_SHAPE = (2048, 2048)
#: Reference pixels along each detector edge.
_REF_PIX = 4


def amplifier_bands(
    shape: tuple[int, int], *, origin: tuple[int, int] = (0, 0), band_rows: int = BAND_ROWS
) -> list[slice]:
    """Row slices (frame coordinates) of the amplifier bands that intersect the frame."""
    r0 = origin[0]
    ny = shape[0]
    out = []
    first = (r0 // band_rows) * band_rows
    for lo in range(first, r0 + ny, band_rows):
        a, b = max(lo - r0, 0), min(lo + band_rows - r0, ny)
        if b > a:
            out.append(slice(a, b))
    return out


def picture_frame_template(
    shape: tuple[int, int] = FULL_SHAPE,
    *,
    origin: tuple[int, int] = (0, 0),
    width: float = 96.0,
    taper: float = 64.0,
    full_shape: tuple[int, int] = FULL_SHAPE,
) -> np.ndarray:
    """Built-in picture-frame template, cut to a frame at ``origin``.

    1 within ``width`` pixels of the light-sensitive edge of the full detector, falling to 0
    over a further ``taper`` pixels with a raised-cosine profile.
    """
    ny, nx = shape
    y = np.arange(origin[0], origin[0] + ny, dtype=float)
    x = np.arange(origin[1], origin[1] + nx, dtype=float)
    dy = np.minimum(y - _REF_PIX, full_shape[0] - 1 - _REF_PIX - y)
    dx = np.minimum(x - _REF_PIX, full_shape[1] - 1 - _REF_PIX - x)
    d = np.minimum(dy[:, None], dx[None, :])
    t = np.clip((d - width) / taper, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def read_pedestal_template(
    path: str | os.PathLike, shape: tuple[int, int], *, origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Read a user template (SCI extension, else the primary image) for a frame.

    A full-frame template is cut to a subarray frame at ``origin``; otherwise its shape must
    equal ``shape``.

    Raises
    ------
    SlitwiseInputError
        If the file has no 2-D image, the shapes do not fit, or it contains NaNs.
    """
    path = str(path)
    with open_fits(path) as hdul:
        names = [h.name for h in hdul]
        hdu = hdul["SCI"] if "SCI" in names else hdul[0]
        data = hdu.data
        if data is None or data.ndim != 2:
            raise input_error(f"{path}[{hdu.name}]", "expected a 2-D pedestal template image")
        tmpl = np.asarray(data, dtype=float)
    if tmpl.shape != tuple(shape):
        r0, c0 = origin
        if tmpl.shape[0] >= r0 + shape[0] and tmpl.shape[1] >= c0 + shape[1]:
            tmpl = tmpl[r0 : r0 + shape[0], c0 : c0 + shape[1]]
        else:
            raise input_error(
                path, f"template shape {tmpl.shape} does not cover the frame {tuple(shape)}"
            )
    if not np.all(np.isfinite(tmpl)):
        raise input_error(path, "pedestal template contains NaN or infinite values")
    return tmpl


def _fit_band(r: np.ndarray, t: np.ndarray, *, nsigma: float, n_iter: int) -> float:
    """Clipped least-squares ``a`` of ``r ~ a t + b``."""
    keep = np.ones(r.size, dtype=bool)
    a = 0.0
    for _ in range(n_iter):
        rr, tt = r[keep], t[keep]
        if rr.size < 20:
            return 0.0
        tm, rm = tt.mean(), rr.mean()
        var_t = np.mean((tt - tm) ** 2)
        if var_t <= 1e-12:
            return 0.0
        a = float(np.mean((tt - tm) * (rr - rm)) / var_t)
        res = r - a * t - (rm - a * tm)
        sig = 1.4826 * np.median(np.abs(res[keep] - np.median(res[keep])))
        if not np.isfinite(sig) or sig <= 0:
            break
        new = np.abs(res) < nsigma * sig
        if np.array_equal(new, keep):
            break
        keep = new
    return a


def fit_pedestal(
    resid: np.ndarray,
    template: np.ndarray,
    mask: np.ndarray,
    *,
    origin: tuple[int, int] = (0, 0),
    band_rows: int = BAND_ROWS,
    nsigma: float = 3.0,
    n_iter: int = 3,
    stride: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit the template amplitude in each amplifier band.

    Parameters
    ----------
    resid : ndarray
        Frame minus the other components.
    template : ndarray
        Pedestal template, same shape.
    mask : ndarray of bool
        True where pixels must not be used (traces, bad pixels).
    origin : tuple of int
        Full-frame position of the frame (bands are in full-frame rows).
    band_rows : int
        Rows per amplifier band.
    nsigma, n_iter : float, int
        Sigma clipping of the fit.
    stride : int
        Use every ``stride``-th pixel in each direction (speed; the fit has two parameters).

    Returns
    -------
    model : ndarray
        ``a_band * template`` in each band.
    amplitudes : ndarray
        One amplitude per band (0 where the band has no usable template contrast).
    """
    model = np.zeros(resid.shape)
    amps = []
    for band in amplifier_bands(resid.shape, origin=origin, band_rows=band_rows):
        sub = (slice(band.start, band.stop, stride), slice(None, None, stride))
        r, t = resid[sub], template[sub]
        ok = ~mask[sub] & np.isfinite(r)
        a = _fit_band(r[ok], t[ok], nsigma=nsigma, n_iter=n_iter)
        amps.append(a)
        model[band] = a * template[band]
    return model, np.asarray(amps)
