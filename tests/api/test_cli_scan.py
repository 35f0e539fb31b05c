"""``yuejuan scan``: exit codes, the summary line, results.csv / results.jsonl / exceptions.csv, overlays, crops,
``--template`` as a bundled name or a JSON path, and bad templates (a message, no traceback).

The batch is four typical cn-a4-55 sheets (two student ids with a leading zero) plus a truncated JPEG and a
text file, simulated in a temporary folder.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.cli import main
from omr.template import expand_page
from sample_sheets import TEMPLATES_DIR, resolve_template
from sample_sheets.simulate import random_truth, write_batch

SUMMARY = re.compile(r"^pages (\d+), sheets (\d+), ok (\d+), flagged (\d+), unreadable pages (\d+), "
                     r"skipped files (\d+), (\d+\.\d) pages/s$")
LEADING_ZERO = [True, False, True, False]  # which of the four sheets get a student id starting with 0


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _seeds_for(template, leading_zero: list[bool]) -> list[int]:
    """Sheet seeds whose random student id starts with 0 (or not) as asked."""
    seeds, seed = [], 100
    for wanted in leading_zero:
        while True:
            seed += 1
            student_id = random_truth(template, np.random.default_rng([seed, 1])).student_id
            if student_id.startswith("0") == wanted:
                seeds.append(seed)
                break
    return seeds


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


def _read_jsonl(path: Path) -> list[dict]:
    def refuse(token: str):
        raise ValueError(f"non-standard JSON constant {token}")

    with open(path, encoding="utf-8") as handle:
        return [json.loads(line, parse_constant=refuse) for line in handle]


def _named_after(file_name: str, source_name: str, suffix: str) -> bool:
    """``<source stem>[-<tag>]_p1<suffix>.png``: the page's file, its page number, then the region (if any)."""
    stem = re.escape(Path(source_name).stem)
    return re.fullmatch(rf"{stem}(-[0-9a-z]+)?_p1{re.escape(suffix)}\.png", file_name) is not None


@pytest.fixture(scope="module")
def template():
    return resolve_template("cn-a4-55")


