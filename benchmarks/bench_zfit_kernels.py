"""NNLS-on-Gram-matrices kernels over a redshift grid: numba prange vs vectorised JAX vs numpy.

Builds, for one benchmark PRISM spectrum and the default 58-template library, the Gram
matrices G(z) = A W A^T and h(z) = A W b on the 1827-point coarse grid (500 km/s, 0 < z < 20),
then solves the NNLS at every z with

* ``numba``: :func:`slitwise.redshift.nnls.nnls_gram` (Lawson-Hanson active set, exact) in a
  ``prange`` loop over z;
* ``jax``: projected cyclic coordinate descent on the unit-diagonal Gram matrix, a fixed
  number of sweeps, ``vmap``-ed over z and ``jit``-compiled (exact only in the limit);
* ``numpy``: a Python loop over z calling ``scipy.optimize.nnls`` on the Cholesky factor.

Prints the wall time of each (after compilation) and the largest chi2 difference from the
exact solution. Usage: python benchmarks/bench_zfit_kernels.py [--sweeps 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import prange

from slitwise.redshift.nnls import nnls_gram

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SLITWISE_SHARED", REPO.parent / "shared"))


@numba.njit(parallel=True)
def _numba_all(G, h):
    nz = h.shape[0]
    q = np.empty(nz)
    for i in prange(nz):
        _, q[i] = nnls_gram(G[i], h[i], 0)
    return q


def _grams(i_spec=120):
    import astropy.units as u

    from slitwise.redshift import TemplateLibrary
    from slitwise.redshift.design import PixelSet, design_matrix, prepare_design
    from slitwise.redshift.grid import velocity_grid

    d = np.load(SHARED / "bench" / "zfit" / "prism_bench_v1.npz")
    e = d["wave_edges"] * 1e4
    pix = PixelSet.from_arrays([(e[:-1], e[1:], d["R_true"])], fnu=True)
    setup = prepare_design(TemplateLibrary.default(), pix, zmin=0.0, zmax=20.0)
    zs = velocity_grid(0.0, 20.0, 500.0)
    wt = 1.0 / d["err"][i_spec]
    bw = d["flux"][i_spec] * wt
    G = np.empty((zs.size, setup.ntempl, setup.ntempl))
    h = np.empty((zs.size, setup.ntempl))
    for k, z in enumerate(zs):
        Aw = design_matrix(setup, z) * wt
        G[k] = Aw @ Aw.T
        h[k] = Aw @ bw
    assert u
    return G, h, float(bw @ bw)


def _jax_solver(sweeps):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def solve(G, h):
        d = jnp.sqrt(jnp.where(jnp.diag(G) > 0, jnp.diag(G), 1.0))
        empty = jnp.diag(G) <= 0  # templates with no flux on the pixels: x = 0
        Gs = G / d[:, None] / d[None, :] + jnp.diag(jnp.where(empty, 1.0, 1e-10))
        hs = jnp.where(empty, 0.0, h / d)
        n = h.shape[0]

        def sweep(_, x):
            def coord(j, x):
                r = hs[j] - Gs[j] @ x + Gs[j, j] * x[j]
                return x.at[j].set(jnp.maximum(r / Gs[j, j], 0.0))

            return jax.lax.fori_loop(0, n, coord, x)

        x = jax.lax.fori_loop(0, sweeps, sweep, jnp.zeros(n))
        return 2 * x @ hs - x @ Gs @ x

    return jax.jit(jax.vmap(solve))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=200)
    a = ap.parse_args()
    G, h, bb = _grams()
    nz, nt = h.shape
    print(f"{nz} redshifts, {nt} templates, numba threads {numba.get_num_threads()}")
    res = {}

    _numba_all(G[:2], h[:2])
    t = time.perf_counter()
    q_exact = _numba_all(G, h)
    res["numba prange, Lawson-Hanson"] = (time.perf_counter() - t, 0.0)

    solver = _jax_solver(a.sweeps)
    solver(G[:2], h[:2]).block_until_ready()
    t = time.perf_counter()
    q = np.asarray(solver(G, h).block_until_ready())
    res[f"jax vmap, {a.sweeps} CD sweeps"] = (
        time.perf_counter() - t,
        float(np.max(np.abs(q - q_exact))),
    )

    from scipy.optimize import nnls

    t = time.perf_counter()
    qn = np.empty(nz)
    for k in range(nz):
        d = np.sqrt(np.where(np.diag(G[k]) > 0, np.diag(G[k]), 1.0))
        Gs = G[k] / d[:, None] / d[None, :] + 1e-10 * np.eye(nt)
        L = np.linalg.cholesky(Gs)
        y = np.linalg.solve(L, h[k] / d)
        x, _ = nnls(L.T, y)
        qn[k] = 2 * x @ (h[k] / d) - x @ Gs @ x
    res["numpy loop, scipy nnls"] = (time.perf_counter() - t, float(np.max(np.abs(qn - q_exact))))
    base = res["numba prange, Lawson-Hanson"][0]
    print(f"{'kernel':<34} {'wall s':>8} {'x numba':>8} {'max |dchi2| vs exact':>22}")
    for k, (w, err) in res.items():
        print(f"{k:<34} {w:8.3f} {w / base:8.1f} {err:22.3g}")
    print(f"(chi2 scale: b.W.b = {bb:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
