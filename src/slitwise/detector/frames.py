"""Read and write full-frame count-rate images (JWST ``rate`` files and look-alikes).

A rate file holds one 2-D count-rate image: ``SCI`` (DN/s), ``ERR``, ``DQ`` and, optionally,
the variance components ``VAR_POISSON``, ``VAR_RNOISE`` (and ``VAR_FLAT``). Anything else (a
3-D ``rateints`` or ramp cube, a ``cal`` product with one SCI per slitlet, an image in MJy/sr)
is refused with a :class:`~slitwise.errors.SlitwiseInputError` that names the file and HDU.

Subarrays are placed on the full detector with the JWST keywords ``SUBSTRT1``/``SUBSTRT2``
(1-based first column/row), so that amplifier bands and the fixed-slit region are found in
full-frame coordinates.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic
from slitwise.io.fitsutil import open_fits, require_hdu

__all__ = [
    "RateFrame",
    "read_rate_frame",
    "write_rate_frame",
    "VAR_NAMES",
    "RATE_UNITS",
    "DQ_DO_NOT_USE",
    "DQ_JUMP_DET",
]

#: Variance extensions carried along (when present), in the order they are written.
VAR_NAMES = ("VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")
#: BUNIT values accepted as a count rate (compared case- and space-insensitively).
RATE_UNITS = ("DN/S", "DN/SEC", "COUNTS/S", "COUNT/S", "E-/S", "ELECTRON/S", "ELECTRONS/S")
#: JWST DQ bits used here.
DQ_DO_NOT_USE = 1
DQ_JUMP_DET = 4


@dataclasses.dataclass(eq=False)
class RateFrame:
    """One count-rate image with its uncertainties and quality flags.

    Attributes
    ----------
    sci, err : ndarray
        Count rate and its 1-sigma uncertainty, float64, shape ``(ny, nx)``.
    dq : ndarray
        Data-quality bitmask (uint32, JWST bits).
    var : dict of str to ndarray
        Variance components present in the file (keys from :data:`VAR_NAMES`).
    header : astropy.io.fits.Header
        Primary header (DETECTOR, GRATING, EFFEXPTM, ...).
    sci_header : astropy.io.fits.Header
        SCI extension header (BUNIT).
    path : str or None
        File the frame was read from (the writer copies its other HDUs).
    """

    sci: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    var: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    header: fits.Header = dataclasses.field(default_factory=fits.Header)
    sci_header: fits.Header = dataclasses.field(default_factory=fits.Header)
    path: str | None = None

    def __post_init__(self) -> None:
        where = self.path or "rate frame"
        self.sci = np.asarray(self.sci, dtype=float)
        if self.sci.ndim != 2:
            raise input_error(f"{where}[SCI]", f"got {self.sci.ndim}-D data; expected 2-D")
        self.err = _check_shape(self.err, self.sci.shape, f"{where}[ERR]", float)
        self.dq = _check_shape(self.dq, self.sci.shape, f"{where}[DQ]", np.uint32)
        self.var = {
            k: _check_shape(v, self.sci.shape, f"{where}[{k}]", float) for k, v in self.var.items()
        }

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return self.sci.shape

    @property
    def detector(self) -> str:
        """``NRS1``/``NRS2`` (or whatever DETECTOR says; empty when absent)."""
        return str(self.header.get("DETECTOR", "")).upper()

    @property
    def grating(self) -> str:
        """Upper-case GRATING keyword (empty when absent)."""
        return str(self.header.get("GRATING", "")).upper()

    @property
    def is_prism(self) -> bool:
        """Whether the frame was taken with the PRISM."""
        return self.grating == "PRISM"

    @property
    def origin(self) -> tuple[int, int]:
        """0-based full-frame ``(row, column)`` of pixel ``[0, 0]`` (SUBSTRT2/SUBSTRT1 - 1)."""
        hdr = self.header
        return int(hdr.get("SUBSTRT2", 1)) - 1, int(hdr.get("SUBSTRT1", 1)) - 1

    def copy(self) -> RateFrame:
        """Deep copy (arrays and headers)."""
        return RateFrame(
            sci=self.sci.copy(),
            err=self.err.copy(),
            dq=self.dq.copy(),
            var={k: v.copy() for k, v in self.var.items()},
            header=self.header.copy(),
            sci_header=self.sci_header.copy(),
            path=self.path,
        )


def _check_shape(arr, shape, where: str, dtype) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.shape != tuple(shape):
        raise input_error(where, f"shape {arr.shape} does not match SCI {tuple(shape)}")
    return arr.astype(dtype, copy=False)


def _image_hdus(hdul: fits.HDUList, name: str) -> list[fits.FitsHDU]:
    return [h for h in hdul if h.name == name]


def read_rate_frame(path: str | os.PathLike) -> RateFrame:
    """Read a full-frame (or subarray) count-rate image.

    Parameters
    ----------
    path : str or path-like
        A JWST ``*_rate.fits`` file, or any FITS file with 2-D ``SCI``, ``ERR`` and ``DQ``
        image extensions of one shape and a count-rate ``BUNIT`` (if BUNIT is given).

    Returns
    -------
    RateFrame

    Raises
    ------
    SlitwiseInputError
        If the file is not FITS, lacks SCI/ERR/DQ, holds more than one SCI (a ``cal``
        product), has a 3-D SCI (``rateints``/ramp), a non-rate BUNIT, or extensions whose
        shapes disagree.
    """
    path = str(path)
    hint = "a count-rate image (rate.fits) with SCI, ERR and DQ"
    with open_fits(path) as hdul:
        scis = _image_hdus(hdul, "SCI")
        if not scis:
            raise input_error(f"{path}[SCI]", f"HDU missing; expected {hint}")
        if len(scis) > 1:
            raise input_error(
                path,
                f"found {len(scis)} SCI extensions (a cal/s2d product?); expected one "
                "full-frame count-rate image",
            )
        sci_hdu = scis[0]
        data = sci_hdu.data
        if data is None or not isinstance(sci_hdu, fits.ImageHDU | fits.PrimaryHDU):
            raise input_error(f"{path}[SCI]", f"no image data; expected {hint}")
        if data.ndim != 2:
            raise input_error(
                f"{path}[SCI]",
                f"got {data.ndim}-D data of shape {data.shape}; expected a 2-D count-rate "
                "image (rateints and ramp files are not accepted)",
            )
        bunit = str(sci_hdu.header.get("BUNIT", "")).strip()
        if bunit and bunit.upper().replace(" ", "") not in RATE_UNITS:
            raise input_error(
                f"{path}[SCI]",
                f"BUNIT '{bunit}' is not a count rate; expected DN/s (a rate file, not cal)",
            )
        arrays = {}
        for name in ("ERR", "DQ"):
            hdu = require_hdu(hdul, name, path, expected=hint)
            if hdu.data is None:
                raise input_error(f"{path}[{name}]", "no image data")
            arrays[name] = np.asarray(hdu.data)
        var = {}
        for name in VAR_NAMES:
            if name in [h.name for h in hdul] and hdul[name].data is not None:
                var[name] = np.asarray(hdul[name].data)
        for name, arr in list(arrays.items()) + list(var.items()):
            if arr.shape != data.shape:
                raise input_error(
                    f"{path}[{name}]", f"shape {arr.shape} does not match SCI {data.shape}"
                )
        return RateFrame(
            sci=np.asarray(data, dtype=float),
            err=arrays["ERR"],
            dq=arrays["DQ"],
            var=var,
            header=hdul[0].header.copy(),
            sci_header=sci_hdu.header.copy(),
            path=path,
        )


def _image(name: str, data: np.ndarray, header: fits.Header | None = None) -> fits.ImageHDU:
    return fits.ImageHDU(data=data, header=header, name=name)


def write_rate_frame(
    frame: RateFrame,
    path: str | os.PathLike,
    *,
    keywords: dict[str, tuple[object, str]] | None = None,
    like: str | os.PathLike | None = None,
    dtype=np.float32,
) -> Path:
    """Write ``frame`` atomically as a rate-like file.

    Parameters
    ----------
    frame : RateFrame
        The image to write.
    path : str or path-like
        Output file.
    keywords : dict, optional
        ``{KEY: (value, comment)}`` added to the primary header.
    like : str or path-like, optional
        A file whose HDUs are copied and whose SCI/ERR/DQ/VAR_* data are replaced, so that
        the output has the same HDUs (default: ``frame.path`` when it exists).
    dtype : numpy dtype
        Type of the SCI, ERR and VAR_* images on disk (float32 as in JWST products).

    Returns
    -------
    Path
        The written file.
    """
    like = like if like is not None else frame.path
    arrays = {"SCI": frame.sci.astype(dtype), "ERR": frame.err.astype(dtype)}
    arrays["DQ"] = frame.dq.astype(np.uint32)
    arrays.update({k: v.astype(dtype) for k, v in frame.var.items()})
    if like is not None and os.path.exists(str(like)):
        with fits.open(str(like), memmap=False) as src:
            hdul = fits.HDUList([h.copy() for h in src])
        names = [h.name for h in hdul]
        for name, arr in arrays.items():
            if name in names:
                hdul[name].data = arr
            else:
                hdul.append(_image(name, arr))
    else:
        hdul = fits.HDUList([fits.PrimaryHDU(header=frame.header.copy())])
        sci_header = frame.sci_header.copy()
        hdul.append(_image("SCI", arrays.pop("SCI"), sci_header))
        for name, arr in arrays.items():
            hdul.append(_image(name, arr))
    for key, (value, comment) in (keywords or {}).items():
        hdul[0].header[key] = (value, comment)
    return write_fits_atomic(hdul, path)
