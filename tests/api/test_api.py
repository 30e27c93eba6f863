"""The JSON API under /api/v1: authentication, CSRF for cookie calls, permissions, validation, problem+json
errors, the OpenAPI document, and the health check."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from lms import create_app
from lms.accounts import services
from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.db import db
from tests.conftest import _config as app_config
from tests.conftest import csrf_from

PROBLEM = "application/problem+json"


# ---------------------------------------------------------------- helpers


def token_for(app, user_id: int, name: str = "tests") -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        secret = services.create_api_token(user, actor=user, name=name).secret
        db.session.commit()
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(app, people):
    """api('admin') -> headers with a fresh bearer token of that person."""
    return lambda who: bearer(token_for(app, getattr(people, who).id))


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def load_user(app, user_id: int) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["title"] and isinstance(body["detail"], str) and body["type"]
    assert body["instance"] == response.request.path
    return body


NEW_USER = {"email": "Api.Person@Example.org", "display_name": "Api Person", "role": "trainee"}


# ---------------------------------------------------------------- authentication


def test_me_with_bearer_token(app, client, people, api):
    r = client.get("/api/v1/me", headers=api("trainee"))
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert body["id"] == people.trainee.id
    assert body["email"] == "trainee@example.org"
    assert body["role"] == "trainee" and body["status"] == "active"
    assert body["supervisor"] == {"id": people.supervisor.id, "display_name": "Sam Supervisor"}
    assert "password_hash" not in body


def test_no_authentication_is_401_with_www_authenticate(client, people):
    r = client.get("/api/v1/me")
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.get("/api/v1/users"), 401)
    assert_problem(client.post("/api/v1/users", json=NEW_USER), 401)


@pytest.mark.parametrize("header", [
    "Bearer pnd_not-a-real-token-at-all-0000000000000",
    "Bearer nonsense",
    "Bearer ",
    "Bearer",
    "Basic dHJhaW5lZUBleGFtcGxlLm9yZzpwYXNzd29yZA==",
    "Token pnd_whatever",
    "Bearer pnd_" + "x" * 200,
])
def test_bad_token_is_401(client, people, header):
    r = client.get("/api/v1/me", headers={"Authorization": header})
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(app, client, people):
    secret = token_for(app, people.trainee.id)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    with app.app_context():
        user = db.session.get(User, people.trainee.id)
        services.revoke_api_token(services.list_api_tokens(user)[0], actor=user)
        db.session.commit()
    assert_problem(client.get("/api/v1/me", headers=bearer(secret)), 401)


def test_token_of_a_deactivated_account_is_401(app, client, people):
    secret = token_for(app, people.trainee.id)
    with app.app_context():
        services.deactivate_user(db.session.get(User, people.trainee.id), actor=None)
        db.session.commit()
    assert_problem(client.get("/api/v1/me", headers=bearer(secret)), 401)


def test_a_bad_token_is_refused_even_with_a_good_session(login_as, people):
    trainee = login_as("trainee")
    r = trainee.get("/api/v1/me", headers={"Authorization": "Bearer pnd_nope"})
    assert_problem(r, 401)


def test_session_cookie_works_for_get(login_as, people):
    supervisor = login_as("supervisor")
    r = supervisor.get("/api/v1/me")
    assert r.status_code == 200
    assert r.get_json()["email"] == "sup@example.org"
    assert supervisor.get("/api/v1/users").status_code == 200


def test_token_use_is_recorded(app, client, people):
    secret = token_for(app, people.trainee.id)
    client.get("/api/v1/me", headers=bearer(secret))
    with app.app_context():
        assert services.list_api_tokens(db.session.get(User, people.trainee.id))[0].last_used_at is not None


# ---------------------------------------------------------------- CSRF


def test_cookie_post_without_csrf_header_is_400(app, login_as, people, outbox):
    admin = login_as("admin")
    users = count(app, User)
    r = admin.client.post("/api/v1/users", json=NEW_USER)
    body = assert_problem(r, 400)
    assert "CSRF" in body["title"]
    assert count(app, User) == users
    assert outbox.messages() == []


def test_cookie_patch_without_csrf_header_is_400(app, login_as, people):
    admin = login_as("admin")
    r = admin.client.patch(f"/api/v1/users/{people.trainee.id}", json={"role": "supervisor"})
    assert_problem(r, 400)
    r = admin.client.patch(f"/api/v1/users/{people.trainee.id}", json={"role": "supervisor"},
                           headers={"X-CSRFToken": "forged"})
    assert_problem(r, 400)
    assert load_user(app, people.trainee.id).role is Role.TRAINEE


def test_cookie_calls_with_csrf_header_work(app, login_as, people):
    admin = login_as("admin")
    token = csrf_from(admin.get("/settings").get_data(as_text=True))
    r = admin.client.patch(f"/api/v1/users/{people.trainee.id}", json={"role": "supervisor"},
                           headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_json()
    assert load_user(app, people.trainee.id).role is Role.SUPERVISOR
    r = admin.client.post("/api/v1/users", json=NEW_USER, headers={"X-CSRFToken": token})
    assert r.status_code == 201


def test_token_post_needs_no_csrf(app, client, people, api):
    r = client.post("/api/v1/users", json=NEW_USER, headers=api("admin"))
    assert r.status_code == 201
    assert count(app, User, User.email == "api.person@example.org") == 1


# ---------------------------------------------------------------- who may see whom


def test_users_list_is_forbidden_to_trainees(client, people, api):
    assert_problem(client.get("/api/v1/users", headers=api("trainee")), 403)


def test_supervisor_sees_only_own_trainees(app, client, people, api):
    headers = api("supervisor")
    body = client.get("/api/v1/users", headers=headers).get_json()
    assert [u["email"] for u in body["items"]] == ["trainee@example.org"]
    assert body["total"] == 1 and body["pages"] == 1
    # filters cannot widen the view
    for query in ("?role=supervisor", "?role=admin", "?q=example.org", "?status=active&per_page=100"):
        emails = [u["email"] for u in client.get(f"/api/v1/users{query}", headers=headers).get_json()["items"]]
        assert set(emails) <= {"trainee@example.org"}, query
    assert client.get(f"/api/v1/users/{people.trainee.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/users/{people.supervisor.id}", headers=headers).status_code == 200  # oneself
    for other in (people.other_trainee, people.other_supervisor, people.admin):
        assert_problem(client.get(f"/api/v1/users/{other.id}", headers=headers), 404)
    assert_problem(client.patch(f"/api/v1/users/{people.trainee.id}", json={"display_name": "X"},
                                headers=headers), 403)
    assert_problem(client.post("/api/v1/users", json=NEW_USER, headers=headers), 403)


def test_admin_sees_everyone_with_filters_and_pages(client, people, api):
    headers = api("admin")
    body = client.get("/api/v1/users", headers=headers).get_json()
    assert body["total"] == 5
    assert {u["email"] for u in body["items"]} == {"admin@example.org", "sup@example.org", "sup2@example.org",
                                                    "trainee@example.org", "trainee2@example.org"}
    sups = client.get("/api/v1/users?role=supervisor", headers=headers).get_json()
    assert [u["display_name"] for u in sups["items"]] == ["Sam Supervisor", "Sky Supervisor"]
    page = client.get("/api/v1/users?per_page=2&page=3", headers=headers).get_json()
    assert (page["total"], page["pages"], page["page"], len(page["items"])) == (5, 3, 3, 1)
    assert [u["email"] for u in client.get("/api/v1/users?q=THEO", headers=headers).get_json()["items"]] == [
        "trainee2@example.org"]
    for bad in ("?role=wizard", "?status=asleep", "?page=0", "?per_page=101", "?page=abc"):
        assert_problem(client.get(f"/api/v1/users{bad}", headers=headers), 400)


def test_trainee_sees_only_self(client, people, api):
    headers = api("trainee")
    assert client.get(f"/api/v1/users/{people.trainee.id}", headers=headers).status_code == 200
    for other in (people.other_trainee, people.supervisor, people.admin):
        body = assert_problem(client.get(f"/api/v1/users/{other.id}", headers=headers), 404)
        assert other.email not in body["detail"]
    assert_problem(client.get("/api/v1/users/987654", headers=headers), 404)


# ---------------------------------------------------------------- creating users


def test_admin_creates_user_with_invitation(app, client, people, api, outbox):
    headers = api("admin")
    r = client.post("/api/v1/users", json={**NEW_USER, "supervisor_id": people.supervisor.id}, headers=headers)
    assert r.status_code == 201
    body = r.get_json()
    assert body["email"] == "api.person@example.org"
    assert body["status"] == "invited"
    assert body["supervisor"]["id"] == people.supervisor.id
    assert body["certificate_name"] == "Api Person"
    assert r.headers["Location"] == f"/api/v1/users/{body['id']}"
    again = client.get(r.headers["Location"], headers=headers)
    assert again.status_code == 200 and again.get_json() == body

    assert [m["To"] for m in outbox.messages()] == ["api.person@example.org"]
    assert "/invitation/" in outbox.body(outbox.messages()[0])
    assert count(app, AuditEvent, AuditEvent.action == "user.created", AuditEvent.actor_id == people.admin.id) == 1


def test_admin_creates_user_without_invitation(app, client, people, api, outbox):
    r = client.post("/api/v1/users", json={**NEW_USER, "invite": False}, headers=api("admin"))
    assert r.status_code == 201
    assert outbox.messages() == []


@pytest.mark.parametrize("email", ["trainee@example.org", "  TRAINEE@example.ORG "])
def test_duplicate_email_is_409(app, client, people, api, outbox, email):
    headers = api("admin")
    users, events = count(app, User), count(app, AuditEvent)
    body = assert_problem(client.post("/api/v1/users", json={**NEW_USER, "email": email}, headers=headers), 409)
    assert "email" in body.get("errors", {})
    assert (count(app, User), count(app, AuditEvent)) == (users, events)
    assert outbox.messages() == []


@pytest.mark.parametrize("payload, fields", [
    ({"display_name": "No Email"}, {"email"}),
    ({"email": "a@example.org", "display_name": ""}, {"display_name"}),
    ({"email": "a@example.org", "display_name": "A", "role": "wizard"}, {"role"}),
    ({"email": "a@example.org", "display_name": "A", "supervisor_id": "seven"}, {"supervisor_id"}),
    ({"email": "a@example.org", "display_name": "A" * 121}, {"display_name"}),
    ({"email": 5, "display_name": "", "role": "boss"}, {"email", "display_name", "role"}),
    ({"email": "not an address", "display_name": "A"}, {"email"}),
])
def test_invalid_body_is_422_naming_the_fields(app, client, people, api, payload, fields):
    users = count(app, User)
    body = assert_problem(client.post("/api/v1/users", json=payload, headers=api("admin")), 422)
    assert set(body["errors"]) == fields
    assert all(isinstance(m, list) and m for m in body["errors"].values())
    assert count(app, User) == users


def test_supervisor_that_is_not_a_supervisor_is_refused(app, client, people, api):
    r = client.post("/api/v1/users", json={**NEW_USER, "supervisor_id": people.other_trainee.id},
                    headers=api("admin"))
    assert "supervisor" in assert_problem(r, 422)["errors"]
    r = client.post("/api/v1/users", json={**NEW_USER, "supervisor_id": 987654}, headers=api("admin"))
    assert r.status_code in (404, 422)
    assert count(app, User, User.email == "api.person@example.org") == 0


@pytest.mark.parametrize("extra", [{"is_admin": True}, {"password_hash": "x"}, {"active": False}])
def test_unknown_field_is_422_naming_it(app, client, people, api, extra):
    body = assert_problem(client.post("/api/v1/users", json={**NEW_USER, **extra}, headers=api("admin")), 422)
    (name,) = extra
    assert name in body["errors"]
    assert name in body["detail"]
    assert count(app, User, User.email == "api.person@example.org") == 0


def test_unknown_field_in_patch_is_422(app, client, people, api):
    r = client.patch(f"/api/v1/users/{people.trainee.id}", json={"email": "new@example.org"}, headers=api("admin"))
    assert "email" in assert_problem(r, 422)["errors"]
    assert load_user(app, people.trainee.id).email == "trainee@example.org"


@pytest.mark.parametrize("kwargs, status", [
    ({"data": "email=a@example.org&display_name=A", "content_type": "application/x-www-form-urlencoded"}, 415),
    ({"data": "<user/>", "content_type": "application/xml"}, 415),
    ({"data": '{"email": "a@example.org", "display_name": "A"}', "content_type": "text/plain"}, 415),
    ({}, 400),
    ({"data": "{not json", "content_type": "application/json"}, 400),
    ({"data": '["a@example.org"]', "content_type": "application/json"}, 400),
    ({"data": '"just a string"', "content_type": "application/json"}, 400),
])
def test_non_json_body_is_refused(app, client, people, api, kwargs, status):
    users = count(app, User)
    assert_problem(client.post("/api/v1/users", headers=api("admin"), **kwargs), status)
    assert count(app, User) == users


# ---------------------------------------------------------------- changing users


def test_patch_role(app, client, people, api):
    r = client.patch(f"/api/v1/users/{people.other_trainee.id}", json={"role": "supervisor"}, headers=api("admin"))
    assert r.status_code == 200
    assert r.get_json()["role"] == "supervisor"
    assert r.get_json()["supervisor"] is None
    assert load_user(app, people.other_trainee.id).role is Role.SUPERVISOR
    assert count(app, AuditEvent, AuditEvent.action == "user.role_changed") == 1


def test_patch_supervisor(app, client, people, api):
    headers = api("admin")
    url = f"/api/v1/users/{people.trainee.id}"
    r = client.patch(url, json={"supervisor_id": people.other_supervisor.id}, headers=headers)
    assert r.status_code == 200
    assert r.get_json()["supervisor"]["id"] == people.other_supervisor.id
    r = client.patch(url, json={"supervisor_id": None}, headers=headers)
    assert r.status_code == 200 and r.get_json()["supervisor"] is None
    assert load_user(app, people.trainee.id).supervisor_id is None
    # a field that is left out is left alone
    client.patch(url, json={"supervisor_id": people.supervisor.id}, headers=headers)
    r = client.patch(url, json={"display_name": "Tess T."}, headers=headers)
    assert r.get_json()["supervisor"]["id"] == people.supervisor.id
    assert r.get_json()["display_name"] == "Tess T."
    # only active supervisors
    r = client.patch(url, json={"supervisor_id": people.admin.id}, headers=headers)
    assert "supervisor" in assert_problem(r, 422)["errors"]
    assert load_user(app, people.trainee.id).supervisor_id == people.supervisor.id


def test_patch_active(app, client, people, api):
    headers = api("admin")
    trainee_token = token_for(app, people.trainee.id)
    url = f"/api/v1/users/{people.trainee.id}"
    r = client.patch(url, json={"active": False}, headers=headers)
    assert r.status_code == 200
    assert r.get_json()["status"] == "deactivated"
    assert_problem(client.get("/api/v1/me", headers=bearer(trainee_token)), 401)
    r = client.patch(url, json={"active": True}, headers=headers)
    assert r.get_json()["status"] == "active"
    assert client.get("/api/v1/me", headers=bearer(trainee_token)).status_code == 200


def test_patch_is_all_or_nothing(app, client, people, api):
    """A refused part of a PATCH undoes the parts before it."""
    r = client.patch(f"/api/v1/users/{people.trainee.id}",
                     json={"display_name": "Changed Name", "supervisor_id": people.admin.id}, headers=api("admin"))
    assert r.status_code == 422
    assert load_user(app, people.trainee.id).display_name == "Tess Trainee"


def test_patch_own_role_is_409(app, client, people, api):
    headers = api("admin")
    body = assert_problem(client.patch(f"/api/v1/users/{people.admin.id}", json={"role": "trainee"},
                                       headers=headers), 409)
    assert "own role" in body["detail"]
    assert load_user(app, people.admin.id).role is Role.ADMIN
    assert_problem(client.patch(f"/api/v1/users/{people.admin.id}", json={"active": False}, headers=headers), 409)
    assert load_user(app, people.admin.id).active


def test_patch_unknown_user_is_404(client, people, api):
    assert_problem(client.patch("/api/v1/users/987654", json={"role": "trainee"}, headers=api("admin")), 404)


# ---------------------------------------------------------------- routing errors


@pytest.mark.parametrize("authenticated", [False, True])
def test_unknown_api_path_is_404_problem(client, people, api, authenticated):
    headers = api("trainee") if authenticated else {}
    for path in ("/api/v1/nope", "/api/v1/users/abc", "/api/v2/me", "/api/v1/"):
        assert_problem(client.get(path, headers=headers), 404)


def test_wrong_method_is_405_problem(client, people, api):
    headers = api("admin")
    for method, path in (("DELETE", f"/api/v1/users/{people.trainee.id}"), ("PUT", "/api/v1/me"),
                         ("POST", "/api/v1/me"), ("DELETE", "/api/v1/users")):
        r = client.open(path, method=method, headers=headers)
        assert_problem(r, 405)
        assert r.headers.get("Allow"), (method, path)
        assert method not in r.headers["Allow"]


# ---------------------------------------------------------------- the OpenAPI document


def test_openapi_document_is_valid_openapi_3_1(client):
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1.")
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_openapi_document_describes_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    base = doc["servers"][0]["url"]
    assert base == "/api/v1"
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(base + "/")]
    assert len(rules) >= 6
    missing = []
    for rule in rules:
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule[len(base):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"].get(path, {}).get(method.lower())
            if operation is None:
                missing.append(f"{method} {path}")
                continue
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in operation.get("parameters", [])), (
                    f"{method} {path} does not describe {name}")
    assert not missing, missing
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    routed = {(m.lower(), re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", r.rule[len(base):]))
              for r in rules for m in r.methods - {"HEAD", "OPTIONS"}}
    assert documented <= routed, documented - routed


def test_openapi_document_is_public_and_describes_errors(client, people):
    doc = client.get("/api/v1/openapi.json").get_json()
    create = doc["paths"]["/users"]["post"]
    assert {"201", "401", "409", "422"} <= set(create["responses"])
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/UserCreate"
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert "is_admin" not in doc["components"]["schemas"]["UserCreate"]["properties"]


# ---------------------------------------------------------------- health check


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json()["status"] == "ok"


def test_healthz_with_a_broken_database_is_503(tmp_path):
    # built directly, not with app_factory, whose clean-up would try to empty this database
    broken = create_app(app_config("sqlite:////nonexistent/dir/x.db", tmp_path / "instance"))
    r = broken.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.get_json()["status"] != "ok"
    assert "Traceback" not in r.get_data(as_text=True)


def test_healthz_with_an_empty_database_is_503(tmp_path):
    # a SQLite file removed while the app runs comes back empty at the next connection: not healthy
    empty = create_app(app_config(f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path / "instance"))
    r = empty.test_client().get("/healthz")
    assert (r.status_code, r.get_json()["database"]) == (503, "no schema")
    assert r.headers["Retry-After"]
