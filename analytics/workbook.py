"""xlsx reports (written by XlsxWriter, with native charts): the class report, the grade (school) report comparing
classes and the city report comparing schools.

Every sheet has a frozen header row, number formats (scores, 0.00, percentages), ids stored as text, conditional
colours and, where a picture helps, a chart. Headings are Chinese by default (``lang='en'`` for English). A 说明
(Notes) sheet names the standard definition behind every figure.

Sheets:

class report
    概况 (summary vs the grade, test statistics, histogram), 成绩总表, 小题得分, 试卷分析, 知识点诊断, 一分一段,
    临界生, 说明
grade / school report
    概况, 班级对比, 成绩总表, 小题得分 (class x question), 试卷分析, 知识点诊断 (class x point), 一分一段, 临界生, 说明
city report
    概况, 学校对比, 试卷分析, 知识点诊断 (school x point), 一分一段, 说明
"""

from __future__ import annotations

import math
import unicodedata

from pathlib import Path
from typing import Any, Callable, Collection, Sequence

import numpy as np

from analytics.analysis import Analysis, GroupLevel, ItemView, item_view
from analytics.disclosure import visible_groups, withheld_groups
from analytics.items import OptionStats
from analytics.labels import band_names, definitions, text, type_name
from analytics.polytomous import score_distribution

__all__ = ["write_class_workbook", "write_grade_workbook", "write_city_workbook", "write_totals_workbook",
           "safe_name"]

_HEADER_FILL = "DDEBF7"
_TITLE_SIZE = 14
_PCT = "0.0%"
_TWO = "0.00"
_THREE = "0.000"
_SCORE = "0.##;-0.##;0"
_TEXT = "@"
_WRAP = "wrap"  # not a number format: wrapped text, top-aligned (long notes)
_DEFAULT_WIDTH = 8.43  # Excel's default column width, in characters
_LINE_HEIGHT = 15.0  # points per line of 11-point text
_PAGE_WIDTH_CHARS = 150  # columns of width 1 that fit across landscape A4 at 100 %


def display_width(text: str) -> float:
    """Width of ``text`` in Excel's character units: a CJK (wide) character takes two, any other one."""
    return sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.0 for ch in text)


def wrapped_lines(text: str, width: float) -> int:
    """Lines ``text`` takes wrapped in a column ``width`` characters wide (a little margin each side)."""
    room = max(width - 1.0, 1.0)
    return sum(max(1, math.ceil(display_width(part) / room)) for part in str(text).split("\n"))


def safe_name(name: str) -> str:
    """A file-name-safe version of a class or school name (keeps Chinese)."""
    bad = '<>:"/\\|?*[]'
    cleaned = "".join("_" if ch in bad or ord(ch) < 32 else ch for ch in str(name)).strip(" .")
    return cleaned or "unnamed"


def _finite(value: Any) -> Any:
    """Cell value: NaN/inf -> empty, numpy scalars -> Python."""
    if value is None:
        return None
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


_CM_PER_PIXEL = 2.54 / 96  # chart sizes are given in cm, as Excel's dialogs show them; XlsxWriter takes pixels
_OPERATORS = {"equal": "==", "lessThan": "<", "greaterThanOrEqual": ">="}


