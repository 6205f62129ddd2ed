import astropy.units as u
import numpy as np
import pytest
from scipy.special import erf

from slitwise.errors import SlitwiseInputError
from slitwise.redshift.design import PixelSet, design_matrix, prepare_design
from slitwise.redshift.lines import BROAD_GROUPS, LINE_GROUPS
from slitwise.redshift.templates import (
    ContinuumTemplate,
    TemplateLibrary,
    load_user_templates,
)


def _pixels(fnu=False, R=300.0):
    wave = np.geomspace(6000.0, 50000.0, 700)
    mid = np.sqrt(wave[1:] * wave[:-1])
    edges = np.r_[wave[0] ** 2 / mid[0], mid, wave[-1] ** 2 / mid[-1]]
    return PixelSet.from_arrays([(edges[:-1], edges[1:], R)], fnu=fnu)


def test_default_library():
    lib = TemplateLibrary.default()
    assert len(LINE_GROUPS) >= 20 and len(BROAD_GROUPS) == 4
    assert lib.ntempl == 63 and len(set(lib.names)) == lib.ntempl
    o3 = next(g for g in LINE_GROUPS if g.name == "[OIII]")
    assert o3.ratios[1] / o3.ratios[0] == pytest.approx(2.98)
    assert sum(o3.weights) == pytest.approx(1.0)
    assert any(t.name.startswith("bb_500") for t in lib.continua)
    assert any(t.name.startswith("mbb_") for t in lib.continua)


def test_flat_continuum_is_pixel_average():
    # a constant f_lambda template: the pixel average of f_lambda(lambda / (1+z)) is 1
    wave = np.geomspace(100.0, 3e5, 200)
    lib = TemplateLibrary("flat", (ContinuumTemplate("flat", wave, np.ones_like(wave)),), ())
    pix = _pixels()
    setup = prepare_design(lib, pix, zmin=0.0, zmax=3.0, igm="none")
    A = design_matrix(setup, 1.5)
    # linear interpolation of the cumulative integral between rest-grid nodes (80 km/s)
    # errs by ~dlnl^2/8 of lambda, i.e. a few 1e-6 of a pixel width here: tolerance 1e-5
    assert np.allclose(A[0, 5:-5], 1.0, rtol=1e-5)


def test_line_flux_conserved_and_integrated():
    lib = TemplateLibrary("lines", (), LINE_GROUPS)
    for fnu in (False, True):
        pix = _pixels(fnu=fnu)
        A = design_matrix(prepare_design(lib, pix, zmin=0, zmax=2, igm="none"), 1.0)
        i = lib.names.index("Halpha")
        # sum over pixels of (value / conv) is the line flux: 1 (tolerance: erf tails, 1e-9)
        assert np.sum(A[i] / pix.conv) == pytest.approx(1.0, rel=1e-9)
        # [OIII]: both lines inside -> total 1 with the 1:2.98 split between two peaks
        j = lib.names.index("[OIII]")
        assert np.sum(A[j] / pix.conv) == pytest.approx(1.0, rel=1e-9)


def test_line_between_pixels_is_split_not_point_sampled():
    lib = TemplateLibrary("lines", (), LINE_GROUPS)
    edges = np.arange(13000.0, 13200.0, 10.0)
    # R = 1e6: LSF tiny; the 100 km/s intrinsic width (2.2 A) spans ~1 pixel
    pix = PixelSet.from_arrays([(edges[:-1], edges[1:], 1e6)], fnu=False)
    z = 13100.0 / 6564.61 - 1  # Halpha lands exactly on a pixel edge
    A = design_matrix(prepare_design(lib, pix, zmin=0, zmax=1, igm="none"), z)
    row = A[lib.names.index("Halpha")] * 10.0
    k = int(np.argmax(row))
    assert row[k] == pytest.approx(row[k - 1], rel=1e-6) or row[k] == pytest.approx(row[k + 1])
    # each neighbour holds half of the Gaussian within one pixel width of the centre:
    # 0.5 erf(10 A / (sigma sqrt 2)), sigma from 100 km/s and the (negligible) LSF
    sig = 13100.0 * np.hypot(100.0 / 299792.458, 0.4246609 / 1e6)
    assert row[k] == pytest.approx(0.5 * erf(10.0 / (sig * np.sqrt(2))), rel=1e-6)


def test_user_templates(tmp_path):
    w = np.geomspace(500, 50000, 100)
    np.savetxt(tmp_path / "a.dat", np.c_[w, w**-1.0])
    np.savetxt(tmp_path / "b.txt", np.c_[w, np.ones_like(w)])
    ts = load_user_templates(tmp_path)
    assert [t.name for t in ts] == ["a", "b"]
    lib = TemplateLibrary.default().with_continua(ts, replace=True)
    assert lib.ncont == 2
    with pytest.raises(SlitwiseInputError, match="increasing"):
        ContinuumTemplate("bad", w[::-1], w)
    with pytest.raises(SlitwiseInputError, match="does not exist"):
        load_user_templates(tmp_path / "nope")
    (tmp_path / "c.dat").write_text("1 2 3\nx y z\n")
    with pytest.raises(SlitwiseInputError, match="c.dat"):
        load_user_templates(tmp_path / "c.dat")


def test_quantity_units_of_line_coefficients():
    # a line coefficient in a f_nu (uJy) fit has unit uJy Hz, convertible to erg/s/cm2
    assert (1 * u.uJy * u.Hz).to(u.erg / u.s / u.cm**2).value == pytest.approx(1e-29)


def test_igm_absorbs_pixels_straddling_lya_at_low_resolution():
    """At R ~ 30 (PRISM near 1 um) the LSF kernel of a pixel just blueward of Lya reaches
    redward of it. The pixel must still be absorbed (the transmission is averaged over its
    kernel); it once skipped the IGM, moving the model break ~40 A (rest) to the blue and
    z ~ 8 PRISM fits to z + 0.27."""
    wave = np.geomspace(100.0, 3e5, 400)
    lib = TemplateLibrary("flat", (ContinuumTemplate("flat", wave, np.ones_like(wave)),), ())
    z = 8.134
    edges = np.geomspace(0.8e4, 1.6e4, 60)
    pix = PixelSet.from_arrays([(edges[:-1], edges[1:], 30.0)], fnu=False)
    setup = prepare_design(lib, pix, zmin=7.0, zmax=9.0, igm="inoue14")
    model = design_matrix(setup, z)[0]
    rest = 0.5 * (edges[:-1] + edges[1:]) / (1 + z)
    red = model[rest > 1300].mean()
    # mean IGM transmission at z = 8 is ~0 between Lyb and Lya: a pixel centred 30 A blueward
    # of Lya keeps only the part of its kernel beyond the break, and the break is at Lya
    assert np.all(model[rest < 1150] < 0.02 * red)
    near = (rest > 1180) & (rest < 1195)
    assert near.any() and np.all(model[near] < 0.6 * red), model[near] / red
    assert np.all(model[(rest > 1260)] > 0.9 * red)
