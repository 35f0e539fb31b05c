"""TIFF: every frame, one at a time (1-bit CCITT G3/G4, 8/16-bit, LZW/Deflate/PackBits, gray, palette or colour).

Frames are decoded by Pillow (faster than ``cv2.imdecodemulti`` here). Each frame's size and decoded bytes are
checked from its directory before it is decoded; a large frame's decoded pixels are released as soon as its gray
page is made, so a file never holds more than the frame being read. A frame whose strips are cut short fails in
the decoder and becomes an error page; the following frames are still read when their directories can be found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import IO

from PIL import Image

from omr.load.gray import finish, pillow_to_gray
from omr.load.header import open_header, pillow_calls, pillow_pixel_bytes, plausible_dpi
from omr.load.limits import LoadedPage, LoadLimits, PageError, check_decoded_bytes, check_pixels, error_page

__all__ = ["count_tiff_frames", "iter_tiff"]

logger = logging.getLogger(__name__)

#: Frames counted past ``max_pages`` to tell how many were skipped (directory walk only, no decoding).
_TIFF_COUNT_CAP = 1_000_000


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
    return plausible_dpi(x, y)


def _tiff_seek(im: Image.Image, index: int) -> bool:
    """Move to frame ``index``; False at the regular end of the file, PageError if the frame is lost."""
    try:
        with pillow_calls():
            im.seek(index)
        return True
    except EOFError:
        return False
    except Exception as error:  # noqa: BLE001 - a broken directory chain
        raise PageError(f"TIFF page {index + 1} cannot be located (file truncated or corrupt: "
                        f"{type(error).__name__}: {error}); no later pages can be read") from None


def count_tiff_frames(im: Image.Image, start: int, cap: int) -> int:
    """Frames of a TIFF whose frames ``0..start-1`` exist, by walking its directories (no decoding).

    At most ``cap``; a directory that cannot be read counts as one frame (it is reported by one error page).
    """
    n = start
    try:
        while n < cap and _tiff_seek(im, n):
            n += 1
    except PageError:
        n += 1
    return n


#: A decoded frame larger than this is dropped as soon as its page is made; a smaller one is kept for Pillow to
#: decode the next frame into (allocating and faulting in a fresh buffer for every A4 page costs more than it saves).
_KEEP_FRAME_BYTES = 32 * 2**20


def _release_pixels(im: Image.Image) -> None:
    """Drop the decoded pixels of a large frame (Pillow would keep them until the next frame is loaded)."""
    width, height = im.size
    if width * height * pillow_pixel_bytes(im.mode) > _KEEP_FRAME_BYTES:
        im._im = None  # noqa: SLF001 - Pillow has no public way to unload a frame and keep the file open


def _tiff_frame(im: Image.Image, index: int, source: str, limits: LoadLimits, color_to_gray: str) -> LoadedPage:
    width, height = im.size
    check_pixels(width, height, limits)
    check_decoded_bytes(width, height, pillow_pixel_bytes(im.mode) + 1, f"TIFF {im.mode}", limits)
    orientation = int(im.tag_v2.get(0x0112, 1) or 1)
    dpi = _tiff_dpi(im)
    try:
        with pillow_calls():
            im.load()
            # Recent Pillow applies the orientation while loading and then drops the tag; older Pillow leaves
            # both to us. Apply it only if the tag is still there.
            if 0x0112 not in im.tag_v2:
                orientation = 1
            gray = pillow_to_gray(im, color_to_gray)
    except Image.DecompressionBombError as error:
        raise PageError(f"image exceeds the decompression-bomb limit ({error})") from None
    except PageError:
        raise
    except Exception as error:  # noqa: BLE001 - decoder failures are properties of the file
        reason = str(error) or type(error).__name__
        if "truncated" in reason:
            raise PageError(f"truncated TIFF page ({reason})") from None
        raise PageError(f"TIFF page cannot be decoded ({type(error).__name__}: {reason})") from None
    finally:
        _release_pixels(im)
    return LoadedPage(source=source, page_index=index, image=finish(gray, orientation), error=None, dpi=dpi)


def iter_tiff(fp: IO[bytes], source: str, limits: LoadLimits, color_to_gray: str) -> Iterator[LoadedPage]:
    """Every frame of a TIFF as a page (or an error page), at most ``limits.max_pages`` of them."""
    try:
        im = open_header(fp, "tiff")
    except PageError as error:
        yield error_page(source, 0, str(error))
        return
    index = 0
    while True:
        if index >= limits.max_pages:
            total = count_tiff_frames(im, index, _TIFF_COUNT_CAP)
            if total > index:
                more = f"{total}" if total < _TIFF_COUNT_CAP else f"at least {total}"
                yield error_page(source, index, f"pages {index + 1}-{total} of {more} skipped: the file has more "
                                                f"than the {limits.max_pages}-page limit")
            return
        try:
            if index and not _tiff_seek(im, index):
                return
        except PageError as error:
            yield error_page(source, index, str(error))
            return
        try:
            page = _tiff_frame(im, index, source, limits, color_to_gray)
        except PageError as error:
            page = error_page(source, index, str(error))
        except Exception as error:  # noqa: BLE001 - never stop the batch
            logger.exception("unexpected error reading %s page %d", source, index + 1)
            page = error_page(source, index, f"internal error reading page: {type(error).__name__}: {error}")
        yield page
        del page  # the consumer holds the page while it works on it; this generator must not
        index += 1
