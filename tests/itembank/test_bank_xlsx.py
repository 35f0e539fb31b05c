"""The bank's workbook: a round trip keeps everything (Chinese, ids as text, formula-looking text as text), every
bad row is named, and hostile or oversized files are refused by the importers' limits."""

from __future__ import annotations

import openpyxl
import pytest

from bank_builders import chinese_bank
from grading.tabular import TableLimits
from itembank.store import bank_from_json, load_bank, save_bank
from itembank.xlsx import BankImportError, read_bank_xlsx, write_bank_xlsx
from sample_sheets.hostile_tables import inline_cell, sheet_xml, xlsx_by_hand


def test_round_trip_keeps_every_item(tmp_path):
    bank = chinese_bank()
    write_bank_xlsx(bank, tmp_path / "bank.xlsx")
    assert read_bank_xlsx(tmp_path / "bank.xlsx") == bank


def test_ids_and_formula_looking_text_are_text_cells(tmp_path):
    write_bank_xlsx(chinese_bank(), tmp_path / "bank.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "bank.xlsx")["试题"]
    header = [cell.value for cell in sheet[1]]
    first = {name: sheet.cell(row=2, column=k + 1) for k, name in enumerate(header)}
    assert first["试题编号"].value == "0701003" and first["试题编号"].data_type == "s"
    assert first["题干"].value.startswith("=HYPERLINK(") and first["题干"].data_type == "s"
    assert first["选项C"].value == "=1+1" and first["选项C"].data_type == "s"
    assert first["使用记录"].value == "m2026-mid@2026-04-20:0701,0702"


def test_json_round_trip(tmp_path):
    bank = chinese_bank()
    save_bank(bank, tmp_path / "bank.json")
    assert load_bank(tmp_path / "bank.json") == bank
    assert "证明：三角形" in (tmp_path / "bank.json").read_text(encoding="utf-8")  # Chinese kept readable


def test_every_bad_row_is_named(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "试题"
    sheet.append(["试题编号", "科目", "题型", "题干", "选项A", "选项B", "答案", "分值"])
    sheet.append(["Q1", "数学", "单选", "一", "1", "2", "C", 5])       # answer not among A, B
    sheet.append(["Q2", "数学", "填图", "二", "", "", "", 5])          # unknown type
    sheet.append(["Q3", "数学", "单选", "三", "1", "2", "A", "五"])     # points not a number
    sheet.append(["T9", "数学", "判断", "四", "", "", "对", 2])
    sheet.append(["T9", "数学", "判断", "四", "", "", "错", 2])         # id twice
    sheet.append(["bad id!", "数学", "判断", "五", "", "", "T", 2])
    sheet.append(["Q6", "数学", "判断", "六\ue000", "", "", "T", 2])    # a private-use character
    workbook.save(tmp_path / "items.xlsx")
    with pytest.raises(BankImportError) as caught:
        read_bank_xlsx(tmp_path / "items.xlsx")
    errors = caught.value.errors
    assert len(errors) == 6
    assert errors[0] == "row 2 (Q1): answer 'C' is not among the options 'AB'"
    assert errors[1].startswith("row 3 (Q2): 题型 '填图' unknown")
    assert errors[2] == "row 4 (Q3): 分值 '五' is not a number"
    assert errors[3] == "row 6 (T9): 试题编号 T9 already on row 5"
    assert errors[4].startswith("row 7 (bad id!): 试题编号")
    assert errors[5].startswith("row 8 (Q6): 题干: contains a private-use character")


def test_an_oversized_workbook_is_refused_naming_the_limit(tmp_path):
    write_bank_xlsx(chinese_bank(), tmp_path / "bank.xlsx")
    with pytest.raises(BankImportError, match=r"limit 3 rows"):
        read_bank_xlsx(tmp_path / "bank.xlsx", limits=TableLimits(rows=3))


def test_a_zip_bomb_workbook_is_refused_before_parsing(tmp_path):
    padding = " " * (8 * 2**20)  # 8 MiB of white space inside the sheet XML: deflates ~1000:1
    rows = f'<row r="1">{inline_cell("A1", "试题编号")}</row>{padding}'
    (tmp_path / "bomb.xlsx").write_bytes(xlsx_by_hand(sheet_xml("A1", rows)))
    assert (tmp_path / "bomb.xlsx").stat().st_size < 100_000
    with pytest.raises(BankImportError, match="zip bomb"):
        read_bank_xlsx(tmp_path / "bomb.xlsx")


def test_a_bank_json_names_the_bad_item():
    text = '{"items": [{"id": "A1", "subject": "数学", "type": "single", "stem": "x", "options": {"A": "1"}, ' \
           '"answer": "Z"}]}'
    with pytest.raises(ValueError, match=r"item A1 \(items.0\): .*answer 'Z'"):
        bank_from_json(text)
