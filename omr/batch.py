"""Scan a batch of files: load every page, read it, assemble sheets, write the outputs.

Work is spread over processes, one file per task, each worker preparing the template once. Outputs in the out
directory: ``results.jsonl`` (everything per page), ``results.csv`` (one row per sheet), ``exceptions.csv``
(every page or sheet a person must look at, with its reason), and optional ``overlays/`` and ``crops/``.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2

from omr.assemble import SheetResult, assemble_sheets
from omr.crops import stitch_sheet_crops
from omr.csv_cells import csv_row
from omr.load import LoadLimits, collect_inputs, iter_pages
from omr.profile import ScannerProfile
from omr.read import PreparedTemplate, prepare_template, read_page
from omr.reason_text import reason_zh
from omr.result import PageResult, page_file_stem, page_result_to_dict
from omr.template import Template, expand_page

__all__ = ["BatchSummary", "ScanOptions", "decode_min_side_px", "is_side_file", "scan_file", "scan_batch",
           "scan_inputs", "write_outputs"]

#: Resolution pages are decoded at when the file allows a cheaper reduced decode (JPEG): marks stay readable.
READ_DPI = 100.0
#: exceptions.csv: where, the reason in Chinese (原因) and as OMR states it (原文)
EXCEPTION_HEADERS = ["来源", "页", "答题卡", "考号", "原因", "原文"]

#: Files that sit beside scans in a folder without being scans: the simulator's ground truth and manifest,
#: yuejuan's own outputs, and what file managers leave behind (names compared in lower case).
SIDE_FILE_NAMES = frozenset({
    "manifest.json",  # sample_sheets.simulate
    "results.jsonl", "results.csv", "exceptions.csv",  # yuejuan scan's outputs
    "thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store",  # Windows Explorer, macOS Finder
})
SIDE_FILE_SUFFIXES = (".truth.json",)  # sample_sheets.simulate: one per page


@dataclass(frozen=True)
class ScanOptions:
    overlays_dir: str | None = None
    crops_dir: str | None = None
    limits: LoadLimits = LoadLimits()
    reduce: bool = True  # decode JPEGs at reduced size when they stay >= READ_DPI


@dataclass
class BatchSummary:
    pages: int
    sheets: int
    ok: int  # sheets read with every mark sure
    flagged: int  # sheets needing review
    unreadable: int  # pages that could not be read
    skipped: int  # input files that are not images or PDFs (listed in exceptions.csv)
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"pages {self.pages}, sheets {self.sheets}, ok {self.ok}, flagged {self.flagged}, "
                f"unreadable pages {self.unreadable}, skipped files {self.skipped}, "
                f"{self.pages_per_second:.1f} pages/s")


def decode_min_side_px(template: Template) -> int:
    """The shorter image side a JPEG page of ``template`` keeps when decoded at reduced size (``READ_DPI``)."""
    return int(min(template.page_mm) / 25.4 * READ_DPI)


def is_side_file(path: str | Path) -> bool:
    """Whether a file that is not a scan is one known to sit beside scans (see ``SIDE_FILE_NAMES``).

    The rule: a name in ``SIDE_FILE_NAMES``, a name ending in ``SIDE_FILE_SUFFIXES``, or a hidden file (a name
    starting with ``.``, which includes macOS's ``._*`` resource forks)."""
    name = Path(path).name.lower()
    return name in SIDE_FILE_NAMES or name.endswith(SIDE_FILE_SUFFIXES) or name.startswith(".")


def scan_inputs(inputs: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """:func:`omr.load.collect_inputs`, less the known side files found inside folders.

    A side file named as an input itself is still reported: the person asked for it. Returns the files to read
    and the refused ones with their reasons (files that are not images or PDFs, inputs that do not exist).
    """
    inputs = list(inputs)
    given = {os.path.abspath(path) for path in inputs}
    files, rejected = collect_inputs(inputs)
    return files, [(path, reason) for path, reason in rejected
                   if os.path.abspath(path) in given or not is_side_file(path)]


def scan_file(path: str | Path, prepared: PreparedTemplate, options: ScanOptions = ScanOptions()) -> list[PageResult]:
    """Read every page of one file; unreadable pages come back as results with status ``error``."""
    results = []
    reduce_to = decode_min_side_px(prepared.template) if options.reduce else None
    for loaded in iter_pages(path, limits=options.limits, reduce_jpeg_to_min_px=reduce_to):
        if loaded.image is None:
            results.append(PageResult(source=str(path), page_index=loaded.page_index, status="error",
                                      reasons=[loaded.error or "unreadable page"]))
            continue
        try:
            result = read_page(loaded.image, prepared, source=str(path), page_index=loaded.page_index,
                               crop_dir=options.crops_dir, full_size=loaded.full_size)
        except Exception as error:  # one bad page never stops a batch; the reason goes to review
            result = PageResult(source=str(path), page_index=loaded.page_index, status="error",
                                reasons=[f"internal error reading page: {type(error).__name__}: {error}"])
        if options.overlays_dir:
            from omr.overlay import draw_overlay

            folder = Path(options.overlays_dir)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{page_file_stem(str(path), loaded.page_index)}.png"
            cv2.imwrite(str(target), draw_overlay(loaded.image, result, prepared))
            result.overlay = str(target)
        results.append(result)
    return results


_WORKER: dict = {}


def _init_worker(template_json: str, profile: dict, options: ScanOptions, others_json: tuple[str, ...] = ()) -> None:
    cv2.setNumThreads(1)  # one page per process; OpenCV's own threads would only contend
    template = Template.model_validate_json(template_json)
    others = [Template.model_validate_json(text) for text in others_json]
    _WORKER["prepared"] = prepare_template(template, ScannerProfile(**profile), others=others)
    _WORKER["options"] = options


def _worker_scan(path: str) -> list[dict]:
    return [page_result_to_dict(r) for r in scan_file(path, _WORKER["prepared"], _WORKER["options"])]


def scan_batch(inputs: Iterable[str | Path], template: Template, *, profile: ScannerProfile | None = None,
               workers: int | None = None, options: ScanOptions = ScanOptions(),
               progress: Callable[[int], None] | None = None, other_templates: Sequence[Template] = (),
               ) -> tuple[list[PageResult], list[tuple[str, str]]]:
    """Read every page of every input (files or folders, recursively), in input order.

    A page of one of ``other_templates`` (another exam's cards in the pile) is named as such in its reason.

    Returns the page results and the inputs refused before reading (path, reason); known side files inside
    folders (the simulator's truth, yuejuan's outputs, ``Thumbs.db`` ...) are left out quietly (see
    :func:`is_side_file`).
    ``workers`` defaults to all cores; 1 reads in this process.
    """
    from omr.result import page_result_from_dict

    profile = profile or ScannerProfile()
    files, rejected = scan_inputs(inputs)
    workers = workers or os.cpu_count() or 1
    pages: list[PageResult] = []
    if workers <= 1 or len(files) <= 1:
        prepared = prepare_template(template, profile, others=other_templates)
        for path in files:
            batch = scan_file(path, prepared, options)
            pages.extend(batch)
            if progress:
                progress(len(batch))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                 initargs=(template.model_dump_json(), asdict(profile), options,
                                           tuple(t.model_dump_json() for t in other_templates))) as pool:
            for batch in pool.map(_worker_scan, [str(f) for f in files], chunksize=4):
                pages.extend(page_result_from_dict(d) for d in batch)
                if progress:
                    progress(len(batch))
    return pages, [(str(path), reason) for path, reason in rejected]


def _answer_cell(reading) -> str:
    if reading.status == "uncertain":
        return "?" + reading.marked
    return reading.marked


def _extra_cell(sheet: SheetResult, column: str) -> str:
    """A results.csv cell of the card-specific columns: barcode, form, violation (1/0), choice_<chooser> (the
    question chosen, or '?' and the chooser's questions joined by '/' when the choice is unclear)."""
    if column == "form":
        return sheet.form or ""
    if column == "violation":
        return "" if sheet.violation is None else str(int(sheet.violation))
    if column == "barcode":
        return sheet.barcode or ""
    choice = sheet.choices.get(column.removeprefix("choice_"))
    if choice is None:
        return ""
    return choice.chosen if choice.status == "ok" else "?" + "/".join(choice.questions)


def write_outputs(out_dir: str | Path, template: Template, pages: list[PageResult],
                  rejected: list[tuple[str, str]], seconds: float) -> tuple[BatchSummary, list[SheetResult]]:
    """Write results.jsonl, results.csv and exceptions.csv; return the summary and the sheets."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sheets, unreadable = assemble_sheets(pages, len(template.pages))
    for sheet in sheets:  # answers cut on several pages or columns: one crop per answer, parts in order
        if sheet.crops:
            folder = Path(next(iter(sheet.crops.values()))).parent
            first = sheet.pages[0]
            stem = page_file_stem(first["source"], first["page_index"]) + "_sheet"
            sheet.crops.update(stitch_sheet_crops(template, sheet.crops, folder, stem))
    with open(out / "results.jsonl", "w", encoding="utf-8") as handle:
        for page in pages:
            handle.write(json.dumps({"type": "page", **page_result_to_dict(page)}, ensure_ascii=False) + "\n")
        for sheet in sheets:
            handle.write(json.dumps({"type": "sheet", **asdict(sheet)}, ensure_ascii=False) + "\n")
    expanded = [expand_page(template, n) for n in range(1, len(template.pages) + 1)]
    groups = [g for page in expanded for g in page.groups]
    question_ids = [g.id for g in groups if g.kind == "question"]
    score_ids = sorted({g.role for g in groups if g.kind in ("score_digit", "score_half")})
    # Columns only cards that print them get: the code read off the sheet (a personalised sheet's identity), the
    # paper version, the proctor's 违纪 mark, each 选考题 chooser.
    has_barcode = any(page.barcodes for page in expanded)
    extra = ((["barcode"] if has_barcode else []) + (["form"] if any(g.kind == "id_column" and g.role == "form" for g in groups) else [])
             + (["violation"] if any(g.kind == "mark" and g.role == "violation" for g in groups) else [])
             + [f"choice_{g.id}" for g in groups if g.kind == "chooser"])
    with open(out / "results.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_row(["sheet", "student_id", "status", "absent", "reasons", "pages", *question_ids,
                                 *[f"score_{s}" for s in score_ids], *extra]))  # a template's ids: its author's text
        for sheet in sheets:
            # Text cells (file names a station chose, a 考号 off a barcode ...) never start like a formula; the
            # scores are numbers formatted after escaping, as csv_row asks.
            writer.writerow([
                *csv_row([
                    sheet.sheet_index + 1, sheet.student_id or "", sheet.status,
                    "" if sheet.absent is None else int(sheet.absent), "; ".join(sheet.reasons),
                    " ".join(f"{Path(p['source']).name}#{p['page_index'] + 1}" for p in sheet.pages),
                    *[_answer_cell(sheet.questions[q]) if q in sheet.questions else "" for q in question_ids],
                ]),
                *[("" if sheet.scores.get(s) is None or sheet.scores[s].value is None else f"{sheet.scores[s].value:g}")
                  for s in score_ids],
                *csv_row([_extra_cell(sheet, name) for name in extra]),
            ])
    with open(out / "exceptions.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        # teachers read 原因; 原文 keeps OMR's stable English reason for scripts and support
        writer.writerow(EXCEPTION_HEADERS)
        for path, reason in rejected:
            writer.writerow(csv_row([path, "", "", "", reason_zh(reason), reason]))
        for page in unreadable:
            for reason in page.reasons or ["unreadable"]:
                writer.writerow(csv_row([page.source, page.page_index + 1, "", "", reason_zh(reason), reason]))
        for sheet in sheets:
            first = sheet.pages[0]
            for reason in sheet.reasons:
                writer.writerow(csv_row([first["source"], first["page_index"] + 1, sheet.sheet_index + 1,
                                         sheet.student_id or "", reason_zh(reason), reason]))
    summary = BatchSummary(
        pages=len(pages), sheets=len(sheets), ok=sum(s.status == "ok" for s in sheets),
        flagged=sum(s.status != "ok" for s in sheets), unreadable=len(unreadable), skipped=len(rejected),
        seconds=seconds,
    )
    return summary, sheets


def timed_scan(inputs, template, out_dir, **kwargs) -> tuple[BatchSummary, list[SheetResult], list[PageResult]]:
    """:func:`scan_batch` then :func:`write_outputs`, timing the whole run."""
    started = time.perf_counter()
    pages, rejected = scan_batch(inputs, template, **kwargs)
    summary, sheets = write_outputs(out_dir, template, pages, rejected, time.perf_counter() - started)
    return summary, sheets, pages
