"""Exports of the learning record for administrators: course completions and quiz attempts as CSV, and every
learning event as xAPI statements. Each export is a generator of text chunks that reads the database in
batches by id (keyset pagination), so memory stays bounded however long the record grows.

The CSV files name people (user id, e-mail, display name): they are for the organisation's administrators,
who see the same on the people pages, and only administrators (API) or operators (CLI) can make them. xAPI
statements leave the organisation for an LRS and identify people only by their account id on this site.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Select, select

from lms import audit
from lms.accounts.models import User
from lms.db import db
from lms.learning.models import Course, CourseCompletion, LearningEvent, ProgramVersion
from lms.quizzes.models import Attempt, Quiz, QuizVersion
from lms.records.xapi import Event, Site, statement

BATCH = 500
FORMATS = ("csv", "xapi")
KINDS = ("completions", "attempts")

# Documented in docs/api.md and docs/operations.md; tests check them word for word.
COMPLETION_COLUMNS = ("completion_id", "user_id", "email", "display_name", "course", "course_title",
                      "course_version", "completed_at", "score", "attempt_id")
ATTEMPT_COLUMNS = ("attempt_id", "user_id", "email", "display_name", "quiz", "quiz_title", "quiz_version",
                   "number", "status", "started_at", "closed_at", "score", "passed", "critical_failed")


class ExportError(ValueError):
    """A parameter of an export is not understood; the message says what is expected."""


def parse_since(text: str | None) -> datetime | None:
    """`YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time (UTC if it names no offset); None or '' for all."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"since must be a date like 2026-01-31 (or an ISO 8601 date-time), not {text!r}"
                          ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_params(fmt: str | None, kind: str | None) -> tuple[str, str | None]:
    """The format and, for CSV, the kind (default completions); ExportError names a bad value."""
    fmt = fmt or "csv"
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "xapi":
        if kind:
            raise ExportError("kind applies to format=csv only; the xAPI export holds every learning event")
        return fmt, None
    kind = kind or "completions"
    if kind not in KINDS:
        raise ExportError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return fmt, kind


def note_export(actor: User | None, fmt: str, kind: str | None, since: datetime | None) -> None:
    """A bulk export of personal data goes in the audit trail: who took what, from when."""
    audit.record(actor, "records.exported", None, format=fmt, kind=kind, since=since)


def filename(fmt: str, kind: str | None, today: date) -> str:
    return f"{kind}-{today.isoformat()}.csv" if fmt == "csv" else f"xapi-statements-{today.isoformat()}.json"


def stream(fmt: str, kind: str | None, since: datetime | None) -> Iterator[str]:
    if fmt == "xapi":
        return xapi_statements(since)
    return csv_attempts(since) if kind == "attempts" else csv_completions(since)


# ---------------------------------------------------------------- reading in batches


def batches(stmt: Select, id_column: Any, *, after: int = 0, upto: int | None = None, size: int = BATCH
            ) -> Iterator[Sequence[Any]]:
    """Rows of `stmt` in id order, `size` at a time: WHERE id > last ORDER BY id LIMIT size. The first column
    of `stmt` must be the id. Plain rows (not ORM objects), so nothing piles up in the session."""
    last = after
    while True:
        page = stmt.where(id_column > last)
        if upto is not None:
            page = page.where(id_column <= upto)
        rows = db.session.execute(page.order_by(id_column).limit(size)).all()
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        last = rows[-1][0]


# ---------------------------------------------------------------- CSV


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value  # enums
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # A spreadsheet would run a name like "=HYPERLINK(...)" as a formula (CSV injection).
        return "'" + value
    return value


def _csv(columns: Sequence[str], rows: Iterable[Sequence[Sequence[Any]]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield buffer.getvalue()
    for batch in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_cell(v) for v in row] for row in batch)
        yield buffer.getvalue()


def csv_completions(since: datetime | None = None) -> Iterator[str]:
    """Course completions (COMPLETION_COLUMNS), oldest first; `since` filters on completed_at."""
    stmt = (select(CourseCompletion.id, User.id, User.email, User.display_name, Course.slug, Course.title,
                   CourseCompletion.course_version, CourseCompletion.completed_at, CourseCompletion.score,
                   CourseCompletion.attempt_id)
            .join(User, User.id == CourseCompletion.user_id).join(Course, Course.id == CourseCompletion.course_id))
    if since is not None:
        stmt = stmt.where(CourseCompletion.completed_at >= since)
    return _csv(COMPLETION_COLUMNS, batches(stmt, CourseCompletion.id))


def csv_attempts(since: datetime | None = None) -> Iterator[str]:
    """Quiz attempts (ATTEMPT_COLUMNS), oldest first, open ones included; `since` filters on started_at."""
    stmt = (select(Attempt.id, User.id, User.email, User.display_name, Quiz.slug, Quiz.title, QuizVersion.version,
                   Attempt.number, Attempt.status, Attempt.started_at, Attempt.closed_at, Attempt.score,
                   Attempt.passed, Attempt.critical_failed)
            .join(User, User.id == Attempt.user_id).join(Quiz, Quiz.id == Attempt.quiz_id)
            .join(QuizVersion, QuizVersion.id == Attempt.quiz_version_id))
    if since is not None:
        stmt = stmt.where(Attempt.started_at >= since)
    return _csv(ATTEMPT_COLUMNS, batches(stmt, Attempt.id))


# ---------------------------------------------------------------- xAPI


def site() -> Site:
    """This site's address and its current certification program, as the statements name them."""
    program = db.session.execute(select(ProgramVersion.slug, ProgramVersion.title)
                                 .where(ProgramVersion.current.is_(True)).order_by(ProgramVersion.id.desc())
                                 .limit(1)).first()
    return Site(base_url=current_app.config["BASE_URL"], program_slug=program[0] if program else None,
                program_title=program[1] if program else None)


EVENT_COLUMNS = select(LearningEvent.id, LearningEvent.user_id, LearningEvent.verb, LearningEvent.object_type,
                       LearningEvent.object_id, LearningEvent.object_title, LearningEvent.occurred_at, Course.slug,
                       Course.title, LearningEvent.content_version, LearningEvent.result
                       ).outerjoin(Course, Course.id == LearningEvent.course_id)


def event_batches(*, since: datetime | None = None, after: int = 0, upto: int | None = None, size: int = BATCH
                  ) -> Iterator[list[Event]]:
    stmt = EVENT_COLUMNS if since is None else EVENT_COLUMNS.where(LearningEvent.occurred_at >= since)
    for rows in batches(stmt, LearningEvent.id, after=after, upto=upto, size=size):
        yield [Event(id=r[0], user_id=r[1], verb=str(r[2]), object_type=r[3], object_id=r[4], object_title=r[5],
                     occurred_at=r[6], course_slug=r[7], course_title=r[8], content_version=r[9],
                     result=r[10] or {}) for r in rows]


def xapi_statements(since: datetime | None = None) -> Iterator[str]:
    """Every learning event since `since` (on occurred_at) as one JSON array of xAPI statements, written a
    batch at a time."""
    where = site()
    yield "["
    first = True
    for events in event_batches(since=since):
        text = ",\n".join(json.dumps(statement(where, e), ensure_ascii=False, separators=(",", ":"))
                          for e in events)
        yield ("\n" if first else ",\n") + text
        first = False
    yield "\n]\n"
