"""The packaged line configurations used by ``slitwise demo``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["demo_config_path", "demo_broad_config_path"]


def demo_config_path() -> Path:
    """Path of ``data/demo_lines.yaml`` inside the installed package."""
    return Path(str(resources.files("slitwise.lines") / "data" / "demo_lines.yaml"))


def demo_broad_config_path() -> Path:
    """Path of ``data/demo_lines_broad.yaml`` (the demo lines plus broad Balmer lines), the
    alternative model the demo compares with :func:`demo_config_path`'s."""
    return Path(str(resources.files("slitwise.lines") / "data" / "demo_lines_broad.yaml"))
