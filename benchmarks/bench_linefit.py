"""Line-fit benchmark (issue 9) on ../shared/bench/linefit: speed against unite, accuracy,
calibration over noise realisations, many sources, nested-sampling evidence, real data.

Usage::

    .venv/bin/python benchmarks/bench_linefit.py [--parts speed,calib,many,nested,real]
        [--n-calib 30] [--calib-seed0 1000] [--block 30] [--n-many 50]
        [--unite-python /tmp/unite-venv/bin/python]

``speed`` runs ``slitwise linefit`` (NUTS 1 chain 500+500) as a separate process and, when a
Python with unite 3.5.2 is available, ``bench_unite.py --nuts --no-svi`` in the same run, and
prints both whole-process wall times and their ratio (otherwise the reference ~95 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from math import comb
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SLITWISE_SHARED", REPO.parent / "shared"))
BENCH = SHARED / "bench" / "linefit"
CONFIG = REPO / "tests" / "lines" / "bench_config.yaml"
TRUTH_KEYS = {
    "z": lambda t: t["dz_true"], "fwhm_n": lambda t: t["fwhm_narrow_kms"],
    "fwhm_b": lambda t: t["fwhm_broad_kms"], "f_ha": lambda t: t["line_flux_1em18_cgs"]["Ha"],
    "f_hb": lambda t: t["line_flux_1em18_cgs"]["Hb"],
    "f_oiii": lambda t: t["line_flux_1em18_cgs"]["OIII_4960.3"],
    "f_hab": lambda t: t["line_flux_1em18_cgs"]["Ha_broad"],
    "f_hbb": lambda t: t["line_flux_1em18_cgs"]["Hb_broad"],
    "r_a": lambda t: t["calib"]["G395M"]["r_scale"],
    "pix_prism": lambda t: t["calib"]["PRISM"]["pix_offset"],
    "fs_g395m": lambda t: t["calib"]["G395M"]["flux_scale"],
}
PY = sys.executable


def truth():
    t = json.loads((BENCH / "truth.json").read_text())
    return {k: f(t) for k, f in TRUTH_KEYS.items()}


def spectra():
    from slitwise.lines import load_spectrum

    return [load_spectrum(str(BENCH / "synth_prism.spec.fits")),
            load_spectrum(str(BENCH / "synth_g395m.spec.fits"))]


def realisation(specs, seed, *, broad=True):
    """Same noiseless truth and errors, new Gaussian noise (make_synthetic.py's noise model)."""
    import astropy.units as u
    from astropy.io import fits

    out = []
    for k, s in enumerate(specs):
        with fits.open(s.meta["filename"]) as h:
            d = h["SPEC1D"].data
            model = np.asarray(d["model_flam"], float)
            err = np.asarray(d["err_flam"], float)
        if not broad:
            model = model - _broad_part(s, k)
        rng = np.random.default_rng(seed * 2 + k)
        flux = model + rng.normal(size=model.size) * err
        unit = u.Unit("1e-16 erg / (s cm2 um)")
        out.append(dataclasses.replace(s, flux=flux * unit, err=err * unit, meta=dict(s.meta)))
    return out


_BROAD = {}


def _broad_part(spec, k):
    """Broad-line part of the noiseless truth, from our forward model at the true values."""
    if k in _BROAD:
        return _BROAD[k]
    import jax
    import jax.numpy as jnp

    from slitwise.lines import load_config
    from slitwise.lines.model import predict
    from slitwise.lines.prepare import prepare

    cfg = load_config(CONFIG)
    specs = spectra()
    p = prepare(cfg, [specs[k]])
    vals = dict(truth())
    vals.update({n: 0.0 for n in p.structure.order if n.startswith("cont")})
    for n in ("f_ha", "f_hb", "f_oiii"):
        vals[n] = 0.0
    if k == 0:
        vals["fs_g395m"] = 1.0
    with jax.enable_x64(True):
        m = predict({n: jnp.asarray(v) for n, v in vals.items()},
                    jax.tree_util.tree_map(jnp.asarray, p.data), p.structure)
    full = np.zeros(specs[k].npix)
    n = p.offsets[1]
    full[p.pixel_index[0]] = np.asarray(m["total"])[:n] * 1e-2  # 1e-18/um -> 1e-16/um
    _BROAD[k] = full
    return full


def part_speed(args):
    out = Path("/tmp/bench_linefit_nuts.fits")
    cmd = [str(REPO / ".venv/bin/slitwise"), "linefit", "--config", str(CONFIG),
           str(BENCH / "synth_prism.spec.fits"), str(BENCH / "synth_g395m.spec.fits"),
           "--out", str(out), "--sampler", "nuts", "--warmup", "500", "--samples", "500"]
    if not Path(cmd[0]).exists() or "linefit" not in subprocess.run(
            [cmd[0], "--help"], capture_output=True, text=True).stdout:
        cmd = [PY, "-c", "import sys; from slitwise.cli import linefit; import argparse; "
               "p=argparse.ArgumentParser(); s=p.add_subparsers(); linefit.add_parser(s); "
               "a=p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"] + cmd[1:]
    import tempfile

    env = dict(os.environ, SLITWISE_JAX_CACHE=tempfile.mkdtemp(prefix="slitwise-jax-"))
    t = time.perf_counter()  # the whole `slitwise linefit` process, nothing else
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    ours = time.perf_counter() - t
    print(res.stdout[-2500:])
    if res.returncode:
        print(res.stderr[-3000:])
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, text=True, env=env)
    ours_warm = time.perf_counter() - t
    from slitwise.lines import read_linefit

    prod = read_linefit(out)
    params = prod["params"]
    pct = list(np.asarray(params["percentile"]))
    tr = truth()
    print(f"{'param':10s} {'truth':>10s} {'p0.15':>10s} {'p50':>10s} {'p99.85':>10s} inside")
    n_in = 0
    for k, v in tr.items():
        col = np.asarray(getattr(params[k], "value", params[k]))
        lo, med, hi = col[pct.index(0.15)], col[pct.index(50.0)], col[pct.index(99.85)]
        n_in += lo <= v <= hi
        print(f"{k:10s} {v:10.5g} {lo:10.5g} {med:10.5g} {hi:10.5g} {lo <= v <= hi}")
    diag = prod["diagnostics"]
    print(f"inside [p0.15, p99.85]: {n_in}/{len(tr)};  divergences "
          f"{int(diag['divergences'][0])}, min ESS {float(diag['min_ess'][0]):.0f}, "
          f"redchi2 {float(diag['redchi2'][0]):.3f}")
    print(f"slitwise linefit NUTS 500+500 whole process: {ours:.1f} s cold (empty compilation "
          f"cache), {ours_warm:.1f} s warm (second process, same configuration)")
    upy = args.unite_python
    if upy and Path(upy).exists():
        t = time.perf_counter()
        r = subprocess.run([upy, str(BENCH / "bench_unite.py"), "--nuts", "--no-svi",
                            "--out", "/tmp/results_unite.json"],
                           capture_output=True, text=True, cwd="/tmp")
        unite = time.perf_counter() - t
        print(r.stdout[-1800:])
        if r.returncode:
            print(r.stderr[-2000:])
        print(f"unite 3.5.2 NUTS 500+500 whole process: {unite:.1f} s (same run)")
    else:
        unite = 95.0
        print("unite not available here: using the reference ~95 s measured earlier")
    print(f"RATIO slitwise / unite wall time = {ours / unite:.3f} cold, "
          f"{ours_warm / unite:.3f} warm (target <= 0.25)")


