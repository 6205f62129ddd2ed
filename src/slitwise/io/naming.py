"""Product file names: ``{root}_{grating}-{filter}_{source}.{kind}.fits``.

The convention is the DJA/msaexp one (``demo_prism-clear_1001.spec.fits``): grating and
filter in lower case, joined by a hyphen. The source name may itself contain underscores
and dots (``nirspec_prism-clear_1345_933.spec.fits``); the root may not contain a
``_{grating}-{filter}_`` group, so that every name parses back unambiguously.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from slitwise.errors import input_error

__all__ = ["ProductName", "product_filename", "parse_product_filename"]

_ELEMENT = re.compile(r"[a-z0-9]+")
_KIND = re.compile(r"[a-z0-9]+")
_NAME = re.compile(
    r"(?P<root>[^/\s]+?)_(?P<grating>[a-z0-9]+)-(?P<filter>[a-z0-9]+)_"
    r"(?P<source>[^/\s]+)\.(?P<kind>[a-z0-9]+)\.fits(?:\.gz)?",
    re.IGNORECASE,
)


class ProductName(NamedTuple):
    """The parts of a product file name (grating and filter in lower case)."""

    root: str
    grating: str
    filter: str
    source: str
    kind: str


def product_filename(root: str, grating: str, filter: str, source: str | int, kind: str) -> str:
    """Build a product file name.

    Parameters
    ----------
    root : str
        Program or run name, e.g. ``"demo"``.
    grating, filter : str
        Disperser and filter, any case (written in lower case), e.g. ``"PRISM"``, ``"CLEAR"``.
    source : str or int
        Source name or id.
    kind : str
        Product kind, e.g. ``"spec"`` or ``"zfit"``.

    Returns
    -------
    str
        E.g. ``product_filename("demo", "PRISM", "CLEAR", 1001, "spec")`` gives
        ``"demo_prism-clear_1001.spec.fits"``.

    Raises
    ------
    SlitwiseInputError
        If a part is empty or contains characters that would make the name ambiguous.
    """
    parts = {"grating": str(grating).lower(), "filter": str(filter).lower()}
    for key, value in parts.items():
        if not _ELEMENT.fullmatch(value):
            raise input_error(f"{key} '{value}'", "must be letters and digits only")
    if not _KIND.fullmatch(kind):
        raise input_error(f"kind '{kind}'", "must be lower-case letters and digits")
    root, source = str(root), str(source)
    for key, value in (("root", root), ("source", source)):
        if not value or re.search(r"[/\s]", value) or value != os.path.basename(value):
            raise input_error(f"{key} '{value}'", "must be non-empty, without '/' or spaces")
    name = f"{root}_{parts['grating']}-{parts['filter']}_{source}.{kind}.fits"
    parsed = parse_product_filename(name)
    if parsed != ProductName(root, parts["grating"], parts["filter"], source, kind):
        raise input_error(
            f"root '{root}'", "contains a '_grating-filter_' group; the name would be ambiguous"
        )
    return name


def parse_product_filename(name: str | os.PathLike) -> ProductName:
    """Split a product file name (a path is allowed; ``.gz`` is accepted) into its parts.

    Raises
    ------
    SlitwiseInputError
        If the name does not follow ``{root}_{grating}-{filter}_{source}.{kind}.fits``.
    """
    base = os.path.basename(os.fspath(name))
    match = _NAME.fullmatch(base)
    if match is None:
        raise input_error(
            base, "not a product file name; expected {root}_{grating}-{filter}_{source}.{kind}.fits"
        )
    return ProductName(
        root=match["root"],
        grating=match["grating"].lower(),
        filter=match["filter"].lower(),
        source=match["source"],
        kind=match["kind"].lower(),
    )
