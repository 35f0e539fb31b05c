"""The school list a bureau hands in (学校名单): 学校标识码 and 学校名称, so that reports name schools, not codes."""

from __future__ import annotations

from pathlib import Path

from grading.roster import validate_school_code
from grading.tabular import TableError, find_columns, read_table
from grading.text import text_problem

__all__ = ["load_school_names"]

_COLUMNS = {"code": ("学校标识码", "学校代码", "school code", "school_code"),
            "name": ("学校名称", "学校", "school name", "school_name")}


def load_school_names(path: str | Path) -> tuple[tuple[str, str], ...]:
    """(code, name) pairs from a CSV or xlsx with 学校标识码 and 学校名称 columns; every bad row is refused with its
    row number (:class:`grading.tabular.TableError`)."""
    table = read_table(path, sheet_names=("学校名单", "学校"), what="学校名单")
    columns = find_columns(table.header, _COLUMNS)
    missing = [_COLUMNS[key][0] for key in ("code", "name") if key not in columns]
    if missing:
        raise TableError(f"学校名单 {Path(path).name}", [f"row 1: no {name} column" for name in missing])
    pairs: dict[str, str] = {}
    errors: list[str] = []
    for number, row in table.rows:
        code, name = table.cell(row, columns["code"]), table.cell(row, columns["name"])
        if not code and not name:
            continue
        try:
            code = validate_school_code(code)
        except ValueError as error:
            errors.append(f"row {number}: {error}")
            continue
        problem = "is empty" if not name else text_problem(name, max_length=100)
        if problem:
            errors.append(f"row {number}: 学校名称 {problem}")
        elif pairs.setdefault(code, name) != name:
            errors.append(f"row {number}: school {code} named twice ({pairs[code]}, {name})")
    if errors:
        raise TableError(f"学校名单 {Path(path).name}", errors)
    return tuple(pairs.items())
