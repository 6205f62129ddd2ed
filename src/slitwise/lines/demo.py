"""The packaged line configuration used by ``slitwise demo``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["demo_config_path"]


def demo_config_path() -> Path:
    """Path of ``data/demo_lines.yaml`` inside the installed package."""
    return Path(str(resources.files("slitwise.lines") / "data" / "demo_lines.yaml"))
