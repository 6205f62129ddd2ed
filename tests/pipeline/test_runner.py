"""The pipeline runner on a simulated program: executors agree, runs resume, failures isolate.

The program is 20 PRISM sources observed with 2 nods, run through nod subtraction and
extraction only, so each full run takes seconds; the redshift and line stages have their own
tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from slitwise.io.atomic import TMP_PREFIX
from slitwise.pipeline.config import load_config
from slitwise.pipeline.manifest import MANIFEST_DIR
from slitwise.pipeline.runner import run_pipeline
from slitwise.simulate import simulate_program

N_SOURCES = 20


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    raw = tmp_path_factory.mktemp("program") / "raw"
    simulate_program(raw, n_sources=N_SOURCES, seed=11, gratings=("PRISM/CLEAR",), n_nods=2,
                     root="pt")
    return raw


def make_config(tmp_path: Path, raw: Path, **executor):
    lines = [
        "[run]",
        f'input_dir = "{raw.as_posix()}"',
        'output_dir = "products"',
        'root = "pt"',
        'stages = ["nodsub", "extract", "combine", "summary"]',
        "[executor]",
    ] + [f"{k} = {v!r}".replace("'", '"') for k, v in executor.items()]
    path = tmp_path / "run.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def spec_arrays(out_dir: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for path in sorted(out_dir.glob("*.spec.fits")):
        with fits.open(path, checksum=True) as hdul:
            tab = hdul["SPEC1D"].data
            arrays[path.name] = np.stack([tab["wave"], tab["flux"], tab["err"]])
    return arrays


def assert_all_products_valid(out_dir: Path) -> None:
    leftovers = list(out_dir.rglob(TMP_PREFIX + "*"))
    assert leftovers == [], leftovers
    for path in out_dir.glob("*.fits"):
        with fits.open(path, checksum=True) as hdul:
            for hdu in hdul:
                # astropy sets these when the stored checksums disagree with the data
                assert hdu._checksum_valid and hdu._datasum_valid, path.name


def test_in_process_and_dask_local_cluster_agree(program, tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    run_a = run_pipeline(load_config(make_config(a, program)), progress=False)
    run_b = run_pipeline(load_config(make_config(b, program, dask_local=2)), progress=False)
    assert run_a.n_failed == 0 and run_b.n_failed == 0
    arrays_a = spec_arrays(a / "products")
    arrays_b = spec_arrays(b / "products")
    # one product per primary source at least (serendips add more)
    assert len(arrays_a) >= N_SOURCES
    assert arrays_a.keys() == arrays_b.keys()
    for name, arr in arrays_a.items():
        np.testing.assert_array_equal(arr, arrays_b[name], err_msg=name)
    summary = (a / "products" / "summary.ecsv").read_text()
    assert summary.count("\nt") == 0  # sanity: the file is the table, not a traceback
    assert (a / "products" / "index.html").exists()
    assert (a / "products" / "run_config.toml").exists()


def test_rerun_skips_and_overwrite_reproduces_arrays(program, tmp_path):
    cfg_path = make_config(tmp_path, program)
    first = run_pipeline(load_config(cfg_path), progress=False)
    before = spec_arrays(tmp_path / "products")
    again = run_pipeline(load_config(cfg_path), progress=False)
    assert {r.status for r in first.results} == {"ok"}
    assert {r.status for r in again.results} == {"skipped"}
    redo = run_pipeline(load_config(cfg_path, run={"overwrite": True}), progress=False)
    assert {r.status for r in redo.results} == {"ok"}
    after = spec_arrays(tmp_path / "products")
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_failing_source_is_logged_and_run_goes_on(program, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    files = sorted(program.glob("*.fits"))
    for f in files:
        (raw / f.name).symlink_to(f)
    # break one source: its first cut-out loses the WAVELENGTH and variance HDUs
    victim = files[0]
    (raw / victim.name).unlink()
    with fits.open(victim) as hdul:
        broken = fits.HDUList([hdul[0].copy(), hdul["SCI"].copy(), hdul["DQ"].copy()])
        broken.writeto(raw / victim.name)
    run = run_pipeline(load_config(make_config(tmp_path, raw)), progress=False)
    failed = [r for r in run.results if r.status == "failed"]
    assert len(failed) == 1
    assert run.n_failed == 1 and len(run.results) == N_SOURCES
    log_text = (tmp_path / "products" / "logs" / f"{failed[0].unit_key}.log").read_text()
    assert "Traceback" in log_text
    summary = (tmp_path / "products" / "summary.ecsv").read_text()
    assert "failed" in summary


def test_killed_run_resumes_with_only_complete_products(program, tmp_path):
    cfg_path = make_config(tmp_path, program)
    out = tmp_path / "products"
    proc = subprocess.Popen(
        [sys.executable, "-m", "slitwise", "run", str(cfg_path), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    # kill it once a few sources are done but before the end
    deadline = time.time() + 120
    while time.time() < deadline:
        done = list((out / MANIFEST_DIR).glob("*.extract.json")) if out.exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p: p.stat().st_mtime_ns for p in (out / MANIFEST_DIR).glob("*.extract.json")}
    finished_before = len(done_before)
    assert 3 <= finished_before < N_SOURCES, "the kill did not land mid-run"
    # whatever is on disk now is complete (temporary files aside)
    for path in out.glob("*.spec.fits"):
        with fits.open(path, checksum=True) as hdul:
            assert hdul["SPEC1D"]._datasum_valid
    resumed = run_pipeline(load_config(cfg_path), progress=False)
    # sources extracted before the kill were not extracted again
    assert {p: p.stat().st_mtime_ns for p in done_before} == done_before
    assert resumed.n_failed == 0
    assert len(list((out / MANIFEST_DIR).glob("*.extract.json"))) == N_SOURCES
    assert_all_products_valid(out)


def test_dask_worker_killed_mid_run_loses_nothing(program, tmp_path):
    psutil = pytest.importorskip("psutil")
    cfg_path = make_config(tmp_path, program, dask_local=2)
    out = tmp_path / "products"
    killed = []

    def kill_one_worker():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            done = list((out / MANIFEST_DIR).glob("*.extract.json")) if out.exists() else []
            if len(done) >= 2:
                # LocalCluster's nannies live in this process; each spawns one worker process
                workers = []
                for child in psutil.Process().children(recursive=True):
                    try:
                        cmd = " ".join(child.cmdline())
                    except psutil.Error:
                        continue
                    if "multiprocessing" in cmd and "resource_tracker" not in cmd:
                        workers.append(child)
                if workers:
                    workers[0].kill()
                    killed.append(workers[0].pid)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=kill_one_worker, daemon=True)
    thread.start()
    run = run_pipeline(load_config(cfg_path), progress=False)
    thread.join(timeout=5)
    assert killed, "no worker process was killed"
    assert run.n_failed == 0
    assert len(run.results) == N_SOURCES
    assert len(list((out / MANIFEST_DIR).glob("*.extract.json"))) == N_SOURCES
    assert_all_products_valid(out)
