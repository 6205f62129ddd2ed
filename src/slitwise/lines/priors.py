"""Priors of line-fit parameters and safe arithmetic expressions for their bounds.

A prior is a :class:`PriorSpec`: a kind (``uniform``, ``loguniform``, ``normal``,
``truncnorm``, ``halfnormal``, ``fixed``) and numbers ``low``, ``high``, ``loc``, ``scale``,
``value``. Each number may be an arithmetic expression of other parameters, e.g.
``low: "fwhm_n + 150"``. Expressions are parsed with :mod:`ast` and only numbers, parameter
names, ``+ - * / **``, unary minus and parentheses are accepted (nothing is ``eval``-ed).

The same spec gives its log density and a transform from the real line onto its support
(what MAP, SVI and NUTS work with: a few plain ``jax.numpy`` operations per parameter, which
keeps the compiled posterior small), a quantile function from the unit interval (for nested
sampling) and, for users composing their own numpyro models, a numpyro distribution. All take
the values of the parameters the bounds depend on.

Transforms from an unconstrained ``u``: both bounds ``low + (high - low) sigmoid(u)``, a lower
bound only ``low + exp(u)``, an upper bound only ``high - exp(u)``, none ``u`` (the ones
numpyro's ``biject_to`` picks for these supports).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import operator

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jax.scipy.special import ndtr, ndtri
from scipy.special import ndtri as scipy_ndtri

from slitwise.errors import input_error

__all__ = [
    "PRIOR_KINDS",
    "Expression",
    "PriorSpec",
    "parse_expression",
    "topological_order",
]

#: Prior kind -> (required fields, optional fields).
PRIOR_KINDS = {
    "uniform": (("low", "high"), ()),
    "loguniform": (("low", "high"), ()),
    "normal": (("loc", "scale"), ()),
    "truncnorm": (("loc", "scale"), ("low", "high")),
    "halfnormal": (("scale",), ()),
    "fixed": (("value",), ()),
}

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


@dataclasses.dataclass(frozen=True)
class Expression:
    """A parsed arithmetic expression of parameter names (or a plain number)."""

    text: str
    tree: ast.AST = dataclasses.field(compare=False, repr=False)
    names: frozenset[str] = frozenset()

    def evaluate(self, values: dict):
        """Value of the expression given ``values`` (numbers or JAX arrays) by name."""
        return _eval(self.tree, values)

    @property
    def is_constant(self) -> bool:
        return not self.names


def _eval(node, values):
    if isinstance(node, ast.Expression):
        return _eval(node.body, values)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, values)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    raise TypeError(node)  # pragma: no cover - rejected by the parser


def _check(node, where, names):
    if isinstance(node, ast.Expression):
        _check(node.body, where, names)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise input_error(where, f"only numbers allowed in expressions, got {node.value!r}")
    elif isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, where, names)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        _check(node.left, where, names)
        _check(node.right, where, names)
    else:
        raise input_error(
            where,
            f"unsupported syntax '{type(node).__name__}' in expression; use numbers, "
            "parameter names, + - * / ** and parentheses",
        )


@functools.lru_cache(maxsize=1024)
def parse_expression(text: str | float | int, where: str = "expression") -> Expression:
    """Parse a number or an arithmetic expression of parameter names.

    Raises
    ------
    SlitwiseInputError
        On a syntax error or a construct other than numbers, names, ``+ - * / **`` and
        parentheses (no calls, attributes, subscripts...).
    """
    src = repr(float(text)) if isinstance(text, int | float) else str(text)
    try:
        tree = ast.parse(src.strip(), mode="eval")
    except SyntaxError as exc:
        raise input_error(where, f"cannot parse expression '{src}': {exc.msg}") from exc
    names: set[str] = set()
    _check(tree, where, names)
    return Expression(text=src, tree=tree, names=frozenset(names))


@dataclasses.dataclass(frozen=True)
class PriorSpec:
    """A resolved prior: kind plus parsed numeric fields."""

    name: str
    kind: str
    fields: tuple[tuple[str, Expression], ...]

    @classmethod
    def from_mapping(cls, name: str, kind: str, values: dict) -> PriorSpec:
        """Build from a kind and a mapping field -> number or expression text."""
        where = f"parameter '{name}'"
        if kind not in PRIOR_KINDS:
            raise input_error(where, f"unknown prior '{kind}'; expected one of {list(PRIOR_KINDS)}")
        required, optional = PRIOR_KINDS[kind]
        out = []
        for key in required + optional:
            val = values.get(key)
            if val is None:
                if key in required:
                    raise input_error(where, f"prior '{kind}' needs '{key}'")
                continue
            out.append((key, parse_expression(val, f"{where} field '{key}'")))
        allowed = required + optional
        extra = sorted(k for k, v in values.items() if v is not None and k not in allowed)
        if extra:
            raise input_error(where, f"prior '{kind}' does not take {extra}")
        return cls(name=name, kind=kind, fields=tuple(out))

    @property
    def depends_on(self) -> frozenset[str]:
        """Names of other parameters the fields refer to."""
        out: set[str] = set()
        for _, e in self.fields:
            out |= e.names
        return frozenset(out)

    def values(self, params: dict) -> dict:
        """Field values given the parameters they depend on."""
        return {k: e.evaluate(params) for k, e in self.fields}

    def distribution(self, params: dict):
        """numpyro distribution (None for ``fixed``)."""
        v = self.values(params)
        k = self.kind
        if k == "uniform":
            return dist.Uniform(v["low"], v["high"])
        if k == "loguniform":
            return dist.LogUniform(v["low"], v["high"])
        if k == "normal":
            return dist.Normal(v["loc"], v["scale"])
        if k == "truncnorm":
            return dist.TruncatedNormal(
                v["loc"], v["scale"], low=v.get("low"), high=v.get("high")
            )
        if k == "halfnormal":
            return dist.HalfNormal(v["scale"])
        return None

    def support(self, params: dict):
        """``(low, high)`` of the support; ``None`` for an open side."""
        v = self.values(params)
        k = self.kind
        if k in ("uniform", "loguniform"):
            return v["low"], v["high"]
        if k == "truncnorm":
            return v.get("low"), v.get("high")
        if k == "halfnormal":
            return 0.0, None
        return None, None

    def log_density(self, x, params: dict):
        """Normalised log prior density at ``x`` (inside the support).

        Normalising constants that depend only on numbers are computed in Python, so only
        terms that depend on ``x`` or on other parameters enter the traced graph.
        """
        v = self.values(params)
        out = self._log_density_constant(v)
        if self.kind == "loguniform":
            return out - jnp.log(x)
        if self.kind in ("normal", "truncnorm", "halfnormal"):
            return out - 0.5 * ((x - v.get("loc", 0.0)) / v["scale"]) ** 2
        return out + 0.0 * x

    def log_density_constant(self, params: dict | None = None):
        """The part of :meth:`log_density` that does not depend on the value itself."""
        return self._log_density_constant(self.values(params or {}))

    def _log_density_constant(self, v):
        k = self.kind
        if k == "uniform":
            return -_log(v["high"] - v["low"])
        if k == "loguniform":
            return -_log(_log(v["high"]) - _log(v["low"]))
        out = -_log(v["scale"]) - LOG_SQRT_2PI
        if k == "halfnormal":
            return out + math.log(2.0)
        if k == "truncnorm":
            a = _ndtr((v["low"] - v["loc"]) / v["scale"]) if "low" in v else 0.0
            b = _ndtr((v["high"] - v["loc"]) / v["scale"]) if "high" in v else 1.0
            out = out - _log(b - a)
        return out

    def from_unconstrained(self, u, params: dict):
        """Parameter value from an unconstrained ``u`` and the log-Jacobian ``log|dx/du|``."""
        low, high = self.support(params)
        if low is not None and high is not None:
            return bounded_transform(u, low, high)
        if low is not None:
            return lower_transform(u, low)
        if high is not None:
            return upper_transform(u, high)
        return u, 0.0 * u

    def to_unconstrained(self, x, params: dict):
        """Inverse of :meth:`from_unconstrained`."""
        low, high = self.support(params)
        if low is not None and high is not None:
            p = (x - low) / (high - low)
            return _log(p) - _log(1.0 - p)
        if low is not None:
            return _log(x - low)
        if high is not None:
            return _log(high - x)
        return x

    def fixed_value(self, params: dict):
        """Value of a ``fixed`` parameter."""
        return self.values(params)["value"]

    def ppf(self, u, params: dict):
        """Quantile function: map ``u`` in (0, 1) to the parameter (for nested sampling)."""
        v = self.values(params)
        k = self.kind
        if k == "uniform":
            return v["low"] + u * (v["high"] - v["low"])
        if k == "loguniform":
            lo, hi = _log(v["low"]), _log(v["high"])
            return _exp(lo + u * (hi - lo))
        if k == "normal":
            return v["loc"] + v["scale"] * _ndtri(u)
        if k == "truncnorm":
            a = _ndtr((v["low"] - v["loc"]) / v["scale"]) if "low" in v else 0.0
            b = _ndtr((v["high"] - v["loc"]) / v["scale"]) if "high" in v else 1.0
            return v["loc"] + v["scale"] * _ndtri(a + u * (b - a))
        if k == "halfnormal":
            return v["scale"] * _ndtri(0.5 + 0.5 * u)
        return v["value"]

    def initial_value(self, params: dict):
        """A central value (the prior median) to start optimisers from."""
        return self.ppf(0.5, params)


LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# Python numbers stay Python numbers (no JAX operation, nothing compiled): start points and
# single values are computed this way, traced arrays the JAX way.
def _log(x):
    return math.log(x) if isinstance(x, float) else jnp.log(x)


def _exp(x):
    return math.exp(x) if isinstance(x, float) else jnp.exp(x)


def _ndtr(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0)) if isinstance(x, float) else ndtr(x)


def _ndtri(x):
    return float(scipy_ndtri(x)) if isinstance(x, float) else ndtri(x)


def bounded_transform(u, low, high):
    """``low + (high - low) sigmoid(u)`` and its log-Jacobian (broadcasts)."""
    return (low + (high - low) * jax.nn.sigmoid(u),
            jnp.log(high - low) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u))


def lower_transform(u, low):
    """``low + exp(u)`` and its log-Jacobian."""
    return low + jnp.exp(u), u


def upper_transform(u, high):
    """``high - exp(u)`` and its log-Jacobian."""
    return high - jnp.exp(u), u


def topological_order(specs: dict[str, PriorSpec]) -> list[str]:
    """Order parameter names so that every prior's dependencies come before it.

    Raises
    ------
    SlitwiseInputError
        If a bound names an unknown parameter or the dependencies form a cycle.
    """
    for name, spec in specs.items():
        for dep in spec.depends_on:
            if dep not in specs:
                raise input_error(
                    f"parameter '{name}'", f"bound refers to unknown parameter '{dep}'"
                )
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n, stack):
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise input_error(f"parameter '{n}'", f"circular bounds: {' -> '.join(stack + [n])}")
        state[n] = 1
        for dep in sorted(specs[n].depends_on):
            visit(dep, stack + [n])
        state[n] = 2
        order.append(n)

    for n in specs:
        visit(n, [])
    return order
