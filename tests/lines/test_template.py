"""Template continuum (``continuum: {form: template}``): analytic templates, zfit products as
templates through the library, the CLI and bad input."""

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from slitwise.cli import main as cli_main
from slitwise.errors import SlitwiseInputError
from slitwise.io.zfit_product import read_zfit, write_zfit
from slitwise.lines import fit_lines, load_config, read_linefit
from slitwise.lines.config import config_from_yaml, config_to_yaml
from slitwise.redshift.product import to_product
from slitwise.redshift.zfit import zfit

HERE = Path(__file__).parent
TRUTH = {"z": 0.001, "fwhm_n": 250.0, "fwhm_b": 2500.0, "f_ha": 3.0, "f_hb": 1.0,
         "f_oiii": 2.0, "f_hab": 15.0, "f_hbb": 3.0, "r_a": 1.0, "pix_prism": 0.2,
         "fs_g395m": 0.9}  # fmt: skip
FLAM = u.Unit("1e-16 erg / (s cm2 um)")


def _template_config(order=None):
    text = (HERE / "bench_config.yaml").read_text()
    extra = "" if order is None else f", order: {order}"
    text = text.replace("continuum: {form: linear", f"continuum: {{form: template{extra}")
    assert "form: template" in text
    return config_from_yaml(text)


def _within(res, nsig=4.0):
    for name, truth in TRUTH.items():
        lo, med, hi = np.percentile(res.samples[name], [16, 50, 84])
        assert abs(med - truth) < nsig * 0.5 * (hi - lo), (name, lo, med, hi)


def _true_continuum(spec, level):
    # make_synthetic.py: f_lambda = 0.20 + 0.12 (lambda/um - 1) [1e-16 cgs/um], times the
    # spectrum's flux scale (G395M 0.9), which a model of that spectrum carries
    w = spec.wave.to_value(u.um)
    return spec.wave, (0.20 + 0.12 * (w - 1.0)) * level * FLAM


def test_config_round_trip_and_default_order():
    cfg = _template_config()
    assert cfg.continuum.form == "template" and cfg.continuum.order is None
    assert config_from_yaml(config_to_yaml(cfg)) == cfg
    assert config_from_yaml(config_to_yaml(_template_config(1))).continuum.order == 1


def test_analytic_template_is_scaled_per_window(bench_spectra):
    # templates at half the true level (G395M's in its own calibration, x 0.9): the scale of
    # each window comes out at 2 and every truth is recovered, as with a linear continuum
    tmpls = [_true_continuum(s, 0.5 * k) for s, k in zip(bench_spectra, (1.0, 0.9), strict=True)]
    res = fit_lines(_template_config(), bench_spectra, sampler="map", samples=400,
                    continuum_templates=tmpls)  # fmt: skip
    scales = [np.median(res.samples[f"cont{k}_c0"]) for k in range(2)]
    assert scales == pytest.approx([2.0, 2.0], rel=0.03), scales  # measured 1.979, 2.034
    assert not any(n.startswith("cont") and n.endswith("_c1") for n in res.samples)  # order 0
    _within(res)
    assert 0.8 < res.diagnostics["redchi2"] < 1.25


@pytest.fixture(scope="module")
def zfit_templates(bench_spectra, tmp_path_factory):
    """One zfit product per benchmark spectrum (each fitted alone)."""
    out = tmp_path_factory.mktemp("zfit")
    paths = []
    for k, spec in enumerate(bench_spectra):
        result = zfit(spec, zmin=6.0, zmax=7.5)
        assert abs(result.zbest - 6.78) < 0.01
        path = out / f"bench{k}.zfit.fits"
        write_zfit(to_product(result), path)
        paths.append(path)
    return paths


