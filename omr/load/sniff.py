"""Recognise a file's format by its magic bytes (never its extension) and collect the files of a batch."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["HEAD_BYTES", "SUPPORTED_FORMATS", "collect_inputs", "describe_unrecognised", "sniff_format"]

#: Formats :func:`sniff_format` recognises.
SUPPORTED_FORMATS = ("jpeg", "png", "bmp", "tiff", "pdf")

#: Bytes read from the start of a file to recognise its format (a PDF header may start up to 1024 bytes in).
HEAD_BYTES = 2048

_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}

#: Formats recognised only to give a clearer reason when they are refused.
_UNSUPPORTED_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (0, b"\xffO\xffQ", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"PK\x03\x04", "ZIP archive (or Office document)"),
    (0, b"\x1f\x8b", "gzip archive"),
    (0, b"Rar!\x1a\x07", "RAR archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document"),
    (0, b"II\xbc", "JPEG XR"),
)


def sniff_format(head: bytes) -> str | None:
    """Recognise a supported format from the first bytes of a file.

    Parameters
    ----------
    head : bytes
        The start of the file; 2048 bytes recognise every supported format (a PDF header may be preceded
        by up to 1024 bytes of junk, which poppler tolerates).

    Returns
    -------
    str or None
        ``"jpeg"``, ``"png"``, ``"bmp"``, ``"tiff"`` or ``"pdf"``; ``None`` for anything else.
    """
    head = bytes(head[:HEAD_BYTES])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic TIFF and BigTIFF
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if b"%PDF-" in head[:1024 + 5]:
        return "pdf"
    return None


def describe_unrecognised(head: bytes) -> str:
    """The reason given for a file that :func:`sniff_format` does not accept."""
    if not head:
        return "empty file (0 bytes)"
    for offset, magic, name in _UNSUPPORTED_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return f"unsupported format: {name} (supported: JPEG, PNG, BMP, TIFF, PDF)"
    if head[4:8] == b"ftyp":
        return "unsupported format: HEIF/AVIF/MP4 container (supported: JPEG, PNG, BMP, TIFF, PDF)"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "unsupported format: WebP (supported: JPEG, PNG, BMP, TIFF, PDF)"
    return f"not an image or PDF (starts with {head[:16]!r})"


def _natural_key(path: Path) -> tuple:
    """Sort key comparing runs of digits by value, so ``scan2`` sorts before ``scan10``."""
    parts = re.split(r"(\d+)", path.as_posix())
    return tuple((0, int(p), p) if p.isdigit() else (1, p.casefold(), p) for p in parts)


def _sniff_file(path: Path) -> tuple[str | None, str | None]:
    """(format, None) for a readable supported file, else (None, reason)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size == 0:
            return None, "empty file (0 bytes)"
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as error:
        return None, f"cannot read file: {error.strerror or error}"
    fmt = sniff_format(head)
    return (fmt, None) if fmt else (None, describe_unrecognised(head))


def collect_inputs(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into the list of files to read.

    Files are taken as given; folders are walked recursively (symbolic links to folders are not followed)
    and their files sorted in natural order (``p2`` before ``p10``). Inputs keep their given order; a file
    reached twice is kept once. Each file is recognised by its magic bytes (see :func:`sniff_format`).

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders.

    Returns
    -------
    accepted : list of Path
        Files in a supported format, in reading order.
    rejected : list of (Path, str)
        Every other file (and every input that does not exist) with the reason it was refused.
    """
    accepted: list[Path] = []
    rejected: list[tuple[Path, str]] = []
    seen: set[str] = set()

    def consider(file: Path) -> None:
        try:
            key = str(file.resolve())
        except (OSError, RuntimeError):
            key = os.path.abspath(file)
        if key in seen:
            return
        seen.add(key)
        fmt, reason = _sniff_file(file)
        if fmt:
            accepted.append(file)
        else:
            rejected.append((file, reason or "unreadable"))

    for given in paths:
        root = Path(given)
        if root.is_dir():
            found: list[Path] = []
            def unlistable(error: OSError, root: Path = root) -> None:
                rejected.append((Path(error.filename or root), f"cannot list folder: {error.strerror}"))

            for folder, dirs, files in os.walk(root, onerror=unlistable):
                dirs.sort()
                found.extend(Path(folder) / name for name in files)
            for file in sorted(found, key=lambda p: _natural_key(p.relative_to(root))):
                consider(file)
        elif root.exists() or root.is_symlink():
            consider(root)
        else:
            rejected.append((root, "no such file or directory"))
    return accepted, rejected
