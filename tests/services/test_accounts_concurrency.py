"""Real concurrency on accounts: threads released together, each with its own app context, session and
connection. Two administrators who remove each other at the same moment leave one of them; however many press
"reactivate" or "change role" at once, one change and one audit entry.

On PostgreSQL (CI) the administrators' row locks (taken in id order) do the work; on SQLite the writer lock."""

from __future__ import annotations

import pytest

from lms.accounts import services
from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.db import db
from tests import factories
from tests.concurrency import N, count, outcome, together

REMOVALS = {
    "deactivate": lambda user, actor: services.deactivate_user(user, actor=actor),
    "demote": lambda user, actor: services.change_role(user, Role.SUPERVISOR, actor=actor),
}


@pytest.mark.parametrize("first, second", [("deactivate", "deactivate"), ("demote", "demote"),
                                           ("deactivate", "demote")])
def test_two_administrators_removing_each_other_at_once_leave_one(app, people, first, second):
    with app.app_context():
        other = factories.make_user(Role.ADMIN).id
    pairs = [(people.admin.id, other, REMOVALS[first]), (other, people.admin.id, REMOVALS[second])]

    def remove(i: int) -> str:
        actor_id, target_id, action = pairs[i]
        return outcome(app, lambda: action(db.session.get(User, target_id), db.session.get(User, actor_id)))

    results = together(remove, n=2)
    # the second is refused: as the last administrator left (Conflict), or, when the first had finished before
    # the second began, because its actor is no longer an administrator at all (PermissionDenied)
    assert sorted(results) in (["Conflict", "ok"], ["PermissionDenied", "ok"]), results
    with app.app_context():
        assert count(User, User.role == Role.ADMIN, User.active.is_(True)) == 1


def test_simultaneous_reactivations_give_one(app, people):
    with app.app_context():
        services.deactivate_user(db.session.get(User, people.trainee.id),
                                 actor=db.session.get(User, people.admin.id))
        db.session.commit()
        admins = [people.admin.id] + [factories.make_user(Role.ADMIN).id for _ in range(N - 1)]

    def reactivate(i: int) -> str:
        return outcome(app, lambda: services.reactivate_user(db.session.get(User, people.trainee.id),
                                                             actor=db.session.get(User, admins[i])))

    results = together(reactivate)
    assert sorted(results) == ["Conflict"] * (N - 1) + ["ok"], results
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "user.reactivated") == 1


def test_simultaneous_role_changes_give_one(app, people):
    with app.app_context():
        admins = [people.admin.id] + [factories.make_user(Role.ADMIN).id for _ in range(N - 1)]

    def promote(i: int) -> str:
        return outcome(app, lambda: services.change_role(db.session.get(User, people.trainee.id), Role.SUPERVISOR,
                                                         actor=db.session.get(User, admins[i])))

    results = together(promote)
    assert results == ["ok"] * N, results  # the later ones find nothing to change
    with app.app_context():
        assert db.session.get(User, people.trainee.id).role is Role.SUPERVISOR
        assert db.session.get(User, people.trainee.id).supervisor_id is None
        assert count(AuditEvent, AuditEvent.action == "user.role_changed") == 1
