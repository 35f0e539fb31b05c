"""Answer keys and blueprints (双向细目表) in the spreadsheets teachers prepare: import and export.

A workbook has a ``试题`` sheet, one row per canonical question, with the columns of :data:`QUESTION_COLUMNS`
(Chinese headers; the English field names work too), an optional ``考试`` sheet of exam facts (one key per
row: 考试编号, 考试名称, 科目, 考试场次, 满分, 答题卡模板, 默认卷型, and ``大题 | id | name`` rows) and a
``说明`` sheet explaining every column. A CSV file is the ``试题`` table alone; the exam facts then come from
the caller (``yuejuan exam import --subject ...``) or their defaults.

Paper versions are extra columns ``B卷题号`` (``C卷题号`` ...): the number the canonical question has on that
version's sheet. Import collects every problem and raises one :class:`ExamImportError` listing them all,
each starting with its spreadsheet row ("row 17 (Q16): answer 'F' not among options A–D").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grading.exam import DEFAULT_OPTIONS, Exam, ExamError, Question, load_exam, parse_exam
from grading.tabular import (Table, TableError, find_columns, normalise_header, parse_number, read_rows,
                             read_table)

__all__ = ["ExamImportError", "QUESTION_COLUMNS", "read_exam_table", "load_exam_any", "write_exam_xlsx",
           "write_exam_template_xlsx", "parse_answers", "template_problems"]

#: Question columns: field -> (Chinese header written to workbooks, other accepted headers).
QUESTION_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "id": ("题号", ("question", "题目", "qid")),
    "type": ("题型", ("question type",)),
    "options": ("选项", ("option",)),
    "points": ("分值", ("分数", "满分", "score", "max score")),
    "answers": ("答案", ("answer", "标准答案", "key")),
    "rule": ("评分规则", ("scoring rule", "给分规则")),
    "partial": ("部分分", ("partial points", "partial_points", "option points", "option_points")),
    "knowledge_points": ("知识点", ("knowledge point", "knowledge")),
    "weights": ("权重", ("weight", "知识点权重")),
    "cognitive_level": ("认知层次", ("cognitive level", "能力层次", "认知水平")),
    "status": ("状态", ("question status",)),
    "section": ("大题", ("section", "题组", "模块")),
    "difficulty": ("难度", ("预估难度", "expected difficulty")),
}

_TYPES = {
    "single": "single", "单选": "single", "单选题": "single", "单项选择": "single", "单项选择题": "single",
    "multi": "multi", "多选": "multi", "多选题": "multi", "多项选择": "multi", "多项选择题": "multi",
    "不定项": "multi", "不定项选择": "multi",
    "truefalse": "truefalse", "判断": "truefalse", "判断题": "truefalse", "tf": "truefalse",
    "subjective": "subjective", "主观": "subjective", "主观题": "subjective", "解答": "subjective",
    "解答题": "subjective", "填空": "subjective", "填空题": "subjective", "作文": "subjective",
}
_TYPE_LABELS = {"single": "单选", "multi": "多选", "truefalse": "判断", "subjective": "主观"}
_RULES = {
    "all_or_nothing": "all_or_nothing", "全对得分": "all_or_nothing", "全对": "all_or_nothing",
    "全对才得分": "all_or_nothing",
    "gaokao": "gaokao", "部分分": "gaokao", "高考": "gaokao", "漏选得部分分": "gaokao", "少选得部分分": "gaokao",
    "per_option": "per_option", "按选项": "per_option", "按选项给分": "per_option", "每项给分": "per_option",
    "新高考": "per_option",
}
_RULE_LABELS = {"all_or_nothing": "全对得分", "gaokao": "部分分", "per_option": "按选项"}
_STATUSES = {"": "normal", "normal": "normal", "正常": "normal", "bonus": "bonus", "送分": "bonus",
             "void": "void", "作废": "void"}
_STATUS_LABELS = {"normal": "正常", "bonus": "送分", "void": "作废"}
_TRUE = {"T", "√", "✓", "✔", "对", "正确", "是", "Y", "YES", "TRUE"}
_FALSE = {"F", "×", "✗", "✘", "X", "错", "错误", "否", "N", "NO", "FALSE"}
_EXAM_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("考试编号", "考试代码", "exam id"),
    "name": ("考试名称", "exam name"),
    "subject": ("科目", "学科"),
    "sitting": ("考试场次", "考次", "场次"),
    "full_marks": ("满分", "试卷满分", "full marks"),
    "template": ("答题卡模板", "答题卡", "template id"),
    "default_version": ("默认卷型", "default version"),
    "review_multiple": ("重复涂卡复核", "review multiple"),
    "publish_ranks": ("公布排名", "publish ranks"),
    "violation_policy": ("违纪处理", "violation policy"),
    "section": ("大题", "sections"),
    "optional_group": ("选考题", "选做题", "optional group"),
}
#: 违纪处理 as a teacher writes it -> Exam.violation_policy
_VIOLATION_POLICIES = {"列出": "list", "保留成绩": "list", "成绩保留": "list", "list": "list", "计零分": "zero",
                       "零分": "zero", "计0分": "zero", "zero": "zero", "暂缓": "hold", "暂不计分": "hold",
                       "hold": "hold"}
_VIOLATION_LABELS = {"list": "列出", "zero": "计零分", "hold": "暂缓"}
_QUESTION_LIST = re.compile(r"[\s,，、;；/]+")
_EXAM_LABELS = {"id": "考试编号", "name": "考试名称", "subject": "科目", "sitting": "考试场次",
                "full_marks": "满分", "template": "答题卡模板", "default_version": "默认卷型",
                "review_multiple": "重复涂卡复核", "publish_ranks": "公布排名", "violation_policy": "违纪处理"}
_FIELD_LABELS = {"points": "分值", "options": "选项", "answers": "答案", "partial_points": "部分分",
                 "option_points": "部分分", "difficulty": "难度", "knowledge_points": "知识点",
                 "cognitive_level": "认知层次", "rule": "评分规则", "status": "状态", "type": "题型"}
_VERSION_COLUMN = re.compile(r"^\s*([A-Za-z0-9]{1,8})\s*卷\s*题号\s*$|^\s*version\s*([A-Za-z0-9]{1,8})\s*$", re.I)
_LIST_SPLIT = re.compile(r"[;；、|\n]+")
_ALTERNATIVES = re.compile(r"[|/／或]+")


class ExamImportError(ExamError):
    """A key or blueprint file with problems; ``errors`` lists each (with its row), the message all of them."""

    def __init__(self, source: str, errors: list[str]):
        self.errors = list(errors)
        shown = self.errors[:50]
        more = f"\n  ... and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{source}: {len(self.errors)} problem(s)\n  " + "\n  ".join(shown) + more)


def _options(text: str) -> str:
    # "ABCD", "A-D", "A～D", "A,B,C,D" or a count ("4") all mean the same options.
    text = text.strip().upper()
    if text.isdigit():
        count = int(text)
        if not 2 <= count <= 10:
            raise ValueError(f"选项 {text!r}: between 2 and 10 options")
        return "ABCDEFGHIJ"[:count]
    match = re.fullmatch(r"([A-Z])\s*[-–—~～至]\s*([A-Z])", text)
    if match and match.group(1) < match.group(2):
        return "".join(chr(c) for c in range(ord(match.group(1)), ord(match.group(2)) + 1))
    return re.sub(r"[\s,，、]", "", text)


def parse_answers(text: str, kind: str, options: str) -> list[str]:
    """Accepted answers from a cell: alternatives split by '|', '/' or '或'; T/F also as √/×, 对/错.

    Within one answer, spaces and commas are ignored ("A, C, D" is the multi-select answer ACD).
    """
    answers = []
    for part in _ALTERNATIVES.split(text.strip()):
        part = re.sub(r"[\s,，、]", "", part).upper()
        if not part:
            continue
        if kind == "truefalse" and options == "TF":
            if part in _TRUE:
                part = "T"
            elif part in _FALSE:
                part = "F"
        answers.append(part)
    return answers


def _knowledge(names: str, weights: str) -> list[dict[str, Any]]:
    items = [item.strip() for item in _LIST_SPLIT.split(names) if item.strip()]
    weight_cells = [w.strip() for w in _LIST_SPLIT.split(weights) if w.strip()]
    if weight_cells and len(weight_cells) != len(items):
        raise ValueError(f"权重 gives {len(weight_cells)} weight(s) for {len(items)} knowledge point(s)")
    points = []
    for i, item in enumerate(items):
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:[\s:：]+(.+))?", item)
        if match:
            kp_id, name = match.group(1), (match.group(2) or "").strip()
        else:
            kp_id, name = item, item
        weight = 1.0
        if weight_cells:
            try:
                weight = parse_number(weight_cells[i])
            except ValueError:
                raise ValueError(f"权重 {weight_cells[i]!r} is not a number") from None
        points.append({"id": kp_id, "name": name, "weight": weight})
    return points


def _partial(text: str, rule: str | None, answers: list[str]) -> dict[str, Any]:
    if not text:
        return {}
    if rule == "per_option":
        if "=" in text or ":" in text or "：" in text:
            option_points = {}
            for item in re.split(r"[;；,，\s]+", text.strip()):
                if not item:
                    continue
                match = re.fullmatch(r"([A-Za-z])\s*[=:：]\s*(.+)", item)
                if match is None:
                    raise ValueError(item)
                option_points[match.group(1).upper()] = parse_number(match.group(2))
            return {"option_points": option_points}
        each = parse_number(text)
        return {"option_points": {letter: each for answer in answers for letter in answer}}
    return {"partial_points": parse_number(text)}


def _question_from_row(cells: dict[str, str], versions: dict[str, str]) -> dict[str, Any]:
    """Raw cells of one row -> the dict a :class:`Question` validates (raises ValueError for bad cells)."""
    qid = cells.get("id", "").strip().upper()
    if re.fullmatch(r"\d+", qid):
        qid = f"Q{int(qid)}"
    if not qid:
        raise ValueError("题号 is empty")
    kind_text = cells.get("type", "").strip()
    kind = _TYPES.get(kind_text.lower()) or _TYPES.get(kind_text)
    if kind is None:
        raise ValueError(f"题型 {kind_text!r} unknown: use 单选, 多选, 判断 or 主观")
    data: dict[str, Any] = {"id": qid, "type": kind}
    options = _options(cells.get("options", "")) if cells.get("options") else DEFAULT_OPTIONS[kind]
    if kind != "subjective":
        data["options"] = options
    points_text = cells.get("points", "")
    if not points_text:
        raise ValueError("分值 is empty")
    try:
        data["points"] = parse_number(points_text)
    except ValueError:
        raise ValueError(f"分值 {points_text!r} is not a number") from None
    answers = parse_answers(cells.get("answers", ""), kind, options)
    if kind != "subjective":
        data["answers"] = answers
    elif answers:
        data["answers"] = answers  # the model says why a subjective question cannot have one
    rule_text = cells.get("rule", "").strip()
    if rule_text:
        rule = _RULES.get(rule_text.lower()) or _RULES.get(rule_text)
        if rule is None:
            raise ValueError(f"评分规则 {rule_text!r} unknown: use 全对得分, 部分分 or 按选项")
        data["rule"] = rule
    try:
        data.update(_partial(cells.get("partial", ""), data.get("rule"), answers))
    except ValueError:
        raise ValueError(f"部分分 {cells.get('partial')!r}: a number (部分分) or option points like 'A=1;C=1' "
                         "(按选项)") from None
    status_text = cells.get("status", "").strip()
    status = _STATUSES.get(status_text.lower()) or _STATUSES.get(status_text)
    if status is None:
        raise ValueError(f"状态 {status_text!r} unknown: use 正常, 送分 or 作废")
    data["status"] = status
    data["knowledge_points"] = _knowledge(cells.get("knowledge_points", ""), cells.get("weights", ""))
    data["cognitive_level"] = cells.get("cognitive_level", "").strip()
    data["section"] = cells.get("section", "").strip()
    if cells.get("difficulty"):
        try:
            data["difficulty"] = parse_number(cells["difficulty"])
        except ValueError:
            raise ValueError(f"难度 {cells['difficulty']!r} is not a number") from None
    for version, number in versions.items():
        number = number.strip().upper()
        if number:
            if not re.fullmatch(r"Q?\d+", number):
                raise ValueError(f"{version}卷题号 {number!r} is not a question number")
            data.setdefault("_versions", {})[version] = f"Q{int(number.lstrip('Q'))}"
    return data


def _question_message(error: ValidationError | ValueError, qid: str) -> str:
    if isinstance(error, ValidationError):
        parts = []
        for item in error.errors():
            field = ".".join(str(p) for p in item["loc"])
            label = _FIELD_LABELS.get(str(item["loc"][0]) if item["loc"] else "", "")
            message = item["msg"].removeprefix("Value error, ").removeprefix(f"{qid}: ")
            parts.append(f"{label} ({field}): {message}" if field else message)
        return "; ".join(parts)
    return str(error).removeprefix(f"{qid}: ")


def _exam_facts(path: Path) -> tuple[dict[str, Any], list[dict[str, str]], list[str]]:
    """The ``考试`` sheet of a workbook: facts, sections and problems (empty when there is no such sheet)."""
    facts: dict[str, Any] = {}
    sections: list[dict[str, str]] = []
    errors: list[str] = []
    lookup = {normalise_header(alias): key for key, aliases in _EXAM_KEYS.items() for alias in (key, *aliases)}
    for number, row in read_rows(path, sheet_names=("考试",), what="exam sheet 考试", named_only=True):
        cells = row + ["", "", ""]
        key = lookup.get(normalise_header(cells[0]))
        if key is None or not cells[1]:
            continue
        if key == "section":
            sections.append({"id": cells[1], "name": cells[2] or cells[1]})
        elif key == "optional_group":  # 选考题: the questions in 内容 (22、23), a name in 说明
            groups = facts.setdefault("optional_groups", [])
            questions = [f"Q{q}" if q.isdigit() else q.upper() for q in _QUESTION_LIST.split(cells[1]) if q]
            groups.append({"id": f"选考{len(groups) + 1}", "name": cells[2], "questions": questions})
        elif key == "violation_policy":
            policy = _VIOLATION_POLICIES.get(cells[1].strip())
            if policy is None:
                errors.append(f"考试 row {number}: 违纪处理 {cells[1]!r}: write 列出, 计零分 or 暂缓")
            else:
                facts[key] = policy
        elif key == "full_marks":
            try:
                facts[key] = parse_number(cells[1])
            except ValueError:
                errors.append(f"考试 row {number}: 满分 {cells[1]!r} is not a number")
        elif key in ("review_multiple", "publish_ranks"):
            answer = cells[1].strip().upper()
            if answer in _TRUE or answer in _FALSE:
                facts[key] = answer in _TRUE
            else:
                errors.append(f"考试 row {number}: {_EXAM_LABELS[key]} {cells[1]!r}: write 是 or 否")
        else:
            facts[key] = cells[1]
    return facts, sections, errors


def _default_id(path: Path) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.")
    return text[:64] or "exam"


def read_exam_table(path: str | Path, **overrides: Any) -> Exam:
    """Import an exam from a ``试题`` table (xlsx or CSV) and, for xlsx, its ``考试`` sheet.

    Parameters
    ----------
    path : str or Path
        The workbook or CSV file.
    **overrides
        Exam fields (``id``, ``subject``, ``full_marks``, ``template``, ``sitting``, ``name``,
        ``default_version``) that win over the file; ``None`` values are ignored. Without an id the file name
        is used, without a subject the id, without full marks the sum of the points of questions not void.

    Raises
    ------
    ExamImportError
        Listing every problem found, each with its row.
    """
    path = Path(path)
    facts, sections, errors = ({}, [], [])
    try:
        table = read_table(path, sheet_names=("试题", "questions", "答案"), what="exam table")
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            facts, sections, errors = _exam_facts(path)
    except TableError as error:
        raise ExamImportError(str(path), error.errors) from None
    aliases = {key: aliases for key, (label, aliases) in QUESTION_COLUMNS.items()}
    aliases = {key: (QUESTION_COLUMNS[key][0], *names) for key, names in aliases.items()}
    columns = find_columns(table.header, aliases)
    version_columns = {}
    for index, name in enumerate(table.header):
        match = _VERSION_COLUMN.match(name)
        if match:
            version_columns[(match.group(1) or match.group(2)).upper()] = index
    for key in ("id", "type", "points"):
        if key not in columns:
            errors.append(f"row 1: no column {QUESTION_COLUMNS[key][0]} ({key})")
    if errors:
        raise ExamImportError(str(path), errors)
    questions, rows_of = _questions(table, columns, version_columns, errors)
    versions: dict[str, dict[str, str]] = {v: {} for v in version_columns}
    seen_sheet: dict[tuple[str, str], int] = {}
    for data in questions:
        for version, sheet_q in data.pop("_versions", {}).items():
            row = rows_of[data["id"]]
            if (version, sheet_q) in seen_sheet:
                errors.append(f"row {row} ({data['id']}): {version}卷题号 {sheet_q} already used on row "
                              f"{seen_sheet[(version, sheet_q)]}")
            seen_sheet[(version, sheet_q)] = row
            versions[version][sheet_q] = data["id"]
    if version_columns and "A" not in versions:
        versions = {"A": {}, **versions}  # 题号 are the A paper's numbers
    section_ids = {s["id"] for s in sections}
    names_to_ids = {s["name"]: s["id"] for s in sections}
    for data in questions:
        if data.get("section") and data["section"] not in section_ids:
            data["section"] = names_to_ids.get(data["section"], data["section"])
    if not sections:
        for data in questions:
            if data.get("section") and data["section"] not in {s["id"] for s in sections}:
                sections.append({"id": data["section"], "name": data["section"]})
    exam_data: dict[str, Any] = {"id": _default_id(path), **facts}
    exam_data.update({k: v for k, v in overrides.items() if v is not None})
    exam_data.setdefault("subject", exam_data["id"])
    exam_data["versions"] = versions
    exam_data["sections"] = sections
    exam_data["questions"] = questions
    # A 选考题 group counts once: leave its other questions out of the default full marks.
    chosen_once = {qid for group in exam_data.get("optional_groups", []) for qid in group["questions"][1:]}
    exam_data.setdefault("full_marks", sum(q["points"] for q in questions
                                           if q.get("status") != "void" and q["id"] not in chosen_once) or 0)
    if errors:
        raise ExamImportError(str(path), errors)
    try:
        return Exam.model_validate(exam_data)
    except ValidationError as error:
        raise ExamImportError(str(path), [_exam_message(item, questions, rows_of) for item in error.errors()]) \
            from None


def _questions(table: Table, columns: dict[str, int], version_columns: dict[str, int],
               errors: list[str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    questions: list[dict[str, Any]] = []
    rows_of: dict[str, int] = {}
    for number, row in table.rows:
        cells = {key: table.cell(row, index) for key, index in columns.items()}
        versions = {v: table.cell(row, index) for v, index in version_columns.items()}
        qid = cells.get("id", "").strip()
        label = f"row {number}" + (f" ({qid if not qid.isdigit() else 'Q' + str(int(qid))})" if qid else "")
        try:
            data = _question_from_row(cells, versions)
        except ValueError as error:
            errors.append(f"{label}: {error}")
            continue
        if data["id"] in rows_of:
            errors.append(f"{label}: {data['id']} already on row {rows_of[data['id']]}")
            continue
        rows_of[data["id"]] = number
        try:
            Question.model_validate({k: v for k, v in data.items() if k != "_versions"})
        except ValidationError as error:
            errors.append(f"{label}: {_question_message(error, data['id'])}")
            continue
        questions.append(data)
    return questions, rows_of


def _exam_message(item: dict, questions: list[dict], rows_of: dict[str, int]) -> str:
    message = item["msg"].removeprefix("Value error, ")
    loc = [str(part) for part in item["loc"]]
    match = re.match(r"(Q\d+)\b", message)
    if match and match.group(1) in rows_of:
        return f"row {rows_of[match.group(1)]}: {message}"
    if loc[:1] == ["questions"] and len(item["loc"]) > 1 and isinstance(item["loc"][1], int):
        qid = questions[item["loc"][1]]["id"]
        return f"row {rows_of.get(qid, '?')} ({qid}): {'.'.join(loc[2:])}: {message}"
    where = _EXAM_LABELS.get(loc[0], loc[0]) if loc else "exam"
    return f"{where}: {message}" if loc else f"exam: {message}"


def load_exam_any(path: str | Path, **overrides: Any) -> Exam:
    """An exam from JSON, xlsx or CSV (chosen by file suffix); ``overrides`` as in :func:`read_exam_table`."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        exam = load_exam(path)
        changes = {k: v for k, v in overrides.items() if v is not None}
        if changes:
            exam = parse_exam({**exam.model_dump(mode="json"), **changes})
        return exam
    if not path.exists():
        raise ExamError(f"cannot read exam {path}: no such file")
    return read_exam_table(path, **overrides)


