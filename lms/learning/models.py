"""Courses and lessons as loaded from the content files, each with its versions, and each trainee's
progress through them. Nothing here is ever deleted: a course or lesson that leaves the files is retired,
and what people earned on it stays with the version they earned it on."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import _enum
from lms.db import Base, utcnow


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    position: Mapped[int]
    required: Mapped[bool]
    estimated_minutes: Mapped[int]
    objectives: Mapped[list[str]] = mapped_column(JSON)
    prerequisites: Mapped[list[str]] = mapped_column(JSON)  # course slugs
    quiz_slug: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(64))  # the current CourseVersion's hash
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    lessons: Mapped[list[Lesson]] = relationship(back_populates="course", order_by="Lesson.position")
    versions: Mapped[list[CourseVersion]] = relationship(back_populates="course", order_by="CourseVersion.id")

    @property
    def active_lessons(self) -> list[Lesson]:
        return [lesson for lesson in self.lessons if lesson.active]


class CourseVersion(Base):
    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    lesson_versions: Mapped[list[str]] = mapped_column(JSON)  # the lessons' hashes, in order
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(back_populates="versions")


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int]
    body: Mapped[str] = mapped_column(Text)  # Markdown of the current version
    version: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)

    course: Mapped[Course] = relationship(back_populates="lessons")


class LessonVersion(Base):
    __tablename__ = "lesson_versions"
    __table_args__ = (UniqueConstraint("lesson_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LessonCompletion(Base):
    """A trainee finished a lesson: once per lesson (marking again changes nothing), with the version read."""

    __tablename__ = "lesson_completions"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id"), index=True)
    lesson_version: Mapped[str] = mapped_column(String(64))
    course_version: Mapped[str] = mapped_column(String(64))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)

    lesson: Mapped[Lesson] = relationship()


class CourseActivity(Base):
    """Where a trainee is in a course: when they started and the lesson they opened last."""

    __tablename__ = "course_activity"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id"))
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The course's quiz, passed: told by the quiz engine, so the course completes once the lessons are done too.
    quiz_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    quiz_score: Mapped[float | None]
    quiz_passed_at: Mapped[datetime | None]


class CourseCompletion(Base):
    """A course completed: recorded once, with the date, the quiz score and the course version, and kept
    whatever later happens to the content."""

    __tablename__ = "course_completions"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    course_version: Mapped[str] = mapped_column(String(64))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
    score: Mapped[float | None]
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))


class Verb(enum.StrEnum):
    """xAPI-style verbs of the learning record (issue: completion record)."""

    COMPLETED = "completed"
    ATTEMPTED = "attempted"
    PASSED = "passed"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"
    EARNED = "earned"  # a certificate was issued


class LearningEvent(Base):
    """One immutable fact of the learning record: who did what to which object, when, on which version."""

    __tablename__ = "learning_events"
    __table_args__ = (
        Index("ix_learning_events_user_id_occurred_at", "user_id", "occurred_at"),
        Index("ix_learning_events_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verb: Mapped[Verb] = mapped_column(_enum(Verb, "verb"))
    object_type: Mapped[str] = mapped_column(String(20))  # lesson, course, quiz, attempt, program
    object_id: Mapped[str] = mapped_column(String(80))
    object_title: Mapped[str] = mapped_column(String(200))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    content_version: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentSync(Base):
    """One run of `lms load-content` that changed something: when, by whom, and what changed."""

    __tablename__ = "content_syncs"

    id: Mapped[int] = mapped_column(primary_key=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    changes: Mapped[list[str]] = mapped_column(JSON)


class ProgramVersion(Base):
    """The certification program's rules as loaded, one row per version of the program file."""

    __tablename__ = "program_versions"
    __table_args__ = (UniqueConstraint("slug", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    current: Mapped[bool] = mapped_column(default=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CodeOfConductVersion(Base):
    __tablename__ = "code_of_conduct_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    effective: Mapped[str] = mapped_column(String(10))  # ISO date
    body: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(default=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
