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
           "huge_page_pdf", "random_bytes", "zip_bomb", "nested_zip", "traversal_zip", "corpus"]


def png_by_hand(width: int, height: int, idat: bytes) -> bytes:
    """An 8-bit gray PNG whose header declares ``width`` x ``height`` whatever ``idat`` holds."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


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
