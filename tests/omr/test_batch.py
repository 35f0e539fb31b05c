"""omr.batch end to end on real files: every input format reads right, multi-page sheets assemble, hostile files
never stop a batch, duplicate ids are flagged, and several processes give the same results as one.

Every fixture is simulated (``sample_sheets.simulate``) or built by hand in tmp_path; readings are checked
against the simulator's ground truth (``wrong_sure == 0``: nothing read wrong while reported as sure).
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from omr.batch import BatchSummary, ScanOptions, scan_batch, timed_scan
from sample_sheets import resolve_template
from sample_sheets.evaluate import Accuracy, compare_page, evaluate_batch
from sample_sheets.simulate import write_batch

# ----------------------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def a4():
    return resolve_template("cn-a4-55")


@pytest.fixture(scope="module")
def a3():
    return resolve_template("cn-a3-100")


def _truths(batch_dir: Path) -> dict[tuple[str, int], dict]:
    """(file name, page index in the file) -> the simulator's truth of that page."""
    manifest = json.loads((batch_dir / "manifest.json").read_text(encoding="utf-8"))
    return {(e["file"], e["frame"] or 0): json.loads((batch_dir / e["truth"]).read_text(encoding="utf-8"))
            for e in manifest["pages"]}


def _assert_read_right(pages, truths: dict[tuple[str, int], dict], template, *, ids: bool = True) -> Accuracy:
    """Every page read (no error), nothing wrong but sure, and (``ids``) every page-1 student id exact."""
    accuracy = Accuracy()
    for page in pages:
        truth = truths[(Path(page.source).name, page.page_index)]
        assert page.status != "error", (page.source, page.page_index, page.reasons)
        assert page.page == truth["page"], (page.source, page.page_index)
        if ids and truth["page"] == 1:
            assert page.student_id == truth["student_id"], (page.source, page.reasons)
        accuracy += compare_page(page, truth, template)
    assert accuracy.pages == accuracy.pages_read == len(truths) == len(pages)
    assert accuracy.wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.ids_wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.correct_sure >= 0.9 * accuracy.groups > 0, accuracy.line()  # the marks were really read
    return accuracy


def _sheet_pages(sheet) -> list[tuple[str, int, int]]:
    return [(Path(p["source"]).name, p["page_index"], p["page"]) for p in sheet.pages]


def _read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _read_jsonl(path: Path) -> list[dict]:
    def refuse(token: str):
        raise ValueError(f"non-standard JSON constant {token}")

    with open(path, encoding="utf-8") as handle:
        return [json.loads(line, parse_constant=refuse) for line in handle if line.strip()]


