"""The student label (考生条形码 / 准考证 sticker): its text, read from an upright crop of the barcode region.

Code 128, the usual sticker, is read by yuejuan's own decoder (:mod:`omr.code128`), which reads more of the
small, blurred labels of a page decoded at ~100 dpi than zxing-cpp does (``benchmarks/barcode_read.py``);
zxing-cpp is its second opinion when it finds no readable scanline at all. Code 39, PDF417, DataMatrix and QR,
which schools' stickers also come in, are read by zxing-cpp alone.

Either way a reading fails closed: the text is returned only when the symbol's own checks pass (checksums,
error correction) and everything read in the crop agrees; two different texts give ``None``, never a guess.
"""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from omr.code128 import region_readings

__all__ = ["SYMBOLOGIES", "read_label"]

_FORMATS = {
    "code128": zxingcpp.BarcodeFormat.Code128,
    "code39": zxingcpp.BarcodeFormat.Code39,
    "pdf417": zxingcpp.BarcodeFormat.PDF417,
    "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
    "qr": zxingcpp.BarcodeFormat.QRCode,
}
#: Symbologies a template's barcode field may name.
SYMBOLOGIES = tuple(_FORMATS)


def _zxing_text(crop: np.ndarray, symbology: str) -> str | None:
    gray = np.asarray(crop)
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    gray = np.ascontiguousarray(gray if gray.dtype == np.uint8 else np.clip(gray, 0, 255).astype(np.uint8))
    # Very sharp or 1-bit pixels can defeat zxing-cpp's edge finding (a crisp 300 dpi Code 39 read only smoothed):
    # when nothing reads, it gets the crop once more, smoothed as a scanner's optics would.
    for attempt in (lambda: gray, lambda: cv2.GaussianBlur(gray, (0, 0), 1.0)):
        found = zxingcpp.read_barcodes(attempt(), formats=[_FORMATS[symbology]])
        texts = {symbol.text for symbol in found if symbol.valid}
        if texts:
            return texts.pop() if len(texts) == 1 and texts != {""} else None
    return None


def read_label(crop: np.ndarray, symbology: str = "code128", confirms: str | None = None) -> str | None:
    """The text of the label in ``crop``, or None when there is none or it cannot be read for sure.

    Parameters
    ----------
    crop : numpy.ndarray
        Upright gray (or BGR) crop of the barcode region.
    symbology : str, optional
        One of :data:`SYMBOLOGIES`.
    confirms : str, optional
        The 考号 the grid reads, if any: one Code 128 scanline reading exactly it is enough (it never changes
        what is read).

    Returns
    -------
    str or None
        The decoded text; None when nothing reads or two readings disagree.
    """
    if symbology not in _FORMATS:
        raise ValueError(f"unknown barcode symbology {symbology!r}; expected one of {', '.join(SYMBOLOGIES)}")
    if symbology != "code128":
        return _zxing_text(crop, symbology)
    # Two checksum-valid scanlines that agree (or one that reads exactly the 考号 grid), none that disagree.
    votes = region_readings(crop, enough=2, confirms=confirms)
    if len(votes) == 1:
        return next(iter(votes))
    if votes:
        return None  # scanlines disagree: refuse rather than guess
    return _zxing_text(crop, symbology)