def part_calib(args):
    """Coverage of [p16, p84] (and [p2.5, p97.5]) over noise realisations ``--calib-seed0 + i``
    (realisation i fitted with seed i; fit_many on threads gives the same fits as a loop)."""
    from slitwise.lines import fit_many, load_config

    cfg = load_config(CONFIG)
    base = spectra()
    tr = truth()
    n, s0 = args.n_calib, args.calib_seed0
    t0 = time.perf_counter()
    res = fit_many(cfg, [realisation(base, s0 + i) for i in range(n)], sampler="nuts", seed=0)
    bad = [r for r in res if isinstance(r, Exception)]
    if bad:
        raise RuntimeError(bad[0])
    print(f"\ncoverage over {n} realisations (seeds {s0}..{s0 + n - 1}; target 0.68 +- 0.10); "
          f"binomial sd {np.sqrt(0.68 * 0.32 / n):.3f}; total {time.perf_counter() - t0:.0f} s; "
          f"divergences {sum(r.diagnostics['divergences'] for r in res)}")
    print(f"{'param':10s} {'[p16,p84]':>9s} {'[p2.5,p97.5]':>12s} {'mean z':>7s} {'std z':>6s}")
    inside, zs = np.zeros((n, len(tr)), bool), np.zeros((n, len(tr)))
    for j, (k, v) in enumerate(tr.items()):
        p = np.array([np.percentile(r.samples[k], [2.5, 16, 50, 84, 97.5]) for r in res])
        inside[:, j] = (p[:, 1] <= v) & (v <= p[:, 3])
        c68 = inside[:, j].mean()
        c95 = np.mean((p[:, 0] <= v) & (v <= p[:, 4]))
        zs[:, j] = z = (p[:, 2] - v) / (0.5 * (p[:, 3] - p[:, 1]))
        print(f"{k:10s} {c68:9.3f} {c95:12.3f} {z.mean():+7.2f} {z.std():6.2f} "
              f"{'ok' if _passes(c68) else 'OUT'}")
    _calib_blocks(inside, zs, list(tr), s0, args.block)


