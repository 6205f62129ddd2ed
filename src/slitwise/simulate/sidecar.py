"""Per-exposure truth files ("sidecars") next to the simulated cut-outs.

The cut-out ``DIR/{stem}.fits`` stays exactly in the layout :func:`slitwise.io.read_slitlet`
reads (one code path for real and simulated data, and no truth can leak into an extraction).
Its truth is in ``DIR/truth/{stem}.truth.fits``:

PRIMARY   : CUTOUT (file name), SOURCEID, EXPOSURE, BLOCKED (primary behind a stuck shutter),
            SERID (serendip id, -1 none), SERVIS (serendip transmitted), STUCK (k, -1 none).
TRUTH_SCI : noiseless SCI, MJy/sr, divided by PATHLOSS_PS like SCI (NaN outside the slitlet).
TRUTH_SRC : primary source only, same units.
TRUTH_SKY : sky only, same units.
TRUTH_TRACE : table, one row per column (see :class:`~slitwise.simulate.exposure.TruthExposure`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import QTable

from slitwise.errors import input_error
from slitwise.io.atomic import write_fits_atomic
from slitwise.io.fitsutil import open_fits, require_hdu
from slitwise.simulate.exposure import TruthExposure

__all__ = ["truth_path", "write_truth_exposure", "read_truth_exposure"]

_KEYS = {
    "source_blocked": "BLOCKED",
    "serendip_id": "SERID",
    "serendip_visible": "SERVIS",
    "stuck_shutter": "STUCK",
}


def truth_path(cutout: str | os.PathLike) -> Path:
    """Path of the truth sidecar of a simulated cut-out."""
    cutout = Path(cutout)
    return cutout.parent / "truth" / (cutout.stem + ".truth.fits")


def write_truth_exposure(truth: TruthExposure, cutout: str | os.PathLike, **keywords) -> Path:
    """Write the sidecar of ``cutout`` (atomically); extra ``keywords`` go to PRIMARY."""
    prim = fits.Header()
    prim["CUTOUT"] = Path(cutout).name
    for key, value in keywords.items():
        prim[key.upper()[:8]] = value
    for name, key in _KEYS.items():
        prim[key] = truth.meta[name]
    f32 = np.float32
    hdus = [
        fits.PrimaryHDU(header=prim),
        fits.ImageHDU(truth.sci.astype(f32), name="TRUTH_SCI"),
        fits.ImageHDU(truth.source.astype(f32), name="TRUTH_SRC"),
        fits.ImageHDU(truth.sky.astype(f32), name="TRUTH_SKY"),
    ]
    for h in hdus[1:]:
        h.header["BUNIT"] = "MJy/sr"
    trace = fits.table_to_hdu(truth.trace)
    trace.name = "TRUTH_TRACE"
    hdus.append(trace)
    return write_fits_atomic(fits.HDUList(hdus), truth_path(cutout))


def read_truth_exposure(cutout: str | os.PathLike) -> TruthExposure:
    """Read the truth of a simulated cut-out (give the cut-out's path, or the sidecar's)."""
    path = Path(cutout)
    if not path.name.endswith(".truth.fits"):
        path = truth_path(path)
    if not path.exists():
        raise input_error(path, "truth sidecar not found; is this a simulated cut-out?")
    with open_fits(path) as hdul:
        images = {
            name: np.asarray(require_hdu(hdul, name, str(path)).data, dtype=float)
            for name in ("TRUTH_SCI", "TRUTH_SRC", "TRUTH_SKY")
        }
        trace = QTable.read(require_hdu(hdul, "TRUTH_TRACE", str(path)))
        prim = hdul[0].header
        meta = {name: prim[key] for name, key in _KEYS.items()}
        meta["cutout"] = prim.get("CUTOUT", "")
    return TruthExposure(
        sci=images["TRUTH_SCI"],
        source=images["TRUTH_SRC"],
        sky=images["TRUTH_SKY"],
        trace=trace,
        meta=meta,
    )
