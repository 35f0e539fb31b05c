"""The server-drawn SVG charts: text escaped, bars in proportion, nothing a strict CSP would refuse."""

from __future__ import annotations

import re

from api.web.charts import bars_svg


def _heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', svg)]


def test_bars_are_in_proportion_to_their_values_up_to_the_limit():
    svg = bars_svg(["甲", "乙", "丙"], [0.25, 0.5, 1.0], "得分率", limit=1.0, fmt="{:.0%}")
    low, mid, high = _heights(svg)
    assert abs(mid - 2 * low) < 0.2 and abs(high - 4 * low) < 0.2
    assert ">25%<" in svg and ">100%<" in svg
    assert "style=" not in svg and "<script" not in svg


def test_labels_and_titles_are_escaped():
    svg = bars_svg(['<script>alert(1)</script>', 'a"b'], [1, 2], '<b>标题</b>')
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "a&quot;b" in svg


def test_missing_values_draw_empty_bars():
    assert _heights(bars_svg(["a", "b"], [None, float("nan")], "空")) == [0.0, 0.0]