class _Book:
    """Thin helper over an XlsxWriter workbook: styled header rows, typed columns, charts, conditional colours.

    Rows and columns are 1-based here, as in Excel's A1 names. Every text is written with ``write_string``: a
    student or class named like a formula stays text.
    """

    def __init__(self, lang: str, path: str | Path):
        from grading.safe_cells import text_workbook

        self.lang = lang
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.book = text_workbook(self.path)
        self._formats: dict[tuple, Any] = {}
        self._widths: dict[str, dict[int, float]] = {}
        self._frozen: set[str] = set()
        self._wrapped: dict[str, list[tuple[int, int, str]]] = {}  # sheet -> (row, col, text) of wrapped cells
        border = {"border": 1, "border_color": "#BFBFBF"}
        self.header_format = self.format(bold=True, bg_color=f"#{_HEADER_FILL}", align="center", valign="vcenter",
                                         text_wrap=True, **border)
        self.title_format = self.format(bold=True, font_size=_TITLE_SIZE)

    def format(self, **properties: Any):
        """The workbook's format with these XlsxWriter properties (one object per distinct set)."""
        key = tuple(sorted(properties.items()))
        if key not in self._formats:
            self._formats[key] = self.book.add_format(properties)
        return self._formats[key]

    def number_format(self, fmt: str | None):
        if fmt is None:
            return None
        return self.format(text_wrap=True, valign="top") if fmt == _WRAP else self.format(num_format=fmt)

    def t(self, key: str) -> str:
        return text(key, self.lang)

    def sheet(self, key: str):
        return self.book.add_worksheet(self.t(key))

    def write(self, ws, row: int, col: int, value: Any, cell_format: Any = None) -> None:
        """One cell by its Python type: text as a string (never a formula), numbers, booleans; None left empty."""
        value = _finite(value)
        if value is None:
            return
        if isinstance(value, str):
            ws.write_string(row - 1, col - 1, value, cell_format)
        elif isinstance(value, bool):
            ws.write_boolean(row - 1, col - 1, value, cell_format)
        else:
            ws.write_number(row - 1, col - 1, value, cell_format)

    def width(self, ws, col: int, width: float) -> None:
        """Column ``col`` at least ``width`` characters wide."""
        widths = self._widths.setdefault(ws.name, {})
        widths[col] = max(widths.get(col, 0), width)

    def header(self, ws, row: int, values: Sequence[str], col: int = 1) -> None:
        for offset, value in enumerate(values):
            ws.write_string(row - 1, col - 1 + offset, str(value), self.header_format)
            self._wrapped.setdefault(ws.name, []).append((row, col + offset, str(value)))

    def table(self, ws, row: int, headers: Sequence[str], rows: Sequence[Sequence[Any]],
              formats: Sequence[str | None], *, col: int = 1, widths: Sequence[float] | None = None,
              freeze: str | None = None, row_formats: Sequence[str | None] | None = None) -> int:
        """Write a header and rows at ``row``; returns the row after the table. ``formats`` are the columns'
        number formats; ``row_formats``, when given, the number format of each row's numbers instead."""
        self.header(ws, row, headers, col)
        column_formats = [self.number_format(fmt) for fmt in formats]
        for r, values in enumerate(rows, start=row + 1):
            row_format = self.number_format(row_formats[r - row - 1]) if row_formats else None
            for c, (value, fmt, cell_format) in enumerate(zip(values, formats, column_formats), start=col):
                value = _finite(value)
                if fmt == _TEXT and value is not None:
                    value = str(value)
                if row_format is not None and not isinstance(value, str):
                    cell_format = row_format
                if fmt == _WRAP and isinstance(value, str):
                    self._wrapped.setdefault(ws.name, []).append((r, c, value))
                self.write(ws, r, c, value, cell_format)
        if widths:
            for c, width in enumerate(widths, start=col):
                self.width(ws, c, width)
        if freeze:
            ws.freeze_panes(freeze)
            self._frozen.add(ws.name)
        return row + 1 + len(rows)

    def title(self, ws, row: int, value: str, col: int = 1) -> None:
        ws.write_string(row - 1, col - 1, value, self.title_format)

    # -- conditional colours -------------------------------------------------------------------------------

    @staticmethod
    def colour_scale(ws, ref: str, low: float | None = None, mid: float | None = None,
                     high: float | None = None) -> None:
        """Red (low) - yellow - green (high); fixed numbers when given, else the range's min/percentile/max."""
        colours = {"type": "3_color_scale", "min_color": "#F8696B", "mid_color": "#FFEB84", "max_color": "#63BE7B"}
        if low is None:
            rule = {**colours, "min_type": "min", "mid_type": "percentile", "mid_value": 50, "max_type": "max"}
        else:
            rule = {**colours, "min_type": "num", "min_value": low, "mid_type": "num", "mid_value": mid,
                    "max_type": "num", "max_value": high}
        ws.conditional_format(ref, rule)

    @staticmethod
    def count_scale(ws, ref: str) -> None:
        """White (none) to blue (most): for counts, where few is not bad (a red 0 in 一分一段 reads as a warning)."""
        ws.conditional_format(ref, {"type": "2_color_scale", "min_type": "num", "min_value": 0,
                                    "min_color": "#FFFFFF", "max_type": "max", "max_color": "#5B9BD5"})

    def highlight(self, ws, ref: str, operator: str, formula: Sequence[str], colour: str) -> None:
        ws.conditional_format(ref, {"type": "cell", "criteria": _OPERATORS[operator], "value": formula[0],
                                    "format": self.format(bg_color=f"#{colour}")})

    # -- charts --------------------------------------------------------------------------------------------

    def bar_chart(self, ws, anchor: str, title: str, categories: tuple[int, int, int, int],
                  series: Sequence[tuple[int, int, int, int]], *, y_title: str = "", percent: bool = False,
                  width: float = 18, height: float = 8) -> None:
        """A clustered column chart (native Excel chart); ``categories``/``series`` are (min_col, min_row,
        max_col, max_row), 1-based, each series with its title in its first row; ``width``/``height`` in cm."""
        chart = self.book.add_chart({"type": "column"})
        name = ws.name
        c0, r0, c1, r1 = categories
        for min_col, min_row, max_col, max_row in series:
            chart.add_series({"name": [name, min_row - 1, min_col - 1],
                              "categories": [name, r0 - 1, c0 - 1, r1 - 1, c1 - 1],
                              "values": [name, min_row, min_col - 1, max_row - 1, max_col - 1]})
        chart.set_title({"name": title})
        axis: dict[str, Any] = {"name": y_title} if y_title else {}
        if percent:
            axis.update(num_format="0%", min=0)
        chart.set_y_axis(axis)
        chart.set_size({"width": round(width / _CM_PER_PIXEL), "height": round(height / _CM_PER_PIXEL)})
        ws.insert_chart(anchor, chart)

    def line_chart(self, ws, anchor: str, title: str, categories: tuple[int, int, int, int],
                   rows: Sequence[tuple[int, int, int, int]], *, width: float = 18, height: float = 8,
                   y_range: tuple[float, float] | None = (0, 100)) -> None:
        """A line chart with one series per table row: ``rows`` are (name col, row, last value col, row), 1-based,
        the name in the first column and the values after it; ``categories`` the header cells above them;
        ``y_range`` the value axis (None: Excel's choice)."""
        chart = self.book.add_chart({"type": "line"})
        name = ws.name
        c0, r0, c1, r1 = categories
        for name_col, row, last_col, _ in rows:
            chart.add_series({"name": [name, row - 1, name_col - 1],
                              "categories": [name, r0 - 1, c0 - 1, r1 - 1, c1 - 1],
                              "values": [name, row - 1, name_col, row - 1, last_col - 1],
                              "marker": {"type": "circle"}})
        chart.set_title({"name": title})
        if y_range is not None:
            chart.set_y_axis({"min": y_range[0], "max": y_range[1]})
        chart.set_size({"width": round(width / _CM_PER_PIXEL), "height": round(height / _CM_PER_PIXEL)})
        ws.insert_chart(anchor, chart)

    def notes(self, analysis: Analysis) -> None:
        c = analysis.config
        ws = self.sheet("sheet_notes")
        pairs = definitions(self.lang, c.cutoffs, c.band, c.fraction, c.mastery, c.correct_at)
        self.table(ws, 1, [self.t("item"), self.t("value")], pairs, [None, _WRAP], widths=(18, 110), freeze="A2")
        extra = len(pairs) + 3
        wrap = self.number_format(_WRAP)
        for k, (key, note) in enumerate(sorted(analysis.notes.items())):
            self.write(ws, extra + k, 1, key)
            self.write(ws, extra + k, 2, note, wrap)
            self._wrapped.setdefault(ws.name, []).append((extra + k, 2, note))

    def save(self) -> Path:
        # printable as teachers print: landscape A4, header row repeated; every wrapped cell's row tall enough for
        # its lines; a sheet up to ~1.3 pages wide shrunk to one page wide, a wider one printed across pages at full
        # size with its first column repeated (shrinking 60 questions onto one page makes them illegible)
        for ws in self.book.worksheets():
            widths = self._widths.get(ws.name, {})
            for col, width in widths.items():
                ws.set_column(col - 1, col - 1, width)
            lines: dict[int, int] = {}
            for row, col, value in self._wrapped.get(ws.name, []):
                lines[row] = max(lines.get(row, 1), wrapped_lines(value, widths.get(col, _DEFAULT_WIDTH)))
            for row, count in lines.items():
                if count > 1:
                    ws.set_row(row - 1, _LINE_HEIGHT * count + 3)
            ws.set_landscape()
            ws.set_paper(9)  # A4
            used = max([col for _, col, _ in self._wrapped.get(ws.name, [])] + list(widths) + [1])
            total = sum(widths.get(col, _DEFAULT_WIDTH) for col in range(1, used + 1))
            if ws.name == self.t("sheet_overview"):
                ws.fit_to_pages(1, 1)
            elif total <= _PAGE_WIDTH_CHARS * 1.3:
                ws.fit_to_pages(1, 0)
            else:
                ws.repeat_columns(0, 0)
                ws.print_across()
            if ws.name in self._frozen:
                ws.repeat_rows(0)
        self.book.close()
        return self.path


# ----------------------------------------------------------------------------------------------------------
# Views: what one report shows (a class, a school's grade, the city)


