"""``slitwise simulate nirspec`` command line."""

from __future__ import annotations

import pytest

from slitwise.cli import main
from slitwise.io import read_slitlet
from slitwise.simulate import read_truth


def test_cli_writes_program(tmp_path, capsys):
    out = tmp_path / "sim"
    status = main(
        [
            "simulate",
            "nirspec",
            "--out",
            str(out),
            "--n-sources",
            "2",
            "--seed",
            "4",
            "--gratings",
            "prism",
            "--nods",
            "2",
            "--root",
            "t",
        ]
    )
    assert status == 0
    files = sorted(out.glob("t_*.fits"))
    assert len(files) == 2 * 2
    assert read_slitlet(files[0]).grating == "PRISM"
    truth = read_truth(out)
    assert len(truth[~truth["is_serendip"]]) == 2
    text = capsys.readouterr().out
    assert "wrote 4 cut-outs" in text and "1001" in text


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--nods", "4"], "--nods"),
        (["--gratings", "G999X"], "--gratings"),
        (["--n-sources", "0"], "--n-sources"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, word):
    out = tmp_path / "bad"
    status = main(["simulate", "nirspec", "--out", str(out), *args])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and word in err
    assert not out.exists()


def test_cli_help_lists_nirspec(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--help"])
    assert exc.value.code == 0
    assert "nirspec" in capsys.readouterr().out
