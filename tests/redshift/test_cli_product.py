import argparse

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable
from tests.redshift._helpers import load_bench

from slitwise.errors import SlitwiseInputError


def _parser():
    from slitwise.cli import zfit as cli_zfit

    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command")
    cli_zfit.add_parser(sub)
    return ap


def _write_ecsv(path, d, i):
    t = QTable(
        {
            "wave": d["wave"] * u.um,
            "flux": d["flux"][i] * u.uJy,
            "err": d["err"][i] * u.uJy,
        }
    )
    # the generic reader keeps header cards in meta['header']: GRATING gives the PRISM R
    t.meta["GRATING"] = "PRISM"
    t.write(path, format="ascii.ecsv")


def test_cli_writes_product_and_table(tmp_path, capsys):
    from slitwise.io.zfit_product import read_zfit

    d = load_bench()
    i = 175
    src = tmp_path / "bench175.ecsv"
    _write_ecsv(src, d, i)
    args = _parser().parse_args(["zfit", str(src), "--out", str(tmp_path / "out"), "--zmax", "20"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "ZBEST" in out and "bench175.ecsv" in out
    prod = read_zfit(tmp_path / "out" / "bench175.zfit.fits")
    zt = d["z_true"][i]
    assert abs(prod.zbest - zt) / (1 + zt) < 0.01
    assert prod.ntempl == len(prod.templates) == prod.coeffs.size
    assert prod.model_flux.size == d["wave"].size
    assert (tmp_path / "out" / "bench175.png").stat().st_size > 1000


def test_cli_unknown_layout_is_input_error(tmp_path):
    bad = tmp_path / "junk.fits"
    bad.write_bytes(b"this is not a FITS file at all" * 100)
    args = _parser().parse_args(["zfit", str(bad), "--out", str(tmp_path)])
    with pytest.raises(SlitwiseInputError):
        args.func(args)


def test_cli_several_files_one_bad(tmp_path, capsys):
    d = load_bench()
    good = tmp_path / "g.ecsv"
    _write_ecsv(good, d, 180)
    bad = tmp_path / "b.ecsv"
    bad.write_text("# not a table\n")
    args = _parser().parse_args(["zfit", str(good), str(bad), "--out", str(tmp_path / "o"),
                                 "--no-plot"])  # fmt: skip
    assert args.func(args) == 2
    out = capsys.readouterr().out
    assert "ERROR" in out and np.isfinite(float(out.splitlines()[-2].split()[1]))


def test_cli_joint(tmp_path, capsys):
    from slitwise.io.zfit_product import read_zfit

    d = load_bench()
    i = 185
    a, b = tmp_path / "a.ecsv", tmp_path / "b.ecsv"
    for path, sl in ((a, slice(0, 200)), (b, slice(200, None))):
        t = QTable(
            {
                "wave": d["wave"][sl] * u.um,
                "flux": d["flux"][i][sl] * u.uJy,
                "err": d["err"][i][sl] * u.uJy,
            }
        )
        t.meta["GRATING"] = "PRISM"
        t.write(path, format="ascii.ecsv")
    args = _parser().parse_args(
        ["zfit", str(a), str(b), "--joint", "--out", str(tmp_path / "o"), "--no-plot"]
    )
    assert args.func(args) == 0
    prod = read_zfit(tmp_path / "o" / "a.zfit.fits")
    zt = d["z_true"][i]
    assert abs(prod.zbest - zt) / (1 + zt) < 0.01
    assert prod.model_flux.size == d["wave"].size  # both spectra's models
