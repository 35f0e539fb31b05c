"""omr.load.tiff: multi-page TIFF, frame by frame, with per-frame limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from load_fixtures import (H, PeakMemory, W, bad, dark_bbox, good, multipage_tiff, only, page_pattern, pil_bytes,
                           set_tiff_photometric, write)
from omr.load import LoadLimits, count_pages, iter_pages, load_array
from sample_sheets.hostile import tiff_by_hand


def test_multipage_tiff_mixed_frames(tmp_path: Path) -> None:
    gray = page_pattern()
    g4 = Image.fromarray(gray).convert("1")
    # A scanner's usual G4 page is 1-bit MinIsWhite (0 = white): store inverted bits and flip the tag.
    g4_min_is_white = set_tiff_photometric(pil_bytes(Image.fromarray(255 - gray).convert("1"), "TIFF",
                                                     compression="group4"), 0)
    frames = [
        (g4, "group4", {"dpi": (300, 300)}),
        (Image.fromarray(gray), "tiff_lzw", {"dpi": (200, 200)}),
        (Image.fromarray(gray.astype(np.uint16) * 257), "tiff_lzw", {}),
        (Image.fromarray(np.dstack([gray] * 3)), "tiff_lzw", {}),
        (Image.fromarray(gray), "tiff_adobe_deflate", {}),
        (Image.fromarray(gray).convert("P"), "packbits", {}),
    ]
    data = multipage_tiff(frames)
    path = write(tmp_path / "mixed.tif", data)
    assert count_pages(path) == len(frames)
    pages = list(iter_pages(path))
    assert [p.page_index for p in pages] == list(range(len(frames)))
    for page in pages:
        img = good(page)
        assert img.shape == (H, W), page.page_index
        assert dark_bbox(img) == (20, 10, 70, 40), page.page_index
        assert img[150, 150] == 255 and img[40, 20] == 0, page.page_index
    assert pages[0].dpi == 300 and pages[1].dpi == 200 and pages[2].dpi is None  # dpi is per frame

    # 1-bit G4 stored MinIsWhite (what scanners write): the decoder must honour the photometric tag.
    img = good(only(list(iter_pages(write(tmp_path / "miniswhite.tif", g4_min_is_white)))))
    assert dark_bbox(img) == (20, 10, 70, 40) and set(np.unique(img)) == {0, 255}


def test_tiff_orientation_is_applied(tmp_path: Path) -> None:
    path = write(tmp_path / "o6.tif", pil_bytes(Image.fromarray(page_pattern()), "TIFF", tiffinfo={274: 6}))
    img = good(only(list(iter_pages(path))))
    assert img.shape == (W, H)
    # Orientation 6: the stored image is shown rotated 90° clockwise, so its top-left corner goes top-right.
    assert dark_bbox(img) == (10, H - 70, 40, H - 20)


def test_tiff_pixel_bomb_on_a_later_frame(tmp_path: Path) -> None:
    small = bytes(page_pattern(10, 10))
    data = tiff_by_hand([(10, 10, small), (100_000, 100_000, b"\x00" * 16), (10, 10, small)])
    path = write(tmp_path / "bomb.tif", data)
    with PeakMemory() as mem:
        pages = list(iter_pages(path))
    mem.assert_small()
    assert [p.page_index for p in pages] == [0, 1, 2]
    good(pages[0])
    bad(pages, "image of 100000x100000 px exceeds", index=1)
    good(pages[2])  # the batch goes on past the bad frame
    with PeakMemory() as mem:
        bad(list(iter_pages(path, limits=LoadLimits(max_pixels=50))), "image of 10x10 px exceeds the 5e-05 Mpx limit")
    mem.assert_small()


def test_truncated_multipage_tiff_reports_every_page(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = [(Image.fromarray(rng.integers(0, 256, (100, 100), dtype=np.uint8)), None, {}) for _ in range(3)]
    data = multipage_tiff(frames)
    for cut in (len(data) // 2, 60):
        pages = list(iter_pages(write(tmp_path / f"cut{cut}.tif", data[:-cut])))
        assert [p.page_index for p in pages] == list(range(len(pages)))
        errors = [p for p in pages if p.image is None]
        assert errors, pages
        assert all(p.error for p in errors)


def test_tiff_more_pages_than_the_limit(tmp_path: Path) -> None:
    frames = [(Image.fromarray(page_pattern(20, 20)), None, {}) for _ in range(5)]
    path = write(tmp_path / "five.tif", multipage_tiff(frames))
    limits = LoadLimits(max_pages=2)
    pages = list(iter_pages(path, limits=limits))
    assert [p.page_index for p in pages] == [0, 1, 2]
    good(pages[0]), good(pages[1])
    bad(pages, "pages 3-5 of 5 skipped", index=2)
    assert count_pages(path, limits) == 3 and count_pages(path) == 5


def test_pillow_decompression_bomb_warning_and_error_are_handled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's own check (TIFF frames) warns above MAX_IMAGE_PIXELS and fails above twice that.

    pytest turns warnings into errors here, so the warning must be handled inside omr.load.
    """
    data = pil_bytes(Image.fromarray(page_pattern(10, 10)), "TIFF")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 80)  # 100 px: warning only
    good(only(load_array(data)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 100 px > 2 x 40: DecompressionBombError
    bad(load_array(data), "decompression-bomb limit")



def test_decoded_bytes_are_limited_per_frame(tmp_path: Path) -> None:
    gray = page_pattern()
    frames = [(Image.fromarray(gray), "tiff_lzw", {}), (Image.fromarray(np.dstack([gray] * 3)), "tiff_lzw", {}),
              (Image.fromarray(gray), "tiff_adobe_deflate", {})]
    path = write(tmp_path / "mixed.tif", multipage_tiff(frames))
    # A gray frame holds Pillow's 1 byte a pixel and the result; a colour frame Pillow's 4 bytes and the result.
    pages = list(iter_pages(path, limits=LoadLimits(max_decoded_bytes=2 * H * W)))
    assert [p.page_index for p in pages] == [0, 1, 2]
    good(pages[0]), good(pages[2])  # the frames either side are still read
    bad(pages, f"image of {W}x{H} px (TIFF RGB) needs", index=1)
    assert all(page.ok for page in iter_pages(path, limits=LoadLimits(max_decoded_bytes=5 * H * W)))


def test_noisy_multipage_tiff_is_read_frame_by_frame() -> None:
    from sample_sheets.hostile import noisy_tiff

    pages = load_array(noisy_tiff(frames=3, width=300, height=200))
    assert [p.page_index for p in pages] == [0, 1, 2]
    images = [good(p) for p in pages]
    assert all(img.shape == (200, 300) for img in images)
    assert not np.array_equal(images[0], images[1])  # the frames differ
    assert 200 < images[0].mean() < 255  # white paper with dark specks
