"""Real spectra with known redshifts (skipped when ../shared/data/real is absent).

Tolerance |dz|/(1+z) < 0.002: the issue's criterion, about a tenth of a PRISM resolution
element and one M-grating resolution element.
"""

import warnings

import pytest

from slitwise.redshift import zfit

pytestmark = pytest.mark.realdata

CASES = [
    ("msaexp-pypi-0.9.19/derived/nirspec_prism-clear_1345_933.spec.fits", 4.2341, {}),
    ("nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits", 7.665, {}),
    # LEGA-C: zmax lowered to keep the test fast (the default range is checked by
    # benchmarks/bench_zfit_real.py); R = 2500 comes from the SPEC_RES keyword.
    ("ppxf-legac/legac_M19_56670_v3.0.fits", 0.6686, {"zmax": 1.5}),
    ("dja-nirspec-wavecal/calib_prism-clear_iras-05248-7007_s200a1.v1.spec.fits.gz", 0.000984, {}),
    ("dja-nirspec-wavecal/calib_g395m-f290lp_iras-05248-7007_s200a1.v1.spec.fits.gz", 0.000984, {}),
]


@pytest.mark.parametrize("rel,ztrue,kw", CASES, ids=[c[0].split("/")[-1][:40] for c in CASES])
def test_real_redshift(real, rel, ztrue, kw):
    from slitwise.io.archive import open_spectrum

    path = real(rel)
    with warnings.catch_warnings():
        # astropy's FITS unit parser warns about non-standard units in third-party files
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*unit.*")
        spec = open_spectrum(path)
    res = zfit(spec, **kw)
    assert abs(res.zbest - ztrue) / (1 + ztrue) < 0.002
    assert res.zconf > 0.9
