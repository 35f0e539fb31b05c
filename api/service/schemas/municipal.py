"""City-wide aggregates of an exam and the paginated score export (the municipal system's view)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from api.service.schemas.common import Output, Page

__all__ = ["GroupStats", "SchoolStats", "ClassStats", "QuestionStats", "SchoolQuestions", "QuestionBreakdown",
           "KnowledgePointStats", "SchoolKnowledge", "KnowledgeBreakdown", "Aggregates", "ScoreExportRow",
           "ScoreExportPage"]


class GroupStats(Output):
    """Descriptive statistics of a group's graded students (``analytics.scores.describe``): N, mean, SD (ddof
    1), min, max, median (type 7), score rate = mean / full marks, and the 四率 (cumulative shares at or above
    85 / 70 / 60 % of full marks; 低分率 below 40 %). ``absent`` and ``pending`` are counted, not analysed."""

    n: int
    absent: int
    pending: int
    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    median: float | None
    score_rate: float | None
    rates: dict[str, float | None] = Field(description="excellent, good, pass, low (fractions of n)")


class SchoolStats(GroupStats):
    school_id: str
    school_name: str
    run_id: int
    graded_at: dt.datetime


class ClassStats(GroupStats):
    school_id: str
    school_name: str
    class_name: str


class QuestionStats(Output):
    """Item statistics (``analytics.items.item_analysis``): mean score, difficulty P = mean / points,
    discrimination D = (upper 27 % mean - lower 27 % mean) / points (null when too few students)."""

    question: str
    points: float
    n: int
    mean: float | None
    difficulty: float | None
    discrimination: float | None


class SchoolQuestions(Output):
    school_id: str
    school_name: str
    questions: list[QuestionStats]


class QuestionBreakdown(Output):
    city: list[QuestionStats]
    schools: list[SchoolQuestions]


class KnowledgePointStats(Output):
    """Knowledge-point score rate through the weighted Q-matrix (``analytics.diagnosis.knowledge_rates``) and
    its mastery band (mastered >= 0.80, partly >= 0.60, not_yet below)."""

    id: str
    name: str
    rate: float | None
    band: str | None


class SchoolKnowledge(Output):
    school_id: str
    school_name: str
    knowledge_points: list[KnowledgePointStats]


class KnowledgeBreakdown(Output):
    city: list[KnowledgePointStats]
    schools: list[SchoolKnowledge]


class Aggregates(Output):
    exam_id: int
    exam_code: str
    subject: str
    by: str
    full_marks: float
    cutoffs: list[float] = Field(description="四率 cut-offs as fractions of full marks: 优秀, 良好, 及格, 低分")
    cut_lines: list[float]
    schools_reporting: int
    city: GroupStats
    schools: list[SchoolStats] | None = None
    classes: list[ClassStats] | None = None
    questions: QuestionBreakdown | None = None
    knowledge_points: KnowledgeBreakdown | None = None
    notes: list[str] = []


class ScoreExportRow(Output):
    school_id: str
    school_name: str
    exam_id: str = Field(description="考号, text")
    name: str
    class_name: str
    status: str
    total: float | None
    scores: dict[str, float | None]


class ScoreExportPage(Page[ScoreExportRow]):
    questions: list[str] = Field(description="canonical question ids, the keys of every row's scores")