@pytest.fixture(scope="module")
def batch(tmp_path_factory, template) -> dict:
    """The scans folder, the simulator's truth per file, and one CLI run with --overlays and --crops."""
    root = tmp_path_factory.mktemp("cli_scan")
    seeds = _seeds_for(template, LEADING_ZERO)
    manifest = write_batch(template, root / "gen", count=4, seed=0, profile="typical", fmt="jpg",
                           per_sheet_seed=lambda _batch, i: seeds[i])
    scans = root / "scans"
    scans.mkdir()
    truths = {}
    for entry in manifest["pages"]:
        shutil.copy(root / "gen" / entry["file"], scans / entry["file"])
        truths[entry["file"]] = json.loads((root / "gen" / entry["truth"]).read_text(encoding="utf-8"))
    data = (scans / manifest["pages"][0]["file"]).read_bytes()
    (scans / "broken.jpg").write_bytes(data[: len(data) // 3])  # the scanner station died mid-upload
    (scans / "readme.txt").write_text("scanned 2026-03-02\n", encoding="utf-8")
    ids = [entry["student_id"] for entry in manifest["pages"]]
    assert [i.startswith("0") for i in ids] == LEADING_ZERO
    out = root / "out"
    code, stdout, stderr = _run(["scan", str(scans), "--template", "cn-a4-55", "--out", str(out), "--workers", "1",
                                 "--no-progress", "--overlays", "--crops"])
    return {"root": root, "scans": scans, "out": out, "truths": truths, "ids": ids,
            "files": [e["file"] for e in manifest["pages"]], "code": code, "stdout": stdout, "stderr": stderr}


# ----------------------------------------------------------------------------------------------------------
# One run, every output


def test_exit_code_and_summary_line(batch):
    assert batch["code"] == 0, batch["stderr"]
    assert batch["stderr"] == ""  # --no-progress: nothing on stderr, no warnings
    lines = batch["stdout"].splitlines()
    assert len(lines) == 1
    match = SUMMARY.match(lines[0])
    assert match, lines[0]
    pages, sheets, ok, flagged, unreadable, skipped = map(int, match.groups()[:6])
    assert (pages, sheets, unreadable, skipped) == (5, 4, 1, 1)
    assert ok + flagged == sheets
    assert float(match.group(7)) > 0
    _, rows = _read_csv(batch["out"] / "results.csv")
    assert ok == sum(r["status"] == "ok" for r in rows)


def test_results_csv(batch, template):
    path = batch["out"] / "results.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # utf-8-sig: Excel opens it as UTF-8
    header, rows = _read_csv(path)
    assert header == ["sheet", "student_id", "status", "absent", "reasons", "pages",
                      *[f"Q{n}" for n in range(1, 56)], "score_Q56", "score_Q57", "score_Q58", "barcode"]
    assert len(rows) == 4  # one row per sheet; the broken file and the text file have none
    assert [r["sheet"] for r in rows] == ["1", "2", "3", "4"]
    assert [r["student_id"] for r in rows] == batch["ids"]  # as text: leading zeros kept
    assert all(len(r["student_id"]) == 10 and r["student_id"].isdigit() for r in rows)
    assert [r["student_id"][0] == "0" for r in rows] == LEADING_ZERO
    assert [r["pages"] for r in rows] == [f"{name}#1" for name in batch["files"]]
    for row, name in zip(rows, batch["files"]):
        truth = batch["truths"][name]
        assert row["status"] in ("ok", "flagged")
        assert (row["status"] == "ok") == (row["reasons"] == "")
        assert row["absent"] == str(int(truth["absent"]))
        assert row["barcode"] in ("", truth["barcode"])  # the sticker's code as read (never another's)
        for q, expected in truth["answers"].items():
            cell = row[q]
            if row["status"] == "ok":
                assert cell == expected, (name, q, cell, expected)
            elif not cell.startswith("?") and not truth["groups"][q]["ambiguous"]:
                assert cell == expected, (name, q, cell, expected)
        for q in ("Q56", "Q57", "Q58"):
            cell, score = row[f"score_{q}"], truth["scores"].get(q)
            if row["status"] == "ok" or cell:
                assert cell == ("" if score is None else f"{score:g}"), (name, q, cell, score)


def test_results_jsonl(batch):
    lines = _read_jsonl(batch["out"] / "results.jsonl")
    assert [d["type"] for d in lines] == ["page"] * 5 + ["sheet"] * 4
    pages = [d for d in lines if d["type"] == "page"]
    assert [Path(d["source"]).name for d in pages] == sorted([*batch["files"], "broken.jpg"])
    broken = next(d for d in pages if d["source"].endswith("broken.jpg"))
    assert broken["status"] == "error" and broken["page"] is None
    assert re.match(r"truncated JPEG", broken["reasons"][0])
    good = {Path(d["source"]).name: d for d in pages if d is not broken}
    for name, truth in batch["truths"].items():
        assert good[name]["status"] in ("ok", "flagged") and good[name]["page"] == 1
        assert len(good[name]["questions"]) == 55
    sheets = [d for d in lines if d["type"] == "sheet"]
    assert [d["student_id"] for d in sheets] == batch["ids"]
    assert [d["sheet_index"] for d in sheets] == [0, 1, 2, 3]
    assert all(d["questions"]["Q1"].keys() >= {"marked", "status", "confidence"} for d in sheets)


def test_exceptions_csv(batch):
    header, rows = _read_csv(batch["out"] / "exceptions.csv")
    assert header == ["来源", "页", "答题卡", "考号", "原因", "原文"]
    by_file = {Path(r["来源"]).name: r for r in rows if r["答题卡"] == ""}
    assert set(by_file) == {"broken.jpg", "readme.txt"}
    assert by_file["broken.jpg"]["页"] == "1" and "truncated JPEG" in by_file["broken.jpg"]["原文"]
    assert by_file["readme.txt"]["页"] == "" and "not an image or PDF" in by_file["readme.txt"]["原文"]
    _, results = _read_csv(batch["out"] / "results.csv")
    for sheet in results:  # every flagged sheet is there with each of its reasons, none of the ok ones
        listed = [r["原文"] for r in rows if r["答题卡"] == sheet["sheet"]]
        assert "; ".join(listed) == sheet["reasons"]
        assert all(r["考号"] == sheet["student_id"] for r in rows if r["答题卡"] == sheet["sheet"])
        # the teacher's column: every reason of a flagged sheet in Chinese
        assert not [r["原因"] for r in rows if r["答题卡"] == sheet["sheet"] and re.search("[a-z]{4}", r["原因"])]


def test_overlays_one_coloured_png_per_page(batch):
    folder = batch["out"] / "overlays"
    pages = {Path(d["source"]).name: d for d in _read_jsonl(batch["out"] / "results.jsonl") if d["type"] == "page"}
    assert pages["broken.jpg"]["overlay"] is None
    # one per readable page (none for the broken file), named after the page's file and page number
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(pages[f]["overlay"]).name for f in batch["files"])
    for name in batch["files"]:
        path = Path(pages[name]["overlay"])
        assert path.parent == folder and _named_after(path.name, name, "")
        overlay = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        plain = cv2.imread(str(batch["scans"] / name), cv2.IMREAD_GRAYSCALE)
        assert overlay is not None and overlay.ndim == 3 and overlay.shape[2] == 3
        h, w = overlay.shape[:2]
        assert abs(h / w - plain.shape[0] / plain.shape[1]) < 0.01  # the page (possibly decoded reduced)
        spread = overlay.max(axis=2).astype(int) - overlay.min(axis=2)
        assert np.count_nonzero(spread > 60) > 500  # coloured rings and crosses
        green = (overlay[..., 1].astype(int) - overlay[..., 2] > 60) & (overlay[..., 1].astype(int) - overlay[..., 0] > 60)
        assert np.count_nonzero(green) > 200  # filled bubbles ringed green
        gray = cv2.cvtColor(overlay, cv2.COLOR_BGR2GRAY)
        same_size = cv2.resize(plain, (w, h), interpolation=cv2.INTER_AREA)
        assert np.count_nonzero(cv2.absdiff(gray, same_size) > 40) > 500


def test_crops_named_after_regions(batch, template):
    regions = [r.id for r in expand_page(template, 1).regions]
    assert {"name", "answer56"} <= set(regions)
    folder = batch["out"] / "crops"
    pages = {Path(d["source"]).name: d for d in _read_jsonl(batch["out"] / "results.jsonl") if d["type"] == "page"}
    assert pages["broken.jpg"]["crops"] == {}
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == len(set(written)) == 4 * len(regions)
    assert written == sorted(Path(pages[f]["crops"][r]).name for f in batch["files"] for r in regions)
    for name in batch["files"]:
        assert set(pages[name]["crops"]) == set(regions)
        for region in regions:
            path = Path(pages[name]["crops"][region])
            assert path.parent == folder and _named_after(path.name, name, f"_{region}")
            crop = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            assert crop is not None and crop.ndim == 2 and min(crop.shape) >= 20


# ----------------------------------------------------------------------------------------------------------
# --template


def test_template_as_json_path_gives_the_same_results(batch, tmp_path):
    path = tmp_path / "my sheet.json"
    shutil.copy(TEMPLATES_DIR / "cn-a4-55.json", path)
    code, stdout, stderr = _run(["scan", str(batch["scans"]), "--template", str(path), "--out",
                                 str(tmp_path / "out"), "--workers", "1", "--no-progress"])
    assert code == 0, stderr
    assert SUMMARY.match(stdout.strip()).groups()[:6] == SUMMARY.match(batch["stdout"].strip()).groups()[:6]
    assert (tmp_path / "out" / "results.csv").read_bytes() == (batch["out"] / "results.csv").read_bytes()
    assert not (tmp_path / "out" / "overlays").exists() and not (tmp_path / "out" / "crops").exists()


@pytest.mark.parametrize("content, message", [
    (None, "no template file"),
    ("{ not json", "not valid JSON"),
    ("[1, 2, 3]", "invalid template"),
    ('{"id": "x", "pages": "none"}', "template"),
], ids=["missing", "not-json", "not-an-object", "wrong-fields"])
def test_bad_template_exits_2_with_a_message(batch, tmp_path, content, message):
    path = tmp_path / "exam.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, stderr = _run(["scan", str(batch["scans"]), "--template", str(path), "--out", str(out),
                                 "--workers", "1", "--no-progress"])
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("yuejuan scan: error: ") and message in stderr, stderr
    assert "Traceback" not in stderr and len(stderr.splitlines()) <= 3
    assert not out.exists()  # nothing was scanned