def _group_summary_rows(b: _Book, level: GroupLevel, indices: Sequence[int], label: Callable[[int], list],
                        compare_keys: tuple[str, str]) -> tuple[list[str], list[list], list[str | None]]:
    s = level.stats
    headers = [b.t("n"), b.t("absent"), b.t("mean"), b.t("sd"), b.t("max"), b.t("min"), b.t("median"),
               b.t("q1"), b.t("q3"), b.t("score_rate"), b.t("excellent"), b.t("good"), b.t("pass"), b.t("low"),
               b.t(compare_keys[0]), b.t(compare_keys[1]), b.t("rank_by_mean")]
    formats: list[str | None] = ["0", "0", _TWO, _TWO, _SCORE, _SCORE, _SCORE, _SCORE, _SCORE, _PCT, _PCT, _PCT,
                                 _PCT, _PCT, _TWO, _THREE, "0"]
    rows = []
    for g in indices:
        rows.append(label(g) + [s.n[g], level.n_absent[g], s.mean[g], s.sd[g], s.max[g], s.min[g], s.median[g],
                                s.q1[g], s.q3[g], s.score_rate[g], *s.rates[g], level.mean_diff[g],
                                level.mean_ratio[g], level.rank_by_mean[g]])
    return headers, rows, formats


def _student_rows(b: _Book, analysis: Analysis, members: np.ndarray, *, city: bool) -> tuple[list, list, list]:
    """成绩总表 rows for students (indices into StudentResults), best first."""
    data, s = analysis.data, analysis.students
    order = members[np.lexsort((data.exam_ids[s.rows[members]].astype(str), -s.total[members]))]
    bands = band_names("performance", b.lang)
    ranks = analysis.show_ranks
    rank_keys = ["class_rank", "grade_rank", *(["city_rank"] if city else [])] if ranks else []
    headers = [b.t("exam_id"), b.t("student_no"), b.t("name"), b.t("class"), b.t("total"),
               *data.section_names, *map(b.t, rank_keys), b.t("pr"), b.t("z"), b.t("t"), b.t("band")]
    formats = [_TEXT, _TEXT, None, None, _SCORE, *[_SCORE] * len(data.section_ids), *["0"] * len(rank_keys),
               "0.0", _TWO, "0.0", None]
    rows = []
    for i in order.tolist():
        r = s.rows[i]
        rank_values = [s.class_rank[i], s.grade_rank[i], s.city_rank[i]][:len(rank_keys)]
        rows.append([data.exam_ids[r], data.student_nos[r] or None, data.names[r], data.classes[r], s.total[i],
                     *data.section_totals[r].tolist(), *rank_values, s.grade_pr[i], s.z[i], s.t[i],
                     bands[s.band[i]]])
    return headers, rows, formats


def _overview(b: _Book, analysis: Analysis, title: str, pairs: Sequence[tuple[str, Sequence[Any], str | None]],
              column_titles: Sequence[str], view: ItemView, hist_groups: Sequence[tuple[str, np.ndarray]]) -> None:
    """概况: key figures side by side (e.g. class | grade), test statistics and a histogram chart."""
    ws = b.sheet("sheet_overview")
    exam = analysis.data.exam
    b.title(ws, 1, title)
    b.write(ws, 2, 1, f"{b.t('exam')}: {exam.name or exam.id}  {b.t('subject')}: {exam.subject}  "
                      f"{b.t('full_marks')}: {analysis.data.full_marks:g}")
    row = b.table(ws, 4, [b.t("item"), *column_titles], [[label, *values] for label, values, _ in pairs],
                  [None, *[None] * len(column_titles)], widths=(22, *[14] * len(column_titles)),
                  row_formats=[fmt for _, _, fmt in pairs])
    t = view.test
    test_rows = [(b.t("k"), t.k, "0"), (b.t("full_marks"), t.full_marks, _SCORE), (b.t("alpha"), t.alpha, _THREE),
                 (b.t("sem"), t.sem, _TWO), (b.t("test_difficulty"), t.mean_difficulty, _THREE),
                 (b.t("mean_d"), t.mean_discrimination, _THREE),
                 *[(b.t(k), t.difficulty_mix[k], "0") for k in ("easy", "medium", "hard")]]
    row = b.table(ws, row + 1, [b.t("item"), b.t("value")], [[a, v] for a, v, _ in test_rows], [None, None],
                  row_formats=[fmt for _, _, fmt in test_rows])
    # histogram: shares per bin so that a class and its grade compare
    edges = analysis.all.histogram.edges
    start = row + 1
    labels = [f"{edges[k]:g}–{edges[k + 1]:g}" for k in range(len(edges) - 1)]
    hist_rows = []
    for k, label in enumerate(labels):
        hist_rows.append([label, *[counts[k] / counts.sum() if counts.sum() else None for _, counts in hist_groups]])
    b.table(ws, start, [b.t("range"), *[name for name, _ in hist_groups]], hist_rows,
            [None, *[_PCT] * len(hist_groups)])
    b.bar_chart(ws, f"{_col(len(column_titles) + 3)}4", b.t("histogram"), (1, start + 1, 1, start + len(labels)),
                [(c, start, c, start + len(labels)) for c in range(2, 2 + len(hist_groups))], percent=True)


def _col(index: int) -> str:
    """Excel's letters of the 1-based column ``index``."""
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(index - 1)


def _item_rows(b: _Book, analysis: Analysis, view: ItemView, rate_columns: Sequence[tuple[str, np.ndarray]]
               ) -> tuple[list[str], list[list], list[str | None]]:
    """试卷分析 rows: question facts, the given rate columns (class/grade/city), then the item statistics."""
    data, items = analysis.data, view.items
    options = {o.item_id: o for o in view.options}
    ebel = band_names("ebel", b.lang)
    difficulty = band_names("difficulty", b.lang)
    headers = [b.t("question"), b.t("type"), b.t("points"), b.t("knowledge"), b.t("cognitive"),
               *[name for name, _ in rate_columns], b.t("difficulty"), b.t("difficulty_band"), b.t("discrimination"),
               b.t("ebel"), b.t("total_r"), b.t("total_r_if_rm"), b.t("alpha_if_rm"), b.t("options"),
               b.t("options_upper"), b.t("options_lower"), b.t("dead"), b.t("suspect"), b.t("slip"), b.t("guess"),
               b.t("rasch_b"), b.t("pcm_location"), b.t("score_distribution")]
    formats = [None, None, _SCORE, None, None, *[_PCT] * len(rate_columns), _THREE, None, _THREE, None, _THREE,
               _THREE, _THREE, None, None, None, None, None, _THREE, _THREE, _TWO, _TWO, None]
    steps = analysis.pcm_steps()
    scored = view.scores

    def shares(o: OptionStats, values: np.ndarray) -> str:
        return " ".join(f"{letter}{'*' if letter in o.keyed else ''}{100 * v:.0f}%"
                        for letter, v in zip(o.options, values) if np.isfinite(v))

    rows = []
    for j, qid in enumerate(data.item_ids):
        q = data.exam.question(qid)
        o = options.get(qid)
        rows.append([
            qid, type_name(q.type, b.lang), q.points, "、".join(kp.name or kp.id for kp in q.knowledge_points),
            q.cognitive_level, *[values[j] for _, values in rate_columns], items.difficulty[j],
            difficulty[items.difficulty_band[j]] if items.difficulty_band[j] >= 0 else None,
            items.discrimination[j], ebel[items.ebel[j]] if items.ebel[j] >= 0 else None, items.total_r[j],
            items.total_r_if_rm[j], items.alpha_if_rm[j],
            shares(o, o.overall) if o else None, shares(o, o.upper) if o else None,
            shares(o, o.lower) if o else None, (o.non_functioning or None) if o else None,
            (o.suspect or None) if o else None,
            analysis.dina.slip[j] if analysis.dina is not None else None,
            analysis.dina.guess[j] if analysis.dina is not None else None,
            analysis.rasch.difficulty[j] if analysis.rasch is not None else None,
            steps[j].mean() if steps[j] is not None else None,
            _distribution(scored[:, j], b) if q.type == "subjective" and scored is not None and len(scored) else None])
    return headers, rows, formats


