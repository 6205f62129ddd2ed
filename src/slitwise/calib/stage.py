"""File-level calibration steps: fit the models from an arc and a flat, rectify science frames.

Thin I/O shells around :func:`slitwise.calib.fit_models` and
:func:`slitwise.calib.rectify.rectify_slit`, used by ``slitwise calib`` and by the pipeline's
``calibrate`` stage. Outputs of one calibration directory::

    model.yaml                       OPT/CRV/IDS (+ arc line FWHM)
    slits.ecsv                       per-slit flags and fit residuals
    lines.ecsv                       identified arc lines, editable (slitwise.calib.refine)
    arcs.fits                        arc flux of every slit slice with its model wavelengths
                                     (the stored arcs a later night is cross-correlated with)
    qa_model.png, qa_residuals.png   model over the arc frame; residuals per line and slit
    rectified/<frame>_slit<ID>.rect.fits   one per science slit and frame
    rectified/<frame>.done.json      written last: the frame is complete
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import QTable

from slitwise.calib.qa import plot_line_residuals, plot_model_on_frame
from slitwise.calib.refine import edges_table, lines_table, write_lines_table
from slitwise.errors import input_error
from slitwise.io.atomic import atomic_path

__all__ = [
    "read_frame",
    "fit_calibration",
    "refit_calibration",
    "write_stored_arcs",
    "read_stored_arcs",
    "rectify_frame",
    "science_slits",
]

log = logging.getLogger(__name__)


def read_frame(path: str | os.PathLike, hdu, *, what: str) -> np.ndarray:
    """Read a 2D image from ``path[hdu]``; errors name the option ``what`` and the HDU."""
    p = Path(path)
    if not p.is_file():
        raise input_error(what, f"file not found: {path}")
    try:
        with fits.open(p, memmap=False) as hdul:
            try:
                data = hdul[hdu].data
            except (KeyError, IndexError):
                raise input_error(f"{path}[{hdu}]", "HDU not found (instrument data_hdu)") from None
            if data is None or np.ndim(data) != 2:
                raise input_error(f"{path}[{hdu}]", "expected a 2D image")
            return np.asarray(data, float)
    except OSError as exc:
        raise input_error(path, f"not a readable FITS file ({exc})") from None


def fit_calibration(
    instrument: str | os.PathLike,
    mask: str | os.PathLike,
    arc: str | os.PathLike,
    flat: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    labels: tuple[str, str] = ("arc", "flat"),
    plots: bool = True,
    tune_from: str | os.PathLike | None = None,
    **options,
):
    """Fit OPT/CRV/IDS and write ``model.yaml`` and ``slits.ecsv`` into ``out_dir``.

    Also writes the editable tables ``lines.ecsv`` (arc lines) and ``edges.ecsv`` (slit ends)
    and, with ``plots``, the QA figures.
    ``labels`` name the arc and flat options in error messages (e.g. ``--arc``).
    ``tune_from``: a previous calibration directory (``model.yaml``, ``arcs.fits``): per-night
    tuning from that model and its arcs instead of a blind fit.
    ``options`` go to :func:`slitwise.calib.fit_models` (``lamps``, ``nsplit``, ``flip_x``,
    ``flip_y``, degrees). Returns the :class:`~slitwise.calib.CalibrationResult`.
    """
    from slitwise.calib.calibrate import fit_models
    from slitwise.calib.instrument_file import read_instrument
    from slitwise.calib.mask_file import read_mask
    from slitwise.calib.models import save_model

    config = read_instrument(instrument)
    mask_obj = read_mask(mask)
    arc_img = read_frame(arc, config.data_hdu, what=labels[0])
    flat_img = read_frame(flat, config.data_hdu, what=labels[1])
    if tune_from is not None:
        from slitwise.calib.models import load_model

        stored = Path(tune_from)
        options["initial"] = load_model(stored / "model.yaml")
        arcs = stored / "arcs.fits"
        options["stored_arcs"] = read_stored_arcs(arcs) if arcs.exists() else None
    result = fit_models(config, mask_obj, arc_img, flat_img, **options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = result.slits.copy()
    table.meta.update(
        {
            "opt_rms_px": result.opt_rms,
            "crv_rms_px": result.crv_rms,
            "ids_rms_px": result.ids_rms,
            "arc_fwhm_px": result.model.arc_fwhm,
        }  # fmt: skip
    )
    with atomic_path(out / "slits.ecsv") as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    save_model(result.model, out / "model.yaml")
    write_stored_arcs(result, mask_obj, out / "arcs.fits")
    lines = lines_table(result.model, result.samples)
    write_lines_table(lines, out / "lines.ecsv")
    write_lines_table(edges_table(result.model, result.edges), out / "edges.ecsv")
    if plots:
        plot_model_on_frame(result.model, mask_obj, arc_img, out / "qa_model.png", lines=lines)
        plot_line_residuals(lines, out / "qa_residuals.png")
    return result


def refit_calibration(
    model_path: str | os.PathLike,
    mask: str | os.PathLike,
    lines_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    frame: str | os.PathLike | None = None,
    plots: bool = True,
    edges_path: str | os.PathLike | None = None,
):
    """Refit a stored model from an edited ``lines.ecsv`` (and, when given, an edited
    ``edges.ecsv``); write model, tables and QA plots.

    Returns ``(model, rms_per_slit, rms)``.
    """
    from slitwise.calib.mask_file import read_mask
    from slitwise.calib.models import load_model, save_model
    from slitwise.calib.refine import (
        read_edges_table,
        read_lines_table,
        refit_from_lines,
        with_edge_model_columns,
        with_model_columns,
    )

    model = load_model(model_path)
    mask_obj = read_mask(mask)
    table = read_lines_table(lines_path)
    edges = read_edges_table(edges_path) if edges_path is not None else None
    new, per_slit, rms = refit_from_lines(model, mask_obj, table, edges=edges)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = with_model_columns(table, new)
    save_model(new, out / "model.yaml")
    write_lines_table(table, out / "lines.ecsv")
    if edges is not None:
        write_lines_table(with_edge_model_columns(edges, new), out / "edges.ecsv")
    if plots:
        plot_line_residuals(table, out / "qa_residuals.png")
        if frame is not None:
            image = read_frame(frame, new.config.data_hdu, what="--frame")
            plot_model_on_frame(new, mask_obj, image, out / "qa_model.png", lines=table)
    return new, per_slit, rms


def write_stored_arcs(result, mask, path: str | os.PathLike) -> Path:
    """Arc flux of every slice and its wavelengths from the fitted model (a BINTABLE)."""
    from slitwise.calib.calibrate import wavelength_search_range
    from slitwise.io.atomic import write_fits_atomic

    model = result.model
    nd = model.config.n_disp
    cols = np.arange(nd, dtype=float)
    wr = wavelength_search_range(model.config)
    slits = {s.id: s for s in mask}
    ids, ts, fluxes, waves = [], [], [], []
    for (sid, t), flux in sorted(result.arc_spectra.items()):
        x, y = slits[sid].point(t)
        try:
            lam = model.ids.wavelength(
                float(x), float(y), cols - float(model.opt.d(x, y)), wave_range=wr
            )
        except Exception:  # noqa: BLE001 - a slice the model cannot invert is not stored
            continue
        ids.append(sid)
        ts.append(t)
        fluxes.append(np.asarray(flux, np.float32))
        waves.append(lam)
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("slit_id", "J", array=np.asarray(ids, np.int32)),
            fits.Column("t", "D", array=np.asarray(ts, float)),
            fits.Column("flux", f"{nd}E", array=np.asarray(fluxes).reshape(len(ids), nd)),
            fits.Column(
                "wave", f"{nd}D", unit="Angstrom", array=np.asarray(waves).reshape(len(ids), nd)
            ),  # fmt: skip
        ],
        name="ARCS",
    )
    return write_fits_atomic(fits.HDUList([fits.PrimaryHDU(), hdu]), path)


def read_stored_arcs(path: str | os.PathLike) -> dict:
    """``(slit_id, t) -> (flux, wavelength per pixel)`` from :func:`write_stored_arcs`."""
    try:
        with fits.open(path, memmap=False) as hdul:
            data = hdul["ARCS"].data
            return {
                (int(r["slit_id"]), round(float(r["t"]), 4)): (
                    np.asarray(r["flux"], float),
                    np.asarray(r["wave"], float),
                )
                for r in data
            }
    except (OSError, KeyError) as exc:
        raise input_error(path, f"not a stored-arcs file with an ARCS table ({exc})") from None


def science_slits(mask, slits_table: QTable | None = None):
    """Science slits (not alignment boxes) without a calibration flag."""
    flagged = set()
    if slits_table is not None:
        flagged = {int(r["slit_id"]) for r in slits_table if int(r["flag"]) != 0}
    return [s for s in mask if not s.ref and s.id not in flagged]


def _frame_variance(path, frame, *, var_hdu, gain, read_noise):
    if var_hdu:
        with fits.open(path, memmap=False) as hdul:
            if var_hdu in hdul:
                return np.asarray(hdul[var_hdu].data, float)
        log.warning("%s has no %s HDU: variance from Poisson (gain %.3g) and read noise %.3g e-",
                    path, var_hdu, gain, read_noise)  # fmt: skip
    return np.clip(frame, 0, None) / gain + (read_noise / gain) ** 2


def rectify_frame(
    frame_path: str | os.PathLike,
    model_path: str | os.PathLike,
    mask_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    var_hdu: str | None = "VAR",
    gain: float = 1.0,
    read_noise: float = 5.0,
    slits_table: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Rectify every good science slit of one frame into ``out_dir``.

    Skips a frame whose ``<frame>.done.json`` exists unless ``overwrite``. Returns the paths of
    the rectified slits (also when skipped).
    """
    from slitwise.calib.mask_file import read_mask
    from slitwise.calib.models import load_model
    from slitwise.calib.products import write_rectified
    from slitwise.calib.rectify import rectify_slit

    out = Path(out_dir)
    stem = Path(frame_path).name.removesuffix(".gz").removesuffix(".fits")
    done = out / f"{stem}.done.json"
    if done.exists() and not overwrite:
        return [out / name for name in json.loads(done.read_text())["files"]]
    model = load_model(model_path)
    mask = read_mask(mask_path)
    table = QTable.read(slits_table, format="ascii.ecsv") if slits_table else None
    image = read_frame(frame_path, model.config.data_hdu, what=str(frame_path))
    var = _frame_variance(frame_path, image, var_hdu=var_hdu, gain=gain, read_noise=read_noise)
    if var.shape != image.shape:
        raise input_error(f"{frame_path}[{var_hdu}]", f"shape {var.shape} != image {image.shape}")
    exptime = float(fits.getheader(frame_path, 0).get("EXPTIME", 1.0))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for slit in science_slits(mask, table):
        if not model.on_detector(slit):
            log.warning("slit %d is off the detector; not rectified", slit.id)
            continue
        rect = rectify_slit(model, slit, image, var)
        path = write_rectified(
            rect,
            out / f"{stem}_slit{slit.id}.rect.fits",
            model=model,
            exptime=exptime,
            frame=str(frame_path),
        )
        written.append(path)
    with atomic_path(done) as tmp:
        tmp.write_text(json.dumps({"frame": str(frame_path), "files": [p.name for p in written]}))
    log.info("rectified %d slits of %s", len(written), frame_path)
    return written
