"""Forwarding to an LRS, against a stub LRS on 127.0.0.1: every statement arrives exactly once, in batches,
with the xAPI headers and Basic auth; outages, lost answers and refusals leave the cursor in place so the
statements go later; nothing is sent when no LRS is configured."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, insert, select

from lms.accounts.models import Role
from lms.db import db, utcnow
from lms.learning import services as learning
from lms.learning.models import LearningEvent, Lesson
from lms.quizzes import services as quizzes
from lms.records import lrs
from lms.records.export import site
from lms.records.models import LrsCursor
from lms.records.xapi import statement_id
from tests import factories
from tests.content_tree import CORRECT, add_quiz, load_into, make_tree


class StubLrs:
    """A tiny LRS: stores statements by id (a statement it already has is not stored again, as xAPI asks),
    and can be told to answer 503, to store a batch and then drop the connection, to redirect, or to answer
    409 to a batch holding an id it already has (as some LRSs do)."""

    def __init__(self) -> None:
        self.stored: dict[str, dict] = {}
        self.requests: list[dict] = []  # method, path, headers, ids, status
        self.fail_next = 0
        self.drop_next = 0
        self.redirect = False
        self.conflict_on_duplicate = False
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: object = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _request(self) -> tuple[dict, list[dict]]:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                batch = body if isinstance(body, list) else [body]
                headers = {k.lower(): v for k, v in self.headers.items()}
                entry = dict(method=self.command, path=self.path, headers=headers, ids=[s["id"] for s in batch],
                             status=None)
                stub.requests.append(entry)
                return entry, batch

            def do_POST(self) -> None:
                with stub.lock:
                    entry, batch = self._request()
                    if stub.redirect:
                        entry["status"] = 302
                        self.send_response(302)
                        self.send_header("Location", "/elsewhere/statements")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    if urlsplit(self.path).path != "/xapi/statements":
                        entry["status"] = 404
                        return self._answer(404)
                    if stub.fail_next:
                        stub.fail_next -= 1
                        entry["status"] = 503
                        return self._answer(503, {"error": "down for maintenance"})
                    if stub.conflict_on_duplicate and any(s["id"] in stub.stored for s in batch):
                        entry["status"] = 409
                        return self._answer(409, {"error": "statement id exists"})
                    for s in batch:
                        stub.stored.setdefault(s["id"], s)
                    if stub.drop_next:  # stored, but the answer never arrives
                        stub.drop_next -= 1
                        entry["status"] = "dropped"
                        self.close_connection = True
                        return
                    entry["status"] = 200
                    self._answer(200, [s["id"] for s in batch])

            def do_PUT(self) -> None:
                with stub.lock:
                    entry, (one,) = self._request()
                    assert parse_qs(urlsplit(self.path).query)["statementId"] == [one["id"]]
                    if one["id"] in stub.stored:
                        entry["status"] = 409
                        return self._answer(409)
                    stub.stored[one["id"]] = one
                    entry["status"] = 204
                    self._answer(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/xapi"

    def acknowledged(self) -> Counter:
        """How often each statement id was in a request the stub answered with success."""
        return Counter(i for r in self.requests if r["status"] in (200, 204) for i in r["ids"])

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]


@pytest.fixture
def stub():
    server = StubLrs()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def lrs_app(app_factory, stub):
    return app_factory(LRS_ENDPOINT=stub.url, LRS_USERNAME="lrs-key", LRS_PASSWORD="lrs-secret", LRS_BATCH=2,
                       LRS_TIMEOUT=5)


@pytest.fixture
def ctx(lrs_app):
    with lrs_app.app_context():
        yield lrs_app


@pytest.fixture
def trainee(ctx, tmp_path):
    """A trainee who completed course alpha: 2 lessons, an attempt passed, the course: 5 events."""
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    load_into(ctx, root)
    user = factories.make_user(Role.TRAINEE)
    course = learning.get_course("alpha")
    for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id)):
        learning.complete_lesson(user, lesson)
    attempt, _ = quizzes.start_attempt(user, quizzes.get_quiz("alpha"))
    quizzes.submit_attempt(attempt, user, CORRECT)
    db.session.commit()
    return user


def our_ids() -> list[str]:
    where = site()
    return [statement_id(where, i) for i in db.session.scalars(select(LearningEvent.id).order_by(LearningEvent.id))]


def cursor() -> LrsCursor:
    db.session.expire_all()
    return db.session.scalar(select(LrsCursor))


def test_every_statement_is_delivered_once_in_batches_with_headers_and_auth(stub, trainee):
    result = lrs.forward_statements()
    assert (result.sent, result.pending, result.error) == (5, 0, None)
    ids = our_ids()
    assert len(ids) == 5 and set(stub.stored) == set(ids)
    assert stub.acknowledged() == Counter({i: 1 for i in ids})
    assert [len(r["ids"]) for r in stub.posts()] == [2, 2, 1]  # LRS_BATCH=2, in id order
    assert [i for r in stub.posts() for i in r["ids"]] == ids
    for r in stub.posts():
        assert r["path"] == "/xapi/statements"
        assert r["headers"]["x-experience-api-version"] == "1.0.3"
        assert r["headers"]["content-type"] == "application/json"
        assert r["headers"]["authorization"] == "Basic " + base64.b64encode(b"lrs-key:lrs-secret").decode()
    row = cursor()
    assert (row.last_event_id, row.delivered, row.failures, row.lease_until) == (
        db.session.scalar(select(func.max(LearningEvent.id))), 5, 0, None)

    # nothing new: nothing sent; one new event: only that one
    assert lrs.forward_statements().sent == 0 and len(stub.posts()) == 3
    learning.record_visit(trainee, db.session.scalar(select(Lesson)))  # not an event
    quizzes.start_attempt(trainee, quizzes.get_quiz("alpha"), now=utcnow() + timedelta(minutes=6))
    db.session.commit()
    assert lrs.forward_statements().sent == 1
    assert stub.acknowledged() == Counter({i: 1 for i in our_ids()}) and len(stub.stored) == 6


def test_an_outage_leaves_the_cursor_and_a_later_run_delivers_everything(stub, trainee):
    now = utcnow()
    stub.fail_next = 1
    first = lrs.forward_statements(now)
    assert first.sent == 0 and "HTTP 503" in first.error and "down for maintenance" in first.error
    assert first.waiting_until == now + timedelta(minutes=1) and first.pending == 5
    row = cursor()
    assert (row.last_event_id, row.failures, row.next_try_at, row.lease_until) == (0, 1, now + timedelta(minutes=1),
                                                                                   None)
    assert stub.stored == {}

    # before next_try_at: nothing is tried
    waiting = lrs.forward_statements(now + timedelta(seconds=30))
    assert waiting.sent == 0 and waiting.error is None and "HTTP 503" in waiting.last_error
    assert "waits until" in waiting.summary() and len(stub.requests) == 1

    later = lrs.forward_statements(now + timedelta(minutes=1, seconds=1))
    assert (later.sent, later.pending, later.error) == (5, 0, None)
    assert stub.acknowledged() == Counter({i: 1 for i in our_ids()}) and len(stub.stored) == 5
    row = cursor()
    assert (row.failures, row.last_error, row.next_try_at) == (0, None, None)


def test_a_failure_mid_run_keeps_the_batches_already_acknowledged(stub, trainee, monkeypatch):
    calls = []
    real = lrs.post_statements

    def second_fails(endpoint, statements, **kw):
        calls.append(len(statements))
        if len(calls) == 2:
            raise lrs.LrsError("HTTP 500 Internal Server Error", status=500)
        return real(endpoint, statements, **kw)

    monkeypatch.setattr(lrs, "post_statements", second_fails)
    now = utcnow()
    result = lrs.forward_statements(now)
    assert (result.sent, result.pending, result.error) == (2, 3, "HTTP 500 Internal Server Error")
    second_event = db.session.scalars(select(LearningEvent.id).order_by(LearningEvent.id)).all()[1]
    assert cursor().last_event_id == second_event
    assert lrs.forward_statements(now + timedelta(minutes=2)).sent == 3
    assert stub.acknowledged() == Counter({i: 1 for i in our_ids()})


def test_a_batch_stored_whose_answer_was_lost_is_sent_again_and_kept_once(stub, trainee):
    now = utcnow()
    stub.drop_next = 1
    first = lrs.forward_statements(now)
    assert first.sent == 0 and "no answer" in first.error and cursor().last_event_id == 0
    assert len(stub.stored) == 2  # the LRS has it; we don't know
    assert lrs.forward_statements(now + timedelta(minutes=2)).sent == 5
    ids = our_ids()
    assert sorted(stub.stored) == sorted(ids)  # the LRS kept one of each
    assert stub.acknowledged() == Counter({i: 1 for i in ids})  # each acknowledged once


def test_an_lrs_that_refuses_a_batch_with_a_known_id_gets_the_rest_one_by_one(stub, trainee):
    now = utcnow()
    stub.drop_next, stub.conflict_on_duplicate = 1, True
    assert lrs.forward_statements(now).error
    result = lrs.forward_statements(now + timedelta(minutes=2))
    assert (result.sent, result.error) == (5, None)
    ids = our_ids()
    assert sorted(stub.stored) == sorted(ids)
    statuses = [(r["method"], r["status"]) for r in stub.requests]
    assert statuses == [("POST", "dropped"), ("POST", 409), ("PUT", 409), ("PUT", 409), ("POST", 200),
                        ("POST", 200)]


def test_redirects_are_refused_not_followed(stub, trainee):
    stub.redirect = True
    result = lrs.forward_statements()
    assert "HTTP 302" in result.error and "redirected to" in result.error
    assert cursor().last_event_id == 0 and stub.stored == {}


def test_an_unreachable_lrs_is_a_failure_like_any_other(app_factory, trainee):
    app = app_factory(LRS_ENDPOINT="http://127.0.0.1:9/xapi", LRS_TIMEOUT=2)  # the discard port: refused
    with app.app_context():
        result = lrs.forward_statements()
        assert result.sent == 0 and "cannot reach" in result.error and cursor().failures == 1


def test_an_event_committed_late_is_not_passed_over(stub, trainee):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, so event ids become visible in order")
    row = dict(user_id=trainee.id, verb="completed", object_type="lesson", object_id="1", result={})
    late = db.engine.connect()
    transaction = late.begin()
    late.execute(insert(LearningEvent).values(object_title="inserted first, committed last", occurred_at=utcnow(),
                                              **row))
    db.session.add(LearningEvent(object_title="inserted second, committed first", **row))
    db.session.commit()
    committer = threading.Timer(0.5, transaction.commit)
    committer.start()
    try:
        result = lrs.forward_statements()  # waits for the late transaction instead of passing over its event
    finally:
        committer.join()
        late.close()
    assert (result.sent, result.pending) == (7, 0)
    assert stub.acknowledged() == Counter({i: 1 for i in our_ids()}) and len(stub.stored) == 7


def test_backoff_doubles_up_to_an_hour():
    assert [lrs.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4, 5, 6, 7, 8, 500)] == [
        1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_consecutive_failures_back_off_further(stub, trainee):
    now = utcnow()
    stub.fail_next = 3
    for n, minutes in ((1, 1), (2, 2), (3, 4)):
        result = lrs.forward_statements(now)
        assert cursor().failures == n and result.waiting_until == now + timedelta(minutes=minutes)
        now = result.waiting_until
    assert lrs.forward_statements(now).sent == 5


def test_retry_now_ignores_the_wait(stub, trainee):
    now = utcnow()
    stub.fail_next = 1
    lrs.forward_statements(now)
    assert lrs.forward_statements(now, retry_now=True).sent == 5


def test_a_run_while_another_holds_the_cursor_leaves_it_alone(stub, trainee):
    lrs.forward_statements()  # makes the cursor
    row = cursor()
    row.lease_until = utcnow() + timedelta(minutes=5)
    db.session.commit()
    quizzes.start_attempt(trainee, quizzes.get_quiz("alpha"), now=utcnow() + timedelta(minutes=6))
    db.session.commit()
    posts = len(stub.posts())
    busy = lrs.forward_statements()
    assert busy.busy and busy.sent == 0 and len(stub.posts()) == posts
    # a lease left by a forwarder that died runs out
    assert lrs.forward_statements(utcnow() + lrs.LEASE + timedelta(seconds=1)).sent == 1


def test_a_new_lrs_address_gets_the_whole_record(app_factory, stub, trainee):
    assert lrs.forward_statements().sent == 5
    other = StubLrs()
    other.thread.start()
    try:
        app = app_factory(LRS_ENDPOINT=other.url, LRS_TIMEOUT=5)
        with app.app_context():
            assert lrs.forward_statements().sent == 5
            assert "authorization" not in other.posts()[0]["headers"]  # no user name: no Basic auth
            assert db.session.scalar(select(func.count()).select_from(LrsCursor)) == 2
    finally:
        other.server.shutdown()
        other.server.server_close()
    assert sorted(other.stored) == sorted(stub.stored)


def test_forwarding_is_off_without_an_endpoint(app, app_ctx, people):
    result = lrs.forward_statements()
    assert result.configured is False and "off" in result.summary()
    assert db.session.scalar(select(func.count()).select_from(LrsCursor)) == 0
    runner = app.test_cli_runner()
    maintenance = runner.invoke(args=["run-maintenance"])
    assert maintenance.exit_code == 0 and "LRS" not in maintenance.output
    forward = runner.invoke(args=["forward-statements"])
    assert forward.exit_code == 1 and "LMS_LRS_ENDPOINT" in forward.output


def test_the_commands_forward_and_report(lrs_app, stub, trainee):
    runner = lrs_app.test_cli_runner()
    stub.fail_next = 1
    failed = runner.invoke(args=["forward-statements"])
    assert failed.exit_code == 1 and "HTTP 503" in failed.output and "next try after" in failed.output
    waiting = runner.invoke(args=["run-maintenance"])
    assert waiting.exit_code == 0 and "waits until" in waiting.output and stub.stored == {}
    retried = runner.invoke(args=["forward-statements", "--retry-now"])
    assert retried.exit_code == 0 and "Sent 5 statement(s) to the LRS; 0 waiting." in retried.output
    maintenance = runner.invoke(args=["run-maintenance"])
    assert maintenance.exit_code == 0
    assert maintenance.output.splitlines() == ["Closed 0 quiz attempt(s) whose time ran out.",
                                               "Noted 0 certificate(s) that expired; sent 0 expiry reminder(s).",
                                               "Sent 0 statement(s) to the LRS; 0 waiting."]
    assert len(stub.stored) == 5


def test_the_settings_come_from_the_environment(tmp_path):
    from lms.config import ConfigError, load

    base = {"LMS_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 40}
    off = load(base)
    assert (off["LRS_ENDPOINT"], off["LRS_BATCH"], off["LRS_TIMEOUT"]) == (None, 100, 30)
    on = load({**base, "LMS_LRS_ENDPOINT": "https://lrs.example/xapi/", "LMS_LRS_USERNAME": "k",
               "LMS_LRS_PASSWORD": "s", "LMS_LRS_BATCH": "50"})
    assert (on["LRS_ENDPOINT"], on["LRS_USERNAME"], on["LRS_PASSWORD"], on["LRS_BATCH"]) == (
        "https://lrs.example/xapi", "k", "s", 50)
    for bad in ("ftp://lrs.example", "lrs.example/xapi", "https://lrs.example/xapi?x=1"):
        with pytest.raises(ConfigError, match="LMS_LRS_ENDPOINT"):
            load({**base, "LMS_LRS_ENDPOINT": bad})
    with pytest.raises(ConfigError, match="LMS_LRS_BATCH"):
        load({**base, "LMS_LRS_BATCH": "0"})
    production = {**base, "LMS_ENV": "production", "LMS_LRS_PASSWORD": "s"}
    with pytest.raises(ConfigError, match="https"):
        load({**production, "LMS_LRS_ENDPOINT": "http://lrs.example/xapi"})
    assert load({**production, "LMS_LRS_ENDPOINT": "http://127.0.0.1:8080/xapi"})["LRS_ENDPOINT"]