def test_unknown_bundled_name_lists_the_bundled_templates(batch, tmp_path):
    code, _, stderr = _run(["scan", str(batch["scans"]), "--template", "cn-a4-56", "--out", str(tmp_path / "o"),
                            "--no-progress"])
    assert code == 2 and "cn-a4-55" in stderr and "cn-a3-100" in stderr and "Traceback" not in stderr


# ----------------------------------------------------------------------------------------------------------
# The installed command


def test_installed_command_in_a_subprocess(batch, tmp_path):
    command = Path(sys.executable).with_name("yuejuan")
    assert command.exists(), command
    out = tmp_path / "out"
    done = subprocess.run([str(command), "scan", str(batch["scans"]), "--template", "cn-a4-55", "--out", str(out),
                           "--workers", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert SUMMARY.match(done.stdout.strip()).groups()[:6] == SUMMARY.match(batch["stdout"].strip()).groups()[:6]
    assert (out / "results.csv").read_bytes() == (batch["out"] / "results.csv").read_bytes()
    bad = subprocess.run([str(command), "scan", str(batch["scans"]), "--template", str(tmp_path / "nope.json"),
                          "--out", str(tmp_path / "o2")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no template file" in bad.stderr and "Traceback" not in bad.stderr


# ----------------------------------------------------------------------------------------------------------
# Known bugs


@pytest.mark.parametrize("content", ["[]", '{"empty_max": "0.1"}'], ids=["list", "string-value"])
def test_bad_profile_exits_2_with_a_message(batch, tmp_path, content):
    path = tmp_path / "scanner.json"
    path.write_text(content, encoding="utf-8")
    code, _, stderr = _run(["scan", str(batch["scans"]), "--template", "cn-a4-55", "--profile", str(path),
                            "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"])
    assert code == 2 and stderr.startswith("yuejuan scan: error: ") and "Traceback" not in stderr


def test_bundled_name_is_not_shadowed_by_a_folder_of_that_name(batch, tmp_path, monkeypatch):
    shutil.copytree(batch["scans"], tmp_path / "cn-a4-55")
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = _run(["scan", "cn-a4-55", "--template", "cn-a4-55", "--out", "out", "--workers", "1",
                                 "--no-progress"])
    assert code == 0, stderr
    assert SUMMARY.match(stdout.strip())


# ----------------------------------------------------------------------------------------------------------
# Nothing to read, and the files that sit beside scans


def test_missing_folder_exits_2_and_says_so(tmp_path):
    code, stdout, stderr = _run(["scan", str(tmp_path / "scnas"), "--template", "cn-a4-55", "--out",
                                 str(tmp_path / "out"), "--no-progress"])
    assert code == 2 and stdout == ""
    assert stderr.strip() == f"yuejuan scan: error: no such file or folder: {tmp_path / 'scnas'}"
    assert not (tmp_path / "out").exists()  # no empty results that look like a finished scan


def test_a_missing_input_beside_a_good_one_is_still_an_error(batch, tmp_path):
    code, _, stderr = _run(["scan", str(batch["scans"]), "missing.pdf", "--template", "cn-a4-55", "--out",
                            str(tmp_path / "out"), "--no-progress", "--workers", "1"])
    assert code == 2 and "no such file or folder: missing.pdf" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("side_files", [False, True], ids=["empty", "only-side-files"])
def test_folder_without_scans_exits_2_and_says_so(tmp_path, side_files):
    folder = tmp_path / "scans"
    folder.mkdir()
    if side_files:
        (folder / "manifest.json").write_text("{}", encoding="utf-8")
        (folder / "Thumbs.db").write_bytes(b"\0" * 64)
    code, stdout, stderr = _run(["scan", str(folder), "--template", "cn-a4-55", "--out", str(tmp_path / "out"),
                                 "--no-progress"])
    assert code == 2 and stdout == ""
    assert stderr.strip() == f"yuejuan scan: error: nothing to read: no image or PDF file in {folder}"


def test_folder_of_other_files_names_one_of_them(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "notes.txt").write_text("第一考场\n", encoding="utf-8")
    code, _, stderr = _run(["scan", str(folder), "--template", "cn-a4-55", "--out", str(tmp_path / "out"),
                            "--no-progress"])
    assert code == 2
    assert "nothing to read" in stderr and "1 other file(s)" in stderr and "notes.txt" in stderr


def test_a_simulated_folder_scans_without_listing_its_truth_files(tmp_path):
    """`yuejuan simulate` writes a truth JSON per page and a manifest beside the scans: not worth a word."""
    scans = tmp_path / "scans"
    code, _, stderr = _run(["simulate", "--template", "cn-a4-55", "--count", "2", "--seed", "3", "--out", str(scans)])
    assert code == 0, stderr
    assert len(list(scans.glob("*.truth.json"))) == 2 and (scans / "manifest.json").is_file()
    (scans / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (scans / "todo.txt").write_text("rescan room 3\n", encoding="utf-8")  # not a known side file: listed
    code, stdout, stderr = _run(["scan", str(scans), "--template", "cn-a4-55", "--out", str(tmp_path / "out"),
                                 "--no-progress", "--workers", "1"])
    assert code == 0, stderr
    pages, sheets, *_, skipped = map(int, SUMMARY.match(stdout.strip()).groups()[:6])
    assert (pages, sheets, skipped) == (2, 2, 1)
    _, rows = _read_csv(tmp_path / "out" / "exceptions.csv")
    refused = [r["来源"] for r in rows if r["页"] == ""]
    assert refused == [str(scans / "todo.txt")]


def test_cards_of_another_bundled_template_are_named_in_exceptions(tmp_path):
    """A3 cards scanned with --template cn-a4-55 (two worker processes): each page says whose page it is."""
    scans = tmp_path / "scans"
    code, _, stderr = _run(["simulate", "--template", "cn-a3-100", "--count", "1", "--seed", "4", "--out",
                            str(scans), "--format", "png"])
    assert code == 0, stderr
    code, stdout, stderr = _run(["scan", str(scans), "--template", "cn-a4-55", "--out", str(tmp_path / "out"),
                                 "--no-progress", "--workers", "2"])
    assert code == 0, stderr
    assert SUMMARY.match(stdout.strip()).groups()[:6] == ("2", "0", "0", "0", "2", "0")
    _, rows = _read_csv(tmp_path / "out" / "exceptions.csv")
    assert sorted((r["页"], r["原文"]) for r in rows) == [
        ("1", f"page of another template cn-a3-100 (code 202, page {n}): 其他答题卡模板的页面 (cn-a3-100 第 {n} 页), "
              "不属于本次扫描的模板") for n in (1, 2)]
