"""slitwise: multi-object slit spectroscopy from 2D exposures to redshifts and line fluxes."""

from slitwise.errors import SlitwiseInputError

__version__ = "0.1.0"

__all__ = ["SlitwiseInputError", "__version__"]
