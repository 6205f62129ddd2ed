"""Shutter transmission and pixel-integrated profiles against direct numerical integrals."""

from __future__ import annotations

import numpy as np
import pytest

from slitwise.simulate.slitpsf import (
    OPEN_X,
    OPEN_Y,
    PITCH_X,
    PITCH_Y,
    box_pixel_fractions,
    gaussian_pixel_fractions,
    shutter_transmission,
    sky_sigma_arcsec,
    uniform_transmission,
)


@pytest.mark.parametrize(("xpos", "ypos", "size"), [(0, 0, 0), (-0.25, -0.12, 0), (0.3, 0.2, 0.05)])
def test_shutter_transmission_matches_2d_integral(xpos, ypos, size):
    wave = 4.0
    sig = float(sky_sigma_arcsec(wave, size))
    x = np.linspace(-OPEN_X / 2, OPEN_X / 2, 801)
    y = np.linspace(-OPEN_Y / 2, OPEN_Y / 2, 1601)
    gx = np.exp(-0.5 * ((x - xpos * PITCH_X) / sig) ** 2) / (np.sqrt(2 * np.pi) * sig)
    gy = np.exp(-0.5 * ((y - ypos * PITCH_Y) / sig) ** 2) / (np.sqrt(2 * np.pi) * sig)
    numeric = np.trapezoid(gx, x) * np.trapezoid(gy, y)
    # trapezoid rule on 800+ intervals of a smooth Gaussian: error < 1e-5
    assert float(shutter_transmission(wave, xpos, ypos, source_sigma=size)) == pytest.approx(
        numeric, rel=1e-5
    )


def test_transmission_decreases_with_wavelength_and_offset():
    wave = np.linspace(0.7, 5.2, 50)
    centre = shutter_transmission(wave, 0.0, 0.0)
    offset = shutter_transmission(wave, -0.25, 0.0)
    assert np.all(np.diff(centre) < 0)
    assert np.all(offset < centre)
    un = uniform_transmission(wave)
    assert np.all((un > 0.5) & (un < 1.0)) and np.all(np.diff(un) < 0)


def test_pixel_fractions_conserve_flux():
    rows = np.arange(40)
    frac = gaussian_pixel_fractions(rows, 17.3, 0.6)
    assert frac.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.sum(rows * frac) == pytest.approx(17.3, abs=1e-3)
    box = box_pixel_fractions(rows, 10.2, 25.6, 0.45)
    assert box.sum() == pytest.approx(25.6 - 10.2, abs=1e-9)
    assert box[17] == pytest.approx(1.0) and box[2] == pytest.approx(0.0, abs=1e-12)
