"""Read and write slitlet cut-outs in the JWST ``cal``/``phot`` slitlet layout.

One code path serves real and simulated data: the simulator writes exactly the layout that
:func:`read_slitlet` reads from real JWST/NIRSpec cut-outs (msaexp ``*_phot.*.fits`` files,
one slitlet of a ``cal`` product per file).

Layout
------
PRIMARY : GRATING, FILTER, DETECTOR, EXPOSURE (nod index), NUMDTHPT (nod count), NOD_TYPE,
          EFFEXPTM, YOFFSET (nod offset, arcsec).
SCI     : data (BUNIT), header SOURCEID, SRCNAME, SRCXPOS, SRCYPOS, SHUTSTA, SLITID, XPOSURE.
ERR, DQ, WAVELENGTH (micron), VAR_POISSON, VAR_RNOISE, VAR_FLAT.
PRIMARY may carry PTHLSAPP (slitwise: which path-loss correction SCI carries, PS/UN/NONE)
and SRCTYPE.
Optional: PATHLOSS_PS, PATHLOSS_UN, YSLIT (slitwise extension: slit coordinate in shutter
pitches; evaluated from the ASDF gwcs for real data when the ``wcs`` extra is installed).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic
from slitwise.io.fitsutil import open_fits
from slitwise.spectra.slitlet import SlitletExposure

__all__ = ["read_slitlet", "write_slitlet", "SLITLET_REQUIRED_HDUS"]

log = logging.getLogger(__name__)

SLITLET_REQUIRED_HDUS = ("SCI", "DQ")


def _wavelength_from_wcs(hdul: fits.HDUList, path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Evaluate the wavelength (and slit y) maps from the ASDF gwcs, if the extra is installed."""
    try:
        from stdatamodels.jwst import datamodels  # noqa: F401 (optional extra)
    except ImportError as exc:
        raise input_error(
            path,
            "no WAVELENGTH HDU; evaluating the ASDF WCS needs the optional extra "
            "'pip install slitwise[wcs]'",
        ) from exc
    from slitwise.io.jwst_wcs import evaluate_slit_wcs

    return evaluate_slit_wcs(path)


def read_slitlet(path: str | os.PathLike) -> SlitletExposure:
    """Read one slitlet cut-out into a :class:`SlitletExposure`.

    Parameters
    ----------
    path : str or path-like
        FITS file in the JWST slitlet layout (see module docstring).

    Raises
    ------
    SlitwiseInputError
        Not FITS, missing SCI/DQ HDUs, no wavelength information, or inconsistent shapes.
    """
    path = str(path)
    with open_fits(path) as hdul:
        names = {h.name for h in hdul}
        for name in SLITLET_REQUIRED_HDUS:
            if name not in names:
                raise input_error(f"{path}[{name}]", "HDU missing; expected a slitlet cut-out")
        prim = hdul[0].header
        sci_hdu = hdul["SCI"]
        hdr = sci_hdu.header
        sci = np.asarray(sci_hdu.data, dtype=float)
        if sci.ndim != 2:
            raise input_error(f"{path}[SCI]", f"expected a 2D image, got shape {sci.shape}")

        def image(name: str) -> np.ndarray | None:
            return np.asarray(hdul[name].data, dtype=float) if name in names else None

        var_p, var_r, var_f = image("VAR_POISSON"), image("VAR_RNOISE"), image("VAR_FLAT")
        if var_p is None or var_r is None:
            err = image("ERR")
            if err is None:
                raise input_error(f"{path}", "neither VAR_POISSON/VAR_RNOISE nor ERR HDUs")
            var_p = np.zeros_like(sci)
            var_r = err**2
            log.warning("%s: no variance components, using ERR**2 as read-noise variance", path)
        if var_f is None:
            var_f = np.zeros_like(sci)
        yslit = image("YSLIT")
        if "WAVELENGTH" in names:
            wave = image("WAVELENGTH")
        else:
            wave, wcs_y = _wavelength_from_wcs(hdul, path)
            if yslit is None:
                yslit = wcs_y
        grating = str(prim.get("GRATING", hdr.get("GRATING", "")))
        filt = str(prim.get("FILTER", hdr.get("FILTER", "")))
        if not grating:
            raise input_error(f"{path}[PRIMARY]", "keyword GRATING missing")
        meta = {
            "filename": path,
            "nod_type": str(prim.get("NOD_TYPE", "")),
            "nod_offset": float(prim.get("YOFFSET", 0.0) or 0.0),
            "msa_metafile": str(prim.get("MSAMETFL", "")),
            "program": str(prim.get("PROGRAM", "")),
            "photmjsr": hdr.get("PHOTMJSR"),
            "pixar_sr": hdr.get("PIXAR_SR"),
            "pixar_a2": hdr.get("PIXAR_A2"),
            "slit_start": (int(hdr.get("SLTSTRT1", 1)), int(hdr.get("SLTSTRT2", 1))),
            "srctype": str(hdr.get("SRCTYPE", prim.get("SRCTYPE", ""))),
            "simulated": bool(prim.get("SIMULATE", False)),
        }
        if "PTHLSAPP" in prim:
            meta["pathloss_applied"] = str(prim["PTHLSAPP"]).upper()
        exptime = float(hdr.get("XPOSURE", prim.get("EFFEXPTM", prim.get("EXPTIME", 0.0))))
        return SlitletExposure(
            sci=sci,
            var_poisson=var_p,
            var_rnoise=var_r,
            var_flat=var_f,
            dq=np.asarray(hdul["DQ"].data).astype(np.uint32),
            wave=wave,
            yslit=yslit,
            source_id=int(hdr.get("SOURCEID", 0)),
            source_name=str(hdr.get("SRCNAME", hdr.get("SOURCEID", ""))),
            grating=grating,
            filter=filt,
            detector=str(prim.get("DETECTOR", "")),
            exptime=exptime,
            nod_position=int(prim.get("EXPOSURE", prim.get("PATT_NUM", 1))),
            n_nods=int(prim.get("NUMDTHPT", 1)),
            shutter_state=str(hdr.get("SHUTSTA", "")),
            source_xpos=float(hdr.get("SRCXPOS", 0.0)),
            source_ypos=float(hdr.get("SRCYPOS", 0.0)),
            slitlet_id=int(hdr.get("SLITID", hdr.get("SLTNAME", 0))),
            bunit=str(hdr.get("BUNIT", "")),
            pathloss_ps=image("PATHLOSS_PS"),
            pathloss_un=image("PATHLOSS_UN"),
            meta=meta,
        )


