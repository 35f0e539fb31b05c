"""omr.load.sniff: formats by magic bytes, the reasons for refused files, and collecting a batch's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from load_fixtures import bad, jpeg_bytes, only, page_pattern, pdf_bytes, pil_bytes, write
from omr.load import LoadLimits, collect_inputs, count_pages, iter_pages, load_array, sniff_format


def test_sniff_format_by_magic_bytes() -> None:
    assert sniff_format(jpeg_bytes(page_pattern())[:32]) == "jpeg"
    assert sniff_format(pil_bytes(Image.new("L", (4, 4)), "PNG")) == "png"
    assert sniff_format(pil_bytes(Image.new("L", (4, 4)), "BMP")) == "bmp"
    assert sniff_format(pil_bytes(Image.new("L", (4, 4)), "TIFF")) == "tiff"
    assert sniff_format(b"MM\x00*\x00\x00\x00\x08") == "tiff"
    assert sniff_format(b"%PDF-1.7\n") == "pdf"
    assert sniff_format(b"\r\n junk before the header %PDF-1.4\n") == "pdf"
    assert sniff_format(b"BM is the start of this text, not a bitmap") is None
    assert sniff_format(b"GIF89a....") is None
    assert sniff_format(b"") is None


def test_collect_inputs_mixed_folder(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    jpg = jpeg_bytes(page_pattern())
    write(folder / "scan10.jpg", jpg)
    write(folder / "scan2.jpg", jpg)
    write(folder / "scan1.dat", jpg)  # extension does not matter: the magic bytes do
    write(folder / "sub" / "a.pdf", pdf_bytes([(50, 50, [])]))
    write(folder / "sub" / "b.tif", pil_bytes(Image.fromarray(page_pattern()), "TIFF"))
    write(folder / "notes.jpg", b"plain text")
    write(folder / "empty.png", b"")
    write(folder / "zz.gif", pil_bytes(Image.new("L", (4, 4)), "GIF"))
    single = write(tmp_path / "single.png", pil_bytes(Image.fromarray(page_pattern()), "PNG"))

    accepted, rejected = collect_inputs([single, folder, tmp_path / "missing", folder / "scan2.jpg"])
    assert accepted == [single, folder / "scan1.dat", folder / "scan2.jpg", folder / "scan10.jpg",
                        folder / "sub" / "a.pdf", folder / "sub" / "b.tif"]
    reasons = {p.name: r for p, r in rejected}
    assert set(reasons) == {"notes.jpg", "empty.png", "zz.gif", "missing"}
    assert "not an image or PDF" in reasons["notes.jpg"]
    assert "empty" in reasons["empty.png"]
    assert "GIF" in reasons["zz.gif"]
    assert "no such file" in reasons["missing"]

    # The batch goes on: every accepted file yields pages, the bad ones only error pages.
    for path in accepted:
        pages = list(iter_pages(path, limits=LoadLimits(pdf_dpi=30)))
        assert len(pages) == count_pages(path) == 1 and pages[0].image is not None
    for path, _ in rejected:
        assert only(list(iter_pages(path))).image is None


def test_empty_random_and_renamed_text(tmp_path: Path) -> None:
    bad(list(iter_pages(write(tmp_path / "empty.jpg", b""))), "empty file")
    rnd = np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    bad(list(iter_pages(write(tmp_path / "random.png", b"\x00\x01" + rnd))),
        "not an image or PDF (starts with b'\\x00\\x01")
    bad(list(iter_pages(write(tmp_path / "notes.jpg", b"These are my notes, not a scan.\n"))),
        "not an image or PDF (starts with b'These are my")
    bad(list(iter_pages(write(tmp_path / "anim.gif", pil_bytes(Image.new("L", (8, 8)), "GIF")))),
        "unsupported format: GIF")
    bad(load_array(b""), "empty file")


def test_missing_path_and_folder(tmp_path: Path) -> None:
    page = bad(list(iter_pages(tmp_path / "nope.jpg")), "No such file")
    assert page.source == str(tmp_path / "nope.jpg")
    bad(list(iter_pages(tmp_path)), "folder")
    assert count_pages(tmp_path / "nope.jpg") == 1

