"""Insecure direct object references: every argument of the URL map that names an object (a person, a token, a
certification request, a practicum entry, a quiz attempt, a certificate serial, a group) is tried with a real object
of someone else, by people who must not see it, in both directions (Tess Trainee's things by Theo Trainee and Sky
Supervisor, Theo's by Tess and Sam Supervisor). Someone else's object must get exactly the answer an object that
does not exist gets (404, or 403 where the route is closed to the role whatever the object), so the answer says
nothing about what exists; a change must change nothing; and the object's own people do get it."""

from __future__ import annotations

import re

from sqlalchemy import select

from lms.accounts.models import ApiToken, User
from lms.certification.models import Certificate, CertificationRequest, PracticumEntry
from lms.db import db
from lms.groups.models import GroupMember, GroupRole
from lms.quizzes.models import Attempt
from tests.security.routes import (
    Route,
    body_for,
    changed_tables,
    clients,
    fill,
    routes,
    snapshot,
    url_values,
)
from tests.security.world import Objects, World

OBJECT_ARGS = ("user_id", "token_id", "request_id", "entry_id", "attempt_id", "serial", "group_id")
NOT_OWNED = {  # the other arguments of the URL map, and why nobody owns what they name
    "slug": "a course, quiz or program: the same for everyone", "lesson_slug": "a lesson: the same for everyone",
    "lesson_id": "a lesson: the same for everyone", "name": "an administrators' report", "filename": "a static file",
    "day": "a date within the group named beside it", "thumbprint": "the badge issuer's public key",
    "code": "a certificate's public verification code", "token": "a secret that is itself the credential",
}


def owner_of(arg: str, value) -> int | None:
    """Whose object the argument names, from the database: so a refusal cannot be the object's absence."""
    if arg == "user_id":
        return db.session.scalar(select(User.id).where(User.id == value))
    if arg == "serial":
        return db.session.scalar(select(Certificate.user_id).where(Certificate.serial == value))
    if arg == "group_id":
        return db.session.scalar(select(GroupMember.user_id).where(GroupMember.group_id == value,
                                                                   GroupMember.role == GroupRole.LEAD))
    model = {"token_id": ApiToken, "request_id": CertificationRequest, "entry_id": PracticumEntry,
             "attempt_id": Attempt}[arg]
    return db.session.scalar(select(model.user_id).where(model.id == value))


def missing(arg: str, value) -> object:
    """An id of the same shape that names nothing."""
    return re.sub(r"\d{6}$", "999999", value) if arg == "serial" else 999999


def directions(world: World) -> list[tuple[Objects, tuple[str, ...], tuple[str, ...]]]:
    """(whose objects, who must not see them, who may)."""
    return [(world.mine, ("other_trainee", "other_supervisor"), ("trainee", "supervisor")),
            (world.theirs, ("trainee", "supervisor"), ("other_trainee", "other_supervisor"))]


def object_routes(app) -> list[Route]:
    return [r for r in routes(app) if set(r.args) & set(OBJECT_ARGS)]


def is_success(response) -> bool:
    if 300 <= response.status_code < 400:
        return not response.headers["Location"].startswith("/login")
    return 200 <= response.status_code < 300


def test_someone_elses_object_is_answered_as_if_it_did_not_exist(app, world):
    found = object_routes(app)
    unknown = {a for r in routes(app) for a in r.args} - set(OBJECT_ARGS) - set(NOT_OWNED)
    assert not unknown, f"new URL arguments {unknown}: add them to OBJECT_ARGS (and owner_of, the world) or NOT_OWNED"
    assert {a for r in found for a in r.args} >= set(OBJECT_ARGS)
    browsers = clients(app, world, ("trainee", "other_trainee", "supervisor", "other_supervisor"))
    bearer = {who: {"Authorization": f"Bearer {world.secrets[who]}"} for who in browsers}

    def ask(who: str, route: Route, url: str, objects: Objects):
        headers = bearer[who] if route.api else None  # the API by each person's token, pages by their session
        return browsers[who].open(route.method, url, api=route.api, body=body_for(route, world, objects),
                                  csrf=not route.api, headers=headers)

    failures: list[str] = []
    attempts = scoped = gated = 0
    for route in found:
        for objects, intruders, rightful in directions(world):
            values = url_values(route, world, objects, spare=False)
            real = fill(route.rule, values)
            before = snapshot(app) if route.changes_state else None
            answers = set()
            for arg in (a for a in route.args if a in OBJECT_ARGS):
                absent = fill(route.rule, {**values, arg: missing(arg, values[arg])})
                with app.app_context():
                    owner = owner_of(arg, values[arg])
                    assert owner_of(arg, missing(arg, values[arg])) is None
                assert owner == objects.user_id, f"{route.key}: {arg}={values[arg]} is not the owner's"
                for who in intruders:
                    assert owner != world.user(who).id
                    theirs, nothing = ask(who, route, real, objects), ask(who, route, absent, objects)
                    attempts += 1
                    answers.add(theirs.status_code)
                    if theirs.status_code not in (403, 404):
                        failures.append(f"{route.key} as {who}: {real} (someone else's {arg}) got "
                                        f"{theirs.status_code}")
                    elif theirs.status_code != nothing.status_code:
                        failures.append(f"{route.key} as {who}: {theirs.status_code} for someone else's {arg} but "
                                        f"{nothing.status_code} for none: the answer tells what exists")
                    else:
                        scoped += theirs.status_code == 404
                        gated += theirs.status_code == 403
            if before is not None and (changed := changed_tables(before, snapshot(app))):
                failures.append(f"{route.key}: refused requests for someone else's objects changed {changed}")
            # The object's own people get it, unless the page is closed to their roles too (administrators' pages).
            if route.method == "GET" and answers != {403} and not any(
                    is_success(ask(who, route, real, objects)) for who in rightful):
                failures.append(f"{route.key}: neither {' nor '.join(rightful)} gets {real}, so its 404 proves nothing")
    assert not failures, "\n".join(failures)
    print(f"\nIDOR: {attempts} requests for someone else's object over {len(found)} routes: {scoped} answered 404 "
          f"as for no object, {gated} closed to the role (403) as for no object")
    assert scoped > gated > 0


def test_a_supervisor_cannot_choose_another_supervisors_dashboard(app, people, login_as):
    """The one id a page takes from its query string: whose trainees the supervision dashboard shows."""
    sam = login_as("supervisor")
    r = sam.get(f"/supervision?supervisor={people.other_supervisor.id}")
    assert r.status_code == 403
    assert people.other_trainee.display_name not in r.get_data(as_text=True)
    mine = sam.get(f"/supervision?supervisor={people.supervisor.id}").get_data(as_text=True)
    assert people.trainee.display_name in mine and people.other_trainee.display_name not in mine
    theirs = login_as("admin").get(f"/supervision?supervisor={people.other_supervisor.id}").get_data(as_text=True)
    assert people.other_trainee.display_name in theirs and people.trainee.display_name not in theirs