def _write_tiff(path: Path, images: list[np.ndarray]) -> None:
    first, *rest = [Image.fromarray(image) for image in images]
    first.save(path, format="TIFF", save_all=True, append_images=rest, compression="tiff_adobe_deflate")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG header declaring width x height 8-bit gray pixels, with a tiny (much too short) IDAT."""
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def a4_clean(tmp_path_factory, a4) -> tuple[Path, dict]:
    """Two clean cn-a4-55 sheets as JPEG files (150 dpi)."""
    folder = tmp_path_factory.mktemp("a4_clean")
    return folder, write_batch(a4, folder, count=2, seed=8, profile="clean", fmt="jpg", dpi=150)


# ----------------------------------------------------------------------------------------------------------
# Every input format reads right


@pytest.mark.parametrize("fmt, profile, dpi, overrides, seed", [
    ("jpg", "typical", None, None, 31),
    ("png", "clean", 150, None, 32),
    # a multi-page TIFF mixing gray (deflate), dithered and thresholded 1-bit (Group 4) pages
    ("tif", "clean", 200, {"binarize": {"none": 1, "dither": 1, "threshold": 1}}, 9),
    ("pdf", "typical", None, None, 34),
], ids=["jpeg", "png", "tiff-with-1-bit", "pdf"])
def test_simulated_formats_read_right(tmp_path, a4, fmt, profile, dpi, overrides, seed):
    manifest = write_batch(a4, tmp_path, count=3, seed=seed, profile=profile, fmt=fmt, dpi=dpi,
                           overrides=overrides)
    files = [tmp_path / f["file"] for f in manifest["files"]]
    assert len(files) == (3 if fmt in ("jpg", "png") else 1)
    truths = _truths(tmp_path)
    if fmt == "tif":  # the batch really holds 1-bit pages of both kinds beside gray ones
        assert {t["scanner"]["binarize"] for t in truths.values()} == {"none", "dither", "threshold"}
        with Image.open(files[0]) as tiff:
            modes = []
            for i in range(tiff.n_frames):
                tiff.seek(i)
                modes.append(tiff.mode)
        assert sorted(modes) == ["1", "1", "L"]
    pages, rejected = scan_batch(files, a4, workers=1)
    assert rejected == []
    assert [(Path(p.source).name, p.page_index) for p in pages] == sorted(truths)  # file order, page order
    _assert_read_right(pages, truths, a4, ids=profile == "clean")
    accuracy = evaluate_batch(pages, tmp_path, a4)  # the project's own evaluator agrees
    assert accuracy.pages_read == 3 and accuracy.wrong_sure == 0


@pytest.fixture(scope="module")
def one_page(tmp_path_factory, a4) -> tuple[np.ndarray, dict]:
    """One clean, upright simulated page (lossless gray) and its truth."""
    folder = tmp_path_factory.mktemp("one_page")
    manifest = write_batch(a4, folder, count=1, seed=11, profile="clean", fmt="png", dpi=150)
    entry = manifest["pages"][0]
    gray = cv2.imread(str(folder / entry["file"]), cv2.IMREAD_GRAYSCALE)
    truth = json.loads((folder / entry["truth"]).read_text(encoding="utf-8"))
    assert gray is not None and not truth["scanner"]["upside_down"]
    return gray, truth


def _save_with_orientation(path: Path, stored: np.ndarray, orientation: int | None) -> None:
    image = Image.fromarray(np.ascontiguousarray(stored))
    if orientation is None:
        image.save(path, "JPEG", quality=95)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(path, "JPEG", quality=95, exif=exif)


def test_converted_formats_read_right(tmp_path, a4, one_page):
    """BMP, colour JPEG, 16-bit PNG and EXIF-rotated JPEGs of one page all read as the page itself."""
    gray, truth = one_page
    folder = tmp_path / "scans"
    folder.mkdir()
    assert cv2.imwrite(str(folder / "page.bmp"), gray)
    tint = np.array([0.96, 0.99, 1.0], np.float32)  # slightly warm paper (BGR)
    colour = np.clip(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR).astype(np.float32) * tint, 0, 255).astype(np.uint8)
    assert cv2.imwrite(str(folder / "colour.jpg"), colour, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert cv2.imwrite(str(folder / "deep.png"), gray.astype(np.uint16) * 257)
    # The displayed image is upright; the stored pixels are turned the other way.
    _save_with_orientation(folder / "exif3.jpg", gray[::-1, ::-1], 3)
    _save_with_orientation(folder / "exif6.jpg", np.rot90(gray, 1), 6)  # shown turned 90° clockwise
    _save_with_orientation(folder / "exif8.jpg", np.rot90(gray, -1), 8)  # shown turned 90° counter-clockwise

    # The files really are what they claim.
    assert (folder / "page.bmp").read_bytes()[:2] == b"BM"
    decoded = cv2.imread(str(folder / "colour.jpg"), cv2.IMREAD_UNCHANGED)
    assert decoded.ndim == 3 and np.abs(decoded[..., 0].astype(int) - decoded[..., 2]).mean() > 3
    assert cv2.imread(str(folder / "deep.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    with Image.open(folder / "exif3.jpg") as image:
        assert image.getexif().get(0x0112) == 3 and image.size == (gray.shape[1], gray.shape[0])

    pages, rejected = scan_batch([folder], a4, workers=1)
    assert rejected == []
    names = ["colour.jpg", "deep.png", "exif3.jpg", "exif6.jpg", "exif8.jpg", "page.bmp"]
    assert [Path(p.source).name for p in pages] == names
    _assert_read_right(pages, {(name, 0): truth for name in names}, a4)
    # The loader turned every page upright: OMR saw no rotation (it would read 180 / 90 / 270 otherwise).
    assert {Path(p.source).name: p.orientation for p in pages} == dict.fromkeys(names, 0)


def test_control_rotated_jpeg_without_exif_is_seen_rotated(tmp_path, a4, one_page):
    """The same turned pixels without the tag: OMR reports the 180° it had to turn (so the EXIF check can fail)."""
    gray, truth = one_page
    _save_with_orientation(tmp_path / "turned.jpg", gray[::-1, ::-1], None)
    pages, _ = scan_batch([tmp_path / "turned.jpg"], a4, workers=1)
    assert pages[0].orientation == 180
    _assert_read_right(pages, {("turned.jpg", 0): truth}, a4)


# ----------------------------------------------------------------------------------------------------------
# Multi-page sheets


@pytest.fixture(scope="module")
def a3_batch(tmp_path_factory, a3) -> tuple[Path, dict, Path, dict]:
    """Three clean cn-a3-100 sheets (2 pages each): as one PDF, and the same pages as PNG files."""
    pdf_dir = tmp_path_factory.mktemp("a3_pdf")
    png_dir = tmp_path_factory.mktemp("a3_png")
    pdf = write_batch(a3, pdf_dir, count=3, seed=5, profile="clean", fmt="pdf", dpi=150)
    png = write_batch(a3, png_dir, count=3, seed=5, profile="clean", fmt="png", dpi=150)
    assert [(e["sheet"], e["page"]) for e in png["pages"]] == [(s, p) for s in range(3) for p in (1, 2)]
    return pdf_dir, pdf, png_dir, png


def test_multi_page_pdf_assembles_three_two_page_sheets(tmp_path, a3, a3_batch):
    pdf_dir, manifest, _, _ = a3_batch
    assert manifest["files"] == [{"file": "batch.pdf", "pages": 6}]
    summary, sheets, pages = timed_scan([pdf_dir / "batch.pdf"], a3, tmp_path / "out", workers=1)
    _assert_read_right(pages, _truths(pdf_dir), a3)
    ids = [e["student_id"] for e in manifest["pages"] if e["page"] == 1]
    assert len(set(ids)) == 3
    assert [s.student_id for s in sheets] == ids
    assert [s.status for s in sheets] == ["ok"] * 3, [s.reasons for s in sheets]
    assert [_sheet_pages(s) for s in sheets] == [[("batch.pdf", 2 * i, 1), ("batch.pdf", 2 * i + 1, 2)]
                                                 for i in range(3)]
    assert all(len(s.questions) == 100 for s in sheets)  # Q1-Q60 from page 1, Q61-Q100 from page 2
    truth_answers = [json.loads((pdf_dir / e["truth"]).read_text(encoding="utf-8"))["answers"]
                     for e in manifest["pages"]]
    for i, sheet in enumerate(sheets):
        expected = {**truth_answers[2 * i], **truth_answers[2 * i + 1]}
        assert {q: r.marked for q, r in sheet.questions.items()} == expected
    assert (summary.pages, summary.sheets, summary.ok, summary.flagged, summary.unreadable, summary.skipped) == \
        (6, 3, 3, 0, 0, 0)
    rows = _read_csv(tmp_path / "out" / "results.csv")
    assert [r["student_id"] for r in rows] == ids
    assert rows[0]["pages"] == "batch.pdf#1 batch.pdf#2"


def _a3_images(png_dir: Path, manifest: dict) -> dict[tuple[int, int], np.ndarray]:
    return {(e["sheet"], e["page"]): cv2.imread(str(png_dir / e["file"]), cv2.IMREAD_GRAYSCALE)
            for e in manifest["pages"]}


def _assert_nothing_dropped(pages, sheets, unreadable_count: int) -> None:
    in_sheets = [(p["source"], p["page_index"]) for s in sheets for p in s.pages]
    assert len(in_sheets) == len(set(in_sheets))
    assert len(pages) == len(in_sheets) + unreadable_count
    assert sorted(in_sheets) == sorted((p.source, p.page_index) for p in pages if p.status != "error")


def test_missing_page_two_is_flagged(tmp_path, a3, a3_batch):
    _, _, png_dir, manifest = a3_batch
    images = _a3_images(png_dir, manifest)
    order = [(0, 1), (0, 2), (1, 1), (2, 1), (2, 2)]  # sheet 2 lost its page 2
    _write_tiff(tmp_path / "scan.tif", [images[k] for k in order])
    summary, sheets, pages = timed_scan([tmp_path / "scan.tif"], a3, tmp_path / "out", workers=1)
    ids = [e["student_id"] for e in manifest["pages"] if e["page"] == 1]
    assert [s.student_id for s in sheets] == ids
    assert [[p for _, _, p in _sheet_pages(s)] for s in sheets] == [[1, 2], [1], [1, 2]]
    assert [s.status for s in sheets] == ["ok", "flagged", "ok"]
    assert sheets[1].reasons == ["missing page(s) 2"]
    _assert_nothing_dropped(pages, sheets, summary.unreadable)
    assert (summary.pages, summary.sheets, summary.ok, summary.flagged) == (5, 3, 2, 1)
    exceptions = _read_csv(tmp_path / "out" / "exceptions.csv")
    assert [(r["答题卡"], r["考号"], r["页"], r["原文"], r["原因"]) for r in exceptions] == \
        [("2", ids[1], "3", "missing page(s) 2", "缺页：第 2 页")]


def test_card_fed_back_to_front_assembles_into_one_sheet(tmp_path, a3, a3_batch):
    _, _, png_dir, manifest = a3_batch
    images = _a3_images(png_dir, manifest)
    order = [(0, 2), (0, 1), (1, 1), (1, 2), (2, 1), (2, 2)]  # sheet 1 fed back to front
    _write_tiff(tmp_path / "scan.tif", [images[k] for k in order])
    summary, sheets, pages = timed_scan([tmp_path / "scan.tif"], a3, tmp_path / "out", workers=1)
    ids = [e["student_id"] for e in manifest["pages"] if e["page"] == 1]
    assert [_sheet_pages(s) for s in sheets] == [
        [("scan.tif", 1, 1), ("scan.tif", 0, 2)], [("scan.tif", 2, 1), ("scan.tif", 3, 2)],
        [("scan.tif", 4, 1), ("scan.tif", 5, 2)]]
    assert [s.status for s in sheets] == ["ok", "ok", "ok"], [s.reasons for s in sheets]
    assert [s.student_id for s in sheets] == ids
    assert all(len(s.questions) == 100 for s in sheets)
    _assert_nothing_dropped(pages, sheets, summary.unreadable)
    assert (summary.pages, summary.sheets, summary.ok, summary.flagged, summary.unreadable) == (6, 3, 3, 0, 0)


def test_page_two_in_an_earlier_file_assembles(tmp_path, a3, a3_batch):
    """One file per page, named so that every card's back sorts before its front."""
    _, _, png_dir, manifest = a3_batch
    scans = tmp_path / "scans"
    scans.mkdir()
    for entry in manifest["pages"]:
        side = "a-back" if entry["page"] == 2 else "b-front"
        shutil.copy(png_dir / entry["file"], scans / f"card{entry['sheet']}-{side}.png")
    summary, sheets, pages = timed_scan([scans], a3, tmp_path / "out", workers=1)
    ids = [e["student_id"] for e in manifest["pages"] if e["page"] == 1]
    assert [[(name, page) for name, _, page in _sheet_pages(s)] for s in sheets] == [
        [(f"card{i}-b-front.png", 1), (f"card{i}-a-back.png", 2)] for i in range(3)]
    assert [s.student_id for s in sheets] == ids
    assert (summary.sheets, summary.ok, summary.flagged) == (3, 3, 0)
    rows = _read_csv(tmp_path / "out" / "results.csv")
    assert [r["pages"] for r in rows] == [f"card{i}-b-front.png#1 card{i}-a-back.png#1" for i in range(3)]


