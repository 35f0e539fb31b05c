"""Answer crops of a whole sheet: a region that runs across columns or onto the next page is cut part by part on
its pages (:func:`omr.read.read_page` writes each part) and stitched here into one crop, parts in reading order,
for marking."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from omr.template import Template, region_parts

__all__ = ["stitch_crops", "stitch_sheet_crops", "STITCH_GAP_PX"]

#: White rows between stitched parts, so a marker sees where one part ends.
STITCH_GAP_PX = 4


def stitch_crops(parts: Sequence[np.ndarray], gap_px: int = STITCH_GAP_PX) -> np.ndarray:
    """Gray crops stacked top to bottom in the order given, narrower ones padded with paper on the right."""
    if not parts:
        raise ValueError("no crops to stitch")
    width = max(part.shape[1] for part in parts)
    rows: list[np.ndarray] = []
    for index, part in enumerate(parts):
        if index:
            rows.append(np.full((gap_px, width), 255, np.uint8))
        rows.append(np.pad(part, ((0, 0), (0, width - part.shape[1])), constant_values=255))
    return np.vstack(rows)


def stitch_sheet_crops(template: Template, crops: dict[str, str], out_dir: str | Path, stem: str) -> dict[str, str]:
    """Stitch the part crops of every multi-part answer region of one sheet.

    Parameters
    ----------
    template : Template
    crops : dict
        Rectangle id -> crop file, from the sheet's pages (``PageResult.crops`` merged).
    out_dir, stem : path, str
        The stitched crop of region ``r`` is written to ``out_dir/{stem}_{r}.png``.

    Returns
    -------
    dict
        Region id -> stitched file, for the regions whose parts were all cropped (a missing page leaves its region
        out: its parts stay as they are).
    """
    stitched: dict[str, str] = {}
    for region, parts in region_parts(template).items():
        if len(parts) < 2 or not all(rect.id in crops for _, rect in parts):
            continue
        images = [cv2.imread(crops[rect.id], cv2.IMREAD_GRAYSCALE) for _, rect in parts]
        if any(image is None for image in images):
            continue
        path = Path(out_dir) / f"{stem}_{region}.png"
        cv2.imwrite(str(path), stitch_crops(images))
        stitched[region] = str(path)
    return stitched
