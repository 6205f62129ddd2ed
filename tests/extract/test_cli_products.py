"""Products, figures and the ``slitwise extract`` / ``combine`` subcommands."""

from __future__ import annotations

import argparse

import numpy as np

from slitwise.cli import combine as cli_combine
from slitwise.cli import extract as cli_extract
from slitwise.extract.synthetic import make_nodded_slitlet
from slitwise.io.slitlet import write_slitlet
from slitwise.io.spec_product import read_spec


def _parser():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    cli_extract.add_parser(sub)
    cli_combine.add_parser(sub)
    return p


def test_extract_cli_writes_products(tmp_path):
    files = []
    for grating, seed in (("PRISM", 1), ("G395M", 2)):
        s = make_nodded_slitlet(seed=seed, grating=grating)
        for e in s.exposures:
            path = tmp_path / "in" / e.meta["filename"]
            write_slitlet(e, path)
            files.append(str(path))
    args = _parser().parse_args(["extract", *files, "--out", str(tmp_path / "out"),
                                 "--root", "t", "--no-serendips"])  # fmt: skip
    assert args.func(args) == 0
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "t_prism-clear_synth42.spec.fits" in out
    assert "t_g395m-f290lp_synth42.spec.png" in out
    prod = read_spec(tmp_path / "out" / "t_prism-clear_synth42.spec.fits")
    assert set(prod.boxcar) == {3, 4, 5}
    assert prod.exposures is not None and len(prod.exposures) == 3
    assert prod.sci.shape[1] == prod.spectrum.npix
    assert np.isfinite(prod.spectrum.flux.value[prod.spectrum.valid]).all()
    # combine two copies: same spectrum, error smaller by sqrt(2)
    spec = str(tmp_path / "out" / "t_prism-clear_synth42.spec.fits")
    comb = tmp_path / "comb.spec.fits"
    args = _parser().parse_args(["combine", spec, spec, "--out", str(comb)])
    assert args.func(args) == 0
    c = read_spec(comb).spectrum
    ok = c.valid & prod.spectrum.valid
    assert np.allclose(c.flux.value[ok], prod.spectrum.flux.value[ok])
    assert np.allclose(c.err.value[ok] * np.sqrt(2), prod.spectrum.err.value[ok])
