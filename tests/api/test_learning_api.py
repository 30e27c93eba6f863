"""The learning API: courses, lessons, completing, progress."""

from __future__ import annotations

import pytest

from lms.accounts import services as accounts
from lms.db import db
from tests.content_tree import load_into, make_tree


@pytest.fixture
def content(app, tmp_path):
    root = make_tree(tmp_path / "content")
    load_into(app, root)
    return root


@pytest.fixture
def api(app, people):
    with app.app_context():
        secret = accounts.create_api_token(people.trainee, actor=people.trainee, name="test").secret
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    class Api:
        def get(self, path):
            return client.get(path, headers=headers)

        def post(self, path, **kw):
            return client.post(path, headers=headers, **kw)

    return Api()


def test_courses_list_in_program_order_with_state(api, content):
    r = api.get("/api/v1/courses")
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [(c["slug"], c["state"], c["lessons_total"]) for c in items] == [
        ("alpha", "not_started", 2), ("beta", "locked", 2)]
    assert items[1]["missing_prerequisites"] == ["alpha"]


def test_course_detail_lesson_detail_complete_and_progress(api, content):
    course = api.get("/api/v1/courses/alpha").get_json()
    assert course["objectives"] == ["Explain something."]
    first = course["lessons"][0]
    assert first["completed"] is False and len(first["version"]) == 64

    lesson = api.get(f"/api/v1/lessons/{first['id']}").get_json()
    assert lesson["course"] == "alpha" and "<p>" in lesson["html"] and "911" in lesson["html"]

    r = api.post(f"/api/v1/lessons/{first['id']}/complete")
    assert r.status_code == 201 and r.get_json()["new"] is True
    r = api.post(f"/api/v1/lessons/{first['id']}/complete")
    assert r.status_code == 200 and r.get_json()["new"] is False

    course = api.get("/api/v1/courses/alpha").get_json()
    assert course["lessons"][0]["completed"] is True and course["state"] == "in_progress" and course["percent"] == 50
    progress = api.get("/api/v1/me/progress").get_json()
    assert progress["required_total"] == 2 and progress["required_done"] == 0


def test_locked_lesson_is_409_and_unknown_is_404(api, content):
    beta = api.get("/api/v1/courses/beta").get_json()
    lid = beta["lessons"][0]["id"]
    for r in (api.get(f"/api/v1/lessons/{lid}"), api.post(f"/api/v1/lessons/{lid}/complete")):
        assert r.status_code == 409 and r.mimetype == "application/problem+json"
    assert api.get("/api/v1/courses/nope").status_code == 404
    assert api.get("/api/v1/lessons/999999").status_code == 404
    assert api.post("/api/v1/lessons/999999/complete").status_code == 404


def test_learning_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/courses", "/courses/{slug}", "/lessons/{lesson_id}", "/lessons/{lesson_id}/complete",
                 "/me/progress"):
        assert path in paths
