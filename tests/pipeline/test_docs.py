"""docs/pipeline.md lists every configuration option with its current default."""

from pathlib import Path

from slitwise.pipeline.config import PipelineConfig, config_to_toml

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"


def test_pipeline_doc_lists_current_defaults():
    text = DOC.read_text()
    block = config_to_toml(PipelineConfig(), with_docs=True)
    assert block.strip() in text, "regenerate docs/pipeline.md: slitwise config defaults"
