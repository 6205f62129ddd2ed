"""Instrument configuration, mask description and model files: formats, round trips, errors."""

from __future__ import annotations

import numpy as np
import pytest

from slitwise.calib.instrument_file import InstrumentConfig, read_instrument, write_instrument
from slitwise.calib.mask_file import Mask, Slit, read_mask, write_mask
from slitwise.calib.models import (
    CurvatureModel,
    DispersionModel,
    OpticalModel,
    Poly2D,
    SpectrographModel,
    load_model,
    save_model,
)
from slitwise.errors import SlitwiseInputError

INI = """[instrument]
name = TEST
pixel_scale = 0.12          ; arcsec per pixel
focal_plane_scale = 0.6
detector_size = 300 200
dispersion_direction = {direction}
linear_dispersion = 2.5
reference_wavelength = 7000
data_hdu = 1

[optional]
lamps = ArI,NeI
wavelength_range = 5000 9000
"""


def _config(direction="LR", nx=300, ny=200):
    return InstrumentConfig("T", 0.12, 0.6, nx, ny, direction, 2.5, 7000.0, 0, "ArI", None)


def test_read_instrument(tmp_path):
    path = tmp_path / "inst.icf"
    path.write_text(INI.format(direction="bu"))
    cfg = read_instrument(path)
    assert (cfg.nx, cfg.ny, cfg.dispersion_direction) == (300, 200, "BU")
    assert cfg.n_disp == 200 and cfg.n_spatial == 300
    assert cfg.pixels_per_mm == pytest.approx(5.0)
    assert cfg.lamps == "ArI,NeI" and cfg.wavelength_range == (5000.0, 9000.0)
    assert cfg.data_hdu == 1
    back = read_instrument(write_instrument(cfg, tmp_path / "copy.icf"))
    assert back == cfg


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("dispersion_direction = {direction}", "dispersion_direction = XY"), "LR, RL, BU, UB"),
        (("linear_dispersion = 2.5", "linear_dispersion = -1"), "linear_dispersion: must be"),
        (("detector_size = 300 200", "detector_size = 300"), "detector_size: expected two"),
        (("data_hdu = 1", "data_hdu = 1\ncolour = red"), r"\[instrument\].colour: unknown key"),
        (("pixel_scale = 0.12          ; arcsec per pixel\n", ""), "pixel_scale: required key"),
    ],
)
def test_instrument_errors_name_the_key(tmp_path, edit, message):
    path = tmp_path / "bad.icf"
    text = INI.replace(*edit).format(direction="LR")
    path.write_text(text)
    with pytest.raises(SlitwiseInputError, match=message):
        read_instrument(path)


@pytest.mark.parametrize("direction", ["LR", "RL", "BU", "UB"])
def test_canonical_orientation_round_trip(direction):
    cfg = _config(direction)
    rng = np.random.default_rng(1)
    image = rng.normal(size=(cfg.ny, cfg.nx))
    canon = cfg.image_to_canonical(image)
    assert canon.shape == (cfg.n_spatial, cfg.n_disp)
    np.testing.assert_array_equal(cfg.canonical_to_image(canon), image)
    # A pixel keeps its value through the coordinate transforms.
    d, s = 37, 11
    x, y = cfg.to_detector(d, s)
    assert canon[s, d] == image[int(y), int(x)]
    np.testing.assert_allclose(cfg.to_canonical(x, y), (d, s))


MASK = """# ID DIMX DIMY X Y ROT WID LEN REF
1 0.5 4.0 -30.0 12.5 0.0 0.8 6.7 0
2 2.0 2.0 5.0 -40.0 0.0 3.3 3.3 1
"""


