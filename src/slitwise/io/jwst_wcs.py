"""Evaluate the ASDF (gwcs) world coordinate system stored in JWST FITS products.

JWST products keep their WCS as a gwcs object serialised in an ``ASDF`` extension. Rectified
``s2d`` products use only standard astropy models and load with ``asdf`` + ``gwcs`` (already
installed with specutils). Unrectified ``cal``/``phot`` slitlets use JWST-specific transforms
(``tag:stsci.edu:jwst_pipeline/...``) that need ``stdatamodels``: install the optional extra
``pip install slitwise[wcs]``. Without it, those WCSs raise a clear
:class:`~slitwise.errors.SlitwiseInputError` instead of failing inside asdf.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.fitsutil import open_fits, require_hdu

__all__ = ["load_asdf_tree", "load_gwcs", "evaluate_slit_wcs", "evaluate_wcs_grid"]


def load_asdf_tree(hdul: fits.HDUList, path: str) -> dict[str, Any]:
    """Return the ASDF tree embedded in the ``ASDF`` extension of a JWST product.

    References to FITS arrays (``fits:SCI,1``) are left unresolved: only metadata and the WCS
    are needed here, and the arrays are read from the FITS HDUs directly.
    """
    try:
        import asdf
    except ImportError as exc:  # pragma: no cover - asdf comes with specutils/gwcs
        raise input_error(path, "reading the ASDF WCS needs the 'asdf' package") from exc
    hdu = require_hdu(hdul, "ASDF", path, expected="a JWST product with an ASDF WCS")
    try:
        raw = hdu.data["ASDF_METADATA"][0].tobytes()
    except (KeyError, IndexError, TypeError) as exc:
        raise input_error(f"{path}[ASDF]", "no ASDF_METADATA column") from exc
    with warnings.catch_warnings():
        # unresolved fits: array references and JWST tags without stdatamodels are reported
        # as conversion warnings; load_gwcs checks the result itself.
        warnings.simplefilter("ignore", asdf.exceptions.AsdfWarning)
        try:
            with asdf.open(io.BytesIO(raw), lazy_load=False, memmap=False) as af:
                tree = dict(af.tree)
        except Exception as exc:  # asdf raises many types for corrupt input
            raise input_error(f"{path}[ASDF]", f"unreadable ASDF block ({exc})") from exc
    return tree


def load_gwcs(hdul: fits.HDUList, path: str):
    """Return the gwcs ``WCS`` object of a JWST product (``meta.wcs`` of its ASDF tree).

    Raises
    ------
    SlitwiseInputError
        No ASDF WCS, or the WCS uses JWST transforms and ``stdatamodels`` is not installed.
    """
    tree = load_asdf_tree(hdul, path)
    wcs = tree.get("meta", {}).get("wcs")
    if wcs is None:
        raise input_error(f"{path}[ASDF]", "no meta.wcs in the ASDF tree")
    try:
        from gwcs import WCS
    except ImportError as exc:  # pragma: no cover
        raise input_error(
            path, "evaluating the WCS needs 'gwcs' (pip install slitwise[wcs])"
        ) from exc
    if not isinstance(wcs, WCS):
        raise input_error(
            f"{path}[ASDF]",
            "the WCS uses JWST pipeline transforms; install the optional extra "
            "'pip install slitwise[wcs]' (stdatamodels) to evaluate it",
        )
    return wcs


def evaluate_wcs_grid(wcs, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate ``detector -> slit_frame`` on a ``(ny, nx)`` pixel grid.

    Returns
    -------
    wave : ndarray, shape (ny, nx)
        Wavelength in micron (NaN outside the bounding box).
    yslit : ndarray, shape (ny, nx)
        Slit-frame cross-dispersion coordinate (shutter pitches for NIRSpec MSA).
    """
    ny, nx = shape
    y, x = np.mgrid[:ny, :nx].astype(float)
    # the slit_frame wavelength is in metres whatever the frame metadata says, so take the
    # wavelength from the world frame, whose unit is reliable (micron for NIRSpec)
    _, yslit, _ = wcs.get_transform("detector", "slit_frame")(x, y)
    world = wcs(x, y)
    frame = wcs.output_frame
    names = [str(n).lower() for n in frame.axes_names]
    iwave = names.index("wavelength") if "wavelength" in names else len(world) - 1
    wave = (np.asarray(world[iwave], dtype=float) * u.Unit(frame.unit[iwave])).to_value(u.um)
    return wave, np.asarray(yslit, dtype=float)


def evaluate_slit_wcs(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Wavelength (micron) and slit-frame y of every SCI pixel of a JWST slit product.

    Parameters
    ----------
    path : str or path-like
        A JWST ``s2d``, ``cal`` or ``phot`` slitlet file with an ``ASDF`` extension.

    Returns
    -------
    wave, yslit : ndarray, shape of SCI
    """
    path = str(path)
    with open_fits(path) as hdul:
        sci = require_hdu(hdul, "SCI", path, expected="a JWST slit product")
        shape = sci.data.shape
        if len(shape) != 2:
            raise input_error(f"{path}[SCI]", f"expected a 2D image, got shape {shape}")
        wcs = load_gwcs(hdul, path)
    return evaluate_wcs_grid(wcs, shape)
