"""``yuejuan template``: render, geometry and validate through the real CLI entry point."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from api.cli import main

REPO = Path(__file__).resolve().parents[2]


def _bad_template(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({
        "id": "bad",
        "pages": [{
            "anchors": [{"id": n, "x": x, "y": y} for n, x, y in
                        [("tl", 10, 10), ("tr", 200, 10), ("bl", 10, 287), ("br", 200, 287)]],
            "identity": {"x": 60, "y": 10},
            "fields": [{"kind": "mark", "id": "absent", "x": 90, "y": 50, "colour": "red"}],
        }],
    }), encoding="utf-8")
    return path


def test_render_pdf(tmp_path: Path, capsys):
    out = tmp_path / "sheet.pdf"
    assert main(["template", "render", "cn-a3-100", "--pdf", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    assert "2 page(s)" in capsys.readouterr().out
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Pages:\s+2$", info, re.M)


def test_render_png_single_page(tmp_path: Path):
    out = tmp_path / "blank.png"
    assert main(["template", "render", "cn-a4-55", "--png", str(out), "--dpi", "100"]) == 0
    with Image.open(out) as image:
        assert image.size == (827, 1169)  # A4 at 100 dpi
        assert image.info["dpi"] == pytest.approx((100, 100), abs=0.05)


def test_render_png_multi_page_numbers_files(tmp_path: Path):
    out = tmp_path / "blank.png"
    assert main(["template", "render", "cn-a3-100", "--png", str(out), "--dpi", "60"]) == 0
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank-1.png", "blank-2.png"]
    first = np.asarray(Image.open(tmp_path / "blank-1.png"))
    second = np.asarray(Image.open(tmp_path / "blank-2.png"))
    assert first.shape == second.shape == (992, 702)
    assert not np.array_equal(first, second)


def test_render_png_one_page_of_many(tmp_path: Path):
    out = tmp_path / "p2.png"
    assert main(["template", "render", "cn-a3-100", "--png", str(out), "--dpi", "60", "--page", "2"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["p2.png"]


def test_render_pdf_and_png_together(tmp_path: Path):
    args = ["template", "render", "cn-a4-55", "--pdf", str(tmp_path / "a.pdf"), "--png", str(tmp_path / "a.png"),
            "--dpi", "60"]
    assert main(args) == 0
    assert (tmp_path / "a.pdf").exists() and (tmp_path / "a.png").exists()


@pytest.mark.parametrize("extra, message", [
    ([], "nothing to render"),
    (["--png", "X", "--page", "3"], "has 2 page(s)"),
    (["--png", "X", "--dpi", "5"], "--dpi 5 outside"),
    (["--pdf", "X", "--page", "1"], "--png only"),
    (["--pdf", "no/such/dir/x.pdf"], "does not exist"),
])
def test_render_argument_errors(tmp_path: Path, capsys, extra: list[str], message: str):
    extra = [str(tmp_path / "out.png") if a == "X" else a for a in extra]
    assert main(["template", "render", "cn-a3-100", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_geometry_to_stdout(capsys):
    assert main(["template", "geometry", "cn-a4-55", "--dpi", "200"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["template"] == "cn-a4-55"
    assert data["code"] == 101
    assert data["page_mm"] == [210.0, 297.0]
    (page,) = data["pages"]
    assert page["dpi"] == 200
    assert page["size_px"] == [1654, 2339]
    assert len(page["bubbles"]) == 353
    assert len(page["anchors"]) == 4
    assert len(page["identity"]) == 19
    assert {b["label"] for b in page["bubbles"] if b["kind"] == "score_half"} == {"½"}


def test_geometry_to_file_is_utf8_with_indent(tmp_path: Path):
    out = tmp_path / "geometry.json"
    assert main(["template", "geometry", "cn-a3-100", "--dpi", "150", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith('{\n "template": "cn-a3-100"')
    data = json.loads(text)
    assert [len(p["bubbles"]) for p in data["pages"]] == [401, 200]


def test_validate_good(tmp_path: Path, capsys):
    assert main(["template", "validate", "cn-a4-55"]) == 0
    assert capsys.readouterr().out.strip() == "ok: cn-a4-55, 1 page(s), 353 bubbles"
    assert main(["template", "validate", "cn-a3-100"]) == 0
    assert capsys.readouterr().out.strip() == "ok: cn-a3-100, 2 page(s), 601 bubbles"


def test_validate_bad_names_the_field(tmp_path: Path, capsys):
    assert main(["template", "validate", str(_bad_template(tmp_path))]) == 2
    captured = capsys.readouterr()
    assert "colour" in captured.err and "not permitted" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_validate_malformed_json_and_missing_file(tmp_path: Path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n "id": "x",\n "pages": [\n', encoding="utf-8")
    assert main(["template", "validate", str(broken)]) == 2
    assert "not valid JSON: line" in capsys.readouterr().err
    assert main(["template", "validate", str(tmp_path / "nowhere.json")]) == 2
    assert "bundled templates: cn-a3-100, cn-a4-55" in capsys.readouterr().err


def test_missing_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["template"])
    assert info.value.code == 2


def test_console_script_subprocess(tmp_path: Path):
    script = Path(sys.executable).with_name("yuejuan")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    good = subprocess.run([*command, "template", "validate", "cn-a4-55"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "ok: cn-a4-55, 1 page(s), 353 bubbles"
    bad = subprocess.run([*command, "template", "validate", str(_bad_template(tmp_path))], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)
    assert bad.returncode == 2
    assert "colour" in bad.stderr and "Traceback" not in bad.stderr
    out = tmp_path / "s.pdf"
    rendered = subprocess.run([*command, "template", "render", "cn-a4-55", "--pdf", str(out)], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    assert out.read_bytes().startswith(b"%PDF-")


def test_learn_drafts_a_template_that_validates(tmp_path: Path, capsys):
    png = tmp_path / "blank.png"
    assert main(["template", "render", "cn-a4-55", "--png", str(png), "--dpi", "150"]) == 0
    draft, overlay = tmp_path / "draft.json", tmp_path / "overlay.png"
    assert main(["template", "learn", str(png), "--out", str(draft), "--overlay", str(overlay), "--id", "mine"]) == 0
    out = capsys.readouterr().out
    assert "identity strip code 101 page 1" in out and "the draft validates" in out
    assert main(["template", "validate", str(draft)]) == 0
    assert "ok: mine, 1 page(s), 353 bubbles" in capsys.readouterr().out
    with Image.open(overlay) as image, Image.open(png) as blank:
        assert image.mode == "RGB" and image.size == blank.size


def test_learn_refuses_a_scan_without_anchors(tmp_path: Path, capsys):
    scan = tmp_path / "no-anchors.png"
    page = np.full((1754, 1240), 255, np.uint8)
    page[400:420, 200:1000] = 0  # print, but no corner marks
    Image.fromarray(page).save(scan, dpi=(150, 150))
    assert main(["template", "learn", str(scan), "--out", str(tmp_path / "d.json")]) == 2
    error = capsys.readouterr().err
    assert "cannot draft a template from" in error and "corner anchors" in error
    assert not (tmp_path / "d.json").exists()


def test_learn_needs_an_existing_scan_and_output_folder(tmp_path: Path, capsys):
    assert main(["template", "learn", str(tmp_path / "missing.png"), "--out", str(tmp_path / "d.json")]) == 2
    assert "no scan file" in capsys.readouterr().err
    assert main(["template", "learn", str(tmp_path), "--out", str(tmp_path / "nowhere" / "d.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_learn_dpi_override_is_checked(tmp_path: Path, capsys):
    png = tmp_path / "blank.png"
    assert main(["template", "render", "cn-a4-55", "--png", str(png), "--dpi", "150"]) == 0
    assert main(["template", "learn", str(png), "--out", str(tmp_path / "d.json"), "--dpi", "20"]) == 2
    assert "--dpi 20 outside" in capsys.readouterr().err