def _distribution(scores: np.ndarray, b: _Book) -> str:
    """A written question's 得分分布 in one cell: "0分:3 2分:10 …" (students per score)."""
    unit = b.t("score_unit")
    scores = scores[np.isfinite(scores)]  # a 选考题: the students who chose it
    return " ".join(f"{value:g}{unit}:{count}" for value, count in score_distribution(scores[:, None])[0].items())


def _items_sheet(b: _Book, analysis: Analysis, view: ItemView, rate_columns: Sequence[tuple[str, np.ndarray]]
                 ) -> None:
    ws = b.sheet("sheet_items")
    headers, rows, formats = _item_rows(b, analysis, view, rate_columns)
    widths = [7, 7, 6, 18, 8, *[10] * len(rate_columns), 9, 8, 9, 12, 10, 10, 9, 22, 22, 22, 9, 9, 8, 8, 8]
    end = b.table(ws, 1, headers, rows, formats, widths=widths, freeze="B2")
    n = len(rows)
    if n:
        p_col = 6 + len(rate_columns)
        b.colour_scale(ws, f"{_col(p_col)}2:{_col(p_col)}{n + 1}", 0.2, 0.55, 0.9)
        d_col = _col(p_col + 2)
        b.highlight(ws, f"{d_col}2:{d_col}{n + 1}", "lessThan", ["0.2"], "F8CBAD")
        b.highlight(ws, f"{d_col}2:{d_col}{n + 1}", "greaterThanOrEqual", ["0.4"], "C6EFCE")
        # rates of the first columns (class or grade) as bars: class vs grade per question
        b.bar_chart(ws, f"A{end + 2}", text("class_vs_grade", b.lang) if len(rate_columns) > 1 else b.t("rate"),
                    (1, 2, 1, n + 1), [(6 + c, 1, 6 + c, n + 1) for c in range(min(2, len(rate_columns)))],
                    percent=True, width=max(24, n * 0.55), height=9)


def _segments_sheet(b: _Book, analysis: Analysis, columns: Sequence[tuple[str, GroupLevel, int]]) -> None:
    """一分一段: score, then count and cumulative for each (name, level, group) given."""
    ws = b.sheet("sheet_segments")
    seg = analysis.all.segments
    headers = [b.t("score")]
    formats: list[str | None] = [_SCORE]
    for name, _, _ in columns:
        headers += [f"{name}{b.t('count')}", f"{name}{b.t('cumulative')}"]
        formats += ["0", "0"]
    rows = []
    for s_index, score in enumerate(seg.scores.tolist()):
        row: list[Any] = [score]
        for _, level, g in columns:
            row += [level.segments.counts[g, s_index], level.segments.cumulative[g, s_index]]
        rows.append(row)
    # only down to the lowest score anyone reached: empty tails add nothing
    used = np.flatnonzero(analysis.all.segments.counts[0] > 0)
    last = int(used.max()) + 1 if used.size else len(rows)
    first = int(used.min()) if used.size else 0
    rows = rows[first:last]
    b.table(ws, 1, headers, rows, formats, widths=[8] + [12] * (len(headers) - 1), freeze="B2")
    if rows:
        b.count_scale(ws, f"B2:B{len(rows) + 1}")
        b.bar_chart(ws, f"{_col(len(headers) + 2)}2", b.t("sheet_segments"), (1, 2, 1, len(rows) + 1),
                    [(2, 1, 2, len(rows) + 1)], width=22, height=9)


def _borderline_sheet(b: _Book, analysis: Analysis, members: np.ndarray) -> None:
    ws = b.sheet("sheet_borderline")
    data, s = analysis.data, analysis.students
    near = s.borderline
    chosen = members[near.within[members]]
    order = chosen[np.lexsort((near.gap[chosen], near.line[chosen]))]
    names = band_names("lines", b.lang)
    points = analysis.blueprint.point_names
    rows = []
    for i in order.tolist():
        r = s.rows[i]
        weak = "、".join(points[t] for t, g in zip(s.weakest[i], s.weakest_gaps[i]) if np.isfinite(g) and g < 0)
        ranks = [s.class_rank[i], s.grade_rank[i]] if analysis.show_ranks else []
        rows.append([data.exam_ids[r], data.names[r], data.classes[r], s.total[i], names[near.line[i]],
                     near.lines[near.line[i]], near.gap[i], *ranks, weak or None])
    rank_headers = [b.t("class_rank"), b.t("grade_rank")] if analysis.show_ranks else []
    headers = [b.t("exam_id"), b.t("name"), b.t("class"), b.t("total"), b.t("line_name"), b.t("line"),
               b.t("missing"), *rank_headers, b.t("weakest")]
    b.table(ws, 1, headers, rows, [_TEXT, None, None, _SCORE, None, _SCORE, _SCORE, *["0"] * len(rank_headers),
                                   None], widths=(13, 9, 12, 8, 10, 8, 8, *[9] * len(rank_headers), 30), freeze="C2")
    if rows:
        b.colour_scale(ws, f"G2:G{len(rows) + 1}")


