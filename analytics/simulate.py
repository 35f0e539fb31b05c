"""Simulated marks for tests and the benchmark: students in classes and schools answer an exam under a simple
IRT model, and the answers are scored by the exam's own rules (:func:`grading.mark.score_tables`).

Ability θ = school effect + class effect + N(0, 1); a choice question is answered correctly with probability
1 / (1 + exp(-1.7 (θ - b_j))), b_j from the question's expected difficulty; wrong answers favour one attractive
distractor, so option analysis has something to find. Subjective scores are binomial in the points.
"""

from __future__ import annotations

import numpy as np

from analytics.model import ExamData

__all__ = ["simulate_answers", "simulate_exam_data", "benchmark_exam", "class_layout"]


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def class_layout(n_students: int, n_schools: int, classes_per_school: int, *, first_school: int = 3432000001
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(school codes, class names, class index) for students dealt to schools and classes in order."""
    n_classes = n_schools * classes_per_school
    class_index = (np.arange(n_students) * n_classes) // max(n_students, 1)
    school_index = class_index // classes_per_school
    school_names = np.array([f"{first_school + s:010d}" for s in range(n_schools)], dtype=object)
    class_names = np.array([f"高一({c + 1})班" for c in range(classes_per_school)], dtype=object)
    return school_names[school_index], class_names[class_index % classes_per_school], class_index


def simulate_answers(exam, theta: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(masks (N, Q), subjective values (N, Q)) for every canonical question of ``exam``."""
    n = len(theta)
    questions = exam.questions
    masks = np.zeros((n, len(questions)), np.uint16)
    values = np.full((n, len(questions)), np.nan)
    for j, q in enumerate(questions):
        expected = q.difficulty if q.difficulty is not None else 0.6
        b = -_logit(np.clip(np.array(expected), 0.05, 0.95)) / 1.7
        p = 1.0 / (1.0 + np.exp(-1.7 * (theta - b)))
        right = rng.random(n) < p
        if q.type == "subjective":
            values[:, j] = rng.binomial(int(np.floor(q.points)), np.clip(p, 0.01, 0.99)).astype(float)
            continue
        n_opt = len(q.options)
        key = 0
        for letter in (q.answers[0] if q.answers else q.options[0]):
            key |= 1 << q.options.index(letter)
        wrong_options = [o for o in range(n_opt) if not key >> o & 1] or [0]
        # one attractive distractor, the rest rarely chosen; a few blanks
        weights = np.array([0.7] + [0.3 / max(len(wrong_options) - 1, 1)] * (len(wrong_options) - 1))
        weights = weights[:len(wrong_options)] / weights[:len(wrong_options)].sum()
        chosen = np.array(wrong_options)[rng.choice(len(wrong_options), n, p=weights)]
        wrong_mask = (1 << chosen).astype(np.uint16)
        if q.type == "multi":
            # a partial answer (a proper subset of the key) half the time
            bits = [o for o in range(n_opt) if key >> o & 1]
            partial = np.uint16(1 << bits[0])
            wrong_mask = np.where(rng.random(n) < 0.5, partial, wrong_mask | np.uint16(key)).astype(np.uint16)
        column = np.where(right, np.uint16(key), wrong_mask)
        column[rng.random(n) < 0.01] = 0  # blank
        masks[:, j] = column
    return masks, values


def simulate_exam_data(exam, n_students: int, *, n_schools: int = 1, classes_per_school: int = 4, seed: int = 0,
                       absent_rate: float = 0.02, pending_rate: float = 0.0) -> ExamData:
    """An :class:`ExamData` of ``n_students`` simulated students (ids ``2026`` + 6 digits) scored by the exam's
    rules; some absent (and pending, if asked)."""
    from grading.mark import score_tables

    rng = np.random.default_rng(seed)
    schools, classes, class_index = class_layout(n_students, n_schools, classes_per_school)
    school_effect = rng.normal(0, 0.3, n_schools)
    class_effect = rng.normal(0, 0.2, n_schools * classes_per_school)
    theta = school_effect[class_index // classes_per_school] + class_effect[class_index] + rng.normal(0, 1, n_students)
    masks, values = simulate_answers(exam, theta, rng)
    tables = score_tables(exam)
    scores = np.empty(masks.shape)
    for j, q in enumerate(exam.questions):
        if q.type == "subjective":
            scores[:, j] = np.minimum(values[:, j], q.points)
        elif q.status == "bonus":
            scores[:, j] = q.points
        else:
            scores[:, j] = tables[j, masks[:, j].astype(np.intp)]
    active = np.array([q.status != "void" for q in exam.questions], bool)
    scores, masks = scores[:, active], masks[:, active]
    status = np.full(n_students, "graded", dtype=object)
    draw = rng.random(n_students)
    status[draw < absent_rate] = "absent"
    status[(draw >= absent_rate) & (draw < absent_rate + pending_rate)] = "pending"
    scores[status != "graded"] = np.nan
    masks[status == "absent"] = 0
    totals = scores.sum(axis=1)
    questions = [q for q in exam.questions if q.status != "void"]
    section_ids = tuple(exam.section_ids())
    of_section = np.array([q.section for q in questions], dtype=object)
    section_totals = np.stack([scores[:, of_section == s].sum(axis=1) for s in section_ids], axis=1) \
        if section_ids else np.zeros((n_students, 0))
    ids = np.array([f"2026{k:06d}" for k in range(n_students)], dtype=object)
    names = np.array([f"学生{k + 1}" for k in range(n_students)], dtype=object)
    return ExamData(exam=exam, exam_ids=ids, student_nos=np.full(n_students, "", dtype=object), names=names,
                    classes=classes, schools=schools, status=status, item_ids=tuple(q.id for q in questions),
                    points=np.array([q.points for q in questions], float), scores=scores, totals=totals,
                    masks=masks, section_ids=section_ids,
                    section_names=tuple(exam.section_name(s) for s in section_ids), section_totals=section_totals)


def benchmark_exam(n_items: int = 60, n_points: int = 8, seed: int = 0):
    """A generated exam: 40 single-choice, 10 multi-select (gaokao rule) and the rest subjective questions over
    ``n_points`` knowledge points (some questions on two points), full marks = sum of points."""
    from grading.exam import parse_exam

    rng = np.random.default_rng(seed)
    questions = []
    n_single, n_multi = min(40, n_items), min(10, max(n_items - 40, 0))
    for j in range(n_items):
        qid = f"Q{j + 1}"
        points_on = [{"id": f"K{j % n_points + 1:02d}", "name": f"知识点{j % n_points + 1}", "weight": 1}]
        if j % 3 == 2:
            other = (j + 3) % n_points
            if other != j % n_points:
                points_on.append({"id": f"K{other + 1:02d}", "name": f"知识点{other + 1}", "weight": 0.5})
        difficulty = float(np.round(rng.uniform(0.3, 0.9), 2))
        if j < n_single:
            q = {"id": qid, "type": "single", "points": 2, "answers": ["ABCD"[j % 4]]}
        elif j < n_single + n_multi:
            q = {"id": qid, "type": "multi", "points": 4, "answers": ["ACD"], "rule": "gaokao", "partial_points": 2}
        else:
            q = {"id": qid, "type": "subjective", "points": 10}
        q.update(knowledge_points=points_on, difficulty=difficulty, section="I" if j < n_single + n_multi else "II")
        questions.append(q)
    full = sum(q["points"] for q in questions)
    return parse_exam({"id": "bench", "name": "analytics benchmark", "subject": "数学", "full_marks": full,
                       "sections": [{"id": "I", "name": "选择题"}, {"id": "II", "name": "解答题"}],
                       "questions": questions})
