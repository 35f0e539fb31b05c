"""Charts drawn on the server as SVG (no script, no library): the pages embed them as they are.

Presentation attributes only (no ``style``), so they pass the pages' Content-Security-Policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bars_svg"]

_W, _H, _LEFT, _BOTTOM, _TOP = 640, 260, 44, 52, 16


def _frame(title: str, peak: float) -> tuple[list[str], float]:
    top = max(1.0, peak)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" class="chart" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{_W - 8}" y2="{_H - _BOTTOM}" stroke="#666"/>']
    for k in range(5):
        value = top * k / 4
        y = _H - _BOTTOM - (_H - _BOTTOM - _TOP) * k / 4
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - 8}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value:.3g}</text>')
    return parts, top


def bars_svg(labels: Sequence[str], values: Sequence[float], title: str, *, limit: float | None = None,
             fmt: str = "{:g}") -> str:
    """A bar chart of ``values`` named by ``labels`` (each value written above its bar); the axis runs to
    ``limit`` when given (a score rate to 1, a mean to full marks), else to the largest value."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    parts, top = _frame(title, limit if limit is not None else max(finite, default=1.0))
    n = max(1, len(values))
    slot = (_W - 8 - _LEFT) / n
    width = min(max(2.0, slot * 0.7), 80.0)
    for i, (label, value) in enumerate(zip(labels, values)):
        x = _LEFT + slot * i + (slot - width) / 2
        shown = value if value is not None and math.isfinite(value) else 0.0
        height = (_H - _BOTTOM - _TOP) * min(shown, top) / top
        y = _H - _BOTTOM - height
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="#3b73b9">'
                     f'<title>{escape(label)}: {escape(fmt.format(shown))}</title></rect>')
        parts.append(f'<text x="{x + width / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="10">'
                     f'{escape(fmt.format(shown))}</text>')
        parts.append(f'<text x="{x + width / 2:.1f}" y="{_H - _BOTTOM + 14}" text-anchor="end" font-size="10" '
                     f'transform="rotate(-30 {x + width / 2:.1f} {_H - _BOTTOM + 14})">{escape(label[:16])}</text>')
    parts.append("</svg>")
    return "".join(parts)
