"""omr.load.pages: the entry points on files and on bytes, their arguments and the file-size limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from load_fixtures import bad, good, jpeg_bytes, multipage_tiff, page_pattern, pdf_bytes, write
from omr.load import LoadLimits, count_pages, iter_array, iter_pages, load_array


def test_load_array_matches_iter_pages(tmp_path: Path) -> None:
    gray = page_pattern()
    inputs = {
        "j.jpg": jpeg_bytes(gray),
        "t.tif": multipage_tiff([(Image.fromarray(gray), "tiff_lzw", {}), (Image.fromarray(255 - gray), None, {})]),
        "d.pdf": pdf_bytes([(50, 50, [(5, 5, 10, 10)]), (50, 50, [])]),
    }
    limits = LoadLimits(pdf_dpi=72)
    for name, data in inputs.items():
        from_file = list(iter_pages(write(tmp_path / name, data), limits=limits))
        from_bytes = load_array(data, source=name, limits=limits)
        assert len(from_file) == len(from_bytes) >= 1
        lazy = iter_array(data, source=name, limits=limits)
        assert not isinstance(lazy, list) and [p.page_index for p in lazy] == [p.page_index for p in from_bytes]
        for a, b in zip(from_file, from_bytes):
            assert b.source == name and a.page_index == b.page_index and a.dpi == b.dpi
            assert np.array_equal(good(a), good(b))


def test_invalid_arguments_raise_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        iter_pages(tmp_path / "x.jpg", color_to_gray="green")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        iter_pages(tmp_path / "x.jpg", reduce_jpeg_to_min_px=0)
    with pytest.raises(ValueError):
        LoadLimits(max_pages=0)


def test_file_over_max_file_bytes_is_not_read(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    path = write(tmp_path / "big.jpg", jpeg_bytes(noise))
    limits = LoadLimits(max_file_bytes=1000)
    bad(list(iter_pages(path, limits=limits)), "exceeds the 1,000 bytes limit")
    bad(load_array(path.read_bytes(), limits=limits), "exceeds the 1,000 bytes limit")
    assert count_pages(path, limits) == 1

