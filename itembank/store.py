"""A bank as one JSON file: :func:`save_bank` and :func:`load_bank` (size-bounded, validated, errors name the item).

The images of the bank's stems live in a folder beside it (``images/`` next to the JSON unless told otherwise:
:func:`default_image_folder`); the JSON holds their file names only.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from itembank.model import Bank, BankError

__all__ = ["MAX_BANK_BYTES", "load_bank", "save_bank", "bank_from_json", "default_image_folder", "json_object",
           "read_bounded"]

#: Largest bank file read: a 20 000-item bank is ~15 MB; a city's bank of a few hundred thousand items fits.
MAX_BANK_BYTES = 256 * 2**20


def json_object(data: dict | str | bytes, *, source: str, what: str) -> dict:
    """``data`` (JSON text, or a dict already) as a dict; :class:`BankError` naming ``source`` otherwise."""
    try:
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
    except json.JSONDecodeError as error:
        raise BankError(f"{source}: not valid JSON: line {error.lineno}: {error.msg}") from None
    if not isinstance(data, dict):
        raise BankError(f"{source}: {what} is a JSON object")
    return data


def read_bounded(path: str | Path, max_bytes: int, *, what: str) -> bytes:
    """A file's bytes, refused (:class:`BankError`) above ``max_bytes`` or when it cannot be read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise BankError(f"{path}: {size} bytes, over the {max_bytes} byte limit of {what}")
        return path.read_bytes()
    except OSError as error:
        raise BankError(f"cannot read {what} {path}: {error.strerror or error}") from None


def bank_from_json(text: str | bytes, *, source: str = "bank") -> Bank:
    """Validate a bank given as JSON text; :class:`BankError` naming the item and field when it is not one."""
    data = json_object(text, source=source, what='a bank (with "items")')
    try:
        return Bank.model_validate(data)
    except ValidationError as error:
        items = data.get("items") if isinstance(data.get("items"), list) else []
        raise BankError(f"{source}: {_item_errors(error, items)}") from None


def _item_errors(error: ValidationError, items: list) -> str:
    # "items.3.answer: ..." -> "item M0004 (items.3).answer: ...": the id is what a teacher finds in the bank
    lines = []
    for problem in error.errors():
        loc = list(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int) and loc[1] < len(items):
            item = items[loc[1]]
            name = item.get("id") if isinstance(item, dict) else None
            where = f"item {name} (items.{loc[1]})" if name else f"items.{loc[1]}"
            lines.append(f"{where}{'.' if loc[2:] else ''}{'.'.join(str(p) for p in loc[2:])}: {message}")
        else:
            lines.append(f"{'.'.join(str(p) for p in loc) or 'bank'}: {message}")
        if len(lines) >= 20:
            lines.append(f"... {len(error.errors()) - 20} more")
            break
    return "; ".join(lines)


def load_bank(path: str | Path) -> Bank:
    """Read and validate a bank JSON file (at most :data:`MAX_BANK_BYTES`)."""
    return bank_from_json(read_bounded(path, MAX_BANK_BYTES, what="a bank file"), source=str(path))


def save_bank(bank: Bank, path: str | Path) -> None:
    """Write ``bank`` as UTF-8 JSON, Chinese readable, one item per line (diffs stay small), atomically."""
    path = Path(path)
    head = bank.model_dump(mode="json", exclude={"items"})
    lines = [json.dumps(item.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)
             for item in bank.items]
    body = json.dumps(head, ensure_ascii=False)[:-1]
    text = body + (", " if head else "") + '"items": [\n' + ",\n".join(lines) + "\n]}\n"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def default_image_folder(bank_path: str | Path) -> Path:
    """Where a bank's stem images are unless told otherwise: ``images/`` beside the bank file."""
    return Path(bank_path).parent / "images"
