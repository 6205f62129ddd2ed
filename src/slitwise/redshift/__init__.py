"""Template redshift fitting: template library, IGM, resolution-aware design, NNLS kernels.

The entry point is :func:`zfit`; see :mod:`slitwise.redshift.zfit`.
"""

import os

# GNU OpenMP (numba's default threading layer here) busy-waits after each parallel region,
# stealing cycles from the serial parts and from other processes on a shared machine; passive
# waiting costs our kernels nothing measurable. Set before numba starts its threads (they
# start at the first parallel kernel); a value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from slitwise.redshift.flags import ZWarn  # noqa: E402
from slitwise.redshift.plot import plot_zfit
from slitwise.redshift.product import to_product
from slitwise.redshift.templates import ContinuumTemplate, TemplateLibrary, load_user_templates
from slitwise.redshift.zfit import ZfitResult, resolve_resolution, zfit

__all__ = [
    "zfit",
    "ZfitResult",
    "resolve_resolution",
    "TemplateLibrary",
    "ContinuumTemplate",
    "load_user_templates",
    "ZWarn",
    "to_product",
    "plot_zfit",
]
