"""Scanner profiles (扫描仪参数) per school and scanner station: upload a version, list the history, activate one,
and learn the next version from the corrections reviewers made (issue 10, points 3 and 4).

School admins manage their school's profiles; the municipal system may read every school's. Another school's
profile or station is not found (404). Every new version and every activation is in the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from api.service import profiles
from api.service.deps import (KIB, CurrentPrincipal, ReadSession, RowId, SchoolQuery, ServiceDep, WriteSession,
                              of_school, permit, school_of)
from api.service.json_body import LimitedJSONRoute
from api.service.models import Exam, ScannerProfileVersion
from api.service.schemas.profiles import LearnResult, ProfileCreate, ProfileLearn, ProfilePublic, ProfileSummary
from api.service.security import Principal

router = APIRouter(tags=["profiles"], route_class=LimitedJSONRoute)

#: Fewest labelled pages learning starts from: a fit needs pages to learn from and pages to judge it on.
MIN_LABELLED_PAGES = 4
_NAME_LENGTH = ScannerProfileVersion.name.type.length


def _checked(data: dict) -> dict:
    """The profile as stored: every field, checked by :func:`omr.profile.profile_from_dict` (422 saying why)."""
    from grading.text import clean_text
    from omr.profile import profile_from_dict, profile_to_dict

    try:
        profile = profile_from_dict(data, source="profile")
        clean_text(profile.name, field="profile.name", max_length=_NAME_LENGTH)
    except (ValueError, TypeError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return profile_to_dict(profile)


def _version(session, principal: Principal, profile_id: int) -> ScannerProfileVersion:
    return of_school(session.get(ScannerProfileVersion, profile_id), principal, "profile")


#: A profile with learned print baselines holds a few hundred numbers per template page.
_PROFILE_BODY = 256 * KIB


@router.post("/profiles", response_model=ProfilePublic, status_code=201,
             dependencies=[permit("profiles:write", body=_PROFILE_BODY)])
def create_profile(body: ProfileCreate, principal: CurrentPrincipal, session: WriteSession) -> ProfilePublic:
    """Store a profile (the JSON `yuejuan calibrate` writes) as the next version of the school's profile, or of
    one of its stations'; ``activate`` uses it for the next uploads at once. Audited."""
    school = school_of(principal)
    if body.station_key_id is not None:
        profiles.station_key(session, principal, school, body.station_key_id)
    row = profiles.add_version(session, principal, school, body.station_key_id, _checked(body.profile),
                               source="upload")
    if body.activate:
        profiles.activate(session, principal, row)
    session.commit()
    return ProfilePublic.model_validate(row)


@router.get("/profiles", response_model=list[ProfileSummary], dependencies=[permit("profiles:read")])
def list_profiles(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None,
                  station_key_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ProfileSummary]:
    """Every version of the school's profiles (newest first), or of one station's: the history, active or not."""
    query = select(ScannerProfileVersion).where(ScannerProfileVersion.school_id == school_of(principal, school_id))
    if station_key_id is not None:
        query = query.where(ScannerProfileVersion.station_key_id == station_key_id)
    rows = session.scalars(query.order_by(ScannerProfileVersion.id.desc()).limit(limit))
    return [ProfileSummary.model_validate(row) for row in rows]


@router.get("/profiles/{profile_id}", response_model=ProfilePublic, dependencies=[permit("profiles:read")])
def read_profile(profile_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> ProfilePublic:
    """One version with its parameters and, when it was learned, its report."""
    return ProfilePublic.model_validate(_version(session, principal, profile_id))


@router.post("/profiles/{profile_id}/activate", response_model=ProfilePublic,
             dependencies=[permit("profiles:write")])
def activate_profile(profile_id: RowId, principal: CurrentPrincipal, session: WriteSession) -> ProfilePublic:
    """Use this version for the school's (or its station's) next uploads; the one active before stays in the
    history. Going back is activating an older version. Audited."""
    row = _version(session, principal, profile_id)
    profiles.activate(session, principal, row)
    session.commit()
    return ProfilePublic.model_validate(row)


@router.post("/profiles/learn", response_model=LearnResult, status_code=201,
             dependencies=[permit("profiles:write")],
             responses={409: {"description": "too few reviewed pages to learn from"}})
def learn_profile(body: ProfileLearn, principal: CurrentPrincipal, service: ServiceDep) -> LearnResult:
    """Learn the station's (or school's) next profile from its reviewed sheets: every corrected reading and every
    sure reading the reviewer let stand is a labelled bubble, re-measured on the stored page image. One page in
    three is held back; the new version is stored with its report (flag rate and wrong-but-sure before and after
    on the held-back pages) and activated only when it is better there and reads nothing wrong as sure.

    Bounded: at most ``learn_max_pages`` (setting) of the newest reviewed pages are measured.
    """
    from omr.profile import profile_from_dict, profile_to_dict

    school = school_of(principal)
    limit = min(body.max_pages or service.settings.learn_max_pages, service.settings.learn_max_pages)
    with service.db.read() as session:  # no write lock while pages are measured
        if body.station_key_id is not None:
            profiles.station_key(session, principal, school, body.station_key_id)
        if body.exam_id is not None:
            exam = session.get(Exam, body.exam_id)
            if exam is None or exam.school_id not in (None, school):
                raise HTTPException(status.HTTP_404_NOT_FOUND, "exam not found")
        current = profiles.active_profile(session, school, body.station_key_id)
        reviewed, skipped = profiles.reviewed_pages(session, school, body.station_key_id, body.exam_id, limit)
        templates = {exam_id: session.get(Exam, exam_id).template for exam_id in {p.exam_id for p in reviewed}}
    base = profile_from_dict(current.profile) if current is not None else profile_from_dict({})
    outcome = profiles.labelled_pages(service, reviewed, templates, base)
    skipped += outcome.skipped
    if len(outcome.labelled) < MIN_LABELLED_PAGES:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"{len(outcome.labelled)} reviewed page(s) to learn from; at least {MIN_LABELLED_PAGES} "
                            f"are needed (correct or resolve more flagged sheets of this station first)")
    from calibration.fit import fit_profile

    train, held_back = profiles.split_held_back(outcome.labelled)
    try:
        report = fit_profile(train, held_back, base)
    except ValueError as error:  # what the labelled pages cannot support, said by the fit itself
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"cannot learn a profile: {error}") from None
    learned = _checked(profile_to_dict(report.profile))
    with service.db.write() as session:
        row = profiles.add_version(session, principal, school, body.station_key_id, learned, source="learned",
                                   report=report.to_dict())
        if report.accepted:
            profiles.activate(session, principal, row)
        session.commit()
        version = ProfilePublic.model_validate(row)
    return LearnResult(version=version, accepted=bool(report.accepted), activated=version.active,
                       pages_labelled=len(outcome.labelled), pages_train=len(train), pages_held_back=len(held_back),
                       pages_skipped=skipped)

