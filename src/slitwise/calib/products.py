"""Rectified ground-based slits on disk (``*.rect.fits``).

One file per (science frame, slit)::

    PRIMARY  ORIGIN, RECTKIND='GROUND', INSTRUME, GRATING (= instrument name), FILTER,
             SLITID, SOURCEID, SRCNAME, EXPTIME [s], FRAME (science file name),
             ARCFWHM (arc line FWHM, detector pixels), DISPERS (Angstrom per detector pixel)
    SCI      (n_rows, n_wave) rectified counts per output pixel, BUNIT
    ERR      1-sigma of SCI
    WAVE     (n_wave,) wavelength of each column, um
    YSLIT    (n_rows,) slit position of each row, pixels from the slit centre

The SCI header repeats SLITID / SOURCEID / SRCNAME so that the pipeline's source discovery
(which reads only SCI and PRIMARY headers) groups the exposures of one slit together.
The resolving power of a column is ``lambda / (ARCFWHM * DISPERS)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic
from slitwise.spectra import RectifiedSpectrum2D

__all__ = ["RECTKIND", "write_rectified", "read_rectified", "is_ground_rectified"]

#: PRIMARY ``RECTKIND`` value that marks a rectified ground-based slit.
RECTKIND = "GROUND"


def write_rectified(
    rect: RectifiedSpectrum2D,
    path: str | os.PathLike,
    *,
    model=None,
    exptime: float = 1.0,
    frame: str = "",
) -> Path:
    """Write one rectified slit (layout in the module docstring), atomically.

    ``model`` (the :class:`~slitwise.calib.models.SpectrographModel` used) supplies ARCFWHM
    and DISPERS; without it they are NaN (resolving power unknown).
    """
    arc_fwhm = float(model.arc_fwhm) if model is not None else float("nan")
    dispersion = float(model.config.linear_dispersion) if model is not None else float("nan")
    slit_id = int(rect.meta.get("slit_id", 0))
    name = str(rect.meta.get("source_name", f"slit{slit_id}"))
    instrument = str(rect.meta.get("instrument", "")) or "GROUND"
    prim = fits.Header()
    prim["ORIGIN"] = "slitwise"
    prim["RECTKIND"] = (RECTKIND, "rectified ground-based slit")
    prim["INSTRUME"] = instrument
    prim["GRATING"] = (instrument, "instrument configuration (ground)")
    prim["FILTER"] = "NONE"
    prim["SLITID"] = slit_id
    prim["SOURCEID"] = slit_id
    prim["SRCNAME"] = name
    prim["EXPTIME"] = (float(exptime), "s")
    prim["FRAME"] = os.path.basename(str(frame))
    prim["ARCFWHM"] = (float(arc_fwhm), "arc line FWHM, detector pixels")
    prim["DISPERS"] = (float(dispersion), "Angstrom per detector pixel")
    prim["SKYSUB"] = bool(rect.meta.get("sky_subtracted", False))
    sci = fits.ImageHDU(rect.sci.astype(np.float32), name="SCI")
    sci.header["BUNIT"] = rect.bunit
    for key in ("SLITID", "SOURCEID", "SRCNAME"):
        sci.header[key] = prim[key]
    err = fits.ImageHDU(np.sqrt(np.clip(rect.var, 0, None)).astype(np.float32), name="ERR")
    err.header["BUNIT"] = rect.bunit
    wave = fits.ImageHDU(np.asarray(rect.wave, float), name="WAVE")
    wave.header["BUNIT"] = "um"
    yslit = fits.ImageHDU(np.asarray(rect.y, float), name="YSLIT")
    yslit.header["BUNIT"] = "pixel"
    hdul = fits.HDUList([fits.PrimaryHDU(header=prim), sci, err, wave, yslit])
    return write_fits_atomic(hdul, path)


def is_ground_rectified(path: str | os.PathLike) -> bool:
    """True when ``path`` is a rectified ground slit written by :func:`write_rectified`."""
    try:
        return fits.getval(path, "RECTKIND", ext=0) == RECTKIND
    except (OSError, KeyError):
        return False


def read_rectified(path: str | os.PathLike) -> RectifiedSpectrum2D:
    """Read a ``*.rect.fits`` file.

    Returns
    -------
    RectifiedSpectrum2D
        ``wave`` in um, ``y`` in pixels; ``meta`` has ``slit_id``, ``source_name``,
        ``instrument``, ``exptime``, ``frame``, ``resolution`` (R per column, NaN when the
        arc width is unknown) and ``filename``.

    Raises
    ------
    SlitwiseInputError
        Not a rectified ground slit, or a missing HDU (named).
    """
    where = str(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            prim = hdul[0].header
            if prim.get("RECTKIND") != RECTKIND:
                raise input_error(where, "not a rectified ground slit (PRIMARY RECTKIND)")
            arrays = {}
            for name in ("SCI", "ERR", "WAVE", "YSLIT"):
                if name not in hdul:
                    raise input_error(f"{where}[{name}]", "HDU missing")
                arrays[name] = np.asarray(hdul[name].data, float)
            bunit = str(hdul["SCI"].header.get("BUNIT", ""))
    except OSError as exc:
        raise input_error(where, f"not a readable FITS file ({exc})") from exc
    wave_um = arrays["WAVE"]
    fwhm = float(prim.get("ARCFWHM", np.nan))
    disp = float(prim.get("DISPERS", np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        resolution = wave_um * 1e4 / (fwhm * disp)
    err = arrays["ERR"]
    return RectifiedSpectrum2D(
        sci=arrays["SCI"],
        var=np.where(np.isfinite(err), err**2, 0.0),
        wave=wave_um,
        y=arrays["YSLIT"],
        bunit=bunit,
        meta={
            "filename": where,
            "slit_id": int(prim.get("SLITID", 0)),
            "source_name": str(prim.get("SRCNAME", "")),
            "instrument": str(prim.get("INSTRUME", "")),
            "exptime": float(prim.get("EXPTIME", 1.0)),
            "frame": str(prim.get("FRAME", "")),
            "resolution": resolution,
            "y_unit": "pix",
        },
    )
