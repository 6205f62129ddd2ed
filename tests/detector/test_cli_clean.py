"""``slitwise clean`` end to end on simulator files, and its input errors (exit status 2)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

import slitwise.cli as cli
from slitwise.detector import make_trace_table, read_rate_frame, read_trace_table
from slitwise.detector.traces import write_trace_table
from slitwise.simulate.fullframe import simulate_fullframe


@pytest.fixture
def main(monkeypatch):
    """``slitwise.cli.main`` with ``clean`` registered (the lead adds it to COMMANDS)."""
    if "clean" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "clean"))
    return cli.main


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    files = simulate_fullframe(
        out,
        seed=4,
        n_traces=5,
        n_empty=2,
        grating="PRISM/CLEAR",
        detectors=("NRS1",),
        shape=(256, 2048),
        origin=(1700, 0),
        n_snowballs=1,
    )
    return files[0]


def test_simulator_files(sim):
    frame = read_rate_frame(sim.rate)
    assert frame.shape == (256, 2048) and frame.origin == (1700, 0)
    assert frame.detector == "NRS1" and frame.is_prism
    with fits.open(sim.truth) as hdul:
        truth = hdul["SCI"].data
        assert truth.shape == frame.shape and truth.max() > 0
        assert {"PEDESTAL", "BACKGROUND", "ONE_OVER_F", "SIGMA", "OUTLIERS"} <= {
            h.name for h in hdul
        }
    tab = read_trace_table(sim.traces)
    assert len(tab) == 7 and int(tab["empty"].sum()) == 2
    assert (sim.rate.parent / "sim_pictureframe.fits").exists()


def test_clean_cli_writes_product_and_png(sim, main, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["clean", str(sim.rate), "--out", str(out), "--passes", "2"]) == 0
    product = out / "sim_nrs1_rate_clean.fits"
    png = out / "sim_nrs1_rate_clean.png"
    with fits.open(sim.rate) as a, fits.open(product) as b:
        assert [h.name for h in a] == [h.name for h in b]
        hdr = b[0].header
        assert hdr["CLNPASS"] == 2 and hdr["CLNTRACE"] == "table"  # sibling traces.ecsv used
        assert hdr["CLNVARF"] > 0 and "CLNPED1" in hdr and "CLNCOLRM" in hdr
        assert hdr["CLNSRC"] == "sim_nrs1_rate.fits"
        assert np.isfinite(b["SCI"].data).sum() == np.isfinite(a["SCI"].data).sum()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sim_nrs1_rate.fits" in capsys.readouterr().out


def test_clean_cli_bad_inputs(sim, main, tmp_path, capsys):
    notrate = tmp_path / "x_cal.fits"
    hdu = fits.ImageHDU(np.ones((10, 10)), name="SCI")
    hdu.header["BUNIT"] = "MJy/sr"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(notrate)
    assert main(["clean", str(notrate), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "x_cal.fits" in err and "BUNIT" in err

    off = write_trace_table(
        make_trace_table([3], [10], [500], [250.0], [100.0], [0.0], [0.0], [5.0]),
        tmp_path / "off.ecsv",
    )  # row 100 is below this subarray (rows 1700..1955)
    status = main(["clean", str(sim.rate), "--out", str(tmp_path / "o"), "--traces", str(off)])
    assert status == 2
    err = capsys.readouterr().err
    assert "trace 3" in err and "fall off" in err

    status = main(["clean", str(sim.rate), "--out", str(tmp_path / "o"), "--traces", "a", "b"])
    assert status == 2 and "--traces" in capsys.readouterr().err


def test_simulator_input_errors(tmp_path):
    from slitwise.errors import SlitwiseInputError
    from slitwise.simulate.fullframe import make_fullframe

    with pytest.raises(SlitwiseInputError, match="seed"):
        simulate_fullframe(tmp_path, seed=-1)
    with pytest.raises(SlitwiseInputError, match="G999"):
        make_fullframe(grating="G999", shape=(128, 2048))
    with pytest.raises(SlitwiseInputError, match="cannot place"):
        make_fullframe(shape=(128, 2048), n_traces=40)
    with pytest.raises(SlitwiseInputError, match="detector"):
        make_fullframe(detector="NRS3", shape=(128, 2048))
