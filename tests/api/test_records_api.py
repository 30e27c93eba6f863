"""The transcript API: the caller's own record, a trainee's for their supervisor or an admin, 404 for others."""

from __future__ import annotations

import pytest

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.db import db
from tests.content_tree import finish_alpha, make_quiz_tree


@pytest.fixture
def content(app, tmp_path):
    return make_quiz_tree(app, tmp_path / "content")


@pytest.fixture
def record(app, people, content):
    attempt, course = finish_alpha(app, people.trainee.id)
    return {"attempt": attempt.id, "course_version": course.version, "quiz_version": attempt.quiz_version.version}


@pytest.fixture
def api(app, people):
    """api('supervisor').get(path): a GET with that person's bearer token."""
    client = app.test_client()

    def as_(who: str):
        with app.app_context():
            user = db.session.get(User, getattr(people, who).id)
            secret = accounts.create_api_token(user, actor=user, name="test").secret
            db.session.commit()

        class Api:
            def get(self, path):
                return client.get(path, headers={"Authorization": f"Bearer {secret}"})

        return Api()

    return as_


def test_my_record(api, people, record):
    r = api("trainee").get("/api/v1/me/record")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["user_id"], body["display_name"], body["supervisor"]) == (people.trainee.id, "Tess Trainee",
                                                                          "Sam Supervisor")
    assert (body["program"], body["program_version"]) == ("Program", "1")
    assert [c["slug"] for c in body["required"]] == ["alpha", "beta"] and body["other"] == []
    alpha, beta = body["required"]
    assert alpha["state"] == "done" and alpha["completed_at"] is not None and alpha["score"] == 100.0
    assert alpha["completed_version"] == alpha["current_version"] == record["course_version"]
    assert alpha["version_changed"] is False
    assert (alpha["lessons_done"], alpha["lessons_total"], alpha["quiz"]) == (2, 2, "alpha")
    (attempt,) = alpha["attempts"]
    assert attempt["id"] == record["attempt"] and attempt["number"] == 1 and attempt["status"] == "submitted"
    assert attempt["passed"] is True and attempt["quiz_version"] == record["quiz_version"]
    assert attempt["quiz_version_changed"] is False
    assert beta["state"] == "not_started" and beta["attempts"] == []
    assert body["totals"] == {"required_done": 1, "required_total": 2, "courses_done": 1, "lessons_done": 2,
                              "lessons_total": 4, "attempts": 1, "attempts_passed": 1}


def test_a_trainees_record_for_their_supervisor_and_admins(api, people, record):
    path = f"/api/v1/users/{people.trainee.id}/record"
    for who in ("supervisor", "admin", "trainee"):
        r = api(who).get(path)
        assert r.status_code == 200, who
        assert r.get_json()["user_id"] == people.trainee.id
    assert api("admin").get(f"/api/v1/users/{people.other_trainee.id}/record").status_code == 200


@pytest.mark.parametrize("who", ["other_supervisor", "other_trainee"])
def test_anyone_else_gets_404_like_a_missing_user(api, people, record, who):
    caller = api(who)
    r = caller.get(f"/api/v1/users/{people.trainee.id}/record")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    missing = caller.get("/api/v1/users/999999/record")
    assert missing.status_code == 404
    assert r.get_json()["detail"].replace(str(people.trainee.id), "N") == missing.get_json()["detail"].replace(
        "999999", "N")


def test_the_record_needs_authentication(client, people, content):
    for path in ("/api/v1/me/record", f"/api/v1/users/{people.trainee.id}/record"):
        r = client.get(path)
        assert r.status_code == 401 and r.mimetype == "application/problem+json"


def test_session_cookie_works_too(login_as, record):
    r = login_as("trainee").get("/api/v1/me/record")
    assert r.status_code == 200 and r.get_json()["totals"]["attempts"] == 1


def test_record_endpoints_are_in_the_openapi_document(client):
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    doc = client.get("/api/v1/openapi.json").get_json()
    validate(doc, cls=OpenAPIV31SpecValidator)
    mine = doc["paths"]["/me/record"]["get"]
    theirs = doc["paths"]["/users/{user_id}/record"]["get"]
    for op in (mine, theirs):
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
            "#/components/schemas/TranscriptOut")
        assert op["tags"] == ["Records"]
    assert "404" in theirs["responses"]
    assert any(p["name"] == "user_id" and p["in"] == "path" for p in theirs["parameters"])
    schemas = doc["components"]["schemas"]
    assert {"TranscriptOut", "TranscriptCourse", "TranscriptAttempt", "TranscriptTotals"} <= set(schemas)
