"""omr.load.gray: orientation and the band-by-band conversion of any depth, colour and alpha to 8-bit gray."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from omr.load.gray import orient


def test_orientation_table_matches_pillow() -> None:
    arr = np.random.default_rng(1).integers(0, 255, (5, 7), dtype=np.uint8)
    for orientation in range(1, 9):
        im = Image.fromarray(arr)
        im.getexif()[0x0112] = orientation
        assert np.array_equal(orient(arr, orientation), np.asarray(ImageOps.exif_transpose(im))), orientation

