"""Hostile rosters and key workbooks uploaded to the service: refused with the limit named (422), in bounded
memory, by the same readers as the CLI (issue 15 finding 3)."""

from __future__ import annotations

from sample_sheets.hostile_tables import csv_trailing_commas, xlsx_declaring_huge

API = "/api/v1"


def test_roster_declaring_a_huge_sheet_is_refused_with_the_limit(client, city):
    response = client.post(f"{API}/students/import", headers=city.a.admin,
                           files={"file": ("名单.xlsx", xlsx_declaring_huge(), "application/octet-stream")})
    assert response.status_code == 422, response.text
    assert "limit 200000 rows" in response.json()["detail"]


def test_key_workbook_declaring_a_huge_sheet_is_refused_with_the_limit(client, city):
    response = client.post(f"{API}/exams/import", headers=city.a.admin,
                           files={"file": ("key.xlsx", xlsx_declaring_huge(), "application/octet-stream")})
    assert response.status_code == 422, response.text
    assert "limit 200000 rows" in response.json()["detail"]


def test_roster_row_with_300k_trailing_commas_is_read(client, city):
    response = client.post(f"{API}/students/import", headers=city.a.admin,
                           files={"file": ("名单.csv", csv_trailing_commas(300_000), "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