def _passes(frac):
    """The acceptance criterion on a hit-rate of [p16, p84]: within 0.68 +- 0.10."""
    return np.abs(frac - 0.68) <= 0.10 + 1e-9


def _calib_blocks(inside, z, keys, s0, b, n_boot=20000):
    """The literal criterion (every parameter's hit-rate within 0.68 +- 0.10) on disjoint blocks
    of ``b`` realisations, and how often it passes for this sampler and for an ideal one."""
    n, m = inside.shape
    nb, n_pass = n // b, 0
    print(f"\nliteral criterion on {nb} disjoint blocks of {b} realisations"
          f"{f' ({n - nb * b} left over)' if n % b else ''}:")
    for i in range(nb):
        f = inside[i * b:(i + 1) * b].mean(0)
        ok = _passes(f)
        n_pass += ok.all()
        out = ", ".join(f"{k} {x:.3f}" for k, x, o in zip(keys, f, ok, strict=True)
                        if not o)
        print(f"  seeds {s0 + i * b}..{s0 + (i + 1) * b - 1}: {ok.sum():2d}/{m} within; "
              f"outside: {out or '-'}")
    if nb:
        print(f"blocks passing all {m}: {n_pass}/{nb} = {n_pass / nb:.3f}")
    rng = np.random.default_rng(12345)
    boot = _passes(inside[rng.integers(0, n, (n_boot, b))].mean(1))
    x = rng.multivariate_normal(np.zeros(m), np.corrcoef(z, rowvar=False), size=(n_boot, b))
    ideal = _passes((np.abs(x) < 0.9945).mean(1))  # |x| < 0.9945: exactly 0.68 per parameter
    indep = sum(comb(b, k) * 0.68**k * 0.32**(b - k) for k in range(b + 1) if _passes(k / b))
    print(f"P(block of {b} passes all {m}), {n_boot} simulated blocks each:")
    print(f"  bootstrap of this sampler (rows of `inside` resampled): {boot.all(1).mean():.3f}, "
          f"mean {boot.sum(1).mean():.2f}/{m} within")
    print(f"  ideal sampler, Gaussian copula (0.68 marginals, correlation of z): "
          f"{ideal.all(1).mean():.3f}, mean {ideal.sum(1).mean():.2f}/{m} within "
          f"(independent parameters: {indep**m:.3f})")


_MANY_CHILD = """
import sys, time
sys.path.insert(0, {bench_dir!r})
import bench_linefit as B
from slitwise.lines import fit_lines, fit_many, load_config
cfg = load_config(B.CONFIG)
base = B.spectra()
mode, sampler, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sources = [B.realisation(base, 6000 + i) for i in range(n)]
t = time.perf_counter()
if mode == "loop":
    for i, src in enumerate(sources):
        fit_lines(cfg, src, sampler=sampler, seed=i)
else:
    res = fit_many(cfg, sources, sampler=sampler, workers=int(sys.argv[4]))
    bad = [r for r in res if isinstance(r, Exception)]
    assert not bad, bad
print(time.perf_counter() - t)
"""


def _many_child(mode, sampler, n, workers=1):
    code = _MANY_CHILD.format(bench_dir=str(Path(__file__).parent))
    r = subprocess.run([PY, "-c", code, mode, sampler, str(n), str(workers)],
                       capture_output=True, text=True, cwd=REPO)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return float(r.stdout.strip().splitlines()[-1])


def part_many(args):
    """Each timing in a fresh process (compilation included), fits only (no imports/IO)."""
    n = args.n_many
    for sampler in ("map", "nuts"):
        one = _many_child("loop", sampler, 1)
        loop = _many_child("loop", sampler, n)
        threads = _many_child("many", sampler, n, workers=os.cpu_count() or 1)
        print(f"{sampler}: one source {one:.2f} s (cold, with compilation); {n} sources: "
              f"fit_lines loop {loop:.1f} s = {loop / one:.2f}x one "
              f"({(loop - one) / (n - 1):.2f} s per further source); fit_many on "
              f"{os.cpu_count()} threads {threads:.1f} s = {threads / one:.2f}x one "
              f"({(threads - one) / (n - 1):.2f} s per further source) (target <= 5x)",
              flush=True)