# ----------------------------------------------------------------------------------------------------------
# Writing workbooks


_HELP = [
    ("题号", "题号 (the A paper's number): 1, 2, ... or Q1, Q2, ...", "17"),
    ("题型", "单选 / 多选 / 判断 / 主观", "多选"),
    ("选项", "option letters: ABCD, A-D or a count (4); 判断 uses T/F", "ABCD"),
    ("分值", "points of the question (decimals allowed)", "5"),
    ("答案", "the key. Several accepted answers: separate with | (A|C). 多选: the option set (ACD). "
            "判断: T/F, √/× or 对/错. 主观: leave empty", "ACD|AC"),
    ("评分规则", "多选 only. 全对得分: exact set only. 部分分 (gaokao): exact = full, a correct subset with nothing "
                "wrong = 部分分, anything wrong = 0. 按选项: each correct option earns its points, anything "
                "wrong = 0", "部分分"),
    ("部分分", "部分分 rule: the partial points (2). 按选项 rule: points per option (A=2;C=2;D=2) or one number "
              "for every option; empty = points shared equally", "2"),
    ("知识点", "knowledge points, separated by ; or 、 (an id before the name is kept: K03 函数)", "K03 函数;K09 导数"),
    ("权重", "weights of the knowledge points in the same order (empty = equal)", "0.6;0.4"),
    ("认知层次", "cognitive level: 识记 / 理解 / 应用 / 分析 / 综合 ...", "应用"),
    ("状态", "正常 (empty), 送分 (bonus: everyone full points) or 作废 (void: left out of totals and "
            "statistics)", "正常"),
    ("大题", "section the subtotal is reported for (an id or name from the 考试 sheet)", "二、多项选择题"),
    ("难度", "expected difficulty 0..1 (optional)", "0.65"),
    ("B卷题号", "for AB papers: the number this question has on the B paper (add C卷题号 ... for more "
               "versions; omit the column for a single paper)", "23"),
]


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _question_cells(question: Question) -> dict[str, Any]:
    partial: Any = ""
    if question.partial_points is not None:
        partial = _number(question.partial_points)
    elif question.option_points is not None:
        partial = ";".join(f"{k}={_number(v):g}" for k, v in question.option_points.items())
    default_options = DEFAULT_OPTIONS[question.type]
    return {
        "id": question.id, "type": _TYPE_LABELS[question.type],
        "options": "" if question.options == default_options else question.options,
        "points": _number(question.points), "answers": "|".join(question.answers),
        "rule": _RULE_LABELS.get(question.rule or "", ""), "partial": partial,
        "knowledge_points": ";".join(kp.id if not kp.name or kp.name == kp.id else f"{kp.id} {kp.name}"
                                     for kp in question.knowledge_points),
        "weights": ";".join(f"{_number(kp.weight):g}" for kp in question.knowledge_points)
        if any(kp.weight != 1 for kp in question.knowledge_points) else "",
        "cognitive_level": question.cognitive_level,
        "status": "" if question.status == "normal" else _STATUS_LABELS[question.status],
        "section": question.section,
        "difficulty": "" if question.difficulty is None else question.difficulty,
    }


