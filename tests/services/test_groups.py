"""Groups services: creating and editing groups with every field checked, status changes, the leadership gate
(assigning a lead only while certified, and stepping down when the certificate is revoked or expires), sessions
materialised ahead and recorded as held (with the practicum entries that makes), cancellation, the calendar feed
and its secret; and the constraints behind them."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.certification import maintenance
from lms.certification import services as certification
from lms.certification.models import Certificate, EntryStatus, PracticumEntry, PracticumKind
from lms.db import db, utcnow
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.groups import services
from lms.groups.models import (
    CalendarFeed,
    Group,
    GroupMember,
    GroupRole,
    GroupSession,
    GroupStatus,
    SessionStatus,
)
from tests.certification_support import make_cert_tree, make_certificate
from tests.groups_support import T0, TODAY, ZOOM, after, group_fields, make_group, session_start

WEEK = timedelta(days=7)


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


@pytest.fixture
def certified(app, people, tree) -> str:
    """Tess (people.trainee) certified today; returns the serial."""
    return make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


def group(group_id: int) -> Group:
    return db.session.get(Group, group_id)


def rows(group_id: int) -> list[GroupSession]:
    return list(db.session.scalars(select(GroupSession).where(GroupSession.group_id == group_id)
                                   .order_by(GroupSession.session_date)))


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def entries(user_id: int) -> list[PracticumEntry]:
    return list(db.session.scalars(select(PracticumEntry).where(PracticumEntry.user_id == user_id)
                                   .order_by(PracticumEntry.id)))


# ---------------------------------------------------------------- creating and editing


def test_create_group_makes_sessions_ahead_and_needs_a_lead(app_ctx, people):
    g = services.create_group(actor=user(people.admin.id), now=T0, **group_fields())
    db.session.commit()
    assert g.status is GroupStatus.ACTIVE and g.needs_lead and g.lead is None
    assert g.start_time == time(19, 0) and g.weekday == TODAY.weekday()
    made = rows(g.id)
    assert len(made) == services.HORIZON_WEEKS + 1  # today's and 16 weeks ahead
    assert made[0].session_date == TODAY and made[0].starts_at == session_start(TODAY)
    assert all(r.status is SessionStatus.SCHEDULED and r.lead_id is None for r in made)
    assert services.groups_needing_lead() == [g]
    (created,) = events("group.created")
    assert created.actor_id == people.admin.id and created.subject_label == "Tuesday evening group"
    assert created.data["start_time"] == "19:00" and created.data["meeting_url_changed"] is True
    assert ZOOM not in str(created.data)  # the room's link stays out of the audit trail


def test_every_wrong_field_is_named(app_ctx, people):
    with pytest.raises(ValidationFailed) as caught:
        services.create_group(actor=user(people.admin.id), name=" ", weekday=7, start_time="7pm",
                              duration_minutes=5, timezone="Europe/Londres", meeting_url="http://zoom.us/j/1",
                              capacity=0, description="x" * 2001)
    assert set(caught.value.errors) == {"name", "weekday", "start_time", "duration_minutes", "timezone",
                                        "meeting_url", "capacity", "description"}
    assert "IANA" in caught.value.errors["timezone"][0]
    assert db.session.scalar(select(func.count()).select_from(Group)) == 0


@pytest.mark.parametrize("url", [
    "http://zoom.us/j/1", "https://zoom.us.example.com/j/1", "https://evilzoom.us/j/1", "https://user:pw@zoom.us/j/1",
    "https://zoom.us:8443/j/1", "https://evil.example\\@zoom.us/j/1", "https://zoom.us/j/1 2", "javascript:alert(1)",
    "https://meet.google.com/abc", "https://zoom.üs/j/1", "", "https://" + "a" * 500 + ".zoom.us/"])
def test_meeting_links_must_be_https_zoom(url):
    assert services.meeting_url_problem(url) is not None


@pytest.mark.parametrize("url", ["https://zoom.us/j/81234567890", "https://us02web.zoom.us/j/1?pwd=abc",
                                 "https://pnd.zoom.us/my/room", "https://ZOOM.us/j/1"])
def test_zoom_links_are_accepted(url):
    assert services.meeting_url_problem(url) is None


def test_strings_from_forms_are_accepted(app_ctx, people):
    g = services.create_group(actor=user(people.admin.id), now=T0, **group_fields(
        weekday=str(TODAY.weekday()), start_time="9:05", duration_minutes="60", capacity="20",
        meeting_url="HTTPS://zoom.us/j/1"))
    assert (g.start_time, g.duration_minutes, g.capacity) == (time(9, 5), 60, 20)
    assert g.meeting_url == "https://zoom.us/j/1"  # the database CHECK wants lower-case https://


def test_names_are_unique_whatever_the_case(app_ctx, people):
    services.create_group(actor=user(people.admin.id), now=T0, **group_fields())
    with pytest.raises(Conflict) as caught:
        services.create_group(actor=user(people.admin.id), now=T0, **group_fields(name="TUESDAY  evening group"))
    assert list(caught.value.errors) == ["name"]


@pytest.mark.parametrize("who", ["supervisor", "trainee"])
def test_only_admins_create_and_edit(app_ctx, people, who):
    with pytest.raises(PermissionDenied):
        services.create_group(actor=user(getattr(people, who).id), **group_fields())
    g = services.create_group(actor=None, now=T0, **group_fields())  # an operator at the shell
    with pytest.raises(PermissionDenied):
        services.update_group(g, actor=user(getattr(people, who).id), capacity=3)
    with pytest.raises(PermissionDenied):
        services.change_group_status(g, "paused", actor=user(getattr(people, who).id))


def test_a_new_schedule_replaces_sessions_ahead_and_keeps_the_past(app, people, certified):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id)
    with app.app_context():
        services.record_session_held(group(gid), TODAY, actor=user(people.trainee.id), duration_minutes=90,
                                     attendance_count=8, now=after(TODAY))
        db.session.commit()
        later = after(TODAY, hours=5)
        with pytest.raises(ValidationFailed) as caught:
            services.update_group(group(gid), actor=user(people.admin.id), colour="red")
        assert list(caught.value.errors) == ["colour"]
        services.update_group(group(gid), actor=user(people.admin.id), now=later, start_time="18:30",
                              weekday=(TODAY.weekday() + 1) % 7, duration_minutes=60)
        db.session.commit()
        made = rows(gid)
        assert made[0].session_date == TODAY and made[0].status is SessionStatus.HELD  # the past stays
        ahead = made[1:]
        assert ahead[0].session_date == TODAY + timedelta(days=1)
        assert all(r.session_date.weekday() == (TODAY.weekday() + 1) % 7 for r in ahead)
        assert all(r.starts_at.time() == time(18, 30) and r.duration_minutes == 60 for r in ahead)
        assert all(r.lead_id == people.trainee.id for r in ahead)
        (updated,) = events("group.updated")
        assert updated.data == {"start_time": "18:30", "weekday": (TODAY.weekday() + 1) % 7, "duration_minutes": 60}


def test_status_table_pause_resume_close(app_ctx, people):
    admin = user(people.admin.id)
    g = services.create_group(actor=admin, now=T0, **group_fields())
    services.cancel_session(g, TODAY + WEEK, actor=admin, now=T0)
    services.change_group_status(g, GroupStatus.PAUSED, actor=admin, now=T0)
    assert not g.needs_lead  # only an active group needs a lead
    assert [(r.session_date, r.status) for r in rows(g.id)] == [(TODAY + WEEK, SessionStatus.CANCELLED)]
    with pytest.raises(Conflict, match="paused, so it cannot be paused"):
        services.change_group_status(g, "paused", actor=admin, now=T0)
    services.change_group_status(g, "active", actor=admin, now=T0)
    assert len(rows(g.id)) == services.HORIZON_WEEKS + 1
    services.change_group_status(g, "closed", actor=admin, now=T0)
    with pytest.raises(Conflict, match="closed, so it cannot be resumed"):
        services.change_group_status(g, "active", actor=admin, now=T0)
    with pytest.raises(Conflict):
        services.update_group(g, actor=admin, capacity=5)
    with pytest.raises(ValidationFailed):
        services.change_group_status(g, "archived", actor=admin)
    assert [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("group.%"))
                                                 .order_by(AuditEvent.id))] == [
        "group.created", "group.paused", "group.resumed", "group.closed"]


# ---------------------------------------------------------------- the leadership gate


def test_an_uncertified_facilitator_is_refused_with_the_reasons(app, people, tree):
    gid = make_group(app, people.admin.id)
    with app.app_context():
        with pytest.raises(Conflict) as caught:
            services.assign_lead(group(gid), user(people.trainee.id), actor=user(people.admin.id), now=T0)
        assert caught.value.errors == {"user_id": [
            "Not certified yet: the certification checklist shows what is missing."]}
        assert "may not lead sessions" in caught.value.detail
        assert group(gid).needs_lead and events("group.lead_assigned") == []


def test_an_expired_certificate_is_refused_and_a_valid_one_accepted(app, people, certified):
    gid = make_group(app, people.admin.id)
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == certified))
        admin, tess = user(people.admin.id), user(people.trainee.id)
        with pytest.raises(Conflict) as caught:
            services.assign_lead(group(gid), tess, actor=admin, today=cert.valid_until + timedelta(days=1))
        assert "expired after" in caught.value.errors["user_id"][0]
        with pytest.raises(PermissionDenied):
            services.assign_lead(group(gid), tess, actor=user(people.supervisor.id))
        member = services.assign_lead(group(gid), tess, actor=admin, now=T0)
        db.session.commit()
        assert member.role is GroupRole.LEAD and group(gid).lead == tess and not group(gid).needs_lead
        assert all(r.lead_id == tess.id for r in rows(gid))
        (assigned,) = events("group.lead_assigned")
        assert assigned.data["lead"] == tess.email and assigned.data["certificate"] == certified
        assert services.assign_lead(group(gid), tess, actor=admin, now=T0) is member  # again: nothing changes
        assert len(events("group.lead_assigned")) == 1


def test_a_revoked_certificate_is_refused(app, people, certified):
    gid = make_group(app, people.admin.id)
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == certified))
        certification.revoke_certificate(cert, actor=user(people.admin.id), reason="Breach of the code of conduct.")
        db.session.commit()
        with pytest.raises(Conflict) as caught:
            services.assign_lead(group(gid), user(people.trainee.id), actor=user(people.admin.id))
        assert caught.value.errors["user_id"][0].startswith(f"Certificate {certified} was revoked on")


def test_a_co_facilitator_can_become_lead_and_the_old_lead_leaves(app, people, certified, tree):
    gid = make_group(app, people.admin.id, co_ids=(people.trainee.id, people.other_trainee.id))
    with app.app_context():
        admin = user(people.admin.id)
        services.assign_lead(group(gid), user(people.trainee.id), actor=admin, now=T0)
        db.session.commit()
        g = group(gid)
        assert g.role_of(user(people.trainee.id)) is GroupRole.LEAD
        assert g.co_facilitators == [user(people.other_trainee.id)]
        services.remove_lead(g, actor=admin, now=T0)
        db.session.commit()
        assert g.needs_lead and g.role_of(user(people.trainee.id)) is None
        assert all(r.lead_id is None for r in rows(gid))
        with pytest.raises(Conflict):
            services.remove_lead(g, actor=admin)


def test_co_facilitators_are_active_trainee_accounts(app_ctx, people):
    admin = user(people.admin.id)
    g = services.create_group(actor=admin, now=T0, **group_fields())
    with pytest.raises(ValidationFailed):
        services.add_co_facilitator(g, user(people.supervisor.id), actor=admin)
    services.add_co_facilitator(g, user(people.other_trainee.id), actor=admin)
    with pytest.raises(Conflict, match="already the group's co-facilitator"):
        services.add_co_facilitator(g, user(people.other_trainee.id), actor=admin)
    services.remove_co_facilitator(g, user(people.other_trainee.id), actor=admin)
    with pytest.raises(NotFound):
        services.remove_co_facilitator(g, user(people.other_trainee.id), actor=admin)
    assert [e.action for e in events("group.co_facilitator_added") + events("group.co_facilitator_removed")] == [
        "group.co_facilitator_added", "group.co_facilitator_removed"]


def test_the_database_allows_one_lead_per_group_and_one_membership_per_person(app_ctx, people):
    g = services.create_group(actor=None, now=T0, **group_fields())
    db.session.add(GroupMember(group_id=g.id, user_id=people.trainee.id, role=GroupRole.LEAD))
    db.session.commit()
    db.session.add(GroupMember(group_id=g.id, user_id=people.other_trainee.id, role=GroupRole.LEAD))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(GroupMember(group_id=g.id, user_id=people.trainee.id, role=GroupRole.CO_FACILITATOR))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_revocation_steps_the_lead_down_from_sessions_ahead_only(app, people, certified, outbox):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id)
    other = make_group(app, people.admin.id, lead_id=people.trainee.id, name="Thursday morning group")
    with app.app_context():
        services.change_group_status(group(other), "closed", actor=user(people.admin.id))
        services.record_session_held(group(gid), TODAY, actor=user(people.trainee.id), duration_minutes=90,
                                     attendance_count=7, now=after(TODAY))
        db.session.commit()
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == certified))
        # a week later, after the second session started but before the third
        moment = after(TODAY + WEEK, hours=1)
        certification.revoke_certificate(cert, actor=user(people.admin.id), reason="Breach of the code of conduct.",
                                         now=moment)
        db.session.commit()
        g = group(gid)
        assert g.lead is None and g.needs_lead
        leads = {r.session_date: r.lead_id for r in rows(gid)}
        assert leads[TODAY] == people.trainee.id  # held and recorded: unchanged
        assert leads[TODAY + WEEK] == people.trainee.id  # started before the revocation: as it was
        assert all(lead is None for day, lead in leads.items() if day > TODAY + WEEK)
        removed = events("group.lead_removed")
        assert [(e.subject_id, e.actor_id, e.data["reason"], e.data["certificate"]) for e in removed] == [
            (str(gid), people.admin.id, "revoked", certified), (str(other), people.admin.id, "revoked", certified)]
        assert removed[0].data["sessions"] == services.HORIZON_WEEKS - 1
        # the admins are told about the open group only
        (mail,) = [m for m in outbox.messages() if m["To"] == people.admin.email and "lead" in m["Subject"]]
        assert mail["Subject"] == "Group needs a lead: Tuesday evening group"
        body = outbox.body(mail)
        assert "Tess Trainee" in body and f"certificate {certified} was revoked" in body
        assert "Thursday morning group" not in body and f"lms assign-lead {gid}" not in body
        assert "lms assign-lead <group id> <e-mail>" in body
        # the gate stays shut
        with pytest.raises(Conflict):
            services.assign_lead(g, user(people.trainee.id), actor=user(people.admin.id))


def test_deactivating_the_lead_steps_them_down(app, people, certified, outbox):
    from lms.accounts import services as accounts

    gid = make_group(app, people.admin.id, lead_id=people.trainee.id)
    with app.app_context():
        accounts.deactivate_user(user(people.trainee.id), actor=user(people.admin.id))
        db.session.commit()
        g = group(gid)
        assert g.lead is None and g.needs_lead
        assert all(r.lead_id is None for r in rows(gid) if r.starts_at > utcnow())
        (removed,) = events("group.lead_removed")
        assert (removed.actor_id, removed.data["reason"]) == (people.admin.id, "deactivated")
    (mail,) = [m for m in outbox.messages() if m["To"] == people.admin.email and "lead" in m["Subject"]]
    assert "their account was deactivated" in outbox.body(mail)


def test_maintenance_expiry_steps_the_lead_down_too(app, people, certified, outbox):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id)
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == certified))
        last = cert.valid_until
        before = datetime.combine(last - timedelta(days=20), time(12), tzinfo=UTC)
        assert services.extend_schedules(now=before) > 0  # maintenance keeps the sessions materialised
        db.session.commit()
        noticed = datetime.combine(last + timedelta(days=1), time(12), tzinfo=UTC)
        assert maintenance.expire_certificates(now=noticed) == 1
        db.session.commit()
        assert group(gid).needs_lead
        late = [r for r in rows(gid) if r.session_date >= last - timedelta(days=20)]
        assert late and all((r.lead_id is None) == (r.starts_at > noticed) for r in late)
        (removed,) = events("group.lead_removed")
        assert removed.actor_id is None and removed.actor_label == "system" and removed.data["reason"] == "expired"
        mail = outbox.last_to(people.admin.email)
        assert mail["Subject"] == "Group needs a lead: Tuesday evening group"
        assert "has expired" in outbox.body(mail)


def test_a_lapse_changes_nothing_while_the_person_may_still_lead(app, people, certified):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id)
    with app.app_context():
        assert services.step_down_lapsed_lead(user(people.trainee.id), actor=None, now=T0, reason="revoked") == []
        assert group(gid).lead == user(people.trainee.id)


# ---------------------------------------------------------------- sessions


def test_holding_a_session_logs_practicum_for_the_trainee_and_a_led_session_for_the_lead(app, people, certified,
                                                                                         outbox):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id, co_ids=(people.other_trainee.id,))
    with app.app_context():
        tess, theo = user(people.trainee.id), user(people.other_trainee.id)
        before_tess = len(entries(tess.id))
        row = services.record_session_held(group(gid), TODAY, actor=tess, duration_minutes=95, attendance_count=9,
                                           co_facilitator_ids=[theo.id, theo.id], note="  Topic: cravings.  ",
                                           now=after(TODAY))
        db.session.commit()
        assert (row.status, row.held_minutes, row.attendance_count, row.note) == (SessionStatus.HELD, 95, 9,
                                                                                  "Topic: cravings.")
        assert row.recorded_by_id == tess.id and [c.user_id for c in row.co_facilitations] == [theo.id]
        (co_entry,) = entries(theo.id)
        assert (co_entry.kind, co_entry.status, co_entry.source, co_entry.session_date, co_entry.group_name) == (
            PracticumKind.CO_FACILITATED, EntryStatus.PENDING, "group", TODAY, "Tuesday evening group")
        assert co_entry.reflection.startswith(
            f"Co-facilitated the Tuesday evening group session on {TODAY.day} {TODAY:%B %Y}, recorded by the lead "
            "Tess Trainee.")
        assert row.co_facilitations[0].practicum_entry_id == co_entry.id
        led = entries(tess.id)[before_tess:]
        assert [(e.kind, e.status, e.source) for e in led] == [(PracticumKind.LED, EntryStatus.PENDING, "group")]
        assert row.lead_entry_id == led[0].id and "95 minutes, 9 taking part" in led[0].reflection
        # each supervisor is asked to confirm their own trainee's entry
        assert outbox.last_to(people.other_supervisor.email)["Subject"] == \
            "Practicum entry to review: Theo Trainee"
        assert outbox.last_to(people.supervisor.email)["Subject"] == "Practicum entry to review: Tess Trainee"
        (held,) = events("group_session.held")
        assert held.subject_label == f"Tuesday evening group, {TODAY.isoformat()}"
        assert held.data["practicum_for"] == [theo.email] and held.data["attendance"] == 9
        # twice is a conflict: the first record and its entries stand
        with pytest.raises(Conflict, match="already recorded as held, by Tess Trainee"):
            services.record_session_held(group(gid), TODAY, actor=tess, duration_minutes=60, attendance_count=1,
                                         now=after(TODAY))
        assert len(entries(theo.id)) == 1


def test_a_certified_co_facilitator_gets_no_practicum_entry(app, people, certified):
    make_certificate(app, people.other_trainee.id, people.other_supervisor.id, people.admin.id)
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id, co_ids=(people.other_trainee.id,))
    with app.app_context():
        before_theo = len(entries(people.other_trainee.id))
        services.record_session_held(group(gid), TODAY, actor=user(people.admin.id), duration_minutes=90,
                                     attendance_count=3, co_facilitator_ids=[people.other_trainee.id],
                                     now=after(TODAY))
        db.session.commit()
        assert len(entries(people.other_trainee.id)) == before_theo
        led = entries(people.trainee.id)[-1]
        assert led.kind is PracticumKind.LED and "recorded by Ada Admin (administrator)" in led.reflection


def test_recording_checks_who_when_and_what(app, people, certified):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id, co_ids=(people.other_trainee.id,))
    with app.app_context():
        tess = user(people.trainee.id)
        g = group(gid)
        with pytest.raises(PermissionDenied):
            services.record_session_held(g, TODAY, actor=user(people.other_trainee.id), duration_minutes=90,
                                         attendance_count=3, now=after(TODAY))
        with pytest.raises(PermissionDenied):
            services.record_session_held(g, TODAY, actor=user(people.supervisor.id), duration_minutes=90,
                                         attendance_count=3, now=after(TODAY))
        with pytest.raises(Conflict, match="has not started yet"):
            services.record_session_held(g, TODAY, actor=tess, duration_minutes=90, attendance_count=3,
                                         now=session_start(TODAY) - timedelta(minutes=1))
        with pytest.raises(NotFound, match="has no session on"):
            services.record_session_held(g, TODAY + timedelta(days=1), actor=tess, duration_minutes=90,
                                         attendance_count=3, now=after(TODAY + timedelta(days=1)))
        with pytest.raises(NotFound):  # before the group existed
            services.record_session_held(g, TODAY - WEEK, actor=tess, duration_minutes=90, attendance_count=3,
                                         now=after(TODAY))
        with pytest.raises(ValidationFailed) as caught:
            services.record_session_held(g, TODAY, actor=tess, duration_minutes=0, attendance_count=25,
                                         co_facilitator_ids=[people.supervisor.id], note="x" * 1001,
                                         now=after(TODAY))
        assert set(caught.value.errors) == {"duration_minutes", "attendance_count", "co_facilitator_ids", "note"}
        with pytest.raises(ValidationFailed):
            services.record_session_held(g, TODAY, actor=tess, duration_minutes=90, attendance_count=-1,
                                         now=after(TODAY))
        row = services.record_session_held(g, TODAY, actor=tess, duration_minutes=90, attendance_count=24,
                                           now=after(TODAY))  # capacity 12: up to 24 (drop-ins)
        assert row.attendance_count == 24
        assert services.get_session(g, TODAY) is row


def test_a_session_without_a_lead_cannot_be_marked_held(app_ctx, people):
    g = services.create_group(actor=None, now=T0, **group_fields())
    with pytest.raises(Conflict, match="no lead facilitator"):
        services.record_session_held(g, TODAY, actor=user(people.admin.id), duration_minutes=90, attendance_count=3,
                                     now=after(TODAY))


def test_cancel_and_reinstate(app, people, certified):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id)
    with app.app_context():
        g, tess = group(gid), user(people.trainee.id)
        next_week = TODAY + WEEK
        with pytest.raises(PermissionDenied):
            services.cancel_session(g, next_week, actor=user(people.other_trainee.id), now=T0)
        row = services.cancel_session(g, next_week, actor=tess, now=T0)
        assert row.status is SessionStatus.CANCELLED
        with pytest.raises(Conflict, match="cancelled, so it cannot be marked held"):
            services.record_session_held(g, next_week, actor=tess, duration_minutes=90, attendance_count=3,
                                         now=after(next_week))
        with pytest.raises(Conflict, match="already started"):
            services.cancel_session(g, TODAY, actor=tess, now=after(TODAY))
        services.reinstate_session(g, next_week, actor=tess, now=T0)
        assert row.status is SessionStatus.SCHEDULED and row.lead_id == tess.id
        assert [e.action for e in events("group_session.cancelled") + events("group_session.reinstated")] == [
            "group_session.cancelled", "group_session.reinstated"]


def test_ensure_sessions_is_idempotent(app_ctx, people):
    g = services.create_group(actor=None, now=T0, **group_fields())
    assert services.ensure_sessions(g, now=T0) == 0
    assert services.ensure_sessions(g, TODAY + timedelta(weeks=20), now=T0) == 4
    assert services.extend_schedules(now=T0) == 0


def test_new_york_sessions_move_in_utc_across_the_change(app_ctx, people):
    now = datetime(2026, 2, 24, 12, tzinfo=UTC)
    g = services.create_group(actor=None, now=now, **group_fields(weekday=1, timezone="America/New_York"))
    starts = {r.session_date: r.starts_at for r in rows(g.id)}
    assert starts[date(2026, 3, 3)] == datetime(2026, 3, 4, 0, 0, tzinfo=UTC)
    assert starts[date(2026, 3, 10)] == datetime(2026, 3, 10, 23, 0, tzinfo=UTC)


# ---------------------------------------------------------------- who sees what


def test_who_sees_groups_and_the_meeting_link(app, people, certified):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id)
    make_group(app, people.admin.id, name="Other group")
    with app.app_context():
        g = group(gid)
        admin, tess, sam, sky, theo = (user(p.id) for p in (people.admin, people.trainee, people.supervisor,
                                                             people.other_supervisor, people.other_trainee))
        assert [x.name for x in services.list_groups(admin)] == ["Other group", "Tuesday evening group"]
        assert services.list_groups(tess) == [g]
        assert services.list_groups(theo) == []
        with pytest.raises(PermissionDenied):
            services.list_groups(sam)
        assert services.get_group(gid, sam) is g  # Tess's supervisor sees the group...
        assert not services.may_see_meeting_link(g, sam)  # ...but not the room
        assert services.may_see_meeting_link(g, tess) and services.may_see_meeting_link(g, admin)
        for outsider in (sky, theo):
            assert not services.may_see_meeting_link(g, outsider)
            with pytest.raises(NotFound):
                services.get_group(gid, outsider)


def test_who_may_ask_whether_someone_may_lead(app, people, certified):
    with app.app_context():
        tess = user(people.trainee.id)
        result = services.facilitator_eligibility(tess)
        assert result.may_lead and result.certificate.serial == certified and result.certificate_status == "valid"
        assert services.may_view_eligibility(tess, tess)
        assert services.may_view_eligibility(user(people.supervisor.id), tess)
        assert services.may_view_eligibility(user(people.admin.id), tess)
        assert not services.may_view_eligibility(user(people.other_supervisor.id), tess)
        assert not services.may_view_eligibility(user(people.other_trainee.id), tess)
        assert services.may_view_eligibility(user(people.other_trainee.id), tess,
                                             scopes={services.SCOPE_FACILITATORS_READ})
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == certified))
        expired = services.facilitator_eligibility(tess, today=cert.valid_until + timedelta(days=1))
        assert not expired.may_lead and expired.certificate_status == "expired" and expired.reasons


def test_integration_tokens_need_a_known_scope_and_an_operator_or_admin(app_ctx, people):
    trainee, admin = user(people.trainee.id), user(people.admin.id)
    with pytest.raises(PermissionDenied):
        accounts.create_api_token(trainee, actor=trainee, name="rota", scopes=["facilitators:read"])
    with pytest.raises(ValidationFailed) as caught:
        accounts.create_api_token(admin, actor=admin, name="rota", scopes=["facilitators:write"])
    assert "facilitators:read" in caught.value.errors["scopes"][0]
    new = accounts.create_api_token(admin, actor=admin, name="rota", scopes=["facilitators:read"])
    assert new.token.scope_set == {"facilitators:read"}
    assert accounts.api_token_for_secret(new.secret) is new.token
    plain = accounts.create_api_token(trainee, actor=trainee, name="laptop")
    assert plain.token.scope_set == frozenset()


# ---------------------------------------------------------------- calendar feeds


def test_feed_lists_the_persons_sessions_and_rotation_invalidates_the_old_address(app, people, certified):
    gid = make_group(app, people.admin.id, lead_id=people.trainee.id, co_ids=(people.other_trainee.id,))
    make_group(app, people.admin.id, name="Not theirs")
    with app.app_context():
        tess, theo = user(people.trainee.id), user(people.other_trainee.id)
        services.cancel_session(group(gid), TODAY + WEEK, actor=tess, now=T0)
        first = services.rotate_feed_token(tess, actor=tess)
        db.session.commit()
        assert len(first) >= 43 and services.feed_url(first).endswith(f"/calendar/{first}.ics")
        assert db.session.scalar(select(CalendarFeed.token_hash).where(CalendarFeed.user_id == tess.id)) == \
            hashlib.sha256(first.encode()).hexdigest()  # only the fingerprint is kept
        data = services.calendar_for_token(first, now=T0)
        cal = Calendar.from_ical(data)
        evts = cal.walk("VEVENT")
        assert len(evts) == services.FEED_WEEKS + 1
        assert str(evts[0]["SUMMARY"]) == "Tuesday evening group (lead)"
        assert evts[0].decoded("DTSTART") == session_start(TODAY)
        host = urlsplit(app.config["BASE_URL"]).hostname
        assert str(evts[0]["UID"]) == f"pnd-group-{gid}-{TODAY:%Y%m%d}@{host}"
        assert str(evts[1]["STATUS"]) == "CANCELLED"
        assert ZOOM not in data.decode() and "zoom.us" not in data.decode()  # the link stays on the site
        assert "Not theirs" not in data.decode()
        # the co-facilitator's own feed
        theos = Calendar.from_ical(services.calendar_for_token(services.rotate_feed_token(theo, actor=theo), now=T0))
        assert str(theos.walk("VEVENT")[0]["SUMMARY"]) == "Tuesday evening group (co-facilitator)"
        # rotation: the old secret stops, the new one works; the UIDs stay
        second = services.rotate_feed_token(tess, actor=tess)
        db.session.commit()
        assert services.calendar_for_token(first) is None
        again = Calendar.from_ical(services.calendar_for_token(second, now=T0))
        assert [str(e["UID"]) for e in again.walk("VEVENT")] == [str(e["UID"]) for e in evts]
        assert [e.action for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("calendar_feed.%"), AuditEvent.actor_id == tess.id))] == [
            "calendar_feed.created", "calendar_feed.rotated"]
        with pytest.raises(PermissionDenied):
            services.rotate_feed_token(tess, actor=user(people.admin.id))
        # malformed and unknown secrets, a deactivated owner, a stopped feed
        assert services.calendar_for_token("") is None
        assert services.calendar_for_token("x" * 43) is None
        assert services.calendar_for_token(second + "x") is None
        accounts.deactivate_user(tess, actor=user(people.admin.id))
        assert services.calendar_for_token(second) is None
        services.revoke_feed(tess, actor=user(people.admin.id))
        assert not services.has_feed(tess)
