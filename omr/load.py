"""Read scanned pages from files or bytes: every page comes back as a gray image or as a clear reason why not.

Supported inputs, recognised by their magic bytes (never by the file extension): JPEG, PNG, BMP, TIFF
(multi-page; 1-bit CCITT G3/G4, 8/16-bit, LZW/Deflate/PackBits, gray, palette or colour) and PDF (rasterised
by poppler through pdf2image).

Output is always a 2-D, C-contiguous ``uint8`` gray image with 255 = white:

* colour → gray by luma (``cv2.cvtColor``, BT.601 weights) or, with ``color_to_gray="red"``, the red channel
  (a scanner's "dropout": red-printed bubbles vanish, blue or black pen stays dark);
* alpha is composited on white; 16-bit samples are scaled to 8 bits (``v / 257``, rounded); 1-bit becomes
  0/255; palette images are expanded first;
* the EXIF orientation tag of JPEG and TIFF files is applied (the image comes back upright).

Rules for bad input. Nothing raises for bad input and nothing is skipped silently: a file or a page that
cannot be read yields a :class:`LoadedPage` whose ``image`` is ``None`` and whose ``error`` says why.

* **Size limits before decoding.** The file size is checked before the file is read; the declared image
  dimensions are read from the header (Pillow's open is lazy) and checked against ``max_pixels`` before any
  pixel is decoded, for every TIFF frame separately; a PDF page's size (``pdfinfo``) is checked against
  ``max_pdf_page_mm`` and, at ``pdf_dpi``, against ``max_pixels`` before it is rasterised. OpenCV refuses
  images above ``OPENCV_IO_MAX_IMAGE_PIXELS`` as well (set by :mod:`omr`).
* **Truncation rule.** A truncated page is an error page, never a silently gray-padded image: a JPEG must
  have its end-of-image marker (``FF D9``) after the start of its first scan; a PNG must end with its IEND
  chunk (bytes after IEND are tolerated); an uncompressed BMP must hold all the pixel rows its header
  declares; a TIFF frame whose strips are cut short fails in the decoder and becomes an error page (the
  following frames are still read when their directories can be found). Data damaged *inside* a JPEG that
  still has its end marker cannot be detected cheaply and is decoded as well as the decoder can.
* **Page limits.** At most ``max_pages`` pages of one TIFF or PDF are read; the pages beyond are reported by
  one error page (at index ``max_pages``) naming how many were skipped.

Decoders: JPEG, PNG and BMP are decoded by OpenCV from memory (Pillow as the fallback if OpenCV refuses a
file that passed the checks); TIFF frames by Pillow, one frame at a time (faster than ``cv2.imdecodemulti``
here and it never holds more than one frame); PDF pages by ``pdftoppm`` in chunks of a few pages written to
a temporary folder, so a 300-page PDF never sits in memory at once.

Thread safety: Pillow calls run inside :func:`warnings.catch_warnings` (Pillow reports corrupt metadata and
its own decompression-bomb check as warnings, which would otherwise become errors under ``-W error``);
``catch_warnings`` changes process-global state, so call this module from one thread per process or accept
that another thread's warning filters may briefly be overridden.
"""

from __future__ import annotations

import io
import logging
import math
import numbers
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from omr import MAX_IMAGE_PIXELS  # sets OPENCV_IO_MAX_IMAGE_PIXELS before cv2 is imported

import cv2
import numpy as np
from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

__all__ = [
    "LoadLimits",
    "LoadedPage",
    "SUPPORTED_FORMATS",
    "sniff_format",
    "collect_inputs",
    "count_pages",
    "iter_pages",
    "iter_array",
    "load_array",
]

logger = logging.getLogger(__name__)

#: Formats :func:`sniff_format` recognises.
SUPPORTED_FORMATS = ("jpeg", "png", "bmp", "tiff", "pdf")

ColorToGray = Literal["luma", "red"]

#: Bytes read from the start of a file to recognise its format (a PDF header may start up to 1024 bytes in).
_HEAD_BYTES = 2048
#: Pages rasterised per pdftoppm call, and the pixel budget of one call (its pages wait in a temp folder).
_PDF_CHUNK_PAGES = 8
_PDF_CHUNK_PIXELS = 256_000_000
#: Frames counted past ``max_pages`` to tell how many were skipped (directory walk only, no decoding).
_TIFF_COUNT_CAP = 1_000_000
_MM_PER_INCH = 25.4
_PT_PER_INCH = 72.0


@dataclass(frozen=True)
class LoadLimits:
    """Resource limits for reading one file.

    Attributes
    ----------
    max_file_bytes : int
        Largest file read at all; a larger file is never read into memory.
    max_pixels : int
        Largest page, in pixels (width x height as declared in the header, or of the rasterised PDF page).
        OpenCV's own limit (``OPENCV_IO_MAX_IMAGE_PIXELS``, :data:`omr.MAX_IMAGE_PIXELS` by default) also
        applies to what OpenCV decodes; above it Pillow decodes instead. Pillow refuses TIFF frames above
        twice ``PIL.Image.MAX_IMAGE_PIXELS`` (~179 Mpx by default) whatever this limit says.
    max_pages : int
        Pages read per file (TIFF frames, PDF pages); the rest are reported skipped by one error page.
    max_pdf_page_mm : float
        Longest side of a PDF page (its crop box, which is what is rasterised).
    pdf_dpi : int
        Resolution PDF pages are rasterised at.
    pdf_timeout_s : float
        Time allowed for each ``pdfinfo`` / ``pdftoppm`` call.
    """

    max_file_bytes: int = 200 * 2**20
    max_pixels: int = MAX_IMAGE_PIXELS
    max_pages: int = 500
    max_pdf_page_mm: float = 1000.0
    pdf_dpi: int = 200
    pdf_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_pixels", "max_pages", "max_pdf_page_mm", "pdf_dpi", "pdf_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"LoadLimits.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True, eq=False)  # eq=False: comparing images with == would be ambiguous
