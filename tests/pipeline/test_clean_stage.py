"""The program-level clean stage: frames cleaned through the executor, skipped when done."""

from pathlib import Path

import numpy as np
from astropy.io import fits

from slitwise.pipeline.config import load_config
from slitwise.pipeline.runner import run_pipeline
from slitwise.simulate.fullframe import simulate_fullframe


def test_clean_stage_runs_and_resumes(tmp_path):
    rates = tmp_path / "rates"
    simulate_fullframe(rates, seed=4, n_traces=6, grating="PRISM/CLEAR", detectors=("NRS1",),
                       shape=(512, 2048), origin=(1024, 0))
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text(
        '[run]\nstages = ["clean"]\n'
        '[clean]\ninputs = ["rates/*_rate.fits"]\noutput_dir = "clean"\npasses = 2\n'
        "plots = false\n"
    )
    run = run_pipeline(load_config(cfg_path), progress=False)
    assert [r["status"] for r in run.clean_reports] == ["ok"]
    out = tmp_path / "clean" / "sim_nrs1_rate_clean.fits"
    with fits.open(out, checksum=True) as hdul:
        assert hdul[0].header["CLNPASS"] == 2
        assert np.isfinite(hdul["SCI"].data).mean() > 0.9
    # the cleaned frame is flatter than the input: the pedestal and 1/f are gone
    with fits.open(rates / "sim_nrs1_rate.fits") as raw, fits.open(out) as clean:
        assert np.nanstd(np.nanmedian(clean["SCI"].data, axis=0)) < 0.5 * np.nanstd(
            np.nanmedian(raw["SCI"].data, axis=0)
        )
    mtime = out.stat().st_mtime_ns
    again = run_pipeline(load_config(cfg_path), progress=False)
    assert [r["status"] for r in again.clean_reports] == ["skipped"]
    assert out.stat().st_mtime_ns == mtime
    assert Path(tmp_path / "clean").is_dir()


def test_clean_inputs_matching_nothing_is_input_error(tmp_path):
    import pytest

    from slitwise.errors import SlitwiseInputError

    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text('[run]\nstages = ["clean"]\n[clean]\ninputs = ["nothing/*.fits"]\n')
    with pytest.raises(SlitwiseInputError, match="matches no file"):
        run_pipeline(load_config(cfg_path), progress=False)
