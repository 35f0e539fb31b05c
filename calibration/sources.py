"""Where calibration's pages come from: scan files read and registered by OMR, with labels when there are any.

The I/O edge of the package: files in, :class:`RegisteredPage` and :class:`~calibration.labels.LabelledPage`
out. A page is used only when OMR registered it on all its anchors and verified the fit (a page flagged
定位存疑 could put the bubbles anywhere) and the scan is grayscale (a 1-bit scan has no gray to learn from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from calibration.labels import LabelledPage, is_bilevel, label_page
from omr.batch import scan_inputs
from omr.load import iter_pages
from omr.read import REGISTRATION_UNSURE, PreparedTemplate, read_page

__all__ = ["RegisteredPage", "labelled_from_corrections", "labelled_from_simulation", "read_json", "registered_pages"]


@dataclass
class RegisteredPage:
    """A scanned page OMR placed on the template: the image, which page it is and where the template lies."""

    image: np.ndarray
    page: int  # 1-based template page
    page_to_image: np.ndarray  # (3, 3) template mm -> image pixels
    source: str
    page_index: int  # 0-based page within its file


def _usable(image: np.ndarray, prepared: PreparedTemplate, source: str, index: int) -> RegisteredPage | str:
    result = read_page(image, prepared, source=source, page_index=index)
    if result.status == "error" or result.page is None or result.page_to_image is None:
        return "; ".join(result.reasons) or "not registered"
    if any(reason.startswith(("anchor missing", REGISTRATION_UNSURE[:20])) for reason in result.reasons):
        return "registration not sure enough to learn from"
    if is_bilevel(image):
        return "1-bit scan: no gray levels to learn from"
    return RegisteredPage(image, result.page, np.asarray(result.page_to_image, np.float64), source, index)


def registered_pages(inputs: Iterable[str | Path], prepared: PreparedTemplate, *, limit: int | None = None,
                     skipped: list[tuple[str, str]] | None = None) -> Iterator[RegisteredPage]:
    """The usable pages of ``inputs`` (files or folders, in scan order), at most ``limit`` of them.

    Pages that cannot be used are appended to ``skipped`` as (``file#page``, reason).
    """
    files, refused = scan_inputs(list(inputs))
    if skipped is not None:
        skipped.extend((str(path), reason) for path, reason in refused)
    taken = 0
    for path in files:
        for loaded in iter_pages(path):
            if limit is not None and taken >= limit:
                return
            where = f"{path}#{loaded.page_index + 1}"
            found = (loaded.error or "unreadable page") if loaded.image is None else _usable(
                loaded.image, prepared, str(path), loaded.page_index)
            if isinstance(found, str):
                if skipped is not None:
                    skipped.append((where, found))
                continue
            taken += 1
            yield found


def _labelled(page: RegisteredPage, prepared: PreparedTemplate, answers: dict[str, str],
              ambiguous: Iterable[str] = ()) -> LabelledPage:
    return label_page(page.image, page.page_to_image, prepared, page.page, answers,
                      source=f"{page.source}#{page.page_index + 1}", ambiguous=ambiguous)


def labelled_from_simulation(batch_dir: str | Path, prepared: PreparedTemplate, *, limit: int | None = None,
                             skipped: list[tuple[str, str]] | None = None) -> list[LabelledPage]:
    """Labelled pages of a simulated batch (``yuejuan simulate``): the truth files say what each group holds.

    Groups the simulator calls ambiguous (a faint mark, a tick, heavy residue) are labelled with what the student
    meant, as ambiguous: a fit may not read more of them wrong than the base did (it would learn to pass over
    faint answers).
    """
    folder = Path(batch_dir)
    manifest = read_json(folder / "manifest.json", "simulated batch manifest")
    if manifest.get("template") != prepared.template.id:
        raise ValueError(f"{folder} was simulated on template {manifest.get('template')!r}, "
                         f"not {prepared.template.id!r}")
    truth_files = {(entry["file"], entry["frame"] or 0): entry["truth"] for entry in manifest["pages"]}
    pages = []
    for page in registered_pages([folder], prepared, limit=limit, skipped=skipped):
        name = truth_files.get((Path(page.source).name, page.page_index))
        if name is None:
            continue
        truth = json.loads((folder / name).read_text(encoding="utf-8"))
        if truth["page"] != page.page:
            if skipped is not None:
                skipped.append((f"{page.source}#{page.page_index + 1}", "read as another page than its truth"))
            continue
        answers = {gid: group["expected"] for gid, group in truth["groups"].items()}
        ambiguous = [gid for gid, group in truth["groups"].items() if group.get("ambiguous")]
        pages.append(_labelled(page, prepared, answers, ambiguous))
    return pages


def read_json(path: Path, what: str) -> object:
    """A JSON file's data; ValueError naming ``what`` and the place when it is not UTF-8 JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} {path} is not valid JSON: line {error.lineno}: {error.msg}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} {path} is not valid JSON: not UTF-8 text") from None


def labelled_from_corrections(path: str | Path, prepared: PreparedTemplate, *,
                              skipped: list[tuple[str, str]] | None = None) -> list[LabelledPage]:
    """Labelled pages from a corrections file: what teachers confirmed or corrected in review.

    The file is JSON: ``{"template": "<id>", "pages": [{"file": "<scan, relative to the file>", "page_index": 0,
    "answers": {"<group id>": "AC", ...}}, ...]}``; each answer is the labels marked (``""``: none).
    """
    source = Path(path)
    data = read_json(source, "corrections file")
    if not isinstance(data, dict) or not isinstance(data.get("pages"), list):
        raise ValueError(f"corrections file {source} must be an object with a list of pages")
    if data.get("template") != prepared.template.id:
        raise ValueError(f"corrections file {source} is for template {data.get('template')!r}, "
                         f"not {prepared.template.id!r}")
    pages = []
    for number, entry in enumerate(data["pages"], 1):
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str)
                and isinstance(entry.get("answers"), dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in entry["answers"].items())):
            raise ValueError(f"corrections file {source}: page {number} needs a file and answers of text")
        index = entry.get("page_index", 0)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"corrections file {source}: page {number}: page_index must be a whole number >= 0")
        scan = source.parent / entry["file"]
        found = next((page for page in registered_pages([scan], prepared, skipped=skipped)
                      if page.page_index == index), None)
        if found is not None:
            pages.append(_labelled(found, prepared, entry["answers"]))
    return pages