def _template_rows(template: Any) -> list[dict[str, Any]]:
    """Rows a template suggests: every question block's numbers, types and options; score boxes' maxima."""
    from omr.template import expand_page

    rows: list[dict[str, Any]] = []
    for number in range(1, len(template.pages) + 1):
        for group in expand_page(template, number).groups:
            if group.kind != "question":
                continue
            options = "".join(b.label for b in group.bubbles)
            kind = "multi" if group.select == "multi" else ("truefalse" if options in ("TF", "√×", "对错") else "single")
            rows.append({"id": group.id, "type": _TYPE_LABELS[kind],
                         "options": "" if options == DEFAULT_OPTIONS[kind] else options})
        for spec in template.pages[number - 1].fields:
            if getattr(spec, "kind", "") == "score_box":
                rows.append({"id": spec.question, "type": _TYPE_LABELS["subjective"],
                             "points": _number(spec.max_score)})
    return rows


def write_exam_xlsx(exam: Exam | None, path: str | Path, *, template: Any = None) -> None:
    """Write an exam (or, with ``exam=None``, a blank form to fill) as a workbook :func:`read_exam_table` reads.

    Parameters
    ----------
    exam : Exam or None
        The exam to export; None writes the headers only (plus rows suggested by ``template``).
    path : str or Path
        ``.xlsx`` file to write.
    template : omr.template.Template, optional
        For a blank form: pre-fill 题号, 题型 and 选项 of every question on the sheet and 分值 of score boxes.
    """
    from grading.safe_cells import text_workbook

    workbook = text_workbook(path)  # every text a string cell: a knowledge point named "=..." is no formula
    heading = {"bold": True, "bg_color": "#DDEBF7"}
    heading_format, centred = workbook.add_format(heading), workbook.add_format({**heading, "align": "center"})
    text_format = workbook.add_format({"num_format": "@"})  # 'T', '1|3' and 'A=1;C=1' stay text in Excel
    sheet = workbook.add_worksheet("试题")
    keys = list(QUESTION_COLUMNS)
    version_names = sorted(exam.versions) if exam is not None else []
    headers = [QUESTION_COLUMNS[k][0] for k in keys] + [f"{v}卷题号" for v in version_names]
    for c, header in enumerate(headers):
        sheet.write_string(0, c, header, centred)
    sheet.freeze_panes("B2")
    if exam is not None:
        inverse = {v: {c: s for s, c in exam.sheet_to_canonical(v).items()} for v in version_names}
        rows = [{**_question_cells(q), **{f"v:{v}": inverse[v][q.id][1:] for v in version_names}}
                for q in exam.questions]
    else:
        rows = _template_rows(template) if template is not None else []
    text_columns = {"id", "options", "answers", "partial", "knowledge_points", "weights", "status", "rule", "type"}
    last = max(len(rows) + 1, 200)
    for c, key in enumerate(keys + [f"v:{v}" for v in version_names]):
        as_text = key in text_columns or key.startswith("v:")
        for r, row in enumerate(rows, start=1):
            _write_cell(sheet, r, c, row.get(key, ""), text_format if as_text else None)
        if as_text and key in keys:  # rows a teacher fills later keep what they type as text
            for r in range(len(rows) + 1, last):
                sheet.write_blank(r, c, None, text_format)
    for c, key in enumerate(keys):
        sheet.set_column(c, c, {"knowledge_points": 28, "answers": 12, "section": 16, "rule": 11,
                                "cognitive_level": 10}.get(key, 8))
    for key, choices in (("type", "单选,多选,判断,主观"), ("rule", "全对得分,部分分,按选项"), ("status", "正常,送分,作废")):
        c = keys.index(key)
        sheet.data_validation(1, c, last - 1, c, {"validate": "list", "source": choices.split(","),
                                                  "error_message": f"choose one of: {choices}"})

    facts = workbook.add_worksheet("考试")
    for c, header in enumerate(["项目", "内容", "说明"]):
        facts.write_string(0, c, header, heading_format)
    values = exam.model_dump(mode="json") if exam is not None else {"template": getattr(template, "id", "")}
    notes = {"id": "letters, digits, - _ .", "subject": "e.g. 数学", "sitting": "exams with the same 考试场次 add "
             "up to one 总分", "full_marks": "empty = sum of the points (作废 questions not counted)",
             "default_version": "version for sheets with no version mark and no 卷型 in the roster",
             "review_multiple": "是：确定的重复涂卡也送复核；否（默认）：按本题规则计分，不送复核",
             "publish_ranks": "是（默认）：报告列出班级/年级排名；否：不列排名（保留等级、百分等级与前/后n%）",
             "violation_policy": "违纪标记：列出（默认：成绩保留，列出待考务认定）；计零分；暂缓（待认定后计分）"}
    fact_rows: list[tuple[str, Any, str, Any]] = []
    for key, label in _EXAM_LABELS.items():
        value = values.get(key)
        if key == "full_marks" and value is not None:
            value = _number(value)
        elif key in ("review_multiple", "publish_ranks"):
            value = "是" if value else "否"
        elif key == "violation_policy":
            value = _VIOLATION_LABELS[value or "list"]
        fact_rows.append((label, "" if value is None else value, notes.get(key, ""),
                          None if key == "full_marks" else text_format))
    fact_rows += [("大题", section.id, section.name, None) for section in (exam.sections if exam is not None else [])]
    fact_rows += [("选考题", "、".join(q.removeprefix("Q") for q in group.questions), group.name, text_format)
                  for group in (exam.optional_groups if exam is not None else [])]
    if exam is None:
        fact_rows.append(("大题", "", "one row per section: id in 内容, display name in 说明 (optional)", None))
        fact_rows.append(("选考题", "", "one row per group of optional questions a student chooses one of: the "
                          "numbers in 内容 (22、23), a name in 说明 (optional)", None))
    for r, (label, value, note, value_format) in enumerate(fact_rows, start=1):
        _write_cell(facts, r, 0, label)
        _write_cell(facts, r, 1, value, value_format)
        _write_cell(facts, r, 2, note)
    for c, width in enumerate((12, 28, 60)):
        facts.set_column(c, c, width)

    guide = workbook.add_worksheet("说明")
    for c, header in enumerate(["列", "含义 / meaning", "示例"]):
        guide.write_string(0, c, header, heading_format)
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    for r, row in enumerate(_HELP, start=1):
        for c, value in enumerate(row):
            _write_cell(guide, r, c, value, (None, wrap, text_format)[c])
    for c, width in enumerate((10, 100, 18)):
        guide.set_column(c, c, width)
    workbook.close()


