"""Progress reports: the supervisor's overview (numbers, stuck flags at an injected moment, filters, sorting,
paging), the administrators' reports and their CSV, and a fixed number of SQL statements whatever the number
of trainees."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.db import db, utcnow
from lms.learning import services as learning
from lms.learning.models import Course, CourseActivity, Lesson
from lms.quizzes import services as quizzes
from lms.quizzes.models import Attempt
from lms.records import reports
from lms.records.reports import SortKey, StatusFilter
from tests import factories
from tests.content_tree import CORRECT, add_quiz, load_into, make_tree

DAY = timedelta(days=1)


@pytest.fixture
def content(app, app_ctx, tmp_path):
    """alpha (two lessons and a quiz, pass mark 75, 5 minutes between attempts) and beta (two lessons, after
    alpha): both required."""
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    load_into(app, root)
    return root


def lessons(course: str) -> list[Lesson]:
    return list(db.session.scalars(select(Lesson).join(Course).where(Course.slug == course)
                                   .order_by(Lesson.position)))


def read(user: User, course: str, how_many: int | None = None) -> None:
    for lesson in lessons(course)[:how_many]:
        learning.complete_lesson(user, lesson)
    db.session.commit()


def take_quiz(user: User, at: datetime, *, passing: bool) -> Attempt:
    quiz = quizzes.get_quiz("alpha")
    attempt, _ = quizzes.start_attempt(user, quiz, now=at)
    quizzes.submit_attempt(attempt, user, CORRECT if passing else {}, now=at + timedelta(minutes=1))
    db.session.commit()
    return attempt


@dataclass
class Scenario:
    supervisor: User
    ann: User  # alpha done (failed the quiz once, then passed)
    ben: User  # nothing at all, joined just now
    cat: User  # one lesson of alpha, then failed the quiz twice
    dan: User  # both required courses done
    gus: User  # one attempt, still open; a login the day before
    t0: datetime


@pytest.fixture
def scenario(content) -> Scenario:
    sup = factories.make_user(Role.SUPERVISOR, name="Sue Supervisor")
    other = factories.make_user(Role.SUPERVISOR, name="Oli Other")
    make = lambda name, s=sup: factories.make_user(Role.TRAINEE, name=name, supervisor=s)  # noqa: E731
    ann, ben, cat, dan, gus = (make(n) for n in ("Ann", "Ben", "Cat", "Dan", "Gus"))
    factories.make_user(Role.TRAINEE, name="Fay Elsewhere", supervisor=other)
    gone = make("Eve Gone")
    read(gone, "alpha")
    accounts.deactivate_user(gone, actor=None)
    db.session.commit()

    t0 = utcnow() - timedelta(hours=3)
    read(ann, "alpha")
    take_quiz(ann, t0, passing=False)
    take_quiz(ann, t0 + timedelta(minutes=10), passing=True)
    read(cat, "alpha", 1)
    take_quiz(cat, t0, passing=False)
    take_quiz(cat, t0 + timedelta(minutes=10), passing=False)
    read(dan, "alpha")
    take_quiz(dan, t0, passing=True)
    read(dan, "beta")
    quizzes.start_attempt(gus, quizzes.get_quiz("alpha"), now=t0)
    gus.last_login_at = t0 - DAY
    db.session.commit()
    return Scenario(sup, ann, ben, cat, dan, gus, t0)


def overview(s: Scenario, **kw) -> dict[str, reports.TraineeProgress]:
    page = reports.supervisor_overview(s.supervisor, per_page=50, **kw)
    return {row.display_name: row for row in page.items}


def test_program_totals(scenario):
    assert reports.program_totals() == reports.Totals(required_courses=2, required_lessons=4)


def test_overview_numbers(scenario):
    rows = overview(scenario)
    assert sorted(rows) == ["Ann", "Ben", "Cat", "Dan", "Gus"]  # not Fay (another supervisor), not Eve (gone)
    facts = {name: (r.required_done, r.required_total, r.lessons_done, r.lessons_total, r.failed_attempts,
                    r.latest_attempt_failed, r.started, r.completed_all, r.repeated_failures)
             for name, r in rows.items()}
    assert facts == {
        "Ann": (1, 2, 2, 4, 1, False, True, False, False),
        "Ben": (0, 2, 0, 4, 0, False, False, False, False),
        "Cat": (0, 2, 1, 4, 2, True, True, False, True),
        "Dan": (2, 2, 4, 4, 0, False, True, True, False),
        "Gus": (0, 2, 0, 4, 0, False, True, False, False),  # an open attempt is neither passed nor failed
    }
    assert rows["Ann"].percent == 50 and rows["Dan"].percent == 100
    assert [r.status for r in rows.values()] == [StatusFilter.ACTIVE, StatusFilter.NOT_STARTED, StatusFilter.STUCK,
                                                 StatusFilter.COMPLETED, StatusFilter.ACTIVE]


def test_last_activity_is_the_latest_of_lessons_attempts_and_logins(scenario):
    rows = overview(scenario)
    assert rows["Ben"].last_activity is None
    assert rows["Gus"].last_activity == scenario.t0  # the attempt, later than the login the day before
    cat_seen = db.session.scalar(select(CourseActivity.last_seen_at).where(CourseActivity.user_id == scenario.cat.id))
    assert rows["Cat"].last_activity == cat_seen  # the lesson, read after the attempts of three hours ago
    scenario.ben.last_login_at = scenario.t0 + timedelta(minutes=30)
    db.session.commit()
    assert overview(scenario)["Ben"].last_activity == scenario.t0 + timedelta(minutes=30)


def test_stuck_now_and_two_weeks_later(scenario):
    now = utcnow()
    rows = overview(scenario, now=now)
    assert {n for n, r in rows.items() if r.stuck} == {"Cat"}
    assert rows["Cat"].stuck_reasons() == ["Failed the same quiz twice or more without passing it"]
    assert rows["Ben"].stuck_reasons() == []  # joined just now: not yet late

    later = overview(scenario, now=now + timedelta(days=15))
    assert {n for n, r in later.items() if r.stuck} == {"Ann", "Ben", "Cat", "Gus"}  # Dan has finished
    assert later["Ben"].stuck_reasons() == ["No activity for 14 days or more", "Not started 14 days after joining"]
    assert later["Ann"].stuck_reasons() == ["No activity for 14 days or more"]
    assert not later["Dan"].stuck
    # the threshold is a parameter
    assert {n for n, r in overview(scenario, now=now + timedelta(days=15), stale_days=30).items() if r.stuck} == {
        "Cat"}


def test_not_started_long_after_joining_is_stuck_even_after_a_recent_login(scenario):
    ben = scenario.ben
    ben.created_at = utcnow() - 20 * DAY
    ben.last_login_at = utcnow() - DAY
    db.session.commit()
    row = overview(scenario)["Ben"]
    assert row.stuck and row.stuck_reasons() == ["Not started 14 days after joining"]


def test_a_pass_after_failures_is_not_stuck(scenario):
    take_quiz(scenario.cat, scenario.t0 + timedelta(minutes=20), passing=True)
    row = overview(scenario)["Cat"]
    assert (row.failed_attempts, row.repeated_failures, row.latest_attempt_failed, row.stuck) == (2, False, False,
                                                                                                   False)


@pytest.mark.parametrize("status, names", [
    ("all", ["Ann", "Ben", "Cat", "Dan", "Gus"]),
    ("stuck", ["Cat"]),
    ("active", ["Ann", "Gus"]),
    ("not_started", ["Ben"]),
    ("completed", ["Dan"]),
])
def test_filters(scenario, status, names):
    assert list(overview(scenario, status=status)) == names


def test_summary_counts_each_filter(scenario):
    assert reports.supervisor_summary(scenario.supervisor) == {
        StatusFilter.ALL: 5, StatusFilter.STUCK: 1, StatusFilter.ACTIVE: 2, StatusFilter.NOT_STARTED: 1,
        StatusFilter.COMPLETED: 1}


def test_search_by_name_or_email(scenario):
    assert list(overview(scenario, q="ann")) == ["Ann"]
    assert list(overview(scenario, q=scenario.dan.email.upper())) == ["Dan"]
    assert list(overview(scenario, q="%")) == []  # a wildcard typed in the box is text


@pytest.mark.parametrize("sort, descending, names", [
    (SortKey.NAME, False, ["Ann", "Ben", "Cat", "Dan", "Gus"]),
    (SortKey.NAME, True, ["Gus", "Dan", "Cat", "Ben", "Ann"]),
    (SortKey.PROGRESS, True, ["Dan", "Ann", "Cat", "Ben", "Gus"]),
    (SortKey.PROGRESS, False, ["Ben", "Gus", "Cat", "Ann", "Dan"]),
    # never active first going up, last going down; then Gus's attempt of three hours ago, then the lessons
    # read in the order the scenario read them
    (SortKey.ACTIVITY, False, ["Ben", "Gus", "Ann", "Cat", "Dan"]),
    (SortKey.ACTIVITY, True, ["Dan", "Cat", "Ann", "Gus", "Ben"]),
])
def test_sorting(scenario, sort, descending, names):
    assert list(overview(scenario, sort=sort, descending=descending)) == names


def test_paging(scenario):
    first = reports.supervisor_overview(scenario.supervisor, per_page=2)
    third = reports.supervisor_overview(scenario.supervisor, per_page=2, page=3)
    assert (first.total, first.pages, [r.display_name for r in first.items]) == (5, 3, ["Ann", "Ben"])
    assert [r.display_name for r in third.items] == ["Gus"] and not third.has_next
    assert third.total == 5  # counted beside the rows of the last page too


def test_a_page_past_the_end_still_knows_how_many_there_are(scenario):
    beyond = reports.supervisor_overview(scenario.supervisor, per_page=2, page=9)
    assert (beyond.items, beyond.total, beyond.pages) == ([], 5, 3)
    stuck_beyond = reports.supervisor_overview(scenario.supervisor, status="stuck", per_page=1, page=50)
    assert stuck_beyond.total == reports.supervisor_summary(scenario.supervisor)[StatusFilter.STUCK]


def test_a_supervisor_without_trainees_and_no_content(app_ctx):
    sup = factories.make_user(Role.SUPERVISOR)
    page = reports.supervisor_overview(sup)
    assert (page.total, page.items) == (0, [])
    trainee = factories.make_user(Role.TRAINEE, supervisor=sup)
    row = reports.supervisor_overview(sup).items[0]
    assert (row.id, row.required_total, row.completed_all, row.percent) == (trainee.id, 0, False, 0)


# ---------------------------------------------------------------- administrators' reports


def test_progress_by_course(scenario):
    by_slug = {r.slug: r for r in reports.progress_by_course()}
    assert list(by_slug) == ["alpha", "beta"]
    alpha, beta = by_slug["alpha"], by_slug["beta"]
    # started alpha: Ann, Cat, Dan, and Gus, who only tried the quiz (Eve is deactivated)
    assert (alpha.started, alpha.completed, alpha.completion_rate) == (4, 2, 50.0)
    # closed attempts of active trainees: Ann 0 and 100, Cat 0 and 0, Dan 100
    assert alpha.average_quiz_score == 40.0
    assert (beta.started, beta.completed, beta.completion_rate, beta.average_quiz_score) == (1, 1, 100.0, None)


def test_progress_by_supervisor(scenario):
    rows = reports.progress_by_supervisor(now=utcnow())
    by_name = {r.name: r for r in rows}
    sue = by_name["Sue Supervisor"]
    assert (sue.supervisor_id, sue.trainees, sue.course_completions, sue.completed_all, sue.stuck) == (
        scenario.supervisor.id, 5, 3, 1, 1)
    oli = by_name["Oli Other"]
    assert (oli.trainees, oli.course_completions, oli.completed_all, oli.stuck) == (1, 0, 0, 0)
    assert "Unassigned" not in by_name
    factories.make_user(Role.TRAINEE, name="Nobody's")
    assert reports.progress_by_supervisor()[-1] == reports.SupervisorReport(None, "Unassigned", "", 1, 0, 0, 0)


def test_completion_funnel(scenario):
    for person in (scenario.ann, scenario.dan):
        person.last_login_at = utcnow()
    factories.make_user(Role.TRAINEE, name="Nobody's")
    db.session.commit()
    stages = {s.key: (s.count, s.of_trainees, s.of_previous) for s in reports.completion_funnel()}
    # 7 active trainees (5 of Sue's, Fay, Nobody's); logged in: Ann, Dan, Gus; started: Ann, Cat, Dan, Gus
    assert stages == {
        "trainees": (7, 100.0, None),
        "logged_in": (3, 42.9, 42.9),
        "started": (4, 57.1, 133.3),  # Cat started without a recorded login here: stages count, not nest
        "completed_one": (2, 28.6, 50.0),
        "completed_all": (1, 14.3, 50.0),
    }


def test_csv_reports_have_their_documented_headers(scenario):
    for name, report in reports.CSV_REPORTS.items():
        rows = list(csv.reader(io.StringIO(reports.report_csv(name))))
        assert rows[0] == [header for header, _ in report.columns], name
        assert all(len(row) == len(rows[0]) for row in rows)
    courses = list(csv.DictReader(io.StringIO(reports.report_csv("courses"))))
    assert courses[0] == {"course": "alpha", "title": "Course alpha", "required": "yes", "trainees_started": "4",
                          "trainees_completed": "2", "completion_rate_percent": "50.0", "average_quiz_score": "40.0"}
    assert courses[1]["average_quiz_score"] == ""  # beta has no quiz
    funnel = list(csv.DictReader(io.StringIO(reports.report_csv("funnel"))))
    assert [r["stage"] for r in funnel] == ["trainees", "logged_in", "started", "completed_one", "completed_all"]
    with pytest.raises(KeyError):
        reports.report_csv("nope")


def test_csv_cells_that_look_like_formulas_are_quoted(app_ctx):
    admin = factories.make_user(Role.ADMIN)
    accounts.create_user(actor=admin, email="evil@example.org", display_name="=HYPERLINK(\"x\")",
                         role=Role.SUPERVISOR, password=factories.PASSWORD)
    db.session.commit()
    rows = list(csv.DictReader(io.StringIO(reports.report_csv("supervisors"))))
    assert rows[0]["supervisor"] == "'=HYPERLINK(\"x\")"


# ---------------------------------------------------------------- no per-row queries


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _busy_trainees(sup: User, n: int) -> None:
    alpha = lessons("alpha")
    for _ in range(n):
        trainee = factories.make_user(Role.TRAINEE, supervisor=sup)
        learning.complete_lesson(trainee, alpha[0])
        take_quiz(trainee, utcnow() - timedelta(hours=1), passing=False)
    db.session.commit()


def _statement_counts(sup: User) -> dict[str, int]:
    db.session.expire_all()
    db.session.refresh(sup)  # loading the supervisor is the caller's business, not the report's
    calls = {
        "overview": lambda: reports.supervisor_overview(sup, per_page=100, status="all"),
        "overview_stuck_by_activity": lambda: reports.supervisor_overview(sup, per_page=100, status="stuck",
                                                                          sort="activity", descending=True),
        "summary": lambda: reports.supervisor_summary(sup),
        "by_course": reports.progress_by_course,
        "by_supervisor": reports.progress_by_supervisor,
        "funnel": reports.completion_funnel,
        "csv": lambda: [reports.report_csv(name) for name in reports.CSV_REPORTS],
    }
    counts = {}
    for name, call in calls.items():
        with statements() as seen:
            call()
        counts[name] = len(seen)
    return counts


def test_the_number_of_statements_does_not_grow_with_the_trainees(content):
    sup = factories.make_user(Role.SUPERVISOR)
    _busy_trainees(sup, 5)
    with_5 = _statement_counts(sup)
    assert len(reports.supervisor_overview(sup, per_page=100).items) == 5
    _busy_trainees(sup, 55)
    with_60 = _statement_counts(sup)
    assert len(reports.supervisor_overview(sup, per_page=100).items) == 60
    assert with_60 == with_5
    assert with_5["overview"] == 2  # program totals, the page with the count beside each row