def write_slitlet(exposure: SlitletExposure, path: str | os.PathLike) -> Path:
    """Write a :class:`SlitletExposure` in the JWST slitlet layout (atomically)."""
    prim = fits.Header()
    prim["TELESCOP"] = exposure.meta.get("telescope", "JWST")
    prim["INSTRUME"] = exposure.meta.get("instrument", "NIRSPEC")
    prim["ORIGIN"] = "slitwise"
    prim["GRATING"] = exposure.grating
    prim["FILTER"] = exposure.filter
    prim["DETECTOR"] = exposure.detector
    prim["EXPOSURE"] = (exposure.nod_position, "nod position index (1-based)")
    prim["NUMDTHPT"] = (exposure.n_nods, "number of nod positions")
    prim["NOD_TYPE"] = exposure.meta.get("nod_type", f"{exposure.n_nods}-SHUTTER-SLITLET")
    prim["YOFFSET"] = (float(exposure.meta.get("nod_offset", 0.0)), "[arcsec] nod offset")
    prim["EFFEXPTM"] = (exposure.exptime, "[s] effective exposure time")
    if exposure.meta.get("pathloss_applied"):
        prim["PTHLSAPP"] = (
            str(exposure.meta["pathloss_applied"]).upper(),
            "path loss applied to SCI: PS, UN, NONE",
        )
    if exposure.meta.get("srctype"):
        prim["SRCTYPE"] = str(exposure.meta["srctype"]).upper()
    if exposure.meta.get("simulated"):
        prim["SIMULATE"] = (True, "written by slitwise.simulate")
        prim["SIMSEED"] = (int(exposure.meta.get("seed", 0)), "simulator seed")
    sci = fits.Header()
    sci["BUNIT"] = exposure.bunit
    sci["XPOSURE"] = (exposure.exptime, "[s] effective exposure time")
    sci["SLITID"] = exposure.slitlet_id
    sci["SOURCEID"] = exposure.source_id
    sci["SRCNAME"] = exposure.source_name
    sci["SRCXPOS"] = exposure.source_xpos
    sci["SRCYPOS"] = exposure.source_ypos
    sci["SHUTSTA"] = exposure.shutter_state
    sci["DISPAXIS"] = 1
    for key, comment in (("pixar_sr", "[sr] pixel area"), ("pixar_a2", "[arcsec2] pixel area")):
        if exposure.meta.get(key) is not None:
            sci[key.upper()] = (float(exposure.meta[key]), comment)
    f32 = np.float32
    hdus = [
        fits.PrimaryHDU(header=prim),
        fits.ImageHDU(exposure.sci.astype(f32), header=sci, name="SCI"),
        fits.ImageHDU(np.sqrt(exposure.var).astype(f32), name="ERR"),
        fits.ImageHDU(exposure.dq.astype(np.uint32), name="DQ"),
        fits.ImageHDU(exposure.wave.astype(f32), name="WAVELENGTH"),
        fits.ImageHDU(exposure.var_poisson.astype(f32), name="VAR_POISSON"),
        fits.ImageHDU(exposure.var_rnoise.astype(f32), name="VAR_RNOISE"),
        fits.ImageHDU(exposure.var_flat.astype(f32), name="VAR_FLAT"),
    ]
    hdus[2].header["BUNIT"] = exposure.bunit
    hdus[4].header["BUNIT"] = "um"
    for name in ("pathloss_ps", "pathloss_un"):
        arr = getattr(exposure, name)
        if arr is not None:
            hdus.append(fits.ImageHDU(arr.astype(f32), name=name.upper()))
    if exposure.yslit is not None:
        hdus.append(fits.ImageHDU(exposure.yslit.astype(f32), name="YSLIT"))
    return write_fits_atomic(fits.HDUList(hdus), path)
