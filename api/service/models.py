"""The service's tables (SQLAlchemy 2 declarative). The schema itself is made by Alembic (``migrations/``).

Every row that belongs to a school carries ``school_id``: routes filter on it, so another school's object is
simply not found. IDs people use (考号, 学籍号, school codes) are text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "School", "SchoolClass", "Student", "User", "LoginAttempt", "AccessToken", "ApiKey", "Exam",
           "ExamGrant", "Blob", "Batch", "BatchFile", "Job", "Page", "Sheet", "Correction", "GradeRun", "ScoreCell",
           "StudentResult", "AuditEntry", "ScannerProfileVersion", "MarkingSetup", "MarkingMarker", "MarkingItem",
           "MarkingTask", "TeacherClass", "KeySession", "ItemBank", "utcnow", "as_utc"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored time with its zone: SQLite gives times back without one (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: DateTime(timezone=True)}


class School(Base):
    __tablename__ = "schools"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # 学校标识码 (10 digits)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SchoolClass(Base):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))  # 高一(1)班
    grade: Mapped[str] = mapped_column(String(50), default="")


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school_id", "exam_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[str] = mapped_column(String(32))  # 考号
    student_no: Mapped[str | None] = mapped_column(String(32))  # 学籍号
    name: Mapped[str] = mapped_column(String(100), default="")
    class_name: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[str | None] = mapped_column(String(8))  # 卷型 assigned on the roster


class User(Base):
    """A person who logs in with a password: a teacher or a school admin."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # teacher | school_admin
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoginAttempt(Base):
    """Failed log-ins counted per username (whether or not such a user exists, so an unknown name locks exactly
    like a real one) and per client address (so one client cannot lock every account)."""

    __tablename__ = "login_attempts"
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # username | address
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # since the last good password / in this window
    window_start: Mapped[dt.datetime] = mapped_column(default=utcnow)  # the first failure counted
    locked_until: Mapped[dt.datetime | None]  # too many failures: refused until then


class AccessToken(Base):
    """A teacher's bearer token; only its SHA-256 is stored."""

    __tablename__ = "access_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKey(Base):
    """A machine's key (scanner station, municipal system); only its SHA-256 is stored."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # shown in lists and the audit log
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))  # station | municipal
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id"), index=True)  # None: municipal
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class Exam(Base):
    """An exam: its grading definition (key, scores, versions, knowledge points) and its sheet template.

    ``school_id`` None is a city-wide exam (联考) created by the municipal system: every school uploads to it.
    """

    __tablename__ = "exams"
    __table_args__ = (UniqueConstraint("code", "school_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100))  # the exam JSON's own id
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id"), index=True)
    subject: Mapped[str] = mapped_column(String(50), default="")
    # 年级 sitting it (高一 ...): only students of classes of that grade are on its roster; None = the whole school
    grade: Mapped[str | None] = mapped_column(String(50))
    definition: Mapped[dict[str, Any]]  # grading.exam.Exam as JSON
    template: Mapped[dict[str, Any]]  # omr.template.Template as JSON
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExamGrant(Base):
    """A teacher's right over one exam of their school, given by a school admin: ``key`` lets the exam's
    subject leader change its key (and so regrade it). Revoked grants stay (revoked_at set) for the record."""

    __tablename__ = "exam_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    right: Mapped[str] = mapped_column(String(20), default="key")
    granted_by: Mapped[str] = mapped_column(String(120))
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class Blob(Base):
    """A stored file, named by the SHA-256 of its bytes."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Batch(Base):
    """One upload from a scanner station: files in the order scanned, read into pages and sheets."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("school_id", "idempotency_key"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="processing")  # processing | done
    files_received: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[list[Any]] = mapped_column(default=list)  # [{"file", "reason"}] refused before reading
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # The station key that uploaded it (None: a person), and the scanner profile its files are read with (None:
    # the default), chosen at upload: the station's active profile, else the school's.
    station_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("scanner_profiles.id"))


class BatchFile(Base):
    """A file of a batch. The same bytes uploaded again for the same school and exam are a duplicate: no job."""

    __tablename__ = "batch_files"
    __table_args__ = (UniqueConstraint("batch_id", "seq"), Index("ix_batch_files_dedupe", "school_id", "exam_id",
                                                                 "sha256"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"))
    seq: Mapped[int] = mapped_column(Integer)  # order within the batch (scan order)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("batch_files.id"))


class Job(Base):
    """Reading one uploaded file. A worker claims it with a lease; the pages and ``done`` commit together."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "lease_until"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("batch_files.id"), unique=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class Page(Base):
    """One scanned page as OMR read it. Unique per (file, page index): a page is never counted twice."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("file_id", "page_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("batch_files.id"), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    page_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # ok | flagged | error
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    student_id: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict[str, Any]]  # omr.result.PageResult as JSON
    overlay_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    worker: Mapped[str | None] = mapped_column(String(100))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)  # a reviewer has dealt with an unreadable page
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Sheet(Base):
    """One student's answer sheet assembled from a batch's pages (the review queue lists flagged ones)."""

    __tablename__ = "sheets"
    __table_args__ = (UniqueConstraint("batch_id", "sheet_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    sheet_index: Mapped[int] = mapped_column(Integer)
    student_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(20))  # ok | flagged
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    page_ids: Mapped[list[Any]] = mapped_column(default=list)
    result: Mapped[dict[str, Any]]  # omr.assemble.SheetResult as JSON
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)  # a reviewer has dealt with it


class Correction(Base):
    """A reviewer's decision about one reading of one sheet (see :class:`grading.corrections.Correction`)."""

    __tablename__ = "corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("sheets.id"), index=True)
    question: Mapped[str] = mapped_column(String(32))  # Q12, exam_id, form, absent, exclude, a score id
    value: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500), default="")
    by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GradeRun(Base):
    """One marking of one school's sheets for one exam; the newest is what results and reports show."""

    __tablename__ = "grade_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(100))
    summary: Mapped[dict[str, Any]]
    output_dir: Mapped[str] = mapped_column(String(500))


