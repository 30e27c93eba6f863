"""Security headers and the content security policy on every answer: every GET route of the URL map for each of the
six people of the world, error pages (400, 403, 404, 405) and API answers (200, 201, 401, 404, 422, the OpenAPI
document); and pages with personal data never kept by shared caches."""

from __future__ import annotations

from lms.accounts import services
from lms.accounts.models import User
from lms.db import db
from tests.security.routes import clients, header_problems, routes, url_for_route
from tests.security.world import ROLES

# Public documents meant for caches and other origins (badge verifiers); everything else is no-store or private.
PUBLIC_CACHE = {"static", "certification.badge_issuer", "certification.badge_jwks", "certification.badge_key",
                "certification.badge_achievement", "certification.badge_status_list"}


def cache_problem(endpoint: str, response) -> str | None:
    cache = response.headers.get("Cache-Control", "")
    if endpoint in PUBLIC_CACHE or "no-store" in cache or "private" in cache:
        return None
    return f"Cache-Control is {cache!r}: a shared cache may keep it"


def test_security_headers_on_every_page_for_every_role(app, world):
    found = routes(app, {"GET"})
    assert {"/", "/login", "/admin/users", "/api/v1/me", "/healthz", "/static/<path:filename>",
            "/certificates/<serial>/pdf", "/calendar/<token>.ics", "/badges/jwks.json"} <= {r.rule for r in found}
    browsers = clients(app, world)
    failures = []
    for route in found:
        url = url_for_route(route, world)
        for who in ROLES:
            r = browsers[who].open("GET", url, api=route.api)
            if r.status_code >= 500:
                failures.append(f"{url} as {who}: {r.status_code}")
            failures += [f"{url} as {who} ({r.status_code}): {p}" for p in header_problems(r)]
            if (problem := cache_problem(route.endpoint, r)) is not None:
                failures.append(f"{url} as {who} ({r.status_code}): {problem}")
    assert not failures, "\n".join(failures)
    print(f"\nheaders: {len(found)} GET routes x {len(ROLES)} roles = {len(found) * len(ROLES)} answers checked")


def test_security_headers_on_errors_and_api_responses(app, people, login_as):
    admin = login_as("admin")
    with app.app_context():
        user = db.session.get(User, people.admin.id)
        secret = services.create_api_token(user, actor=user, name="t").secret
        db.session.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    responses = {
        "404": app.test_client().get("/no/such/page"),
        "404 logged in": admin.get("/no/such/page"),
        "405": admin.get("/logout"),
        "403": login_as("trainee").get("/admin/users"),
        "400 csrf": admin.client.post("/settings/profile", data={}),
        "api 401": app.test_client().get("/api/v1/me"),
        "api 404": app.test_client().get("/api/v1/nope"),
        "api 405": app.test_client().delete("/api/v1/me", headers=bearer),
        "api 200": app.test_client().get("/api/v1/me", headers=bearer),
        "api 201": app.test_client().post("/api/v1/users", headers=bearer,
                                          json={"email": "h@example.org", "display_name": "H"}),
        "api 422": app.test_client().post("/api/v1/users", headers=bearer, json={"nope": 1}),
        "openapi": app.test_client().get("/api/v1/openapi.json"),
        "redirect": app.test_client().get("/"),
    }
    assert {name: r.status_code for name, r in responses.items()} == {
        "404": 404, "404 logged in": 404, "405": 405, "403": 403, "400 csrf": 400, "api 401": 401, "api 404": 404,
        "api 405": 405, "api 200": 200, "api 201": 201, "api 422": 422, "openapi": 200, "redirect": 302}
    failures = [f"{name}: {p}" for name, r in responses.items() for p in header_problems(r)]
    assert not failures, "\n".join(failures)
    assert responses["api 200"].headers.get("Cache-Control") == "no-store"
