"""Progress reports for supervisors and administrators: read-only aggregate queries, and CSV versions of the
administrators' reports. No Flask here; `now` is an argument so "stuck" can be tested at any moment.

Every report runs a fixed number of SQL statements whatever the number of trainees: the per-trainee facts are
one SELECT of GROUP BY subqueries joined to the trainees (`_facts`), which the reports filter, sort, page and
aggregate in the database.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Subquery,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    union,
    union_all,
)

from lms.accounts.models import Role, User
from lms.db import db, utcnow
from lms.learning.models import Course, CourseActivity, CourseCompletion, Lesson, LessonCompletion
from lms.pagination import Page
from lms.quizzes.models import Attempt, AttemptStatus, Quiz


@dataclass(frozen=True)
class PendingReview:
    """Something that waits for a supervisor's decision: a practicum entry, a certification request. Later
    features supply them through `register_pending_source`, since they sit above this module."""

    kind: str  # what it is, in words: "Practicum entry", "Certification request"
    trainee_id: int
    trainee_name: str
    summary: str
    waiting_since: datetime
    endpoint: str  # the page where it is reviewed, and the arguments to build its address
    args: tuple[tuple[str, Any], ...] = ()


PendingSource = Callable[[User], list[PendingReview]]
_pending_sources: list[PendingSource] = []


def register_pending_source(source: PendingSource) -> PendingSource:
    """Add a function (supervisor) -> what waits for their review among their trainees; each runs one query."""
    if source not in _pending_sources:
        _pending_sources.append(source)
    return source


def pending_reviews(supervisor: User) -> list[PendingReview]:
    """Everything waiting for this supervisor's review, oldest first: one query per kind, whatever the number."""
    found = [item for source in _pending_sources for item in source(supervisor)]
    return sorted(found, key=lambda item: (item.waiting_since, item.kind))


STALE_DAYS = 14  # no activity for this long (or not started this long after joining) counts as stuck


class StatusFilter(enum.StrEnum):
    ALL = "all"
    STUCK = "stuck"
    ACTIVE = "active"  # started, not finished, not stuck
    NOT_STARTED = "not_started"
    COMPLETED = "completed"  # every required course completed

    @property
    def label(self) -> str:
        return {"all": "All trainees", "stuck": "Stuck", "active": "Active", "not_started": "Not started",
                "completed": "Completed all required courses"}[self.value]


class SortKey(enum.StrEnum):
    NAME = "name"
    PROGRESS = "progress"
    ACTIVITY = "activity"

    @property
    def label(self) -> str:
        return {"name": "Name", "progress": "Progress", "activity": "Last activity"}[self.value]


@dataclass(frozen=True)
class Totals:
    """The required program as it stands: what "done / total" counts against."""

    required_courses: int
    required_lessons: int


@dataclass(frozen=True)
class TraineeProgress:
    """One row of the supervisor's overview. Plain values: templates and CSV need no further queries."""

    id: int
    display_name: str
    email: str
    required_done: int
    required_total: int
    lessons_done: int
    lessons_total: int
    last_activity: datetime | None
    failed_attempts: int
    latest_attempt_failed: bool  # the latest closed attempt at some (active) quiz was not passed
    started: bool
    completed_all: bool
    inactive: bool  # no activity for stale_days (counted from joining when there is none at all)
    repeated_failures: bool  # two or more failed attempts at one active quiz, and no pass of it
    not_started_late: bool  # joined more than stale_days ago and still not started
    stuck: bool

    @property
    def percent(self) -> int:
        return round(100 * self.lessons_done / self.lessons_total) if self.lessons_total else 0

    @property
    def status(self) -> StatusFilter:
        if self.completed_all:
            return StatusFilter.COMPLETED
        if self.stuck:
            return StatusFilter.STUCK
        return StatusFilter.ACTIVE if self.started else StatusFilter.NOT_STARTED

    def stuck_reasons(self, stale_days: int = STALE_DAYS) -> list[str]:
        if not self.stuck:
            return []
        reasons = []
        if self.inactive:
            reasons.append(f"No activity for {stale_days} days or more")
        if self.repeated_failures:
            reasons.append("Failed the same quiz twice or more without passing it")
        if self.not_started_late:
            reasons.append(f"Not started {stale_days} days after joining")
        return reasons


