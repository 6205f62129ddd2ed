"""Input and output: our products, JWST and DJA readers, archive access, atomic writing."""

from slitwise.io.atomic import atomic_path, write_fits_atomic
from slitwise.io.slitlet import read_slitlet, write_slitlet

__all__ = ["atomic_path", "write_fits_atomic", "read_slitlet", "write_slitlet"]
