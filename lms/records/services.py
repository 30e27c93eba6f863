"""A trainee's transcript: every course of the program with its state, completion, the version it was completed
on, lessons done and every quiz attempt, read with a fixed number of queries; and who may see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select

from lms.accounts.models import User
from lms.db import db, utcnow
from lms.learning.models import Course, CourseCompletion, Lesson, LessonCompletion, ProgramVersion
from lms.learning.services import CourseState, progress_for
from lms.quizzes.models import Attempt, AttemptStatus, Quiz, QuizVersion
from lms.quizzes.services import may_view


@dataclass(frozen=True)
class AttemptLine:
    id: int
    quiz_slug: str
    quiz_title: str
    number: int
    status: AttemptStatus
    started_at: datetime
    closed_at: datetime | None
    score: float | None
    passed: bool | None
    critical_failed: bool | None
    quiz_version: str  # the version the attempt was taken against
    current_quiz_version: str

    @property
    def version_changed(self) -> bool:
        return self.quiz_version != self.current_quiz_version

    @property
    def result_label(self) -> str:
        if self.status is AttemptStatus.IN_PROGRESS:
            return "Open"
        if self.passed:
            return "Passed"
        return "Failed: critical question" if self.critical_failed else "Not passed"


@dataclass(frozen=True)
class CourseLine:
    slug: str
    title: str
    required: bool
    retired: bool  # no longer in the content files; what was earned on it is kept
    state: CourseState
    current_version: str
    completed_at: datetime | None
    completed_version: str | None  # the course version the completion was recorded on
    score: float | None  # the quiz score recorded with the completion
    lessons_done: int
    lessons_total: int
    quiz_slug: str | None
    quiz_title: str | None
    attempts: tuple[AttemptLine, ...] = ()

    @property
    def complete(self) -> bool:
        return self.completed_at is not None

    @property
    def version_changed(self) -> bool:
        """Completed on a version the course has since moved on from (the completion still counts)."""
        return self.completed_version is not None and self.completed_version != self.current_version

    @property
    def best_score(self) -> float | None:
        scores = [a.score for a in self.attempts if a.score is not None]
        return max(scores) if scores else None


@dataclass(frozen=True)
class Totals:
    required_done: int
    required_total: int
    courses_done: int
    lessons_done: int
    lessons_total: int
    attempts: int
    attempts_passed: int

    @property
    def required_complete(self) -> bool:
        return self.required_total > 0 and self.required_done == self.required_total


@dataclass(frozen=True)
class Transcript:
    """Plain values only, so the same object feeds the page, the PDF and the API."""

    trainee_id: int
    name: str
    certificate_name: str
    email: str
    supervisor_name: str | None
    generated_at: datetime
    program_title: str | None
    program_version: str | None
    required: tuple[CourseLine, ...]
    other: tuple[CourseLine, ...]
    totals: Totals
    other_attempts: tuple[AttemptLine, ...] = field(default=())  # quizzes no listed course names any more

    @property
    def courses(self) -> tuple[CourseLine, ...]:
        return self.required + self.other

    @property
    def attempts(self) -> list[AttemptLine]:
        return [a for c in self.courses for a in c.attempts] + list(self.other_attempts)


def may_view_record(viewer: User, trainee: User) -> bool:
    """The trainee themselves, the trainee's supervisor, or an administrator: the same people who may see
    the trainee's quiz attempts."""
    return may_view(viewer, trainee)


def _courses_for(trainee: User) -> list[Course]:
    """Every active course, and every retired one the trainee has something on record for."""
    uid = trainee.id
    has_record = or_(
        Course.id.in_(select(CourseCompletion.course_id).where(CourseCompletion.user_id == uid)),
        Course.id.in_(select(Lesson.course_id).join(LessonCompletion, LessonCompletion.lesson_id == Lesson.id)
                      .where(LessonCompletion.user_id == uid)),
        Course.quiz_slug.in_(select(Quiz.slug).join(Attempt, Attempt.quiz_id == Quiz.id).where(Attempt.user_id == uid)),
    )
    return list(db.session.scalars(select(Course).where(or_(Course.active.is_(True), has_record))
                                   .order_by(Course.position, Course.slug)))


