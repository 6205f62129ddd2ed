"""Template redshift fitting: template library, IGM, resolution-aware design, NNLS kernels.

The entry point is :func:`zfit`; see :mod:`slitwise.redshift.zfit`.
"""

from slitwise.redshift.flags import ZWarn
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
]
