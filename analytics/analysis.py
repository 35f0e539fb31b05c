"""One exam analysed at every level at once: classes, schools (a school's classes form its 年级, the grade) and
the whole input (the city when several schools report).

:func:`analyse` is a pure function of an :class:`~analytics.model.ExamData`; it groups students once (class =
school code + class name) and computes every statistic of :mod:`analytics.scores`, :mod:`analytics.items` and
:mod:`analytics.diagnosis` for every group with vectorised grouped reductions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from analytics.diagnosis import (DINA_RMSEA_GOOD, Blueprint, DinaFit, RaschFit, blueprint_from_exam, dichotomise,
                                 dina_item_rmsea, fit_dina, fit_rasch, knowledge_rates, mastery_bands,
                                 MAX_DINA_POINTS)
from analytics.groups import Groups, group_by, group_means, group_sums, ranks_within_groups, safe_divide
from analytics.items import (ItemStats, OptionStats, PaperStats, item_analysis, option_analysis, paper_analysis,
                             upper_lower_groups)
from analytics.mastery import Mastery, trusted_mastery
from analytics.polytomous import PCMFit, fit_pcm
from analytics.model import ExamData, ReportConfig
from analytics.progress import Progress
from analytics.scores import (Borderline, Descriptives, Histogram, ScoreSegments, borderline, compare_means,
                              describe, histogram, performance_bands, score_segments, standard_scores,
                              subject_totals)

__all__ = ["GroupLevel", "StudentResults", "Analysis", "MultiSubject", "ItemView", "analyse", "multi_subject",
           "item_view"]


@dataclass(frozen=True)
class GroupLevel:
    """Statistics of every group of one level.

    Attributes
    ----------
    level : 'class', 'school' or 'all'
    schools, classes : ndarray of str, (G,)
        The group's school code and class name ('' where the level has none).
    parent : ndarray of int, (G,)
        Index of the group one level up (a class's school, a school's 'all'); -1 for 'all'.
    n_absent, n_pending : ndarray of int, (G,)
    stats : Descriptives
    mean_diff, mean_ratio : ndarray, (G,)
        Against the parent group (class vs grade, school vs city).
    rank_by_mean : ndarray of int, (G,)
        Competition rank of the group's mean among the groups with the same parent.
    segments : ScoreSegments
    histogram : Histogram
    section_means : ndarray, (G, sections)
    item_rates : ndarray, (G, k)
        Mean item score / points (the group's P on each item).
    knowledge_rates : ndarray, (G, K)
    knowledge_bands : ndarray, (G, K)
    weakest, weakest_gaps : ndarray, (G, w)
        Knowledge points with the lowest rate against the parent group's.
    dina_mastery : ndarray, (G, K) or None
        Mean DINA posterior mastery probability.
    """

    level: str
    schools: np.ndarray
    classes: np.ndarray
    parent: np.ndarray
    n_absent: np.ndarray
    n_pending: np.ndarray
    stats: Descriptives
    mean_diff: np.ndarray
    mean_ratio: np.ndarray
    rank_by_mean: np.ndarray
    segments: ScoreSegments
    histogram: Histogram
    section_means: np.ndarray
    item_rates: np.ndarray
    knowledge_rates: np.ndarray
    knowledge_bands: np.ndarray
    weakest: np.ndarray
    weakest_gaps: np.ndarray
    dina_mastery: np.ndarray | None

    def __len__(self) -> int:
        return len(self.schools)

    def find(self, school: str, class_name: str = "") -> int:
        """Index of a group; KeyError when absent."""
        hits = np.flatnonzero((self.schools == school) & (self.classes == class_name))
        if not hits.size:
            raise KeyError(f"no {self.level} group {school!r} {class_name!r}")
        return int(hits[0])


@dataclass(frozen=True)
class StudentResults:
    """Per graded student (M of them), in ExamData row order.

    ``rows`` index ExamData; ``class_index``/``school_index`` index the class and school levels. Ranks are
    competition ranks; ``grade_*`` are within the student's school (年级), ``city_*`` within the whole input.
    ``pr`` is the percentile rank and ``z``/``t`` the standard scores within the grade.
    """

    rows: np.ndarray
    class_index: np.ndarray
    school_index: np.ndarray
    total: np.ndarray
    band: np.ndarray
    class_rank: np.ndarray
    class_size: np.ndarray
    grade_rank: np.ndarray
    grade_size: np.ndarray
    city_rank: np.ndarray
    grade_pr: np.ndarray
    city_pr: np.ndarray
    z: np.ndarray
    t: np.ndarray
    city_z: np.ndarray
    borderline: Borderline
    knowledge_rates: np.ndarray
    knowledge_bands: np.ndarray
    weakest: np.ndarray
    weakest_gaps: np.ndarray
    dina_mastery: np.ndarray | None
    theta: np.ndarray | None
    theta_se: np.ndarray | None
    mastery: Mastery | None = None  # what the reports show beside each rate (analytics.mastery)


@dataclass(frozen=True)
class MultiSubject:
    """总分 of several subjects of one sitting, per student present in any of them (first-seen order).

    ``total`` is NaN unless every subject is graded; ranks (competition) are among complete totals, 0 otherwise.
    """

    subjects: tuple[str, ...]
    full_marks: float
    exam_ids: np.ndarray
    names: np.ndarray
    classes: np.ndarray
    schools: np.ndarray
    scores: np.ndarray
    total: np.ndarray
    complete: np.ndarray
    class_rank: np.ndarray
    grade_rank: np.ndarray
    city_rank: np.ndarray


@dataclass(frozen=True)
class Analysis:
    """Everything computed for one exam (see the module docstring of each statistic for its definition)."""

    data: ExamData
    config: ReportConfig
    lines: np.ndarray
    classes: GroupLevel
    schools: GroupLevel
    all: GroupLevel
    students: StudentResults
    items: ItemStats
    test: PaperStats
    options: list[OptionStats]
    blueprint: Blueprint
    dina: DinaFit | None
    rasch: RaschFit | None
    notes: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    pcm: PCMFit | None = None  # the partial credit model over the items whose scores vary (analytics.polytomous)
    pcm_items: np.ndarray | None = None  # (k,) bool: the items it was fitted on
    progress: Progress | None = None  # the students over time (analytics.progress), when earlier exams are given
    multi: MultiSubject | None = None

    def pcm_steps(self) -> list[np.ndarray | None]:
        """Per analysed item, its partial-credit step difficulties (None when the model left it out)."""
        steps: list[np.ndarray | None] = [None] * len(self.data.item_ids)
        if self.pcm is not None and self.pcm_items is not None:
            for j, fitted in zip(np.flatnonzero(self.pcm_items).tolist(), self.pcm.thresholds):
                steps[j] = fitted
        return steps

    @property
    def show_ranks(self) -> bool:
        """Exact ranks are printed only when the run asks (``--no-ranks``) and the exam allows
        (``Exam.publish_ranks``)."""
        return self.config.ranks and bool(getattr(self.data.exam, "publish_ranks", True))

    @property
    def multi_school(self) -> bool:
        return len(self.schools) > 1

    def class_groups(self, school: str) -> np.ndarray:
        """Indices of the classes of ``school``."""
        return np.flatnonzero(self.classes.schools == school)


@dataclass(frozen=True)
class ItemView:
    """Item, test and option analysis of one set of students (a school's grade, or everyone)."""

    items: ItemStats
    test: PaperStats
    options: list[OptionStats]
    scores: np.ndarray | None = None  # (n, k) item scores of its students


def _choice_options(data: ExamData, rows: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> list[OptionStats]:
    choice = [j for j, qid in enumerate(data.item_ids) if data.exam.question(qid).type != "subjective"]
    if not choice:
        return []
    questions = [data.exam.question(data.item_ids[j]) for j in choice]
    return option_analysis(data.masks[rows][:, choice], [q.options for q in questions],
                           ["".join(sorted(set("".join(q.answers)))) for q in questions], upper, lower,
                           [q.id for q in questions])


def item_view(analysis: "Analysis", student_mask: np.ndarray | None = None) -> ItemView:
    """Item analysis of the analysed students in ``student_mask`` (e.g. one school); the whole input's when None
    or when the mask holds everyone (computed once by :func:`analyse`)."""
    if student_mask is None or student_mask.all():
        return ItemView(analysis.items, analysis.test, analysis.options, analysis.data.scores[analysis.students.rows])
    data = analysis.data
    rows = analysis.students.rows[student_mask]
    scores = data.scores[rows]
    items = item_analysis(scores, data.points, data.item_ids, fraction=analysis.config.fraction,
                          not_taken=not np.isfinite(scores).all())
    upper, lower = upper_lower_groups(np.nansum(scores, axis=1), analysis.config.fraction)
    return ItemView(items, paper_analysis(scores, data.points, items), _choice_options(data, rows, upper, lower),
                    scores)


def _parent_rank(means: np.ndarray, parent: np.ndarray) -> np.ndarray:
    if not len(means):
        return np.zeros(0, np.int64)
    codes = np.maximum(parent, 0)
    values = np.where(np.isfinite(means), means, -np.inf)
    rank, _, _ = ranks_within_groups(values, codes, int(codes.max()) + 1)
    return rank


def _level(level: str, schools: np.ndarray, classes: np.ndarray, parent: np.ndarray, codes: np.ndarray,
           n_groups: int, all_codes: np.ndarray, data: ExamData, graded: np.ndarray, totals: np.ndarray,
           scores: np.ndarray, rates: np.ndarray, config: ReportConfig, parent_means: np.ndarray | None,
           parent_rates: np.ndarray | None, dina: np.ndarray | None) -> GroupLevel:
    full = data.full_marks
    stats = describe(totals, full, codes, n_groups, cutoffs=config.cutoffs)
    status = data.status
    n_absent = np.bincount(all_codes, weights=status == "absent", minlength=n_groups).astype(np.int64)
    n_pending = np.bincount(all_codes, weights=status == "pending", minlength=n_groups).astype(np.int64)
    if parent_means is None:
        diff, ratio = np.zeros(n_groups), np.ones(n_groups)
        diff[~np.isfinite(stats.mean)] = np.nan
        ratio[~np.isfinite(stats.mean)] = np.nan
    else:
        diff, ratio = compare_means(stats.mean, parent_means[parent])
    sections = data.section_totals[graded] if data.section_totals.size else np.zeros((len(totals), 0))
    section_means = group_means(sections, codes, n_groups) if sections.shape[1] else np.zeros((n_groups, 0))
    taken = np.isfinite(scores)  # a 选考题's rate is over the students who chose it
    item_rates = safe_divide(group_sums(np.where(taken, scores, 0.0), codes, n_groups),
                             group_sums(taken.astype(float), codes, n_groups)) / data.points[None, :]
    k_rates = group_means(rates, codes, n_groups) if rates.shape[1] else np.zeros((n_groups, 0))
    reference = parent_rates[parent] if parent_rates is not None else k_rates
    weakest, gaps = _weakest_against(k_rates, reference, config.weakest)
    return GroupLevel(
        level=level, schools=schools, classes=classes, parent=parent, n_absent=n_absent, n_pending=n_pending,
        stats=stats, mean_diff=diff, mean_ratio=ratio, rank_by_mean=_parent_rank(stats.mean, parent),
        segments=score_segments(totals, full, codes, n_groups, step=config.segment_step),
        histogram=histogram(totals, full, codes, n_groups, bins=config.histogram_bins),
        section_means=section_means, item_rates=item_rates, knowledge_rates=k_rates,
        knowledge_bands=mastery_bands(k_rates, config.mastery), weakest=weakest, weakest_gaps=gaps,
        dina_mastery=group_means(dina, codes, n_groups) if dina is not None else None)


def _weakest_against(rates: np.ndarray, reference: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    if rates.shape[1] == 0 or rates.shape[0] == 0:
        return np.zeros((rates.shape[0], 0), np.int64), np.zeros((rates.shape[0], 0))
    # row-wise reference: gaps against each row's own parent
    gaps = rates - reference
    count = min(count, gaps.shape[1])
    key = np.where(np.isnan(gaps), np.inf, gaps)
    order = np.argsort(key, axis=1, kind="stable")[:, :count]
    return order, np.take_along_axis(gaps, order, axis=1)


def analyse(data: ExamData, config: ReportConfig | None = None) -> Analysis:
    """Score, item and knowledge-point analysis of one exam for every class, school and the whole input.

    Students who did not sit, are pending or duplicate are left out of every statistic and counted as absent or
    pending in their group.
    """
    config = config or ReportConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    graded = data.graded
    rows = np.flatnonzero(graded)
    totals = data.totals[graded]
    scores = data.scores[graded]
    if not len(rows):
        raise ValueError(f"exam {data.exam.id}: no graded student to analyse")

    # groups over every roster row (absent counts need them), then restricted to graded students
    class_groups: Groups = group_by(data.schools, data.classes)
    school_groups: Groups = group_by(data.schools)
    class_school = np.array([label[0] for label in class_groups.labels], dtype=object)
    class_name = np.array([label[1] for label in class_groups.labels], dtype=object)
    school_of_class = np.searchsorted(school_groups.labels.astype(str), class_school.astype(str))
    c_codes, s_codes = class_groups.codes[graded], school_groups.codes[graded]
    n_classes, n_schools = class_groups.n_groups, school_groups.n_groups
    timings["group"] = time.perf_counter() - clock

    # students: ranks, percentile ranks, standard scores, bands, 临界生
    clock = time.perf_counter()
    class_rank, _, class_size = ranks_within_groups(totals, c_codes, n_classes)
    grade_rank, grade_equal, grade_size = ranks_within_groups(totals, s_codes, n_schools)
    city_rank, city_equal, city_size = ranks_within_groups(totals)
    grade_pr = 100.0 * (grade_size - (grade_rank - 1) - grade_equal + 0.5 * grade_equal) / grade_size
    city_pr = 100.0 * (city_size - (city_rank - 1) - city_equal + 0.5 * city_equal) / city_size
    z, t = standard_scores(totals, s_codes, n_schools)
    city_z, _ = standard_scores(totals)
    bands = performance_bands(totals, data.full_marks, config.cutoffs)
    near = borderline(totals, data.full_marks, cutoffs=config.cutoffs, band=config.band)
    timings["scores_students"] = time.perf_counter() - clock

    # items and test
    clock = time.perf_counter()
    taken = np.isfinite(scores)  # False only on a 选考题 the student did not choose
    chose = not taken.all()
    items = item_analysis(scores, data.points, data.item_ids, fraction=config.fraction, not_taken=chose)
    test = paper_analysis(scores, data.points, items)
    upper, lower = upper_lower_groups(totals, config.fraction)
    options = _choice_options(data, rows, upper, lower)
    timings["items"] = time.perf_counter() - clock

    # knowledge points, DINA, Rasch
    clock = time.perf_counter()
    blueprint = blueprint_from_exam(data.exam, data.item_ids)
    k_rates, _ = knowledge_rates(scores, data.points, blueprint.weights, taken=taken if chose else None)
    notes: dict[str, str] = {}
    dina_fit: DinaFit | None = None
    rasch_fit: RaschFit | None = None
    binary = None
    if chose and (config.dina or config.rasch):
        # Both models read a question not chosen as answered wrong: not fitted rather than fitted wrong.
        for model in ("dina", "rasch"):
            notes[model] = "not fitted: students chose between optional questions (选考题)"
        config = replace(config, dina=False, rasch=False)
    if config.dina or config.rasch:
        binary = dichotomise(scores, data.points, config.correct_at)
    if config.dina:
        n_points = len(blueprint.point_ids)
        if n_points == 0:
            notes["dina"] = "not fitted: the exam has no knowledge points"
        elif n_points > MAX_DINA_POINTS:
            notes["dina"] = f"not fitted: {n_points} knowledge points (at most {MAX_DINA_POINTS})"
        else:
            dina_fit = fit_dina(binary, blueprint.q_matrix, seed=config.seed)
    timings["dina"] = time.perf_counter() - clock
    clock = time.perf_counter()
    pcm_fit, pcm_items = None, None
    if config.rasch:
        rasch_fit = fit_rasch(binary)
        # written questions (and partial-credit choices) keep their score levels: the partial credit model
        pcm_items = (scores.max(axis=0) > scores.min(axis=0)) if len(scores) else np.zeros(len(data.item_ids), bool)
        if pcm_items.any() and (data.points[pcm_items] > 1).any():
            pcm_fit = fit_pcm(scores[:, pcm_items])
        else:
            pcm_items = None
    timings["rasch"] = time.perf_counter() - clock
    clock = time.perf_counter()
    rmsea = dina_item_rmsea(binary, blueprint.q_matrix, dina_fit, seed=config.seed) if dina_fit else None
    mastery = None
    if blueprint.point_ids:
        mastery = trusted_mastery(k_rates, blueprint.weights.sum(axis=0), c_codes, n_classes, dina_fit, rmsea)
    if dina_fit is not None:
        notes["dina"] = (f"DINA fit: mean item RMSEA {mastery.rmsea:.3f} "
                         + (f"<= {DINA_RMSEA_GOOD}: shown" if mastery.dina_used else
                            f"> {DINA_RMSEA_GOOD}: the model does not fit these answers; mastery shown from "
                            "the shrunken score rate"))
    # group figures of DINA only where the model fits
    dina_mastery = dina_fit.mastery if dina_fit is not None and mastery is not None and mastery.dina_used else None
    timings["mastery"] = time.perf_counter() - clock
    clock = time.perf_counter()

    # levels: all -> schools -> classes (each compared with its parent)
    zeros = np.zeros(len(totals), np.intp)
    everyone = _level("all", np.array([""], dtype=object), np.array([""], dtype=object), np.array([-1]), zeros, 1,
                      np.zeros(data.n, np.intp), data, graded, totals, scores, k_rates, config, None, None,
                      dina_mastery)
    schools = _level("school", school_groups.labels, np.full(n_schools, "", dtype=object),
                     np.zeros(n_schools, np.intp), s_codes, n_schools, school_groups.codes, data, graded, totals,
                     scores, k_rates, config, everyone.stats.mean, everyone.knowledge_rates, dina_mastery)
    classes = _level("class", class_school, class_name, school_of_class, c_codes, n_classes, class_groups.codes,
                     data, graded, totals, scores, k_rates, config, schools.stats.mean, schools.knowledge_rates,
                     dina_mastery)
    timings["scores_groups"] = time.perf_counter() - clock

    clock = time.perf_counter()
    student_weak, student_gaps = _weakest_against(k_rates, schools.knowledge_rates[s_codes], config.weakest)
    students = StudentResults(
        rows=rows, class_index=c_codes, school_index=s_codes, total=totals, band=bands, class_rank=class_rank,
        class_size=class_size, grade_rank=grade_rank, grade_size=grade_size, city_rank=city_rank,
        grade_pr=grade_pr, city_pr=city_pr, z=z, t=t, city_z=city_z, borderline=near, knowledge_rates=k_rates,
        knowledge_bands=mastery_bands(k_rates, config.mastery), weakest=student_weak, weakest_gaps=student_gaps,
        dina_mastery=dina_mastery, theta=rasch_fit.theta if rasch_fit else None,
        theta_se=rasch_fit.theta_se if rasch_fit else None, mastery=mastery)
    timings["knowledge_students"] = time.perf_counter() - clock
    return Analysis(data=data, config=config, lines=config.lines(data.full_marks), classes=classes,
                    schools=schools, all=everyone, students=students, items=items, test=test, options=options,
                    blueprint=blueprint, dina=dina_fit, rasch=rasch_fit, notes=notes, timings=timings, pcm=pcm_fit,
                    pcm_items=pcm_items)


def multi_subject(datasets: Sequence[ExamData]) -> MultiSubject:
    """总分 of several subjects (one :class:`ExamData` each) by exam id, with class, grade and city ranks of the
    complete totals (:func:`analytics.scores.subject_totals`)."""
    subjects = [d.exam.subject for d in datasets]
    if len(set(subjects)) != len(subjects):
        raise ValueError(f"subject given twice: {', '.join(s for s in subjects if subjects.count(s) > 1)}")
    ids = np.concatenate([d.exam_ids.astype(str) for d in datasets])
    distinct, first = np.unique(ids, return_index=True)
    order = np.sort(first)  # first-seen order
    everyone = ids[order]
    meta = [np.concatenate([getattr(d, name).astype(str) for d in datasets])[order]
            for name in ("names", "classes", "schools")]
    matrix = np.full((len(everyone), len(datasets)), np.nan)
    sorter = np.argsort(everyone)
    for column, d in enumerate(datasets):
        where = sorter[np.searchsorted(everyone, d.exam_ids.astype(str), sorter=sorter)]
        matrix[where, column] = np.where(d.graded, d.totals, np.nan)
    total, complete = subject_totals(matrix)
    ranks = []
    for keys in ((meta[2], meta[1]), (meta[2],), ()):
        rank = np.zeros(len(everyone), np.int64)
        if complete.any():
            if keys:
                groups = group_by(*(k[complete] for k in keys))
                rank[complete], _, _ = ranks_within_groups(total[complete], groups.codes, groups.n_groups)
            else:
                rank[complete], _, _ = ranks_within_groups(total[complete])
        ranks.append(rank)
    return MultiSubject(tuple(subjects), float(sum(d.full_marks for d in datasets)), everyone.astype(object),
                        meta[0].astype(object), meta[1].astype(object), meta[2].astype(object), matrix, total,
                        complete, ranks[0], ranks[1], ranks[2])
