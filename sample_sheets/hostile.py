"""Bad and hostile files, made on demand: what an upload endpoint and the loader must refuse without falling over.

Each function returns the file's bytes. :func:`corpus` gives the whole set by name, with what a reader should
say about each (a phrase of the expected reason), for tests and for checking a deployment by hand.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np

__all__ = ["png_by_hand", "tiff_by_hand", "png_pixel_bomb", "tiff_pixel_bomb", "jpeg_declaring", "truncated",
           "huge_page_pdf", "random_bytes", "zip_bomb", "nested_zip", "traversal_zip", "corpus", "deep_rgba_png",
           "noisy_tiff", "memory_corpus"]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_by_hand(width: int, height: int, idat: bytes, depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG (8-bit gray by default) whose header declares ``width`` x ``height`` whatever ``idat`` holds."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def tiff_by_hand(frames: list[tuple[int, int, bytes]]) -> bytes:
    """Little-endian uncompressed 8-bit gray TIFF; each frame is (declared width, declared height, strip bytes).

    The declared size need not match the data: that is how a TIFF pixel bomb is made.
    """
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    previous_next = 4
    for width, height, strip in frames:
        strip_offset = len(out)
        out += strip
        if len(out) % 2:
            out += b"\x00"
        ifd_offset = len(out)
        struct.pack_into("<I", out, previous_next, ifd_offset)
        entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                   (273, 4, strip_offset), (277, 3, 1), (278, 4, height), (279, 4, len(strip))]
        out += struct.pack("<H", len(entries))
        for tag, typ, value in entries:
            packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, typ, 1) + packed
        previous_next = len(out)
        out += b"\x00\x00\x00\x00"
    return bytes(out)


def png_pixel_bomb(side: int = 50_000) -> bytes:
    """A ~1 KB PNG declaring side x side pixels (2.5 Gpx by default), its data a long run of zeros."""
    return png_by_hand(side, side, zlib.compress(b"\x00" * ((side + 1) * 20), 9))


def tiff_pixel_bomb(side: int = 100_000) -> bytes:
    """A tiny TIFF whose one frame declares side x side pixels."""
    return tiff_by_hand([(side, side, b"\x00" * 16)])


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to declare ``width`` x ``height``."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", np.full((16, 16), 200, np.uint8))
    data = bytearray(encoded.tobytes())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` of ``data``: a transfer cut short."""
    return data[: max(1, int(len(data) * keep))]


def huge_page_pdf(side_mm: float = 5000.0) -> bytes:
    """A one-page PDF of side_mm x side_mm (rasterised at 200 dpi it would be ~1.5 Gpx)."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=(side_mm * mm, side_mm * mm))
    page.rect(10 * mm, 10 * mm, 50 * mm, 50 * mm, fill=1)
    page.showPage()
    page.save()
    return buffer.getvalue()


def random_bytes(size: int = 4096, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def zip_bomb(uncompressed_mb: int = 64) -> bytes:
    """A zip whose one member inflates ~1000:1 (``uncompressed_mb`` MiB of zeros)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("scan.png", "w", force_zip64=True) as member:
            chunk = b"\x00" * 2**20
            for _ in range(uncompressed_mb):
                member.write(chunk)
    return buffer.getvalue()


def nested_zip(inner: bytes) -> bytes:
    """A zip holding another zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.zip", inner)
    return buffer.getvalue()


def traversal_zip(payload: bytes) -> bytes:
    """A zip whose member names try to leave the extraction folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../../../tmp/yuejuan-escape.jpg", payload)
        archive.writestr("/etc/yuejuan-escape.jpg", payload)
    return buffer.getvalue()


