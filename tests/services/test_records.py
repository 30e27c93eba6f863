"""The transcript through the services: what it shows after lessons and quiz attempts, a completion recorded
once and kept with its version when the content changes, retired courses, queries, and who may see it."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from lms.accounts.models import Role
from lms.content import load
from lms.content_sync import sync_content
from lms.db import db, utcnow
from lms.learning import services as learning
from lms.learning.models import CourseCompletion, LearningEvent, Lesson, Verb
from lms.learning.services import CourseState
from lms.quizzes import services as quizzes
from lms.quizzes.models import AttemptStatus
from lms.records import services
from tests import factories
from tests.content_tree import CORRECT, add_quiz, make_tree, write

WRONG_ONE = {**CORRECT, "pick-a": "b"}  # 75%: just passes (pass mark 75, the critical question right)
CRITICAL_MISS = {**CORRECT, "safe": False}

OPTIONAL_COURSE = """\
title: Course gamma
summary: An optional extra.
order: 9
required: false
estimated_minutes: 10
objectives:
  - Know more.
lessons:
  - 01-only.md
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    return root


def sync(tree: Path) -> None:
    sync_content(load(tree / "courses", tree / "quizzes"), actor=None)
    db.session.commit()
    db.session.expire_all()


@pytest.fixture
def loaded(app_ctx, tree):
    sync(tree)
    return tree


@pytest.fixture
def trainee(loaded):
    supervisor = factories.make_user(Role.SUPERVISOR, name="Sam Supervisor")
    return factories.make_user(Role.TRAINEE, name="Tess Trainee", supervisor=supervisor)


def lessons_of(slug: str) -> list[Lesson]:
    course = learning.get_course(slug)
    return list(db.session.scalars(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)))


def finish_lessons(user, slug: str) -> None:
    for lesson in lessons_of(slug):
        learning.complete_lesson(user, lesson)
    db.session.commit()


def take_quiz(user, answers: dict, *, at) -> None:
    attempt, _ = quizzes.start_attempt(user, quizzes.get_quiz("alpha"), now=at)
    quizzes.submit_attempt(attempt, user, {q: answers[q] for q in attempt.question_ids}, now=at + timedelta(minutes=1))
    db.session.commit()


def line(t: services.Transcript, slug: str) -> services.CourseLine:
    return next(c for c in t.courses if c.slug == slug)


def test_a_fresh_transcript_lists_the_program_in_order(trainee):
    t = services.transcript(trainee)
    assert (t.name, t.supervisor_name, t.program_title, t.program_version) == (
        "Tess Trainee", "Sam Supervisor", "Program", "1")
    assert [c.slug for c in t.required] == ["alpha", "beta"] and t.other == ()
    alpha, beta = t.required
    assert alpha.state is CourseState.NOT_STARTED and beta.state is CourseState.LOCKED
    assert (alpha.lessons_done, alpha.lessons_total, alpha.quiz_slug, alpha.quiz_title) == (0, 2, "alpha", "Alpha quiz")
    assert alpha.completed_at is None and alpha.completed_version is None and not alpha.version_changed
    assert beta.quiz_slug is None and beta.attempts == ()
    assert t.totals == services.Totals(required_done=0, required_total=2, courses_done=0, lessons_done=0,
                                       lessons_total=4, attempts=0, attempts_passed=0)
    assert t.attempts == []


def test_lessons_and_attempts_appear_with_dates_scores_and_versions(trainee):
    start = utcnow() - timedelta(hours=2)
    learning.complete_lesson(trainee, lessons_of("alpha")[0])
    db.session.commit()
    t = services.transcript(trainee)
    assert line(t, "alpha").state is CourseState.IN_PROGRESS and line(t, "alpha").lessons_done == 1

    finish_lessons(trainee, "alpha")
    take_quiz(trainee, CRITICAL_MISS, at=start)
    take_quiz(trainee, CORRECT, at=start + timedelta(minutes=30))  # after the 5-minute cooldown
    quiz = quizzes.get_quiz("alpha")
    course = learning.get_course("alpha")

    t = services.transcript(trainee)
    alpha, beta = t.required
    assert alpha.state is CourseState.DONE and alpha.complete
    assert (alpha.lessons_done, alpha.lessons_total) == (2, 2)
    assert alpha.score == 100.0 and alpha.best_score == 100.0
    assert alpha.completed_version == course.version and not alpha.version_changed
    assert alpha.completed_at is not None
    first, second = alpha.attempts
    assert (first.number, first.status, first.passed, first.critical_failed, first.result_label) == (
        1, AttemptStatus.SUBMITTED, False, True, "Failed: critical question")
    assert (second.number, second.score, second.passed, second.result_label) == (2, 100.0, True, "Passed")
    assert first.started_at == start and second.closed_at == start + timedelta(minutes=31)
    assert {a.quiz_version for a in alpha.attempts} == {quiz.version} and not second.version_changed
    assert beta.state is CourseState.NOT_STARTED  # unlocked by alpha
    assert t.totals.required_done == 1 and t.totals.courses_done == 1 and t.totals.lessons_done == 2
    assert (t.totals.attempts, t.totals.attempts_passed) == (2, 1)
    assert [a.number for a in t.attempts] == [1, 2]


