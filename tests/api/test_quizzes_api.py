"""The quiz API: starting, reading, saving answers and submitting attempts with a bearer token; no answer key
before the review policy allows it; grading only on the server; deadlines, limits, cooldowns, permissions,
CSRF for cookie calls, and the OpenAPI document."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.db import db, utcnow
from lms.learning.models import LearningEvent, Verb
from lms.quizzes.models import Attempt
from tests.conftest import csrf_from
from tests.content_tree import CORRECT, QUIZ, add_quiz, load_into, make_tree, time_out

PROBLEM = "application/problem+json"
WRONG = {"pick-a": "b", "safe": False, "both": ["c"], "name-it": "aspirin"}
# Keys that only an answer key or a review carries. `answers` is allowed as the attempt's saved answers.
KEY_NAMES = {"correct", "weight", "answer", "feedback", "match", "key", "accepted", "fraction", "matches", "order"}
# Texts that only the quiz file's key and feedback contain.
KEY_TEXTS = ("Because A.", "Yes.", "No.", "naloxone", "narcan")

AFTER_PASS = QUIZ.replace("review: {show: answers, when: after_submit}", "review: {show: answers, when: after_pass}")
ONE_ATTEMPT = QUIZ.replace("max_attempts: 3", "max_attempts: 1").replace("cooldown_minutes: 5", "cooldown_minutes: 0")


# ---------------------------------------------------------------- helpers


def leaked_keys(node: Any, path: str = "$") -> list[str]:
    """Every place in a JSON document where a key of the answer key appears."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}"
            if k in KEY_NAMES:
                found.append(here)
            if k == "answers" and path != "$":  # a question's accepted answers; only the top level may say answers
                found.append(here)
            if path == "$" and k == "answers":
                continue  # the trainee's own saved answers, keyed by question id
            found += leaked_keys(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += leaked_keys(v, f"{path}[{i}]")
    return found


def assert_no_key(response) -> dict:
    body = response.get_json()
    assert body is not None, response.get_data(as_text=True)
    assert leaked_keys(body) == [], leaked_keys(body)
    assert body.get("review") is None
    text = json.dumps({k: v for k, v in body.items() if k != "answers"})
    for secret in KEY_TEXTS:
        assert secret not in text, secret
    for q in body.get("questions", []):
        assert set(q) <= {"id", "type", "text", "points", "options", "items", "prompts", "choices"}, q
        for option in q.get("options") or []:
            assert set(option) == {"id", "text"}, option
    return body


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and isinstance(body["detail"], str)
    return body


class Api:
    """A test client that sends one person's bearer token."""

    def __init__(self, app, user: User) -> None:
        with app.app_context():
            person = db.session.get(User, user.id)
            self.secret = accounts.create_api_token(person, actor=person, name="quiz tests").secret
            db.session.commit()
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {self.secret}"}

    def get(self, path: str):
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, **kw):
        return self.client.post(path, headers=self.headers, **kw)

    def put(self, path: str, **kw):
        return self.client.put(path, headers=self.headers, **kw)

    def start(self, slug: str = "alpha"):
        return self.post(f"/api/v1/quizzes/{slug}/attempts")

    def save(self, attempt_id: int, answers: dict):
        return self.put(f"/api/v1/attempts/{attempt_id}/answers", json={"answers": answers})

    def submit(self, attempt_id: int, body: dict | None = None):
        if body is None:
            return self.post(f"/api/v1/attempts/{attempt_id}/submit")
        return self.post(f"/api/v1/attempts/{attempt_id}/submit", json=body)


def content_with(app, tmp_path, text: str = QUIZ):
    root = make_tree(tmp_path / "content")
    add_quiz(root, text=text)
    load_into(app, root)
    return root


@pytest.fixture
def content(app, tmp_path):
    return content_with(app, tmp_path)


@pytest.fixture
def trainee(app, people) -> Api:
    return Api(app, people.trainee)


def quiz_events(app, attempt_id: int, *verbs: Verb) -> list[LearningEvent]:
    with app.app_context():
        events = db.session.scalars(select(LearningEvent).where(LearningEvent.object_type == "quiz",
                                                                LearningEvent.verb.in_(verbs))).all()
        return [e for e in events if e.result.get("attempt_id") == attempt_id]


def audits(app, action: str, attempt_id: int) -> int:
    with app.app_context():
        return len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                               AuditEvent.subject_id == str(attempt_id))).all())


# ---------------------------------------------------------------- starting and reading


