"""Ground-based programs through the runner: calibrate -> extract -> zfit -> summary.

Truth comes from the MOS simulator (redshifts, the noiseless science frame, the true model).
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table

from slitwise.calib.rectify import rectify_slit
from slitwise.errors import SlitwiseInputError
from slitwise.extract.ground import prepare_ground
from slitwise.extract.optimal import fit_rectified_profile, optimal_extract
from slitwise.io.spec_product import read_spec, read_spec_1d
from slitwise.pipeline.config import load_config
from slitwise.pipeline.runner import run_pipeline
from slitwise.simulate import mos as mos_sim
from slitwise.simulate.mos import make_mos_frames, simulate_mos


def _write_config(path, extra=""):
    path.write_text(
        """
[run]
output_dir = "products"
root = "gr"
stages = ["calibrate", "extract", "zfit", "summary"]

[calibrate]
instrument = "sim/mos_instrument.icf"
mask = "sim/mos_mask.mdf"
arc = "sim/mos_arc.fits"
flat = "sim/mos_flat.fits"
science = ["sim/mos_science*.fits"]
"""
        + extra
    )
    return path


@pytest.fixture(scope="module")
def ground_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ground")
    written = simulate_mos(root / "sim", n_slits=8, seed=3, long_slit=False)
    # a second exposure of the same mask: the runner stacks the two frames of each slit
    with fits.open(written["mos_science"]) as hdul:
        rng = np.random.default_rng(1)
        hdul[0].data = hdul[0].data + rng.normal(0, 1.0, hdul[0].data.shape).astype(np.float32)
        hdul.writeto(root / "sim" / "mos_science2.fits")
    cfg = load_config(_write_config(root / "ground.toml"))
    run = run_pipeline(cfg, progress=False)
    return root, cfg, run, QTable.read(written["mos_truth"])


def test_ground_program_recovers_redshifts(ground_run):
    root, cfg, run, truth = ground_run
    assert run.n_failed == 0
    science = truth[~truth["ref"]]
    summary = Table.read(run.summary_path)
    assert len(summary) == len(science)
    for row in science:
        rec = summary[summary["source"] == f"slit{row['slit_id']}"][0]
        assert rec["status"] == "ok"
        # strong [OII], Hbeta, [OIII], Halpha at R ~ 500: dz/(1+z) well below 1e-3
        assert abs(rec["z"] - row["redshift"]) / (1 + row["redshift"]) < 1e-3
    assert (root / "calib" / "model.yaml").is_file()
    assert set(run.stage_times) >= {"calibrate", "extract", "zfit", "summary"}


def test_ground_products_stack_both_frames(ground_run):
    root, _, _, truth = ground_run
    sid = int(truth[~truth["ref"]]["slit_id"][0])
    path = root / "products" / f"gr_simmos-none_slit{sid}.spec.fits"
    prod = read_spec(path)
    assert len(prod.exposures) == 2
    assert prod.meta["FLUXCAL"] == "relative"
    assert path.with_name(path.name.replace(".spec.fits", ".spec.png")).stat().st_size > 10000
    spec = read_spec_1d(path)
    # resolving power from the arc line width: lambda / (FWHM * dispersion), ~500 here
    assert spec.resolution is not None and 300 < np.nanmedian(spec.resolution) < 800
    assert len(list((root / "calib" / "rectified").glob("*.rect.fits"))) == 2 * len(
        truth[~truth["ref"]]
    )


def test_ground_rerun_skips_everything(ground_run):
    root, cfg, _, _ = ground_run
    model = root / "calib" / "model.yaml"
    spec = sorted((root / "products").glob("*.spec.fits"))[0]
    before = (model.stat().st_mtime_ns, spec.stat().st_mtime_ns)
    again = run_pipeline(cfg, progress=False)
    assert [r["status"] for r in again.calibrate_reports] == ["skipped"] * 3
    assert all(r.status == "skipped" for r in again.results)
    assert (model.stat().st_mtime_ns, spec.stat().st_mtime_ns) == before


def test_ground_config_errors(tmp_path):
    (tmp_path / "sim").mkdir()
    cfg = load_config(_write_config(tmp_path / "a.toml").as_posix())
    with pytest.raises(SlitwiseInputError, match=r"science .*matches no file"):
        run_pipeline(cfg, progress=False)
    path = tmp_path / "b.toml"
    path.write_text('[calibrate]\ninstrument = "x.icf"\nscience = ["*.fits"]\n')
    with pytest.raises(SlitwiseInputError, match=r"\[calibrate\] mask.*required"):
        run_pipeline(load_config(path), progress=False)


@pytest.fixture(scope="module")
def frames():
    return make_mos_frames(n_slits=6, seed=5)


def _noiseless(frames):
    # the simulator's variance frame is the expected counts plus the read noise squared
    return frames.science_var - mos_sim._READ_NOISE**2


def test_rectified_variance_right_for_aperture_sums(frames):
    truth_img = _noiseless(frames)
    ratios = []
    for slit in frames.mask.science[:3]:
        a = rectify_slit(frames.model, slit, frames.science, frames.science_var)
        b = rectify_slit(frames.model, slit, truth_img, frames.science_var)
        diff, var = a.sci - b.sci, a.var
        ny, nx = ((diff.shape[0] - 2) // 16) * 16, ((diff.shape[1] - 2) // 8) * 8
        block_d = diff[1 : 1 + ny, 1 : 1 + nx].reshape(ny // 16, 16, nx // 8, 8).sum((1, 3))
        block_v = var[1 : 1 + ny, 1 : 1 + nx].reshape(ny // 16, 16, nx // 8, 8).sum((1, 3))
        ok = np.isfinite(block_d) & (block_v > 0)
        ratios.append(np.std(block_d[ok] / np.sqrt(block_v[ok])))
    # sums of 16 x 8 rectified pixels: measured 0.95-0.98 (edge effects of finite blocks)
    assert 0.9 < np.mean(ratios) < 1.1


def test_ground_extraction_against_noiseless_truth(frames):
    truth_img = _noiseless(frames)
    for slit in frames.mask.science[:3]:
        a = rectify_slit(frames.model, slit, frames.science, frames.science_var)
        b = rectify_slit(frames.model, slit, truth_img, frames.science_var)
        pa, pb = prepare_ground([a]), prepare_ground([b])
        row = frames.truth[frames.truth["slit_id"] == slit.id][0]
        t_row = row["t_object"] * a.shape[0] - 0.5
        assert abs(pa.row - t_row) < 1.5  # object found where it was put
        trace = fit_rectified_profile(pa.rect, y0=pa.row)
        sa, _ = optimal_extract(pa.rect, profile=trace)
        sb, _ = optimal_extract(pb.rect, profile=trace)
        d = (sa.flux - sb.flux).value
        e = sa.err.value
        ok = np.isfinite(d) & (e > 0)
        # unbiased: median ratio to the noiseless extraction within 1 %
        assert np.median(sa.flux.value[ok] / sb.flux.value[ok]) == pytest.approx(1.0, abs=0.01)
        # errors honest for sums of 4 pixels (measured 1.10-1.18 with the model variance)
        n = ok.sum() // 4 * 4
        d4 = d[ok][:n].reshape(-1, 4).sum(1)
        e4 = np.sqrt((e[ok][:n] ** 2).reshape(-1, 4).sum(1))
        assert 0.8 < np.std(d4 / e4) < 1.25


def test_ground_program_with_a_given_model(ground_run, tmp_path):
    # a refined model (here: 'calib refit' of the run's own line table) is used as is
    from slitwise.calib.stage import refit_calibration

    root, _, _, truth = ground_run
    refit_calibration(root / "calib" / "model.yaml", root / "sim" / "mos_mask.mdf",
                      root / "calib" / "lines.ecsv", tmp_path / "refined", plots=False)  # fmt: skip
    model = tmp_path / "refined" / "model.yaml"
    before = model.stat().st_mtime_ns
    extra = f'model = "{model.as_posix()}"\noutput_dir = "{(tmp_path / "cal").as_posix()}"\n'
    path = _write_config(root / "given.toml", extra)
    text = path.read_text().replace('output_dir = "products"', 'output_dir = "products_given"')
    text = text.replace('"calibrate", "extract", "zfit", "summary"', '"calibrate", "extract"')
    path.write_text(text)
    run = run_pipeline(load_config(path), progress=False)
    assert run.n_failed == 0
    assert run.calibrate_reports[0]["status"] == "skipped"  # not refitted
    assert model.stat().st_mtime_ns == before
    assert len(list((tmp_path / "cal" / "rectified").glob("*.rect.fits"))) == 2 * len(
        truth[~truth["ref"]]
    )
    assert len(list((root / "products_given").glob("*.spec.fits"))) == len(truth[~truth["ref"]])
