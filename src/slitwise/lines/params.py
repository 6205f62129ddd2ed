"""Parameter vectors of a fit: unconstrained ``u`` (free parameters) to the full vector ``p``.

The compiled posterior never handles parameters one scalar at a time: XLA's compile time grows
with the number of operations, and a dozen scalar sigmoids with their gradients cost more to
compile than the whole likelihood. :class:`Layout` therefore groups the free parameters whose
priors have constant fields by transform (both bounds, lower bound, upper bound, none) and by
density (Gaussian family, log-uniform, uniform) and handles each group with one vector
operation. Only parameters whose prior fields are expressions of other parameters (``low:
"fwhm_n + 150"``) and fixed parameters given by expressions are evaluated one by one, after
the parameters they depend on.

``p`` holds every parameter in the structure's order followed by the constants 0 and 1, so a
model can gather "the pixel offset of spectrum i, or 0 if it has none" with one index array
(:attr:`Layout.zero`, :attr:`Layout.one`).
"""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np

from slitwise.lines.priors import bounded_transform, lower_transform, upper_transform

__all__ = ["Layout", "layout"]


@dataclasses.dataclass(frozen=True)
class _Group:
    """Free parameters with constant supports sharing one transform."""

    kind: str  # "both", "low", "high", "none"
    u_index: np.ndarray
    low: np.ndarray
    high: np.ndarray
    names: tuple[str, ...]


class Layout:
    """Index bookkeeping and vectorised transforms of one :class:`FitStructure`."""

    def __init__(self, structure):
        self.names = tuple(structure.order)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.zero = len(self.names)
        self.one = len(self.names) + 1
        specs = dict(zip(structure.order, structure.priors, strict=True))
        self.free = tuple(n for n in self.names if specs[n].kind != "fixed")
        u_of = {n: i for i, n in enumerate(self.free)}
        constant = {n: not specs[n].depends_on for n in self.names}
        # vectorised free parameters, grouped by transform
        by_kind: dict[str, list[str]] = {"both": [], "low": [], "high": [], "none": []}
        for n in self.free:
            if constant[n]:
                lo, hi = specs[n].support({})
                kind = ("both" if hi is not None else "low") if lo is not None else (
                    "high" if hi is not None else "none")
                by_kind[kind].append(n)
        groups, cat_names = [], []
        for kind, names in by_kind.items():
            if not names:
                continue
            sup = [specs[n].support({}) for n in names]
            groups.append(_Group(
                kind, np.array([u_of[n] for n in names]),
                np.array([np.nan if s[0] is None else s[0] for s in sup], float),
                np.array([np.nan if s[1] is None else s[1] for s in sup], float),
                tuple(names)))
            cat_names += names
        self._groups = tuple(groups)
        # their densities: Gaussian family (normal, truncnorm, halfnormal), log-uniform;
        # uniform densities and all normalising constants are numbers
        const, g_pos, g_loc, g_scale, l_pos = 0.0, [], [], [], []
        for k, n in enumerate(cat_names):
            spec = specs[n]
            v = spec.values({})
            if spec.kind in ("normal", "truncnorm", "halfnormal"):
                g_pos.append(k)
                g_loc.append(v.get("loc", 0.0))
                g_scale.append(v["scale"])
            elif spec.kind == "loguniform":
                l_pos.append(k)
            const += spec.log_density_constant()
        self._const = const
        self._gauss = (np.array(g_pos, int), np.array(g_loc, float), np.array(g_scale, float))
        self._logu = np.array(l_pos, int)
        # fixed numbers, then everything that depends on other parameters, in order
        self._fixed_names = tuple(
            n for n in self.names if specs[n].kind == "fixed" and constant[n])
        self._fixed_values = np.array(
            [specs[n].fixed_value({}) for n in self._fixed_names], float)
        self._sequential = tuple(
            (n, specs[n], u_of.get(n)) for n in self.names if not constant[n])
        cat_names += list(self._fixed_names) + [n for n, _, _ in self._sequential]
        pos = {n: i for i, n in enumerate(cat_names)}
        self._n_vector = len(cat_names) - len(self._sequential)
        self._perm = np.array([pos[n] for n in self.names] + [len(cat_names), len(cat_names) + 1])
        self._cat_pos = pos

    # ------------------------------------------------------------------------------------
    def transform(self, u):
        """Full parameter vector ``p`` and the log prior density plus log-Jacobian at ``u``."""
        parts, logp = [], self._const
        for g in self._groups:
            uu = u[g.u_index]
            if g.kind == "both":
                x, lj = bounded_transform(uu, g.low, g.high)
            elif g.kind == "low":
                x, lj = lower_transform(uu, g.low)
            elif g.kind == "high":
                x, lj = upper_transform(uu, g.high)
            else:
                x, lj = uu, 0.0
            parts.append(x)
            logp = logp + jnp.sum(lj)
        if parts:
            cat = jnp.concatenate(parts)
            pos, loc, scale = self._gauss
            if pos.size:
                logp = logp - 0.5 * jnp.sum(((cat[pos] - loc) / scale) ** 2)
            if self._logu.size:
                logp = logp - jnp.sum(jnp.log(cat[self._logu]))
        else:
            cat = jnp.zeros(0)
        cat = jnp.concatenate([cat, jnp.asarray(self._fixed_values)])
        seq = []
        for _, spec, ui in self._sequential:
            vals = {d: self._scalar(d, cat, seq) for d in spec.depends_on}
            if ui is None:  # fixed, given by an expression
                seq.append(jnp.asarray(spec.fixed_value(vals), float))
                continue
            x, lj = spec.from_unconstrained(u[ui], vals)
            logp = logp + spec.log_density(x, vals) + lj
            seq.append(x)
        full = jnp.concatenate([cat, jnp.stack(seq) if seq else jnp.zeros(0),
                                jnp.array([0.0, 1.0])])
        return full[self._perm], logp

    def _scalar(self, name, cat, seq):
        k = self._cat_pos[name]
        return cat[k] if k < self._n_vector else seq[k - self._n_vector]

    def to_dict(self, p) -> dict:
        """Parameter values by name from a full vector (or a batch of them, last axis)."""
        return {n: p[..., i] for i, n in enumerate(self.names)}

    def from_dict(self, vals: dict):
        """Full vector from parameter values by name (the constants appended)."""
        return jnp.stack([jnp.asarray(vals[n], float) for n in self.names]
                         + [jnp.asarray(0.0), jnp.asarray(1.0)])

    def take(self, p, names, default: str = "zero"):
        """Values of ``names`` (nested lists give a matching array) from ``p``; a missing
        name (None) gives the constant 0 or 1 (``default``). One static gather."""
        idx = np.vectorize(lambda n: self.idx(n, default), otypes=[int])(
            np.array(names, dtype=object))
        return p[idx]

    def idx(self, name: str | None, default: str = "zero") -> int:
        """Position of a parameter in ``p``, or of the constant 0 / 1 when ``name`` is None."""
        if name is None:
            return self.zero if default == "zero" else self.one
        return self.index[name]


@functools.lru_cache(maxsize=64)
def layout(structure) -> Layout:
    """The (cached) layout of a structure."""
    return Layout(structure)

