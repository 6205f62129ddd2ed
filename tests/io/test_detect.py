"""Layout detection and open_spectrum dispatch on local files."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from slitwise.io.archive import open_spectrum
from slitwise.io.readers import ACCEPTED_LAYOUTS, detect_format
from slitwise.spectra import Spectrum1D

REAL = {
    "dja-nirspec-wavecal/calib_g235m-f170lp_iras-05248-7007_s200a1.v1.spec.fits.gz": "dja",
    "msaexp-pypi-0.9.19/static-test-driz-center-bkg_933.spec.fits": "dja",
    "msaexp-pypi-0.9.19/derived/nirspec_prism-clear_1345_933.spec.fits": "dja",
    "nirspec-mos-jwebinar-smacs0723/jw02736-o007_s06355_nirspec_f290lp-g395m_x1d.fits": "jwst-x1d",
    "ppxf-legac/legac_M19_56670_v3.0.fits": "eso-phase3",
}


@pytest.mark.realdata
@pytest.mark.parametrize(("rel", "layout"), list(REAL.items()))
def test_detect_real_layouts(real, rel, layout):
    path = real(rel)
    assert detect_format(path) == layout
    spec = open_spectrum(path)
    assert isinstance(spec, Spectrum1D)
    assert spec.wave.unit == u.um
    assert spec.meta["format"].startswith(layout.split("-")[0])
    # strings work as well as Paths, and file:// URLs are local paths
    same = open_spectrum(f"file://{path}")
    np.testing.assert_array_equal(same.flux.value, spec.flux.value)


def test_accepted_layouts_listed():
    assert len(ACCEPTED_LAYOUTS) == 5


def test_slitwise_spec_dispatch(tmp_path):
    """Our own spec.fits (ORIGIN='slitwise') goes to the products reader, not the DJA one."""
    spec_product = pytest.importorskip("slitwise.io.spec_product")
    n = 30
    wave = np.linspace(1.0, 2.0, n) * u.um
    spec = Spectrum1D(
        wave=wave,
        flux=np.linspace(1.0, 3.0, n) * u.uJy,
        err=np.full(n, 0.2) * u.uJy,
        meta={"filename": "memory"},
    )
    try:
        product = spec_product.SpecProduct(
            spectrum=spec, source="1001", grating="PRISM", filter="CLEAR"
        )
        path = spec_product.write_spec(product, tmp_path / "t_prism-clear_1001.spec.fits")
    except TypeError as exc:  # the products API is being written in parallel
        pytest.skip(f"spec_product API not ready: {exc}")
    assert detect_format(path) == "slitwise"
    back = open_spectrum(path)
    np.testing.assert_allclose(back.flux.value, spec.flux.value, rtol=1e-12)
    np.testing.assert_allclose(back.wave.to_value(u.um), wave.value, rtol=1e-12)