def _write_cell(sheet: Any, row: int, col: int, value: Any, cell_format: Any = None) -> None:
    """A cell of an XlsxWriter sheet: text as a string (never a formula), a number as a number; '' left blank
    (with ``cell_format``, so that what is typed there later is formatted)."""
    if isinstance(value, str):
        if value:
            sheet.write_string(row, col, value, cell_format)
        elif cell_format is not None:
            sheet.write_blank(row, col, None, cell_format)
    elif value is not None:
        sheet.write_number(row, col, value, cell_format)


def write_exam_template_xlsx(path: str | Path, template: Any = None) -> None:
    """A blank key/blueprint workbook to fill (see :func:`write_exam_xlsx`)."""
    write_exam_xlsx(None, path, template=template)


def template_problems(exam: Exam, template: Any) -> list[str]:
    """Where an exam and its answer-sheet template disagree (warnings: the exam may still be marked).

    Checks that every objective question is printed with its options (a multi-select one in a block that reads
    several marks) and that every subjective question has a score box big enough, or says its scores must be
    imported.
    """
    from omr.template import expand_page

    groups = {}
    boxes: dict[str, float] = {}
    for number in range(1, len(template.pages) + 1):
        groups.update({g.id: g for g in expand_page(template, number).groups if g.kind == "question"})
        boxes.update({spec.question: spec.max_score for spec in template.pages[number - 1].fields
                      if getattr(spec, "kind", "") == "score_box"})
    problems = []
    if exam.template and exam.template != template.id:
        problems.append(f"exam names template {exam.template!r}, checked against {template.id!r}")
    for q in exam.questions:
        if q.type == "subjective":
            if q.id not in boxes:
                problems.append(f"{q.id}: no score box on sheet {template.id}: import its scores (--subjective)")
            elif boxes[q.id] < q.points:
                problems.append(f"{q.id}: score box goes up to {boxes[q.id]:g}, the question is worth {q.points:g}")
            continue
        group = groups.get(q.id)
        if group is None:
            problems.append(f"{q.id}: not on sheet {template.id}")
            continue
        printed = "".join(b.label for b in group.bubbles)
        if not set(q.options) <= set(printed):
            problems.append(f"{q.id}: options {q.options} but the sheet prints {printed}")
        if q.type == "multi" and group.select != "multi":
            problems.append(f"{q.id}: multi-select, but the sheet reads a single mark for it")
    return problems
