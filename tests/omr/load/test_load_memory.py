"""omr.load's memory on hostile files within the size and pixel limits: each is read or refused, in bounded memory.

Each file is read through :func:`omr.load.iter_pages` in a fresh Python process whose peak resident memory
(``VmHWM``) is the measure: it counts what the decoders allocate outside Python as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sample_sheets.hostile import corpus, memory_corpus, tiff_by_hand

MEMORY_FILES = ("deep-rgba.png", "noisy.tif", "noisy-colour.tif", "huge-colour.tif")
#: Peak resident memory allowed to a process that imports omr and reads one file (imports alone take ~50 MB).
PEAK_BYTES = 400 * 2**20

_CHILD = """
import json, sys
from omr.load import iter_pages

def peak_rss():  # this process's own high-water mark (ru_maxrss would include the parent's, kept across exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

pages = []
for path in sys.argv[1:]:
    for page in iter_pages(path):
        pages.append({"file": path, "index": page.page_index, "ok": page.ok, "error": page.error})
        del page
print(json.dumps({"peak": peak_rss(), "pages": pages}))
"""


def _read_in_child(paths: list[Path]) -> tuple[int, list[dict]]:
    done = subprocess.run([sys.executable, "-c", _CHILD, *map(str, paths)], capture_output=True, text=True,
                          timeout=300, check=True)
    answer = json.loads(done.stdout)
    return answer["peak"], answer["pages"]


@pytest.fixture(scope="module")
def memory_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str | None]]:
    folder = tmp_path_factory.mktemp("memory-corpus")
    files = {}
    for name, (data, phrase) in memory_corpus().items():
        (folder / name).write_bytes(data)
        files[name] = (folder / name, phrase)
    return files


@pytest.mark.parametrize("name", MEMORY_FILES)
def test_each_memory_hostile_file_is_read_or_refused_in_bounded_memory(memory_files, name: str) -> None:
    path, phrase = memory_files[name]
    peak, pages = _read_in_child([path])
    assert peak < PEAK_BYTES, f"{name}: peak resident memory {peak / 2**20:.0f} MB"
    assert pages and [p["index"] for p in pages] == list(range(len(pages)))
    if phrase is None:
        assert all(p["ok"] for p in pages), [p["error"] for p in pages if not p["ok"]]
    else:
        assert all(not p["ok"] and phrase in p["error"] for p in pages), [p["error"] for p in pages]


def test_the_memory_corpus_is_what_it_says(memory_files) -> None:
    assert set(memory_files) == set(MEMORY_FILES)
    noisy, deep = memory_files["noisy.tif"][0], memory_files["deep-rgba.png"][0]
    assert noisy.stat().st_size > 5 * 2**20 and deep.stat().st_size < 2**20  # the 7.5 MB and 466 KB
    assert deep.read_bytes()[24:26] == bytes([16, 6])  # IHDR: 16-bit RGBA


def test_the_rest_of_the_hostile_corpus_is_read_or_refused_with_its_reason(tmp_path: Path) -> None:
    paths, phrases = [], {}
    for name, (data, phrase) in corpus().items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
        phrases[str(tmp_path / name)] = phrase
    peak, pages = _read_in_child(paths)
    assert peak < PEAK_BYTES, f"peak resident memory {peak / 2**20:.0f} MB"
    assert {p["file"] for p in pages} == set(phrases)
    for page in pages:  # a refusal says why; a page the loader reads (tiny.jpg) is refused later by the reader
        assert page["ok"] or phrases[page["file"]] in page["error"], page


def test_a_long_tiff_is_read_from_its_file_not_held_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    frame = rng.integers(0, 256, (3508 * 2480,), dtype=np.uint8).tobytes()  # an A4 300-dpi page of noise
    path = tmp_path / "long.tif"
    path.write_bytes(tiff_by_hand([(2480, 3508, frame)] * 12))  # uncompressed: 104 MB on disk
    peak, pages = _read_in_child([path])
    assert len(pages) == 12 and all(p["ok"] for p in pages)
    assert peak < path.stat().st_size, f"peak resident memory {peak / 2**20:.0f} MB"