# ---------------------------------------------------------------- building blocks


def program_totals() -> Totals:
    """Required courses and their lessons, among the active content (one statement)."""
    courses = select(func.count(Course.id)).where(Course.active.is_(True), Course.required.is_(True))
    lessons = (select(func.count(Lesson.id)).join(Course, Course.id == Lesson.course_id)
               .where(Lesson.active.is_(True), Course.active.is_(True), Course.required.is_(True)))
    row = db.session.execute(select(courses.scalar_subquery(), lessons.scalar_subquery())).one()
    return Totals(required_courses=int(row[0] or 0), required_lessons=int(row[1] or 0))


def _trainees(*conditions: ColumnElement[bool]) -> CTE:
    """The active trainees a report is about, as a CTE every aggregate below is restricted to."""
    return (select(User.id, User.display_name, User.email, User.supervisor_id, User.created_at, User.last_login_at)
            .where(User.role == Role.TRAINEE, User.active.is_(True), *conditions).cte("trainees"))


def _facts(people: CTE, totals: Totals, *, now: datetime, stale_days: int, everyone: bool = False) -> Subquery:
    """One row per trainee of `people` with their progress, activity, failures and stuck flags.

    Each measure is a GROUP BY subquery over the trainees' rows, left-joined to the trainees: one statement
    however many trainees there are. `everyone`: `people` is every active trainee, so the aggregates read whole
    tables (sequential scans) instead of looking each trainee up by index, and the join keeps the trainees."""
    cutoff = now - timedelta(days=stale_days)

    def among(column: Any) -> list[ColumnElement[bool]]:
        return [] if everyone else [column.in_(select(people.c.id))]

    done = (select(CourseCompletion.user_id,
                   func.count().label("any_done"),
                   func.sum(case((Course.required.is_(True), 1), else_=0)).label("required_done"))
            .join(Course, Course.id == CourseCompletion.course_id)
            .where(Course.active.is_(True), *among(CourseCompletion.user_id))
            .group_by(CourseCompletion.user_id).subquery("done"))

    lessons = (select(LessonCompletion.user_id, func.count().label("n"))
               .join(Lesson, Lesson.id == LessonCompletion.lesson_id).join(Course, Course.id == Lesson.course_id)
               .where(Lesson.active.is_(True), Course.active.is_(True), Course.required.is_(True),
                      *among(LessonCompletion.user_id))
               .group_by(LessonCompletion.user_id).subquery("lessons"))

    # Last activity: the latest lesson completed, lesson opened, attempt started or login. Started: any of the
    # first three at all (a login alone is not a start), carried as a 1 beside each moment.
    moments = union_all(
        select(LessonCompletion.user_id.label("user_id"), func.max(LessonCompletion.completed_at).label("at"),
               literal(1).label("began"))
        .where(*among(LessonCompletion.user_id)).group_by(LessonCompletion.user_id),
        select(CourseActivity.user_id, func.max(CourseActivity.last_seen_at), literal(1))
        .where(*among(CourseActivity.user_id)).group_by(CourseActivity.user_id),
        select(Attempt.user_id, func.max(Attempt.started_at), literal(1))
        .where(*among(Attempt.user_id)).group_by(Attempt.user_id),
        select(people.c.id, people.c.last_login_at, literal(0)).where(people.c.last_login_at.is_not(None)),
    ).subquery("moments")
    last = (select(moments.c.user_id, func.max(moments.c.at).label("at"), func.max(moments.c.began).label("began"))
            .group_by(moments.c.user_id).subquery("last"))

    closed = Attempt.status != AttemptStatus.IN_PROGRESS
    failed = and_(closed, or_(Attempt.passed.is_(False), Attempt.passed.is_(None)))
    per_quiz = (select(Attempt.user_id, Attempt.quiz_id, Quiz.active.label("quiz_active"),
                       func.sum(case((failed, 1), else_=0)).label("failed"),
                       func.sum(case((Attempt.passed.is_(True), 1), else_=0)).label("passed"),
                       func.max(case((closed, Attempt.number))).label("last_closed"))
                .join(Quiz, Quiz.id == Attempt.quiz_id)
                .where(*among(Attempt.user_id))
                .group_by(Attempt.user_id, Attempt.quiz_id, Quiz.active).subquery("per_quiz"))
    # a Core alias: an ORM alias() costs milliseconds per request in adapting its columns
    latest_table = Attempt.__table__.alias("latest")
    latest = latest_table.c
    latest_failed = and_(per_quiz.c.quiz_active.is_(True), latest.id.is_not(None),
                         or_(latest.passed.is_(False), latest.passed.is_(None)))
    repeated = and_(per_quiz.c.quiz_active.is_(True), per_quiz.c.failed >= 2, per_quiz.c.passed == 0)
    attempts = (select(per_quiz.c.user_id,
                       func.sum(per_quiz.c.failed).label("failed"),
                       func.max(case((repeated, 1), else_=0)).label("repeated"),
                       func.max(case((latest_failed, 1), else_=0)).label("latest_failed"))
                .select_from(per_quiz)
                .outerjoin(latest_table, and_(latest.user_id == per_quiz.c.user_id,
                                              latest.quiz_id == per_quiz.c.quiz_id,
                                              latest.number == per_quiz.c.last_closed))
                .group_by(per_quiz.c.user_id).subquery("attempts"))

    required_done = func.coalesce(done.c.required_done, 0)
    started = func.coalesce(last.c.began, 0) == 1
    completed_all = required_done >= totals.required_courses if totals.required_courses else false()
    inactive = func.coalesce(last.c.at, people.c.created_at) < cutoff
    repeated_failures = func.coalesce(attempts.c.repeated, 0) > 0
    not_started_late = and_(not_(started), people.c.created_at < cutoff)
    stuck = and_(not_(completed_all), or_(inactive, repeated_failures, not_started_late))
    return (select(people.c.id, people.c.display_name, people.c.email, people.c.supervisor_id,
                   people.c.last_login_at,
                   required_done.label("required_done"),
                   func.coalesce(done.c.any_done, 0).label("any_done"),
                   func.coalesce(lessons.c.n, 0).label("lessons_done"),
                   last.c.at.label("last_activity"),
                   func.coalesce(attempts.c.failed, 0).label("failed_attempts"),
                   (func.coalesce(attempts.c.latest_failed, 0) > 0).label("latest_attempt_failed"),
                   started.label("started"),
                   # a literal keeps the column when there are no required courses (then nobody completed all)
                   (completed_all if totals.required_courses else literal(False)).label("completed_all"),
                   inactive.label("inactive"),
                   repeated_failures.label("repeated_failures"),
                   not_started_late.label("not_started_late"),
                   stuck.label("stuck"))
            .select_from(people)
            .outerjoin(done, done.c.user_id == people.c.id)
            .outerjoin(lessons, lessons.c.user_id == people.c.id)
            .outerjoin(last, last.c.user_id == people.c.id)
            .outerjoin(attempts, attempts.c.user_id == people.c.id)
            .subquery("facts"))