def test_the_completion_is_recorded_once_and_the_transcript_shows_that_record(trainee):
    start = utcnow() - timedelta(hours=2)
    finish_lessons(trainee, "alpha")
    take_quiz(trainee, WRONG_ONE, at=start)  # passes with 75%: the course completes now
    take_quiz(trainee, CORRECT, at=start + timedelta(minutes=30))  # a better score later changes nothing
    course = learning.get_course("alpha")
    assert learning.complete_course_if_due(trainee, course) is not None  # asking again records nothing new
    db.session.commit()

    completions = db.session.scalars(select(CourseCompletion).where(CourseCompletion.user_id == trainee.id)).all()
    assert len(completions) == 1
    events = db.session.scalar(select(func.count()).select_from(LearningEvent).where(
        LearningEvent.user_id == trainee.id, LearningEvent.verb == Verb.COMPLETED,
        LearningEvent.object_type == "course"))
    assert events == 1

    alpha = services.transcript(trainee).required[0]
    assert alpha.completed_at == completions[0].completed_at
    assert alpha.score == 75.0 and alpha.best_score == 100.0
    assert [a.passed for a in alpha.attempts] == [True, True]


def test_a_content_change_after_completion_keeps_the_old_version_visible(trainee, tree):
    finish_lessons(trainee, "alpha")
    take_quiz(trainee, CORRECT, at=utcnow() - timedelta(hours=1))
    old_course, old_quiz = learning.get_course("alpha").version, quizzes.get_quiz("alpha").version

    lesson = tree / "courses/alpha/lessons/01-first.md"
    lesson.write_text(lesson.read_text() + "\nA new paragraph.\n")
    quiz_file = tree / "quizzes/alpha.yaml"
    quiz_file.write_text(quiz_file.read_text().replace("text: Pick A.", "text: Pick A, please."))
    sync(tree)
    new_course, new_quiz = learning.get_course("alpha").version, quizzes.get_quiz("alpha").version
    assert new_course != old_course and new_quiz != old_quiz

    alpha = services.transcript(trainee).required[0]
    assert alpha.state is CourseState.DONE and alpha.complete
    assert (alpha.completed_version, alpha.current_version) == (old_course, new_course)
    assert alpha.version_changed
    (attempt,) = alpha.attempts
    assert (attempt.quiz_version, attempt.current_quiz_version) == (old_quiz, new_quiz)
    assert attempt.version_changed


def test_a_retired_course_keeps_its_place_among_the_other_courses(trainee, tree):
    write(tree / "courses/gamma/course.yaml", OPTIONAL_COURSE)
    write(tree / "courses/gamma/lessons/01-only.md", "---\ntitle: Gamma only\nminutes: 5\n---\nText.\n")
    sync(tree)
    t = services.transcript(trainee)
    assert [c.slug for c in t.other] == ["gamma"] and not t.other[0].retired
    finish_lessons(trainee, "gamma")

    shutil.rmtree(tree / "courses/gamma")
    sync(tree)
    t = services.transcript(trainee)
    (gamma,) = t.other
    assert gamma.retired and gamma.state is CourseState.DONE and gamma.completed_at is not None
    assert t.totals.courses_done == 1 and t.totals.required_done == 0


def test_the_transcript_takes_a_fixed_number_of_queries(trainee, tree):
    def count() -> int:
        db.session.expire_all()
        statements: list[str] = []

        def listener(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            t = services.transcript(trainee)
            _ = [(c.state, c.best_score, c.version_changed, [a.result_label for a in c.attempts]) for c in t.courses]
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    empty = count()
    finish_lessons(trainee, "alpha")
    start = utcnow() - timedelta(hours=3)
    for i, answers in enumerate((CRITICAL_MISS, CRITICAL_MISS, CORRECT)):
        take_quiz(trainee, answers, at=start + timedelta(minutes=30 * i))
    finish_lessons(trainee, "beta")  # open once alpha is complete
    busy = count()
    assert services.transcript(trainee).totals.courses_done == 2
    # courses, the four of progress_for, attempts, quiz titles, the program, the supervisor; and here one more to
    # reload the trainee expired above
    assert empty == busy <= 10, (empty, busy)


def test_who_may_view_a_record(app_ctx):
    people = factories.make_people()
    trainee = people.trainee
    assert services.may_view_record(trainee, trainee)
    assert services.may_view_record(people.supervisor, trainee)
    assert services.may_view_record(people.admin, trainee)
    assert not services.may_view_record(people.other_supervisor, trainee)
    assert not services.may_view_record(people.other_trainee, trainee)
