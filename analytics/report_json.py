"""Every figure of an :class:`~analytics.analysis.Analysis` as one JSON document (``analytics.json``; the API
serves the same dict).

Shape (abridged)::

    {"schema": "yuejuan.analytics/1",
     "exam": {"id", "name", "subject", "full_marks", "items"},
     "config": {"cutoffs", "cut_lines", "band", "segment_step", "fraction", "mastery", "correct_at", ...},
     "definitions": {figure: definition, ...},
     "counts": {"roster", "graded", "absent", "pending", "duplicate"},
     "knowledge_points": [{"id", "name", "points"}],
     "city": GROUP, "schools": [GROUP], "classes": [GROUP],
     "items": [{"id", "type", "points", "mean", "sd", "difficulty", "discrimination", "ebel", "total_r",
                "total_r_if_rm", "alpha_if_rm", "options": {...} | null, "slip", "guess", "rasch_b", "pcm_location",
                "pcm_steps", "score_distribution": [{"score", "count"}] | null (written questions), ...}],
     "test": {"n", "k", "mean", "sd", "alpha", "sem", "difficulty_mix", ...},
     "dina": {...} | null, "rasch": {...} | null,
     "students": [{"exam_id", "name", "class", "school_code", "total", "sections", "band", "class_rank",
                   "grade_rank", "city_rank", "grade_pr", "z", "t", "borderline", "knowledge", "mastery",
                   "weakest", "theta", "theta_se"}],
     "not_graded": [{"exam_id", "name", "class", "school_code", "status"}],
     "multi_subject": {...} | null,
     "trend": {"exams", "knowledge_points": [{"id", "name"}], "students": [{"exam_id", "student_no", "totals",
               "ranks", "z", "percentile", "rank_change", "z_change", "knowledge" (exam x point),
               "strengths", "lasting_weak", "theta", "scale_scores"}], "linking": LINKING | null} | null,
     "value_added": {"classes": VA | null, "teachers": VA | null, "notes": [...],
                     "unmatched": [{"exam", "exam_id", "student_no", "reason"}]} | null}

    LINKING = {"method", "method_name", "base", "base_sd", "scale_score": "500 + 100·θ/σ", "note",
               "exams": [{"exam", "linked", "method", "slope", "intercept", "common_items", "reason",
                          "constants": {method: {"slope", "intercept"}},
                          "dropped": [{"item_id", "displacement", "robust_z", "reason"}]}]}
    ("theta" and "scale_scores" per exam: Rasch ability on the first exam's scale, null where not linked)

    VA = {"scale": "z", "intercept", "slope", "residual_sd", "between_sd", "linked", "level", "min_n",
          "groups": [{"group", "n", "raw", "se", "shrinkage", "estimate", "low", "high", "shown"}]}

    GROUP = {"school_code", "class", "n", "absent", "pending", "mean", "sd", "min", "max", "median", "q1", "q3",
             "score_rate", "rates": {"excellent", "good", "pass", "low"}, "mean_diff", "mean_ratio",
             "rank_by_mean", "sections", "item_rates", "knowledge_rates", "knowledge_bands", "weakest",
             "dina_mastery", "segments": {"scores", "counts", "cumulative"}, "histogram": {"edges", "counts"}}
    (each of "schools" also has "item_analysis": {"test", "items": [...]} of its own students when several
    schools report; null otherwise, the top-level "items" and "test" being the school's)

NaN (undefined: an SD of one student, a correlation of a constant item) is ``null``. Rates are fractions.
"""

from __future__ import annotations

from typing import Any, Collection

import numpy as np

from analytics.analysis import Analysis, GroupLevel, ItemView, item_view
from analytics.diagnosis import MASTERY_KEYS
from analytics.disclosure import withheld_groups
from analytics.longitudinal import steady_points
from analytics.mastery import MASTERY_SOURCES
from analytics.polytomous import score_distribution
from analytics.items import DIFFICULTY_KEYS, EBEL_KEYS, OptionStats
from analytics.labels import definitions
from analytics.model import clean_float, jsonable
from analytics.scores import BAND_KEYS, RATE_KEYS