def _status_condition(facts: Subquery, status: StatusFilter) -> ColumnElement[bool] | None:
    c = facts.c
    return {
        StatusFilter.ALL: None,
        StatusFilter.STUCK: c.stuck.is_(True),
        StatusFilter.ACTIVE: and_(c.started.is_(True), c.completed_all.is_(False), c.stuck.is_(False)),
        StatusFilter.NOT_STARTED: c.started.is_(False),
        StatusFilter.COMPLETED: c.completed_all.is_(True),
    }[status]


def _order(facts: Subquery, sort: SortKey, descending: bool) -> list[Any]:
    c = facts.c
    name = func.lower(c.display_name)

    def way(col: Any) -> Any:
        return col.desc() if descending else col.asc()

    if sort is SortKey.NAME:
        return [way(name), way(c.id)]
    if sort is SortKey.PROGRESS:
        return [way(c.required_done), way(c.lessons_done), name, c.id]
    # Never active sorts as the least recent: first going up, last going down. (No NULLS FIRST/LAST: the
    # two databases disagree on the default, and a CASE says it the same way on both.)
    return [way(case((c.last_activity.is_(None), 0), else_=1)), way(c.last_activity), name, c.id]


def _row(r: Any, totals: Totals) -> TraineeProgress:
    return TraineeProgress(
        id=r.id, display_name=r.display_name, email=r.email,
        required_done=int(r.required_done), required_total=totals.required_courses,
        lessons_done=int(r.lessons_done), lessons_total=totals.required_lessons,
        last_activity=r.last_activity, failed_attempts=int(r.failed_attempts),
        latest_attempt_failed=bool(r.latest_attempt_failed), started=bool(r.started),
        completed_all=bool(r.completed_all), inactive=bool(r.inactive),
        repeated_failures=bool(r.repeated_failures), not_started_late=bool(r.not_started_late), stuck=bool(r.stuck))


