"""Real concurrency on groups: threads released together, each with its own app context, session and connection.
However many leads press "held" at once, one record and one set of practicum entries; however many admins
assign leads at once, the group ends with exactly one.

On PostgreSQL (CI) the group's row lock and the unique keys do the work; on SQLite the single writer lock does."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.certification.models import PracticumEntry
from lms.db import db
from lms.groups import services
from lms.groups.models import Group, GroupMember, GroupRole, GroupSession, SessionStatus
from tests import factories
from tests.certification_support import make_cert_tree, make_certificate
from tests.concurrency import N, count, outcome, together
from tests.groups_support import T0, TODAY, after, make_group


def test_simultaneous_held_records_give_one(app, people, tmp_path):
    make_cert_tree(app, tmp_path / "content")
    make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    gid = make_group(app, people.admin.id, now=T0 - timedelta(days=7), lead_id=people.trainee.id,
                     co_ids=(people.other_trainee.id,))
    day = TODAY - timedelta(days=7)

    def record(i: int) -> str:
        return outcome(app, lambda: services.record_session_held(
            db.session.get(Group, gid), day, actor=db.session.get(User, people.trainee.id), duration_minutes=90,
            attendance_count=i, co_facilitator_ids=[people.other_trainee.id], now=after(day)))

    results = together(record)
    assert sorted(results) == ["Conflict"] * (N - 1) + ["ok"], results
    with app.app_context():
        assert count(GroupSession, GroupSession.group_id == gid, GroupSession.status == SessionStatus.HELD) == 1
        assert count(PracticumEntry, PracticumEntry.user_id == people.other_trainee.id) == 1
        assert count(AuditEvent, AuditEvent.action == "group_session.held") == 1


def test_simultaneous_lead_assignments_leave_one_lead(app, people, tmp_path):
    make_cert_tree(app, tmp_path / "content")
    leads = [people.trainee.id, people.other_trainee.id]
    make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    make_certificate(app, people.other_trainee.id, people.other_supervisor.id, people.admin.id)
    gid = make_group(app, people.admin.id)
    with app.app_context():
        admins = [people.admin.id] + [factories.make_user(Role.ADMIN).id for _ in range(N - 1)]

    def assign(i: int) -> str:
        return outcome(app, lambda: services.assign_lead(db.session.get(Group, gid),
                                                         db.session.get(User, leads[i % 2]),
                                                         actor=db.session.get(User, admins[i]), now=T0))

    results = together(assign)
    assert results == ["ok"] * N, results  # each waits for the one before, then replaces it
    with app.app_context():
        (lead,) = db.session.scalars(select(GroupMember).where(GroupMember.group_id == gid,
                                                               GroupMember.role == GroupRole.LEAD))
        assert db.session.scalar(select(func.count(func.distinct(GroupSession.lead_id))).where(
            GroupSession.group_id == gid)) == 1
        assert db.session.scalar(select(GroupSession.lead_id).where(GroupSession.group_id == gid).limit(1)) == \
            lead.user_id
