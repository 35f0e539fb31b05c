"""The municipal system's view of an exam across the city: aggregates per school, class, question and knowledge
point from each school's newest grade run, and the paginated export of every student's scores.

Statistics follow ``docs/statistics.md`` through the analytics functions that implement it:
:func:`analytics.scores.describe` (N, mean, SD with ddof = 1, min, max, median type 7, score rate, 四率 with the
cut-offs of :data:`analytics.scores.DEFAULT_CUTOFFS`), :func:`analytics.items.item_analysis` (difficulty P = mean /
points, discrimination D from the upper and lower 27 %), :func:`analytics.diagnosis.knowledge_rates` (score rate
through the blueprint's weighted Q-matrix) and :func:`analytics.diagnosis.mastery_bands`. Only graded students are
analysed; absent and pending students are counted.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import literal, select, tuple_
from sqlalchemy.orm import Session

from api.service import audit, grading_runs
from api.service.deps import CurrentPrincipal, ReadSession, RowId, ServiceDep, not_found, permit
from api.service.json_body import LimitedJSONRoute
from api.service.models import Exam, School, ScoreCell, StudentResult
from api.service.schemas.municipal import (Aggregates, ClassStats, GroupStats, KnowledgeBreakdown,
                                           KnowledgePointStats, QuestionBreakdown, QuestionStats, SchoolKnowledge,
                                           SchoolQuestions, SchoolStats, ScoreExportPage, ScoreExportRow)

router = APIRouter(tags=["municipal"], route_class=LimitedJSONRoute)
finite = grading_runs.finite


def _exam(session: Session, exam_id: int) -> Exam:
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise not_found("exam not found")
    return exam


# --- aggregates --------------------------------------------------------------------------------------------------

def _group_stats(city: grading_runs.CityData, codes: np.ndarray, n_groups: int) -> list[dict]:
    """Per group: counts of absent and pending, and :func:`analytics.scores.describe` of the graded totals."""
    from analytics.scores import RATE_KEYS, describe

    graded = city.graded
    stats = describe(city.totals[graded], float(city.points.sum()), codes[graded], n_groups)
    absent = np.bincount(codes, weights=city.status == "absent", minlength=n_groups)
    pending = np.bincount(codes, weights=city.status == "pending", minlength=n_groups)
    return [dict(n=int(stats.n[g]), absent=int(absent[g]), pending=int(pending[g]), mean=finite(stats.mean[g]),
                 sd=finite(stats.sd[g]), min=finite(stats.min[g]), max=finite(stats.max[g]),
                 median=finite(stats.median[g]), score_rate=finite(stats.score_rate[g]),
                 rates={key: finite(stats.rates[g, k]) for k, key in enumerate(RATE_KEYS)})
            for g in range(n_groups)]


def _question_stats(city: grading_runs.CityData, rows: np.ndarray) -> list[QuestionStats]:
    """:func:`analytics.items.item_analysis` of the graded students in ``rows``."""
    from analytics.items import item_analysis

    items = item_analysis(city.scores[rows], city.points, city.item_ids)
    return [QuestionStats(question=qid, points=float(city.points[j]), n=int(items.n), mean=finite(items.mean[j]),
                          difficulty=finite(items.difficulty[j]), discrimination=finite(items.discrimination[j]))
            for j, qid in enumerate(city.item_ids)]


def _knowledge(city: grading_runs.CityData, codes: np.ndarray, n_groups: int
               ) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray, np.ndarray]:
    """(point ids, names, city rates (K,), group rates (G, K)) of the graded students."""
    from analytics.diagnosis import blueprint_from_exam, group_knowledge_rates, knowledge_rates

    graded = city.graded
    blueprint = blueprint_from_exam(city.exam, city.item_ids)
    rates, _ = knowledge_rates(city.scores[graded], city.points, blueprint.weights)
    everyone = group_knowledge_rates(rates, np.zeros(len(rates), np.intp), 1)[0]
    return blueprint.point_ids, blueprint.point_names, everyone, group_knowledge_rates(rates, codes[graded],
                                                                                      n_groups)


def _kp_list(ids, names, rates: np.ndarray) -> list[KnowledgePointStats]:
    from analytics.diagnosis import MASTERY_KEYS, mastery_bands

    bands = mastery_bands(rates)
    return [KnowledgePointStats(id=ids[t], name=names[t], rate=finite(rates[t]),
                                band=MASTERY_KEYS[bands[t]] if bands[t] >= 0 else None) for t in range(len(ids))]


@router.get("/municipal/exams/{exam_id}/aggregates", response_model=Aggregates,
            dependencies=[permit("aggregates:read")])
def aggregates(exam_id: RowId, session: ReadSession,
               by: Literal["school", "class", "question", "knowledge_point"] = "school") -> Aggregates:
    """City-wide statistics of an exam from every school's newest grade run: the whole city always, and per
    school (N, mean, SD, min, max, 四率), per class, per question (mean, difficulty P, discrimination D) or per
    knowledge point (score rate and mastery band), city-wide and per school."""
    from analytics.groups import group_by
    from analytics.scores import DEFAULT_CUTOFFS, cut_lines

    exam_row = _exam(session, exam_id)
    city = grading_runs.city_data(session, exam_row)
    full_marks = float(city.points.sum())
    notes = [f"school {r.school_id}: graded with full marks {r.summary.get('full_marks'):g}, the key now has "
             f"{full_marks:g} (grade it again)" for r in city.runs
             if abs(float(r.summary.get("full_marks", full_marks)) - full_marks) > 1e-6]
    everyone = _group_stats(city, np.zeros(len(city.totals), np.intp), 1)[0]
    out = Aggregates(exam_id=exam_row.id, exam_code=exam_row.code, subject=exam_row.subject, by=by,
                     full_marks=full_marks, cutoffs=list(DEFAULT_CUTOFFS),
                     cut_lines=cut_lines(full_marks).tolist(), schools_reporting=len(city.runs),
                     city=GroupStats(**everyone), notes=notes)
    run_of = {r.school_id: r for r in city.runs}
    school_ids = [r.school_id for r in city.runs]  # sorted by school id
    school_codes = np.searchsorted(np.array(school_ids, dtype=str), city.schools.astype(str)) \
        if len(city.schools) else np.zeros(0, np.intp)
    if by == "school":
        stats = _group_stats(city, school_codes, len(school_ids))
        out.schools = [SchoolStats(school_id=s, school_name=city.school_names.get(s, ""), run_id=run_of[s].id,
                                   graded_at=run_of[s].created_at, **stats[g]) for g, s in enumerate(school_ids)]
    elif by == "class":
        groups = group_by(city.schools, city.classes)
        stats = _group_stats(city, groups.codes, groups.n_groups)
        out.classes = [ClassStats(school_id=school, school_name=city.school_names.get(school, ""),
                                  class_name=class_name, **stats[g])
                       for g, (school, class_name) in enumerate(groups.labels.tolist())]
    elif by == "question":
        graded = city.graded
        out.questions = QuestionBreakdown(
            city=_question_stats(city, graded),
            schools=[SchoolQuestions(school_id=s, school_name=city.school_names.get(s, ""),
                                     questions=_question_stats(city, graded & (school_codes == g)))
                     for g, s in enumerate(school_ids)])
    else:
        ids, names, city_rates, school_rates = _knowledge(city, school_codes, len(school_ids))
        out.knowledge_points = KnowledgeBreakdown(
            city=_kp_list(ids, names, city_rates),
            schools=[SchoolKnowledge(school_id=s, school_name=city.school_names.get(s, ""),
                                     knowledge_points=_kp_list(ids, names, school_rates[g]))
                     for g, s in enumerate(school_ids)])
    return out


# --- the score export --------------------------------------------------------------------------------------------

def _encode_cursor(school_id: str, exam_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([school_id, exam_id]).encode("utf-8")).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        value = None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor: give next_cursor of the previous page")
    return value[0], value[1]


@router.get("/municipal/exams/{exam_id}/scores", response_model=ScoreExportPage,
            dependencies=[permit("scores:export", roles=("municipal",))])
def export_scores(exam_id: RowId, session: ReadSession, principal: CurrentPrincipal, service: ServiceDep,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
                  cursor: Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_\-=]+$")] = None
                  ) -> ScoreExportPage:
    """Every student's scores of each school's newest run, ordered by (school, 考号): ask again with
    ``cursor=next_cursor`` until it is null. The cursor is the last (school, 考号) sent, so rows added or runs
    made between pages neither repeat nor skip a student. Each page sent is in the audit log."""
    from analytics.load import active_questions

    exam_row = _exam(session, exam_id)
    questions = [q.id for q in active_questions(grading_runs.parse_definition(exam_row))]
    query = (select(StudentResult, School.name).join(School, School.id == StudentResult.school_id)
             .where(StudentResult.run_id.in_(grading_runs.newest_run_ids(exam_row.id))))
    if cursor is not None:
        school, student = _decode_cursor(cursor)
        query = query.where(tuple_(StudentResult.school_id, StudentResult.exam_id)
                            > tuple_(literal(school), literal(student)))
    rows = session.execute(query.order_by(StudentResult.school_id, StudentResult.exam_id).limit(limit + 1)).all()
    page = rows[:limit]
    scores: dict[tuple[int, str], dict[str, float | None]] = {}
    if page:
        cells = session.execute(
            select(ScoreCell.run_id, ScoreCell.exam_id, ScoreCell.question, ScoreCell.score)
            .where(ScoreCell.run_id.in_({r.run_id for r, _ in page}),
                   ScoreCell.exam_id.in_({r.exam_id for r, _ in page}), ScoreCell.question.in_(questions)))
        for run_id, student, question, score in cells:
            scores.setdefault((run_id, student), {})[question] = score
    items = [ScoreExportRow(school_id=r.school_id, school_name=name, exam_id=r.exam_id, name=r.name,
                            class_name=r.class_name, status=r.status, total=r.total,
                            scores={q: scores.get((r.run_id, r.exam_id), {}).get(q) for q in questions})
             for r, name in page]
    next_cursor = _encode_cursor(page[-1][0].school_id, page[-1][0].exam_id) if len(rows) > limit else None
    audit.record_now(service, principal, "results.export", "exam", exam_row.id,
                     after={"file": "municipal scores", "rows": len(items), "first_page": cursor is None})
    return ScoreExportPage(items=items, next_cursor=next_cursor, questions=questions)
