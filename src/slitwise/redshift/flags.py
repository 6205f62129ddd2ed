"""ZWARN: the documented warning bitmask of redshift fits.

Bits 0-7 follow the ``zfit.fits`` data model (:data:`slitwise.io.schema.ZWARN_BITS`); bits
8-11 are specific to the template fitter; bits 12-15 are reserved for future fitter warnings
and 16-30 for users and downstream tools (never set by slitwise). ZWARN = 0 means no warning.

======  ====================  ====================================================================
bit     name                  set when
======  ====================  ====================================================================
0       NODATA                no usable pixel; no fit attempted (ZBEST = NaN)
1       LITTLE_COVERAGE       fewer than ``max(10, 2 * n_active_templates)`` valid pixels, or the
                              valid pixels span less than 10 % in wavelength
2       SMALL_DELTA_CHI2      another refined minimum >= 0.01 (1+z) away has a chi2 within 9 of
                              the best (delta chi2 divided by the p(z) scale, see ``pz``)
3       Z_AT_EDGE             ZBEST within one fine grid step of ZMIN or ZMAX
4       BAD_CHI2              reduced chi2 of the best fit > 4 (templates do not fit) or < 0.1
                              (errors grossly overestimated)
5       NEGATIVE_MODEL        (not set by the NNLS fitter: its models are non-negative)
6       UNRESOLVED_PEAK       a single grid point holds p(z) above half its maximum
7       USER_FLAG             set by a human grader (never by the fitter)
8       NO_TEMPLATE_COVERAGE  no template has any flux on the valid pixels at ZBEST
9       LOW_ZCONF             ZCONF < 0.5
10      MASKED_PIXELS         > 20 % of the pixels were invalid (NaN, error <= 0, masked)
11      ZERO_COEFFS           every coefficient at ZBEST is zero (the model is zero)
12-15   (reserved)
======  ====================  ====================================================================
"""

from __future__ import annotations

from slitwise.io.zfit_product import ZWarn

__all__ = ["ZWarn", "describe", "ZWARN_TABLE"]


#: (name, bit, meaning) rows, including reserved bits.
ZWARN_TABLE = (
    ("NODATA", 0, "no usable pixels; no fit attempted"),
    ("LITTLE_COVERAGE", 1, "too few valid pixels or too narrow a wavelength range"),
    ("SMALL_DELTA_CHI2", 2, "another distinct chi2 minimum within delta chi2 < 9"),
    ("Z_AT_EDGE", 3, "ZBEST lies at the edge of [ZMIN, ZMAX]"),
    ("BAD_CHI2", 4, "reduced chi2 of the best fit > 4 or < 0.1"),
    ("NEGATIVE_MODEL", 5, "best-fit model negative (never set by the NNLS fitter)"),
    ("UNRESOLVED_PEAK", 6, "p(z) peak narrower than the fine grid step"),
    ("USER_FLAG", 7, "flagged by a human grader"),
    ("NO_TEMPLATE_COVERAGE", 8, "no template has flux on the valid pixels at ZBEST"),
    ("LOW_ZCONF", 9, "ZCONF < 0.5"),
    ("MASKED_PIXELS", 10, "more than 20 % of the pixels are invalid"),
    ("ZERO_COEFFS", 11, "all template coefficients are zero at ZBEST"),
    ("RESERVED", 12, "reserved"),
    ("RESERVED", 13, "reserved"),
    ("RESERVED", 14, "reserved"),
    ("RESERVED", 15, "reserved"),
)


def describe(zwarn: int) -> list[str]:
    """Names of the bits set in ``zwarn`` (unknown bits as ``BIT<n>``)."""
    out = []
    for bit in range(31):
        if zwarn & (1 << bit):
            try:
                out.append(ZWarn(1 << bit).name)
            except ValueError:
                out.append(f"BIT{bit}")
    return out
