"""`lms assign-lead` goes through the same gate as the pages and the API; `lms run-maintenance` keeps sessions
scheduled ahead."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.db import db
from lms.groups.models import Group, GroupSession
from tests.certification_support import make_cert_tree, make_certificate
from tests.groups_support import make_group


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


def test_assign_lead_refuses_with_the_reasons_then_assigns_once_certified(app, runner, people, tree):
    gid = make_group(app, people.admin.id)
    refused = runner.invoke(args=["assign-lead", str(gid), people.trainee.email])
    assert refused.exit_code == 1
    assert "Tess Trainee may not lead sessions: Not certified yet" in refused.output
    make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    done = runner.invoke(args=["assign-lead", str(gid), people.trainee.email])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"{people.trainee.email} now leads Tuesday evening group."
    with app.app_context():
        group = db.session.get(Group, gid)
        assert group.lead.id == people.trainee.id
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "group.lead_assigned"))
        assert event.actor_label == "system"


def test_assign_lead_names_what_is_missing(app, runner, people):
    assert "no group with the id 42" in runner.invoke(args=["assign-lead", "42", people.trainee.email]).output
    gid = make_group(app, people.admin.id)
    result = runner.invoke(args=["assign-lead", str(gid), "nobody@example.org"])
    assert result.exit_code == 1 and "no user with the e-mail nobody@example.org" in result.output


def test_run_maintenance_keeps_sessions_ahead(app, runner, people):
    gid = make_group(app, people.admin.id)
    with app.app_context():
        db.session.execute(GroupSession.__table__.delete().where(GroupSession.group_id == gid))
        db.session.commit()
    result = runner.invoke(args=["run-maintenance"])
    assert result.exit_code == 0, result.output
    assert "Scheduled 17 group session(s) ahead." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GroupSession)) == 17
    again = runner.invoke(args=["run-maintenance"])
    assert again.exit_code == 0 and "group session" not in again.output  # nothing new: nothing said