def _attempt_lines(trainee: User) -> list[AttemptLine]:
    rows = db.session.execute(
        select(Attempt, Quiz.slug, Quiz.title, Quiz.version, QuizVersion.version)
        .join(Quiz, Attempt.quiz_id == Quiz.id)
        .join(QuizVersion, Attempt.quiz_version_id == QuizVersion.id)
        .where(Attempt.user_id == trainee.id)
        .order_by(Quiz.slug, Attempt.number))
    return [AttemptLine(id=a.id, quiz_slug=slug, quiz_title=title, number=a.number, status=a.status,
                        started_at=a.started_at, closed_at=a.closed_at, score=a.score, passed=a.passed,
                        critical_failed=a.critical_failed, quiz_version=taken_on, current_quiz_version=current)
            for a, slug, title, current, taken_on in rows]


def transcript(trainee: User, *, now: datetime | None = None) -> Transcript:
    """The trainee's record in program order, in at most nine queries whatever the number of courses, lessons
    and attempts: courses, progress (four), attempts, quiz titles, the program, and the supervisor's name."""
    courses = _courses_for(trainee)
    progress = progress_for(trainee, courses)  # four queries
    attempts = _attempt_lines(trainee)
    quiz_slugs = {c.quiz_slug for c in courses if c.quiz_slug}
    quiz_titles = {slug: title for slug, title in db.session.execute(
        select(Quiz.slug, Quiz.title).where(Quiz.slug.in_(quiz_slugs)))}
    program = db.session.scalar(select(ProgramVersion).where(ProgramVersion.current.is_(True))
                                .order_by(ProgramVersion.id.desc()).limit(1))
    by_quiz: dict[str, list[AttemptLine]] = {}
    for line in attempts:
        by_quiz.setdefault(line.quiz_slug, []).append(line)

    lines: dict[str, CourseLine] = {}
    for p in progress:
        c, done = p.course, p.completion
        lines[c.slug] = CourseLine(
            slug=c.slug, title=c.title, required=c.required, retired=not c.active,
            # a completion stands even if a prerequisite was added to the course later
            state=CourseState.DONE if done is not None else p.state, current_version=c.version,
            completed_at=done.completed_at if done else None, completed_version=done.course_version if done else None,
            score=done.score if done else None, lessons_done=p.done_count, lessons_total=p.total,
            quiz_slug=c.quiz_slug, quiz_title=quiz_titles.get(c.quiz_slug) if c.quiz_slug else None,
            attempts=tuple(by_quiz.pop(c.quiz_slug, [])) if c.quiz_slug else ())

    required_slugs = list((program.rules.get("required_courses") or []) if program else [])
    if program is None or not required_slugs:
        required_slugs = [slug for slug, line in lines.items() if line.required]
    required = tuple(lines[s] for s in required_slugs if s in lines)
    other = tuple(line for slug, line in lines.items() if slug not in required_slugs)
    every = required + other
    leftover = tuple(a for slug in sorted(by_quiz) for a in by_quiz[slug])
    all_attempts = [a for c in every for a in c.attempts] + list(leftover)
    totals = Totals(required_done=sum(1 for c in required if c.complete), required_total=len(required),
                    courses_done=sum(1 for c in every if c.complete),
                    lessons_done=sum(c.lessons_done for c in every), lessons_total=sum(c.lessons_total for c in every),
                    attempts=len(all_attempts), attempts_passed=sum(1 for a in all_attempts if a.passed))
    supervisor = trainee.supervisor
    return Transcript(trainee_id=trainee.id, name=trainee.display_name, certificate_name=trainee.certificate_name,
                      email=trainee.email, supervisor_name=supervisor.display_name if supervisor else None,
                      generated_at=now or utcnow(), program_title=program.title if program else None,
                      program_version=program.version if program else None, required=required, other=other,
                      totals=totals, other_attempts=leftover)
