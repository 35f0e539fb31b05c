"""omr.load.gray: orientation and the band-by-band conversion of any depth, colour and alpha to 8-bit gray."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

import omr.load.gray as gray_module
from omr.load.gray import orient, pillow_to_gray, to_gray


def test_orientation_table_matches_pillow() -> None:
    arr = np.random.default_rng(1).integers(0, 255, (5, 7), dtype=np.uint8)
    for orientation in range(1, 9):
        im = Image.fromarray(arr)
        im.getexif()[0x0112] = orientation
        assert np.array_equal(orient(arr, orientation), np.asarray(ImageOps.exif_transpose(im))), orientation



def _reference_composite(arr: np.ndarray, top: float) -> np.ndarray:
    """The whole-page formula (colour by luma, alpha on white) the banded conversion must reproduce."""
    gray = cv2.cvtColor(np.ascontiguousarray(arr[:, :, :3]), cv2.COLOR_BGR2GRAY).astype(np.float32) / top
    a = arr[:, :, 3].astype(np.float32) / top
    return np.clip(np.rint((gray * a + (1.0 - a)) * 255), 0, 255).astype(np.uint8)


def test_banded_conversion_equals_the_whole_page_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gray_module, "_BAND_PIXELS", 1000)  # 1000 px per band: many bands and a partial last one
    rng = np.random.default_rng(5)
    rgba16 = rng.integers(0, 65536, (97, 61, 4), dtype=np.uint16)
    assert np.array_equal(to_gray(rgba16, "bgr", "luma"), _reference_composite(rgba16, 65535.0))
    gray16 = rng.integers(0, 65536, (97, 61), dtype=np.uint16)
    assert np.array_equal(to_gray(gray16, "bgr", "luma"), cv2.convertScaleAbs(gray16, alpha=1 / 257))
    bgr = rng.integers(0, 256, (97, 61, 3), dtype=np.uint8)
    assert np.array_equal(to_gray(bgr, "bgr", "luma"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert np.array_equal(to_gray(bgr, "bgr", "red"), bgr[:, :, 2])
    # 32-bit integers: the scale is decided over the whole page, not band by band.
    wide = np.zeros((97, 61), np.int32)
    wide[-1, -1] = 40000  # only the last band holds a value above 8 bits: every band is scaled as 16-bit
    wide[:50] = 200
    assert np.array_equal(to_gray(wide, "bgr", "luma"), cv2.convertScaleAbs(wide.astype(np.uint16), alpha=1 / 257))
    floats = rng.random((97, 61), dtype=np.float32)
    assert np.array_equal(to_gray(floats, "bgr", "luma"), np.clip(np.rint(floats * 255), 0, 255).astype(np.uint8))


def test_pillow_bands_match_a_whole_page_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gray_module, "_BAND_PIXELS", 500)
    rng = np.random.default_rng(6)
    index = rng.integers(0, 4, (83, 57), dtype=np.uint8)
    palette = Image.frombytes("P", (57, 83), index.tobytes())
    palette.putpalette([255, 255, 255, 0, 0, 0, 90, 90, 90, 200, 10, 10])
    palette.info["transparency"] = 2
    whole = np.asarray(palette.convert("RGBA"))
    assert np.array_equal(pillow_to_gray(palette, "luma"), to_gray(whole, "rgb", "luma"))
    bits = Image.fromarray(rng.integers(0, 2, (83, 57), dtype=np.uint8) * 255).convert("1")
    assert np.array_equal(pillow_to_gray(bits, "luma"), np.asarray(bits).astype(np.uint8) * 255)


def test_eight_bit_compositing_equals_the_float_formula_for_every_value() -> None:
    g, a = (v.astype(np.uint8) for v in np.meshgrid(np.arange(256), np.arange(256)))
    ga = np.dstack([g, a])  # gray + alpha: every pair of 8-bit values
    expected = np.clip(np.rint((g / 255 * (a / 255) + 1 - a / 255) * 255), 0, 255).astype(np.uint8)
    assert np.array_equal(to_gray(ga, "bgr", "luma"), expected)


def test_signed_and_wide_integers_are_scaled_as_before() -> None:
    small = np.array([[0, 100], [200, 255]], np.int16)  # 8-bit data stored wide keeps its values
    assert np.array_equal(to_gray(small, "bgr", "luma"), small.astype(np.uint8))
    signed = np.array([[-32768, 0], [32767, 0]], np.int16)  # anything else maps the type's full range
    assert to_gray(signed, "bgr", "luma").tolist() == [[0, 127], [255, 127]]
    wide = Image.fromarray(np.array([[0, 70000], [35000, 0]], np.int32))
    assert pillow_to_gray(wide, "luma").tolist() == [[127, 127], [127, 127]]  # int32 full range: all mid-gray