__all__ = ["analysis_json", "multi_subject_json", "progress_json", "limit_analysis", "limit_progress", "SCHEMA"]

SCHEMA = "yuejuan.analytics/1"
_LINE_KEYS = ("excellent", "good", "pass", "low")


def _key(keys: tuple[str, ...], index: int) -> str | None:
    return keys[index] if 0 <= index < len(keys) else None


def _columns_to_records(columns: dict[str, list]) -> list[dict]:
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def _groups(level: GroupLevel, analysis: Analysis) -> list[dict]:
    points = analysis.blueprint.point_ids
    stats = level.stats
    g = len(level)
    rates = jsonable(stats.rates)
    weakest = level.weakest.tolist()
    gaps = jsonable(level.weakest_gaps)
    sections = jsonable(level.section_means)
    section_ids = analysis.data.section_ids
    columns: dict[str, list] = {
        "school_code": level.schools.tolist(), "class": level.classes.tolist(),
        "n": level.stats.n.tolist(), "absent": level.n_absent.tolist(), "pending": level.n_pending.tolist(),
        **{name: jsonable(getattr(stats, name)) for name in ("mean", "sd", "min", "max", "median", "q1", "q3",
                                                              "score_rate")},
        "rates": [dict(zip(RATE_KEYS, row)) for row in rates],
        "mean_diff": jsonable(level.mean_diff), "mean_ratio": jsonable(level.mean_ratio),
        "rank_by_mean": level.rank_by_mean.tolist(),
        "sections": [dict(zip(section_ids, row)) for row in sections] if section_ids else [{}] * g,
        "item_rates": jsonable(level.item_rates),
        "knowledge_rates": jsonable(level.knowledge_rates),
        "knowledge_bands": [[_key(MASTERY_KEYS, b) for b in row] for row in level.knowledge_bands.tolist()],
        "weakest": [[{"id": points[t], "gap": gap} for t, gap in zip(idx, gp)] for idx, gp in zip(weakest, gaps)],
        "dina_mastery": jsonable(level.dina_mastery) if level.dina_mastery is not None else [None] * g,
        "segments": [{"scores": jsonable(level.segments.scores), "counts": c, "cumulative": cu}
                     for c, cu in zip(level.segments.counts.tolist(), level.segments.cumulative.tolist())],
        "histogram": [{"edges": jsonable(level.histogram.edges), "counts": c}
                      for c in level.histogram.counts.tolist()],
    }
    return _columns_to_records(columns)


def _item_figures(view: ItemView, j: int, options: dict[str, OptionStats]) -> dict[str, Any]:
    items = view.items
    option = options.get(items.item_ids[j])
    return {
        "mean": clean_float(items.mean[j]), "sd": clean_float(items.sd[j]),
        "difficulty": clean_float(items.difficulty[j]),
        "difficulty_band": _key(DIFFICULTY_KEYS, int(items.difficulty_band[j])),
        "upper_mean": clean_float(items.upper_mean[j]), "lower_mean": clean_float(items.lower_mean[j]),
        "discrimination": clean_float(items.discrimination[j]), "ebel": _key(EBEL_KEYS, int(items.ebel[j])),
        "total_r": clean_float(items.total_r[j]), "total_r_if_rm": clean_float(items.total_r_if_rm[j]),
        "alpha_if_rm": clean_float(items.alpha_if_rm[j]),
        "options": None if option is None else {
            "options": option.options, "keyed": option.keyed,
            "overall": dict(zip(option.options, jsonable(option.overall))),
            "upper": dict(zip(option.options, jsonable(option.upper))),
            "lower": dict(zip(option.options, jsonable(option.lower))),
            "blank": clean_float(option.blank), "blank_upper": clean_float(option.blank_upper),
            "blank_lower": clean_float(option.blank_lower), "multiple": clean_float(option.multiple),
            "non_functioning": list(option.non_functioning), "suspect": list(option.suspect)},
    }


