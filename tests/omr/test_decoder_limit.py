"""OpenCV's own decoder refuses a decompression bomb: the limit set by ``omr`` is in force."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import cv2
import numpy as np

import omr
from sample_sheets.hostile import png_by_hand


def _png_header_bomb(width: int, height: int) -> bytes:
    return png_by_hand(width, height, zlib.compress(b"\x00" * (width + 1) * 4))  # a few rows only: the file stays tiny


def test_limit_is_set_and_not_empty():
    assert os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] == str(omr.MAX_IMAGE_PIXELS)


def _refused(data: np.ndarray) -> bool:
    # OpenCV 4 returns None, OpenCV 5 raises: either way nothing is allocated for the declared size.
    try:
        return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) is None
    except cv2.error as error:
        return "CV_IO_MAX_IMAGE_PIXELS" in str(error)


def test_opencv_refuses_an_image_over_the_limit():
    assert _refused(np.frombuffer(_png_header_bomb(20000, 20000), np.uint8))  # 400 Mpx declared
    _, ordinary = cv2.imencode(".png", np.zeros((2000, 2000), np.uint8))
    assert not _refused(ordinary)  # a real 4 Mpx image is fine


def test_limit_holds_in_a_fresh_process_that_imports_omr_first():
    code = ("import omr, cv2, numpy as np, sys\n"
            "data = np.frombuffer(sys.stdin.buffer.read(), np.uint8)\n"
            "try:\n    print(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) is None)\n"
            "except cv2.error as error:\n    print('CV_IO_MAX_IMAGE_PIXELS' in str(error))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    done = subprocess.run([sys.executable, "-c", code], input=_png_header_bomb(20000, 20000),
                          capture_output=True, env=env, timeout=60, check=True)
    assert done.stdout.strip() == b"True"