def test_read_write_mask(tmp_path):
    path = tmp_path / "m.mdf"
    path.write_text(MASK)
    mask = read_mask(path)
    assert len(mask) == 2 and mask.by_id(2).ref and not mask.by_id(1).ref
    assert [s.id for s in mask.science] == [1]
    x, y = mask.by_id(1).point(np.array([0.0, 1.0]))
    np.testing.assert_allclose(y, [10.5, 14.5])
    np.testing.assert_allclose(x, [-30.0, -30.0])
    back = read_mask(write_mask(mask, tmp_path / "copy.mdf"))
    assert back.slits == mask.slits


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("3 0.5 4.0 1.0 2.0 0.0 0.8 6.7", r"m.mdf:4: expected 9 columns"),
        ("3 0.5 4.0 1.0 abc 0.0 0.8 6.7 0", r"m.mdf:4: column Y must be a number"),
        ("3 0.5 -4.0 1.0 2.0 0.0 0.8 6.7 0", r"m.mdf:4: column DIMY must be positive"),
        ("3 0.5 4.0 1.0 2.0 0.0 0.8 6.7 2", r"m.mdf:4: column REF must be 0 or 1"),
        ("1 0.5 4.0 1.0 2.0 0.0 0.8 6.7 0", r"m.mdf:4: duplicate slit ID 1 \(first on line 2\)"),
    ],
)
def test_malformed_mask_row_named_by_line(tmp_path, row, message):
    path = tmp_path / "m.mdf"
    path.write_text(MASK + row + "\n")
    with pytest.raises(SlitwiseInputError, match=message):
        read_mask(path)


def test_model_yaml_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(3)
    model = SpectrographModel(
        config=_config("RL"),
        opt=OpticalModel(Poly2D(rng.normal(size=(3, 3))), Poly2D(rng.normal(size=(3, 3)))),
        crv=CurvatureModel(
            (Poly2D(rng.normal(size=(2, 2))), Poly2D(rng.normal(size=(2, 2)))), 150.0
        ),
        ids=DispersionModel(
            tuple(Poly2D(rng.normal(size=(2, 2))) for _ in range(4)), 7000.0, 375.0
        ),
        nsplit=3,
    )
    back = load_model(save_model(model, tmp_path / "model.yaml"))
    assert back.config == model.config and back.nsplit == 3
    x, y, lam = rng.uniform(-50, 50, 20), rng.uniform(-50, 50, 20), rng.uniform(6000, 8000, 20)
    np.testing.assert_array_equal(back.position(x, y, lam), model.position(x, y, lam))


def test_model_file_errors(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("format: something-else\n")
    with pytest.raises(SlitwiseInputError, match="not a slitwise model"):
        load_model(path)
    path.write_text("format: slitwise-spectrograph-model\ninstrument: {}\n")
    with pytest.raises(SlitwiseInputError, match="opt: section missing"):
        load_model(path)


def test_poly2d_fit_recovers_coefficients():
    rng = np.random.default_rng(0)
    true = Poly2D(np.array([[3.0, 1.0, 0.2], [2.0, -0.5, 0.0], [0.1, 0.0, 0.0]]))
    x, y = rng.uniform(-100, 100, 50), rng.uniform(-100, 100, 50)
    fit = Poly2D.fit(x, y, true(x, y), (2, 2))
    np.testing.assert_allclose(fit(x, y), true(x, y), atol=1e-9)


def test_slit_off_detector_detected():
    cfg = _config()
    model = SpectrographModel(
        config=cfg,
        opt=OpticalModel.first_guess(cfg),
        crv=CurvatureModel((Poly2D(np.zeros((1, 1))),), 150.0),
        ids=DispersionModel((Poly2D(np.zeros((1, 1))), Poly2D(np.array([[150.0]]))), 7000.0, 375.0),
    )
    inside = Slit(1, 0.5, 4.0, 0.0, 0.0, 0.0, 0.8, 2.4, False)
    outside = Slit(2, 0.5, 4.0, 0.0, 50.0, 0.0, 0.8, 2.4, False)  # 250 px above the centre
    assert model.on_detector(inside) and not model.on_detector(outside)
    assert isinstance(Mask((inside, outside)).centres(), np.ndarray)