def part_nested(args):
    import yaml

    from slitwise.lines import config_from_yaml, fit_lines

    text = CONFIG.read_text()
    raw = yaml.safe_load(text)
    raw["lines"] = [ln for ln in raw["lines"] if "broad" not in ln["name"]]
    for k in ("fwhm_b", "f_hab", "f_hbb"):
        raw["parameters"].pop(k)
    narrow_cfg = config_from_yaml(yaml.safe_dump(raw, sort_keys=False))
    broad_cfg = config_from_yaml(text)
    for label, specs in (("benchmark (broad present)", spectra()),
                         ("narrow-only simulation", realisation(spectra(), 77, broad=False))):
        lz = {}
        for name, cfg in (("broad", broad_cfg), ("narrow", narrow_cfg)):
            t = time.perf_counter()
            r = fit_lines(cfg, specs, sampler="nested", nlive=args.nlive)
            lz[name] = (r.diagnostics["ln_z"], r.diagnostics["ln_z_err"])
            print(f"  {label} {name}: ln Z = {lz[name][0]:.2f} +- {lz[name][1]:.2f} "
                  f"({time.perf_counter() - t:.0f} s, {r.diagnostics['n_calls']} calls)",
                  flush=True)
        print(f"{label}: ln(Z_broad / Z_narrow) = {lz['broad'][0] - lz['narrow'][0]:.2f}")


REAL = {
    "smacs": dict(
        path="nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits",
        yaml="""
redshift: 7.665
flux_unit: 1e-18 erg / (s cm2)
parameters:
  z:      {prior: uniform, low: -0.01, high: 0.01}
  fwhm:   {prior: uniform, low: 20, high: 1000}
  f_hb:   {prior: uniform, low: -100, high: 200}
  f_oiii: {prior: uniform, low: -100, high: 500}
lines:
  - {name: Hb, profile: gaussian, z: z, fwhm: fwhm, flux: f_hb}
  - {name: OIII_4960, profile: gaussian, z: z, fwhm: fwhm, flux: f_oiii, strength: 1.0}
  - {name: OIII_5008, profile: gaussian, z: z, fwhm: fwhm, flux: f_oiii, strength: 2.98}
continuum: {form: linear, width: 12000}
"""),
    "ceers": dict(
        path="msaexp-pypi-0.9.19/derived/nirspec_prism-clear_1345_933.spec.fits",
        yaml="""
redshift: 4.234
flux_unit: 1e-18 erg / (s cm2)
parameters:
  z:      {prior: uniform, low: -0.02, high: 0.02}
  fwhm:   {prior: uniform, low: 20, high: 1500}
  f_ha:   {prior: uniform, low: -100, high: 1000}
  f_hb:   {prior: uniform, low: -100, high: 500}
  f_oiii: {prior: uniform, low: -100, high: 1000}
  f_oii:  {prior: uniform, low: -100, high: 500}
  r_p:    {prior: uniform, low: 0.5, high: 3.0}
lines:
  - {name: OII_3727, profile: gaussian, z: z, fwhm: fwhm, flux: f_oii}
  - {name: Hb, profile: gaussian, z: z, fwhm: fwhm, flux: f_hb}
  - {name: OIII_4960, profile: gaussian, z: z, fwhm: fwhm, flux: f_oiii, strength: 1.0}
  - {name: OIII_5008, profile: gaussian, z: z, fwhm: fwhm, flux: f_oiii, strength: 2.98}
  - {name: Ha, profile: gaussian, z: z, fwhm: fwhm, flux: f_ha}
continuum: {form: linear, width: 20000}
instruments:
  prism-clear: {r_scale: r_p}
"""),
}


def part_real(args):
    from slitwise.lines import config_from_yaml, fit_lines, load_spectrum
    from slitwise.lines.plot import plot_linefit

    for key, item in REAL.items():
        path = SHARED / "data" / "real" / item["path"]
        if not path.exists():
            print(f"{key}: {path} not available, skipped")
            continue
        r = fit_lines(config_from_yaml(item["yaml"]), [load_spectrum(str(path))],
                      sampler="nuts")
        png = Path(args.png_dir) / f"linefit_{key}.png"
        plot_linefit(r, png, title=f"{key}: {path.name}")
        d = r.diagnostics
        extra = {k: round(float(np.median(r.samples[k])), 5) for k in ("z", "r_p")
                 if k in r.samples}
        print(f"{key}: {extra} reduced chi2 {d['redchi2']:.2f} (dof {d['dof']}), "
              f"divergences {d['divergences']}, wrote {png}")
        print(r.derived)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="speed,calib,many,nested,real")
    ap.add_argument("--n-calib", type=int, default=30)
    ap.add_argument("--calib-seed0", type=int, default=1000,
                    help="first noise realisation of the calibration part (default 1000)")
    ap.add_argument("--block", type=int, default=30,
                    help="realisations per block of the literal calibration criterion")
    ap.add_argument("--n-many", type=int, default=50)
    ap.add_argument("--nlive", type=int, default=300)
    ap.add_argument("--png-dir", default="/tmp")
    ap.add_argument("--unite-python", default=os.environ.get(
        "UNITE_PYTHON", "/tmp/unite-venv/bin/python"))
    args = ap.parse_args()
    for part in args.parts.split(","):
        print(f"\n===== {part} =====", flush=True)
        globals()[f"part_{part}"](args)


if __name__ == "__main__":
    main()
