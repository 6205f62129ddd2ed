"""Choosing between line models: the choice with and without a line in the data, the paired
PSIS-LOO comparison, products and bad input (the Laplace evidence is checked against nested
sampling's in ``test_samplers``).

Data: the one-line simulated spectrum of ``test_samplers`` (an [OIII] 5008 line of known
flux on a linear continuum, or the continuum alone).
"""

import warnings

import numpy as np
import pytest
from tests.lines.test_samplers import CONFIG, NO_LINE, WITH_LINE, _spectrum

from slitwise.errors import SlitwiseInputError
from slitwise.io.schema import validate_product
from slitwise.lines import config_from_yaml, fit_lines, read_linefit, write_linefit
from slitwise.lines.compare import compare_models, fit_and_choose
from slitwise.lines.inference import InferenceWarning
from slitwise.lines.prepare import LineFitWarning

MODELS = {"continuum": NO_LINE, "line": WITH_LINE}


@pytest.mark.parametrize("line", [True, False])
def test_the_line_is_kept_only_when_the_data_have_it(line):
    spec = _spectrum(5, line=line)
    best = fit_and_choose(MODELS, [spec], instruments=["generic"], sampler="map")
    table = best.models
    assert list(table["model"]) == ["continuum", "line"]
    assert table["criterion"][0] == "ln_z_laplace" and table["delta"][0] == 0
    assert table["chosen"].sum() == 1
    assert best.chosen_model == str(table["model"][np.argmax(table["chosen"])])
    assert best.chosen_model == ("line" if line else "continuum"), table
    # the returned fit is the chosen model's (the no-line model has no free flux)
    assert ("f" in best.prepared.structure.free_parameters) == line
    if not line:  # without a line the extra flux only costs prior volume (Occam factor)
        assert -12 < table["delta"][1] < 0, table


def test_elpd_comparison_is_paired_pixel_by_pixel():
    spec = _spectrum(6, line=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)
        res = {name: fit_lines(cfg, [spec], instruments=["generic"], sampler="nuts",
                               warmup=200, samples=300, seed=1)
               for name, cfg in MODELS.items()}  # fmt: skip
    table = compare_models(res)
    assert set(table["criterion"]) == {"elpd_loo"}
    diff = res["line"].elpd_loo_i - res["continuum"].elpd_loo_i
    assert table["delta"][1] == pytest.approx(diff.sum(), rel=1e-9)
    assert table["delta_err"][1] == pytest.approx(np.sqrt(diff.size * np.var(diff)), rel=1e-9)
    # pairing removes the pixel-to-pixel scatter the two models share
    unpaired = np.hypot(res["line"].diagnostics["elpd_loo_se"],
                        res["continuum"].diagnostics["elpd_loo_se"])  # fmt: skip
    assert table["delta_err"][1] < unpaired
    assert bool(table["chosen"][1])


def test_chosen_fit_is_written_with_its_comparison(tmp_path):
    spec = _spectrum(5, line=True)
    best = fit_and_choose(MODELS, [spec], instruments=["generic"], sampler="map")
    path = tmp_path / "src.lines.fits"
    write_linefit(best, path)
    validate_product(path, "lines")
    back = read_linefit(path)
    assert back["header"]["LINEMODL"] == "line"
    assert list(back["models"]["model"]) == ["continuum", "line"]
    assert list(back["models"]["chosen"]) == [False, True]
    # a fit not chosen among models has neither
    single = fit_lines(WITH_LINE, [spec], instruments=["generic"], sampler="map")
    write_linefit(single, tmp_path / "one.lines.fits")
    back = read_linefit(tmp_path / "one.lines.fits")
    assert "models" not in back and "LINEMODL" not in back["header"]


def test_models_that_cannot_be_compared_are_refused():
    spec = _spectrum(5, line=True)
    m = fit_lines(WITH_LINE, [spec], instruments=["generic"], sampler="map")
    with pytest.raises(SlitwiseInputError, match="at least two models"):
        compare_models({"line": m})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)
        n = fit_lines(NO_LINE, [spec], instruments=["generic"], sampler="nuts",
                      warmup=100, samples=100)  # fmt: skip
    with pytest.raises(SlitwiseInputError, match="different samplers"):
        compare_models({"line": m, "continuum": n})
    # a model whose criterion is not finite cannot be chosen, and the user is told
    broken = fit_lines(WITH_LINE, [spec], instruments=["generic"], sampler="map")
    broken.diagnostics["ln_z_laplace"] = float("nan")
    cont = fit_lines(NO_LINE, [spec], instruments=["generic"], sampler="map")
    with pytest.warns(LineFitWarning, match="'line': ln_z_laplace is not finite"):
        table = compare_models({"continuum": cont, "line": broken})
    assert list(table["chosen"]) == [True, False]
    narrow = config_from_yaml((CONFIG % "{prior: fixed, value: 0}").replace("12000", "6000"))
    w = fit_lines(narrow, [spec], instruments=["generic"], sampler="map")
    with pytest.raises(SlitwiseInputError, match="different pixels"):
        compare_models({"line": m, "narrow windows": w})


def test_demo_broad_model_is_the_narrow_model_plus_broad_balmer_lines():
    # the demo compares two packaged configurations; the broad one must not drift from the
    # narrow one: the same parameters, lines and continuum, plus broad Halpha/Hbeta only
    from slitwise.lines import load_config
    from slitwise.lines.demo import demo_broad_config_path, demo_config_path

    narrow, broad = load_config(demo_config_path()), load_config(demo_broad_config_path())
    assert {k: v for k, v in broad.parameters.items() if k in narrow.parameters} == \
        narrow.parameters
    assert set(broad.parameters) - set(narrow.parameters) == {"fwhm_b", "f_hab", "f_hbb"}
    assert broad.lines[:len(narrow.lines)] == narrow.lines
    assert [line.name for line in broad.lines[len(narrow.lines):]] == \
        ["Halpha_broad", "Hbeta_broad"]
    assert broad.continuum == narrow.continuum and broad.redshift == narrow.redshift
