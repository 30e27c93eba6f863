"""CSRF on every state change the URL map has (POST, PUT, PATCH, DELETE; pages and cookie-authenticated API calls):
made by someone the authorization matrix lets through, without a token, with a made-up one and with the token of
another session, it is refused with 400 and changes nothing (not a row, not a mail); with its own session's token
the same request gets what the matrix says."""

from __future__ import annotations

from lms.accounts.models import Role, User
from lms.db import db
from tests.security.matrix import EXPECTED, first_allowed, outcome, walk_order
from tests.security.routes import (
    STATE_CHANGING,
    body_for,
    changed_tables,
    client_for,
    clients,
    routes,
    snapshot,
    text,
    url_for_route,
)
from tests.security.world import ROLES


def is_csrf_refusal(route, response) -> bool:
    if response.status_code != 400:
        return False
    if route.api:
        return response.mimetype == "application/problem+json" and \
            response.get_json()["title"] == "CSRF token missing or invalid"
    return "The form expired" in text(response)


def test_every_change_needs_the_csrf_token_of_its_own_session(app, world, outbox):
    found = routes(app, STATE_CHANGING)
    assert {("POST", "/logout"), ("POST", "/login"), ("POST", "/admin/users/<int:user_id>/role"),
            ("POST", "/verify/<path:code>"), ("PUT", "/api/v1/attempts/<int:attempt_id>/answers"),
            ("PATCH", "/api/v1/users/<int:user_id>"), ("DELETE", "/api/v1/groups/<int:group_id>/lead")} <= {
        (r.method, r.rule) for r in found}
    browsers = clients(app, world)
    strangers = {who: client_for(app, world, who).token for who in ROLES}  # the same person's other session
    failures: list[str] = []
    for route in walk_order(found):
        who = first_allowed(route)
        client, url, body = browsers[who], url_for_route(route, world), body_for(route, world, who=who)
        before, mails = snapshot(app), len(outbox.messages())
        for label, csrf in (("no token", False), ("a made-up token", "forged-token"),
                            ("the token of another session", strangers[who])):
            r = client.open(route.method, url, api=route.api, body=body, csrf=csrf)
            if not is_csrf_refusal(route, r):
                failures.append(f"{route.key} as {who} with {label}: {r.status_code}, not the CSRF refusal")
        if changed := changed_tables(before, snapshot(app)):
            failures.append(f"{route.key} as {who}: requests without the right token changed {changed}")
        if len(outbox.messages()) != mails:
            failures.append(f"{route.key} as {who}: requests without the right token sent mail")
        r = client.open(route.method, url, api=route.api, body=body)
        if is_csrf_refusal(route, r) or not outcome(r) & set(EXPECTED[route.key][who]):
            failures.append(f"{route.key} as {who} with the token: {r.status_code}, the matrix says "
                            f"{'|'.join(EXPECTED[route.key][who])}")
    assert not failures, "\n".join(failures)
    print(f"\nCSRF: {len(found)} state-changing routes, each refused three ways and let through with the token")


def test_the_token_lets_a_change_through_and_its_absence_does_not(app, people, login_as):
    """The pair in one place: the same role change, refused without the token and made with it."""
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}/role"
    assert admin.client.post(url, data={"role": "supervisor"}).status_code == 400
    with app.app_context():
        assert db.session.get(User, people.trainee.id).role is Role.TRAINEE
    r = admin.submit("/settings", url, data={"role": "supervisor"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(User, people.trainee.id).role is Role.SUPERVISOR
