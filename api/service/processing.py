"""Reading one uploaded file into page records: what local workers and Dask tasks run. No database, no HTTP.

:func:`iter_file` yields each page's record as soon as the page is read (local workers store it and let it go,
so a file of many pages never sits in memory); :func:`read_file` is the same as a list, importable by name with
plain-data arguments and result, so Dask ships it to any worker. Neither raises for bad input: a hostile or broken
file becomes error pages with their reasons. Overlays are drawn on demand by the overlay route, not here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

__all__ = ["iter_file", "read_file", "error_page", "NO_PAGE", "prepared_template", "bundled_others", "canonical_template",
           "single_threaded_opencv", "warm_up", "overlay_jpeg"]

log = logging.getLogger(__name__)

#: Prepared templates kept per process (a worker serves a few exams at a time; preparing one takes 20-60 ms, 0.5 s in
#: a fresh process).
_CACHE_SIZE = 4
_cache: OrderedDict[tuple[str, Any], Any] = OrderedDict()
#: Other templates' pages kept per process, by the SHA-256 of their JSON (~1 ms each to make, a few KB).
_KNOWN_SIZE = 64
_known: OrderedDict[str, list[Any]] = OrderedDict()
#: The two together per set of others (the same exam for several schools): small objects sharing the above.
_COMBINED_SIZE = 32
_combined: OrderedDict[tuple[str, Any, tuple[str, ...]], Any] = OrderedDict()
_cache_lock = threading.Lock()


def _profile(profile: Any):
    from omr.profile import ScannerProfile, profile_from_dict

    if profile is None:
        return ScannerProfile()
    if isinstance(profile, dict):
        return profile_from_dict(profile)
    return profile


def canonical_template(template: dict[str, Any]) -> tuple[str, str]:
    """(canonical JSON text of a template, its SHA-256): equal templates give equal text and hash."""
    text = json.dumps(template, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text, _sha256(text)


@functools.cache
def bundled_others() -> tuple[tuple[str, str], ...]:
    """(canonical JSON text, SHA-256) of each bundled template: cards any school may scan by mistake."""
    from sample_sheets import bundled_templates, resolve_template

    # Stored as an exam stores its template (model_dump), so an exam on a bundled card has the same hash.
    return tuple(canonical_template(resolve_template(name).model_dump(mode="json")) for name in bundled_templates())


def prepared_template(template_json: str | dict[str, Any], template_hash: str | None = None, profile: Any = None,
                      others: Sequence[str] = ()):
    """The :class:`omr.read.PreparedTemplate` of a template, also recognising pages of the bundled cards and of
    ``others`` (an A3 card uploaded to an A4 exam is "page of another template", not "no anchors found").

    The template is prepared once per process (LRU of a few, keyed by its hash and the profile) and each other
    template's pages once (LRU by hash), so the same exam read with different others (a city-wide exam, each
    school's own exams) costs no preparing again.

    Parameters
    ----------
    template_json : str or dict
        The template as JSON text (or its dict).
    template_hash : str, optional
        SHA-256 of the JSON text, when the caller has it (see :func:`canonical_template`).
    profile : ScannerProfile or dict, optional
        Decision parameters; the defaults when omitted.
    others : sequence of str
        JSON texts of further templates whose pages may turn up here (the school's other exams').
    """
    from omr.read import prepare_template, with_others
    from omr.template import Template

    if isinstance(template_json, str):
        text, digest = template_json, template_hash or _sha256(template_json)
    else:
        text, digest = canonical_template(template_json)
    scanner = _profile(profile)
    other_texts = {hashed: other for other, hashed in bundled_others()}
    other_texts.update((_sha256(other), other) for other in others)
    other_texts.pop(digest, None)

    def combine():
        prepared = _cached(_cache, (digest, scanner), _CACHE_SIZE,
                           lambda: prepare_template(Template.model_validate_json(text), scanner))
        return with_others(prepared, [page for hashed in sorted(other_texts)
                                      for page in _cached(_known, hashed, _KNOWN_SIZE,
                                                          lambda: _known_pages(other_texts[hashed]))])

    return _cached(_combined, (digest, scanner, tuple(sorted(other_texts))), _COMBINED_SIZE, combine)


def _cached(cache: OrderedDict, key: Any, size: int, make: Callable[[], Any]) -> Any:
    """``cache[key]``, made by ``make`` (outside the lock) when missing; the least recently used go past ``size``."""
    with _cache_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _cache_lock:
        cache[key] = value
        while len(cache) > size:
            cache.popitem(last=False)
    return value


def _known_pages(text: str) -> list[Any]:
    """The pages of the template of JSON ``text`` to recognise (none when another exam's template is broken: it
    never stops this one's reading)."""
    from pydantic import ValidationError

    from omr.read import known_pages
    from omr.template import Template

    try:
        return known_pages(Template.model_validate_json(text))
    except ValidationError:
        log.warning("another exam's template does not validate; its pages will not be named")
        return []


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def single_threaded_opencv() -> None:
    """One page per worker thread: OpenCV's own thread pool would only contend (call once per process)."""
    import cv2

    cv2.setNumThreads(1)


def warm_up() -> None:
    """Import the OMR stack and load its compiled Numba kernels now (a second or two at worker start), so a
    fresh worker's first job does not wait for them: a blank page is read against a bundled template."""
    import numpy as np

    import omr.batch  # noqa: F401
    import omr.overlay  # noqa: F401
    from omr.profile import ScannerProfile
    from omr.read import prepare_template, read_page
    from sample_sheets import resolve_template

    read_page(np.full((1169, 827), 255, np.uint8), prepare_template(resolve_template("cn-a4-55"), ScannerProfile()))


#: The reason of the error page a file that yields no page gets (every file shows up with a page; none vanishes).
NO_PAGE = "no page found in the file"


def error_page(source: str, page_index: int, reason: str) -> dict[str, Any]:
    """The record of a page that could not be read, carrying ``reason`` (what reading and the job queue store)."""
    from omr.result import PageResult

    result = PageResult(source=source, page_index=page_index, status="error", reasons=[reason])
    return {"page_index": page_index, "status": "error", "reasons": [reason], "student_id": None,
            "result": asdict(result), "overlay_jpeg": None}


#: Overlays are photos of scans with marks drawn on: JPEG at quality 90 encodes one in ~4 ms at ~240 KB, where
#: PNG took ~40 ms and 1.3 MB (scan noise does not compress losslessly).
OVERLAY_JPEG_QUALITY = 90


def overlay_jpeg(image, result, prepared) -> bytes | None:
    """The audit overlay of one read page as JPEG bytes (None if it cannot be drawn)."""
    import cv2

    from omr.overlay import draw_overlay

    try:
        ok, encoded = cv2.imencode(".jpg", draw_overlay(image, result, prepared),
                                   [cv2.IMWRITE_JPEG_QUALITY, OVERLAY_JPEG_QUALITY])
    except Exception:  # an overlay is a convenience for reviewers: the reading stands without it
        log.exception("overlay of %s page %d failed", result.source, result.page_index)
        return None
    return encoded.tobytes() if ok else None


def iter_file(path: str | Path, template_json: str | dict[str, Any], profile: Any = None, limits: Any = None, *,
              source: str | None = None, template_hash: str | None = None, overlays: bool = False,
              others: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """Read the pages of one stored file, yielding each page's record as soon as it is read.

    Only one page's image is alive at a time: a caller that stores or spools each record before asking for the
    next keeps memory bounded by one page, however many pages the file holds.

    Parameters
    ----------
    path : str or Path
        The file (a blob: its format is recognised from its bytes, never from a name).
    template_json : str or dict
        The exam's sheet template.
    profile : ScannerProfile or dict, optional
        Scanner decision parameters (defaults when omitted).
    limits : omr.load.LoadLimits, optional
        Size and page limits the file is read under (the service passes ``Settings.load_limits()``).
    source : str, optional
        The name the pages carry in their results: the uploaded file's name, not the blob path.
    template_hash : str, optional
        SHA-256 of ``template_json`` (saves hashing it again for the template cache).
    overlays : bool
        Draw an audit overlay for each flagged or error page that has an image. The service does not: the
        overlay route draws one when a reviewer first asks for it and keeps it.
    others : sequence of str
        JSON texts of other templates whose pages may turn up here (see :func:`prepared_template`).

    Yields
    ------
    dict
        One per page, in file order: ``page_index``, ``status`` (ok, flagged, error), ``reasons``,
        ``student_id``, ``result`` (:func:`omr.result.page_result_to_dict`) and ``overlay_jpeg`` (JPEG bytes
        or None). At least one; never raises for a bad file.
    """
    from omr.batch import decode_min_side_px
    from omr.load import LoadLimits, iter_pages
    from omr.read import read_page
    from omr.result import page_result_to_dict

    label = source if source is not None else str(path)
    next_index = 0
    try:
        prepared = prepared_template(template_json, template_hash, profile, others)
        # JPEGs decode at reduced size when they keep READ_DPI, as `yuejuan scan` does: much less work per page.
        for loaded in iter_pages(path, limits=limits or LoadLimits(),
                                 reduce_jpeg_to_min_px=decode_min_side_px(prepared.template)):
            next_index = loaded.page_index + 1
            if loaded.image is None:
                yield error_page(label, loaded.page_index, loaded.error or "unreadable page")
                continue
            try:
                result = read_page(loaded.image, prepared, source=label, page_index=loaded.page_index,
                                   full_size=loaded.full_size)
            except Exception as error:  # one bad page never stops the file; the reason goes to review
                log.exception("reading %s page %d failed", label, loaded.page_index)
                yield error_page(label, loaded.page_index, f"internal error reading page: {type(error).__name__}: {error}")
                continue
            overlay = overlay_jpeg(loaded.image, result, prepared) if overlays and result.status != "ok" else None
            del loaded  # the page's image goes now, not when the next page has been decoded
            yield {"page_index": result.page_index, "status": result.status, "reasons": list(result.reasons),
                   "student_id": result.student_id, "result": page_result_to_dict(result), "overlay_jpeg": overlay}
    except Exception as error:  # the template, the loader itself: still a page saying why, never a dead worker
        log.exception("reading %s failed", label)
        yield error_page(label, next_index, f"internal error reading file: {type(error).__name__}: {error}")
        return
    if next_index == 0:
        yield error_page(label, 0, NO_PAGE)


def read_file(path: str | Path, template_json: str | dict[str, Any], profile: Any = None, limits: Any = None, *,
              source: str | None = None, template_hash: str | None = None, overlays: bool = False,
              others: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every page record of one stored file as a list (:func:`iter_file`): what a Dask task returns.

    Importable by name with plain-data arguments and result, so Dask ships it to any worker. Local workers
    use :func:`iter_file` and store each page as it comes instead of holding them all.
    """
    return list(iter_file(path, template_json, profile, limits, source=source, template_hash=template_hash,
                          overlays=overlays, others=others))
