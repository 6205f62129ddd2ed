"""Encode products as FITS following :mod:`slitwise.io.schema`: headers and tables.

Shared by the product writers and readers: keyword values checked for FITS, PRIMARY headers
in schema order with the schema descriptions as comments, table HDUs with the declared dtypes
and a TUNIT card on every column, and tables read back bit for bit.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from astropy.io import fits

from slitwise.errors import input_error
from slitwise.io.schema import FORMAT_VERSION, PRODUCTS, STRUCTURAL_KEYWORDS, column_dtype

__all__ = [
    "header_value",
    "clean_meta",
    "set_keyword",
    "primary_header",
    "table_hdu",
    "table_columns",
]

_KEYWORD = re.compile(r"[A-Z0-9_-]{1,8}")


def header_value(value: Any, where: str) -> str | int | float | bool:
    """``value`` as a FITS-storable scalar (str, int, float, bool) or an input error."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            raise input_error(where, f"value {value} is not finite; FITS headers cannot hold it")
        return float(value)
    if isinstance(value, str):
        return value
    raise input_error(
        where,
        f"value {value!r} of type {type(value).__name__} cannot be a "
        "FITS keyword (str, int, float or bool expected)",
    )


def clean_meta(meta: dict[str, Any], reserved: set[str], where: str) -> dict[str, Any]:
    """Upper-case keyword names, check them and their values for a FITS header."""
    out = {}
    for key, value in meta.items():
        name = str(key).upper()
        if not _KEYWORD.fullmatch(name) or name in STRUCTURAL_KEYWORDS:
            raise input_error(
                f"{where} meta key '{key}'",
                "must be a FITS keyword of at most 8 letters, digits, '_' or '-'",
            )
        if name in reserved:
            raise input_error(
                f"{where} meta key '{key}'",
                "is a keyword declared by the format; set it through its own field",
            )
        out[name] = header_value(value, f"{where} meta '{key}'")
    return out


_DTYPE_TFORM = {
    "float64": "D",
    "float32": "E",
    "int64": "K",
    "int32": "J",
    "int16": "I",
    "uint8": "B",
    "bool": "L",
}


def set_keyword(header: fits.Header, key: str, value: Any, comment: str = "") -> None:
    """Set ``header[key] = value`` with ``comment`` shortened to fit the 80-character card."""
    if comment:
        used = len(fits.Card(key, value).image.rstrip())
        room = 80 - used - 3
        comment = comment[: max(room, 0)] if used <= 80 else ""
    header[key] = (value, comment) if comment else value


def primary_header(kind: str, values: dict[str, Any], meta: dict[str, Any]) -> fits.Header:
    """PRIMARY header of product ``kind``: provenance, then declared ``values``, then ``meta``.

    Declared keywords are written in schema order with their description (and unit) as the
    comment; ``values`` entries that are None are omitted.
    """
    import slitwise

    provenance = {
        "ORIGIN": "slitwise",
        "PRODTYPE": kind,
        "FMTVER": FORMAT_VERSION,
        "SWVERS": slitwise.__version__,
    }
    values = provenance | {k: v for k, v in values.items() if v is not None}
    hdr = fits.Header()
    for spec in PRODUCTS[kind].hdu("PRIMARY").keywords:
        if spec.name in values:
            unit = f"[{spec.unit}] " if spec.unit else ""
            set_keyword(hdr, spec.name, values[spec.name], unit + spec.description)
    for key, value in meta.items():
        if key not in hdr:
            set_keyword(hdr, key, value)
    return hdr


def table_hdu(
    kind: str, name: str, columns: dict[str, Any], *, units: dict[str, str] | None = None
) -> fits.BinTableHDU:
    """Build table HDU ``name`` of product ``kind`` with the declared dtypes and TUNITs.

    Parameters
    ----------
    kind, name : str
        Product kind ('spec', 'zfit', 'lines') and HDU name.
    columns : dict
        Column name -> 1D array (2D: one vector of fixed length per row), in the order to
        write. Declared columns are cast to their schema dtype; undeclared ones keep their own.
    units : dict, optional
        FITS unit strings of undeclared columns ('' if absent), and of declared columns whose
        schema unit names a keyword (``{FLUXUNIT} um-1``): those must be given.
    """
    spec = PRODUCTS[kind].hdu(name)
    units = units or {}
    cols, tunits = [], []
    for colname, values in columns.items():
        col = spec.column(colname)
        dtype = col.dtype if col is not None else None
        unit = units.get(colname, col.unit if col is not None else "")
        if "{" in unit:
            raise ValueError(f"{kind}[{name}].{colname}: unit '{unit}' must be given in units")
        arr = np.asarray(values)
        if dtype is None:
            dtype = "str" if arr.dtype.kind in "US" else arr.dtype.newbyteorder("=").name
        if dtype == "str":
            arr = np.asarray(arr, dtype=str)
            width = max(1, max((len(v.encode("utf-8")) for v in arr.ravel()), default=1))
            fmt = f"{width}A"
            arr = np.char.encode(arr, "utf-8") if arr.size else arr.astype(f"S{width}")
        else:
            arr = arr.astype(dtype, copy=False)
            fmt = _DTYPE_TFORM[dtype]
            if arr.ndim == 2:
                fmt = f"{arr.shape[1]}{fmt}"
        cols.append(fits.Column(name=colname, format=fmt, array=arr))
        tunits.append(unit)
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    for i, unit in enumerate(tunits, start=1):
        # Always write TUNIT, even for dimensionless columns (astropy drops empty units).
        hdu.header.set(f"TUNIT{i}", unit, after=f"TFORM{i}")
    return hdu


def table_columns(hdu: fits.BinTableHDU) -> dict[str, tuple[np.ndarray, str]]:
    """Columns of a table HDU as name -> (native-endian array, TUNIT string).

    Strings are decoded to ``str`` arrays; numbers keep their FITS dtype bit for bit.
    """
    out = {}
    for i, name in enumerate(hdu.columns.names, start=1):
        raw = hdu.data[name]
        if column_dtype(hdu.columns[i - 1].format) == "str":
            arr = np.char.decode(np.asarray(raw, dtype=bytes), "utf-8").astype(str)
        else:
            arr = np.asarray(raw)
            arr = arr.astype(arr.dtype.newbyteorder("="))
        out[name] = (arr, str(hdu.header.get(f"TUNIT{i}", "")))
    return out
