"""Audit overlay: the page with what OMR read drawn on it, for a person checking a reading."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from omr.read import PreparedTemplate
from omr.reason_text import reason_zh
from omr.register import anchor_reference_point, apply_homography
from omr.render import cjk_font, cjk_font_path
from omr.result import PageResult

__all__ = ["draw_overlay"]

_GREEN, _RED, _ORANGE, _BLUE = (40, 160, 40), (30, 30, 220), (0, 140, 255), (200, 90, 0)


def draw_overlay(image: np.ndarray, result: PageResult, prepared: PreparedTemplate) -> np.ndarray:
    """A BGR copy of ``image`` annotated with ``result``.

    Filled bubbles are ringed green, uncertain ones orange, and every bubble of a ``multiple`` question red;
    anchors get a blue cross; the page status and reasons are written at the top.
    """
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    status_colour = _GREEN if result.status == "ok" else (_ORANGE if result.status == "flagged" else _RED)
    if result.page_to_image is not None and result.page is not None:
        matrix = np.asarray(result.page_to_image)
        page = prepared.pages[result.page - 1]
        centres = apply_homography(matrix, page.centres_mm)
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
        readings = _bubble_readings(result, page)
        for (cx, cy), (rx, _), state in zip(centres, page.semi_axes_mm, readings):
            if state is None:
                continue
            colour = {"filled": _GREEN, "uncertain": _ORANGE, "multiple": _RED}[state]
            radius = max(3, int(rx * scale * 1.25))
            cv2.circle(canvas, (int(round(cx)), int(round(cy))), radius, colour, 2 if state == "filled" else 3)
        anchors = np.array([anchor_reference_point(a) for a in page.expanded.anchors])
        for ax, ay in apply_homography(matrix, anchors):
            size = int(3 * scale)
            cv2.drawMarker(canvas, (int(ax), int(ay)), _BLUE, cv2.MARKER_CROSS, size, 2)
    _banner(canvas, result, status_colour)
    return canvas


_STATUS_ZH = {"ok": "正常", "flagged": "待复核", "unreadable": "无法识别"}
_BANNER_CHARS = 120


def _banner(canvas: np.ndarray, result: PageResult, colour: tuple[int, int, int]) -> None:
    """The page's status, 考号 and reasons across the top: in Chinese where a CJK font is installed (teachers read
    the overlay), else in OpenCV's ASCII font with the stable English reasons."""
    reasons = "; ".join(result.reasons)
    if cjk_font_path() is None:
        text = f"{result.status.upper()} {result.student_id or ''} {reasons}"
        cv2.putText(canvas, text[:_BANNER_CHARS], (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)
        return
    status = _STATUS_ZH.get(result.status, result.status)
    student = f"考号 {result.student_id}" if result.student_id else ""
    text = "  ".join(part for part in (status, student, reason_zh(reasons) if reasons else "") if part)
    em_px = max(14, canvas.shape[1] // 70)  # legible at the review page's width on any scan resolution
    font = cjk_font(em_px)
    left, top, right, bottom = font.getbbox(text[:_BANNER_CHARS])
    band = Image.fromarray(np.ascontiguousarray(canvas[: bottom + em_px // 2, : min(canvas.shape[1], right + 20)]))
    ImageDraw.Draw(band).text((10, em_px // 4), text[:_BANNER_CHARS], font=font, fill=colour)
    canvas[: band.height, : band.width] = np.asarray(band)


def _bubble_readings(result: PageResult, page) -> list[str | None]:
    """Per bubble in measuring order: filled, uncertain, multiple or None (empty)."""
    states: list[str | None] = []
    id_marks = iter(result.id_grid or "")
    for group in page.expanded.groups:
        reading = result.questions.get(group.id)
        if reading is not None:
            for bubble in group.bubbles:
                if bubble.label in reading.uncertain:
                    states.append("uncertain")
                elif bubble.label in reading.marked:
                    states.append("multiple" if reading.status == "multiple" else "filled")
                else:
                    states.append(None)
        elif group.kind == "id_column" and group.role == "student_id":
            digit = next(id_marks, " ")
            for bubble in group.bubbles:
                states.append("uncertain" if digit == "?" else ("filled" if bubble.label == digit else None))
        else:
            states.extend([None] * len(group.bubbles))
    return states