def deep_rgba_png(side: int = 7745) -> bytes:
    """A real, complete 16-bit RGBA PNG of side x side (60 Mpx by default: 480 MB of samples in ~0.7 MB).

    Inside a 60 Mpx pixel limit, but decoding it as it is stored takes 8 bytes a pixel: a page of
    half-transparent white with a dark line every 64 rows, which must be composited on white.
    """
    white = struct.pack(">HHHH", 65535, 65535, 65535, 32768) * side
    dark = struct.pack(">HHHH", 0, 0, 0, 65535) * side
    block = b"".join(b"\x00" + (dark if y == 32 else white) for y in range(64))  # 64 rows, filter 0 each
    stream = zlib.compressobj(9)
    parts = [stream.compress(block) for _ in range(side // 64)]
    parts.append(stream.compress(block[:(side % 64) * (1 + len(white))]))
    parts.append(stream.flush())
    return png_by_hand(side, side, b"".join(parts), depth=16, colour_type=6)


def _tiff_deflate_frames(frames: list[tuple[int, int, int, list[bytes], int]]) -> bytes:
    """Little-endian Deflate-compressed 8-bit TIFF; each frame is (width, height, samples (1 gray or 3 RGB), strips,
    rows per strip)."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    previous_next = 4
    for width, height, samples, strips, rows_per_strip in frames:
        offsets, counts = [], []
        for strip in strips:
            offsets.append(len(out))
            counts.append(len(strip))
            out += strip
            if len(out) % 2:
                out += b"\x00"
        offsets_at = len(out)
        out += struct.pack(f"<{len(strips)}I", *offsets)
        counts_at = len(out)
        out += struct.pack(f"<{len(strips)}I", *counts)
        bits_at = len(out)  # BitsPerSample of an RGB frame (three shorts) lives outside the IFD
        out += struct.pack("<3H", 8, 8, 8) + b"\x00\x00"
        ifd_offset = len(out)
        struct.pack_into("<I", out, previous_next, ifd_offset)
        bits = (3, 3, bits_at) if samples == 3 else (3, 1, 8)
        entries = [(256, 4, 1, width), (257, 4, 1, height), (258, *bits), (259, 3, 1, 8),
                   (262, 3, 1, 2 if samples >= 3 else 1), (273, 4, len(strips), offsets_at), (277, 3, 1, samples),
                   (278, 4, 1, rows_per_strip), (279, 4, len(strips), counts_at)]
        if len(strips) == 1:  # a single offset or count is stored in the entry itself
            entries[5], entries[8] = (273, 4, 1, offsets[0]), (279, 4, 1, counts[0])
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            packed = struct.pack("<HH", value, 0) if typ == 3 and count == 1 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, typ, count) + packed
        previous_next = len(out)
        out += b"\x00\x00\x00\x00"
    return bytes(out)


def noisy_tiff(frames: int = 30, width: int = 2480, height: int = 3508, samples: int = 1,
               noise: float = 0.008, seed: int = 3) -> bytes:
    """A multi-page Deflate TIFF of white pages sprinkled with random dark specks (A4 at 300 dpi, ~7.5 MB by default).

    Each frame is a real page the loader reads; ``samples=3`` makes colour frames. Sixteen strips of noise are
    compressed once and dealt to the frames in a different order each, so making the file is quick.
    """
    if samples not in (1, 3):
        raise ValueError(f"samples must be 1 (gray) or 3 (RGB), got {samples!r}")
    rng = np.random.default_rng(seed)
    rows = 64
    patterns = []
    for _ in range(16):
        strip = np.full((rows, width, samples), 255, np.uint8)
        specks = rng.random((rows, width)) < noise
        strip[specks] = rng.integers(0, 160, (int(specks.sum()), samples), dtype=np.uint8)
        patterns.append(strip)
    compressed = [zlib.compress(p.tobytes(), 6) for p in patterns]
    per_frame = -(-height // rows)
    tail = height - rows * (per_frame - 1)
    last = [zlib.compress(p[:tail].tobytes(), 6) for p in patterns]
    layout = []
    for k in range(frames):
        order = [(k * 7 + 5 * i) % 16 for i in range(per_frame)]
        strips = [compressed[j] for j in order[:-1]] + [last[order[-1]]]
        layout.append((width, height, samples, strips, rows))
    return _tiff_deflate_frames(layout)


def memory_corpus() -> dict[str, tuple[bytes, str | None]]:
    """{file name: (bytes, a phrase of the reason, or None when every page must be read)}: files within the size
    and pixel limits that cost a careless decoder gigabytes (a bounded loader reads or refuses each cheaply)."""
    return {
        "deep-rgba.png": (deep_rgba_png(), "decoded-size limit"),
        "noisy.tif": (noisy_tiff(), None),
        "noisy-colour.tif": (noisy_tiff(frames=4, width=5000, height=7000, samples=3, noise=0.002), None),
        "huge-colour.tif": (noisy_tiff(frames=3, width=7745, height=7745, samples=3, noise=0.001),
                            "decoded-size limit"),
    }


def corpus() -> dict[str, tuple[bytes, str]]:
    """{file name: (bytes, a phrase of the reason a reader should give)} for the standard hostile set."""
    return {
        "zero.jpg": (b"", "empty"),
        "random.jpg": (random_bytes(), "not an image"),
        "truncated.jpg": (truncated(_real_jpeg()), "truncated"),
        "bomb.png": (png_pixel_bomb(), "exceeds"),
        "bomb.tif": (tiff_pixel_bomb(), "exceeds"),
        "huge-header.jpg": (jpeg_declaring(60_000, 60_000), "exceeds"),
        "huge-page.pdf": (huge_page_pdf(), "mm"),
        "tiny.jpg": (jpeg_declaring(16, 16), "too small to be a scanned page"),
        "page.html.jpg": (b"<!DOCTYPE html><html><body>not a scan</body></html>", "not an image"),
    }


def _real_jpeg() -> bytes:
    import cv2

    rng = np.random.default_rng(1)
    ok, encoded = cv2.imencode(".jpg", rng.integers(0, 256, (400, 300), dtype=np.uint8))
    return encoded.tobytes()
