"""Lines evaluated only on the windows they can reach (slitwise.lines.support): the model
and its gradient are those of lines evaluated everywhere, and the gather-only gradients of
the index operations are the gradients of plain indexing."""

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import yaml

from slitwise.lines import config_from_yaml, load_config
from slitwise.lines.model import log_posterior, predict_vector, take_rows
from slitwise.lines.params import layout
from slitwise.lines.prepare import prepare
from slitwise.lines.support import line_supports

HERE = Path(__file__).parent


def _everywhere(prepared):
    """The data with every line evaluated on every pixel."""
    d, st = prepared.data, prepared.structure
    n = int(np.sum(d["w"] > 0))
    lines = [dataclasses.replace(ln, windows=None) for ln in st.lines]
    out = dict(d)
    out["support"] = line_supports(lines, d["win"][:n], d["ilo"][:n], d["ihi"][:n],
                                   d["edge_spec"], d["w"].size, d["hi"][:n] - d["lo"][:n],
                                   len(st.spectra))
    return out


def test_restricted_lines_give_the_full_model(bench_spectra):
    prepared = prepare(load_config(HERE / "bench_config.yaml"), bench_spectra)
    st = prepared.structure
    windows = {ln.name: ln.windows for ln in st.lines}
    # Halpha and Hbeta-[OIII] windows are ~65000 km/s apart: even the broad (up to 5000 km/s
    # Laplace) lines stay within their own window
    assert windows["Ha"] == windows["Ha_broad"] and windows["Hb"] == windows["Hb_broad"]
    assert windows["Ha"] != windows["Hb"] and windows["OIII_5008"] == windows["Hb"]
    full = _everywhere(prepared)
    k = len(st.free_parameters)
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        fun = jax.value_and_grad(lambda u, d: log_posterior(u, d, st))
        for u in rng.normal(0.0, 1.0, size=(4, k)):
            u = jnp.asarray(u)
            p, _ = layout(st).transform(u)
            m_r = predict_vector(p, prepared.data, st)
            m_f = predict_vector(p, full, st)
            scale = float(jnp.max(jnp.abs(m_f["lines"])))
            assert scale > 0
            # lines: exactly zero outside their windows, and < 1e-6 of the peak anywhere
            np.testing.assert_allclose(m_r["lines"], m_f["lines"], rtol=0, atol=1e-6 * scale)
            v_r, g_r = fun(u, prepared.data)
            v_f, g_f = fun(u, full)
            np.testing.assert_allclose(float(v_r), float(v_f), rtol=1e-9)
            np.testing.assert_allclose(g_r, g_f, rtol=1e-6, atol=1e-9 * float(jnp.max(abs(g_f))))


def _config(profile, fwhm_high="2000", pix_prior=None):
    extra = {}
    if pix_prior is not None:
        extra = {"instruments": {"prism-clear": {"pix_offset": "pix"}}}
    return config_from_yaml(yaml.safe_dump({
        **extra,
        "redshift": 6.779,
        "parameters": {"z": {"prior": "uniform", "low": -0.005, "high": 0.005},
                       "fwhm": {"prior": "uniform", "low": 100, "high": fwhm_high},
                       "f_ha": {"prior": "uniform", "low": 0, "high": 50},
                       "f_hb": {"prior": "uniform", "low": 0, "high": 50},
                       "w0": {"prior": "fixed", "value": 2000},
                       **({"pix": pix_prior} if pix_prior else {})},
        "lines": [{"name": "Ha", "wave": 6564.61, "profile": profile, "z": "z", "fwhm": "fwhm",
                   "flux": "f_ha"},
                  {"name": "Hb", "wave": 4862.68, "profile": profile, "z": "z", "fwhm": "fwhm",
                   "flux": "f_hb"}],
        "continuum": {"form": "linear", "width": 15000},
    }))


def test_heavy_wings_and_open_bounds_are_evaluated_everywhere(bench_spectra):
    restricted = prepare(_config("gaussian"), bench_spectra).structure
    assert all(ln.windows is not None for ln in restricted.lines)
    lorentz = prepare(_config("lorentzian"), bench_spectra).structure
    assert all(ln.windows is None for ln in lorentz.lines)  # 1/x^2 wings reach everything
    # a bound that is an expression of other parameters: no number to take the reach from
    open_high = prepare(_config("gaussian", fwhm_high="w0 + 10"), bench_spectra).structure
    assert all(ln.windows is None for ln in open_high.lines)
    very_broad = prepare(_config("laplace", fwhm_high="30000"), bench_spectra).structure
    assert all(ln.windows is None for ln in very_broad.lines)
    # a bounded pixel offset keeps the restriction; an open one could move lines anywhere
    bounded = {"prior": "truncnorm", "loc": 0.2, "scale": 0.1, "low": -0.2, "high": 0.6}
    pix = prepare(_config("gaussian", pix_prior=bounded), bench_spectra).structure
    assert all(ln.windows is not None for ln in pix.lines)
    open_pix = {"prior": "normal", "loc": 0.0, "scale": 1.0}
    pix = prepare(_config("gaussian", pix_prior=open_pix), bench_spectra).structure
    assert all(ln.windows is None for ln in pix.lines)


