"""OMR core: load scans, register them to a template, measure and decide every bubble.

OpenCV's decoder limit must be set before cv2 is first imported anywhere, so this package sets it on import.
A decompression bomb (a tiny file declaring a huge image) is then refused by the decoder itself.
"""

import os

#: Largest image (pixels) the decoders accept: an A3 page at 600 dpi is ~70 Mpx.
MAX_IMAGE_PIXELS = 120_000_000

if not os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS"):  # an empty value would mean "no limit"
    os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(MAX_IMAGE_PIXELS)
