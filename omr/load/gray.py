"""Decoded samples of any depth and layout to the loader's one output: a 2-D ``uint8`` gray image, 255 = white.

* colour → gray by luma (``cv2.cvtColor``, BT.601 weights) or, with ``color_to_gray="red"``, the red channel
  (a scanner's "dropout": red-printed bubbles vanish, blue or black pen stays dark);
* alpha is composited on white; 16-bit samples are scaled to 8 bits (``v / 257``, rounded); 1-bit becomes
  0/255; palette images are expanded first.

Conversion runs in bands of rows into one preallocated result, so the only full-size arrays are the decoder's
output and the gray result: no float or expanded-colour copy of a whole page is ever made.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from PIL import Image

from omr.load.limits import ColorToGray, PageError

__all__ = ["finish", "orient", "pillow_to_gray", "to_gray"]

#: Pixels converted at a time: the temporaries of one band (float32, expanded colour) stay a few MB.
_BAND_PIXELS = 1 << 20

#: How wide or signed integer samples (Pillow's 32-bit "I") become 8 bits, decided once for the whole page.
_IntRule = tuple[str, int, int]


def _band_rows(width: int) -> int:
    return max(1, _BAND_PIXELS // max(1, width))


def _full_scale(dtype: np.dtype) -> float:
    if dtype == np.bool_ or dtype.kind == "f":
        return 1.0
    return float(np.iinfo(dtype).max)


def _int_rule(lo: int, hi: int, dtype: np.dtype) -> _IntRule:
    """8- or 16-bit data stored in wide integers keeps its scale; anything else maps the type's full range."""
    if lo >= 0 and hi <= 255:
        return ("u8", 0, 0)
    if lo >= 0 and hi <= 65535:
        return ("u16", 0, 0)
    info = np.iinfo(dtype)
    return ("range", int(info.min), int(info.max))


