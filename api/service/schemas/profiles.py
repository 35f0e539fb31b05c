"""Scanner profiles per school and scanner station: versions, activation, learning from review corrections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from api.service.schemas.common import Input, Output

_ROW_ID = {"ge": 1, "le": 2**31 - 1}


class ProfileCreate(Input):
    """A profile to store as the next version for the school, or for one of its scanner stations."""

    profile: dict[str, Any] = Field(description="omr.profile.ScannerProfile as JSON (what `yuejuan calibrate` "
                                                "writes); unknown keys and wrong types are refused")
    station_key_id: int | None = Field(default=None, **_ROW_ID, description="a station key of the school; "
                                                                           "omitted: the school's own profile")
    activate: bool = Field(default=False, description="use it for the next uploads at once")


class ProfileLearn(Input):
    """Learn the next version from the corrections reviewers made on this station's (or school's) sheets."""

    station_key_id: int | None = Field(default=None, **_ROW_ID, description="a station key of the school; "
                                                                           "omitted: every upload of the school")
    exam_id: int | None = Field(default=None, **_ROW_ID, description="only this exam's sheets")
    max_pages: int | None = Field(default=None, ge=4, le=2000, description="at most this many reviewed pages "
                                                                           "(never more than the service's limit)")


class ProfileRef(Output):
    """Which profile a batch is read with (None: the default)."""

    id: int
    name: str
    version: int
    station_key_id: int | None


class ProfileSummary(Output):
    """One version, without its parameters."""

    id: int
    school_id: str
    station_key_id: int | None
    version: int
    name: str
    source: str = Field(description="upload | learned")
    active: bool
    created_by: str
    created_at: dt.datetime
    activated_by: str | None
    activated_at: dt.datetime | None


class ProfilePublic(ProfileSummary):
    profile: dict[str, Any]
    report: dict[str, Any] | None = Field(description="learned: flag rate and wrong-but-sure before and after on "
                                                      "held-back pages (calibration.fit.FitReport)")


class LearnResult(Output):
    """What learning made: the new version (active only when ``accepted``) and what went into it."""

    version: ProfilePublic
    accepted: bool
    activated: bool
    pages_labelled: int
    pages_train: int
    pages_held_back: int
    pages_skipped: list[str] = Field(description="reviewed pages left out, each with why")
