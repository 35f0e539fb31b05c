"""The one rule for text people type (names, class names, reasons): printable, well-formed, within its column.

Every way text enters yuejuan (a roster workbook, a CSV, a JSON request) goes through :func:`clean_text`, so a
NUL in a student's name is refused where it arrives, with the row or field that holds it, rather than failing
later in grading, a database driver or a workbook writer.
"""

from __future__ import annotations

import unicodedata

__all__ = ["clean_text", "text_problem"]

#: Unicode categories refused in people's text: controls (Cc: NUL, ESC, DEL …), unpaired surrogates (Cs),
#: unassigned code points (Cn), private use (Co). Format characters (Cf: zero-width joiners in names) are kept.
_REFUSED_CATEGORIES = {"Cc": "a control character", "Cs": "an unpaired surrogate", "Cn": "an unassigned character",
                       "Co": "a private-use character"}


def text_problem(value: str, *, max_length: int | None = None, multiline: bool = False) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is.

    Parameters
    ----------
    value : str
        The text as received (after the caller's own stripping, if any).
    max_length : int, optional
        The most characters the text may have (the database column's length).
    multiline : bool
        Allow line feeds and tabs (free-text reasons and comments), which are controls too.
    """
    if max_length is not None and len(value) > max_length:
        return f"longer than {max_length} characters ({len(value)})"
    for position, char in enumerate(value):
        if multiline and char in "\n\t":
            continue
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            return f"contains {_REFUSED_CATEGORIES[category]} (U+{ord(char):04X}) at position {position + 1}"
    return None


def clean_text(value: str, *, field: str, max_length: int | None = None, multiline: bool = False) -> str:
    """``value`` stripped of surrounding white space and normalised to NFC; ValueError naming ``field`` if it
    holds a control character, an unpaired surrogate, an unassigned or private-use character, or is too long.
    """
    text = unicodedata.normalize("NFC", value.strip())  # a lone surrogate passes through: text_problem names it
    problem = text_problem(text, max_length=max_length, multiline=multiline)
    if problem is not None:
        raise ValueError(f"{field}: {problem}")
    return text

