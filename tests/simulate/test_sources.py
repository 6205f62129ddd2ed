"""True spectra: line fluxes integrate to their inputs, continuum normalisation, truth rows."""

from __future__ import annotations

import dataclasses

import astropy.units as u
import numpy as np
import pytest

from slitwise.instruments import get_disperser
from slitwise.simulate import draw_source, source_from_row, true_spectrum
from slitwise.simulate.sources import C_UM_S
from slitwise.simulate.truth import sources_to_table


def _flam_per_um(fnu_ujy, wave_um):
    return np.asarray(fnu_ujy) * 1e-29 * C_UM_S / np.asarray(wave_um) ** 2


def _line_only(source):
    # Same source without continuum: the sum over a line is then the line flux alone.
    return dataclasses.replace(source, cont_fnu=0.0)


@pytest.mark.parametrize("disperser", [None, "PRISM/CLEAR", "G395M/F290LP"])
def test_line_flux_integrates_to_input(disperser):
    src = _line_only(draw_source(np.random.default_rng(4), 1001, z_range=(5.0, 5.5)))
    wave_ha = 0.656461 * (1 + src.z)
    if disperser is None:
        wave = np.linspace(wave_ha - 0.03, wave_ha + 0.03, 4001)
    else:
        wave = get_disperser(disperser).pixel_grid()
    fnu = true_spectrum(src, wave, disperser=disperser).to_value(u.uJy)
    edges = np.concatenate(
        [
            [1.5 * wave[0] - 0.5 * wave[1]],
            0.5 * (wave[1:] + wave[:-1]),
            [1.5 * wave[-1] - 0.5 * wave[-2]],
        ]
    )
    flam = _flam_per_um(fnu, wave)
    # H-alpha and its [NII] neighbours (and broad component) blend at low resolution: integrate
    # over +-0.06 um (PRISM) or +-0.01 um and compare with the sum of the input fluxes there.
    half = 0.15 if disperser == "PRISM/CLEAR" else 0.012
    sel = np.abs(wave - wave_ha) < half
    measured = np.sum(flam[sel] * np.diff(edges)[sel])
    expected = sum(
        f for _n, _c, rest, f, _s in src.lines() if abs(rest * (1 + src.z) - wave_ha) < half - 0.005
    )
    # 1 %: the brief's requirement; pixel integration is exact, so only the window edges
    # (wings beyond +-6 sigma of lines near the edge) can lose flux.
    assert measured == pytest.approx(expected, rel=0.01)


def test_continuum_normalisation_and_break():
    src = draw_source(np.random.default_rng(1), 1001, z_range=(6.0, 6.1))
    src = dataclasses.replace(src, line_flux={}, broad_flux={})
    fnu = true_spectrum(src, np.array([3.49, 3.5, 3.51])).to_value(u.uJy)
    # the pixel average of a power law over a 0.01 um pixel differs from its centre value by
    # ~ p(p-1)/24 (dx/x)^2 < 1e-5
    assert fnu[1] == pytest.approx(src.cont_fnu, rel=1e-5)
    lya = 0.121567 * (1 + src.z)
    blue = true_spectrum(src, np.array([lya * 0.95, lya * 0.951])).to_value(u.uJy)
    red = true_spectrum(src, np.array([lya * 1.05, lya * 1.051])).to_value(u.uJy)
    ratio = blue[0] / red[0] / (0.95 / 1.05) ** (src.beta + 2)
    assert ratio == pytest.approx(src.igm_transmission, rel=1e-3)


def test_truth_row_round_trip_gives_same_spectrum(tmp_path):
    rng = np.random.default_rng(7)
    srcs = [draw_source(rng, 1001 + i) for i in range(4)]
    table = sources_to_table(
        srcs, {s.source_id: {"slitlet_id": 1, "n_shutters": 3, "stuck": None} for s in srcs}
    )
    path = tmp_path / "truth.ecsv"
    table.write(path, format="ascii.ecsv")
    back = type(table).read(path, format="ascii.ecsv")
    wave = get_disperser("PRISM").pixel_grid()
    for src, row in zip(srcs, back, strict=True):
        assert source_from_row(row) == src
        np.testing.assert_array_equal(
            true_spectrum(row, wave, disperser="PRISM").value,
            true_spectrum(src, wave, disperser="PRISM").value,
        )
