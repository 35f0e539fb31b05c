"""The raster rendering and the pixel geometry agree: what geometry reports is where the ink is."""

from __future__ import annotations

import numpy as np
import pytest

from omr.geometry import MM_PER_INCH, mm_to_px, page_shape_px, template_geometry
from omr.render import render_page
from omr.template import Template, decode_identity, expand_page, parse_template
from sample_sheets import resolve_template

DPIS = (150, 200, 300)
DARK, WHITE = 128, 200



def _pages(template: Template, dpi: float):
    geometry = template_geometry(template, dpi)
    for page_geometry in geometry["pages"]:
        image = render_page(expand_page(template, page_geometry["page"]), dpi)
        yield page_geometry, image


def _outline_darkness(image: np.ndarray, bubbles: list[dict]) -> np.ndarray:
    """Darkest pixel within +-1 px of each bubble's outline at centre +- radius, in 4 directions (n x 4)."""
    centres = np.array([b["center"] for b in bubbles])
    radii = np.array([b["radius"] for b in bubbles])
    out = []
    for sx, sy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        xs = np.rint(centres[:, 0] + sx * radii[:, 0]).astype(int)
        ys = np.rint(centres[:, 1] + sy * radii[:, 1]).astype(int)
        samples = [image[ys + d * abs(sy), xs + d * abs(sx)] for d in (-1, 0, 1)]
        out.append(np.min(samples, axis=0))
    return np.stack(out, axis=1)


@pytest.fixture(scope="module", params=["cn-a4-55", "cn-a3-100"])
def template(request) -> Template:
    return resolve_template(request.param)


@pytest.mark.parametrize("dpi", DPIS)
def test_image_has_physical_page_size(template: Template, dpi: int):
    width_mm, height_mm = template.page_mm
    expected = (round(height_mm * dpi / MM_PER_INCH), round(width_mm * dpi / MM_PER_INCH))
    for page_geometry, image in _pages(template, dpi):
        assert image.dtype == np.uint8
        assert image.shape == expected
        assert image.shape == page_shape_px(width_mm, height_mm, dpi)
        assert page_geometry["size_px"] == [expected[1], expected[0]]


@pytest.mark.parametrize("dpi", DPIS)
def test_bubble_outlines_lie_at_reported_radius(template: Template, dpi: int):
    for page_geometry, image in _pages(template, dpi):
        bubbles = page_geometry["bubbles"]
        assert bubbles
        darkness = _outline_darkness(image, bubbles)
        bad = [(bubbles[i]["group"], bubbles[i]["label"]) for i in np.flatnonzero(darkness.max(axis=1) >= DARK)]
        assert not bad, f"page {page_geometry['page']} at {dpi} dpi: no outline at the radius of {bad[:5]}"


@pytest.mark.parametrize(
    "name", ["cn-a4-55", "cn-a3-100"],
)
def test_paper_is_white_just_outside_every_bubble(name: str):
    # Nothing else (question numbers, headings) may be printed within 0.6 mm of a bubble: OMR would read it.
    template = resolve_template(name)
    dpi = 200
    gap = 0.6 * dpi / MM_PER_INCH
    for page_geometry, image in _pages(template, dpi):
        bad = []
        for bubble in page_geometry["bubbles"]:
            (cx, cy), (rx, ry) = bubble["center"], bubble["radius"]
            for sx, sy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                value = image[int(round(cy + sy * (ry + gap))), int(round(cx + sx * (rx + gap)))]
                if value < WHITE:
                    bad.append(f"{bubble['group']}/{bubble['label']}")
        assert not bad, f"page {page_geometry['page']}: ink next to {sorted(set(bad))[:8]}"


@pytest.mark.parametrize("dpi", DPIS)
def test_anchors_black_inside_white_outside(template: Template, dpi: int):
    margin = max(2.0, 0.4 * dpi / MM_PER_INCH)  # px beyond the anchor's edge
    for page_geometry, image in _pages(template, dpi):
        assert len(page_geometry["anchors"]) >= 4
        for anchor in page_geometry["anchors"]:
            cx, cy = anchor["center"]
            assert image[int(round(cy)), int(round(cx))] < 60, anchor
            half = anchor["size"] / 2
            # well inside the square along both axes: still black
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                inside = image[int(round(cy + dy * (half - margin))), int(round(cx + dx * (half - margin)))]
                outside = image[int(round(cy + dy * (half + margin))), int(round(cx + dx * (half + margin)))]
                assert inside < 60, (anchor["id"], dx, dy)
                assert outside > WHITE, (anchor["id"], dx, dy)