def test_start_gives_questions_and_deadline_without_the_key(trainee, content):
    before = utcnow()
    r = trainee.start()
    assert r.status_code == 201, r.get_data(as_text=True)
    body = assert_no_key(r)
    assert r.headers["Location"].endswith(f"/api/v1/attempts/{body['id']}")
    assert body["status"] == "in_progress" and body["number"] == 1 and body["quiz"] == "alpha"
    assert sorted(q["id"] for q in body["questions"]) == sorted(CORRECT)
    assert body["answers"] == {} and body["score"] is None and body["passed"] is None
    deadline = datetime.fromisoformat(body["deadline"])
    assert before + timedelta(minutes=9) < deadline < utcnow() + timedelta(minutes=11)
    by_id = {q["id"]: q for q in body["questions"]}
    assert sorted(o["id"] for o in by_id["both"]["options"]) == ["a", "b", "c"]
    assert [o["id"] for o in by_id["safe"]["options"]] == ["true", "false"]

    again = trainee.start()
    assert again.status_code == 200
    assert assert_no_key(again)["id"] == body["id"]
    got = trainee.get(f"/api/v1/attempts/{body['id']}")
    assert got.status_code == 200
    assert assert_no_key(got)["questions"] == body["questions"]  # the stored draw, the same every time


def test_unknown_quiz_is_404(trainee, content):
    assert_problem(trainee.start("nope"), 404)
    assert_problem(trainee.get("/api/v1/attempts/999999"), 404)


def test_the_key_scan_would_catch_a_review(trainee, content):
    """The review after submitting (policy after_submit) does carry the key: the scan is not blind."""
    aid = trainee.start().get_json()["id"]
    body = trainee.submit(aid, {"answers": CORRECT}).get_json()
    assert body["passed"] is True and body["review"]
    assert leaked_keys(body)
    assert {r["id"] for r in body["review"] if r["correct"]} == set(CORRECT)


def test_after_pass_policy_hides_the_key_after_a_failed_submit(app, people, tmp_path):
    content_with(app, tmp_path, AFTER_PASS)
    trainee = Api(app, people.trainee)
    aid = assert_no_key(trainee.start())["id"]
    assert_no_key(trainee.save(aid, {"pick-a": "b"}))
    r = trainee.submit(aid, {"answers": WRONG})
    assert r.status_code == 200
    body = assert_no_key(r)
    assert body["status"] == "submitted" and body["passed"] is False and body["score"] == 0
    assert "review" not in body or body["review"] is None
    assert body["review_note"] and "passed" in body["review_note"]
    body = assert_no_key(trainee.get(f"/api/v1/attempts/{aid}"))
    assert body["passed"] is False
    # the list of attempts carries no key either
    listing = trainee.get("/api/v1/me/attempts").get_json()
    assert leaked_keys(listing) == []


# ---------------------------------------------------------------- saving answers


