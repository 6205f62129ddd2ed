"""Nod patterns, determinism and bad input of simulate_program."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from slitwise.errors import SlitwiseInputError
from slitwise.io import read_slitlet
from slitwise.simulate import read_truth_exposure, simulate_program


def _hdus_equal(a, b):
    with fits.open(a) as ha, fits.open(b) as hb:
        assert [h.name for h in ha] == [h.name for h in hb]
        for x, y in zip(ha, hb, strict=True):
            kx = {k: v for k, v in x.header.items() if k not in ("CHECKSUM", "DATASUM")}
            ky = {k: v for k, v in y.header.items() if k not in ("CHECKSUM", "DATASUM")}
            assert kx == ky
            if x.data is None:
                assert y.data is None
            elif isinstance(x, fits.BinTableHDU):
                assert x.data.tobytes() == y.data.tobytes()
            else:
                np.testing.assert_array_equal(x.data, y.data)


def test_same_seed_same_files(tmp_path):
    kw = dict(n_sources=2, seed=11, gratings=("PRISM",), stuck_fraction=0.5, serendip_fraction=0.5)
    a = simulate_program(tmp_path / "a", **kw)
    b = simulate_program(tmp_path / "b", **kw)
    assert [p.name for p in a.exposures] == [p.name for p in b.exposures]
    for pa, pb in zip(a.exposures, b.exposures, strict=True):
        _hdus_equal(pa, pb)  # everything but the time-stamped checksum comments
        _hdus_equal(a.truth_file(pa), b.truth_file(pb))
    for name in ("truth.ecsv", "truth_lines.ecsv", "truth_exposures.ecsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = simulate_program(tmp_path / "c", **{**kw, "seed": 12})
    assert not np.array_equal(
        read_slitlet(a.exposures[0]).sci, read_slitlet(c.exposures[0]).sci, equal_nan=True
    )


@pytest.mark.parametrize(
    ("n_nods", "states"),
    [
        (2, ["1x1", "x11"]),
        (3, ["1x1", "x11", "11x"]),
        (5, ["11x11", "1x111", "111x1", "x1111", "1111x"]),
    ],
)
def test_nod_patterns(tmp_path, n_nods, states):
    prog = simulate_program(
        tmp_path,
        n_sources=1,
        seed=2,
        gratings=("PRISM",),
        n_nods=n_nods,
        stuck_fraction=0.0,
        serendip_fraction=0.0,
    )
    exps = [read_slitlet(p) for p in prog.exposures]
    assert [e.shutter_state for e in exps] == states
    assert [e.nod_position for e in exps] == list(range(1, n_nods + 1))
    assert all(e.n_nods == n_nods for e in exps)
    # the source moves by one shutter pitch (in detector rows) between nods
    y = [read_truth_exposure(p).trace["y"].value for p in prog.exposures]
    from slitwise.simulate.slitpsf import PITCH_PX

    offsets = {2: (0, 1), 3: (0, 1, -1), 5: (0, 1, -1, 2, -2)}[n_nods]
    for yk, off in zip(y, offsets, strict=True):
        np.testing.assert_allclose(yk - y[0], off * PITCH_PX, atol=0.05)
    # yslit is 0 at the source shutter centre: the truth trace sits at yslit = SRCYPOS
    for e, yk in zip(exps, y, strict=True):
        col = e.shape[1] // 2
        rows = np.arange(e.shape[0])
        ys = np.interp(yk[col], rows, e.yslit[:, col])
        assert ys == pytest.approx(e.source_ypos, abs=0.012)


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"n_nods": 4}, "n_nods"),
        ({"gratings": ("G999X",)}, "gratings"),
        ({"gratings": ()}, "gratings"),
        ({"n_sources": 0}, "n_sources"),
        ({"seed": -1}, "seed"),
        ({"stuck_fraction": 1.5}, "stuck_fraction"),
        ({"root": "a/b"}, "root"),
    ],
)
def test_bad_input(tmp_path, kwargs, where):
    with pytest.raises(SlitwiseInputError, match=where):
        simulate_program(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