def _knowledge_table(b: _Book, analysis: Analysis, rate_columns: Sequence[tuple[str, np.ndarray]],
                     gap_of: tuple[int, int] | None, dina: np.ndarray | None) -> tuple[list, list, list]:
    bp = analysis.blueprint
    possible = analysis.data.points @ bp.weights
    mastery = band_names("mastery", b.lang)
    from analytics.diagnosis import mastery_bands

    headers = [b.t("point"), b.t("point_points"), *[name for name, _ in rate_columns]]
    formats: list[str | None] = [None, _TWO, *[_PCT] * len(rate_columns)]
    if gap_of is not None:
        headers += [b.t("gap")]
        formats += ["+0.0%;-0.0%;0.0%"]
    headers += [b.t("mastery")]
    formats += [None]
    if dina is not None:
        headers += [b.t("dina")]
        formats += [_PCT]
    bands = mastery_bands(rate_columns[0][1], analysis.config.mastery)
    rows = []
    for t, (pid, name) in enumerate(zip(bp.point_ids, bp.point_names)):
        row = [f"{pid} {name}", possible[t], *[values[t] for _, values in rate_columns]]
        if gap_of is not None:
            row.append(rate_columns[gap_of[0]][1][t] - rate_columns[gap_of[1]][1][t])
        row.append(mastery[bands[t]] if bands[t] >= 0 else None)
        if dina is not None:
            row.append(dina[t])
        rows.append(row)
    return headers, rows, formats


def _knowledge_sheet(b: _Book, analysis: Analysis, rate_columns: Sequence[tuple[str, np.ndarray]],
                     gap_of: tuple[int, int] | None, dina: np.ndarray | None,
                     matrix: tuple[list[str], list[list], list[str | None]] | None) -> None:
    ws = b.sheet("sheet_knowledge")
    headers, rows, formats = _knowledge_table(b, analysis, rate_columns, gap_of, dina)
    end = b.table(ws, 1, headers, rows, formats, widths=[22, 10, *[11] * (len(headers) - 2)], freeze="B2")
    k = len(rows)
    if not k:
        return
    for c in range(3, 3 + len(rate_columns)):
        b.colour_scale(ws, f"{_col(c)}2:{_col(c)}{k + 1}", 0.4, 0.7, 1.0)
    b.bar_chart(ws, f"{_col(len(headers) + 2)}1", b.t("kp_chart"), (1, 2, 1, k + 1),
                [(c, 1, c, k + 1) for c in range(3, 3 + min(2, len(rate_columns)))], percent=True,
                width=max(16, 2 * k), height=8)
    if matrix is not None:
        m_headers, m_rows, m_formats = matrix
        start = max(end + 1, 19)  # below the chart
        b.table(ws, start, m_headers, m_rows, m_formats)
        first_rate = next(i for i, f in enumerate(m_formats) if f == _PCT) + 1
        last_rate = first_rate + k - 1
        if m_rows:
            b.colour_scale(ws, f"{_col(first_rate)}{start + 1}:{_col(last_rate)}{start + len(m_rows)}",
                           0.4, 0.7, 1.0)
        b.width(ws, last_rate + 1, 40)


# ----------------------------------------------------------------------------------------------------------
# The three reports


def write_class_workbook(analysis: Analysis, path: str | Path, class_index: int, *, lang: str | None = None
                         ) -> Path:
    """The class report of ``analysis.classes[class_index]``, compared with its grade (the school)."""
    b = _Book(lang or analysis.config.lang, path)
    data, s = analysis.data, analysis.students
    classes, schools = analysis.classes, analysis.schools
    school = int(classes.parent[class_index])
    members = np.flatnonzero(s.class_index == class_index)
    grade_members = s.school_index == school
    class_name = classes.classes[class_index]
    grade_view = item_view(analysis, grade_members)
    cs, gs = classes.stats, schools.stats
    pct = _PCT
    pairs = [
        (b.t("n"), [cs.n[class_index], gs.n[school]], "0"),
        (b.t("absent"), [classes.n_absent[class_index], schools.n_absent[school]], "0"),
        (b.t("mean"), [cs.mean[class_index], gs.mean[school]], _TWO),
        (b.t("sd"), [cs.sd[class_index], gs.sd[school]], _TWO),
        (b.t("max"), [cs.max[class_index], gs.max[school]], _SCORE),
        (b.t("min"), [cs.min[class_index], gs.min[school]], _SCORE),
        (b.t("median"), [cs.median[class_index], gs.median[school]], _SCORE),
        (b.t("q1"), [cs.q1[class_index], gs.q1[school]], _SCORE),
        (b.t("q3"), [cs.q3[class_index], gs.q3[school]], _SCORE),
        (b.t("score_rate"), [cs.score_rate[class_index], gs.score_rate[school]], pct),
        *[(b.t(key), [cs.rates[class_index, k], gs.rates[school, k]], pct)
          for k, key in enumerate(("excellent", "good", "pass", "low"))],
        (b.t("mean_diff"), [classes.mean_diff[class_index], None], _TWO),
        (b.t("mean_ratio"), [classes.mean_ratio[class_index], None], _THREE),
        (b.t("rank_by_mean"), [classes.rank_by_mean[class_index], None], "0"),
    ]
    _overview(b, analysis, f"{class_name} {b.t('report_class')}", pairs, [class_name, b.t("grade")], grade_view,
              [(class_name, classes.histogram.counts[class_index]), (b.t("grade"), schools.histogram.counts[school])])

    ws = b.sheet("sheet_scores")
    headers, rows, formats = _student_rows(b, analysis, members, city=False)
    b.table(ws, 1, headers, rows, formats, widths=(13, 21, 9, 12, 8, *[9] * (len(headers) - 5)), freeze="D2")
    if rows:
        b.colour_scale(ws, f"E2:E{len(rows) + 1}")

    _question_scores_sheet(b, analysis, members, class_name, classes.item_rates[class_index],
                           schools.item_rates[school])
    _items_sheet(b, analysis, grade_view, [(b.t("class_rate"), classes.item_rates[class_index]),
                                           (b.t("grade_rate"), schools.item_rates[school])])
    bp = analysis.blueprint
    points = [f"{pid} {name}" for pid, name in zip(bp.point_ids, bp.point_names)]
    order = members[np.lexsort((data.exam_ids[s.rows[members]].astype(str), -s.total[members]))]
    m_rows = []
    for i in order.tolist():
        weak = [f"{bp.point_names[t]}({100 * g:+.0f}%)" for t, g in zip(s.weakest[i], s.weakest_gaps[i])
                if np.isfinite(g) and g < 0]
        m_rows.append([data.exam_ids[s.rows[i]], data.names[s.rows[i]], *s.knowledge_rates[i].tolist(),
                       "、".join(weak) or b.t("none_below")])
    matrix = ([b.t("exam_id"), b.t("name"), *points, b.t("weakest")], m_rows,
              [_TEXT, None, *[_PCT] * len(points), None])
    _knowledge_sheet(b, analysis, [(b.t("class_rate"), classes.knowledge_rates[class_index]),
                                   (b.t("grade_rate"), schools.knowledge_rates[school])], (0, 1),
                     classes.dina_mastery[class_index] if classes.dina_mastery is not None else None, matrix)
    _segments_sheet(b, analysis, [(class_name, classes, class_index), (b.t("grade"), schools, school)])
    _borderline_sheet(b, analysis, members)
    if analysis.progress is not None:
        _trend_sheet(b, analysis, members, reference=(b.t("grade"), np.flatnonzero(grade_members)))
    b.notes(analysis)
    return b.save()