class LoadedPage:
    """One page of an input file: its gray image, or the reason it could not be read.

    Attributes
    ----------
    source : str
        The file path as given (or the ``source`` label given to :func:`load_array`).
    page_index : int
        0-based page within the file.
    image : numpy.ndarray or None
        2-D ``uint8`` gray image, C-contiguous, 255 = white; ``None`` when the page could not be read.
    error : str or None
        Human-readable reason when ``image`` is ``None``.
    dpi : float or None
        Resolution of ``image``: the file's metadata dpi divided by ``reduction`` (JPEG, PNG, TIFF, BMP when
        recorded), or the rasterising dpi of a PDF page; ``None`` when unknown.
    reduction : int
        1, 2, 4 or 8: the factor by which the JPEG decoder reduced the image (see :func:`iter_pages`).
    """

    source: str
    page_index: int
    image: np.ndarray | None
    error: str | None
    dpi: float | None
    reduction: int = 1

    @property
    def ok(self) -> bool:
        """True when the page has an image."""
        return self.image is not None


class _PageError(Exception):
    """A page-level failure whose message is the reason reported in :attr:`LoadedPage.error`."""


# --------------------------------------------------------------------------------------------------------
# Format recognition and input collection
# --------------------------------------------------------------------------------------------------------

_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}

#: Formats recognised only to give a clearer reason when they are refused.
_UNSUPPORTED_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (0, b"\xffO\xffQ", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"PK\x03\x04", "ZIP archive (or Office document)"),
    (0, b"\x1f\x8b", "gzip archive"),
    (0, b"Rar!\x1a\x07", "RAR archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document"),
    (0, b"II\xbc", "JPEG XR"),
)


def sniff_format(head: bytes) -> str | None:
    """Recognise a supported format from the first bytes of a file.

    Parameters
    ----------
    head : bytes
        The start of the file; 2048 bytes recognise every supported format (a PDF header may be preceded
        by up to 1024 bytes of junk, which poppler tolerates).

    Returns
    -------
    str or None
        ``"jpeg"``, ``"png"``, ``"bmp"``, ``"tiff"`` or ``"pdf"``; ``None`` for anything else.
    """
    head = bytes(head[:_HEAD_BYTES])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic TIFF and BigTIFF
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if b"%PDF-" in head[:1024 + 5]:
        return "pdf"
    return None


def _describe_unrecognised(head: bytes) -> str:
    """The reason given for a file that :func:`sniff_format` does not accept."""
    if not head:
        return "empty file (0 bytes)"
    for offset, magic, name in _UNSUPPORTED_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return f"unsupported format: {name} (supported: JPEG, PNG, BMP, TIFF, PDF)"
    if head[4:8] == b"ftyp":
        return "unsupported format: HEIF/AVIF/MP4 container (supported: JPEG, PNG, BMP, TIFF, PDF)"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "unsupported format: WebP (supported: JPEG, PNG, BMP, TIFF, PDF)"
    return f"not an image or PDF (starts with {head[:16]!r})"


def _natural_key(path: Path) -> tuple:
    """Sort key comparing runs of digits by value, so ``scan2`` sorts before ``scan10``."""
    parts = re.split(r"(\d+)", path.as_posix())
    return tuple((0, int(p), p) if p.isdigit() else (1, p.casefold(), p) for p in parts)


def _sniff_file(path: Path) -> tuple[str | None, str | None]:
    """(format, None) for a readable supported file, else (None, reason)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size == 0:
            return None, "empty file (0 bytes)"
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as error:
        return None, f"cannot read file: {error.strerror or error}"
    fmt = sniff_format(head)
    return (fmt, None) if fmt else (None, _describe_unrecognised(head))


def collect_inputs(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into the list of files to read.

    Files are taken as given; folders are walked recursively (symbolic links to folders are not followed)
    and their files sorted in natural order (``p2`` before ``p10``). Inputs keep their given order; a file
    reached twice is kept once. Each file is recognised by its magic bytes (see :func:`sniff_format`).

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders.

    Returns
    -------
    accepted : list of Path
        Files in a supported format, in reading order.
    rejected : list of (Path, str)
        Every other file (and every input that does not exist) with the reason it was refused.
    """
    accepted: list[Path] = []
    rejected: list[tuple[Path, str]] = []
    seen: set[str] = set()

    def consider(file: Path) -> None:
        try:
            key = str(file.resolve())
        except (OSError, RuntimeError):
            key = os.path.abspath(file)
        if key in seen:
            return
        seen.add(key)
        fmt, reason = _sniff_file(file)
        if fmt:
            accepted.append(file)
        else:
            rejected.append((file, reason or "unreadable"))

    for given in paths:
        root = Path(given)
        if root.is_dir():
            found: list[Path] = []
            def unlistable(error: OSError, root: Path = root) -> None:
                rejected.append((Path(error.filename or root), f"cannot list folder: {error.strerror}"))

            for folder, dirs, files in os.walk(root, onerror=unlistable):
                dirs.sort()
                found.extend(Path(folder) / name for name in files)
            for file in sorted(found, key=lambda p: _natural_key(p.relative_to(root))):
                consider(file)
        elif root.exists() or root.is_symlink():
            consider(root)
        else:
            rejected.append((root, "no such file or directory"))
    return accepted, rejected


