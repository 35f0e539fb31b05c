"""网上阅卷: the set-up of a question's marking, the tasks markers are served (anonymous: no student, sheet, page
or school), scores, 问题卷, and the supervision figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from api.service.schemas.common import Input, Output, text

_ID = dict(ge=1, le=2**31 - 1)
UserId = Annotated[int, Field(**_ID)]
Problem = Literal["blank", "illegible", "wrong_region", "cheating"]
#: What a teacher reads for each kind of 问题卷.
PROBLEM_NAMES: dict[str, str] = {"blank": "空白卷", "illegible": "字迹无法辨认",
                                 "wrong_region": "答题区域错误", "cheating": "疑似作弊"}
Score = float


class MarkingSetupCreate(Input):
    question: str = Field(min_length=1, max_length=32, description="the exam's subjective question (Q56)")
    regions: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=8,
        description="template answer regions shown to markers as one crop, in order (题块; they may lie on "
                    "several pages of the card); default: the question's regions")
    full_marks: float | None = Field(default=None, description="default: the question's points")
    step: Literal[1, 0.5] = Field(default=1, description="what a marker enters in: whole or half points")
    double: bool = Field(default=True, description="双评: two independent markers per answer")
    tolerance: float = Field(default=0, ge=0, description="误差阈值: two scores further apart need 三评/仲裁")
    final_rule: Literal["closest_two", "ruling"] = Field(
        default="closest_two", description="closest_two: 三评, then the mean of the closest two, else 仲裁; "
                                           "ruling: 仲裁 at once")
    self_check_rate: float = Field(default=0, ge=0, le=0.5, description="自评: share of papers re-served")
    markers: list[UserId] = Field(min_length=1, max_length=500, description="user ids of the markers (题组)")
    leader_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                  description="题组长 (rulings, 问题卷); default: the caller")


class CityMarkingCreate(MarkingSetupCreate):
    """A pooled city marking (联考): markers and leader may be people of any school."""

    leader_id: int = Field(ge=1, le=2**31 - 1, description="题组长 (rulings, 问题卷); their school hosts the marking")


class MarkingSetupUpdate(Input):
    markers: list[UserId] | None = Field(default=None, min_length=1, max_length=500)
    leader_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    self_check_rate: float | None = Field(default=None, ge=0, le=0.5)


class MarkingSetupPublic(Output):
    id: int
    exam_id: int
    school_id: str
    question: str
    regions: list[str]
    full_marks: float
    step: float
    double: bool
    tolerance: float
    final_rule: str
    self_check_rate: float
    leader_id: int
    markers: list[int]
    answers: int = Field(description="answers (sheets) to mark")
    added: int = Field(default=0, description="answers added by this request")
    pooled: bool = Field(default=False, description="a pooled city marking (联考): every school's answers; "
                                                    "school_id is the school hosting it")


class TaskPublic(Output):
    """One crop to score. Nothing here names the student, the sheet, the page or the school."""

    token: str
    setup_id: int
    question: str
    kind: Literal["first", "third", "ruling"] = Field(description="first (a 自评 paper shows as one too), third "
                                                                  "(三评) or ruling (仲裁, the leader's)")
    full_marks: float
    step: float
    image: str = Field(description="the crop's address (GET, same credentials)")
    score: float | None = None
    problem: str | None = None
    scored_at: dt.datetime | None = None
    changeable: bool = Field(default=True, description="回评: false once the answer's final score is decided")
    earlier: list[float] = Field(default_factory=list, description="仲裁: the markers' scores so far")


class ScoreCreate(Input):
    score: float = Field(description="0 … full marks, in steps of the set-up's step")


class ProblemCreate(Input):
    kind: Problem
    note: text(500, multiline=True) = ""  # type: ignore[valid-type]


class ScoreResult(Output):
    saved: TaskPublic
    next: list[TaskPublic] = Field(description="the marker's next tasks (up to prefetch), oldest first")


class ProblemPublic(Output):
    token: str
    kind: str
    problem: str
    problem_name: str
    note: str
    reported_at: dt.datetime | None
    image: str


class ProblemResolve(Input):
    action: Literal["score", "return"] = Field(description="score: the leader's ruling is the final score; "
                                                           "return: back to the markers")
    score: float | None = None


class Reassign(Input):
    from_user: int = Field(**_ID)
    to_user: int | None = Field(default=None, **_ID, description="default: back to the pool")


class ReassignResult(Output):
    moved: int


class MarkerProgress(Output):
    user_id: int
    username: str
    scored: int
    open: int
    problems: int
    mean: float | None
    spread: float | None = Field(description="sample standard deviation of the marker's scores")
    mean_vs_group: float | None
    spread_vs_group: float | None
    agreement: float | None = Field(description="share of double-marked answers within the tolerance of the "
                                                "co-marker")
    self_checks: int
    self_agreement: float | None = Field(description="自评: share re-scored within the tolerance")
    self_mean_difference: float | None


class QuestionProgress(Output):
    setup_id: int
    question: str
    answers: int
    crops: int = Field(description="answers whose crop is cut and kept (cut ahead after loading)")
    final: int
    waiting_third: int
    waiting_ruling: int
    problems: int
    tasks_done: int
    tasks_total: int
    markers: list[MarkerProgress]
