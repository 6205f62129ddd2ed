"""Reading and writing rate frames; bad input gives SlitwiseInputError naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from slitwise.detector import RateFrame, read_rate_frame, write_rate_frame
from slitwise.errors import SlitwiseInputError


def _hdul(shape=(64, 128), *, sci=None, err_shape=None, bunit="DN/s", extra=()):
    sci = np.ones(shape, dtype=np.float32) if sci is None else sci
    hdus = [fits.PrimaryHDU(), fits.ImageHDU(sci, name="SCI")]
    if bunit:
        hdus[1].header["BUNIT"] = bunit
    hdus.append(fits.ImageHDU(np.ones(err_shape or shape, dtype=np.float32), name="ERR"))
    hdus.append(fits.ImageHDU(np.zeros(shape, dtype=np.uint32), name="DQ"))
    hdus.extend(extra)
    return fits.HDUList(hdus)


def test_round_trip_keeps_hdus_and_keywords(tmp_path):
    rng = np.random.default_rng(0)
    shape = (64, 128)
    src = tmp_path / "in_rate.fits"
    asdf = fits.BinTableHDU.from_columns([fits.Column("x", "E", array=np.arange(3.0))])
    asdf.name = "ASDF"
    extra = (
        fits.ImageHDU(np.full(shape, 0.5, np.float32), name="VAR_POISSON"),
        fits.ImageHDU(np.full(shape, 0.25, np.float32), name="VAR_RNOISE"),
        asdf,
    )
    _hdul(shape, extra=extra).writeto(src)
    frame = read_rate_frame(src)
    assert frame.shape == shape and set(frame.var) == {"VAR_POISSON", "VAR_RNOISE"}
    frame.sci = rng.normal(size=shape)
    out = write_rate_frame(frame, tmp_path / "out.fits", keywords={"CLNPASS": (5, "passes")})
    with fits.open(out) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY",
            "SCI",
            "ERR",
            "DQ",
            "VAR_POISSON",
            "VAR_RNOISE",
            "ASDF",
        ]
        assert hdul[0].header["CLNPASS"] == 5
        assert hdul["SCI"].header["BUNIT"] == "DN/s"
        # float32 on disk, as in JWST products
        np.testing.assert_allclose(hdul["SCI"].data, frame.sci, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.write_text("not fits"), ["not a readable FITS"]),
        (lambda p: fits.HDUList([fits.PrimaryHDU()]).writeto(p), ["[SCI]", "HDU missing"]),
        (lambda p: _hdul(sci=np.ones((3, 64, 128), np.float32)).writeto(p), ["3-D", "rateints"]),
        (lambda p: _hdul(bunit="MJy/sr").writeto(p), ["BUNIT", "MJy/sr", "DN/s"]),
        (lambda p: _hdul(err_shape=(64, 127)).writeto(p), ["[ERR]", "(64, 127)", "(64, 128)"]),
        (
            lambda p: _hdul(extra=(fits.ImageHDU(np.ones((2, 2)), name="SCI"),)).writeto(p),
            ["2 SCI extensions", "cal"],
        ),
        (
            lambda p: _hdul(extra=(fits.ImageHDU(np.ones((5, 5)), name="VAR_RNOISE"),)).writeto(p),
            ["[VAR_RNOISE]", "does not match SCI"],
        ),
    ],
    ids=["not-fits", "no-sci", "3d", "cal-units", "err-shape", "multi-sci", "var-shape"],
)
def test_non_rate_files_are_refused(tmp_path, make, words):
    path = tmp_path / "bad.fits"
    make(path)
    with pytest.raises(SlitwiseInputError) as exc:
        read_rate_frame(path)
    msg = str(exc.value)
    assert str(path) in msg
    for w in words:
        assert w in msg


def test_rate_frame_checks_shapes():
    with pytest.raises(SlitwiseInputError, match=r"\[DQ\].*does not match SCI"):
        RateFrame(sci=np.zeros((4, 8)), err=np.zeros((4, 8)), dq=np.zeros((4, 7)))