def test_index_gradients_are_those_of_plain_indexing():
    rng = np.random.default_rng(0)
    n, m = 9, 6
    with jax.enable_x64(True):
        x = jnp.asarray(rng.normal(size=(3, n)))
        # injective picks, two of them the zero slot (index n)
        idx = np.array([[4, 0, n, 7, 2, n], [1, 2, 3, n, n, 8], [8, 7, 6, 5, 4, 3]], np.int32)
        inv = np.full((3, n), m, np.int32)
        for j in range(3):
            for i, t in enumerate(idx[j]):
                if t < n:
                    inv[j, t] = i
        w = jnp.asarray(rng.normal(size=(3, m)))

        def plain(x):
            xz = jnp.concatenate([x, jnp.zeros((x.shape[0], 1))], axis=1)
            return jnp.stack([xz[j, idx[j]] for j in range(3)])

        np.testing.assert_allclose(take_rows(x, idx, inv), plain(x))
        g1 = jax.grad(lambda x: jnp.sum(w * take_rows(x, idx, inv)))(x)
        g2 = jax.grad(lambda x: jnp.sum(w * plain(x)))(x)
        np.testing.assert_allclose(g1, g2)
        # 1-D source shared by every row: gradients summed over rows
        x1 = x[0]
        g1 = jax.grad(lambda x: jnp.sum(w * take_rows(x, idx, inv)))(x1)
        g2 = jax.grad(lambda x: jnp.sum(w * jnp.concatenate([x, jnp.zeros(1)])[idx]))(x1)
        np.testing.assert_allclose(g1, g2)
        g1 = jax.grad(lambda x: jnp.sum(w[0] * take_rows(x, idx[:1], inv[:1])[0]))(x1)
        g2 = jax.grad(lambda x: jnp.sum(w[0] * jnp.concatenate([x, jnp.zeros(1)])[idx[0]]))(x1)
        np.testing.assert_allclose(g1, g2)


def test_mixed_profiles_absorber_and_explicit_windows(bench_spectra):
    """Explicit windows, a Lorentzian (evaluated everywhere) beside restricted Gaussians in
    other groups, an absorber and a line reaching no window: same model and gradient as
    with every line evaluated everywhere."""
    cfg = config_from_yaml(yaml.safe_dump({
        "redshift": 6.779,
        "parameters": {"z": {"prior": "uniform", "low": -0.005, "high": 0.005},
                       "fwhm": {"prior": "uniform", "low": 100, "high": 800},
                       "tau": {"prior": "uniform", "low": 0, "high": 2},
                       "f_ha": {"prior": "uniform", "low": 0, "high": 50},
                       "f_o3": {"prior": "uniform", "low": 0, "high": 50},
                       "f_he": {"prior": "uniform", "low": 0, "high": 50},
                       "f_hb": {"prior": "uniform", "low": 0, "high": 50}},
        "lines": [
            {"name": "Ha", "wave": 6564.61, "z": "z", "fwhm": "fwhm", "flux": "f_ha"},
            {"name": "Hb", "wave": 4862.68, "z": "z", "fwhm": "fwhm", "flux": "f_hb"},
            {"name": "HeI", "wave": 5877.25, "z": "z", "fwhm": "fwhm", "flux": "f_he"},
            {"name": "O3", "wave": 5008.24, "profile": "lorentzian", "z": "z", "fwhm": "fwhm",
             "flux": "f_o3"},
            {"name": "Hb_abs", "wave": 4862.68, "kind": "absorption", "z": "z", "fwhm": "fwhm",
             "tau": "tau"},
        ],
        "continuum": {"form": "linear", "windows": [[4700, 5100], [6400, 6700]]},
    }))
    prepared = prepare(cfg, bench_spectra)
    st = prepared.structure
    w = {ln.name: ln.windows for ln in st.lines}
    assert w["Ha"] == (1,) and w["Hb"] == (0,) and w["HeI"] == ()
    assert w["O3"] is None and w["Hb_abs"] is None
    full = _everywhere(prepared)
    with jax.enable_x64(True):
        fun = jax.value_and_grad(lambda u, d: log_posterior(u, d, st))
        u = jnp.asarray(np.random.default_rng(1).normal(0.0, 1.0, len(st.free_parameters)))
        p, _ = layout(st).transform(u)
        lines_r = predict_vector(p, prepared.data, st)["lines"]
        lines_f = predict_vector(p, full, st)["lines"]
        scale = float(jnp.max(jnp.abs(lines_f)))
        np.testing.assert_allclose(lines_r, lines_f, rtol=0, atol=1e-6 * scale)
        (v_r, g_r), (v_f, g_f) = fun(u, prepared.data), fun(u, full)
        np.testing.assert_allclose(float(v_r), float(v_f), rtol=1e-9)
        np.testing.assert_allclose(g_r, g_f, rtol=1e-6, atol=1e-9 * float(jnp.max(abs(g_f))))
