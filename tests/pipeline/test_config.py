"""Pipeline configuration: validation, defaults, stage selection, CLI errors."""

import pytest

from slitwise.cli import main
from slitwise.cli.run import stage_range
from slitwise.errors import SlitwiseInputError
from slitwise.pipeline.config import STAGES, PipelineConfig, config_to_toml, load_config


def write(tmp_path, text, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_cover_every_stage():
    cfg = load_config(None)
    assert cfg.selected_stages() == STAGES
    assert cfg.executor.jobs == 1


def test_relative_paths_resolve_against_the_file(tmp_path):
    path = write(tmp_path, '[run]\ninput_dir = "raw"\noutput_dir = "out"\n')
    cfg = load_config(path)
    assert cfg.run.input_dir == (tmp_path / "raw").resolve()
    assert cfg.run.output_dir == (tmp_path / "out").resolve()


def test_line_model_paths_resolve_and_alternatives_need_a_first_model(tmp_path):
    path = write(tmp_path, '[linefit]\nconfig = "narrow.yaml"\nalternatives = ["m/broad.yaml"]\n')
    cfg = load_config(path)
    assert cfg.linefit.config == (tmp_path / "narrow.yaml").resolve()
    assert cfg.linefit.alternatives == ((tmp_path / "m" / "broad.yaml").resolve(),)
    assert cfg.linefit.margin == 3.0
    path = write(tmp_path, '[linefit]\nalternatives = ["broad.yaml"]\n', "alone.toml")
    with pytest.raises(SlitwiseInputError, match=r"alone.toml: key 'linefit.alternatives'"):
        load_config(path)


def test_unknown_key_names_key_and_file(tmp_path):
    path = write(tmp_path, "[zfit]\nzmax = 10\nzmaxx = 3\n")
    with pytest.raises(SlitwiseInputError, match=r"cfg.toml: unknown key 'zfit.zmaxx'"):
        load_config(path)


def test_unknown_section_is_an_error(tmp_path):
    path = write(tmp_path, "[extraction]\nprofile = 'gaussian'\n")
    with pytest.raises(SlitwiseInputError, match="unknown key 'extraction'"):
        load_config(path)


def test_wrong_type_names_key(tmp_path):
    path = write(tmp_path, '[executor]\njobs = "two"\n')
    with pytest.raises(SlitwiseInputError, match="key 'executor.jobs'"):
        load_config(path)


def test_unknown_stage_in_file(tmp_path):
    path = write(tmp_path, '[run]\nstages = ["extract", "fly"]\n')
    with pytest.raises(SlitwiseInputError, match="unknown stage 'fly'"):
        load_config(path)


def test_bad_toml_is_input_error(tmp_path):
    path = write(tmp_path, "[run\n")
    with pytest.raises(SlitwiseInputError, match="not valid TOML"):
        load_config(path)


def test_observation_overrides_match_file_names(tmp_path):
    path = write(
        tmp_path,
        '[[observations]]\nmatch = "_00002_"\nstuck_shutters = [3]\n'
        '[[observations]]\nmatch = "_00003_"\nexclude = true\n',
    )
    cfg = load_config(path)
    assert [o.stuck_shutters for o in cfg.overrides_for("x_00002_nrs1.fits")] == [(3,)]
    assert cfg.overrides_for("x_00001_nrs1.fits") == []


def test_resolved_toml_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, '[run]\nroot = "abc"\n[zfit]\nzmax = 9.5\n'))
    again = load_config(write(tmp_path, config_to_toml(cfg), "again.toml"))
    assert again == cfg


def test_every_option_is_documented():
    for _, section in PipelineConfig():
        if isinstance(section, tuple):
            continue
        for name, field in type(section).model_fields.items():
            assert field.description, name


@pytest.mark.parametrize(
    ("text", "expected"),
    [("extract-zfit", ("extract", "combine", "zfit")), ("zfit,summary", ("zfit", "summary"))],
)
def test_stage_range(text, expected):
    assert stage_range(text) == expected


def test_stage_range_rejects_unknown():
    with pytest.raises(SlitwiseInputError, match="unknown stage 'zfitt'"):
        stage_range("extract-zfitt")


def test_cli_unknown_key_exit_2(tmp_path, capsys):
    path = write(tmp_path, "[run]\nfoo = 1\n")
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'run.foo'" in err[0]


def test_cli_missing_input_dir_exit_2(tmp_path, capsys):
    path = write(tmp_path, '[run]\ninput_dir = "nope"\n')
    assert main(["run", str(path), "--no-progress"]) == 2
    assert "input directory not found" in capsys.readouterr().err


def test_cli_config_show_prints_resolved(tmp_path, capsys):
    path = write(tmp_path, "[zfit]\nzmax = 7.0\n")
    assert main(["config", "show", str(path)]) == 0
    assert "zmax = 7.0" in capsys.readouterr().out