def test_zfit_product_keeps_its_line_free_model(zfit_templates, bench_spectra):
    prod = read_zfit(zfit_templates[1])  # G395M: Hbeta-[OIII] and Halpha, narrow and broad
    assert prod.model_continuum.shape == prod.model_flux.shape
    wave = prod.model_wave.to_value(u.um)
    lines = prod.model_flux - prod.model_continuum
    at_ha = np.argmin(np.abs(wave - 0.656461 * 7.78))
    off = np.abs(wave - 0.656461 * 7.78) > 0.15
    # the line templates hold the Halpha peak; away from every line the two models agree
    assert lines[at_ha] > 5 * np.median(np.abs(lines[off & (np.abs(wave - 3.85) > 0.15)]))
    assert np.all(prod.model_continuum.value >= 0)


def test_zfit_products_as_templates(zfit_templates, bench_spectra):
    res = fit_lines(_template_config(), bench_spectra, sampler="map", samples=400,
                    continuum_templates=zfit_templates)  # fmt: skip
    _within(res)
    assert 0.8 < res.diagnostics["redchi2"] < 1.3
    # the FSPS continuum of a zfit fit to the data sits at the data's level: scales near 1
    for k in range(2):
        assert 0.8 < np.median(res.samples[f"cont{k}_c0"]) < 1.2


def test_cli_takes_one_template_per_spectrum(zfit_templates, bench_spectra, tmp_path):
    cfg_path = tmp_path / "lines.yaml"
    cfg_path.write_text(config_to_yaml(_template_config()))
    specs = [str(s.meta["filename"]) for s in bench_spectra]
    out = tmp_path / "fit.lines.fits"
    rc = cli_main(["linefit", *specs, "--config", str(cfg_path), "--sampler", "map",
                   "--out", str(out), "--continuum-template", *map(str, zfit_templates)])
    assert rc == 0
    prod = read_linefit(out)
    assert "form: template" in prod["config"]
    f_ha = prod["params"]["f_ha"][list(prod["params"]["percentile"]).index(50.0)]
    assert abs(f_ha.value - 3.0) < 0.4
    # one template for two spectra: exit 2 with a message naming the option
    rc = cli_main(["linefit", *specs, "--config", str(cfg_path), "--sampler", "map",
                   "--out", str(tmp_path / "x.fits"), "--continuum-template",
                   str(zfit_templates[0])])  # fmt: skip
    assert rc == 2 and not (tmp_path / "x.fits").exists()


def test_bad_templates_are_named(bench_spectra, zfit_templates, tmp_path):
    cfg = _template_config()
    with pytest.raises(SlitwiseInputError, match="continuum_templates.*one template per"):
        fit_lines(cfg, bench_spectra, sampler="map")
    linear = load_config(HERE / "bench_config.yaml")
    with pytest.raises(SlitwiseInputError, match="continuum_templates.*form is 'linear'"):
        fit_lines(linear, bench_spectra, sampler="map", continuum_templates=zfit_templates)
    short = [_true_continuum(s, 1.0) for s in bench_spectra]
    cut = (short[1][0][:100], short[1][1][:100])  # G395M template stopping at ~3.3 um
    with pytest.raises(SlitwiseInputError, match="template.*not the fitted pixels"):
        fit_lines(cfg, bench_spectra, sampler="map", continuum_templates=[short[0], cut])
    with pytest.raises(SlitwiseInputError, match="must be a file, a spectrum"):
        fit_lines(cfg, bench_spectra, sampler="map", continuum_templates=[1.0, 2.0])
    # a zfit product without the line-free model: its total model, with a warning
    from astropy.io import fits

    with fits.open(zfit_templates[1]) as hdul:
        hdul["MODEL"].columns.del_col("continuum")
        model = fits.BinTableHDU.from_columns(hdul["MODEL"].columns, header=hdul["MODEL"].header)
        hdul["MODEL"] = model
        hdul.writeto(tmp_path / "old.zfit.fits")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from slitwise.lines.template import load_continuum_template

        tmpl = load_continuum_template(tmp_path / "old.zfit.fits")
    assert tmpl.flux.size == read_zfit(zfit_templates[1]).model_flux.size
    assert any("no 'continuum' column" in str(w.message) for w in caught)