class StudentResult(Base):
    """A student's total in a grade run (one row per student on the roster or read from a sheet)."""

    __tablename__ = "student_results"
    __table_args__ = (UniqueConstraint("run_id", "exam_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grade_runs.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[str] = mapped_column(String(32))  # 考号
    name: Mapped[str] = mapped_column(String(100), default="")
    class_name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20))  # graded | pending | absent | missing ...
    total: Mapped[float | None] = mapped_column(Float)


class ScoreCell(Base):
    """One student's score on one question in a grade run (written with the database's bulk path)."""

    __tablename__ = "score_cells"
    __table_args__ = (Index("ix_score_cells_run_student", "run_id", "exam_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grade_runs.id"))
    exam_id: Mapped[str] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)


class MarkingSetup(Base):
    """网上阅卷 of one written question (or 题块: one or more answer regions of the template) for one school's
    sheets of an exam: the rules (:class:`grading.marking.MarkingRules`), its markers and its leader."""

    __tablename__ = "marking_setups"
    __table_args__ = (UniqueConstraint("school_id", "exam_id", "question"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    question: Mapped[str] = mapped_column(String(32))  # the exam's subjective question the score goes to
    regions: Mapped[list[Any]] = mapped_column(default=list)  # template region ids shown, in order
    full_marks: Mapped[float] = mapped_column(Float)
    step: Mapped[float] = mapped_column(Float, default=1.0)
    double: Mapped[bool] = mapped_column(Boolean, default=True)  # 双评
    tolerance: Mapped[float] = mapped_column(Float, default=0.0)  # 误差阈值
    final_rule: Mapped[str] = mapped_column(String(20), default="closest_two")
    self_check_rate: Mapped[float] = mapped_column(Float, default=0.0)  # 自评: share re-served
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # 题组长: rulings and 问题卷
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Pooled city marking (联考): the municipal system marks the question of every school's sheets of a city exam
    # by markers of several schools; ``school_id`` is then the 阅卷点 (the school hosting the marking, the
    # leader's by default), and each answer keeps its own school.
    pooled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class MarkingMarker(Base):
    """A marker of a question (题组)."""

    __tablename__ = "marking_markers"
    setup_id: Mapped[int] = mapped_column(ForeignKey("marking_setups.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class MarkingItem(Base):
    """One student's answer to a marked question: the crop of one sheet, and its final score once decided."""

    __tablename__ = "marking_items"
    __table_args__ = (UniqueConstraint("setup_id", "sheet_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    setup_id: Mapped[int] = mapped_column(ForeignKey("marking_setups.id"))
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("sheets.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))  # the first of the sheet's pages holding a part
    state: Mapped[str] = mapped_column(String(20), default="marking")  # marking | third | ruling | problem | final
    final_score: Mapped[float | None] = mapped_column(Float)
    final_how: Mapped[str | None] = mapped_column(String(30))  # the rule that gave it (grading.marking.Decision)
    crop_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))  # cut when first asked for
    finalised_at: Mapped[dt.datetime | None]


class MarkingTask(Base):
    """One score asked of one marker for one answer. ``token`` is what a marker sees (no sheet, page or student).

    ``kind``: ``first`` (单评/双评), ``third`` (三评), ``ruling`` (仲裁, the leader's), ``self`` (自评: the same
    marker again, not counted). No marker holds two tasks of one kind for one answer (the unique constraint).
    """

    __tablename__ = "marking_tasks"
    __table_args__ = (UniqueConstraint("item_id", "marker_id", "kind"),
                      Index("ix_marking_tasks_claim", "setup_id", "kind", "status", "marker_id"),
                      Index("ix_marking_tasks_marker", "marker_id", "status", "scored_at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    setup_id: Mapped[int] = mapped_column(ForeignKey("marking_setups.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("marking_items.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"))
    kind: Mapped[str] = mapped_column(String(10))  # first | third | ruling | self
    marker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | assigned | done | problem | cancelled
    score: Mapped[float | None] = mapped_column(Float)
    problem: Mapped[str | None] = mapped_column(String(20))  # blank | illegible | wrong_region | cheating
    note: Mapped[str | None] = mapped_column(String(500))
    assigned_at: Mapped[dt.datetime | None]
    scored_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A task in a marker's hands goes back to the pool after this (a marker who left does not keep answers);
    # the marker's activity renews it. None: not leased (open, done, or the leader's 仲裁).
    lease_until: Mapped[dt.datetime | None]


class TeacherClass(Base):
    """A teacher's class (任课班级): a teacher reads the class views and downloads of these classes only."""

    __tablename__ = "teacher_classes"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), primary_key=True, index=True)


class KeySession(Base):
    """A browser session opened with an API key (a scanner station, the municipal system): the cookie holds this
    session's secret, never the key, so logging out ends the session while the key stays valid for its machine.
    Only the secret's SHA-256 is stored."""

    __tablename__ = "key_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ItemBank(Base):
    """A school's current item bank (题库): the bank JSON as uploaded, stored as a blob named by its SHA-256. The
    错题本 downloads are built with it; a new upload replaces the row (every upload is in the audit log)."""

    __tablename__ = "item_banks"
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    items: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(120))


class AuditEntry(Base):
    """Append-only: who did what, when, before and after. The database refuses UPDATE and DELETE (triggers)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    school_id: Mapped[str | None] = mapped_column(String(16), index=True)
    actor: Mapped[str] = mapped_column(String(120))  # user:wang / key:yj_ab12cd34 (station)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    address: Mapped[str | None] = mapped_column(String(64))  # the client's network address (None: the CLI)


class ScannerProfileVersion(Base):
    """One version of the OMR decision profile (:class:`omr.profile.ScannerProfile` as JSON) of a school, or of
    one of its scanner stations (``station_key_id``). A version is never changed: uploading or learning adds the
    next one; at most one per school/station is active (``target``: "school" or "station:<key id>")."""

    __tablename__ = "scanner_profiles"
    __table_args__ = (UniqueConstraint("school_id", "target", "version"),
                      Index("uq_scanner_profiles_active", "school_id", "target", unique=True,
                            sqlite_where=text("active"), postgresql_where=text("active")))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    station_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    target: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    profile: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(20))  # upload | learned
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # learned: calibration.fit.FitReport.to_dict()
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    activated_by: Mapped[str | None] = mapped_column(String(120))  # the last activation (each is in the audit log)
    activated_at: Mapped[dt.datetime | None]
