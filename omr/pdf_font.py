"""The Chinese font of every PDF yuejuan writes (answer sheets, reports, 错题本, papers, seat lists).

One search for PNG and PDF text (:func:`omr.render.cjk_font_candidates`): a real CJK TrueType font when one is
installed (WenQuanYi, Droid Sans Fallback, Microsoft YaHei, SimHei …; ``YUEJUAN_CJK_FONT`` names one explicitly),
else reportlab's built-in CID font ``STSong-Light``, which every PDF viewer with Adobe's Chinese fonts (or
poppler-data) can show.
"""

from __future__ import annotations

from functools import lru_cache

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

from omr.render import cjk_font_candidates as _font_candidates

__all__ = ["cjk_font_name", "CID_FALLBACK"]

CID_FALLBACK = "STSong-Light"
_TRUETYPE = "YuejuanCJK"


@lru_cache(maxsize=1)
def cjk_font_name() -> str:
    """Name of the registered reportlab font used for Chinese text.

    Returns
    -------
    str
        ``"YuejuanCJK"`` when a TrueType CJK font was found and registered, else ``"STSong-Light"``.
    """
    for path in _font_candidates():
        for index in range(4 if path.suffix.lower() == ".ttc" else 1):
            try:
                font = TTFont(_TRUETYPE, str(path), subfontIndex=index)
            except Exception:  # not TrueType, CFF outlines, unreadable, no such sub-font: try the next
                break
            if ord("答") in font.face.charToGlyph:
                pdfmetrics.registerFont(font)
                return _TRUETYPE
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return CID_FALLBACK
