"""Which pixels a line can reach, and the index arrays that restrict its evaluation to them.

A line is evaluated (its CDF at pixel edges, then differenced) only on the continuum windows
where it can put more than :data:`TAIL` of its flux: its own window, plus any other window
closer than its reach. The reach is taken at the widest intrinsic width its prior allows,
the broadest LSF (lowest resolution at the line, times the lowest resolution scale), the
largest redshift offset and pixel offset, so the restriction changes no model by more than
that fraction of a line's flux, for any parameter value. Profiles with power-law wings
(Lorentzian, Voigt), any line whose bounds are not numbers, and every line when a pixel
offset is unbounded, are evaluated everywhere.

On the line-fit benchmark this halves the number of (line, edge) evaluations, most of the
cost of the posterior's gradient: the narrow and broad Halpha are not evaluated on the
Hbeta-[OIII] window and the reverse.

The index arrays come in pairs for :func:`slitwise.lines.model.take_rows`: ``idx`` picks
elements (or the zero slot, one past the end) and ``inv`` is its inverse, so that the gradient
is a gather too.
"""

from __future__ import annotations

import math

import numpy as np

from slitwise.lines.priors import PriorSpec

__all__ = ["TAIL", "line_windows", "line_supports", "support_arrays", "inverse_index",
           "one_hot"]

TAIL = 1e-6
C_KMS = 299792.458
_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_N_SIGMA = 5.0  # one-sided Gaussian tail beyond 5 sigma: 2.9e-7 < TAIL


def _bound(name: str | None, specs: dict[str, PriorSpec], side: int, default=None):
    """Numeric lower (side 0) or upper (side 1) bound of a parameter, or ``default`` when
    the parameter is absent; None when the bound is open or an expression."""
    if name is None:
        return default
    spec = specs[name]
    fields = dict(spec.fields)
    key = "value" if spec.kind == "fixed" else ("low", "high")[side]
    if spec.kind not in ("fixed", "uniform", "loguniform", "truncnorm") or key not in fields:
        return None
    e = fields[key]
    return float(e.evaluate({})) if e.is_constant else None


def _reach_kms(line, specs, sigma_lsf_kms) -> float | None:
    """Velocity beyond which the line's LSF-convolved profile holds < TAIL of its flux."""
    fwhm = _bound(line.param("fwhm"), specs, 1)
    if fwhm is None:
        return None
    if line.profile in ("gaussian", "gauss_hermite", "skew_normal"):
        return (_N_SIGMA + 2.0) * math.hypot(fwhm * _FWHM_TO_SIGMA, sigma_lsf_kms)
    if line.profile == "split_normal":  # the wider side's sigma is at most fwhm / 1.1774
        return (_N_SIGMA + 2.0) * math.hypot(fwhm / 1.1774, sigma_lsf_kms)
    if line.profile == "laplace":  # exponential tail exp(-x / b) / 2, then the LSF's
        b = fwhm / (2.0 * math.log(2.0))
        return b * math.log(0.5 / TAIL) + _N_SIGMA * sigma_lsf_kms
    return None  # Lorentzian / Voigt wings fall as 1 / x^2


def line_windows(lines, windows_rest, specs, spectra_structs, resolution_at, pixel_kms, z0):
    """Windows each emission line can reach (a sorted tuple of window indices), or None
    where it must be evaluated on every window.

    Parameters
    ----------
    lines : list of LineStructure
    windows_rest : (n_windows, 2) array, Angstrom
    specs : dict of PriorSpec by parameter name
    spectra_structs : list of SpectrumStructure
    resolution_at : callable
        ``resolution_at(lam_um) -> (n_spectra,)`` R of every spectrum at a wavelength.
    pixel_kms : float
        Widest pixel of the fitted pixels, km/s (margin for the pixel offsets).
    z0 : float
        Reference redshift.
    """
    n_win = len(windows_rest)
    r_low = [_bound(s.r_scale, specs, 0, default=1.0) for s in spectra_structs]
    pix = [_bound(s.pix_offset, specs, side, default=0.0)
           for s in spectra_structs for side in (0, 1)]  # fmt: skip
    if None in pix:  # an open pixel offset could move any line anywhere
        return [None] * len(lines)
    pix_margin = max(abs(p) for p in pix) * pixel_kms
    out = []
    for line in lines:
        if line.kind != "emission" or n_win == 1:
            out.append(None)
            continue
        dz = [_bound(line.param("z"), specs, side) for side in (0, 1)]
        if None in dz or any(r is None or r <= 0 for r in r_low):
            out.append(None)
            continue
        lam_c = line.wave_rest * 1e-4 * (1 + z0)
        r_min = min(float(r) * lo for r, lo in zip(resolution_at(lam_c), r_low, strict=True))
        reach = _reach_kms(line, specs, C_KMS / r_min * _FWHM_TO_SIGMA)
        if reach is None:
            out.append(None)
            continue
        reach += pix_margin + max(abs(d) for d in dz) / (1 + z0) * C_KMS
        near = []
        for k, (a, b) in enumerate(windows_rest):
            w = line.wave_rest
            d = 0.0 if a <= w <= b else min(abs(a - w), abs(b - w)) / w * C_KMS
            if d <= reach:
                near.append(k)
        out.append(None if len(near) == n_win else tuple(near))
    return out