def _items(analysis: Analysis) -> list[dict]:
    data = analysis.data
    view = item_view(analysis)
    options = {o.item_id: o for o in view.options}
    rasch, dina = analysis.rasch, analysis.dina
    steps = analysis.pcm_steps()
    scored = data.scores[analysis.students.rows]
    out = []
    for j, qid in enumerate(data.item_ids):
        q = data.exam.question(qid)
        distribution = score_distribution(scored[:, [j]])[0] if q.type == "subjective" and len(scored) else None
        out.append({
            "id": qid, "type": q.type, "status": q.status, "points": clean_float(data.points[j]),
            "section": q.section, "cognitive_level": q.cognitive_level,
            "knowledge_points": [{"id": kp.id, "name": kp.name, "weight": kp.weight} for kp in q.knowledge_points],
            **_item_figures(view, j, options),
            "slip": clean_float(dina.slip[j]) if dina is not None else None,
            "guess": clean_float(dina.guess[j]) if dina is not None else None,
            "rasch_b": clean_float(rasch.difficulty[j]) if rasch is not None else None,
            "rasch_b_se": clean_float(rasch.difficulty_se[j]) if rasch is not None else None,
            "pcm_location": clean_float(steps[j].mean()) if steps[j] is not None else None,
            "pcm_steps": jsonable(steps[j]) if steps[j] is not None else None,
            "score_distribution": ([{"score": clean_float(v), "count": c} for v, c in distribution.items()]
                                   if distribution is not None else None),
        })
    return out


def _school_items(analysis: Analysis) -> list[dict | None]:
    """Per school (its grade), the item and test analysis of its own students; None for a single school (the
    top-level ``items`` and ``test`` are that school's)."""
    if not analysis.multi_school:
        return [None] * len(analysis.schools)
    out: list[dict | None] = []
    for g in range(len(analysis.schools)):
        members = analysis.students.school_index == g
        if members.sum() < 2:
            out.append(None)
            continue
        view = item_view(analysis, members)
        options = {o.item_id: o for o in view.options}
        out.append({"test": jsonable(view.test),
                    "items": [{"id": qid, **_item_figures(view, j, options)}
                              for j, qid in enumerate(analysis.data.item_ids)]})
    return out


def _students(analysis: Analysis) -> list[dict]:
    data, s = analysis.data, analysis.students
    rows = s.rows
    ranks = analysis.show_ranks
    points = analysis.blueprint.point_ids
    near = s.borderline
    lines = near.line.tolist()
    gap = jsonable(near.gap)
    within = near.within.tolist()
    weakest = s.weakest.tolist()
    gaps = jsonable(s.weakest_gaps)
    rates = jsonable(s.knowledge_rates)
    section_ids = data.section_ids
    sections = jsonable(data.section_totals[rows]) if section_ids else [[]] * len(rows)
    columns: dict[str, list] = {
        "exam_id": data.exam_ids[rows].tolist(), "student_no": data.student_nos[rows].tolist(),
        "name": data.names[rows].tolist(), "class": data.classes[rows].tolist(),
        "school_code": data.schools[rows].tolist(), "total": jsonable(s.total),
        "sections": [dict(zip(section_ids, row)) for row in sections],
        "band": [BAND_KEYS[b] for b in s.band.tolist()],
        "class_rank": s.class_rank.tolist() if ranks else [None] * len(rows), "class_size": s.class_size.tolist(),
        "grade_rank": s.grade_rank.tolist() if ranks else [None] * len(rows), "grade_size": s.grade_size.tolist(),
        "city_rank": s.city_rank.tolist() if ranks else [None] * len(rows),
        "grade_pr": jsonable(s.grade_pr), "city_pr": jsonable(s.city_pr), "z": jsonable(s.z), "t": jsonable(s.t),
        "city_z": jsonable(s.city_z),
        "borderline": [{"line": _LINE_KEYS[ln], "gap": gp} if w else None for ln, gp, w in zip(lines, gap, within)],
        "knowledge": [dict(zip(points, row)) for row in rates],
        "mastery": [dict(zip(points, row)) for row in jsonable(s.mastery.value)] if s.mastery is not None
        else [None] * len(rows),
        "mastery_interval": [dict(zip(points, zip(low, high))) for low, high in
                             zip(jsonable(s.mastery.low), jsonable(s.mastery.high))] if s.mastery is not None
        else [None] * len(rows),
        "mastery_source": [dict(zip(points, (MASTERY_SOURCES[v] for v in row))) for row in s.mastery.source.tolist()]
        if s.mastery is not None else [None] * len(rows),
        "weakest": [[{"id": points[t], "gap": g} for t, g in zip(idx, gp)] for idx, gp in zip(weakest, gaps)],
        "theta": jsonable(s.theta) if s.theta is not None else [None] * len(rows),
        "theta_se": jsonable(s.theta_se) if s.theta_se is not None else [None] * len(rows),
    }
    return _columns_to_records(columns)