def test_put_saves_answers_partially(trainee, content):
    aid = trainee.start().get_json()["id"]
    r = trainee.save(aid, {"pick-a": "b"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert assert_no_key(r)["answers"] == {"pick-a": "b"}
    r = trainee.save(aid, {"both": ["b", "a"]})
    assert r.status_code == 200
    assert r.get_json()["answers"] == {"pick-a": "b", "both": ["a", "b"]}
    r = trainee.save(aid, {"pick-a": "a", "safe": "true"})  # replaces one, adds another
    assert r.get_json()["answers"] == {"pick-a": "a", "both": ["a", "b"], "safe": True}
    got = assert_no_key(trainee.get(f"/api/v1/attempts/{aid}"))
    assert got["answers"] == {"pick-a": "a", "both": ["a", "b"], "safe": True}
    assert got["status"] == "in_progress" and got["score"] is None


def test_put_rejects_bad_answers_naming_the_question(trainee, content):
    aid = trainee.start().get_json()["id"]
    trainee.save(aid, {"pick-a": "a"})
    body = assert_problem(trainee.save(aid, {"pick-a": "zzz", "name-it": "x"}), 422)
    assert list(body["errors"]) == ["pick-a"] and "pick-a" in body["detail"]
    body = assert_problem(trainee.save(aid, {"no-such-question": "a"}), 422)
    assert list(body["errors"]) == ["no-such-question"]
    body = assert_problem(trainee.save(aid, {"both": ["a", "zzz"]}), 422)
    assert list(body["errors"]) == ["both"]
    # nothing of a refused request was kept
    assert trainee.get(f"/api/v1/attempts/{aid}").get_json()["answers"] == {"pick-a": "a"}
    # not the right shape at all
    assert_problem(trainee.put(f"/api/v1/attempts/{aid}/answers", json={"answers": {}, "score": 100}), 422)
    assert_problem(trainee.put(f"/api/v1/attempts/{aid}/answers", data="answers", content_type="text/plain"), 415)


def test_other_people_cannot_see_or_change_an_attempt(app, people, trainee, content):
    aid = trainee.start().get_json()["id"]
    trainee.save(aid, {"pick-a": "a"})
    other = Api(app, people.other_trainee)
    assert_problem(other.get(f"/api/v1/attempts/{aid}"), 404)
    assert_problem(other.save(aid, {"pick-a": "b"}), 404)
    assert_problem(other.submit(aid), 404)
    other_supervisor = Api(app, people.other_supervisor)
    assert_problem(other_supervisor.get(f"/api/v1/attempts/{aid}"), 404)

    supervisor = Api(app, people.supervisor)  # the trainee's own supervisor may look, not touch
    seen = supervisor.get(f"/api/v1/attempts/{aid}")
    assert seen.status_code == 200 and assert_no_key(seen)["answers"] == {"pick-a": "a"}
    assert_problem(supervisor.save(aid, {"pick-a": "b"}), 403)
    assert_problem(supervisor.submit(aid, {"answers": CORRECT}), 403)
    body = trainee.get(f"/api/v1/attempts/{aid}").get_json()
    assert body["answers"] == {"pick-a": "a"} and body["status"] == "in_progress"


def test_cookie_put_needs_the_csrf_header(app, login_as, trainee, content):
    aid = trainee.start().get_json()["id"]
    browser = login_as("trainee")
    r = browser.client.put(f"/api/v1/attempts/{aid}/answers", json={"answers": {"pick-a": "b"}})
    assert "CSRF" in assert_problem(r, 400)["title"]
    r = browser.client.post(f"/api/v1/attempts/{aid}/submit", json={"answers": CORRECT})
    assert_problem(r, 400)
    assert trainee.get(f"/api/v1/attempts/{aid}").get_json()["answers"] == {}
    # with the page's token it works, as quiz.js does it
    token = csrf_from(browser.get(f"/attempts/{aid}").get_data(as_text=True))
    r = browser.client.put(f"/api/v1/attempts/{aid}/answers", json={"answers": {"pick-a": "b"}},
                           headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["answers"] == {"pick-a": "b"}


# ---------------------------------------------------------------- submitting


def test_submit_is_graded_by_the_server_whatever_the_body_says(app, trainee, content):
    aid = trainee.start().get_json()["id"]
    r = trainee.submit(aid, {"answers": WRONG, "score": 100, "passed": True, "status": "submitted"})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["status"] == "submitted" and body["score"] != 100 and body["passed"] is False
    assert body["score"] == 0 and body["critical_failed"] is True
    with app.app_context():
        attempt = db.session.get(Attempt, aid)
        assert (attempt.score, attempt.passed) == (0, False)

    again = trainee.submit(aid, {"answers": CORRECT, "score": 100})
    assert again.status_code == 200
    second = again.get_json()
    assert (second["score"], second["passed"], second["closed_at"]) == (body["score"], False, body["closed_at"])
    assert trainee.submit(aid).get_json()["score"] == body["score"]
    assert len(quiz_events(app, aid, Verb.PASSED, Verb.FAILED)) == 1
    assert audits(app, "attempt.submitted", aid) == 1
    # closed: answers can no longer change
    assert_problem(trainee.save(aid, {"pick-a": "a"}), 409)


def test_submit_with_correct_answers_passes(app, trainee, content):
    aid = trainee.start().get_json()["id"]
    trainee.save(aid, {"pick-a": "a", "safe": True})
    body = trainee.submit(aid, {"answers": {"both": ["a", "b"], "name-it": "Narcan"}}).get_json()
    assert (body["score"], body["passed"], body["critical_failed"]) == (100, True, False)
    assert [e.verb for e in quiz_events(app, aid, Verb.PASSED, Verb.FAILED)] == [Verb.PASSED]


def test_submit_without_a_body_grades_the_saved_answers(trainee, content):
    aid = trainee.start().get_json()["id"]
    trainee.save(aid, CORRECT)
    body = trainee.submit(aid).get_json()
    assert body["score"] == 100 and body["passed"] is True


def test_late_answers_do_not_count(app, trainee, content):
    aid = trainee.start().get_json()["id"]
    assert trainee.save(aid, {"pick-a": "a"}).status_code == 200
    # twenty minutes pass: the ten-minute limit and the 30 s grace are long over
    time_out(app, aid)
    with app.app_context():
        assert db.session.get(Attempt, aid).deadline + timedelta(seconds=30) < utcnow()

    body = assert_problem(trainee.save(aid, {"safe": True, "both": ["a", "b"], "name-it": "naloxone"}), 409)
    assert "closed" in body["detail"]
    r = trainee.submit(aid, {"answers": CORRECT, "score": 100, "passed": True})
    assert r.status_code == 200, r.get_data(as_text=True)
    result = r.get_json()
    assert result["status"] == "timed_out"
    assert result["answers"] == {"pick-a": "a"}  # only what was saved in time
    assert result["score"] == 25 and result["passed"] is False and result["critical_failed"] is True
    assert len(quiz_events(app, aid, Verb.PASSED, Verb.FAILED)) == 1
    assert audits(app, "attempt.timed_out", aid) == 1 and audits(app, "attempt.submitted", aid) == 0
    listed = trainee.get("/api/v1/me/attempts").get_json()["items"]
    assert [(a["id"], a["status"], a["score"]) for a in listed] == [(aid, "timed_out", 25)]


def test_an_expired_attempt_is_closed_when_read(app, trainee, content):
    aid = trainee.start().get_json()["id"]
    with app.app_context():
        attempt = db.session.get(Attempt, aid)
        attempt.deadline = utcnow() - timedelta(seconds=31)
        db.session.commit()
    body = trainee.get(f"/api/v1/attempts/{aid}").get_json()
    assert body["status"] == "timed_out" and body["score"] == 0
    assert trainee.get(f"/api/v1/attempts/{aid}").get_json()["closed_at"] == body["closed_at"]
    assert len(quiz_events(app, aid, Verb.FAILED)) == 1


# ---------------------------------------------------------------- limits, cooldown, the list


def test_attempt_limit(app, people, tmp_path):
    content_with(app, tmp_path, ONE_ATTEMPT)
    trainee = Api(app, people.trainee)
    first = trainee.start()
    assert first.status_code == 201
    aid = first.get_json()["id"]
    trainee.submit(aid, {"answers": WRONG})
    body = assert_problem(trainee.start(), 409)
    assert "all 1 attempts" in body["detail"]
    with app.app_context():
        assert len(db.session.scalars(select(Attempt)).all()) == 1


def test_cooldown_between_attempts_and_my_attempts(app, trainee, content):
    first = trainee.start().get_json()["id"]
    trainee.submit(first, {"answers": WRONG})
    body = assert_problem(trainee.start(), 409)
    assert "minute" in body["detail"]
    # the cooldown is over
    with app.app_context():
        attempt = db.session.get(Attempt, first)
        attempt.started_at -= timedelta(minutes=10)
        attempt.closed_at -= timedelta(minutes=6)
        db.session.commit()
    r = trainee.start()
    assert r.status_code == 201, r.get_data(as_text=True)
    second = r.get_json()
    assert second["number"] == 2 and second["id"] != first

    listing = trainee.get("/api/v1/me/attempts")
    assert listing.status_code == 200
    items = listing.get_json()["items"]
    assert [(a["id"], a["number"], a["status"]) for a in items] == [
        (second["id"], 2, "in_progress"), (first, 1, "submitted")]
    assert items[1]["score"] == 0 and items[1]["passed"] is False
    assert set(items[0]) == {"id", "quiz", "number", "status", "started_at", "deadline", "closed_at", "score",
                             "passed", "critical_failed"}


def test_my_attempts_are_only_mine(app, people, trainee, content):
    trainee.start()
    other = Api(app, people.other_trainee)
    assert other.get("/api/v1/me/attempts").get_json()["items"] == []


def test_quiz_endpoints_need_authentication(client, content):
    for method, path in (("POST", "/api/v1/quizzes/alpha/attempts"), ("GET", "/api/v1/attempts/1"),
                         ("PUT", "/api/v1/attempts/1/answers"), ("POST", "/api/v1/attempts/1/submit"),
                         ("GET", "/api/v1/me/attempts")):
        assert_problem(client.open(path, method=method, json={}), 401)


# ---------------------------------------------------------------- the OpenAPI document


def test_openapi_describes_the_quiz_endpoints(client):
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    doc = client.get("/api/v1/openapi.json").get_json()
    validate(doc, cls=OpenAPIV31SpecValidator)
    paths = doc["paths"]
    for path, method in (("/quizzes/{slug}/attempts", "post"), ("/attempts/{attempt_id}", "get"),
                         ("/attempts/{attempt_id}/answers", "put"), ("/attempts/{attempt_id}/submit", "post"),
                         ("/me/attempts", "get")):
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not documented"
    assert {"201", "409"} <= set(paths["/quizzes/{slug}/attempts"]["post"]["responses"])
    assert {"403", "409", "422"} <= set(paths["/attempts/{attempt_id}/answers"]["put"]["responses"])
    schemas = doc["components"]["schemas"]
    assert not KEY_NAMES & set(schemas["QuestionOut"]["properties"])
    assert "score" not in schemas["SubmitIn"].get("properties", {})