def one_hot(index: np.ndarray, n: int) -> np.ndarray:
    """``index.shape + (n,)`` array with a 1 in position ``index[...]`` of the last axis."""
    return (np.asarray(index)[..., None] == np.arange(n)).astype(float)


def inverse_index(idx: np.ndarray, n: int, m: int) -> np.ndarray:
    """Inverse of an injective index ``idx`` (values < ``n``; ``n`` itself means "none"):
    an array of length ``n`` holding, for each target, its position in ``idx``, or ``m``
    (the zero slot of an array of length ``m``) where no element of ``idx`` points to it."""
    out = np.full(n, m, np.int32)
    keep = idx < n
    out[idx[keep]] = np.flatnonzero(keep).astype(np.int32)
    return out


def _one_line(pix, ilo, ihi):
    """Support edges of pixels ``pix`` and each pixel's edges among them."""
    edges = np.unique(np.concatenate([ilo[pix], ihi[pix]]))
    slot = {int(e): i for i, e in enumerate(edges)}
    lo = np.array([slot[int(e)] for e in ilo[pix]], np.int32)
    hi = np.array([slot[int(e)] for e in ihi[pix]], np.int32)
    return edges, lo, hi


def support_arrays(windows, pix_win, ilo, ihi, n_edges_pad, n_pix_pad, width, pad_length):
    """Index arrays evaluating each line of a group (one profile) on its own pixels only.

    Parameters
    ----------
    windows : list of (tuple of int or None)
        Windows of each line of the group (None: all pixels).
    pix_win : (npix,) window of each real pixel
    ilo, ihi : (npix,) edge indices of each real pixel
    n_edges_pad, n_pix_pad : padded lengths of the full edge and pixel arrays
    width : (npix,) pixel widths
    pad_length : callable giving the bucketed length of ``n`` elements

    Returns
    -------
    dict of arrays with one row per line
        ``edge`` (ng, ne) / ``edge_inv`` (ng, n_edges_pad): support edges in the full edge
        array; ``lo`` / ``hi`` (ng, np) and ``lo_inv`` / ``hi_inv`` (ng, ne): each support
        pixel's edges among the support edges; ``pix`` (ng, n_pix_pad) / ``pix_inv``
        (ng, np): each full pixel's position among the support pixels; ``width`` (ng, np).
        Padded positions point to the zero slot one past the end of the array indexed.
    """
    every = np.arange(pix_win.size)
    per = [every if w is None else np.flatnonzero(np.isin(pix_win, w)) for w in windows]
    parts = [_one_line(pix, ilo, ihi) for pix in per]
    n_p = pad_length(max(pix.size for pix in per))
    runs = max(e.size - pix.size for (e, _, _), pix in zip(parts, per, strict=True))
    n_e = n_p + int(math.ceil(max(runs, 1) / 32.0)) * 32
    ng = len(windows)
    out = dict(
        edge=np.full((ng, n_e), n_edges_pad, np.int32),
        lo=np.full((ng, n_p), n_e, np.int32), hi=np.full((ng, n_p), n_e, np.int32),
        pix_inv=np.full((ng, n_p), n_pix_pad, np.int32), width=np.ones((ng, n_p)),
    )
    for j, (pix, (edges, lo, hi)) in enumerate(zip(per, parts, strict=True)):
        out["edge"][j, : edges.size] = edges
        out["lo"][j, : pix.size] = lo
        out["hi"][j, : pix.size] = hi
        out["pix_inv"][j, : pix.size] = pix
        out["width"][j, : pix.size] = width[pix]
    for name, target, n in (("edge", n_edges_pad, n_e), ("lo", n_e, n_p), ("hi", n_e, n_p),
                            ("pix_inv", n_pix_pad, n_p)):
        inv = np.stack([inverse_index(row, target, n) for row in out[name]])
        out["pix" if name == "pix_inv" else name + "_inv"] = inv
    return out


def line_supports(lines, pix_win, ilo, ihi, edge_spec_pad, n_pix_pad, width, n_spectra):
    """:func:`support_arrays` of every emission profile group (keyed by profile, lines in
    the order of ``lines``), each with ``edge_onehot`` (ng, ne, n_spectra): the spectrum of
    every support edge (padded edges: that of the last padded edge)."""
    from slitwise.lines.prepare import pad_length

    n_edges_pad = edge_spec_pad.size
    out = {}
    for profile in sorted({ln.profile for ln in lines if ln.kind == "emission"}):
        group = [ln for ln in lines if ln.kind == "emission" and ln.profile == profile]
        arr = support_arrays([ln.windows for ln in group], pix_win, ilo, ihi, n_edges_pad,
                             n_pix_pad, width, pad_length)
        espec = edge_spec_pad[np.minimum(arr["edge"], n_edges_pad - 1)]
        arr["edge_onehot"] = one_hot(espec, n_spectra)
        out[profile] = arr
    return out
