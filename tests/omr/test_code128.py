"""Code 128: encoding tables, rendered round trips at scanner resolutions, and failing closed on damage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.code128 import PATTERNS, QUIET_MODULES, codewords, decode_region, decode_scanline, encode, render_modules
from sample_sheets.scanner import floyd_steinberg

MM_PER_INCH = 25.4


def _label(text: str, dpi: int, rng: np.random.Generator, *, module_mm: float = 0.38, blur: float = 0.8,
           noise: float = 5.0, skew_deg: float = 0.0, margin_mm: float = 3.0) -> np.ndarray:
    """A printed label with ``text`` as the scanner sees it: anti-aliased bars, skew, blur and noise."""
    modules = encode(text)
    module_px = module_mm * dpi / MM_PER_INCH
    margin = int(margin_mm * dpi / MM_PER_INCH)
    row = render_modules(modules, module_px, offset_px=margin + rng.uniform(0, 1))
    height = int(10 * dpi / MM_PER_INCH)
    image = np.ones((height + 2 * margin, len(row) + margin), np.float32)
    image[margin:margin + height, :len(row)] -= 0.88 * row
    image = image * 235 + 10
    if skew_deg:
        matrix = cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), skew_deg, 1.0)
        image = cv2.warpAffine(image, matrix, image.shape[::-1], borderValue=245)
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    image = image + rng.normal(0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_pattern_table_is_code128() -> None:
    assert len(PATTERNS) == 107
    for value, widths in enumerate(PATTERNS):
        assert sum(widths) == (13 if value == 106 else 11)
        assert sum(widths[0::2]) % 2 == 0  # bars always add up to an even number of modules
    # Edge-to-similar-edge distances tell every symbol apart (what the decoder relies on).
    edges = {tuple(w[i] + w[i + 1] for i in range(4)) for w in PATTERNS[:106]}
    assert len(edges) == 106


def test_codewords_use_code_c_for_digits_and_b_for_text() -> None:
    # Start C, 20 26 01 00 23, checksum (105 + 1*20 + 2*26 + 3*1 + 4*0 + 5*23) % 103 = 89.
    assert codewords("2026010023") == [105, 20, 26, 1, 0, 23, 89]
    values = codewords("AB12345")
    assert values[0] == 104 and values[1:3] == [33, 34]  # Start B, "A", "B"
    assert 99 in values  # switches to code C for the digit run
    assert len(encode("2026010023")) == 11 * 7 + 13 + 2 * QUIET_MODULES


@pytest.mark.parametrize("bad", ["", "中文", "tab\there"])
def test_encode_refuses_what_it_cannot_encode(bad: str) -> None:
    with pytest.raises(ValueError):
        encode(bad)


def test_clean_scanline_both_directions() -> None:
    modules = encode("Hello-128 world")
    profile = 250 - 230 * render_modules(modules, 3.0)
    assert decode_scanline(profile) == "Hello-128 world"
    assert decode_scanline(profile[::-1]) == "Hello-128 world"  # a label read upside down


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_round_trip_random_ids(dpi: int) -> None:
    rng = np.random.default_rng(dpi)
    for _ in range(25):
        if rng.random() < 0.7:
            text = "".join(str(d) for d in rng.integers(0, 10, 10))
        else:
            text = "".join(chr(c) for c in rng.integers(32, 127, rng.integers(1, 14)))
        image = _label(text, dpi, rng, module_mm=rng.uniform(0.36, 0.42), blur=rng.uniform(0.3, 1.1),
                       noise=rng.uniform(1, 8), skew_deg=rng.uniform(-4, 4))
        assert decode_region(image) == text


def test_two_pixel_modules_at_150_dpi_with_blur() -> None:
    rng = np.random.default_rng(7)
    for _ in range(10):
        text = "".join(str(d) for d in rng.integers(0, 10, 10))
        image = _label(text, 150, rng, module_mm=2.0 * MM_PER_INCH / 150, blur=0.9, noise=4)
        assert decode_region(image) == text


def test_dithered_one_bit_label() -> None:
    rng = np.random.default_rng(3)
    text = "2026031207"
    image = floyd_steinberg(_label(text, 200, rng, blur=0.6, noise=3))
    assert set(np.unique(image)) <= {0, 255}
    assert decode_region(image) == text


def test_damaged_barcode_is_none_not_garbage() -> None:
    rng = np.random.default_rng(11)
    text = "2026010023"
    image = _label(text, 200, rng, blur=0.5, noise=2)
    assert decode_region(image) == text
    columns = np.flatnonzero(image[image.shape[0] // 2] < 128)
    torn = image.copy()
    middle = columns[len(columns) // 2]
    torn[:, middle - 6:middle + 6] = 240  # a scratch through a few bars, top to bottom
    assert decode_region(torn) is None
    cut = image[:, : image.shape[1] * 2 // 3]  # the label half outside the crop: no stop pattern
    assert decode_region(cut) is None


def test_substituted_symbol_fails_the_checksum() -> None:
    values = codewords("2026010023")
    values[2] = (values[2] + 1) % 100  # a valid symbol, the wrong one
    widths = [w for v in values + [106] for w in PATTERNS[v]]
    bars = np.repeat(np.arange(len(widths)) % 2 == 0, widths)
    modules = np.concatenate([np.zeros(10, bool), bars, np.zeros(10, bool)])
    assert decode_scanline(250 - 230 * render_modules(modules, 3.0)) is None


def test_noise_and_blank_crops_are_none() -> None:
    rng = np.random.default_rng(5)
    assert decode_region(np.full((80, 400), 240, np.uint8)) is None
    assert decode_region(rng.integers(0, 256, (80, 400)).astype(np.uint8)) is None
    stripes = np.tile(np.repeat(rng.random(100) < 0.5, 4), (60, 1))  # random bars: not Code 128
    assert decode_region(np.where(stripes, 20, 240).astype(np.uint8)) is None
    assert decode_region(np.zeros((4, 4), np.uint8)) is None


def test_confirming_text_stops_at_the_first_matching_scanline_but_never_changes_the_answer():
    from omr.code128 import decode_region as decode, encode as enc, render_modules as render

    modules = enc("2026010203")
    row = 255 - 230 * render(modules, 3.0)
    crop = np.tile(row, (40, 1)).astype(np.float32)
    assert decode(crop, confirms="2026010203") == "2026010203"
    # A wrong confirming text does not make the decoder agree with it: it reads what is printed.
    assert decode(crop, confirms="9999999999") == "2026010203"