# --------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------


def _fmt_bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def _fmt_mpx(n: int) -> str:
    return f"{n / 1e6:g} Mpx"


def _error(source: str, index: int, reason: str) -> LoadedPage:
    logger.info("%s page %d: %s", source, index + 1, reason)
    return LoadedPage(source=source, page_index=index, image=None, error=reason, dpi=None)


@contextmanager
def _pillow_calls() -> Iterator[None]:
    """Run Pillow code with its warnings recorded and logged instead of raised or printed.

    Pillow signals corrupt metadata ("Possibly corrupt EXIF data") and its own decompression-bomb check
    (``DecompressionBombWarning``; our own pixel check runs first) as warnings; under ``-W error`` they would
    abort a page that decodes fine. ``DecompressionBombError`` is an exception and is reported by the caller.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        logger.debug("Pillow warning: %s: %s", w.category.__name__, w.message)


def _check_pixels(width: int, height: int, limits: LoadLimits) -> None:
    if width <= 0 or height <= 0:
        raise _PageError(f"image declares an empty size of {width}x{height} px")
    if width * height > limits.max_pixels:
        raise _PageError(f"image of {width}x{height} px exceeds the {_fmt_mpx(limits.max_pixels)} limit")


def _metadata_dpi(info: dict) -> float | None:
    """The dpi recorded in a Pillow ``info`` dict, or None when absent or implausible."""
    dpi = info.get("dpi")
    try:
        x, y = (float(v) for v in dpi)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return _plausible_dpi(x, y)


def _plausible_dpi(x: float, y: float) -> float | None:
    """One dpi from horizontal and vertical values; None for absent or meaningless ones (e.g. 1 = "unset")."""
    if not (math.isfinite(x) and math.isfinite(y) and 10.0 <= x <= 100_000 and 10.0 <= y <= 100_000):
        return None
    return round(x if abs(x - y) <= 0.01 * x else (x + y) / 2, 2)


def _tiff_dpi(im: Image.Image) -> float | None:
    """dpi of the current TIFF frame from its own tags (Pillow's ``info`` keeps values of earlier frames)."""
    tags = im.tag_v2
    try:
        x, y = float(tags.get(282, 0) or 0), float(tags.get(283, 0) or 0)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    unit = tags.get(296, 2)  # ResolutionUnit: 1 none, 2 inch (the default), 3 centimetre
    if unit == 3:
        x, y = x * 2.54, y * 2.54
    elif unit != 2:
        return None
    return _plausible_dpi(x, y)


def _orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to a 2-D image so it is shown upright."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1, :]
    if orientation == 5:
        return image.T
    if orientation == 6:
        return image.T[:, ::-1]  # 90° clockwise
    if orientation == 7:
        return image.T[::-1, ::-1]
    if orientation == 8:
        return image.T[::-1, :]  # 90° counter-clockwise
    return image


def _to_u8(gray: np.ndarray) -> np.ndarray:
    """Scale a single-channel image of any sample type to uint8 (full range to full range)."""
    if gray.dtype == np.uint8:
        return gray
    if gray.dtype == np.bool_:
        return gray.astype(np.uint8) * np.uint8(255)  # (Pillow stores True as 0xFF: never view() it)
    if gray.dtype == np.uint16:
        return cv2.convertScaleAbs(gray, alpha=1 / 257)
    if gray.dtype.kind == "f":  # float samples are taken as 0..1
        return np.clip(np.rint(np.nan_to_num(gray.astype(np.float32)) * 255), 0, 255).astype(np.uint8)
    if gray.dtype.kind in "iu":  # 32-bit integers: 8- or 16-bit data stored wide, else the full range
        peak = int(gray.max(initial=0))
        if gray.min(initial=0) >= 0 and peak <= 255:
            return gray.astype(np.uint8)
        if gray.min(initial=0) >= 0 and peak <= 65535:
            return cv2.convertScaleAbs(gray.astype(np.uint16), alpha=1 / 257)
        info = np.iinfo(gray.dtype)
        return np.clip((gray.astype(np.float64) - info.min) / (info.max - info.min) * 255, 0, 255).astype(np.uint8)
    raise _PageError(f"unsupported sample type {gray.dtype}")


def _to_gray(arr: np.ndarray, order: Literal["bgr", "rgb"], color_to_gray: str) -> np.ndarray:
    """Gray uint8 from a decoded 2-D or 3-D array (1, 2 = gray+alpha, 3 or 4 = colour+alpha channels)."""
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    alpha = None
    if arr.ndim == 2:
        gray = arr
    elif arr.ndim == 3 and arr.shape[2] in (2, 3, 4):
        channels = arr.shape[2]
        if channels in (2, 4):
            alpha = arr[:, :, -1]
        if channels == 2:
            gray = arr[:, :, 0]
        elif color_to_gray == "red":
            gray = arr[:, :, 2 if order == "bgr" else 0]
        else:
            color = np.ascontiguousarray(arr[:, :, :3])
            if color.dtype not in (np.uint8, np.uint16, np.float32):
                raise _PageError(f"unsupported colour sample type {color.dtype}")
            gray = cv2.cvtColor(color, cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY)
    else:
        raise _PageError(f"unsupported image layout {arr.shape}")
    if alpha is not None and (alpha.dtype == np.bool_ or alpha.min() < _full_scale(alpha.dtype)):
        top = _full_scale(gray.dtype)
        a = alpha.astype(np.float32) / _full_scale(alpha.dtype)
        g = gray.astype(np.float32) / top
        return np.clip(np.rint((g * a + (1.0 - a)) * 255), 0, 255).astype(np.uint8)
    return _to_u8(np.ascontiguousarray(gray))


def _full_scale(dtype: np.dtype) -> float:
    if dtype == np.bool_:
        return 1.0
    if dtype.kind == "f":
        return 1.0
    return float(np.iinfo(dtype).max) if dtype != np.uint8 else 255.0


def _pillow_to_gray(im: Image.Image, color_to_gray: str) -> np.ndarray:
    """Gray uint8 array from a loaded Pillow image of any mode."""
    mode = im.mode
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    elif mode == "1" or mode == "L" or mode.startswith("I;16") or mode in ("I", "F", "LA", "RGB", "RGBA"):
        pass
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    else:  # CMYK, YCbCr, LAB, HSV, RGBX, ...
        im = im.convert("RGB")
    return _to_gray(np.asarray(im), "rgb", color_to_gray)


def _finish(arr: np.ndarray, orientation: int) -> np.ndarray:
    return np.ascontiguousarray(_orient(arr, orientation) if orientation in range(2, 9) else arr)


# --------------------------------------------------------------------------------------------------------
# Single-image formats: JPEG, PNG, BMP
# --------------------------------------------------------------------------------------------------------

_PIL_CLASSES = {
    "jpeg": JpegImagePlugin.JpegImageFile,
    "png": PngImagePlugin.PngImageFile,
    "bmp": BmpImagePlugin.BmpImageFile,
    "tiff": TiffImagePlugin.TiffImageFile,
}
_FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "tiff": "TIFF", "pdf": "PDF"}


