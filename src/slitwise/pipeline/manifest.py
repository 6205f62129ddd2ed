"""Per-source stage manifests: the record that a stage finished for a unit of work.

A manifest is a small JSON file written atomically after every product of the stage is on
disk. A stage is "done" for a unit when its manifest exists and every product it lists exists;
this is how reruns skip finished work and how a killed run resumes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from slitwise.io.atomic import atomic_path

__all__ = ["manifest_path", "read_manifest", "write_manifest", "MANIFEST_DIR"]

MANIFEST_DIR = ".manifests"


def manifest_path(out_dir: str | os.PathLike, unit_key: str, stage: str) -> Path:
    """Where the manifest of ``stage`` for ``unit_key`` lives."""
    return Path(out_dir) / MANIFEST_DIR / f"{unit_key}.{stage}.json"


def read_manifest(out_dir, unit_key: str, stage: str) -> dict[str, Any] | None:
    """The manifest if the stage is complete (all listed products present), else None."""
    path = manifest_path(out_dir, unit_key, stage)
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not all((Path(out_dir) / p).exists() for p in data.get("products", [])):
        return None
    return data


def write_manifest(out_dir, unit_key: str, stage: str, data: dict[str, Any]) -> Path:
    """Write the manifest atomically; ``data['products']`` are paths relative to ``out_dir``."""
    path = manifest_path(out_dir, unit_key, stage)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    return path