def analysis_json(analysis: Analysis, *, students: bool = True) -> dict:
    """The JSON document of ``analysis`` (see the module docstring); ``students=False`` leaves out the
    per-student list (city-scale summaries)."""
    data, config, exam = analysis.data, analysis.config, analysis.data.exam
    status = data.status
    notes = definitions(config.lang, config.cutoffs, config.band, config.fraction, config.mastery,
                        config.correct_at)
    possible = data.points @ analysis.blueprint.weights
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "exam": {"id": exam.id, "name": exam.name, "subject": exam.subject, "sitting": exam.sitting,
                 "full_marks": clean_float(data.full_marks), "items": list(data.item_ids),
                 "sections": [{"id": sid, "name": name} for sid, name in zip(data.section_ids, data.section_names)]},
        "config": {"cutoffs": list(config.cutoffs), "cut_lines": dict(zip(_LINE_KEYS, jsonable(analysis.lines))),
                   "band": config.band, "segment_step": config.segment_step, "histogram_bins": config.histogram_bins,
                   "fraction": config.fraction, "mastery": list(config.mastery), "weakest": config.weakest,
                   "correct_at": config.correct_at, "lang": config.lang},
        "definitions": dict(notes),
        "counts": {"roster": int(data.n), "graded": int(analysis.students.rows.size),
                   **{k: int((status == k).sum()) for k in ("absent", "pending", "duplicate")}},
        "knowledge_points": [{"id": i, "name": n, "points": clean_float(p)}
                             for i, n, p in zip(analysis.blueprint.point_ids, analysis.blueprint.point_names,
                                                possible)],
        "city": _groups(analysis.all, analysis)[0],
        "schools": [{**group, "item_analysis": items} for group, items in
                    zip(_groups(analysis.schools, analysis), _school_items(analysis))],
        "classes": _groups(analysis.classes, analysis),
        "items": _items(analysis),
        "test": jsonable(analysis.test),
        "dina": None if analysis.dina is None else {
            "iterations": analysis.dina.iterations, "converged": analysis.dina.converged,
            "n_fit": analysis.dina.n_fit, "loglik": clean_float(analysis.dina.loglik[-1]),
            "items_used": [q for q, u in zip(data.item_ids, analysis.dina.items_used.tolist()) if u]},
        "rasch": None if analysis.rasch is None else {
            "sigma": clean_float(analysis.rasch.sigma), "iterations": analysis.rasch.iterations,
            "converged": analysis.rasch.converged, "method": "MML-EM, EAP"},
        "notes": dict(analysis.notes),
        "students": _students(analysis) if students else None,
        "not_graded": [{"exam_id": data.exam_ids[i], "name": data.names[i], "class": data.classes[i],
                        "school_code": data.schools[i], "status": data.status[i]}
                       for i in np.flatnonzero(~data.graded).tolist()],
        "multi_subject": (multi_subject_json(analysis.multi, ranks=analysis.show_ranks) if analysis.multi is not None
                          else None),
        **(progress_json(analysis.progress, ranks=analysis.show_ranks) if analysis.progress is not None
           else {"trend": None, "value_added": None}),
    }
    return document


