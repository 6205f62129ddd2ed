"""Package-level checks: import, version, command line help."""

import subprocess
import sys

import slitwise
from slitwise.cli import COMMANDS, main


def test_version_is_pep440():
    parts = slitwise.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_help_lists_every_subcommand(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_each_subcommand_has_help():
    for name in COMMANDS:
        proc = subprocess.run(
            [sys.executable, "-m", "slitwise", name, "--help"], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert "usage: slitwise" in proc.stdout


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2