def _supervised_by(supervisor: User, q: str = "") -> CTE:
    conditions = [User.supervisor_id == supervisor.id]
    if q:
        needle = q.strip().lower()  # autoescape: a % or _ typed in the search box is text, not a wildcard
        conditions.append(or_(User.email.contains(needle, autoescape=True),
                              func.lower(User.display_name).contains(needle, autoescape=True)))
    return _trainees(*conditions)


# ---------------------------------------------------------------- the supervisor's overview


def supervisor_overview(supervisor: User, *, q: str = "", status: StatusFilter | str = StatusFilter.ALL,
                        sort: SortKey | str = SortKey.NAME, descending: bool = False, page: int = 1,
                        per_page: int = 25, stale_days: int = STALE_DAYS, now: datetime | None = None
                        ) -> Page[TraineeProgress]:
    """The supervisor's active trainees with their progress, searched, filtered, sorted and paged.
    Two statements (program totals, the page with the total beside each row) whatever the number of trainees;
    a third (the count) only for a page past the end."""
    now, status, sort, page = now or utcnow(), StatusFilter(status), SortKey(sort), max(1, page)
    totals = program_totals()
    facts = _facts(_supervised_by(supervisor, q), totals, now=now, stale_days=stale_days)
    stmt = select(facts)
    condition = _status_condition(facts, status)
    if condition is not None:
        stmt = stmt.where(condition)
    rows = db.session.execute(stmt.add_columns(func.count().over().label("matching"))
                              .order_by(*_order(facts, sort, descending))
                              .limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        total = int(rows[0].matching)
    else:
        total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0 if page > 1 else 0
    return Page(items=[_row(r, totals) for r in rows], total=total, page=page, per_page=per_page)


def supervisor_summary(supervisor: User, *, stale_days: int = STALE_DAYS, now: datetime | None = None
                       ) -> dict[StatusFilter, int]:
    """How many of the supervisor's trainees fall under each filter (two statements)."""
    facts = _facts(_supervised_by(supervisor), program_totals(), now=now or utcnow(), stale_days=stale_days)
    columns = [func.count().label(StatusFilter.ALL.value)]
    for status in StatusFilter:
        condition = _status_condition(facts, status)
        if condition is not None:
            columns.append(func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(status.value))
    row = db.session.execute(select(*columns).select_from(facts)).one()._mapping
    return {status: int(row[status.value]) for status in StatusFilter}


# ---------------------------------------------------------------- administrators' reports


@dataclass(frozen=True)
class CourseReport:
    slug: str
    title: str
    required: bool
    started: int  # active trainees who opened the course (or completed it)
    completed: int
    average_quiz_score: float | None  # closed attempts at the course's quiz by active trainees, 0-100

    @property
    def completion_rate(self) -> float | None:
        """Completed as a percentage of those who started."""
        return round(100 * self.completed / self.started, 1) if self.started else None


def progress_by_course() -> list[CourseReport]:
    """Each active course in program order (one statement)."""
    trainee_ids = select(User.id).where(User.role == Role.TRAINEE, User.active.is_(True))
    pairs = union(
        select(CourseActivity.user_id.label("user_id"), CourseActivity.course_id.label("course_id"))
        .where(CourseActivity.user_id.in_(trainee_ids)),
        select(CourseCompletion.user_id, CourseCompletion.course_id).where(CourseCompletion.user_id.in_(trainee_ids)),
    ).subquery("pairs")
    started = (select(pairs.c.course_id, func.count().label("n")).group_by(pairs.c.course_id)
               .subquery("started"))
    completed = (select(CourseCompletion.course_id, func.count().label("n"))
                 .where(CourseCompletion.user_id.in_(trainee_ids))
                 .group_by(CourseCompletion.course_id).subquery("completed"))
    scores = (select(Quiz.slug, func.avg(Attempt.score).label("average"))
              .join(Attempt, Attempt.quiz_id == Quiz.id)
              .where(Attempt.status != AttemptStatus.IN_PROGRESS, Attempt.score.is_not(None),
                     Attempt.user_id.in_(trainee_ids))
              .group_by(Quiz.slug).subquery("scores"))
    rows = db.session.execute(
        select(Course.slug, Course.title, Course.required, func.coalesce(started.c.n, 0),
               func.coalesce(completed.c.n, 0), scores.c.average)
        .outerjoin(started, started.c.course_id == Course.id)
        .outerjoin(completed, completed.c.course_id == Course.id)
        .outerjoin(scores, scores.c.slug == Course.quiz_slug)
        .where(Course.active.is_(True)).order_by(Course.position, Course.slug))
    return [CourseReport(slug=slug, title=title, required=bool(required), started=int(n_started),
                         completed=int(n_completed),
                         average_quiz_score=round(float(avg), 1) if avg is not None else None)
            for slug, title, required, n_started, n_completed, avg in rows]


@dataclass(frozen=True)
class SupervisorReport:
    supervisor_id: int | None  # None: the trainees nobody supervises yet
    name: str
    email: str
    trainees: int
    course_completions: int  # courses (active ones) completed by their trainees, all together
    completed_all: int  # trainees who completed every required course
    stuck: int


def _population(stale_days: int, now: datetime | None) -> dict[int | None, dict[str, int]]:
    """Per supervisor (None: unassigned), their active trainees counted every way the supervisor report and the
    funnel need, from one pass over every trainee's facts (one statement after the program totals)."""
    facts = _facts(_trainees(), program_totals(), now=now or utcnow(), stale_days=stale_days, everyone=True)
    c = facts.c

    def how_many(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    measures = {"trainees": func.count(), "course_completions": func.coalesce(func.sum(c.any_done), 0),
                "logged_in": how_many(c.last_login_at.is_not(None)), "started": how_many(c.started.is_(True)),
                "completed_one": how_many(c.any_done > 0), "completed_all": how_many(c.completed_all.is_(True)),
                "stuck": how_many(c.stuck.is_(True))}
    rows = db.session.execute(select(c.supervisor_id, *(m.label(k) for k, m in measures.items()))
                              .group_by(c.supervisor_id))
    return {r.supervisor_id: {k: int(r._mapping[k]) for k in measures} for r in rows}


def progress_by_supervisor(*, stale_days: int = STALE_DAYS, now: datetime | None = None,
                           population: dict[int | None, dict[str, int]] | None = None) -> list[SupervisorReport]:
    """Each active supervisor (and anyone else trainees are assigned to), then the unassigned trainees if any.
    Three statements, or one when `population` (from `_population`) is given."""
    per_supervisor = population if population is not None else _population(stale_days, now)

    def figures(sup_id: int | None) -> tuple[int, int, int, int]:
        f = per_supervisor.get(sup_id)
        return (f["trainees"], f["course_completions"], f["completed_all"], f["stuck"]) if f else (0, 0, 0, 0)

    assigned = [i for i in per_supervisor if i is not None]
    supervisors = db.session.execute(
        select(User.id, User.display_name, User.email)
        .where(or_(and_(User.role == Role.SUPERVISOR, User.active.is_(True)), User.id.in_(assigned)))
        .order_by(func.lower(User.display_name), User.id)).all()
    result = [SupervisorReport(sid, name, email, *figures(sid)) for sid, name, email in supervisors]
    if None in per_supervisor:
        result.append(SupervisorReport(None, "Unassigned", "", *figures(None)))
    return result


@dataclass(frozen=True)
class FunnelStage:
    key: str
    label: str
    count: int
    of_trainees: float | None  # percent of active trainees
    of_previous: float | None  # percent of the stage before


FUNNEL = (
    ("trainees", "Active trainees"),
    ("logged_in", "Logged in at least once"),
    ("started", "Started a course"),
    ("completed_one", "Completed at least one course"),
    ("completed_all", "Completed all required courses"),
)


def completion_funnel(*, now: datetime | None = None,
                      population: dict[int | None, dict[str, int]] | None = None) -> list[FunnelStage]:
    """Active trainees and how far they got, stage by stage (two statements, or none given `population`)."""
    per_supervisor = population if population is not None else _population(STALE_DAYS, now)
    counts = [sum(f[key] for f in per_supervisor.values()) for key, _ in FUNNEL]
    stages = []
    for i, ((key, label), n) in enumerate(zip(FUNNEL, counts, strict=True)):
        previous = counts[i - 1] if i else None
        stages.append(FunnelStage(key, label, n, _percent(n, counts[0]),
                                  _percent(n, previous) if previous is not None else None))
    return stages


def admin_figures(*, now: datetime | None = None) -> dict[str, Any]:
    """The administrators' three reports for one page: the per-trainee facts are read once for the supervisor
    report and the funnel together."""
    population = _population(STALE_DAYS, now)
    return dict(courses=progress_by_course(), supervisors=progress_by_supervisor(population=population),
                funnel=completion_funnel(population=population))


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# ---------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvReport:
    title: str
    filename: str
    columns: tuple[tuple[str, str], ...]  # (header, what it means): shown on the reports page too
    rows: Callable[[], Iterable[tuple[Any, ...]]]


def _course_rows() -> Iterable[tuple[Any, ...]]:
    for r in progress_by_course():
        yield (r.slug, r.title, "yes" if r.required else "no", r.started, r.completed, r.completion_rate,
               r.average_quiz_score)


def _supervisor_rows() -> Iterable[tuple[Any, ...]]:
    for r in progress_by_supervisor():
        yield r.supervisor_id, r.name, r.email, r.trainees, r.course_completions, r.completed_all, r.stuck


def _funnel_rows() -> Iterable[tuple[Any, ...]]:
    for s in completion_funnel():
        yield s.key, s.label, s.count, s.of_trainees, s.of_previous


CSV_REPORTS: dict[str, CsvReport] = {
    "courses": CsvReport("Progress by course", "progress-by-course", (
        ("course", "The course's identifier (its folder name)."),
        ("title", "The course's title."),
        ("required", "yes if the certification program requires it, else no."),
        ("trainees_started", "Active trainees who opened a lesson of the course, tried its quiz, or completed it."),
        ("trainees_completed", "Active trainees who completed it."),
        ("completion_rate_percent", "trainees_completed as a percentage of trainees_started; empty if nobody "
                                    "started."),
        ("average_quiz_score", "Mean score (0-100) of the closed attempts of active trainees at the course's "
                               "quiz; empty without a quiz or attempts."),
    ), _course_rows),
    "supervisors": CsvReport("Progress by supervisor", "progress-by-supervisor", (
        ("supervisor_id", "The supervisor's account number; empty on the row of unassigned trainees."),
        ("supervisor", "The supervisor's display name, or Unassigned."),
        ("email", "The supervisor's e-mail address."),
        ("trainees", "Active trainees assigned to them."),
        ("course_completions", "Courses those trainees completed, counted together."),
        ("trainees_completed_all_required", "Those trainees who completed every required course."),
        ("trainees_stuck", f"Those trainees who are stuck: no activity for {STALE_DAYS} days, two failed attempts "
                           f"at a quiz without a pass, or not started {STALE_DAYS} days after joining."),
    ), _supervisor_rows),
    "funnel": CsvReport("Completion funnel", "completion-funnel", (
        ("stage", "trainees, logged_in, started, completed_one, completed_all."),
        ("description", "The stage in words."),
        ("trainees", "Active trainees who reached the stage."),
        ("percent_of_active_trainees", "trainees as a percentage of the first stage."),
        ("percent_of_previous_stage", "trainees as a percentage of the stage before; empty on the first."),
    ), _funnel_rows),
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Empty for no value; text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def report_csv(name: str) -> str:
    """The named report (a key of CSV_REPORTS) as CSV text with a header row. KeyError for an unknown name."""
    report = CSV_REPORTS[name]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for header, _ in report.columns])
    for row in report.rows():
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()

