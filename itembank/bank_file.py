"""Reading a bank JSON file and finding an item's stem image in the bank's image folder, within limits.

A bank is a teacher's file: it is refused with the file and reason named (too large, not JSON, not a bank), and an
image name that leaves the image folder, a missing file or a picture too large to print gives a reason instead of
a path, so the caller prints the stem without it and says why.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from pydantic import ValidationError

from itembank.model import Bank

__all__ = ["read_bank_json", "stem_image", "MAX_BANK_BYTES", "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS"]

MAX_BANK_BYTES = 256 * 1024 * 1024
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 25_000_000  # a stem figure; a 300 dpi A4 page is 8.7 Mpx
_IMAGE_FORMATS = {"PNG", "JPEG", "GIF"}


def read_bank_json(path: str | Path) -> Bank:
    """The :class:`Bank` in a JSON file; ValueError naming the file when it is missing, too large or not a bank."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: item bank file not found")
    size = path.stat().st_size
    if size > MAX_BANK_BYTES:
        raise ValueError(f"{path}: {size} bytes, an item bank file is at most {MAX_BANK_BYTES} bytes")
    try:
        return Bank.model_validate_json(path.read_bytes())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise ValueError(f"{path}: not a usable item bank: {where + ': ' if where else ''}{first.get('msg')}"
                         + (f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else "")) from None


def stem_image(image_dir: str | Path | None, name: str | None) -> tuple[Path | None, str]:
    """(path, problem): the image file ``name`` inside ``image_dir`` when it can be printed, else None and why
    (Chinese, for the page). No name: (None, '')."""
    if not name:
        return None, ""
    if image_dir is None:
        return None, f"题干图片 {name} 未提供(没有题库图片文件夹)"
    from PIL import Image, UnidentifiedImageError

    folder = Path(image_dir).resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        return None, f"题干图片 {name} 不在题库图片文件夹内,未使用"
    if not path.is_file():
        return None, f"题干图片 {name} 缺失"
    if path.stat().st_size > MAX_IMAGE_BYTES:
        return None, f"题干图片 {name} 过大,未使用"
    try:
        with warnings.catch_warnings():  # Pillow warns of (or refuses) a decompression bomb: ours is the limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                if image.format not in _IMAGE_FORMATS:
                    return None, f"题干图片 {name} 格式不支持({image.format})"
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    return None, f"题干图片 {name} 像素过多,未使用"
    except Image.DecompressionBombError:
        return None, f"题干图片 {name} 像素过多,未使用"
    except (UnidentifiedImageError, OSError):
        return None, f"题干图片 {name} 无法读取"
    return path, ""