def _question_scores_sheet(b: _Book, analysis: Analysis, members: np.ndarray, class_name: str,
                           class_rates: np.ndarray, grade_rates: np.ndarray) -> None:
    """小题得分: students x questions, full marks green and zero red; class and grade rates below."""
    ws = b.sheet("sheet_items_scores")
    data, s = analysis.data, analysis.students
    order = members[np.lexsort((data.exam_ids[s.rows[members]].astype(str), -s.total[members]))]
    headers = [b.t("exam_id"), b.t("name"), b.t("total"), *data.item_ids]
    rows = [[data.exam_ids[s.rows[i]], data.names[s.rows[i]], s.total[i], *data.scores[s.rows[i]].tolist()]
            for i in order.tolist()]
    k = len(data.item_ids)
    end = b.table(ws, 1, headers, rows, [_TEXT, None, _SCORE, *[_SCORE] * k], widths=(13, 9, 7, *[5] * k),
                  freeze="D2")
    b.table(ws, end + 1, [b.t("item"), "", "", *data.item_ids],
            [[b.t("points"), None, None, *data.points.tolist()],
             [b.t("class_rate"), class_name, None, *class_rates.tolist()],
             [b.t("grade_rate"), None, None, *grade_rates.tolist()]],
            [None, None, None, *[_SCORE] * k], row_formats=[None, _PCT, _PCT])
    if rows:
        last = len(rows) + 1
        for j in range(k):
            ref = f"{_col(4 + j)}2:{_col(4 + j)}{last}"
            b.highlight(ws, ref, "equal", ["0"], "F8CBAD")
            b.highlight(ws, ref, "equal", [f"{data.points[j]:g}"], "C6EFCE")
        b.colour_scale(ws, f"D{end + 3}:{_col(3 + k)}{end + 4}", 0.2, 0.6, 1.0)


def write_grade_workbook(analysis: Analysis, path: str | Path, *, school: str | None = None,
                         lang: str | None = None, classes: Collection[str] | None = None) -> Path:
    """The grade (school) report comparing the classes of ``school`` (the only school when None).

    With ``classes`` (a teacher's own), the sheets that list students list those classes' only; the grade's
    figures stay, and another class too small to show without giving a student away shows its head count only
    (:func:`analytics.disclosure.withheld_groups`)."""
    data, s = analysis.data, analysis.students
    groups, schools = analysis.classes, analysis.schools
    if school is None:
        if len(schools) > 1:
            raise ValueError("several schools: name the school of the grade report")
        school = str(schools.schools[0])
    b = _Book(lang or analysis.config.lang, path)  # after the checks: XlsxWriter writes the file even when dropped
    g = schools.find(school)
    class_ids = np.flatnonzero(groups.parent == g)
    own = visible_groups(groups.classes, classes)
    withheld = np.zeros(len(groups.classes), dtype=bool)  # within the grade: its classes against its figures
    withheld[class_ids] = withheld_groups(groups.stats.n[class_ids], own[class_ids])
    grade_members = np.flatnonzero(s.school_index == g)
    members = grade_members[own[s.class_index[grade_members]]]
    view = item_view(analysis, s.school_index == g)
    gs = schools.stats
    pairs = [(b.t(key), [getattr(gs, key)[g]], fmt) for key, fmt in
             (("n", "0"), ("mean", _TWO), ("sd", _TWO), ("max", _SCORE), ("min", _SCORE), ("median", _SCORE),
              ("q1", _SCORE), ("q3", _SCORE), ("score_rate", _PCT))]
    pairs.insert(1, (b.t("absent"), [schools.n_absent[g]], "0"))
    pairs += [(b.t(key), [gs.rates[g, k]], _PCT) for k, key in enumerate(("excellent", "good", "pass", "low"))]
    name = analysis.config.school_name(school)
    title = f"{name + ' ' if name else ''}{b.t('report_grade')}"
    _overview(b, analysis, title, pairs, [b.t("grade")], view, [(b.t("grade"), schools.histogram.counts[g])])

    ws = b.sheet("sheet_classes")
    headers, rows, formats = _group_summary_rows(b, groups, class_ids.tolist(),
                                                 lambda c: [groups.classes[c]], ("mean_diff", "mean_ratio"))
    rows = [_withheld_row(row, 3) if withheld[c] else row for c, row in zip(class_ids.tolist(), rows)]
    rows.append([b.t("grade"), gs.n[g], schools.n_absent[g], gs.mean[g], gs.sd[g], gs.max[g], gs.min[g],
                 gs.median[g], gs.q1[g], gs.q3[g], gs.score_rate[g], *gs.rates[g], None, None, None])
    b.table(ws, 1, [b.t("class"), *headers], rows, [None, *formats], widths=(14, *[9] * len(headers)),
            freeze="B2")
    n_classes = len(class_ids)
    if withheld[class_ids].any():
        b.write(ws, n_classes + 3, 1, b.t("withheld_note"))
    if n_classes:
        b.colour_scale(ws, f"D2:D{n_classes + 1}")
        b.bar_chart(ws, f"A{n_classes + 5}", b.t("class_means"), (1, 2, 1, n_classes + 1),
                    [(4, 1, 4, n_classes + 1)], width=max(14, 1.6 * n_classes), height=8)

    ws = b.sheet("sheet_scores")
    headers, rows, formats = _student_rows(b, analysis, members, city=False)
    b.table(ws, 1, headers, rows, formats, widths=(13, 21, 9, 12, 8, *[9] * (len(headers) - 5)), freeze="D2")
    if rows:
        b.colour_scale(ws, f"E2:E{len(rows) + 1}")

    ws = b.sheet("sheet_items_scores")
    k = len(data.item_ids)
    rate_rows = [_withheld_row([groups.classes[c], *groups.item_rates[c].tolist()], 1) if withheld[c]
                 else [groups.classes[c], *groups.item_rates[c].tolist()] for c in class_ids.tolist()]
    rate_rows.append([b.t("grade"), *schools.item_rates[g].tolist()])
    b.table(ws, 1, [b.t("class"), *data.item_ids], rate_rows, [None, *[_PCT] * k], widths=(14, *[6] * k),
            freeze="B2")
    if rate_rows:
        b.colour_scale(ws, f"B2:{_col(1 + k)}{len(rate_rows) + 1}", 0.2, 0.6, 1.0)

    _items_sheet(b, analysis, view, [(b.t("grade_rate"), schools.item_rates[g])])
    bp = analysis.blueprint
    points = [f"{pid} {name}" for pid, name in zip(bp.point_ids, bp.point_names)]
    m_rows = [_withheld_row([groups.classes[c], *groups.knowledge_rates[c].tolist(), None], 1) if withheld[c] else
              [groups.classes[c], *groups.knowledge_rates[c].tolist(),
               "、".join(f"{bp.point_names[t]}({100 * gap:+.0f}%)" for t, gap in
                        zip(groups.weakest[c], groups.weakest_gaps[c]) if np.isfinite(gap) and gap < 0)
               or b.t("none_below")] for c in class_ids.tolist()]
    matrix = ([b.t("class"), *points, b.t("weakest")], m_rows, [None, *[_PCT] * len(points), None])
    _knowledge_sheet(b, analysis, [(b.t("grade_rate"), schools.knowledge_rates[g])], None,
                     schools.dina_mastery[g] if schools.dina_mastery is not None else None, matrix)
    _segments_sheet(b, analysis, [(b.t("grade"), schools, g)])
    _borderline_sheet(b, analysis, members)
    if analysis.progress is not None:
        _trend_sheet(b, analysis, members, reference=(b.t("grade"), grade_members))
        _value_added_sheet(b, analysis, withheld=set(groups.classes[withheld].tolist()),
                           unmatched=classes is None)
    b.notes(analysis)
    return b.save()