def _open_header(fp: IO[bytes], fmt: str) -> Image.Image:
    """Parse a file's header with Pillow without decoding pixels.

    The format plugin is constructed directly (``Image.open`` would run Pillow's own decompression-bomb
    check with Pillow's global limit, ~89 Mpx, before ours); every frame's size is checked against
    ``LoadLimits.max_pixels`` by the caller instead.
    """
    try:
        with _pillow_calls():
            return _PIL_CLASSES[fmt](fp)
    except Image.DecompressionBombError as error:
        raise _PageError(f"image exceeds the decompression-bomb limit ({error})") from None
    except Exception as error:  # noqa: BLE001 - any parser failure is a property of the file
        raise _PageError(f"unreadable {_FORMAT_NAMES[fmt]} header ({type(error).__name__}: {error})") from None


def _exif_orientation(im: Image.Image) -> int:
    try:
        with _pillow_calls():
            value = im.getexif().get(0x0112, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # noqa: BLE001 - unreadable EXIF means no orientation
        return 1


def _jpeg_scan_start(data: bytes) -> int | None:
    """Offset of the first SOS marker of a JPEG, walking the marker segments; None if there is none."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
        elif marker == 0xDA:
            return i
        elif marker == 0xD9:
            return None
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _check_complete(data: bytes, fmt: str) -> None:
    """Raise _PageError if the file is truncated (see the module docstring for the rule)."""
    if fmt == "jpeg":
        start = _jpeg_scan_start(data)
        if start is None:
            raise _PageError("truncated JPEG (no image data after the header)")
        if data.rfind(b"\xff\xd9") < start:
            raise _PageError("truncated JPEG (no end-of-image marker after the image data)")
    elif fmt == "png":
        if data.rfind(_PNG_IEND) < 0:
            raise _PageError("truncated PNG (no IEND chunk)")
    elif fmt == "bmp" and len(data) >= 30:
        offset = int.from_bytes(data[10:14], "little")
        header = int.from_bytes(data[14:18], "little")
        if header == 12:
            width, height = int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
            bits, compression = int.from_bytes(data[24:26], "little"), 0
        else:
            width = int.from_bytes(data[18:22], "little", signed=True)
            height = int.from_bytes(data[22:26], "little", signed=True)
            bits = int.from_bytes(data[28:30], "little")
            compression = int.from_bytes(data[30:34], "little") if len(data) >= 34 else 0
        if compression in (0, 3, 6):  # uncompressed rows (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS)
            needed = offset + (abs(width) * bits + 31) // 32 * 4 * abs(height)
            if len(data) < needed:
                raise _PageError(f"truncated BMP (pixel data needs {needed:,} bytes, the file has {len(data):,})")


def _reduction_for(width: int, height: int, min_px: int | None) -> int:
    """Largest JPEG reduction (8, 4, 2) keeping the shorter side >= min_px (libjpeg rounds sizes up)."""
    if min_px is None:
        return 1
    short = min(width, height)
    for r in (8, 4, 2):
        if -(-short // r) >= min_px:
            return r
    return 1


_CV_REDUCED = {
    (1, False): cv2.IMREAD_GRAYSCALE, (2, False): cv2.IMREAD_REDUCED_GRAYSCALE_2,
    (4, False): cv2.IMREAD_REDUCED_GRAYSCALE_4, (8, False): cv2.IMREAD_REDUCED_GRAYSCALE_8,
    (1, True): cv2.IMREAD_COLOR, (2, True): cv2.IMREAD_REDUCED_COLOR_2,
    (4, True): cv2.IMREAD_REDUCED_COLOR_4, (8, True): cv2.IMREAD_REDUCED_COLOR_8,
}


def _cv_decode(data: bytes, flags: int) -> np.ndarray | None:
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:
        logger.debug("OpenCV refused the image: %s", error)
        return None
    return arr if arr is not None and arr.size else None


def _decode_single(data: bytes, fmt: str, source: str, limits: LoadLimits, reduce_min_px: int | None,
                   color_to_gray: str) -> LoadedPage:
    """Decode a JPEG, PNG or BMP held in memory."""
    header = _open_header(io.BytesIO(data), fmt)
    width, height = header.size
    _check_pixels(width, height, limits)
    _check_complete(data, fmt)
    dpi = _metadata_dpi(header.info)
    orientation = _exif_orientation(header) if fmt == "jpeg" else 1
    reduction = 1
    if fmt == "jpeg":
        reduction = _reduction_for(width, height, None if reduce_min_px is None else int(reduce_min_px))
        colour = color_to_gray == "red" and header.mode != "L"
        # Orientation is applied below from the tag Pillow read, whatever the OpenCV version does.
        arr = _cv_decode(data, _CV_REDUCED[reduction, colour] | cv2.IMREAD_IGNORE_ORIENTATION)
        order: Literal["bgr", "rgb"] = "bgr"
    elif fmt == "bmp":  # BMP alpha bytes are unreliable (often zero): decode the colour only
        colour = color_to_gray == "red"
        arr = _cv_decode(data, (cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE) | cv2.IMREAD_IGNORE_ORIENTATION)
        order = "bgr"
    else:  # PNG: keep 16-bit samples and alpha for the conversion below
        arr = _cv_decode(data, cv2.IMREAD_UNCHANGED)
        order = "bgr"
    if arr is None:  # OpenCV refused (or the image is above its pixel limit): let Pillow try at full size
        reduction = 1
        try:
            with _pillow_calls():
                header.load()
                gray = _pillow_to_gray(header, color_to_gray)
        except Image.DecompressionBombError as error:
            raise _PageError(f"image exceeds the decompression-bomb limit ({error})") from None
        except Exception as error:  # noqa: BLE001 - decoder failures are properties of the file
            raise _PageError(f"corrupt {_FORMAT_NAMES[fmt]}: no decoder could read it "
                             f"({type(error).__name__}: {error})") from None
    else:
        gray = _to_gray(arr, order, color_to_gray)
    return LoadedPage(source=source, page_index=0, image=_finish(gray, orientation), error=None,
                      dpi=None if dpi is None else round(dpi / reduction, 2), reduction=reduction)


# --------------------------------------------------------------------------------------------------------
# TIFF: every frame, one at a time
# --------------------------------------------------------------------------------------------------------


def _tiff_seek(im: Image.Image, index: int) -> bool:
    """Move to frame ``index``; False at the regular end of the file, _PageError if the frame is lost."""
    try:
        with _pillow_calls():
            im.seek(index)
        return True
    except EOFError:
        return False
    except Exception as error:  # noqa: BLE001 - a broken directory chain
        raise _PageError(f"TIFF page {index + 1} cannot be located (file truncated or corrupt: "
                         f"{type(error).__name__}: {error}); no later pages can be read") from None


def _count_tiff_frames(im: Image.Image, start: int, cap: int) -> int:
    """Frames of a TIFF whose frames ``0..start-1`` exist, by walking its directories (no decoding).

    At most ``cap``; a directory that cannot be read counts as one frame (it is reported by one error page).
    """
    n = start
    try:
        while n < cap and _tiff_seek(im, n):
            n += 1
    except _PageError:
        n += 1
    return n


def _tiff_frame(im: Image.Image, index: int, source: str, limits: LoadLimits, color_to_gray: str) -> LoadedPage:
    width, height = im.size
    _check_pixels(width, height, limits)
    orientation = int(im.tag_v2.get(0x0112, 1) or 1)
    dpi = _tiff_dpi(im)
    try:
        with _pillow_calls():
            im.load()
            # Recent Pillow applies the orientation while loading and then drops the tag; older Pillow leaves
            # both to us. Apply it only if the tag is still there.
            if 0x0112 not in im.tag_v2:
                orientation = 1
            gray = _pillow_to_gray(im, color_to_gray)
    except Image.DecompressionBombError as error:
        raise _PageError(f"image exceeds the decompression-bomb limit ({error})") from None
    except _PageError:
        raise
    except Exception as error:  # noqa: BLE001 - decoder failures are properties of the file
        reason = str(error) or type(error).__name__
        if "truncated" in reason:
            raise _PageError(f"truncated TIFF page ({reason})") from None
        raise _PageError(f"TIFF page cannot be decoded ({type(error).__name__}: {reason})") from None
    return LoadedPage(source=source, page_index=index, image=_finish(gray, orientation), error=None, dpi=dpi)


def _iter_tiff(fp: IO[bytes], source: str, limits: LoadLimits, color_to_gray: str) -> Iterator[LoadedPage]:
    try:
        im = _open_header(fp, "tiff")
    except _PageError as error:
        yield _error(source, 0, str(error))
        return
    index = 0
    while True:
        if index >= limits.max_pages:
            total = _count_tiff_frames(im, index, _TIFF_COUNT_CAP)
            if total > index:
                more = f"{total}" if total < _TIFF_COUNT_CAP else f"at least {total}"
                yield _error(source, index, f"pages {index + 1}-{total} of {more} skipped: the file has more than "
                                            f"the {limits.max_pages}-page limit")
            return
        try:
            if index and not _tiff_seek(im, index):
                return
        except _PageError as error:
            yield _error(source, index, str(error))
            return
        try:
            page = _tiff_frame(im, index, source, limits, color_to_gray)
        except _PageError as error:
            page = _error(source, index, str(error))
        except Exception as error:  # noqa: BLE001 - never stop the batch
            logger.exception("unexpected error reading %s page %d", source, index + 1)
            page = _error(source, index, f"internal error reading page: {type(error).__name__}: {error}")
        yield page
        index += 1


# --------------------------------------------------------------------------------------------------------
# PDF: pdfinfo first, then pdftoppm in chunks
# --------------------------------------------------------------------------------------------------------

_PAGE_SIZE_KEY = re.compile(r"Page\s+(\d+)\s+size$")
_PAGE_SIZE_VALUE = re.compile(r"([0-9.]+)\s*x\s*([0-9.]+)\s*pts")
_PDF_OUTPUT_NAME = re.compile(r"-(\d+)\.p[gp]m$")


def _pdfinfo(path: str, limits: LoadLimits) -> dict:
    """``pdfinfo`` of the first ``max_pages`` pages; _PageError with a clear reason when it fails."""
    from pdf2image import pdfinfo_from_path
    from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFPopplerTimeoutError

    try:
        return pdfinfo_from_path(path, timeout=limits.pdf_timeout_s, first_page=1, last_page=limits.max_pages)
    except PDFPopplerTimeoutError:
        raise _PageError(f"PDF could not be inspected within {limits.pdf_timeout_s:g} s (pdfinfo timed out)") from None
    except PDFInfoNotInstalledError:
        raise _PageError("cannot read PDF: poppler's pdfinfo is not installed") from None
    except PDFPageCountError as error:
        detail = " ".join(line.strip() for line in str(error).splitlines()[1:] if line.strip())
        if "password" in detail.lower():
            raise _PageError("encrypted PDF (a password is required to open it)") from None
        raise _PageError(f"unreadable PDF ({detail or 'pdfinfo found no page count'})") from None


def _pdf_page_sizes(info: dict) -> dict[int, tuple[float, float]]:
    """Page number (1-based) -> (width, height) in points, from pdfinfo's per-page lines (crop box)."""
    sizes = {}
    for key, value in info.items():
        match = _PAGE_SIZE_KEY.match(key)
        size = _PAGE_SIZE_VALUE.match(str(value)) if match else None
        if match and size:
            sizes[int(match.group(1))] = (float(size.group(1)), float(size.group(2)))
    return sizes


def _pdf_page_problem(number: int, size: tuple[float, float] | None, limits: LoadLimits) -> str | None:
    if size is None:
        return f"PDF page {number} has no size (pdfinfo did not report it)"
    w_mm, h_mm = (v / _PT_PER_INCH * _MM_PER_INCH for v in size)
    if not (w_mm > 0 and h_mm > 0):
        return f"PDF page {number} has an empty size"
    if max(w_mm, h_mm) > limits.max_pdf_page_mm:
        return (f"PDF page {number} is {w_mm:.0f}x{h_mm:.0f} mm, larger than the "
                f"{limits.max_pdf_page_mm:g} mm limit")
    w_px, h_px = (math.ceil(v / _PT_PER_INCH * limits.pdf_dpi) for v in size)
    if w_px * h_px > limits.max_pixels:
        return (f"PDF page {number} would be {w_px}x{h_px} px at {limits.pdf_dpi} dpi, exceeding the "
                f"{_fmt_mpx(limits.max_pixels)} limit")
    return None


def _pdf_pixels(size: tuple[float, float], dpi: int) -> int:
    return math.ceil(size[0] / _PT_PER_INCH * dpi) * math.ceil(size[1] / _PT_PER_INCH * dpi)


def _rasterise(path: str, pages: list[int], source: str, limits: LoadLimits,
               color_to_gray: str) -> Iterator[LoadedPage]:
    """Rasterise consecutive PDF pages with one pdftoppm call; on failure retry them one by one."""
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPopplerTimeoutError

    with tempfile.TemporaryDirectory(prefix="yuejuan-pdf-") as folder:
        try:
            files = convert_from_path(path, dpi=limits.pdf_dpi, output_folder=folder, first_page=pages[0],
                                      last_page=pages[-1], fmt="ppm", grayscale=color_to_gray == "luma",
                                      use_cropbox=True, timeout=limits.pdf_timeout_s, paths_only=True,
                                      output_file="page")
        except Exception as error:  # noqa: BLE001 - a poppler failure is a property of the file
            if len(pages) > 1:
                for number in pages:
                    yield from _rasterise(path, [number], source, limits, color_to_gray)
                return
            if isinstance(error, PDFPopplerTimeoutError):
                reason = f"rasterising PDF page {pages[0]} timed out after {limits.pdf_timeout_s:g} s"
            else:
                reason = f"rasterising PDF page {pages[0]} failed ({type(error).__name__}: {error})"
            yield _error(source, pages[0] - 1, reason)
            return
        by_page = {}
        for file in files:
            match = _PDF_OUTPUT_NAME.search(str(file))
            if match:
                by_page[int(match.group(1))] = str(file)
        for number in pages:
            file = by_page.get(number)
            arr = cv2.imread(file, cv2.IMREAD_UNCHANGED) if file else None
            if file:
                os.remove(file)
            if arr is None:
                yield _error(source, number - 1, f"poppler produced no image for PDF page {number}")
                continue
            gray = _to_gray(arr, "bgr", color_to_gray)
            yield LoadedPage(source=source, page_index=number - 1, image=np.ascontiguousarray(gray), error=None,
                             dpi=float(limits.pdf_dpi))


def _iter_pdf(path: str, source: str, limits: LoadLimits, color_to_gray: str) -> Iterator[LoadedPage]:
    try:
        info = _pdfinfo(path, limits)
    except _PageError as error:
        yield _error(source, 0, str(error))
        return
    total = int(info.get("Pages", 0) or 0)
    if total <= 0:
        yield _error(source, 0, "PDF has no pages")
        return
    readable = min(total, limits.max_pages)
    sizes = _pdf_page_sizes(info)
    problems = {n: _pdf_page_problem(n, sizes.get(n), limits) for n in range(1, readable + 1)}
    number = 1
    while number <= readable:
        if problems[number]:
            yield _error(source, number - 1, problems[number])  # type: ignore[arg-type]
            number += 1
            continue
        chunk, pixels = [number], _pdf_pixels(sizes[number], limits.pdf_dpi)
        while (len(chunk) < _PDF_CHUNK_PAGES and chunk[-1] + 1 <= readable and not problems[chunk[-1] + 1]
               and pixels + _pdf_pixels(sizes[chunk[-1] + 1], limits.pdf_dpi) <= _PDF_CHUNK_PIXELS):
            chunk.append(chunk[-1] + 1)
            pixels += _pdf_pixels(sizes[chunk[-1]], limits.pdf_dpi)
        done: set[int] = set()
        try:
            for page in _rasterise(path, chunk, source, limits, color_to_gray):
                done.add(page.page_index)
                yield page
        except Exception as error:  # noqa: BLE001 - never stop the batch
            logger.exception("unexpected error rasterising %s pages %s", source, chunk)
            for n in chunk:
                if n - 1 not in done:
                    yield _error(source, n - 1, f"internal error rasterising page: {type(error).__name__}: {error}")
        number = chunk[-1] + 1
    if total > readable:
        yield _error(source, readable, f"pages {readable + 1}-{total} of {total} skipped: the file has more than "
                                       f"the {limits.max_pages}-page limit")


# --------------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------------


def _check_options(limits: LoadLimits, reduce_jpeg_to_min_px: int | None, color_to_gray: str) -> None:
    if not isinstance(limits, LoadLimits):
        raise TypeError(f"limits must be a LoadLimits, got {type(limits).__name__}")
    if reduce_jpeg_to_min_px is not None and (not isinstance(reduce_jpeg_to_min_px, numbers.Integral)
                                              or isinstance(reduce_jpeg_to_min_px, bool) or reduce_jpeg_to_min_px < 1):
        raise ValueError(f"reduce_jpeg_to_min_px must be a positive int or None, got {reduce_jpeg_to_min_px!r}")
    if color_to_gray not in ("luma", "red"):
        raise ValueError(f"color_to_gray must be 'luma' or 'red', got {color_to_gray!r}")


def _iter_image(data: bytes, fmt: str, source: str, limits: LoadLimits, reduce_min_px: int | None,
                color_to_gray: str) -> Iterator[LoadedPage]:
    if fmt == "tiff":
        yield from _iter_tiff(io.BytesIO(data), source, limits, color_to_gray)
        return
    try:
        yield _decode_single(data, fmt, source, limits, reduce_min_px, color_to_gray)
    except _PageError as error:
        yield _error(source, 0, str(error))


def _guarded(pages: Iterator[LoadedPage], source: str) -> Iterator[LoadedPage]:
    """Turn any unexpected exception into an error page after the pages already yielded."""
    next_index = 0
    try:
        for page in pages:
            next_index = page.page_index + 1
            yield page
    except Exception as error:  # noqa: BLE001 - one bad file never stops a batch
        logger.exception("unexpected error reading %s", source)
        yield _error(source, next_index, f"internal error reading file: {type(error).__name__}: {error}")


def _iter_path(path: str | Path, limits: LoadLimits, reduce_min_px: int | None,
               color_to_gray: str) -> Iterator[LoadedPage]:
    source = str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            yield _error(source, 0, "is a folder, not a file" if stat.S_ISDIR(info.st_mode) else "not a regular file")
            return
        if info.st_size == 0:
            yield _error(source, 0, "empty file (0 bytes)")
            return
        if info.st_size > limits.max_file_bytes:
            yield _error(source, 0, f"file of {_fmt_bytes(info.st_size)} exceeds the "
                                    f"{_fmt_bytes(limits.max_file_bytes)} limit")
            return
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
            fmt = sniff_format(head)
            if fmt is None:
                yield _error(source, 0, _describe_unrecognised(head))
                return
            if fmt == "pdf":
                data = b""
            else:
                fh.seek(0)
                # Read what stat() promised (plus one byte to notice a file still growing): read(n) allocates n.
                data = fh.read(info.st_size + 1)
    except OSError as error:
        yield _error(source, 0, f"cannot read file: {error.strerror or error}")
        return
    if fmt == "pdf":
        yield from _iter_pdf(os.fspath(path), source, limits, color_to_gray)
        return
    if len(data) > limits.max_file_bytes:  # the file grew after stat()
        yield _error(source, 0, f"file exceeds the {_fmt_bytes(limits.max_file_bytes)} limit")
        return
    yield from _iter_image(data, fmt, source, limits, reduce_min_px, color_to_gray)


def _iter_bytes(data: bytes, source: str, limits: LoadLimits, reduce_min_px: int | None,
                color_to_gray: str) -> Iterator[LoadedPage]:
    if len(data) == 0:
        yield _error(source, 0, "empty file (0 bytes)")
        return
    if len(data) > limits.max_file_bytes:
        yield _error(source, 0, f"file of {_fmt_bytes(len(data))} exceeds the "
                                f"{_fmt_bytes(limits.max_file_bytes)} limit")
        return
    head = bytes(data[:_HEAD_BYTES])
    fmt = sniff_format(head)
    if fmt is None:
        yield _error(source, 0, _describe_unrecognised(head))
        return
    if fmt == "pdf":  # poppler reads files: hand it a private temporary copy
        with tempfile.TemporaryDirectory(prefix="yuejuan-pdf-") as folder:
            pdf_path = os.path.join(folder, "input.pdf")
            with open(pdf_path, "wb") as fh:
                fh.write(data)
            yield from _iter_pdf(pdf_path, source, limits, color_to_gray)
        return
    yield from _iter_image(bytes(data), fmt, source, limits, reduce_min_px, color_to_gray)


def iter_pages(path: str | Path, *, limits: LoadLimits = LoadLimits(), reduce_jpeg_to_min_px: int | None = None,
               color_to_gray: ColorToGray = "luma") -> Iterator[LoadedPage]:
    """Read every page of one file, lazily, one :class:`LoadedPage` per page.

    Bad input never raises: a missing, empty, oversized, unrecognised, truncated or corrupt file, a pixel
    bomb, an encrypted PDF, a page over the limits - each yields an error page (``image is None``) with the
    reason, and the other pages of the file are still read. Pages come in file order with increasing
    ``page_index``; a file that cannot be opened at all yields exactly one error page (index 0).

    Parameters
    ----------
    path : str or Path
        The file. Its format is recognised from its magic bytes, not its extension.
    limits : LoadLimits
        Size, page and time limits.
    reduce_jpeg_to_min_px : int, optional
        JPEG only: decode at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling, much cheaper than resizing), the
        largest reduction that keeps the image's shorter side at least this many pixels; reported in
        :attr:`LoadedPage.reduction`. Other formats always decode at full size.
    color_to_gray : {"luma", "red"}
        How colour becomes gray: luma, or the red channel (red printing drops out, blue ink stays dark).

    Returns
    -------
    Iterator[LoadedPage]

    Raises
    ------
    ValueError, TypeError
        Only for invalid arguments (raised at the call, before iterating).
    """
    _check_options(limits, reduce_jpeg_to_min_px, color_to_gray)
    return _guarded(_iter_path(path, limits, reduce_jpeg_to_min_px, color_to_gray), str(path))


def iter_array(data: bytes | bytearray | memoryview, *, source: str = "<memory>", limits: LoadLimits = LoadLimits(),
               reduce_jpeg_to_min_px: int | None = None, color_to_gray: ColorToGray = "luma") -> Iterator[LoadedPage]:
    """Like :func:`iter_pages`, for a file's content held in memory (an upload).

    ``source`` labels the pages (e.g. the upload's file name). A PDF is written to a private temporary
    folder for poppler; other formats decode straight from memory.
    """
    _check_options(limits, reduce_jpeg_to_min_px, color_to_gray)
    return _guarded(_iter_bytes(data, source, limits, reduce_jpeg_to_min_px, color_to_gray), source)


def load_array(data: bytes | bytearray | memoryview, *, source: str = "<memory>", limits: LoadLimits = LoadLimits(),
               reduce_jpeg_to_min_px: int | None = None, color_to_gray: ColorToGray = "luma") -> list[LoadedPage]:
    """Every page of a file held in memory, as a list (see :func:`iter_array`; same rules as :func:`iter_pages`).

    All pages are decoded before returning: for long PDFs or TIFFs prefer :func:`iter_array` (a 300-page
    A4 PDF at 200 dpi is ~1.2 GB of gray pixels).
    """
    return list(iter_array(data, source=source, limits=limits, reduce_jpeg_to_min_px=reduce_jpeg_to_min_px,
                           color_to_gray=color_to_gray))


def count_pages(path: str | Path, limits: LoadLimits = LoadLimits()) -> int:
    """Number of :class:`LoadedPage` records :func:`iter_pages` will yield for ``path`` (cheap, no decoding).

    TIFF: frames found by walking the directories; PDF: ``pdfinfo``'s page count; other formats and files
    that cannot be read: 1 (they yield one page or one error page). Beyond ``limits.max_pages`` the count is
    ``max_pages + 1`` (the skipped pages are reported by one error page). A best estimate for progress
    bars: a TIFF frame that turns out undecodable still yields its one error page, so counts agree.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size == 0 or info.st_size > limits.max_file_bytes:
            return 1
        with open(path, "rb") as fh:
            fmt = sniff_format(fh.read(_HEAD_BYTES))
            if fmt == "tiff":
                fh.seek(0)
                try:
                    n = _count_tiff_frames(_open_header(fh, "tiff"), 1, limits.max_pages + 1)
                except _PageError:
                    return 1
            elif fmt == "pdf":
                try:
                    n = int(_pdfinfo(os.fspath(path), limits).get("Pages", 0) or 0)
                except _PageError:
                    return 1
            else:
                return 1
    except OSError:
        return 1
    return max(1, min(n, limits.max_pages) + (1 if n > limits.max_pages else 0))