def test_any_shuffle_drops_nothing(tmp_path, a3, a3_batch):
    _, _, png_dir, manifest = a3_batch
    images = _a3_images(png_dir, manifest)
    keys = sorted(images)
    order = [keys[i] for i in np.random.default_rng(3).permutation(len(keys))]
    order.insert(0, order.pop(next(i for i, k in enumerate(order) if k[1] == 2)))  # a page 2 first
    _write_tiff(tmp_path / "scan.tif", [images[k] for k in order])
    summary, sheets, pages = timed_scan([tmp_path / "scan.tif"], a3, tmp_path / "out", workers=1)
    _assert_nothing_dropped(pages, sheets, summary.unreadable)
    assert summary.pages == 6 and summary.unreadable == 0
    for sheet in sheets:
        numbers = [p for _, _, p in _sheet_pages(sheet)]
        assert numbers == sorted(set(numbers))
        assert (sheet.status == "ok") == (numbers == [1, 2] and not sheet.reasons)
    assert summary.ok + summary.flagged == summary.sheets == len(sheets)
    page_lines = [d for d in _read_jsonl(tmp_path / "out" / "results.jsonl") if d["type"] == "page"]
    assert len(page_lines) == 6


# ----------------------------------------------------------------------------------------------------------
# Hostile and bad files mixed with good scans


