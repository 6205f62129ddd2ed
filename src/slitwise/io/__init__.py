"""Input and output: our products, JWST and DJA readers, archive access, atomic writing."""

from slitwise.io.archive import fetch_url, open_spectrum
from slitwise.io.atomic import atomic_path, write_fits_atomic
from slitwise.io.naming import ProductName, parse_product_filename, product_filename
from slitwise.io.readers import (
    detect_format,
    msa_shutter_state,
    msa_source_shutters,
    read_dja_spec,
    read_dja_spec2d,
    read_eso_phase3,
    read_msa_metafile,
    read_s2d,
    read_table_spectrum,
    read_x1d,
)
from slitwise.io.schema import validate_product
from slitwise.io.slitlet import read_slitlet, write_slitlet
from slitwise.io.spec_product import SpecProduct, read_spec, read_spec_1d, write_spec
from slitwise.io.zfit_product import ZfitProduct, ZWarn, read_zfit, write_zfit

__all__ = ["atomic_path", "write_fits_atomic", "read_slitlet", "write_slitlet"]
__all__ += [
    "SpecProduct",
    "write_spec",
    "read_spec",
    "read_spec_1d",
    "ZfitProduct",
    "ZWarn",
    "write_zfit",
    "read_zfit",
    "validate_product",
    "ProductName",
    "product_filename",
    "parse_product_filename",
]
__all__ += [
    "open_spectrum",
    "fetch_url",
    "detect_format",
    "read_dja_spec",
    "read_dja_spec2d",
    "read_x1d",
    "read_s2d",
    "read_msa_metafile",
    "msa_source_shutters",
    "msa_shutter_state",
    "read_table_spectrum",
    "read_eso_phase3",
]
