"""Read scanned pages from files or bytes: every page comes back as a gray image or as a clear reason why not.

Supported inputs, recognised by their magic bytes (never by the file extension): JPEG, PNG, BMP, TIFF
(multi-page; 1-bit CCITT G3/G4, 8/16-bit, LZW/Deflate/PackBits, gray, palette or colour) and PDF (rasterised
by poppler through pdf2image).

Output is always a 2-D, C-contiguous ``uint8`` gray image with 255 = white (see :mod:`omr.load.gray` for how
colour, alpha and depth are converted); the EXIF orientation tag of JPEG and TIFF files is applied.

Nothing raises for bad input and nothing is skipped silently: a file or a page that cannot be read yields a
:class:`LoadedPage` whose ``image`` is ``None`` and whose ``error`` says why. Every page is checked before it
is decoded: its declared pixels against ``LoadLimits.max_pixels`` and what decoding it would hold, for its bit
depth and channels, against ``LoadLimits.max_decoded_bytes``. Pages are yielded one at a time; a multi-page
TIFF or PDF never holds more than the page being read.

Modules, one job each:

* :mod:`omr.load.limits` - :class:`LoadLimits`, :class:`LoadedPage` and the size checks;
* :mod:`omr.load.sniff` - formats by magic bytes, :func:`collect_inputs`;
* :mod:`omr.load.header` - headers read with Pillow without decoding (size, mode, dpi, orientation);
* :mod:`omr.load.gray` - depth, colour and alpha to 8-bit gray, band by band;
* :mod:`omr.load.raster` - JPEG, PNG, BMP; :mod:`omr.load.tiff` - TIFF frames; :mod:`omr.load.pdf` - PDF pages;
* :mod:`omr.load.pages` - the entry points :func:`iter_pages`, :func:`iter_array`, :func:`load_array`,
  :func:`count_pages`.
"""

from __future__ import annotations

from omr.load.limits import LoadedPage, LoadLimits
from omr.load.pages import count_pages, iter_array, iter_pages, load_array
from omr.load.sniff import SUPPORTED_FORMATS, collect_inputs, sniff_format

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
