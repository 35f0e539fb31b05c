"""One question of a page, enlarged: the part of the audit overlay around the question's bubbles, so a reviewer
sees the flagged marks large beside the answer they type."""

from __future__ import annotations

import numpy as np

__all__ = ["question_box", "question_zoom_png"]

#: Room around the question's outermost bubbles, in bubble radii (the printed number and a little paper).
_MARGIN_RADII = 2.5
#: The zoomed crop's width in pixels (enlarged or shrunk to it).
_ZOOM_WIDTH = 480


def question_box(page, page_to_image: np.ndarray, question: str, shape: tuple[int, int]
                 ) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) in image pixels around the bubbles of ``question`` on ``page`` (a prepared template
    page), clipped to an image of ``shape`` (rows, columns); None when the page has no such question.

    The bubbles' centres are ``page.centres_mm`` in measuring order, group after group, as the reader and the
    overlay take them; ``page_to_image`` is the page's fitted homography (mm to pixels).
    """
    from omr.register import apply_homography

    start = 0
    for group in page.expanded.groups:
        count = len(group.bubbles)
        if group.id == question:
            centres = apply_homography(np.asarray(page_to_image, dtype=float), page.centres_mm[start:start + count])
            scale = float(np.sqrt(abs(np.linalg.det(np.asarray(page_to_image, dtype=float)[:2, :2]))))
            margin = _MARGIN_RADII * float(np.max(page.semi_axes_mm[start:start + count])) * scale
            x0, y0 = np.floor(centres.min(axis=0) - margin).astype(int)
            x1, y1 = np.ceil(centres.max(axis=0) + margin).astype(int)
            rows, columns = shape
            box = max(0, x0), max(0, y0), min(columns, x1), min(rows, y1)
            return box if box[2] > box[0] and box[3] > box[1] else None
        start += count
    return None


def question_zoom_png(image: np.ndarray, prepared, question: str, *, source: str, page_index: int
                      ) -> bytes | None:
    """The overlay of ``image`` (read again with ``prepared``) cropped around ``question`` and enlarged to
    :data:`_ZOOM_WIDTH` pixels, as PNG; None when the page cannot be read or has no such question."""
    import cv2

    from omr.overlay import draw_overlay
    from omr.read import read_page

    result = read_page(image, prepared, source=source, page_index=page_index)
    if result.page_to_image is None or result.page is None:
        return None
    page = prepared.pages[result.page - 1]
    box = question_box(page, np.asarray(result.page_to_image), question, image.shape[:2])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    crop = draw_overlay(image, result, prepared)[y0:y1, x0:x1]
    height = max(1, round(crop.shape[0] * _ZOOM_WIDTH / crop.shape[1]))
    crop = cv2.resize(crop, (_ZOOM_WIDTH, height), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".png", crop)
    return encoded.tobytes() if ok else None
