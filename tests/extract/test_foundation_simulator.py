"""Extraction validated on the foundation simulator (:mod:`slitwise.simulate`), known truth.

The cut-outs go through the same reader as real data (:func:`slitwise.io.read_slitlet`); the
truth comes from ``truth.ecsv`` (true LSF-convolved f_nu, :func:`slitwise.simulate.true_spectrum`)
and the per-exposure sidecars (noiseless source image, :func:`read_truth_exposure`). The
simulator divides SCI by PATHLOSS_PS at the source position, so for a point source the
extracted f_nu, with the point-source correction kept (``pathloss='auto'`` -> 'keep'), is the
total f_nu: the ratio to truth is the path-loss-corrected ratio of issue 3.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from slitwise.extract import ExtractOptions, extract_group, extract_source
from slitwise.extract.pixels import assign_bins
from slitwise.io import read_slitlet
from slitwise.simulate import SourceModel, read_truth_exposure, simulate_program, true_spectrum

GRATINGS = ("PRISM/CLEAR", "G395M/F290LP")


def _point_source(source_id: int, cont: float, **kw) -> SourceModel:
    # a power-law continuum (f_nu ~ lambda^0.5) with a Lyman break at 1.46 um, point source
    return SourceModel(
        source_id=source_id, name=str(source_id), z=3.0, cont_fnu=cont, beta=-1.5,
        igm_transmission=0.6, line_flux={}, sigma_kms=100.0, size=0.0,
        xpos=kw.get("xpos", 0.12), ypos=kw.get("ypos", -0.1), host_id=source_id,
    )  # fmt: skip


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """One bright point source, PRISM and G395M, 3 nods, no stuck shutter, no serendip."""
    out = tmp_path_factory.mktemp("sim_clean")
    prog = simulate_program(
        out, sources=[_point_source(1, 2.0)], seed=11, gratings=GRATINGS, n_nods=3,
        stuck_fraction=0.0, serendip_fraction=0.0,
    )  # fmt: skip
    exposures = [read_slitlet(p) for p in prog.exposures]
    products = extract_source(exposures, options=ExtractOptions(serendips=False), details=True)
    return prog, exposures, {p.product.grating: p for p in products}


def _truth_on(prog, result, grating):
    disp = next(g for g in GRATINGS if g.startswith(grating))
    return true_spectrum(prog.truth[0], result.wave, disperser=disp).value


@pytest.mark.parametrize("grating", ["PRISM", "G395M"])
def test_point_source_flux_unbiased_and_errors_honest(clean, grating):
    prog, _, prods = clean
    res = prods[grating].result
    truth = _truth_on(prog, res, grating)
    ok = np.isfinite(res.flux) & np.isfinite(res.err) & (truth > 0.2 * np.nanmax(truth))
    ratio = np.median(res.flux[ok] / truth[ok])
    chi = (res.flux[ok] - truth[ok]) / res.err[ok]
    # S/N per bin ~20 (G395M) to ~100 (PRISM) over 400-1300 bins: the median ratio is known to
    # <~0.2 %, so the 1 % is a real test of bias (measured 1.0000 PRISM / 0.9973 G395M)
    assert abs(ratio - 1) < 0.01, ratio
    # honest errors: unit variance +-10 % (sampling error of the variance ~5-7 % here; measured
    # 0.99 / 1.06)
    assert 0.9 < np.var(chi) < 1.1, np.var(chi)


@pytest.mark.parametrize("grating", ["PRISM", "G395M"])
def test_error_rescaling_keeps_honest_errors(clean, grating):
    # the simulator's variances are right: the empirical scale must come out ~1 and the
    # rescaled errors stay honest (real CEERS cut-outs: see tests/extract/test_real.py)
    prog, exposures, _ = clean
    grp = [e for e in exposures if e.grating == grating]
    (prod,) = extract_source(grp, options=ExtractOptions(serendips=False, rescale_errors=True),
                             details=True)  # fmt: skip
    (group,) = prod.groups
    # measured 1.007 (PRISM) and 0.969 (G395M); each wavelength range's robust scatter comes
    # from a few hundred pixels (~3 % sampling error)
    assert 0.93 < group.error_scale < 1.07, group.error_scale
    assert prod.product.meta["ERRSCALE"] == pytest.approx(group.error_scale)
    res = prod.result
    truth = _truth_on(prog, res, grating)
    ok = np.isfinite(res.flux) & np.isfinite(res.err) & (truth > 0.2 * np.nanmax(truth))
    chi = (res.flux[ok] - truth[ok]) / res.err[ok]
    # measured 0.96 / 1.11 (unscaled 0.99 / 1.06): the variance's own sampling error (5-7 %)
    # plus the scale's
    assert 0.85 < np.var(chi) < 1.15, np.var(chi)


def _horne_limit(prog, exposures, result, grating, excluded=()):
    """Horne (S/N)^2 per bin from the TRUE profile and variance of every usable pixel."""
    limit = np.zeros(result.wave.size)
    k = 0
    for path, exp in zip(prog.exposures, exposures, strict=True):
        if exp.grating != grating:
            continue
        if k in excluded:
            k += 1
            continue
        k += 1
        truth = read_truth_exposure(path)
        # the simulator's variances are those of the noiseless expected counts: true variances
        var = exp.var_poisson + exp.var_rnoise
        b = assign_bins(exp.wave.ravel(), result.wave)
        s2n = (truth.source**2 / var).ravel()
        good = (b >= 0) & np.isfinite(s2n) & exp.valid.ravel()
        limit += np.bincount(b[good], s2n[good], minlength=result.wave.size)
    return limit


@pytest.mark.parametrize("grating", ["PRISM", "G395M"])
def test_point_source_snr_reaches_horne_limit(clean, grating):
    prog, exposures, prods = clean
    res = prods[grating].result
    truth = _truth_on(prog, res, grating)
    limit = _horne_limit(prog, exposures, res, grating)
    ok = np.isfinite(res.err) & (limit > 0) & (truth > 0.2 * np.nanmax(truth))
    ratio = np.median(truth[ok] / res.err[ok] / np.sqrt(limit[ok]))
    # issue 3: >= 0.97 of the ideal limit (which assumes a noiseless background; the nod
    # background, smoothed over 15 columns, costs ~1 %). Measured 0.992 / 1.008.
    assert ratio >= 0.97, ratio


@pytest.fixture(scope="module")
def stuck(tmp_path_factory):
    """Bright point source, PRISM, a stuck-closed shutter that blocks the source in one nod."""
    out = tmp_path_factory.mktemp("sim_stuck")
    prog = simulate_program(
        out, sources=[_point_source(1, 2.0)], seed=2, gratings=("PRISM/CLEAR",), n_nods=3,
        stuck_fraction=1.0, serendip_fraction=0.0,
    )  # fmt: skip
    blocked = {i for i, p in enumerate(prog.exposures)
               if read_truth_exposure(p).meta["source_blocked"]}  # fmt: skip
    assert len(blocked) == 1  # the 3-nod pattern visits every shutter of the slitlet
    return prog, blocked


@pytest.mark.parametrize("patterns", ["kept", "hidden"])
def test_stuck_shutter_excluded_and_flux_unbiased(stuck, patterns, caplog):
    prog, blocked = stuck
    exposures = [read_slitlet(p) for p in prog.exposures]
    if patterns == "hidden":
        # no '0' in SHUTSTA: the exposure must be found from the missing signal alone
        for e in exposures:
            e.shutter_state = e.shutter_state.replace("0", "1")
    with caplog.at_level(logging.WARNING):
        g = extract_group(exposures, options=ExtractOptions(serendips=False))
    assert set(g.excluded) == blocked
    assert "stuck" in caplog.text or "closed" in caplog.text
    res = g.sources[0]
    truth = true_spectrum(prog.truth[0], res.wave, disperser="PRISM/CLEAR").value
    ok = np.isfinite(res.flux) & (truth > 0.2 * np.nanmax(truth))
    # same 1 % target as without a stuck shutter (two nods left; measured 0.997)
    assert abs(np.median(res.flux[ok] / truth[ok]) - 1) < 0.01


def test_serendipitous_source_found(tmp_path):
    # seed 2: the simulator puts a faint (0.05 uJy continuum) serendip 4.3 rows below the primary,
    # visible in two of the three nods
    prog = simulate_program(
        tmp_path, sources=[_point_source(1, 2.0)], seed=2, gratings=("PRISM/CLEAR",), n_nods=3,
        stuck_fraction=0.0, serendip_fraction=1.0,
    )  # fmt: skip
    truths = [read_truth_exposure(p) for p in prog.exposures]
    assert sum(t.meta["serendip_visible"] for t in truths) >= 2
    trace = truths[0].trace
    dy_true = float(np.nanmedian(trace["y_ser"].value - trace["y"].value))
    out = extract_source([read_slitlet(p) for p in prog.exposures], details=True)
    found = [o.result for o in out if o.result.serendip]
    assert len(out) == 2 and len(found) == 1
    # position within a third of a pixel of the truth (the search grid is 1 px, refined by a
    # parabola; measured offset ~0.1 px)
    assert found[0].dy == pytest.approx(dy_true, abs=0.35)
    prim = next(o.result for o in out if not o.result.serendip)
    truth = true_spectrum(prog.truth[0], prim.wave, disperser="PRISM/CLEAR").value
    ok = np.isfinite(prim.flux) & (truth > 0.2 * np.nanmax(truth))
    # the deblended primary keeps its flux (1 % target)
    assert abs(np.median(prim.flux[ok] / truth[ok]) - 1) < 0.01


def test_resolved_source_slit_loss_corrected_from_fitted_size(tmp_path):
    """A resolved source (sigma 0.06") off-centre in its shutter loses 15-30 % more light than
    the point-source path loss restores, most at short wavelengths. The extraction measures
    its size and corrects for it; without that the flux is low and tilted in wavelength."""
    src = _point_source(7, 0.8, xpos=0.25, ypos=-0.15)
    src = SourceModel(**{**src.__dict__, "size": 0.06})
    prog = simulate_program(
        tmp_path, sources=[src], seed=5, gratings=("PRISM/CLEAR",), n_nods=3,
        stuck_fraction=0.0, serendip_fraction=0.0,
    )  # fmt: skip
    exposures = [read_slitlet(p) for p in prog.exposures]
    ratios = {}
    for on in (True, False):
        opt = ExtractOptions(serendips=False, pathloss_size=on)
        res = extract_source(exposures, options=opt, details=True)[0].result
        truth = true_spectrum(prog.truth[0], res.wave, disperser="PRISM/CLEAR").value
        ok = np.isfinite(res.flux) & (truth > 0.2 * np.nanmax(truth))
        blue = ok & (res.wave < 2.0)
        red = ok & (res.wave > 3.5)
        ratios[on] = (np.median(res.flux[blue] / truth[blue]),
                      np.median(res.flux[red] / truth[red]))  # fmt: skip
    # measured: without the size term 0.737 (< 2 um) and 0.861 (> 3.5 um); with it 0.944 and
    # 1.016. The rest is a convention gap: the simulator places sources in units of the shutter
    # pitch, the extraction reads SRCXPOS across the open area (0.75x the pitch in x)
    assert ratios[False][0] < 0.8 and ratios[False][1] < 0.9, ratios
    assert all(abs(r - 1) < 0.08 for r in ratios[True]), ratios
    assert abs(ratios[True][0] - ratios[True][1]) < 0.1, ratios