def _trend_rows(analysis: Analysis, members: np.ndarray) -> tuple[list[int], list[int]]:
    """The record rows of the students ``members`` (analysis student indices) who sat every exam of the record,
    and the student index of each (in the current exam: its class and school)."""
    record, data, s = analysis.progress.record, analysis.data, analysis.students
    student_of = {str(data.exam_ids[s.rows[i]]): i for i in np.asarray(members).tolist()}
    rows_of, where = [], []
    for k in np.flatnonzero(record.in_every_exam()).tolist():
        i = student_of.get(str(record.exam_ids[k, -1]))
        if i is not None:
            rows_of.append(k)
            where.append(i)
    return rows_of, where


def _trend_sheet(b: _Book, analysis: Analysis, members: np.ndarray, *, by: str = "class", students: bool = True,
                 reference: tuple[str, np.ndarray] | None = None) -> None:
    """成绩走势: the students of this report who sat every exam, linked by 学籍号 (total, percentile rank and, when
    the exams are linked through common items, θ and the scale score per exam), then each class's (``by="class"``)
    or school's mean per exam with a line chart, ``reference`` (a name and its students: the grade, the city) as
    one more line; the percentile rank, and the scale score when linked. Last, how the exams were linked."""
    record = analysis.progress.record
    if len(record.labels) < 2:
        return
    linked = record.linked_theta
    rows_of, where = _trend_rows(analysis, members)
    ws = b.sheet("sheet_trend")
    exams = record.labels
    per_exam = ("total", "pr", *(("theta_linked", "scale_score") if linked else ()))
    row = 0  # the row before the next title
    if students:
        headers = [b.t("student_no"), b.t("exam_id"), b.t("name"), b.t("class"),
                   *[f"{label} {b.t(key)}" for label in exams for key in per_exam],
                   *([b.t("rank_change")] if analysis.show_ranks else []), b.t("z_change")]
        rows = []
        for i in rows_of:
            values = [(record.totals[i, e], record.percentile[i, e],
                       *((record.theta[i, e], record.scale_scores[i, e]) if linked else ())) for e in range(len(exams))]
            change = [record.ranks[i, 0] - record.ranks[i, -1]] if analysis.show_ranks else []
            rows.append([record.student_nos[i], record.exam_ids[i, -1], record.names[i], record.classes[i],
                         *[v for group in values for v in group], *change, record.z[i, -1] - record.z[i, 0]])
        formats = [_TEXT, _TEXT, None, None, *[_SCORE, "0.0", *((_TWO, "0") if linked else ())] * len(exams),
                   *(["0"] if analysis.show_ranks else []), _TWO]
        row = b.table(ws, 1, headers, rows, formats, widths=(21, 13, 9, 12, *[10] * (len(formats) - 4)),
                      freeze="C2") + 1
    data, s = analysis.data, analysis.students
    keys = [str((data.classes if by == "class" else data.schools)[s.rows[i]]) for i in where]
    names = sorted(set(keys))
    groups = [(name if by == "class" else analysis.config.school_name(name) or name,
               [k for k, key in zip(rows_of, keys) if key == name]) for name in names]
    if reference is not None:
        groups.append((reference[0], _trend_rows(analysis, reference[1])[0]))
    groups = [(name, ks) for name, ks in groups if ks]
    if not groups:
        return
    charts = [("percentile", "group_trend_pr", "0.0", (0, 100))]
    if linked:
        charts.append(("scale_scores", "group_trend_scale", "0", None))
    for field, title_key, fmt, y_range in charts:
        values = getattr(record, field)
        title = f"{b.t('class' if by == 'class' else 'school_name')} {b.t(title_key)}"
        b.title(ws, row + 1, title)
        means = [[name, *[float(np.nanmean(values[ks, e])) if np.isfinite(values[ks, e]).any() else None
                          for e in range(len(exams))]] for name, ks in groups]
        b.table(ws, row + 2, [b.t("class" if by == "class" else "school_name"), *exams], means,
                [_TEXT, *[fmt] * len(exams)])
        first = row + 3
        b.line_chart(ws, f"{_col(len(exams) + 3)}{row + 2}", title, (2, row + 2, len(exams) + 1, row + 2),
                     [(1, first + k, len(exams) + 1, first + k) for k in range(len(groups))], y_range=y_range)
        row = first + max(len(groups), 16) + 1  # below the chart (8 cm, about 16 rows)
    _linking_table(b, ws, row + 1, record)


def _linking_table(b: _Book, ws, row: int, record) -> None:
    """How the exams of the record were put on one Rasch scale, or why not."""
    if record.linking is None:
        if record.linking_note:
            b.write(ws, row, 1, f"{b.t('irt_linking')}: {record.linking_note}")
        return
    from analytics.linking import METHOD_NAMES

    b.title(ws, row, b.t("irt_linking"))
    rows = []
    for e, link in enumerate(record.linking.links):
        notes = b.t("linking_base") if e == 0 else (link.reason or "")
        notes = "；".join([notes, *[f"{d.item_id} {d.reason}" for d in link.dropped]] if link.dropped else [notes])
        rows.append([link.label, METHOD_NAMES.get(link.method, "") if link.linked else "",
                     len(link.common) if e else None, link.slope if link.linked else None,
                     link.intercept if link.linked else None, notes])
    end = b.table(ws, row + 1, [b.t("exam"), b.t("linking_method"), b.t("common_items"), b.t("linking_slope"),
                               b.t("linking_intercept"), b.t("linking_note")], rows,
                  [_TEXT, None, "0", _THREE, _THREE, _WRAP], widths=(21, 13, 9, 12, 10, 60))
    if record.linked_theta:
        b.write(ws, end, 1, b.t("scale_note"))


