"""A student's record across exams (成绩追踪), keyed by 学籍号 — the national student number, which stays while the
考号 changes with every exam.

Each exam is put on a comparable scale within the grade that sat it (docs/statistics.md, "Students over time": z
and the percentile rank), and, when the exams share bank items (:attr:`grading.exam.Question.item_id`), the
students' Rasch abilities are put on the first exam's scale through those common items (:mod:`analytics.linking`;
an exam with too few common items keeps z and percentile only, with the reason). Students who cannot be linked are
never dropped silently: :attr:`StudentRecord.unmatched` lists each with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from analytics.diagnosis import Trend, blueprint_from_exam, dichotomise, knowledge_rates
from analytics.linking import IrtLinking, link_rasch
from analytics.model import ExamData
from analytics.scores import competition_ranks, percentile_ranks, standard_scores

__all__ = ["ExamScores", "StudentRecord", "Unmatched", "link_exams", "record_trend", "steady_points",
           "exam_scores_of", "UNMATCHED_REASONS"]

#: Why a student of one exam is not in the record, in the teacher's words.
UNMATCHED_REASONS = {
    "no_student_no": "无学籍号，无法与其他考试对应",
    "duplicate_student_no": "学籍号在本次考试中重复",
}


@dataclass(frozen=True)
class ExamScores:
    """One exam as the record needs it: who sat (NaN total = did not sit) and under which 学籍号.

    ``student_nos`` holds ``""`` for a student without one. ``knowledge`` (N, P) holds each student's
    knowledge-point score rates on the exam's points ``point_ids`` (named ``point_names``), NaN for a student who
    did not sit; empty when the exam's blueprint is not known.
    """

    label: str
    exam_ids: np.ndarray
    student_nos: np.ndarray
    totals: np.ndarray
    names: np.ndarray | None = None
    classes: np.ndarray | None = None
    point_ids: tuple[str, ...] = ()
    point_names: tuple[str, ...] = ()
    knowledge: np.ndarray | None = None
    item_keys: tuple[str, ...] = ()
    responses: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.exam_ids)
        for name in ("student_nos", "totals", "names", "classes", "knowledge", "responses"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"ExamScores {self.label!r}: {name} has {len(value)} rows, exam_ids {n}")
        if self.point_ids and (self.knowledge is None or self.knowledge.shape[1] != len(self.point_ids)):
            raise ValueError(f"ExamScores {self.label!r}: knowledge rates do not match its {len(self.point_ids)} "
                             "knowledge points")
        if self.responses is not None and self.responses.shape[1] != len(self.item_keys):
            raise ValueError(f"ExamScores {self.label!r}: responses to {self.responses.shape[1]} items, "
                             f"{len(self.item_keys)} item keys")


@dataclass(frozen=True)
class Unmatched:
    """A student of one exam left out of the record, and why (a key of :data:`UNMATCHED_REASONS`)."""

    label: str
    exam_id: str
    student_no: str
    reason: str

    @property
    def reason_text(self) -> str:
        return UNMATCHED_REASONS[self.reason]


@dataclass(frozen=True)
class StudentRecord:
    """M students (by 学籍号) x E exams, oldest first.

    Attributes
    ----------
    labels : tuple of str, (E,)
    student_nos : ndarray of str, (M,)
        Sorted.
    exam_ids : ndarray of object, (M, E)
        The student's 考号 in each exam (``""`` where they were not on its list).
    names, classes : ndarray of object, (M,)
        From the latest exam that lists the student.
    totals, z, percentile, ranks : ndarray, (M, E)
        NaN where the student did not sit; z, the percentile rank and the competition rank are within everyone who
        sat that exam.
    point_ids, point_names : tuple of str, (P,)
        Every knowledge point of any exam (by id, first-seen order; the latest exam's name).
    knowledge : ndarray, (M, E, P)
        The student's score rate on each point in each exam (NaN: not sat, or the exam did not test the point).
    grade_knowledge : ndarray, (E, P)
        The mean rate of everyone who sat each exam (the grade's rate), NaN where not tested.
    unmatched : tuple of Unmatched
    theta, scale_scores : ndarray, (M, E)
        Rasch ability on the first exam's scale and its scale score (:mod:`analytics.linking`), NaN where the
        student did not sit or the exam is not linked.
    linking : IrtLinking or None
        How each exam was linked (method, common items, drifted items, why not); None when some exam's key (its
        items) is not known, ``linking_note`` saying so.
    """

    labels: tuple[str, ...]
    student_nos: np.ndarray
    exam_ids: np.ndarray
    names: np.ndarray
    classes: np.ndarray
    totals: np.ndarray
    z: np.ndarray
    percentile: np.ndarray
    ranks: np.ndarray
    unmatched: tuple[Unmatched, ...]
    point_ids: tuple[str, ...] = ()
    point_names: tuple[str, ...] = ()
    knowledge: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    grade_knowledge: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    theta: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    scale_scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    linking: IrtLinking | None = None
    linking_note: str = ""

    @property
    def linked_theta(self) -> bool:
        """Some exam after the first has abilities on the first exam's scale."""
        return self.linking is not None and self.linking.any_linked

    @property
    def sat(self) -> np.ndarray:
        """(M, E) bool: the student sat that exam."""
        return np.isfinite(self.totals)

    def in_every_exam(self) -> np.ndarray:
        """(M,) bool: the student sat every exam of the record."""
        return self.sat.all(axis=1)


def link_exams(exams: Sequence[ExamScores], *, method: str = "stocking_lord") -> StudentRecord:
    """Link students across ``exams`` (oldest first) by 学籍号, and their Rasch abilities through common items.

    A student without a 学籍号, or whose 学籍号 appears twice in one exam, is left out of the record and listed in
    ``unmatched`` with the reason; a student absent from some exams stays in the record with NaN there. With two or
    more exams whose items are known, :func:`analytics.linking.link_rasch` (``method``) puts abilities on the first
    exam's scale.
    """
    if not exams:
        raise ValueError("a student record needs at least one exam")
    keys: dict[str, int] = {}
    kept: list[tuple[np.ndarray, np.ndarray]] = []  # per exam: row indices kept, their record keys
    unmatched: list[Unmatched] = []
    for exam in exams:
        numbers = np.array([_text(v) for v in np.asarray(exam.student_nos, dtype=object).tolist()], dtype=object)
        distinct, counts = np.unique(numbers[numbers != ""], return_counts=True)
        repeated = set(distinct[counts > 1].tolist())
        rows = []
        for row, number in enumerate(numbers.tolist()):
            exam_id = str(exam.exam_ids[row])
            if not number:
                unmatched.append(Unmatched(exam.label, exam_id, "", "no_student_no"))
            elif number in repeated:
                unmatched.append(Unmatched(exam.label, exam_id, number, "duplicate_student_no"))
            else:
                rows.append(row)
                keys.setdefault(number, len(keys))
        rows_array = np.array(rows, dtype=np.intp)
        kept.append((rows_array, numbers[rows_array]))

    student_nos = np.array(sorted(keys), dtype=object)
    position = {number: i for i, number in enumerate(student_nos.tolist())}
    m, e = len(student_nos), len(exams)
    exam_ids = np.full((m, e), "", dtype=object)
    names = np.full(m, "", dtype=object)
    classes = np.full(m, "", dtype=object)
    totals, z, percentile, ranks = (np.full((m, e), np.nan) for _ in range(4))
    point_ids = tuple(dict.fromkeys(p for exam in exams for p in exam.point_ids))
    point_names = {p: p for p in point_ids}
    for exam in exams:
        point_names.update({p: name or p for p, name in zip(exam.point_ids, exam.point_names or exam.point_ids)})
    knowledge = np.full((m, e, len(point_ids)), np.nan)
    grade_knowledge = np.full((e, len(point_ids)), np.nan)
    linking, linking_note = _irt_linking(exams, method)
    theta, scale_scores = np.full((m, e), np.nan), np.full((m, e), np.nan)
    for column, (exam, (rows, numbers)) in enumerate(zip(exams, kept)):
        values = np.asarray(exam.totals, dtype=float)
        sat = np.isfinite(values)
        z_all, pr_all, rank_all = (np.full(len(values), np.nan) for _ in range(3))
        z_all[sat] = standard_scores(values[sat])[0]
        pr_all[sat] = percentile_ranks(values[sat])
        rank_all[sat] = competition_ranks(values[sat])
        where = np.array([position[n] for n in numbers.tolist()], dtype=np.intp)
        exam_ids[where, column] = np.asarray(exam.exam_ids, dtype=object)[rows].astype(str)
        totals[where, column] = values[rows]
        z[where, column] = z_all[rows]
        percentile[where, column] = pr_all[rows]
        ranks[where, column] = rank_all[rows]
        if linking is not None:
            theta[where, column] = linking.theta[column][rows]
            scale_scores[where, column] = linking.scale_scores[column][rows]
        if exam.names is not None:
            names[where] = np.asarray(exam.names, dtype=object)[rows]
        if exam.classes is not None:
            classes[where] = np.asarray(exam.classes, dtype=object)[rows]
        if exam.point_ids:
            columns = [point_ids.index(p) for p in exam.point_ids]
            rates = np.asarray(exam.knowledge, dtype=float)
            knowledge[np.ix_(where, [column], columns)] = rates[rows][:, None, :]
            known = np.isfinite(rates)
            counts = known.sum(axis=0)
            grade_knowledge[column, columns] = np.where(counts > 0, np.where(known, rates, 0.0).sum(axis=0)
                                                        / np.maximum(counts, 1), np.nan)
    return StudentRecord(tuple(exam.label for exam in exams), student_nos, exam_ids, names, classes, totals, z,
                         percentile, ranks, tuple(unmatched), point_ids,
                         tuple(point_names[p] for p in point_ids), knowledge, grade_knowledge, theta, scale_scores,
                         linking, linking_note)


def _irt_linking(exams: Sequence[ExamScores], method: str) -> tuple[IrtLinking | None, str]:
    """The Rasch linking of ``exams`` (None with one exam, or with the reason when an exam's items are unknown)."""
    if len(exams) < 2:
        return None, ""
    unknown = [exam.label for exam in exams if exam.responses is None]
    if unknown:
        return None, (f"{'、'.join(unknown)} 的试卷定义（exam.json）不在成绩文件夹中，不知道哪些是共同题，"
                      "未做 IRT 链接，只按 z 分和百分等级比较")
    responses = [np.where(np.isfinite(np.asarray(exam.totals, float))[:, None], exam.responses, np.nan)
                 for exam in exams]
    return link_rasch([exam.label for exam in exams], [exam.item_keys for exam in exams], responses,
                      method=method), ""


def record_trend(record: StudentRecord) -> Trend:
    """The rank and z-score trend (:class:`analytics.diagnosis.Trend`) of the students who sat every exam of the
    record; ``exam_ids`` are their latest 考号."""
    if len(record.labels) < 2:
        raise ValueError("a trend needs two or more exams")
    every = record.in_every_exam()
    ranks = record.ranks[every].astype(np.int64)
    z = record.z[every]
    return Trend(record.labels, record.exam_ids[every, -1].astype(str), record.totals[every], ranks, z,
                 ranks[:, 0] - ranks[:, -1], z[:, -1] - z[:, 0], record.student_nos[every].astype(str))


def _text(value: object) -> str:
    """A 学籍号 cell as text; None and NaN (an empty spreadsheet cell) are no number."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def steady_points(record: StudentRecord) -> tuple[np.ndarray, np.ndarray]:
    """(strengths, lasting weaknesses), each (M, P) bool: points the student was tested on in two or more exams
    and scored at or above (strength) / below (weakness) the grade's rate every time."""
    tested = np.isfinite(record.knowledge) & np.isfinite(record.grade_knowledge)[None, :, :]
    above = np.where(tested, record.knowledge >= record.grade_knowledge[None, :, :], True)
    below = np.where(tested, record.knowledge < record.grade_knowledge[None, :, :], True)
    enough = tested.sum(axis=1) >= 2
    return enough & above.all(axis=1), enough & below.all(axis=1)


def exam_scores_of(data: ExamData) -> ExamScores:
    """An analysed exam as the record needs it: a total only for graded students, and each student's
    knowledge-point rates from the exam's blueprint. With several schools a class is named with its school code,
    as class names repeat across schools."""
    classes = data.classes.astype(object)
    if len(set(data.schools.tolist())) > 1:
        classes = np.array([f"{school} {name}" for school, name in zip(data.schools.tolist(), classes.tolist())],
                           dtype=object)
    graded = data.status == "graded"
    blueprint = blueprint_from_exam(data.exam, data.item_ids)
    rates, _ = knowledge_rates(np.where(graded[:, None], data.scores, np.nan), data.points, blueprint.weights)
    # 0/1 as the analysis's Rasch fit takes them (a score reaching 60 % of the item's points is right)
    binary = np.where(graded[:, None], dichotomise(np.nan_to_num(data.scores), data.points), np.nan)
    item_keys = tuple(data.exam.question(qid).item_id or "" for qid in data.item_ids)
    return ExamScores(data.exam.id, data.exam_ids.astype(str), data.student_nos.astype(object),
                      np.where(graded, data.totals, np.nan), data.names, classes, blueprint.point_ids,
                      blueprint.point_names, rates, item_keys, binary)
