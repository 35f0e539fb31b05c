"""The repository carries its own references: nothing points outside it, and every docs/ page cited exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The team's notes outside the repository (split so that this file does not match itself).
OUTSIDE = re.compile(r"\.\./" + "shared" + r"\b|\bshared" + "/reference")
CITED_DOC = re.compile(r"\bdocs/([\w.-]+\.md)\b")


def _tracked_text_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are not known")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in filter(None, names.decode().split("\0")):
        path = ROOT / name
        try:
            path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary files (templates' PDFs, images) and files deleted in the work tree
        files.append(path)
    return files


def test_no_tracked_file_refers_outside_the_repository():
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in _tracked_text_files()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_every_cited_docs_page_exists():
    cited = {(match.group(1), str(path.relative_to(ROOT))) for path in _tracked_text_files()
             for match in CITED_DOC.finditer(path.read_text(encoding="utf-8"))}
    assert {name for name, _ in cited} >= {"statistics.md"}  # the analytics docstrings cite it
    assert [(name, where) for name, where in sorted(cited) if not (ROOT / "docs" / name).is_file()] == []