def test_hostile_files_do_not_stop_the_batch(tmp_path, a4, a3, a4_clean, a3_batch):
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    batch_dir, manifest = a4_clean
    _, _, a3_dir, a3_manifest = a3_batch
    scans = tmp_path / "scans"
    scans.mkdir()
    for entry in manifest["pages"]:
        shutil.copy(batch_dir / entry["file"], scans / entry["file"])
    good_jpeg = (batch_dir / manifest["pages"][0]["file"]).read_bytes()
    (scans / "empty.jpg").write_bytes(b"")
    (scans / "random.png").write_bytes(b"\x00garbage" + np.random.default_rng(1).bytes(4000))
    (scans / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (scans / "bomb.png").write_bytes(_png_bomb(60000, 60000))
    (scans / "notes.tif").write_text("scanner log: 12 pages, all fine\n", encoding="utf-8")
    huge = canvas.Canvas(str(scans / "huge.pdf"), pagesize=(3000 * mm, 3000 * mm))
    huge.drawString(100, 100, "a page three metres wide")
    huge.showPage()
    huge.save()
    shutil.copy(a3_dir / a3_manifest["pages"][0]["file"], scans / "other-template.png")
    assert cv2.imwrite(str(scans / "white.png"), np.full((1754, 1240), 255, np.uint8))

    out = tmp_path / "out"
    summary, sheets, pages = timed_scan([scans], a4, out, workers=1, other_templates=[a3])

    # Good pages read right.
    good = [p for p in pages if Path(p.source).name.startswith("batch-")]
    _assert_read_right(good, _truths(batch_dir), a4)
    assert [s.student_id for s in sheets] == [e["student_id"] for e in manifest["pages"]]
    assert all(s.status == "ok" for s in sheets)

    # Every bad file is reported, with a recognisable reason.
    expected = {
        "empty.jpg": r"empty file \(0 bytes\)",
        "random.png": r"not an image or PDF",
        "notes.tif": r"not an image or PDF \(starts with b'scanner log",
        "truncated.jpg": r"truncated JPEG",
        "bomb.png": r"60000x60000 px exceeds the .* limit",
        "huge.pdf": r"3000x3000 mm, larger than the 1000 mm limit",
        "other-template.png": r"^page of another template cn-a3-100 \(code 202, page 1\): 其他答题卡模板的页面",
        "white.png": r"blank page",
    }
    rows = _read_csv(out / "exceptions.csv")
    reasons = {Path(r["来源"]).name: r["原文"] for r in rows}
    assert set(reasons) == set(expected), rows  # nothing else (the good sheets are ok)
    for name, pattern in expected.items():
        assert re.search(pattern, reasons[name]), (name, reasons[name])
    skipped = {"empty.jpg", "random.png", "notes.tif"}  # refused before reading: no page
    assert {Path(r["来源"]).name for r in rows if r["页"] == ""} == skipped
    assert all(r["页"] == "1" for r in rows if Path(r["来源"]).name not in skipped)

    # results.jsonl: one page line per page loaded (good or not), then one line per sheet.
    lines = _read_jsonl(out / "results.jsonl")
    page_lines = [d for d in lines if d["type"] == "page"]
    sheet_lines = [d for d in lines if d["type"] == "sheet"]
    assert {d["type"] for d in lines} == {"page", "sheet"}
    loaded = {"batch-0001-p1.jpg", "batch-0002-p1.jpg", "truncated.jpg", "bomb.png", "huge.pdf",
              "other-template.png", "white.png"}
    assert sorted(Path(d["source"]).name for d in page_lines) == sorted(loaded)
    assert [(d["source"], d["page_index"]) for d in page_lines] == [(p.source, p.page_index) for p in pages]
    assert len(sheet_lines) == 2 == len(sheets)
    assert all(d["status"] == "error" and d["reasons"] for d in page_lines
               if not Path(d["source"]).name.startswith("batch-"))

    # The summary adds up.
    assert isinstance(summary, BatchSummary)
    assert (summary.pages, summary.sheets, summary.ok, summary.flagged, summary.unreadable, summary.skipped) == \
        (7, 2, 2, 0, 5, 3)
    assert summary.pages == len(page_lines) == sum(len(s.pages) for s in sheets) + summary.unreadable
    assert summary.ok + summary.flagged == summary.sheets
    assert math.isfinite(summary.pages_per_second) and summary.pages_per_second > 0
    assert summary.line().startswith("pages 7, sheets 2, ok 2, flagged 0, unreadable pages 5, skipped files 3, ")


# ----------------------------------------------------------------------------------------------------------
# Duplicate student ids


def test_same_sheet_twice_flags_both_as_duplicates(tmp_path, a4, a4_clean):
    batch_dir, manifest = a4_clean
    first, second = (batch_dir / e["file"] for e in manifest["pages"])
    shutil.copy(first, tmp_path / "rescan.jpg")  # the same sheet scanned again, later in the batch
    summary, sheets, _ = timed_scan([first, second, tmp_path / "rescan.jpg"], a4, tmp_path / "out", workers=1)
    dup = manifest["pages"][0]["student_id"]
    assert [s.student_id for s in sheets] == [dup, manifest["pages"][1]["student_id"], dup]
    assert [s.status for s in sheets] == ["flagged", "ok", "flagged"]
    assert sheets[0].reasons == sheets[2].reasons == [f"duplicate student id {dup}"]
    assert (summary.sheets, summary.ok, summary.flagged) == (3, 1, 2)
    exceptions = _read_csv(tmp_path / "out" / "exceptions.csv")
    assert [(r["答题卡"], r["考号"], r["原文"], r["原因"]) for r in exceptions] == \
        [("1", dup, f"duplicate student id {dup}", f"考号 {dup} 重复"), ("3", dup, f"duplicate student id {dup}",
                                                                      f"考号 {dup} 重复")]


def test_formula_like_file_names_are_quoted_in_the_csvs(tmp_path, a4, a4_clean, monkeypatch):
    """``yuejuan scan '=HYPERLINK("x").jpg'``: the name is the station's text, never a formula in our CSVs."""
    batch_dir, manifest = a4_clean
    first = batch_dir / manifest["pages"][0]["file"]
    for name in ('=HYPERLINK("x").jpg', "@again.jpg"):  # the same sheet twice: both flagged, both in exceptions
        shutil.copy(first, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    summary, sheets, _ = timed_scan(['=HYPERLINK("x").jpg', "@again.jpg"], a4, "out", workers=1)
    assert [s.status for s in sheets] == ["flagged", "flagged"]
    assert [r["pages"] for r in _read_csv(tmp_path / "out" / "results.csv")] == \
        ["'=HYPERLINK(\"x\").jpg#1", "'@again.jpg#1"]
    assert [r["来源"] for r in _read_csv(tmp_path / "out" / "exceptions.csv")] == \
        ["'=HYPERLINK(\"x\").jpg", "'@again.jpg"]


# ----------------------------------------------------------------------------------------------------------
# Several processes


def _sheet_key(sheet) -> tuple:
    return (sheet.student_id, sheet.status, tuple(sheet.reasons), tuple(_sheet_pages(sheet)), sheet.absent,
            tuple(sorted((q, r.marked, r.status) for q, r in sheet.questions.items())),
            tuple(sorted((q, r.value, r.status) for q, r in sheet.scores.items())))


def test_two_workers_give_the_same_results_as_one(tmp_path, a4):
    manifest = write_batch(a4, tmp_path / "scans", count=6, seed=12, profile="typical", fmt="jpg")
    files = [tmp_path / "scans" / e["file"] for e in manifest["pages"]]
    seen: list[int] = []
    one = timed_scan(files, a4, tmp_path / "one", workers=1)
    two = timed_scan(files, a4, tmp_path / "two", workers=2, progress=seen.append)
    (s1, sheets1, pages1), (s2, sheets2, pages2) = one, two
    assert len(sheets1) == 6
    assert [_sheet_key(s) for s in sheets2] == [_sheet_key(s) for s in sheets1]
    assert [(p.source, p.page_index, p.status, p.reasons, p.student_id) for p in pages2] == \
        [(p.source, p.page_index, p.status, p.reasons, p.student_id) for p in pages1]
    assert (s2.pages, s2.sheets, s2.ok, s2.flagged, s2.unreadable) == (s1.pages, s1.sheets, s1.ok, s1.flagged,
                                                                       s1.unreadable)
    assert seen == [1] * 6  # progress: one call per file, one page each
    assert (tmp_path / "two" / "results.csv").read_bytes() == (tmp_path / "one" / "results.csv").read_bytes()
    _assert_read_right(pages2, _truths(tmp_path / "scans"), a4, ids=False)


# ----------------------------------------------------------------------------------------------------------
# Overlays and crops


def test_overlays_and_crops_of_same_named_files_do_not_collide(tmp_path, a4, a4_clean):
    """a/scan.jpg and b/scan.jpg (and scan.png beside scan.jpg) each keep their own overlay and crops."""
    batch_dir, manifest = a4_clean
    for folder, entry in zip(("a", "b"), manifest["pages"]):
        (tmp_path / "scans" / folder).mkdir(parents=True)
        shutil.copy(batch_dir / entry["file"], tmp_path / "scans" / folder / "scan.jpg")
    plain = cv2.imread(str(batch_dir / manifest["pages"][0]["file"]), cv2.IMREAD_GRAYSCALE)
    assert cv2.imwrite(str(tmp_path / "scans" / "a" / "scan.png"), plain)
    options = ScanOptions(overlays_dir=str(tmp_path / "overlays"), crops_dir=str(tmp_path / "crops"))
    pages, _ = scan_batch([tmp_path / "scans"], a4, workers=1, options=options)
    assert [Path(p.source).relative_to(tmp_path / "scans").as_posix() for p in pages] == \
        ["a/scan.jpg", "a/scan.png", "b/scan.jpg"]
    assert [p.status for p in pages] == ["ok"] * 3
    assert len({p.overlay for p in pages}) == 3
    assert sorted(str(p) for p in (tmp_path / "overlays").glob("*.png")) == sorted(p.overlay for p in pages)
    assert all(Path(p.overlay).name.startswith("scan") for p in pages)
    regions = set(pages[0].crops)
    assert regions == {"name", "answer56", "answer57", "answer58"}
    assert len({p.crops[r] for p in pages for r in regions}) == 3 * len(regions)
    assert len(list((tmp_path / "crops").glob("*.png"))) == 3 * len(regions)
    # Each overlay is of its own page: b's shows the other student's id grid, a's two are the same sheet.
    a_jpg, a_png, b_jpg = (cv2.imread(p.overlay, cv2.IMREAD_GRAYSCALE) for p in pages)
    assert a_jpg.shape == a_png.shape == b_jpg.shape
    assert cv2.absdiff(a_jpg, b_jpg).mean() > cv2.absdiff(a_jpg, a_png).mean()


@pytest.mark.parametrize("name", ["batch-0001-p1.truth.json", "manifest.json", "results.jsonl", "results.csv",
                                  "exceptions.csv", "Thumbs.db", "desktop.ini", ".DS_Store", "._scan1.jpg"])
def test_known_side_files_in_a_folder_are_skipped_quietly(tmp_path, name):
    from omr.batch import is_side_file, scan_inputs

    (tmp_path / name).write_bytes(b"{}\n")
    (tmp_path / "notes.txt").write_bytes(b"not a scan\n")
    assert is_side_file(tmp_path / name)
    files, refused = scan_inputs([tmp_path])
    assert files == [] and refused == [(tmp_path / "notes.txt", refused[0][1])]
    # Named on its own, the same file is the person's request: it is refused with its reason, not hidden.
    assert [path for path, _ in scan_inputs([tmp_path / name])[1]] == [tmp_path / name]


@pytest.mark.parametrize("name", ["notes.txt", "results.xlsx", "truth.json", "scan.jpg.bak"])
def test_other_files_are_not_side_files(name):
    from omr.batch import is_side_file

    assert not is_side_file(name)
