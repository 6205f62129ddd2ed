"""Product index: grouping by source, header facts, summary merge, refresh, what is skipped."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from slitwise.inspect.catalog import ProductIndex, line_snr, read_primary_header
from slitwise.inspect.synthetic import write_synthetic_run
from slitwise.io.schema import validate_product


def test_synthetic_products_follow_the_schema(run_dir):
    paths = sorted(run_dir.glob("*_1001.*.fits"))
    assert len(paths) == 4  # source 1001 has prism and G395M spec + zfit
    for path in paths:
        validate_product(path, path.name.split(".")[-2])  # raises if not conforming


def test_index_groups_products_by_source(run_dir):
    index = ProductIndex(run_dir)
    truth = Table.read(run_dir / "truth.ecsv")
    assert list(index.sources) == [str(s) for s in truth["source"]]
    assert len(index.sources) == len(truth) == 8
    for row in truth:
        entry = index.sources[str(row["source"])]
        assert entry.gratings == sorted(str(row["gratings"]).split(","))
        assert set(entry.spec) == set(entry.zfit) == set(entry.gratings)
        # ZBEST is the chi2 grid minimum: grid step 0.005 (<= 0.0025 off) plus the small shift
        # of the minimum by the synthetic cos^2 ripple (<= 0.0007); 0.004 bounds both.
        assert entry.z_auto == pytest.approx(row["z_true"], abs=0.004)
        assert 0.5 <= entry.zconf <= 1.0
        assert entry.status == "ok" and entry.snr > 0


def test_primary_header_reader_matches_astropy(run_dir):
    path = next(run_dir.glob("*.zfit.fits"))
    fast = read_primary_header(path)
    slow = fits.getheader(path)
    for key in ("ZBEST", "ZCONF", "ZWARN", "ZQUAL", "SRCNAME"):
        assert fast[key] == slow[key]


def test_index_skips_junk_and_picks_up_new_products(tmp_path, run_dir):
    root = tmp_path / "run"
    root.mkdir()
    for path in run_dir.glob("*_1001.*.fits"):
        shutil.copy(path, root / path.name)
    (root / ".tmp-synth_prism-clear_1002.spec.fits.abc").write_bytes(b"partial")
    (root / "notes.fits").write_bytes(b"not a product")
    (root / "synth_prism-clear_1003.zfit.fits").write_bytes(b"SIMPLE  = T" + b" " * 100)
    outside = tmp_path / "secret_prism-clear_666.spec.fits"
    shutil.copy(next(run_dir.glob("*_1001.spec.fits")), outside)
    os.symlink(outside, root / "link_prism-clear_666.spec.fits")
    hidden = root / ".cache"
    hidden.mkdir()
    shutil.copy(next(run_dir.glob("*_1002.spec.fits")), hidden / "synth_prism-clear_1002.spec.fits")
    index = ProductIndex(root, min_interval=0)
    assert list(index.sources) == ["1001"]
    assert all(not f.startswith(".") and "666" not in f for f in index.files())
    # a product written while the app runs appears at the next refresh
    for path in run_dir.glob("*_1002.*.fits"):
        shutil.copy(path, root / path.name)
    time.sleep(0.01)
    assert index.refresh()
    assert list(index.sources) == ["1001", "1002"]


def test_summary_rows_without_products_are_listed(tmp_path, run_dir):
    root = tmp_path / "run"
    root.mkdir()
    for path in run_dir.glob("*_1001.*.fits"):
        shutil.copy(path, root / path.name)
    Table({"source": ["1001", "2000"], "status": ["ok", "failed"], "z": [np.nan, 1.5],
           "zwarn": [0, 1]}).write(root / "summary.ecsv")  # fmt: skip
    index = ProductIndex(root)
    assert set(index.sources) == {"1001", "2000"}
    assert index.sources["2000"].status == "failed"
    assert index.sources["2000"].z_auto == 1.5 and index.sources["2000"].zwarn == 1
    assert index.sources["1001"].z_auto is not None  # from the zfit product, not the NaN


def test_line_snr_from_percentile_table(tmp_path):
    params = fits.BinTableHDU(Table({"percentile": [16.0, 50.0, 84.0],
                                     "Ha_flux": [8.0, 10.0, 12.0],
                                     "OIII_flux": [1.0, 3.0, 5.0], "z": [1.0, 1.0, 1.0]}),
                              name="PARAMS")  # fmt: skip
    path = tmp_path / "x_multi_1.lines.fits"
    fits.HDUList([fits.PrimaryHDU(), params]).writeto(path)
    assert line_snr(path) == pytest.approx(5.0)  # Ha: 10 / ((12 - 8) / 2)
    assert line_snr(tmp_path / "missing.fits") is None


def test_synthetic_run_writes_truth(tmp_path):
    truth = write_synthetic_run(tmp_path, 2, seed=5, configs=("prism-clear",))
    assert len(truth) == 2 and sorted(p.name for p in tmp_path.glob("*.fits")) == [
        "synth_prism-clear_1001.spec.fits", "synth_prism-clear_1001.zfit.fits",
        "synth_prism-clear_1002.spec.fits", "synth_prism-clear_1002.zfit.fits"]


def test_line_fit_file_without_grating_is_found_by_srcname(tmp_path, run_dir):
    root = tmp_path / "run"
    root.mkdir()
    for path in run_dir.glob("*_1001.*.fits"):
        shutil.copy(path, root / path.name)
    params = fits.BinTableHDU(Table({"Ha_flux": np.linspace(9.0, 11.0, 101)}), name="PARAMS")
    hdr = fits.Header({"SRCNAME": "1001"})
    fits.HDUList([fits.PrimaryHDU(header=hdr), params]).writeto(root / "synth_1001.lines.fits")
    entry = ProductIndex(root).sources["1001"]
    assert entry.lines == ["synth_1001.lines.fits"]
    # samples uniform on [9, 11]: median 10, std 2/sqrt(12) * sqrt(101/102) ~ 0.5745
    assert entry.line_snr == pytest.approx(10 / np.std(np.linspace(9.0, 11.0, 101)), rel=1e-9)
    assert "multi-any" not in entry.gratings