def _withheld_row(row: list, keep: int) -> list:
    """``row`` with only its first ``keep`` cells (the group's name and head count): the rest withheld."""
    return [*row[:keep], *[None] * (len(row) - keep)]


def _value_added_sheet(b: _Book, analysis: Analysis, *, withheld: Collection[str] = (),
                       unmatched: bool = True) -> None:
    """增值评价: value-added per class (and per teacher), the method in words, and (``unmatched``) who could not be
    linked; the classes in ``withheld`` show their head count only."""
    progress = analysis.progress
    ws = b.sheet("sheet_value_added")
    headers = [b.t("linked"), b.t("va_raw"), b.t("va_se"), b.t("va_shrinkage"), b.t("va_estimate"), b.t("va_low"),
               b.t("va_high"), b.t("va_shown")]
    formats = ["0", _THREE, _THREE, _TWO, _THREE, _THREE, _THREE, None]
    row = 1
    for key, va in (("class", progress.classes), ("teacher", progress.teachers)):
        if va is None:
            continue
        rows = [[group, va.n[g], va.raw[g], va.se[g], va.shrinkage[g],
                 *((va.estimate[g], va.low[g], va.high[g], b.t("va_yes")) if va.shown[g]
                   else (None, None, None, b.t("va_too_few")))] for g, group in enumerate(va.groups)]
        if key == "class":
            rows = [_withheld_row(row, 2) if row[0] in withheld else row for row in rows]
        row = b.table(ws, row, [b.t(key), *headers], rows, [_TEXT, *formats], widths=(16, *[12] * 8)) + 1
    for line in (b.t("va_method"), *progress.notes):
        b.write(ws, row, 1, line)
        row += 1
    if unmatched and progress.record.unmatched:
        row += 1
        rows = [[u.label, u.exam_id, u.student_no, u.reason_text] for u in progress.record.unmatched]
        b.table(ws, row, [b.t("exam"), b.t("exam_id"), b.t("student_no"), b.t("unmatched_reason")], rows,
                [_TEXT, _TEXT, _TEXT, None])


def write_city_workbook(analysis: Analysis, path: str | Path, *, lang: str | None = None) -> Path:
    """The city report comparing schools (no per-student sheets: the school and class reports hold those)."""
    b = _Book(lang or analysis.config.lang, path)
    schools, everyone = analysis.schools, analysis.all
    a = everyone.stats
    pairs = [(b.t(key), [getattr(a, key)[0]], fmt) for key, fmt in
             (("n", "0"), ("mean", _TWO), ("sd", _TWO), ("max", _SCORE), ("min", _SCORE), ("median", _SCORE),
              ("q1", _SCORE), ("q3", _SCORE), ("score_rate", _PCT))]
    pairs.insert(1, (b.t("absent"), [everyone.n_absent[0]], "0"))
    pairs += [(b.t(key), [a.rates[0, k]], _PCT) for k, key in enumerate(("excellent", "good", "pass", "low"))]
    pairs.append((b.t("sheet_schools"), [len(schools)], "0"))
    _overview(b, analysis, b.t("report_city"), pairs, [b.t("city")], item_view(analysis, None),
              [(b.t("city"), everyone.histogram.counts[0])])

    ws = b.sheet("sheet_schools")
    headers, rows, formats = _group_summary_rows(b, schools, range(len(schools)),
                                                 lambda g: [analysis.config.school_name(schools.schools[g])],
                                                 ("mean_diff_city", "mean_ratio_city"))
    b.table(ws, 1, [b.t("school_name" if analysis.config.school_names else "school"), *headers], rows, [_TEXT, *formats], widths=(13, *[9] * len(headers)),
            freeze="B2")
    n = len(rows)
    if n:
        b.colour_scale(ws, f"D2:D{n + 1}")
        b.bar_chart(ws, f"A{n + 5}", b.t("school_means"), (1, 2, 1, n + 1), [(4, 1, 4, n + 1)],
                    width=min(60, max(14, 0.8 * n)), height=9)

    _items_sheet(b, analysis, item_view(analysis, None), [(b.t("city_rate"), everyone.item_rates[0])])
    bp = analysis.blueprint
    points = [f"{pid} {name}" for pid, name in zip(bp.point_ids, bp.point_names)]
    m_rows = [[analysis.config.school_name(schools.schools[g]), *schools.knowledge_rates[g].tolist(),
               "、".join(f"{bp.point_names[t]}({100 * gap:+.0f}%)" for t, gap in
                        zip(schools.weakest[g], schools.weakest_gaps[g]) if np.isfinite(gap) and gap < 0)
               or b.t("none_below")] for g in range(len(schools))]
    matrix = ([b.t("school"), *points, b.t("weakest")], m_rows, [_TEXT, *[_PCT] * len(points), None])
    _knowledge_sheet(b, analysis, [(b.t("city_rate"), everyone.knowledge_rates[0])], None,
                     everyone.dina_mastery[0] if everyone.dina_mastery is not None else None, matrix)
    _segments_sheet(b, analysis, [(b.t("city"), everyone, 0)])
    if analysis.progress is not None:
        every = np.arange(len(analysis.students.rows))
        _trend_sheet(b, analysis, every, by="school", students=False, reference=(b.t("city"), every))
        _value_added_sheet(b, analysis)
    b.notes(analysis)
    return b.save()


def write_totals_workbook(multi, path: str | Path, *, lang: str = "zh", ranks: bool = True) -> Path:
    """总分 workbook of several subjects (:class:`analytics.analysis.MultiSubject`): each subject, the total and
    (with ``ranks``) its class, grade and city ranks (complete totals only), best first."""
    m = multi
    b = _Book(lang, path)
    ws = b.sheet("sheet_totals")
    order = np.lexsort((m.exam_ids.astype(str), np.where(m.complete, -np.nan_to_num(m.total), np.inf)))
    rank_keys = ("class_rank", "grade_rank", "city_rank") if ranks else ()
    headers = [b.t("exam_id"), b.t("name"), b.t("class"), b.t("school"), *m.subjects, b.t("total"),
               *map(b.t, rank_keys)]
    rows = [[m.exam_ids[i], m.names[i], m.classes[i], m.schools[i], *m.scores[i].tolist(), m.total[i],
             *[getattr(m, key)[i] or None for key in rank_keys]] for i in order.tolist()]
    b.table(ws, 1, headers, rows, [_TEXT, None, None, _TEXT, *[_SCORE] * len(m.subjects), _SCORE,
                                   *["0"] * len(rank_keys)], widths=(13, 9, 12, 13), freeze="C2")
    if rows:
        column = _col(5 + len(m.subjects))
        b.colour_scale(ws, f"{column}2:{column}{len(rows) + 1}")
    return b.save()
