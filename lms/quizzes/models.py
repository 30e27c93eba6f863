"""Quizzes as loaded from the files (each version kept), attempts, their saved answers, and course completions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User, _enum
from lms.db import Base, utcnow


class Quiz(Base):
    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(64))  # the current QuizVersion's hash
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[QuizVersion]] = relationship(back_populates="quiz", order_by="QuizVersion.id")

    @property
    def current(self) -> QuizVersion:
        return next(v for v in self.versions if v.version == self.version)


class QuizVersion(Base):
    __tablename__ = "quiz_versions"
    __table_args__ = (UniqueConstraint("quiz_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    quiz: Mapped[Quiz] = relationship(back_populates="versions")

    def question(self, qid: str) -> dict[str, Any]:
        return next(q for q in self.questions if q["id"] == qid)


class AttemptStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    TIMED_OUT = "timed_out"  # closed by the server after the deadline

    @property
    def label(self) -> str:
        return {"in_progress": "In progress", "submitted": "Submitted", "timed_out": "Closed when time ran out"}[
            self.value]


class Attempt(Base):
    """One try at a quiz. The questions drawn, their order and the order of their options are stored, so the
    attempt can be shown and graded again exactly as it was."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("user_id", "quiz_id", "number"),
        # At most one open attempt per person and quiz: two simultaneous starts give one attempt.
        Index("uq_attempts_one_open", "user_id", "quiz_id", unique=True,
              sqlite_where=text("status = 'in_progress'"), postgresql_where=text("status = 'in_progress'")),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id"), index=True)
    quiz_version_id: Mapped[int] = mapped_column(ForeignKey("quiz_versions.id"))
    number: Mapped[int]
    status: Mapped[AttemptStatus] = mapped_column(_enum(AttemptStatus, "attempt_status"),
                                                  default=AttemptStatus.IN_PROGRESS)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    question_ids: Mapped[list[str]] = mapped_column(JSON)
    option_orders: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    score: Mapped[float | None]
    passed: Mapped[bool | None]
    critical_failed: Mapped[bool | None]
    results: Mapped[dict[str, float] | None] = mapped_column(JSON)  # question id -> fraction correct

    user: Mapped[User] = relationship()
    quiz: Mapped[Quiz] = relationship()
    quiz_version: Mapped[QuizVersion] = relationship()
    answers: Mapped[list[AttemptAnswer]] = relationship(back_populates="attempt")

    @property
    def open(self) -> bool:
        return self.status is AttemptStatus.IN_PROGRESS

    def questions(self) -> list[dict[str, Any]]:
        return [self.quiz_version.question(qid) for qid in self.question_ids]


class AttemptAnswer(Base):
    """The latest saved answer to one question of an attempt (saving again replaces it)."""

    __tablename__ = "attempt_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"))
    question_id: Mapped[str] = mapped_column(String(80))
    answer: Mapped[Any] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)

    attempt: Mapped[Attempt] = relationship(back_populates="answers")
