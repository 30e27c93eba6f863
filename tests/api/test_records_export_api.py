"""GET /api/v1/records/export: administrators download CSV or xAPI, streamed; others are refused; bad
parameters are a 400 problem; the operation is in the OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.audit import AuditEvent
from lms.db import db
from lms.learning import services as learning
from lms.learning.models import Lesson
from lms.records import export
from tests.content_tree import load_into, make_tree

SCHEMA = json.loads((Path(__file__).parent.parent / "fixtures" / "xapi-statement.schema.json").read_text())
URL = "/api/v1/records/export"


@pytest.fixture
def content(app, people, tmp_path):
    load_into(app, make_tree(tmp_path / "content"))
    with app.app_context():
        for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == learning.get_course("alpha").id)):
            learning.complete_lesson(people.trainee, lesson)
        db.session.commit()


@pytest.fixture
def bearer(app, people):
    def make(who: str) -> dict:
        with app.app_context():
            user = getattr(people, who)
            secret = accounts.create_api_token(user, actor=user, name="test").secret
            db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return make


def test_admin_downloads_completions_csv(client, bearer, content, people):
    r = client.get(f"{URL}?format=csv", headers=bearer("admin"))
    assert r.status_code == 200 and r.is_streamed
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="completions-')
    assert r.headers["Cache-Control"] == "no-store"
    header, *rows = csv.reader(io.StringIO(r.get_data(as_text=True)))
    assert tuple(header) == export.COMPLETION_COLUMNS
    # alpha's lessons are done and it has no quiz: one completion, Tess's
    assert [(row[2], row[4]) for row in rows] == [("trainee@example.org", "alpha")]


def test_admin_downloads_attempts_csv_and_the_since_filter_applies(client, bearer, content):
    r = client.get(f"{URL}?kind=attempts&since=2000-01-01", headers=bearer("admin"))
    assert r.status_code == 200
    assert r.get_data(as_text=True).splitlines() == [",".join(export.ATTEMPT_COLUMNS)]


def test_admin_downloads_xapi_statements(client, bearer, content, app):
    r = client.get(f"{URL}?format=xapi", headers=bearer("admin"))
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="xapi-statements-')
    statements = json.loads(r.get_data(as_text=True))
    assert [s["verb"]["display"]["en"] for s in statements] == ["completed", "completed", "completed"]
    validator = Draft202012Validator(SCHEMA)
    assert all(not list(validator.iter_errors(s)) for s in statements)
    assert "trainee@example.org" not in r.get_data(as_text=True)
    r = client.get(f"{URL}?format=xapi&since=2999-01-01", headers=bearer("admin"))
    assert json.loads(r.get_data(as_text=True)) == []
    with app.app_context():
        entries = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "records.exported")).all()
        assert [(e.actor_label, e.data["format"]) for e in entries] == [("admin@example.org", "xapi")] * 2


def test_a_download_left_unread_does_not_disturb_the_next_request(login_as, content):
    admin = login_as("admin")
    unread = admin.get(f"{URL}?format=xapi")
    assert unread.status_code == 200
    assert admin.get("/api/v1/me").status_code == 200
    unread.close()
    assert admin.get("/api/v1/me").status_code == 200


def test_a_session_login_works_too(login_as, content):
    r = login_as("admin").get(f"{URL}?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"


@pytest.mark.parametrize("who", ["trainee", "supervisor"])
def test_others_are_refused(client, bearer, content, who, app):
    r = client.get(f"{URL}?format=csv", headers=bearer(who))
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert "admin" in r.get_json()["detail"]
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "records.exported")).all() == []


def test_anonymous_is_401(client):
    r = client.get(URL)
    assert r.status_code == 401 and r.mimetype == "application/problem+json"


@pytest.mark.parametrize("query, message", [
    ("format=pdf", "format must be one of csv, xapi"),
    ("format=csv&kind=lessons", "kind must be one of completions, attempts"),
    ("format=xapi&kind=attempts", "kind applies to format=csv only"),
    ("since=31/01/2026", "since must be a date like 2026-01-31"),
    ("since=2026-02-30", "since must be a date like"),
])
def test_bad_parameters_are_a_400_problem(client, bearer, query, message):
    r = client.get(f"{URL}?{query}", headers=bearer("admin"))
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert message in r.get_json()["detail"]


def test_the_export_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    operation = doc["paths"]["/records/export"]["get"]
    assert operation["operationId"] == "export_records"
    assert {p["name"] for p in operation["parameters"]} == {"format", "kind", "since"}
    assert {"400", "401", "403"} <= set(operation["responses"])
    assert "text/csv" in operation["description"] and "application/json" in operation["description"]
    assert "completion_id" in operation["description"]
