"""omr.load.raster: JPEG, PNG and BMP in every mode, EXIF orientation, reduced JPEG decoding, truncation and bombs."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from load_fixtures import (BOX, H, PeakMemory, W, bad, dark_bbox, good, jpeg_bytes, only, page_pattern, pil_bytes,
                           write)
from omr.load import LoadLimits, iter_pages, load_array
from sample_sheets.hostile import png_by_hand

#: dark_bbox of BOX in page_pattern().
BOX_BBOX = (20, 10, 70, 40)


def test_jpeg_gray_and_colour(tmp_path: Path) -> None:
    gray = page_pattern()
    p1 = write(tmp_path / "gray.jpg", jpeg_bytes(gray, dpi=(300, 300)))
    page = only(list(iter_pages(p1)))
    img = good(page)
    assert img.shape == (H, W) and page.dpi == 300 and page.reduction == 1 and page.source == str(p1)
    assert dark_bbox(img) == (20, 10, 70, 40)

    colour = np.dstack([gray, gray, gray])
    colour[BOX] = (0, 0, 120)  # dark blue box (RGB)
    p2 = write(tmp_path / "colour.jpeg", jpeg_bytes(colour))
    page = only(list(iter_pages(p2)))
    img = good(page)
    assert page.dpi is None
    assert dark_bbox(img) == (20, 10, 70, 40)
    assert abs(int(img[40, 20]) - round(0.114 * 120)) <= 4


def test_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = np.dstack([page_pattern()] * 3)
    path = write(tmp_path / "cmyk.jpg", pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95))
    img = good(only(list(iter_pages(path))))
    assert img[150, 150] > 240 and img[40, 20] < 15


@pytest.mark.parametrize("kind", ["L", "RGB", "RGBA", "LA", "I;16", "P", "P+transparency", "1"])
def test_png_modes(tmp_path: Path, kind: str) -> None:
    gray = page_pattern()
    if kind == "L":
        im = Image.fromarray(gray)
    elif kind == "RGB":
        im = Image.fromarray(np.dstack([gray] * 3))
    elif kind in ("RGBA", "LA"):
        # Opaque black box; a transparent region whose colour is black must come out white (paper).
        alpha = np.full((H, W), 255, np.uint8)
        alpha[200:260, 100:180] = 0
        base = gray.copy()
        base[200:260, 100:180] = 0
        im = Image.fromarray(np.dstack([base] * 3 + [alpha]) if kind == "RGBA" else np.dstack([base, alpha]))
    elif kind == "I;16":
        im16 = np.full((H, W), 40000, np.uint16)
        im16[BOX] = 0
        im = Image.fromarray(im16)
    elif kind in ("P", "P+transparency"):
        # Palette: 0 = white, 1 = black, 2 = black but (with tRNS) fully transparent.
        idx = np.where(gray == 0, 1, 0).astype(np.uint8)
        idx[200:260, 100:180] = 2 if kind == "P+transparency" else 0
        im = Image.frombytes("P", (W, H), idx.tobytes())
        im.putpalette([255, 255, 255, 0, 0, 0, 0, 0, 0] + [128, 128, 128] * 253)
    else:
        im = Image.fromarray(gray).convert("1")
    kw = {"transparency": 2} if kind == "P+transparency" else {}
    path = write(tmp_path / f"{kind}.png", pil_bytes(im, "PNG", dpi=(150, 150), **kw))
    page = only(list(iter_pages(path)))
    img = good(page)
    assert img.shape == (H, W)
    assert page.dpi == pytest.approx(150, abs=0.01)
    if kind == "I;16":
        assert img[150, 150] == round(40000 / 257) and img[40, 20] == 0
        return
    assert dark_bbox(img) == (20, 10, 70, 40)
    assert set(np.unique(img)) == {0, 255}
    if kind in ("RGBA", "LA", "P+transparency"):
        assert (img[200:260, 100:180] == 255).all()


def test_png_partial_alpha_composites_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 128  # black at half opacity
    img = good(only(load_array(pil_bytes(Image.fromarray(rgba), "PNG"))))
    assert (np.abs(img.astype(int) - 127) <= 1).all()


def test_bmp_gray_colour_and_32bit_with_zero_alpha(tmp_path: Path) -> None:
    gray = page_pattern()
    p8 = write(tmp_path / "g.bmp", pil_bytes(Image.fromarray(gray), "BMP"))
    assert dark_bbox(good(only(list(iter_pages(p8))))) == (20, 10, 70, 40)
    bgra = np.dstack([gray, gray, gray, np.zeros_like(gray)])  # 32-bit BMP whose 4th byte is all zero
    ok, enc = cv2.imencode(".bmp", bgra)
    assert ok
    p32 = write(tmp_path / "c.bmp", enc.tobytes())
    img = good(only(list(iter_pages(p32))))
    assert dark_bbox(img) == (20, 10, 70, 40)


@pytest.mark.parametrize("orientation", [3, 6])
def test_jpeg_exif_orientation(tmp_path: Path, orientation: int) -> None:
    data = jpeg_bytes(page_pattern(), orientation=orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    img = good(only(list(iter_pages(write(tmp_path / f"o{orientation}.jpg", data)))))
    assert img.shape == expected.shape
    assert np.abs(img.astype(int) - expected).max() <= 8
    if orientation == 3:
        assert dark_bbox(img) == (H - 70, W - 40, H - 20, W - 10)
    else:
        assert dark_bbox(img) == (10, H - 70, 40, H - 20)
    # The reduced decoder path is oriented the same way.
    reduced = good(only(list(iter_pages(tmp_path / f"o{orientation}.jpg", reduce_jpeg_to_min_px=100))))
    assert reduced.shape == tuple(-(-s // 2) for s in expected.shape)
    assert np.allclose(dark_bbox(reduced), np.array(dark_bbox(img)) / 2, atol=1)


def test_reduced_jpeg_decode(tmp_path: Path) -> None:
    path = write(tmp_path / "a4.jpg", jpeg_bytes(page_pattern(2339, 1654), quality=85, dpi=(200, 200)))
    for min_px, reduction, shape in [(None, 1, (2339, 1654)), (830, 1, (2339, 1654)), (827, 2, (1170, 827)),
                                     (400, 4, (585, 414)), (100, 8, (293, 207))]:
        page = only(list(iter_pages(path, reduce_jpeg_to_min_px=min_px)))
        img = good(page)
        assert (page.reduction, img.shape) == (reduction, shape), min_px
        assert page.dpi == pytest.approx(200 / reduction, abs=0.01)
        assert np.allclose(dark_bbox(img), np.array([20, 10, 70, 40]) / reduction, atol=1)
    png = write(tmp_path / "a4.png", pil_bytes(Image.fromarray(page_pattern(2339, 1654)), "PNG"))
    page = only(list(iter_pages(png, reduce_jpeg_to_min_px=100)))
    assert page.reduction == 1 and good(page).shape == (2339, 1654)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_color_to_gray_red_vs_luma_on_blue_and_red_marks(tmp_path: Path, fmt: str) -> None:
    rgb = np.full((100, 100, 3), 255, np.uint8)
    rgb[10:40, 10:40] = (0, 0, 255)  # blue pen
    rgb[60:90, 60:90] = (255, 0, 0)  # red printing
    data = pil_bytes(Image.fromarray(rgb), "PNG") if fmt == "png" else jpeg_bytes(rgb, quality=98)
    luma = good(only(load_array(data)))
    red = good(only(load_array(data, color_to_gray="red")))
    tol = 0 if fmt == "png" else 12
    assert abs(int(luma[25, 25]) - 29) <= tol and abs(int(luma[75, 75]) - 76) <= tol  # BT.601 luma
    assert red[25, 25] <= tol and red[75, 75] >= 255 - tol  # blue stays dark, red drops out
    assert red[5, 5] >= 255 - tol and luma[5, 5] >= 255 - tol


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes(np.random.default_rng(0).integers(0, 256, (400, 300), dtype=np.uint8), quality=90)
    for cut in (2, 50, len(data) // 2, len(data) - 700):
        pages = list(iter_pages(write(tmp_path / f"cut{cut}.jpg", data[:-cut])))
        bad(pages, "truncated JPEG")
        pages = list(iter_pages(tmp_path / f"cut{cut}.jpg", reduce_jpeg_to_min_px=50))
        bad(pages, "truncated JPEG")
    # Bytes after the end marker (scanner padding) are fine.
    good(only(load_array(data + b"\x00" * 64)))


def test_truncated_png_and_bmp(tmp_path: Path) -> None:
    data = pil_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8)), "PNG")
    for cut in (4, 12, len(data) // 2):
        bad(list(iter_pages(write(tmp_path / f"cut{cut}.png", data[:-cut]))), "truncated PNG")
    bmp = pil_bytes(Image.fromarray(page_pattern()), "BMP")
    bad(load_array(bmp[: len(bmp) // 2]), "truncated BMP")


def test_png_pixel_bomb(tmp_path: Path) -> None:
    data = png_by_hand(50_000, 50_000, zlib.compress(b"\x00" * (50_001 * 20), 9))
    path = write(tmp_path / "bomb.png", data)
    assert len(data) < 2000
    with PeakMemory() as mem:
        page = bad(list(iter_pages(path)), "image of 50000x50000 px exceeds the 120 Mpx limit")
        bad(load_array(data), "exceeds the 120 Mpx limit")
    mem.assert_small()
    assert page.dpi is None


def test_jpeg_declaring_huge_dimensions(tmp_path: Path) -> None:
    data = bytearray(jpeg_bytes(page_pattern(16, 16)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 60_000, 60_000)  # height, width of the frame header
    with PeakMemory() as mem:
        bad(load_array(bytes(data)), "image of 60000x60000 px exceeds")
    mem.assert_small()


def test_jpeg_decode_timings(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    page = np.full((2339, 1654), 245, np.uint8)
    for y in range(200, 2200, 60):
        cv2.putText(page, f"Question {y}  A  B  C  D", (150, y), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 20, 2)
        for k in range(4):
            cv2.circle(page, (1000 + 120 * k, y - 10), 22, 30, 2)
    page = np.clip(page + rng.normal(0, 4, page.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "page.jpg"
    assert cv2.imwrite(str(path), page, [cv2.IMWRITE_JPEG_QUALITY, 85])

    def ms(fn, n: int = 10) -> float:
        fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times))

    figures = {
        "cv2.imread gray": ms(lambda: cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)),
        "cv2.imread reduced 2": ms(lambda: cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)),
        "iter_pages full": ms(lambda: list(iter_pages(path))),
        "iter_pages reduce_jpeg_to_min_px=827 (r=2)": ms(lambda: list(iter_pages(path, reduce_jpeg_to_min_px=827))),
        "iter_pages reduce_jpeg_to_min_px=400 (r=4)": ms(lambda: list(iter_pages(path, reduce_jpeg_to_min_px=400))),
    }
    print(f"\n1654x2339 gray JPEG q85, {os.path.getsize(path):,} bytes:")
    for name, value in figures.items():
        print(f"  {name:45s} {value:6.1f} ms")


def test_unexpected_error_becomes_an_error_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import omr.load.raster

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(omr.load.raster, "decode_single", boom)
    pages = list(iter_pages(write(tmp_path / "a.jpg", jpeg_bytes(page_pattern()))))
    bad(pages, "internal error reading file: RuntimeError")



def test_reduced_jpeg_page_decodes_again_at_full_size_on_demand(tmp_path: Path) -> None:
    """A JPEG decoded reduced carries ``full_size``: the same page at full size (for a sticker's fine bars),
    under the same limits (None when they refuse it); a page decoded at full size carries none."""
    data = jpeg_bytes(page_pattern(2339, 1654), quality=85, dpi=(200, 200))
    reduced = only(load_array(data, reduce_jpeg_to_min_px=827))
    assert reduced.reduction == 2 and reduced.full_size is not None
    full = reduced.full_size()
    assert full.shape == (2339, 1654) and np.array_equal(full, good(only(load_array(data))))
    assert only(load_array(data)).full_size is None
    pixels = 2339 * 1654
    tight = only(load_array(data, reduce_jpeg_to_min_px=827, limits=LoadLimits(max_decoded_bytes=pixels)))
    assert good(tight).shape == (1170, 827) and tight.full_size() is None  # 2 bytes a pixel at full size: refused


def test_decoded_bytes_are_limited_for_the_depth_and_channels_of_the_decoding(tmp_path: Path) -> None:
    """A page is refused from its header when decoding it would hold more than max_decoded_bytes; what it holds
    depends on the path: OpenCV's output (twice, as imdecode copies it) in the samples it decodes to, or for a PNG
    with alpha Pillow's 4 bytes a pixel (16-bit samples reduced while decoding) and the gray result."""
    rgba16 = np.full((H, W, 4), 65535, np.uint16)
    rgba16[BOX] = (0, 0, 0, 65535)
    ok, encoded = cv2.imencode(".png", rgba16)
    deep = encoded.tobytes()
    pixels = H * W
    refused = bad(load_array(deep, limits=LoadLimits(max_decoded_bytes=5 * pixels - 1)), "decoded-size limit")
    assert f"image of {W}x{H} px (16-bit RGBA) needs" in refused.error
    assert dark_bbox(good(only(load_array(deep, limits=LoadLimits(max_decoded_bytes=5 * pixels))))) == BOX_BBOX

    gray_png = pil_bytes(Image.fromarray(page_pattern()), "PNG")  # decoded straight to 8-bit gray
    good(only(load_array(gray_png, limits=LoadLimits(max_decoded_bytes=2 * pixels))))
    bad(load_array(gray_png, limits=LoadLimits(max_decoded_bytes=2 * pixels - 1)), "(8-bit gray)")

    colour_jpeg = jpeg_bytes(np.dstack([page_pattern()] * 3))  # luma: gray from the decoder; red: colour
    limits = LoadLimits(max_decoded_bytes=2 * pixels)
    good(only(load_array(colour_jpeg, limits=limits)))
    bad(load_array(colour_jpeg, limits=limits, color_to_gray="red"), "decoded-size limit")
    # A reduced JPEG costs the reduced size only.
    good(only(load_array(colour_jpeg, limits=LoadLimits(max_decoded_bytes=pixels // 2), reduce_jpeg_to_min_px=100)))


def test_sixteen_bit_png_without_alpha_is_decoded_straight_to_gray(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rgb16 = rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode(".png", rgb16)
    exact = cv2.convertScaleAbs(cv2.cvtColor(rgb16, cv2.COLOR_BGR2GRAY), alpha=1 / 257)
    img = good(only(load_array(encoded.tobytes(), limits=LoadLimits(max_decoded_bytes=4 * H * W))))
    assert np.abs(img.astype(int) - exact).max() <= 1  # libpng's gray, within one level of cvtColor's
    red = good(only(load_array(encoded.tobytes(), color_to_gray="red")))
    assert np.abs(red.astype(int) - np.rint(rgb16[:, :, 2] / 257)).max() <= 1


def test_sixteen_bit_png_with_alpha_is_composited_from_eight_bit_samples() -> None:
    rgba16 = np.random.default_rng(4).integers(0, 65536, (H, W, 4), dtype=np.uint16)
    ok, encoded = cv2.imencode(".png", rgba16)
    img = good(only(load_array(encoded.tobytes())))
    luma = cv2.cvtColor(np.ascontiguousarray(rgba16[:, :, :3]), cv2.COLOR_BGR2GRAY).astype(np.float32) / 65535
    alpha = rgba16[:, :, 3].astype(np.float32) / 65535
    exact = np.clip(np.rint((luma * alpha + 1 - alpha) * 255), 0, 255)
    assert np.abs(img - exact).max() <= 2  # Pillow keeps each sample's top byte: within two gray levels


def test_a_progressive_jpeg_counts_the_coefficients_libjpeg_keeps() -> None:
    rgb = np.dstack([page_pattern()] * 3)
    baseline, progressive = jpeg_bytes(rgb), jpeg_bytes(rgb, progressive=True)
    pixels = H * W
    limits = LoadLimits(max_decoded_bytes=2 * pixels)  # gray twice: enough for a baseline JPEG
    good(only(load_array(baseline, limits=limits)))
    # 4:2:0 colour: 2 bytes a coefficient x (1 + 1/4 + 1/4) components, for the whole image even when reduced.
    bad(load_array(progressive, limits=limits), "(progressive RGB JPEG)")
    good(only(load_array(progressive, limits=LoadLimits(max_decoded_bytes=5 * pixels))))
    bad(load_array(progressive, limits=LoadLimits(max_decoded_bytes=3 * pixels), reduce_jpeg_to_min_px=100),
        "decoded-size limit")