def _to_u8(gray: np.ndarray, int_rule: _IntRule | None) -> np.ndarray:
    """Scale one band of single-channel samples to uint8 (full range to full range)."""
    if gray.dtype == np.uint8:
        return gray
    if gray.dtype == np.bool_:
        return gray.astype(np.uint8) * np.uint8(255)  # (Pillow stores True as 0xFF: never view() it)
    if gray.dtype == np.uint16:
        return cv2.convertScaleAbs(np.ascontiguousarray(gray), alpha=1 / 257)
    if gray.dtype.kind == "f":  # float samples are taken as 0..1
        return np.clip(np.rint(np.nan_to_num(gray.astype(np.float32)) * 255), 0, 255).astype(np.uint8)
    if gray.dtype.kind in "iu" and int_rule is not None:
        kind, lo, hi = int_rule
        if kind == "u8":
            return gray.astype(np.uint8)
        if kind == "u16":
            return cv2.convertScaleAbs(gray.astype(np.uint16), alpha=1 / 257)
        return np.clip((gray.astype(np.float64) - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    raise PageError(f"unsupported sample type {gray.dtype}")


def _composite_u8(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """8-bit gray over white by 8-bit alpha: ``255 - round(a * (255 - g) / 255)``.

    The same values as the float formula used for other depths, ``round((g * a + 255 - a) / 255 * 255)``: the
    quotient by 255 (odd) is never a tie, and rounding errors are far smaller than its distance from one.
    """
    covered = cv2.multiply(np.ascontiguousarray(alpha), 255 - np.ascontiguousarray(gray), scale=1 / 255)
    return 255 - covered


def _band_to_gray(band: np.ndarray, order: Literal["bgr", "rgb"], color_to_gray: str,
                  int_rule: _IntRule | None) -> np.ndarray:
    """Gray uint8 from one band of rows, 2-D or with 2 (gray + alpha), 3 or 4 (colour + alpha) channels."""
    if band.dtype.byteorder not in ("=", "|"):
        band = band.astype(band.dtype.newbyteorder("="))
    alpha = None
    if band.ndim == 2:
        gray = band
    else:
        channels = band.shape[2]
        if channels in (2, 4):
            alpha = band[:, :, -1]
        if channels == 2:
            gray = band[:, :, 0]
        elif color_to_gray == "red":
            gray = band[:, :, 2 if order == "bgr" else 0]
        else:
            if band.dtype not in (np.uint8, np.uint16, np.float32):
                raise PageError(f"unsupported colour sample type {band.dtype}")
            codes = {(3, "bgr"): cv2.COLOR_BGR2GRAY, (3, "rgb"): cv2.COLOR_RGB2GRAY,
                     (4, "bgr"): cv2.COLOR_BGRA2GRAY, (4, "rgb"): cv2.COLOR_RGBA2GRAY}  # the same luma weights
            gray = cv2.cvtColor(np.ascontiguousarray(band), codes[channels, order])
    if alpha is not None and (alpha.dtype == np.bool_ or alpha.min() < _full_scale(alpha.dtype)):
        if gray.dtype == np.uint8 and alpha.dtype == np.uint8:
            return _composite_u8(gray, alpha)
        a = alpha.astype(np.float32) / _full_scale(alpha.dtype)
        g = gray.astype(np.float32) / _full_scale(gray.dtype)
        return np.clip(np.rint((g * a + (1.0 - a)) * 255), 0, 255).astype(np.uint8)
    return _to_u8(gray, int_rule)


def to_gray(arr: np.ndarray, order: Literal["bgr", "rgb"], color_to_gray: ColorToGray | str) -> np.ndarray:
    """Gray uint8 from a decoded 2-D or 3-D array (1, 2 = gray+alpha, 3 or 4 = colour+alpha channels).

    An 8-bit gray array comes back as it is (made C-contiguous); anything else is converted band by band.
    """
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2 and arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (2, 3, 4))):
        raise PageError(f"unsupported image layout {arr.shape}")
    int_rule = None
    if arr.dtype.kind in "iu" and arr.dtype not in (np.uint8, np.uint16):
        plane = arr if arr.ndim == 2 else arr[:, :, 0]
        int_rule = _int_rule(int(plane.min(initial=0)), int(plane.max(initial=0)), arr.dtype)
    height, width = arr.shape[:2]
    out = np.empty((height, width), np.uint8)
    rows = _band_rows(width)
    for top in range(0, height, rows):
        out[top:top + rows] = _band_to_gray(arr[top:top + rows], order, color_to_gray, int_rule)
    return out


def _pillow_target_mode(im: Image.Image) -> str | None:
    """The mode a band of ``im`` is converted to before it becomes an array, or None to take it as it is."""
    mode = im.mode
    if mode in ("P", "PA"):
        return "RGBA" if mode == "PA" or "transparency" in im.info else "RGB"
    if mode == "RGB" and "transparency" in im.info:  # a PNG's tRNS colour is paper (a gray tRNS is ignored)
        return "RGBA"
    if mode in ("1", "L", "I", "F", "LA", "RGB", "RGBA") or mode.startswith("I;16"):
        return None
    if mode == "La":
        return "LA"
    if mode == "RGBa":
        return "RGBA"
    return "RGB"  # CMYK, YCbCr, LAB, HSV, RGBX, ...


def pillow_to_gray(im: Image.Image, color_to_gray: ColorToGray | str) -> np.ndarray:
    """Gray uint8 array from a loaded Pillow image of any mode, converted band by band.

    Only the band being converted is ever expanded (palette to colour, colour to an array), so the page costs
    the decoded Pillow image plus the gray result.
    """
    target = _pillow_target_mode(im)
    int_rule = None
    if im.mode == "I" or (im.mode.startswith("I;16") and im.mode.endswith("S")):  # signed or 32-bit integers
        lo, hi = im.getextrema()
        int_rule = _int_rule(int(lo), int(hi), np.dtype(np.int32 if im.mode == "I" else np.int16))
    width, height = im.size
    out = np.empty((height, width), np.uint8)
    rows = _band_rows(width)
    for top in range(0, height, rows):
        band = im.crop((0, top, width, min(height, top + rows)))
        if target is not None:
            band = band.convert(target)
        out[top:top + rows] = _band_to_gray(np.asarray(band), "rgb", color_to_gray, int_rule)
    return out


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
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


def finish(arr: np.ndarray, orientation: int) -> np.ndarray:
    """The page as returned: upright and C-contiguous."""
    return np.ascontiguousarray(orient(arr, orientation) if orientation in range(2, 9) else arr)
