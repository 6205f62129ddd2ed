"""Profiles (normalisation, convolution identities), priors, expressions, YAML config."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import fftconvolve

from slitwise.errors import SlitwiseInputError
from slitwise.lines.config import config_from_yaml, config_to_yaml, load_config, save_config
from slitwise.lines.linelist import rest_wavelength
from slitwise.lines.priors import PriorSpec, parse_expression, topological_order
from slitwise.lines.profiles import PROFILES, SHAPE_PARAMETERS, convolved_cdf, pixel_fractions

HERE = Path(__file__).parent
SHAPES = {"fwhm_l": 0.002, "h3": 0.1, "h4": -0.05, "alpha": 3.0, "asym": 0.4}


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_integrates_to_one(profile):
    # wide pixel grid: the fractions must sum to 1 (Lorentzian wings: 1e-3 beyond +-0.5)
    with jax.enable_x64(True):
        edges = jnp.linspace(-0.5, 0.5, 4001)
        shape = tuple(SHAPES[r] for r in SHAPE_PARAMETERS[profile])
        frac = pixel_fractions(profile, edges[:-1], edges[1:], 0.0, 0.004, 0.002, shape)
        tol = 5e-3 if profile in ("lorentzian", "voigt") else 1e-9
        assert abs(float(jnp.sum(frac)) - 1.0) < tol
        if profile != "gauss_hermite":  # GH series may dip below zero in the wings
            assert float(jnp.min(frac)) > -1e-12


def _numeric_cdf(pdf, x, s):
    dx = x[1] - x[0]
    g = np.exp(-0.5 * (x / s) ** 2)
    conv = fftconvolve(pdf, g / g.sum(), mode="same")
    return np.cumsum(conv) * dx


@pytest.mark.parametrize("profile", ["laplace", "gauss_hermite", "skew_normal", "split_normal"])
def test_closed_form_convolution_matches_numeric(profile):
    # intrinsic profile convolved numerically with the Gaussian LSF on a fine grid; the
    # closed form must agree to 2e-3 in the CDF (grid step 1e-3 sigma-units -> ~1e-3 error)
    x = np.linspace(-20, 20, 40001)
    fwhm, s = 3.0, 1.0
    sig = fwhm / 2.3548200450309493
    if profile == "laplace":
        b = fwhm / (2 * np.log(2))
        pdf, shape = np.exp(-np.abs(x) / b) / (2 * b), ()
    elif profile == "gauss_hermite":
        y = x / sig
        h3, h4 = 0.1, -0.05
        pdf = np.exp(-0.5 * y**2) / np.sqrt(2 * np.pi) / sig * (
            1 + h3 * (y**3 - 3 * y) / np.sqrt(6) + h4 * (y**4 - 6 * y**2 + 3) / np.sqrt(24))
        shape = (h3, h4)
    elif profile == "skew_normal":
        from scipy.stats import skewnorm

        pdf, shape = skewnorm.pdf(x, 3.0, scale=sig), (3.0,)
    else:
        asym = 0.4
        tot = fwhm / 1.1774100225154747
        s1, s2 = 0.5 * tot * (1 - asym), 0.5 * tot * (1 + asym)
        pdf = np.where(x < 0, np.exp(-0.5 * (x / s1) ** 2), np.exp(-0.5 * (x / s2) ** 2))
        pdf = pdf * np.sqrt(2 / np.pi) / (s1 + s2)
        shape = (asym,)
    num = _numeric_cdf(pdf, x, s)
    with jax.enable_x64(True):
        ana = np.asarray(convolved_cdf(profile, jnp.asarray(x), fwhm, s, shape))
    sel = slice(2000, -2000)
    assert np.max(np.abs(num[sel] - ana[sel])) < 2e-3


def test_laplace_closed_form_gradient_matches_finite_differences():
    # the Laplace CDF's derivatives are written by hand (custom JVP): compare them with
    # central differences in x, the width and the LSF sigma, also for a Laplace much narrower
    # than the LSF (width clamped), where the former formula overflowed to NaN 9 sigma out
    rng = np.random.default_rng(4)
    x = rng.uniform(-0.05, 0.05, 40)
    h = 1e-7
    with jax.enable_x64(True):

        def cdf(x, fwhm, s):
            return convolved_cdf("laplace", jnp.asarray(x), fwhm, s)

        for fwhm, s in [(0.012, 0.004), (0.002, 0.009), (1e-6, 0.005)]:
            gx = jax.vmap(jax.grad(cdf, argnums=0), in_axes=(0, None, None))(x, fwhm, s)
            gw = jax.jacfwd(cdf, argnums=1)(x, fwhm, s)
            gs = jax.jacrev(cdf, argnums=2)(x, fwhm, s)
            fx = (cdf(x + h, fwhm, s) - cdf(x - h, fwhm, s)) / (2 * h)
            fw = (cdf(x, fwhm + h * 1e-2, s) - cdf(x, fwhm - h * 1e-2, s)) / (2e-2 * h)
            fs = (cdf(x, fwhm, s + h * 1e-2) - cdf(x, fwhm, s - h * 1e-2)) / (2e-2 * h)
            for ana, num in ((gx, fx), (gw, fw), (gs, fs)):
                scale = max(float(np.max(np.abs(num))), 1.0)
                assert np.max(np.abs(np.asarray(ana) - np.asarray(num))) < 1e-5 * scale


def test_expression_is_safe_and_evaluates():
    e = parse_expression("fwhm_n + 150")
    assert e.names == {"fwhm_n"}
    assert e.evaluate({"fwhm_n": 200.0}) == 350.0
    with pytest.raises(SlitwiseInputError, match="unsupported syntax"):
        parse_expression("__import__('os').system('true')")
    with pytest.raises(SlitwiseInputError, match="unsupported syntax"):
        parse_expression("a.b")


def test_topological_order_and_cycle():
    specs = {
        "b": PriorSpec.from_mapping("b", "uniform", {"low": "a + 1", "high": 10}),
        "a": PriorSpec.from_mapping("a", "uniform", {"low": 0, "high": 1}),
    }
    assert topological_order(specs) == ["a", "b"]
    specs["a"] = PriorSpec.from_mapping("a", "uniform", {"low": "b", "high": 1})
    with pytest.raises(SlitwiseInputError, match="circular"):
        topological_order(specs)


@pytest.mark.parametrize("kind,fields", [
    ("uniform", {"low": 1.0, "high": 3.0}), ("loguniform", {"low": 1.0, "high": 100.0}),
    ("normal", {"loc": 1.0, "scale": 2.0}), ("halfnormal", {"scale": 2.0}),
    ("truncnorm", {"loc": 1.0, "scale": 0.5, "low": 0.5, "high": 2.0}),
])
def test_ppf_matches_distribution_cdf(kind, fields):
    # ppf(u) must invert the numpyro distribution's cdf (nested sampling uses ppf)
    spec = PriorSpec.from_mapping("p", kind, fields)
    with jax.enable_x64(True):
        u = jnp.array([0.1, 0.5, 0.9])
        x = spec.ppf(u, {})
        assert np.allclose(np.asarray(spec.distribution({}).cdf(x)), np.asarray(u), atol=1e-8)


def _reference_log_density(u, structure):
    """Log prior + log-Jacobian at ``u`` from numpyro's distributions and ``biject_to``, one
    parameter at a time: the reference the vectorised layout must reproduce."""
    from numpyro.distributions.transforms import biject_to

    vals, logp, i = {}, 0.0, 0
    for name, spec in zip(structure.order, structure.priors, strict=True):
        if spec.kind == "fixed":
            vals[name] = spec.fixed_value(vals)
            continue
        d = spec.distribution(vals)
        t = biject_to(d.support)
        x = t(u[i])
        logp = logp + d.log_prob(x) + t.log_abs_det_jacobian(u[i], x)
        vals[name] = x
        i += 1
    return vals, logp


def test_vectorised_layout_matches_numpyro_priors():
    # every prior kind, a dependent bound, fixed numbers and a fixed expression: the
    # vectorised transform gives the same values and the same log density as numpyro
    from slitwise.lines.params import Layout
    from slitwise.lines.prepare import FitStructure

    fields = {
        "a": ("uniform", {"low": -1.0, "high": 3.0}),
        "b": ("loguniform", {"low": 0.1, "high": 100.0}),
        "c": ("normal", {"loc": 1.0, "scale": 2.0}),
        "d": ("halfnormal", {"scale": 2.0}),
        "e": ("truncnorm", {"loc": 1.0, "scale": 0.5, "low": 0.5, "high": 2.0}),
        "f": ("truncnorm", {"loc": 1.0, "scale": 0.5, "low": 0.2}),
        "g": ("uniform", {"low": "a + 150", "high": 5000.0}),
        "h": ("truncnorm", {"loc": "c", "scale": 0.3, "low": "a - 1", "high": "a + 4"}),
        "k": ("fixed", {"value": 2.5}),
        "m": ("fixed", {"value": "2 * c"}),
    }
    specs = {n: PriorSpec.from_mapping(n, kind, f) for n, (kind, f) in fields.items()}
    order = topological_order(specs)
    st = FitStructure(order=tuple(order), priors=tuple(specs[n] for n in order), lines=(),
                      continuum_form="linear", n_windows=0, continuum_params=(), spectra=(),
                      likelihood="gaussian", nu=5.0)
    lay = Layout(st)
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        for _ in range(5):
            u = jnp.asarray(rng.normal(0, 1.5, size=len(lay.free)))
            p, logp = lay.transform(u)
            ref_vals, ref_logp = _reference_log_density(u, st)
            assert float(logp) == pytest.approx(float(ref_logp), rel=1e-10, abs=1e-10)
            got = lay.to_dict(p)
            for n in order:
                assert float(got[n]) == pytest.approx(float(ref_vals[n]), rel=1e-12, abs=1e-12)
            # the constants 0 and 1 follow the parameters
            assert float(p[lay.zero]) == 0.0 and float(p[lay.one]) == 1.0


def test_config_round_trip(tmp_path):
    cfg = load_config(HERE / "bench_config.yaml")
    path = tmp_path / "c.yaml"
    save_config(cfg, path)
    assert load_config(path) == cfg
    assert config_from_yaml(config_to_yaml(cfg)) == cfg


def test_config_unknown_key_and_parameter():
    text = (HERE / "bench_config.yaml").read_text()
    with pytest.raises(SlitwiseInputError, match="unknown key 'colour'"):
        config_from_yaml(text.replace("{form: linear", "{colour: 1, form: linear"))
    with pytest.raises(SlitwiseInputError, match="unknown parameter 'fwhm_x'"):
        config_from_yaml(text.replace("fwhm: fwhm_b, flux: f_hab", "fwhm: fwhm_x, flux: f_hab"))
    with pytest.raises(SlitwiseInputError, match="unknown parameter 'nope'"):
        config_from_yaml(text.replace('low: "fwhm_n + 150"', 'low: "nope + 150"'))


def test_linelist():
    assert rest_wavelength("Ha") == pytest.approx(6564.61)
    assert rest_wavelength("oiii_5007") == pytest.approx(5008.24)
    with pytest.raises(SlitwiseInputError, match="not in the packaged line list"):
        rest_wavelength("Xx_1234")
