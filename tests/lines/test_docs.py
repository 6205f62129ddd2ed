"""docs/linefit.md: its example configuration is accepted as is and round-trips, and every
profile, prior, continuum form and configuration key it documents exists."""

import re
from pathlib import Path

from slitwise.lines.config import (
    CONTINUUM_FORMS,
    ContinuumConfig,
    InstrumentConfig,
    LineConfig,
    LineFitConfig,
    config_from_yaml,
    config_to_yaml,
)
from slitwise.lines.linelist import rest_wavelength
from slitwise.lines.priors import PRIOR_KINDS
from slitwise.lines.profiles import PROFILES

DOC = Path(__file__).resolve().parents[2] / "docs" / "linefit.md"


def test_example_configuration_loads_and_round_trips():
    (block,) = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    cfg = config_from_yaml(block)
    assert config_from_yaml(config_to_yaml(cfg)) == cfg
    assert [ln.name for ln in cfg.lines][:3] == ["Hb", "OIII_4960", "OIII_5008"]
    assert cfg.ratios == ["OIII_5008/Hb"]


def test_documented_names_exist():
    text = DOC.read_text()
    for kind in PRIOR_KINDS:
        assert f"`{kind}`" in text, kind
    for profile in PROFILES:
        assert f"`{profile}`" in text, profile
    for form in CONTINUUM_FORMS:
        assert f"`{form}`" in text, form
    for model in (LineFitConfig, LineConfig, ContinuumConfig, InstrumentConfig):
        for key in model.model_fields:
            assert f"`{key}`" in text or f"{key}:" in text, (model.__name__, key)
    # the line names the page offers for lookup are in the packaged list
    row = next(line for line in text.splitlines() if line.startswith("| `name` |"))
    for name in re.findall(r"`([A-Za-z]+[A-Za-z0-9_]*)`", row.split("(", 1)[1]):
        if name not in ("wave", "slitwise"):
            rest_wavelength(name)
