"""Quiz attempts through the services: drawing, saving, deadlines, grading, limits, review, completion."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.accounts.models import Role
from lms.db import db, utcnow
from lms.errors import Conflict, PermissionDenied, ValidationFailed
from lms.learning import services as learning
from lms.learning.models import CourseCompletion, LearningEvent, Lesson
from lms.quizzes import services
from lms.quizzes.models import Attempt, AttemptStatus
from tests import factories
from tests.content_tree import CORRECT, QUIZ, add_quiz, load_into, make_tree


@pytest.fixture
def quiz(app, app_ctx, tmp_path):
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    load_into(app, root)
    return services.get_quiz("alpha")


@pytest.fixture
def trainee(app_ctx):
    return factories.make_user(Role.TRAINEE)


def start(trainee, quiz, **kw):
    attempt, new = services.start_attempt(trainee, quiz, **kw)
    db.session.commit()
    return attempt, new


def test_start_draws_and_stores_questions_order_and_deadline(quiz, trainee):
    now = utcnow()
    attempt, new = start(trainee, quiz, now=now, rng=random.Random(1))
    assert new and attempt.number == 1 and attempt.status is AttemptStatus.IN_PROGRESS
    assert sorted(attempt.question_ids) == sorted(CORRECT)
    assert set(attempt.option_orders) == {"pick-a", "both"}  # true/false and short have nothing to shuffle
    assert sorted(attempt.option_orders["both"]) == ["a", "b", "c"]
    assert attempt.deadline == now + timedelta(minutes=10)
    assert attempt.quiz_version.version == quiz.version
    # starting again returns the open attempt
    again, new = start(trainee, quiz)
    assert (again.id, new) == (attempt.id, False)


def test_the_draw_is_reproducible_from_what_is_stored(quiz, trainee):
    attempt, _ = start(trainee, quiz, rng=random.Random(7))
    shown = [services.present_question(attempt, q) for q in attempt.questions()]
    db.session.expire_all()
    again = db.session.get(Attempt, attempt.id)
    assert [services.present_question(again, q) for q in again.questions()] == shown


def test_accommodation_factor_lengthens_the_deadline(quiz, trainee, app_ctx):
    admin = factories.make_user(Role.ADMIN)
    services.set_accommodation(trainee, 1.5, actor=admin)
    now = utcnow()
    attempt, _ = start(trainee, quiz, now=now)
    assert attempt.deadline == now + timedelta(minutes=15)
    with pytest.raises(ValidationFailed):
        services.set_accommodation(trainee, 5, actor=admin)
    with pytest.raises(PermissionDenied):
        services.set_accommodation(trainee, 2, actor=factories.make_user(Role.SUPERVISOR))


def test_full_marks_pass_and_complete_the_course_when_lessons_are_done(quiz, trainee):
    for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == learning.get_course("alpha").id)):
        learning.complete_lesson(trainee, lesson)
    assert learning.progress_in(trainee, learning.get_course("alpha")).complete is False  # quiz still due
    attempt, _ = start(trainee, quiz)
    services.save_answers(attempt, trainee, {"pick-a": "a", "safe": "true"})
    attempt, graded = services.submit_attempt(attempt, trainee, {"both": ["a", "b"], "name-it": " NALOXONE. "})
    db.session.commit()
    assert graded and attempt.status is AttemptStatus.SUBMITTED
    assert (attempt.score, attempt.passed, attempt.critical_failed) == (100.0, True, False)
    completion = db.session.scalar(select(CourseCompletion).where(CourseCompletion.user_id == trainee.id))
    assert completion.score == 100.0 and completion.attempt_id == attempt.id
    verbs = db.session.scalars(select(LearningEvent.verb).where(LearningEvent.object_type.in_(("quiz", "course")))
                               .order_by(LearningEvent.id)).all()
    assert [v.value for v in verbs] == ["attempted", "passed", "completed"]


def test_passing_first_then_finishing_lessons_completes_the_course(quiz, trainee):
    attempt, _ = start(trainee, quiz)
    services.submit_attempt(attempt, trainee, CORRECT)
    course = learning.get_course("alpha")
    assert not learning.progress_in(trainee, course).complete
    for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id)):
        learning.complete_lesson(trainee, lesson)
    assert learning.progress_in(trainee, course).complete


def test_critical_question_wrong_fails_whatever_the_score(quiz, trainee):
    attempt, _ = start(trainee, quiz)
    services.submit_attempt(attempt, trainee, {**CORRECT, "safe": "false"})
    assert attempt.score == 75.0 and attempt.passed is False and attempt.critical_failed is True


def test_negative_weights_and_floor(quiz, trainee):
    attempt, _ = start(trainee, quiz)
    services.submit_attempt(attempt, trainee, {**CORRECT, "both": ["a", "c"]})
    assert attempt.results["both"] == 0.0 and attempt.score == 75.0 and attempt.passed is True


def test_submit_twice_gives_one_grade(quiz, trainee):
    attempt, _ = start(trainee, quiz)
    _, first = services.submit_attempt(attempt, trainee, CORRECT)
    _, second = services.submit_attempt(attempt, trainee, {"pick-a": "b"})
    db.session.commit()
    assert (first, second) == (True, False) and attempt.score == 100.0
    graded = db.session.scalar(select(func.count()).select_from(LearningEvent).where(LearningEvent.verb.in_(
        ("passed", "failed"))))
    assert graded == 1


def test_answers_after_the_deadline_and_grace_do_not_count(quiz, trainee):
    now = utcnow()
    attempt, _ = start(trainee, quiz, now=now)
    services.save_answers(attempt, trainee, {"pick-a": "a"}, now=now + timedelta(minutes=5))
    # within the grace period: still saved
    services.save_answers(attempt, trainee, {"safe": True}, now=attempt.deadline + timedelta(seconds=10))
    late = attempt.deadline + services.GRACE + timedelta(seconds=1)
    with pytest.raises(Conflict):
        services.save_answers(attempt, trainee, {"name-it": "naloxone"}, now=late)
    attempt, graded = services.submit_attempt(attempt, trainee, {"both": ["a", "b"]}, now=late)
    assert graded is False and attempt.status is AttemptStatus.TIMED_OUT
    assert attempt.results == {"pick-a": 1.0, "safe": 1.0, "both": 0.0, "name-it": 0.0}
    assert attempt.score == 50.0


def test_open_attempt_past_its_deadline_is_closed_by_the_server(quiz, trainee):
    now = utcnow()
    attempt, _ = start(trainee, quiz, now=now)
    services.save_answers(attempt, trainee, CORRECT, now=now)
    db.session.commit()
    assert services.close_expired_attempts(now=now + timedelta(minutes=5)) == 0
    assert services.close_expired_attempts(now=now + timedelta(minutes=11)) == 1
    assert attempt.status is AttemptStatus.TIMED_OUT and attempt.passed is True
    assert attempt.closed_at == attempt.deadline + services.GRACE


def test_cooldown_and_attempt_limit_hold(quiz, trainee):
    now = utcnow()
    for n in range(3):
        attempt, _ = start(trainee, quiz, now=now)
        services.submit_attempt(attempt, trainee, {}, now=now)
        db.session.commit()
        if n < 2:
            with pytest.raises(Conflict, match="another attempt in about 1 minute"):
                services.start_attempt(trainee, quiz, now=now + timedelta(minutes=4))
        now += timedelta(minutes=6)
    with pytest.raises(Conflict, match="used all 3 attempts"):
        services.start_attempt(trainee, quiz, now=now)


def test_only_the_owner_answers_and_others_may_only_look_if_allowed(quiz, trainee):
    attempt, _ = start(trainee, quiz)
    stranger = factories.make_user(Role.TRAINEE)
    with pytest.raises(PermissionDenied):
        services.save_answers(attempt, stranger, {"pick-a": "a"})
    with pytest.raises(PermissionDenied):
        services.submit_attempt(attempt, stranger, {})
    from lms.errors import NotFound

    with pytest.raises(NotFound):
        services.get_attempt(attempt.id, stranger)
    with pytest.raises(NotFound):
        services.get_attempt(attempt.id, factories.make_user(Role.SUPERVISOR))
    assert services.get_attempt(attempt.id, factories.make_user(Role.ADMIN)) is attempt


def test_bad_answers_are_refused_with_the_question_named(quiz, trainee):
    attempt, _ = start(trainee, quiz)
    with pytest.raises(ValidationFailed) as exc:
        services.save_answers(attempt, trainee, {"pick-a": "z", "nope": "a"})
    assert set(exc.value.errors) == {"pick-a", "nope"}


def test_review_policy_hides_keys_until_allowed(app, app_ctx, tmp_path, trainee):
    root = make_tree(tmp_path / "content2")
    add_quiz(root, text=QUIZ.replace("when: after_submit", "when: after_pass"))
    load_into(app, root)
    quiz = services.get_quiz("alpha")
    attempt, _ = start(trainee, quiz)
    assert services.review_policy(attempt, trainee).show_answers is False  # open
    services.submit_attempt(attempt, trainee, {"pick-a": "b"})
    policy = services.review_policy(attempt, trainee)
    assert (policy.show_wrong, policy.show_answers) == (False, False) and "passed" in policy.waiting_for
    q = attempt.questions()[0]
    assert services.review_question(attempt, q, policy) == {}
    admin = factories.make_user(Role.ADMIN)
    assert services.review_policy(attempt, admin).show_answers is True


def test_two_starts_meet_the_one_open_attempt_constraint(quiz, trainee):
    """The partial unique index: a second open attempt for the same person and quiz cannot be inserted."""
    attempt, _ = start(trainee, quiz)
    twin = Attempt(user_id=trainee.id, quiz_id=quiz.id, quiz_version_id=attempt.quiz_version_id, number=2,
                   status=AttemptStatus.IN_PROGRESS, question_ids=[], option_orders={})
    from sqlalchemy.exc import IntegrityError

    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_trying_the_quiz_puts_the_course_under_way(quiz, trainee):
    course = learning.get_course("alpha")
    assert learning.progress_in(trainee, course).state.value == "not_started"
    attempt, _ = start(trainee, quiz)
    services.submit_attempt(attempt, trainee, {"pick-a": "b"})
    assert learning.progress_in(trainee, course).state.value == "in_progress"
