"""Stem images: files in the bank's image folder, named by the item (``题干图片``), checked before anything uses them.

A stem image is referred to by its bare file name. It is refused, with the item named, when the name is not a
plain file name (a path, ``..``, a drive), when the file resolves outside the folder (a symbolic link out of it),
when its bytes are not a PNG or JPEG (read from its magic bytes, not its extension), when it is larger than
:attr:`ImageLimits.max_bytes`, or when its header declares more than :attr:`ImageLimits.max_pixels` (a pixel bomb:
a few KB declaring billions of pixels). Headers are parsed without decoding a pixel (:mod:`omr.load.header`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from itembank.model import Bank, BankError
from omr.load.header import open_header
from omr.load.limits import PageError
from omr.load.sniff import HEAD_BYTES, sniff_format

__all__ = ["ImageLimits", "DEFAULT_IMAGE_LIMITS", "IMAGE_SUFFIXES", "stem_image_path", "image_digest",
           "check_bank_images", "attach_images"]

#: Formats a stem image may have: what reportlab prints and every viewer shows.
_FORMATS = ("png", "jpeg")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_PLAIN_NAME = re.compile(r"^[^/\\:\x00]{1,255}$")


@dataclass(frozen=True)
class ImageLimits:
    """How big a stem image may be.

    Attributes
    ----------
    max_bytes : int
        Size of the file (a scanned figure at 300 dpi is well under 5 MB).
    max_pixels : int
        Width x height as declared in the header (a full A4 page at 600 dpi is 35 Mpx).
    """

    max_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000


DEFAULT_IMAGE_LIMITS = ImageLimits()


def stem_image_path(folder: str | Path, name: str, *, limits: ImageLimits = DEFAULT_IMAGE_LIMITS) -> Path:
    """The checked path of stem image ``name`` inside ``folder`` (see the module docstring for what is refused).

    Raises
    ------
    BankError
        With the reason, naming the file.
    """
    if not _PLAIN_NAME.match(name) or name in (".", "..") or name != name.strip():
        raise BankError(f"stem image {name!r}: give a file name inside the image folder, not a path")
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise BankError(f"stem image {name!r}: resolves outside the image folder {folder}")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise BankError(f"stem image {name!r}: not a file")
        if size > limits.max_bytes:
            raise BankError(f"stem image {name!r}: {size} bytes, over the {limits.max_bytes} byte limit")
        with open(path, "rb") as handle:
            kind = sniff_format(handle.read(HEAD_BYTES))
            if kind not in _FORMATS:
                raise BankError(f"stem image {name!r}: not a PNG or JPEG image")
            handle.seek(0)
            try:
                width, height = open_header(handle, kind).size
            except PageError as error:
                raise BankError(f"stem image {name!r}: {error}") from None
    except FileNotFoundError:
        raise BankError(f"stem image {name!r}: no such file in {folder}") from None
    except OSError as error:
        raise BankError(f"stem image {name!r}: cannot read it: {error.strerror or error}") from None
    if width <= 0 or height <= 0 or width * height > limits.max_pixels:
        raise BankError(f"stem image {name!r}: declares {width}x{height} pixels, over the "
                        f"{limits.max_pixels / 1e6:g} Mpx limit (a pixel bomb?)")
    return path


def image_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (exact image duplicates share it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_bank_images(bank: Bank, folder: str | Path | None, *,
                      limits: ImageLimits = DEFAULT_IMAGE_LIMITS) -> tuple[dict[str, Path], list[str]]:
    """Every stem image the bank names, checked: (item id -> path of the good ones, one problem per bad one)."""
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for item in bank.items:
        if not item.stem_image:
            continue
        if folder is None:
            problems.append(f"item {item.id}: stem image {item.stem_image!r} but no image folder given")
            continue
        try:
            paths[item.id] = stem_image_path(folder, item.stem_image, limits=limits)
        except BankError as error:
            problems.append(f"item {item.id}: {error}")
    return paths, problems


def attach_images(bank: Bank, folder: str | Path) -> tuple[Bank, list[str]]:
    """Items without a stem image get the folder's ``<item id>.png`` / ``.jpg`` / ``.jpeg`` when there is one.

    Returns the bank with those names set and the ids that got one.
    """
    names = {path.name for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES}
    items, attached = [], []
    for item in bank.items:
        found = next((item.id + s for s in (*IMAGE_SUFFIXES, ".PNG", ".JPG", ".JPEG") if item.id + s in names), None)
        if item.stem_image is None and found is not None:
            item = item.model_copy(update={"stem_image": found})
            attached.append(item.id)
        items.append(item)
    return bank.model_copy(update={"items": items}), attached
