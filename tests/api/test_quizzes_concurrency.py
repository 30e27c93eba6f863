"""Real concurrency: eight requests released at the same moment, each in its own thread with its own test
client, app context, session and database connection. Two simultaneous starts give one attempt; two
simultaneous submits give one grade; an attempt whose time ran out is closed once however many read it.

They run on PostgreSQL (CI sets LMS_TEST_DATABASE_URL), where a row lock and the partial unique index on open
attempts do the work, and on SQLite, which has one writer at a time: the service takes the write lock before it
re-reads the attempt's status (services._lock)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.db import db, utcnow
from lms.learning.models import LearningEvent, Verb
from lms.quizzes import services
from lms.quizzes.models import Attempt
from tests.concurrency import together
from tests.content_tree import CORRECT, make_quiz_tree

N = 8
WRONG = {"pick-a": "b", "safe": False, "both": ["c"], "name-it": "aspirin"}


@pytest.fixture
def content(app, tmp_path):
    return make_quiz_tree(app, tmp_path / "content")


@pytest.fixture
def token(app, people) -> str:
    with app.app_context():
        user = db.session.get(User, people.trainee.id)
        secret = accounts.create_api_token(user, actor=user, name="concurrency").secret
        db.session.commit()
    return secret


def api_call(app: Flask, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One API request from a thread: a fresh test client, whose request pushes its own app context (so its
    own session and its own pooled connection)."""
    client = app.test_client()
    response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def test_simultaneous_starts_give_one_attempt(app, people, token, content):
    results = together(lambda i: api_call(app, token, "POST", "/api/v1/quizzes/alpha/attempts"), N)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (N - 1) + [201], results
    assert len({body["id"] for _, body in results}) == 1
    aid = results[0][1]["id"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1
        events = db.session.scalars(select(LearningEvent).where(LearningEvent.verb == Verb.ATTEMPTED)).all()
        assert [e.result["attempt_id"] for e in events] == [aid]
        started = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "attempt.started"))
        assert started == 1


def test_simultaneous_submits_give_one_grade(app, people, token, content):
    status, body = api_call(app, token, "POST", "/api/v1/quizzes/alpha/attempts")
    assert status == 201
    aid = body["id"]
    # half the callers send the right answers, half wrong ones: whichever comes first is graded, once
    results = together(lambda i: api_call(app, token, "POST", f"/api/v1/attempts/{aid}/submit",
                                          {"answers": CORRECT if i % 2 else WRONG}), N)

    assert [status for status, _ in results] == [200] * N, results
    grades = {(b["status"], b["score"], b["passed"], b["closed_at"]) for _, b in results}
    assert len(grades) == 1, grades
    (final, score, passed, _), = grades
    assert final == "submitted" and score in (0, 100) and passed is (score == 100)
    with app.app_context():
        attempt = db.session.get(Attempt, aid)
        assert (attempt.score, attempt.passed) == (score, passed)
        graded = db.session.scalars(select(LearningEvent).where(
            LearningEvent.verb.in_((Verb.PASSED, Verb.FAILED)))).all()
        assert [(e.result["attempt_id"], e.result["score"]) for e in graded] == [(aid, score)]
        submitted = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "attempt.submitted")).all()
        assert [a.subject_id for a in submitted] == [str(aid)]
        # the answers saved are the winner's, not a mixture
        saved = services.saved_answers(attempt)
        assert saved in (CORRECT, WRONG)


def test_simultaneous_starts_through_the_services(app, people, content):
    """The same race without HTTP: each thread pushes its own app context and commits its own session."""

    def start(_: int) -> tuple[int, bool]:
        with app.app_context():
            user = db.session.get(User, people.trainee.id)
            attempt, new = services.start_attempt(user, services.get_quiz("alpha"))
            db.session.commit()
            return attempt.id, new

    results = together(start, N)
    assert len({aid for aid, _ in results}) == 1
    assert sorted(new for _, new in results) == [False] * (N - 1) + [True]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1


def test_simultaneous_reads_of_an_expired_attempt_close_it_once(app, people, token, content):
    """Whoever first notices that time ran out closes and grades the attempt; the others see that grade."""
    status, body = api_call(app, token, "POST", "/api/v1/quizzes/alpha/attempts")
    aid = body["id"]
    with app.app_context():
        attempt = db.session.get(Attempt, aid)
        attempt.deadline = utcnow() - timedelta(minutes=1)
        db.session.commit()
    results = together(lambda i: api_call(app, token, "GET", f"/api/v1/attempts/{aid}"), N)
    assert [status for status, _ in results] == [200] * N, results
    assert {(b["status"], b["closed_at"]) for _, b in results} == {("timed_out", results[0][1]["closed_at"])}
    with app.app_context():
        graded = db.session.scalars(select(LearningEvent).where(LearningEvent.verb == Verb.FAILED)).all()
        assert len(graded) == 1
        timed_out = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "attempt.timed_out")).all()
        assert len(timed_out) == 1
