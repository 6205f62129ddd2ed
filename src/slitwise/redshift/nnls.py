"""Non-negative least squares on Gram matrices, parallel over redshift (numba).

At each trial redshift the error-weighted design ``A`` (templates x pixels) and data ``b`` give
the Gram matrix ``G = A W A^T`` and ``h = A W b``; the non-negative coefficients minimise
``chi2 = b W b - 2 x.h + x.G.x``. :func:`nnls_gram` solves this with the Lawson & Hanson (1974)
active-set algorithm working directly on ``G`` (columns scaled to unit diagonal for
conditioning; a tiny ridge keeps collinear templates solvable). :func:`chi2_grid` builds the
design, the Gram matrix (exploiting the narrow pixel ranges of line templates) and solves the
NNLS for every redshift of a grid in parallel with numba ``prange``.

Why numba: measured in ``benchmarks/bench_zfit_kernels.py`` against a vectorised JAX solver
(fixed-iteration projected coordinate descent, vmapped over z) and a numpy/scipy loop; the
numba active-set kernel is exact (not iteration-limited) and fastest on the 2-core machine.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from slitwise import _numba_cache
from slitwise.redshift import design as _design
from slitwise.redshift.design import DesignSetup, build_design

# the kernels below inline design.build_design: their cache must follow design.py too
_numba_cache.drop_stale(__file__, _design.__file__)

__all__ = ["nnls_gram", "chi2_grid", "gram_at"]

RIDGE = 1e-10


@numba.njit(cache=True)
def _chol_solve(M, rhs, idx, k, L, y, x):  # pragma: no cover - compiled
    """Solve M[idx,idx] s = rhs[idx] (symmetric positive definite, k x k) by Cholesky.

    ``L`` (n x n), ``y`` and ``x`` (n) are work arrays; the solution is ``x[:k]``.
    """
    for i in range(k):
        for j in range(i + 1):
            s = M[idx[i], idx[j]]
            for m in range(j):
                s -= L[i, m] * L[j, m]
            if i == j:
                if i == j and s <= 1e-300:
                    s = 1e-300
                L[i, i] = math.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    for i in range(k):
        s = rhs[idx[i]]
        for m in range(i):
            s -= L[i, m] * y[m]
        y[i] = s / L[i, i]
    for i in range(k - 1, -1, -1):
        s = y[i]
        for m in range(i + 1, k):
            s -= L[m, i] * x[m]
        x[i] = s / L[i, i]
    return x


@numba.njit(cache=True)
def nnls_gram(G, h, maxiter=0):  # pragma: no cover - compiled
    """Non-negative least squares from a Gram matrix (Lawson-Hanson active set).

    Parameters
    ----------
    G : ndarray (n, n)
        ``A W A^T``, symmetric positive semi-definite.
    h : ndarray (n,)
        ``A W b``.
    maxiter : int
        Iteration cap (default ``3 n + 10``).

    Returns
    -------
    x : ndarray (n,)
        Non-negative coefficients.
    q : float
        ``2 x.h - x.G.x`` so that ``chi2 = b W b - q``.
    """
    n = h.size
    if maxiter <= 0:
        maxiter = 3 * n + 10
    d = np.zeros(n)
    for i in range(n):
        if G[i, i] > 0.0:
            d[i] = math.sqrt(G[i, i])
    Gs = np.zeros((n, n))
    hs = np.zeros(n)
    for i in range(n):
        if d[i] > 0.0:
            hs[i] = h[i] / d[i]
            for j in range(n):
                if d[j] > 0.0:
                    Gs[i, j] = G[i, j] / (d[i] * d[j])
            Gs[i, i] += RIDGE
    x = np.zeros(n)
    passive = np.zeros(n, dtype=np.bool_)
    w = hs.copy()
    tol = 1e-10 * (1.0 + np.abs(hs).max()) if n > 0 else 0.0
    idx = np.zeros(n, dtype=np.int64)
    work_l = np.empty((n, n))
    work_y = np.empty(n)
    s = np.empty(n)
    it = 0
    while it < maxiter:
        jmax = -1
        wmax = tol
        for j in range(n):
            if d[j] > 0.0 and not passive[j] and w[j] > wmax:
                wmax = w[j]
                jmax = j
        if jmax < 0:
            break
        passive[jmax] = True
        while it < maxiter:
            it += 1
            k = 0
            for j in range(n):
                if passive[j]:
                    idx[k] = j
                    k += 1
            _chol_solve(Gs, hs, idx, k, work_l, work_y, s)
            ok = True
            for m in range(k):
                if s[m] <= 0.0:
                    ok = False
                    break
            if ok:
                for m in range(k):
                    x[idx[m]] = s[m]
                break
            alpha = 2.0
            for m in range(k):
                if s[m] <= 0.0:
                    xi = x[idx[m]]
                    a = xi / (xi - s[m]) if xi - s[m] != 0.0 else 0.0
                    if a < alpha:
                        alpha = a
            for m in range(k):
                j = idx[m]
                x[j] += alpha * (s[m] - x[j])
                if x[j] <= 1e-15 * (1.0 + abs(s[m])):
                    x[j] = 0.0
                    passive[j] = False
            # a passive set emptied by the step starts over from the outer loop
            anyp = False
            for j in range(n):
                if passive[j]:
                    anyp = True
                    break
            if not anyp:
                break
        k = 0
        for j in range(n):
            if x[j] > 0.0:
                idx[k] = j
                k += 1
        for i in range(n):
            acc = hs[i]
            for m in range(k):
                acc -= Gs[i, idx[m]] * x[idx[m]]
            w[i] = acc
    q = 0.0
    for i in range(n):
        if x[i] > 0.0:
            q += 2.0 * x[i] * hs[i]
            for j in range(n):
                q -= x[i] * Gs[i, j] * x[j]
    out = np.zeros(n)
    for i in range(n):
        if d[i] > 0.0:
            out[i] = x[i] / d[i]
    return out, q


@numba.njit(cache=True, fastmath=True)
def _gram(A, rlo, rhi, wt, bw, G, h, ncont):  # pragma: no cover - compiled
    """Weighted Gram matrix over each pair's overlapping pixel range.

    Continuum pairs run over all pixels; pairs with a line template only over its pixels.
    """
    nt, npix = A.shape
    for i in range(nt):
        for p in range(rlo[i], rhi[i]):
            A[i, p] *= wt[p]
    # dense continuum block: plain loops (BLAS inside prange threads oversubscribes cores)
    for i in range(ncont):
        for j in range(i, ncont):
            s = 0.0
            for p in range(npix):
                s += A[i, p] * A[j, p]
            G[i, j] = s
            G[j, i] = s
    for i in range(nt):
        s = 0.0
        for p in range(rlo[i], rhi[i]):
            s += A[i, p] * bw[p]
        h[i] = s
        for j in range(max(i, ncont), nt):
            a = max(rlo[i], rlo[j])
            b = min(rhi[i], rhi[j])
            s = 0.0
            for p in range(a, b):
                s += A[i, p] * A[j, p]
            G[i, j] = s
            G[j, i] = s


#: Redshifts per batch of the parallel kernel (design built for a batch at once).
BATCH = 16


@numba.njit(cache=True, parallel=True)
def _chi2_grid_kernel(zs, wt, bw, bb, nt, ncont, want_coeffs, *args):  # pragma: no cover
    nz = zs.size
    npix = wt.size
    chi2 = np.empty(nz)
    coeffs = np.zeros((nz if want_coeffs else 1, nt))
    nbatch = (nz + BATCH - 1) // BATCH
    for ib in prange(nbatch):
        i0 = ib * BATCH
        i1 = min(nz, i0 + BATCH)
        nb = i1 - i0
        A = np.empty((nb, nt, npix))
        rlo = np.zeros((nb, nt), dtype=np.int64)
        rhi = np.zeros((nb, nt), dtype=np.int64)
        build_design(zs[i0:i1], A, rlo, rhi, *args)
        G = np.zeros((nt, nt))
        h = np.zeros(nt)
        for b in range(nb):
            _gram(A[b], rlo[b], rhi[b], wt, bw, G, h, ncont)
            x, q = nnls_gram(G, h, 0)
            chi2[i0 + b] = bb - q
            if want_coeffs:
                coeffs[i0 + b] = x
    return chi2, coeffs


@numba.njit(cache=True, parallel=True)
def _cube_kernel(zs, nt, *args):  # pragma: no cover - compiled
    """Design matrices of every z (float32) with their non-zero pixel ranges."""
    nz = zs.size
    npix = args[0].size
    cube = np.empty((nz, nt, npix), dtype=np.float32)
    rlo = np.zeros((nz, nt), dtype=np.int64)
    rhi = np.zeros((nz, nt), dtype=np.int64)
    nbatch = (nz + BATCH - 1) // BATCH
    for ib in prange(nbatch):
        i0 = ib * BATCH
        i1 = min(nz, i0 + BATCH)
        A = np.empty((i1 - i0, nt, npix))
        build_design(zs[i0:i1], A, rlo[i0:i1], rhi[i0:i1], *args)
        cube[i0:i1] = A.astype(np.float32)
    return cube, rlo, rhi


@numba.njit(cache=True, parallel=True)
def _chi2_cube_kernel(cube, rlo, rhi, wt, bw, bb, ncont, want_coeffs):  # pragma: no cover
    nz, nt, npix = cube.shape
    chi2 = np.empty(nz)
    coeffs = np.zeros((nz if want_coeffs else 1, nt))
    nbatch = (nz + BATCH - 1) // BATCH
    for ib in prange(nbatch):
        # one work buffer per batch (a fresh large allocation per z costs page faults)
        A = np.empty((nt, npix))
        G = np.zeros((nt, nt))
        h = np.zeros(nt)
        for iz in range(ib * BATCH, min(nz, (ib + 1) * BATCH)):
            for i in range(nt):
                for p in range(rlo[iz, i], rhi[iz, i]):
                    A[i, p] = cube[iz, i, p]
            _gram(A, rlo[iz], rhi[iz], wt, bw, G, h, ncont)
            x, q = nnls_gram(G, h, 0)
            chi2[iz] = bb - q
            if want_coeffs:
                coeffs[iz] = x
    return chi2, coeffs


#: Largest design cube (bytes) kept for re-use by spectra sharing a pixel grid.
CUBE_MAX_BYTES = 400 * 2**20


def chi2_grid(
    setup: DesignSetup,
    zs: np.ndarray,
    flux: np.ndarray,
    err: np.ndarray,
    *,
    coeffs: bool = False,
    reuse: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """chi2 of the best non-negative template combination at every redshift in ``zs``.

    Parameters
    ----------
    setup : DesignSetup
        From :func:`~slitwise.redshift.design.prepare_design` for the spectrum's pixels.
    zs : ndarray
        Trial redshifts.
    flux, err : ndarray
        Data and 1-sigma errors per pixel (``inf`` error: pixel ignored).
    coeffs : bool
        Also return the coefficients (nz, ntempl).
    reuse : bool
        Keep the design matrices of this grid (float32, in ``setup``) when they fit in
        :data:`CUBE_MAX_BYTES`, so that later spectra on the same pixels and grid only pay for
        the Gram matrices and the NNLS. Worth it from the second spectrum on.
    """
    zs = np.ascontiguousarray(zs, dtype=float)
    wt = 1.0 / np.asarray(err, dtype=float)
    bw = np.asarray(flux, dtype=float) * wt
    bb = float(bw @ bw)
    size = zs.size * setup.ntempl * setup.pixels.npix * 4
    if reuse and size <= CUBE_MAX_BYTES:
        key = zs.tobytes()
        cached = setup.cubes.get(key)
        if cached is None:
            setup.cubes.clear()
            cached = _cube_kernel(zs, setup.ntempl, *setup.kernel_args())
            setup.cubes[key] = cached
        cube, rlo, rhi = cached
        chi2, x = _chi2_cube_kernel(cube, rlo, rhi, wt, bw, bb, setup.ncont, coeffs)
    else:
        chi2, x = _chi2_grid_kernel(
            zs, wt, bw, bb, setup.ntempl, setup.ncont, coeffs, *setup.kernel_args()
        )
    return chi2, (x if coeffs else None)


def gram_at(setup: DesignSetup, z: float, flux, err):
    """Design ``A`` (unweighted), Gram ``G`` and ``h`` at one redshift.

    Uses the same numba Gram routine as the grid kernels (a numpy ``A @ A.T`` this small can
    cost milliseconds in BLAS thread start-up).
    """
    nt = setup.ntempl
    A = np.zeros((1, nt, setup.pixels.npix))
    rlo = np.zeros((1, nt), dtype=np.int64)
    rhi = np.zeros((1, nt), dtype=np.int64)
    build_design(np.array([float(z)]), A, rlo, rhi, *setup.kernel_args())
    wt = 1.0 / np.asarray(err, dtype=float)
    bw = np.asarray(flux, dtype=float) * wt
    Aw = A[0].copy()
    G = np.zeros((nt, nt))
    h = np.zeros(nt)
    _gram(Aw, rlo[0], rhi[0], wt, bw, G, h, setup.ncont)
    return A[0], G, h
