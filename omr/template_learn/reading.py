"""The reading order of a page's fields: columns of the page left to right, top to bottom in each.

A multi-column card (A3 in three columns) is read down its first column, then the next. The page's columns are
the groups of fields whose extents across the page overlap, directly or through a third: a gutter no field
crosses, from the top of the page's fields to their bottom, separates two columns. Inside a column, fields whose
tops lie within ``_BAND_MM`` are one band (blocks side by side, read left to right), bands top to bottom. A card
laid out in one column, or with a field across its whole width, is read in bands, as before there were columns.
"""

from __future__ import annotations

from omr.template_learn.grouping import (FoundChoiceBlock, FoundChooser, FoundField, FoundGrid, FoundMark,
                                         FoundScoreBox, bands)
from omr.template_learn.guide import FoundGuide

__all__ = ["extent", "page_columns", "reading_order"]

_BAND_MM = 3.0


def _span(x: float, y: float, across: float, down: float, width: float, height: float
          ) -> tuple[float, float, float, float]:
    return x - width / 2, y - height / 2, x + across + width / 2, y + down + height / 2


def extent(item: FoundField | FoundGuide) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in mm of the bubbles (or box) of a found field."""
    if isinstance(item, FoundGuide):
        if item.box is not None:
            x, y, w, h = item.box
            return x, y, x + w, y + h
        xs, ys = [b.x for b in item.examples], [b.y for b in item.examples]
        return (min(xs) - item.width / 2, min(ys) - item.height / 2, max(xs) + item.width / 2,
                max(ys) + item.height / 2)
    style = item.style
    if isinstance(item, FoundChoiceBlock):
        columns, rows = -(-item.count // item.rows), min(item.rows, item.count)
        along = (columns - 1) * item.column_pitch + (len(item.options) - 1) * item.option_pitch
        if item.direction == "down":
            return _span(item.x, item.y, (rows - 1) * item.row_pitch, along, style.width, style.height)
        return _span(item.x, item.y, along, (rows - 1) * item.row_pitch, style.width, style.height)
    if isinstance(item, FoundGrid):
        labels, columns = (len(item.labels) - 1) * item.row_pitch, (item.columns - 1) * item.column_pitch
        if item.direction == "across":
            return _span(item.x, item.y, labels, columns, style.width, style.height)
        return _span(item.x, item.y, columns, labels, style.width, style.height)
    if isinstance(item, FoundScoreBox):
        widest = max(len(labels) for labels in item.digit_labels)
        rows = len(item.digit_labels) + (1 if item.half else 0)
        return _span(item.x, item.y, (widest - 1) * item.option_pitch, (rows - 1) * item.row_pitch, style.width,
                     style.height)
    if isinstance(item, FoundChooser):
        return _span(item.x, item.y, (item.count - 1) * item.option_pitch, 0.0, style.width, style.height)
    assert isinstance(item, FoundMark)
    return _span(item.x, item.y, 0.0, 0.0, style.width, style.height)


def page_columns(fields: list) -> list[list]:
    """The page's columns, left to right: fields whose extents across the page overlap, through one another."""
    columns: list[list] = []
    right = float("-inf")
    for item in sorted(fields, key=lambda f: extent(f)[0]):
        left, _, item_right, _ = extent(item)
        if columns and left <= right:
            columns[-1].append(item)
            right = max(right, item_right)
        else:
            columns.append([item])
            right = item_right
    return columns


def reading_order(fields: list) -> list:
    """``fields`` in reading order (see the module notes)."""
    return [item for column in page_columns(fields) for band in bands(column, lambda f: extent(f)[1], _BAND_MM)
            for item in sorted(band, key=lambda f: extent(f)[0])]