def multi_subject_json(m, *, ranks: bool = True) -> dict:
    """The 总分 block: subjects, full marks and per student each subject's score, the total and (with ``ranks``)
    its ranks (null otherwise)."""
    scores = jsonable(m.scores)
    rank = (lambda values: values.tolist()) if ranks else (lambda values: [None] * len(values))  # noqa: E731
    return {"subjects": list(m.subjects), "full_marks": clean_float(m.full_marks), "students": _columns_to_records({
        "exam_id": m.exam_ids.tolist(), "name": m.names.tolist(), "class": m.classes.tolist(),
        "school_code": m.schools.tolist(), "scores": [dict(zip(m.subjects, row)) for row in scores],
        "total": jsonable(m.total), "complete": m.complete.tolist(), "class_rank": rank(m.class_rank),
        "grade_rank": rank(m.grade_rank), "city_rank": rank(m.city_rank)})}


def _linking_json(record) -> dict | None:
    """How the record's exams were put on one Rasch scale (:class:`analytics.linking.IrtLinking`)."""
    from analytics.linking import METHOD_NAMES, SCALE_MEAN, SCALE_SD

    linking = record.linking
    if linking is None:
        return None if not record.linking_note else {"method": None, "note": record.linking_note, "exams": []}
    return {"method": linking.method, "method_name": METHOD_NAMES[linking.method], "base": record.labels[0],
            "base_sd": clean_float(linking.base_sd), "scale_score": f"{SCALE_MEAN:g} + {SCALE_SD:g}·θ/σ",
            "note": "", "exams": [{
                "exam": link.label, "linked": link.linked, "method": link.method if link.linked else None,
                "slope": clean_float(link.slope), "intercept": clean_float(link.intercept),
                "common_items": list(link.common), "reason": link.reason or None,
                "constants": {name: {"slope": clean_float(c.slope), "intercept": clean_float(c.intercept)}
                              for name, c in link.constants.items()},
                "dropped": [{"item_id": d.item_id, "displacement": clean_float(d.displacement),
                             "robust_z": clean_float(d.robust_z), "reason": d.reason} for d in link.dropped]}
                for link in linking.links]}


def progress_json(progress, *, ranks: bool = True) -> dict:
    """The students over time of :class:`analytics.progress.Progress` as JSON: ``trend`` (null with one exam) and
    ``value_added`` (classes, teachers, notes, unmatched) — what the analysis JSON and the service's progress route
    carry. Without ``ranks`` every rank and rank change is null."""
    record, t = progress.record, progress.trend
    trend = None
    if t is not None:
        strengths, weak = steady_points(record)
        row = {no: k for k, no in enumerate(record.student_nos.tolist())}
        linked = [row[no] for no in t.student_nos.tolist()]
        points = record.point_ids
        trend = {"exams": list(t.labels), "knowledge_points": [{"id": p, "name": n} for p, n in
                                                               zip(points, record.point_names)],
                 "students": _columns_to_records({
                     "exam_id": t.exam_ids.tolist(), "student_no": t.student_nos.tolist(),
                     "totals": jsonable(t.totals), "ranks": t.ranks.tolist() if ranks else [None] * len(linked),
                     "z": jsonable(t.z), "percentile": jsonable(record.percentile[linked]),
                     "rank_change": t.rank_change.tolist() if ranks else [None] * len(linked),
                     "z_change": jsonable(t.z_change), "knowledge": jsonable(record.knowledge[linked]),
                     "strengths": [[points[p] for p in np.flatnonzero(strengths[k]).tolist()] for k in linked],
                     "lasting_weak": [[points[p] for p in np.flatnonzero(weak[k]).tolist()] for k in linked],
                     "theta": jsonable(record.theta[linked]), "scale_scores": jsonable(record.scale_scores[linked])}),
                 "linking": _linking_json(record)}

    def table(va) -> dict | None:
        if va is None:
            return None
        return {"scale": "z", "intercept": clean_float(va.intercept), "slope": clean_float(va.slope),
                "residual_sd": clean_float(va.residual_sd), "between_sd": clean_float(va.between_sd),
                "linked": va.linked, "level": va.level, "min_n": va.min_n,
                "groups": _columns_to_records({
                    "group": list(va.groups), "n": va.n.tolist(), "raw": jsonable(va.raw), "se": jsonable(va.se),
                    "shrinkage": jsonable(va.shrinkage), "estimate": jsonable(va.estimate),
                    "low": jsonable(va.low), "high": jsonable(va.high), "shown": va.shown.tolist()})}

    return {"trend": trend, "value_added": {
        "classes": table(progress.classes), "teachers": table(progress.teachers), "notes": list(progress.notes),
        "unmatched": [{"exam": u.label, "exam_id": u.exam_id, "student_no": u.student_no, "reason": u.reason_text}
                      for u in record.unmatched]}}