@pytest.mark.parametrize("dpi", DPIS)
def test_identity_cells_print_their_bits(template: Template, dpi: int):
    for page_geometry, image in _pages(template, dpi):
        cells = page_geometry["identity"]
        read = []
        for cell in cells:
            # rect entries are in pixel-edge units: the centre pixel is at edge + w/2 - 0.5
            cx, cy = cell["x"] + cell["w"] / 2 - 0.5, cell["y"] + cell["h"] / 2 - 0.5
            value = image[int(round(cy)), int(round(cx))]
            if cell["bit"]:
                assert value < 60, cell
            else:
                assert value > WHITE, cell
            read.append(int(value < DARK))
        assert decode_identity(read) == (template.identity_code, page_geometry["page"])


def test_geometry_is_mm_scaled_consistently():
    template = resolve_template("cn-a4-55")
    page = expand_page(template, 1)
    for dpi in DPIS:
        geometry = template_geometry(template, dpi)["pages"][0]
        for (group, bubble), entry in zip(page.bubbles, geometry["bubbles"]):
            assert entry["group"] == group.id and entry["label"] == bubble.label
            assert entry["center"][0] == pytest.approx(mm_to_px(bubble.x, dpi), abs=0.01)
            assert entry["center"][1] == pytest.approx(mm_to_px(bubble.y, dpi), abs=0.01)
            assert entry["radius"][0] == pytest.approx(bubble.width / 2 * dpi / MM_PER_INCH, abs=0.01)


def _shapes_template() -> Template:
    """Circle and L-corner anchors plus rectangular bubbles, which the bundled sheets do not use."""
    return parse_template({
        "id": "shapes",
        "page_size": {"width_mm": 150, "height_mm": 100},
        "pages": [{
            "anchors": [
                {"id": "tl", "shape": "l_corner", "corner": "tl", "x": 10, "y": 10, "size": 6},
                {"id": "tr", "shape": "circle", "x": 140, "y": 10, "size": 5},
                {"id": "bl", "shape": "circle", "x": 10, "y": 90, "size": 5},
                {"id": "br", "shape": "l_corner", "corner": "br", "x": 140, "y": 90, "size": 6},
            ],
            "identity": {"x": 30, "y": 10},
            "fields": [{"kind": "choice_block", "id": "q", "first": 1, "count": 6, "options": "ABC",
                        "x": 30, "y": 40, "rows": 3, "column_pitch": 50,
                        "bubble": {"shape": "rect", "width": 5, "height": 3.5}}],
        }],
    })


@pytest.mark.parametrize("dpi", DPIS)
def test_other_shapes_agree_with_geometry(dpi: int):
    template = _shapes_template()
    (page_geometry, image), = list(_pages(template, dpi))
    assert _outline_darkness(image, page_geometry["bubbles"]).max() < DARK
    scale = dpi / MM_PER_INCH
    anchors = {a["id"]: a for a in page_geometry["anchors"]}
    for name in ("tr", "bl"):  # circles: black centre, white beyond the radius
        cx, cy = anchors[name]["center"]
        assert image[int(round(cy)), int(round(cx))] < 60
        assert image[int(round(cy)), int(round(cx + anchors[name]["size"] / 2 + 2))] > WHITE
    # L corners: the elbow's corner is black, the opposite quarter of the bounding box is paper
    arm = 6 / 3 * scale
    for name, sign in (("tl", -1), ("br", 1)):
        cx, cy = anchors[name]["center"]
        half = anchors[name]["size"] / 2
        ex, ey = cx + sign * (half - arm / 2), cy + sign * (half - arm / 2)
        assert image[int(round(ey)), int(round(ex))] < 60, name
        ox, oy = cx - sign * half / 2, cy - sign * half / 2
        assert image[int(round(oy)), int(round(ox))] > WHITE, name