#: what a withheld group (:func:`analytics.disclosure.withheld_groups`) still shows
_GROUP_HEAD = ("school_code", "class", "n", "absent", "pending")


def _withheld_records(records: list[dict], own: list[bool], head: Collection[str]) -> list[dict]:
    """Group records (each with its ``n``) with the figures of those withheld from a reader of the ``own`` ones
    (:func:`analytics.disclosure.withheld_groups`) set to null, all but the ``head`` keys."""
    if not records:
        return records
    withheld = withheld_groups(np.array([r["n"] or 0 for r in records], dtype=np.int64), np.array(own, dtype=bool))
    return [{k: (v if k in head else None) for k, v in r.items()} if hidden else r
            for r, hidden in zip(records, withheld.tolist())]


def limit_progress(document: dict, exam_ids: Collection[str], student_nos: Collection[str] = (),
                   classes: Collection[str] | None = None) -> dict:
    """``document`` of :func:`progress_json` as a reader of some students only may see it: the trend lists those
    whose latest 考号 is in ``exam_ids``, the unmatched list those whose 考号 (of the exam asked about) or 学籍号 is
    theirs; the value-added tables (aggregates) stay, but with ``classes`` (the reader's own), another class too
    small to show keeps its head count only. A new dict; ``document`` is not changed."""
    exam_ids, student_nos = set(exam_ids), set(student_nos) - {""}
    limited = dict(document)
    trend = document.get("trend")
    if trend is not None:
        limited["trend"] = {**trend, "students": [s for s in trend["students"] if s["exam_id"] in exam_ids]}
    value_added = document.get("value_added")
    if value_added is not None:
        latest = trend["exams"][-1] if trend else None
        limited["value_added"] = {**value_added, "unmatched": [
            u for u in value_added["unmatched"]
            if u["student_no"] in student_nos or (u["exam"] == latest and u["exam_id"] in exam_ids)]}
        table = value_added.get("classes")
        if classes is not None and table is not None:
            groups = table["groups"]
            limited["value_added"]["classes"] = {**table, "groups": _withheld_records(
                groups, [g["group"] in classes for g in groups], ("group", "n"))}
    return limited


def limit_analysis(document: dict, classes: Collection[str]) -> dict:
    """``document`` of :func:`analysis_json` as a reader of ``classes`` only (a teacher's own) may see it: every
    list of students holds those classes' students; the other classes' figures stay, but a class too small to
    show without giving a student away keeps its head count only (:func:`analytics.disclosure.withheld_groups`,
    within its school); the school, city, item and test figures stay. A new dict; ``document`` is not changed."""
    classes = set(classes)
    limited = dict(document)
    groups = document["classes"]
    by_school: dict[Any, list[int]] = {}
    for k, group in enumerate(groups):
        by_school.setdefault(group["school_code"], []).append(k)
    shown = list(groups)
    for members in by_school.values():  # a class is compared within its school (its grade)
        limited_groups = _withheld_records([groups[k] for k in members],
                                           [groups[k]["class"] in classes for k in members], _GROUP_HEAD)
        for k, group in zip(members, limited_groups):
            shown[k] = group
    limited["classes"] = shown
    mine = (lambda rows: [r for r in rows if r["class"] in classes])  # noqa: E731
    students = mine(document.get("students") or [])
    limited["students"] = students if document.get("students") is not None else None
    limited["not_graded"] = mine(document.get("not_graded") or [])
    if document.get("multi_subject") is not None:
        limited["multi_subject"] = {**document["multi_subject"],
                                    "students": mine(document["multi_subject"]["students"])}
    visible = [*students, *limited["not_graded"]]
    return limit_progress(limited, {r["exam_id"] for r in visible}, {r.get("student_no") or "" for r in students},
                          classes)
