"""Group pages: administrators create and edit groups and choose their lead (the gate refuses, on the page, anyone
without a certificate valid today), revocation leaves a group needing a lead, "Lead a group" locked and unlocked,
the meeting link only for the group's facilitators and administrators, recording a session held, the calendar
feed's link shown once and replaced, CSRF, and who may open what (403/404)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.certification import services as certification
from lms.certification.models import Certificate, PracticumEntry, PracticumKind
from lms.db import db
from lms.groups.models import Group, GroupMember, GroupRole, GroupSession, GroupStatus, SessionStatus
from tests.certification_support import make_cert_tree, make_certificate
from tests.groups_support import T0, TODAY, ZOOM, make_group

FLASH_RE = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)
FEED_RE = re.compile(r"/calendar/([A-Za-z0-9_-]{43})\.ics")
LAST_WEEK = TODAY - timedelta(days=7)


# ---------------------------------------------------------------- helpers


def text(response) -> str:
    return response.get_data(as_text=True)


def plain(page: str) -> str:
    """The page's text as read aloud, to look for sentences: symbols marked aria-hidden left out, inline tags
    removed, other tags as spaces, whitespace collapsed."""
    page = re.sub(r'<span aria-hidden="true">[^<]*</span>', "", page)
    page = re.sub(r"</?(a|span|strong|time|code|em|b)\b[^>]*>", "", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def flashes(page: str) -> list[tuple[str, str]]:
    return [(c, " ".join(html.unescape(t).split())) for c, t in FLASH_RE.findall(page)]


def field_error(page: str, field_id: str) -> str:
    m = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    assert m, f"no error shown next to {field_id}"
    return " ".join(html.unescape(m.group(1)).split())


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def group_state(app, group_id: int) -> dict:
    with app.app_context():
        group = db.session.get(Group, group_id)
        return {"status": group.status, "lead": group.lead.email if group.lead else None,
                "co": [u.email for u in group.co_facilitators], "needs_lead": group.needs_lead,
                "start": group.start_time.strftime("%H:%M"), "name": group.name}


def held_fields(group_id: int, day, **values) -> dict:
    prefix = f"held-{group_id}-{day.isoformat()}-"
    return {prefix + k: v for k, v in values.items()}


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


@pytest.fixture
def certified(app, people, tree) -> str:
    """The trainee holds a certificate valid today; its serial."""
    return make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)


def revoke(app, serial: str, admin_id: int) -> None:
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
        certification.revoke_certificate(cert, actor=db.session.get(User, admin_id),
                                         reason="Issued in error: the practicum was logged twice.")
        db.session.commit()


GOOD = dict(name="Thursday evening group", description="For people in their first year.", weekday="3",
            start_time="19:00", duration_minutes="90", timezone="Europe/London", meeting_url=ZOOM, capacity="12")


# ---------------------------------------------------------------- administrators: create and edit


def test_admin_creates_a_group_errors_show_per_field_and_nothing_is_saved(app, login_as):
    admin = login_as("admin")
    r = admin.get("/groups")
    assert r.status_code == 200 and "There are no groups yet" in text(r)
    r = admin.get("/groups/new")
    assert r.status_code == 200
    page = text(r)
    assert '<datalist id="timezone-options">' in page and 'list="timezone-options"' in page
    assert '<label for="weekday">Day of the week</label>' in page

    bad = dict(GOOD, name="  ", start_time="25:00", duration_minutes="5", timezone="Mars/Olympus_Mons",
               meeting_url="http://evil.example/j/1", capacity="0")
    r = admin.submit("/groups/new", data=bad)
    assert r.status_code == 422
    page = text(r)
    assert "Please correct the following" in page
    assert field_error(page, "name") == "Give the group a name."
    assert "time" in field_error(page, "start_time").lower()
    assert field_error(page, "duration_minutes") == "Give a whole number from 15 to 240."
    assert "IANA time zone" in field_error(page, "timezone")
    assert "https://" in field_error(page, "meeting_url")
    assert field_error(page, "capacity") == "Give a whole number from 1 to 300."
    assert 'aria-invalid="true"' in page and 'aria-describedby="capacity-help capacity-error"' in page
    assert count(app, Group) == 0 and count(app, GroupSession) == 0

    # a Zoom look-alike is refused by the service's own check
    r = admin.submit("/groups/new", data=dict(GOOD, meeting_url="https://zoom.us.evil.example/j/1"))
    assert r.status_code == 422 and "Zoom link" in field_error(text(r), "meeting_url")
    assert count(app, Group) == 0

    r = admin.submit("/groups/new", data=GOOD)
    assert r.status_code == 302
    group_id = int(r.headers["Location"].rsplit("/", 1)[1])
    page = text(admin.get(r.headers["Location"]))
    assert ("success", "Thursday evening group is created, with its sessions planned ahead. It needs a lead "
                       "facilitator: choose one below.") in flashes(page)
    assert "This group needs a lead facilitator." in plain(page)
    assert "Thursdays at 19:00 (Europe/London), 90 minutes" in plain(page)
    assert ZOOM in page  # administrators see the link
    assert count(app, GroupSession) > 0

    listing = plain(text(admin.get("/groups")))
    assert "1 group needs a lead facilitator: Thursday evening group." in listing
    assert "Thursday evening group Thursdays at 19:00 (Europe/London), 90 minutes Active Needs a lead facilitator" \
        in listing

    # the same name again: the service's conflict lands on the name field, nothing saved
    r = admin.submit("/groups/new", data=dict(GOOD, name="thursday  EVENING group"))
    assert r.status_code == 409
    assert "Another group is already called" in field_error(text(r), "name")
    assert count(app, Group) == 1
    assert group_state(app, group_id)["name"] == "Thursday evening group"


def test_admin_edits_a_group_and_a_closed_one_cannot_change(app, login_as, people):
    group_id = make_group(app, people.admin.id)
    other_id = make_group(app, people.admin.id, name="Monday morning group")
    admin = login_as("admin")
    r = admin.get(f"/groups/{group_id}/edit")
    assert r.status_code == 200
    assert 'value="Tuesday evening group"' in text(r) and 'value="19:00"' in text(r)

    edit = dict(GOOD, name="Tuesday evening group", weekday=str(TODAY.weekday()), timezone="UTC",
                start_time="18:30")
    r = admin.submit(f"/groups/{group_id}/edit", data=dict(edit, name="Monday morning group"))
    assert r.status_code == 409 and "Another group is already called" in field_error(text(r), "name")
    assert group_state(app, group_id)["start"] == "19:00"

    r = admin.submit(f"/groups/{group_id}/edit", data=edit)
    assert r.status_code == 302
    assert "Tuesday evening group is saved." in flashes(text(admin.get(r.headers["Location"])))[0][1]
    assert group_state(app, group_id)["start"] == "18:30"

    r = admin.submit(f"/groups/{other_id}", f"/groups/{other_id}/status", data={"status": "closed"})
    assert r.status_code == 302 and group_state(app, other_id)["status"] is GroupStatus.CLOSED
    r = admin.get(f"/groups/{other_id}/edit")
    assert r.status_code == 302
    page = text(admin.get(r.headers["Location"]))
    assert ("error", "Monday morning group is closed, so it cannot be changed. Its records stay.") in flashes(page)
    assert "Pause, resume or close" not in page and "Assign as lead" not in page


def test_admin_pauses_resumes_and_manages_co_facilitators(app, login_as, people):
    group_id = make_group(app, people.admin.id)
    admin = login_as("admin")
    page = text(admin.get(f"/groups/{group_id}"))
    assert "<legend>Change the group&#39;s status to</legend>" in page

    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/status", data={})
    assert r.status_code == 422 and "Choose a status." in text(r)
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/status", data={"status": "active"})
    assert r.status_code == 422  # not a move from active: not offered, not accepted
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/status", data={"status": "paused"})
    assert r.status_code == 302 and group_state(app, group_id)["status"] is GroupStatus.PAUSED
    page = text(admin.get(f"/groups/{group_id}"))
    assert "No sessions are planned while the group is paused." in page
    assert not group_state(app, group_id)["needs_lead"]  # a paused group does not need one now
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/status", data={"status": "active"})
    assert r.status_code == 302 and group_state(app, group_id)["status"] is GroupStatus.ACTIVE

    # co-facilitators: anyone with a trainee account, certified or not
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/co-facilitators",
                     data={"co-user_id": str(people.other_trainee.id)})
    assert r.status_code == 302 and group_state(app, group_id)["co"] == ["trainee2@example.org"]
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/co-facilitators",
                     data={"co-user_id": str(people.supervisor.id)})
    assert r.status_code == 422 and "Not a valid choice" in field_error(text(r), "co-user_id")
    r = admin.submit(f"/groups/{group_id}",
                     f"/groups/{group_id}/co-facilitators/{people.other_trainee.id}/remove")
    assert r.status_code == 302 and group_state(app, group_id)["co"] == []
    assert ("success", "Theo Trainee is no longer a co-facilitator of Tuesday evening group.") in flashes(
        text(admin.get(f"/groups/{group_id}")))


# ---------------------------------------------------------------- the leadership gate


def test_assigning_an_uncertified_trainee_as_lead_is_refused_on_the_page(app, login_as, people):
    group_id = make_group(app, people.admin.id)
    admin = login_as("admin")
    page = text(admin.get(f"/groups/{group_id}"))
    assert '<optgroup label="Cannot lead today">' in page
    assert "Tess Trainee (trainee@example.org), not certified today" in page
    audits = count(app, AuditEvent)

    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/lead", data={"lead-user_id": str(people.trainee.id)})
    assert r.status_code == 409
    error = field_error(text(r), "lead-user_id")
    assert "Tess Trainee may not lead sessions" in error
    assert "Not certified yet: the certification checklist shows what is missing." in error
    assert "Please correct the following" in text(r)
    assert group_state(app, group_id)["lead"] is None and group_state(app, group_id)["needs_lead"]
    assert count(app, GroupMember) == 0 and count(app, AuditEvent) == audits

    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/lead", data={"lead-user_id": ""})
    assert r.status_code == 422 and field_error(text(r), "lead-user_id") == "Choose a facilitator."


def test_a_certified_trainee_is_accepted_as_lead_and_revocation_leaves_the_group_needing_one(
        app, login_as, people, certified, outbox):
    group_id = make_group(app, people.admin.id)
    admin = login_as("admin")
    page = text(admin.get(f"/groups/{group_id}"))
    assert '<optgroup label="May lead today">' in page
    assert page.index("May lead today") < page.index("Cannot lead today")  # those who may lead come first

    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/lead", data={"lead-user_id": str(people.trainee.id)})
    assert r.status_code == 302
    page = text(admin.get(r.headers["Location"]))
    assert ("success", "Tess Trainee is now the lead facilitator of Tuesday evening group. The sessions ahead show "
                       "them as lead.") in flashes(page)
    assert "This group needs a lead facilitator." not in page
    assert group_state(app, group_id)["lead"] == "trainee@example.org"
    listing = plain(text(admin.get("/groups")))
    assert "Needs a lead facilitator" not in listing and "Active Tess Trainee" in listing

    revoke(app, certified, people.admin.id)
    assert group_state(app, group_id)["lead"] is None
    assert outbox.last_to("admin@example.org")["Subject"] == "Group needs a lead: Tuesday evening group"
    listing = plain(text(admin.get("/groups")))
    assert "1 group needs a lead facilitator: Tuesday evening group." in listing
    assert "Active Needs a lead facilitator" in listing
    page = plain(text(admin.get(f"/groups/{group_id}")))
    assert "This group needs a lead facilitator." in page
    assert "Remove Tess Trainee as lead" not in page

    # and the gate now refuses them, with the reason
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/lead", data={"lead-user_id": str(people.trainee.id)})
    assert r.status_code == 409 and f"Certificate {certified} was revoked on" in field_error(text(r), "lead-user_id")


def test_admin_removes_the_lead(app, login_as, people, certified):
    group_id = make_group(app, people.admin.id, lead_id=people.trainee.id)
    admin = login_as("admin")
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/lead/remove")
    assert r.status_code == 302
    assert ("success", "Tess Trainee is no longer the lead of Tuesday evening group. The group needs a lead "
                       "facilitator.") in flashes(text(admin.get(r.headers["Location"])))
    assert group_state(app, group_id)["needs_lead"]
    r = admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/lead/remove")
    assert r.status_code == 302
    assert flashes(text(admin.get(r.headers["Location"])))[0][0] == "error"


# ---------------------------------------------------------------- "Lead a group"


def test_lead_a_group_is_locked_until_certified_then_unlocked(app, login_as, people, tree):
    trainee = login_as("trainee")
    page = text(trainee.get("/"))
    assert '<a href="/lead" >Lead a group</a>' in page or 'href="/lead"' in page
    r = trainee.get("/lead")
    assert r.status_code == 200
    page = plain(text(r))
    assert "Locked for now: leading a group needs a certificate that is valid today." in page
    assert "Not certified yet: the certification checklist shows what is missing." in page
    assert 'href="/certification"' in text(r)
    assert "Unlocked" not in page

    serial = make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    page = plain(text(trainee.get("/lead")))
    assert "Unlocked: you may lead community sessions." in page and serial in page
    assert "You do not lead or co-facilitate a group yet." in page

    make_group(app, people.admin.id, lead_id=people.trainee.id)
    r = trainee.get("/lead")
    page = plain(text(r))
    assert "Tuesday evening group" in page and "Lead facilitator" in page
    assert ZOOM in text(r)
    assert "Next sessions" in page
    assert trainee.get("/groups").headers["Location"].endswith("/lead")

    revoke(app, serial, people.admin.id)
    page = plain(text(trainee.get("/lead")))
    assert "Locked for now" in page and f"Certificate {serial} was revoked on" in page
    # no longer its lead: the group is not listed as theirs (a session of it they already ran today may still
    # wait to be recorded, so the group's name alone can appear, depending on the hour the test runs)
    assert "Lead facilitator" not in page and "Next sessions" not in page


def test_an_uncertified_co_facilitator_sees_the_group_read_only(app, login_as, people):
    group_id = make_group(app, people.admin.id, now=T0 - timedelta(days=7), co_ids=(people.trainee.id,))
    trainee = login_as("trainee")
    r = trainee.get("/lead")
    page = plain(text(r))
    assert "Locked for now" in page and "Meanwhile you can still see the groups you co-facilitate." in page
    assert "Tuesday evening group" in page and "Co-facilitator" in page
    assert ZOOM in text(r)
    assert "Record that a session was held" not in page

    r = trainee.get(f"/groups/{group_id}")
    page = plain(text(r))
    assert r.status_code == 200 and ZOOM in text(r)
    assert "Your role Co-facilitator" in page
    assert "Record that a session was held" not in page
    assert "Assign as lead" not in page and "Change status" not in page and "Edit the group" not in page

    # last week's session had no lead: nobody can record it, and the page says so instead of offering a form
    page = plain(text(login_as("admin").get(f"/groups/{group_id}")))
    assert "it had no lead facilitator, so it cannot be recorded as held." in page
    assert "Record that a session was held" not in page


# ---------------------------------------------------------------- the meeting link and who sees a group


def test_meeting_link_only_for_the_groups_facilitators_and_admins(app, login_as, people):
    group_id = make_group(app, people.admin.id, co_ids=(people.trainee.id,))
    for who in ("admin", "trainee"):
        r = login_as(who).get(f"/groups/{group_id}")
        assert r.status_code == 200 and ZOOM in text(r), who

    # the trainee's supervisor sees the group (they confirm the practicum), never its link
    r = login_as("supervisor").get(f"/groups/{group_id}")
    assert r.status_code == 200
    assert ZOOM not in text(r) and "zoom.us" not in text(r) and "Meeting link" not in text(r)

    for who in ("other_trainee", "other_supervisor"):
        r = login_as(who).get(f"/groups/{group_id}")
        assert r.status_code == 404, who
        assert "zoom.us" not in text(r) and "Tuesday evening group" not in text(r)
    assert login_as("admin").get("/groups/9999").status_code == 404


# ---------------------------------------------------------------- recording a session held


def test_the_lead_records_a_session_held_from_lead_a_group(app, login_as, people, certified):
    group_id = make_group(app, people.admin.id, now=T0 - timedelta(days=7), lead_id=people.trainee.id,
                          co_ids=(people.other_trainee.id,))
    trainee = login_as("trainee")
    page = text(trainee.get("/lead"))
    prefix = f"held-{group_id}-{LAST_WEEK.isoformat()}-"
    assert f'id="{prefix}duration_minutes"' in page
    assert f'<label for="{prefix}co_facilitator_ids-0">Theo Trainee</label>' in page
    assert "Do not name participants" in page
    assert f'action="/groups/{group_id}/sessions/{LAST_WEEK.isoformat()}/held"' in page

    url = f"/groups/{group_id}/sessions/{LAST_WEEK.isoformat()}/held"
    before = count(app, PracticumEntry)
    r = trainee.submit("/lead", url, data=held_fields(group_id, LAST_WEEK, duration_minutes="85",
                                                      attendance_count="", back="lead"))
    assert r.status_code == 422
    assert "Give how many people took part" in field_error(text(r), f"{prefix}attendance_count")
    assert count(app, PracticumEntry) == before

    r = trainee.submit("/lead", url, data=held_fields(
        group_id, LAST_WEEK, duration_minutes="85", attendance_count="7", back="lead",
        co_facilitator_ids=str(people.other_trainee.id), note="We talked about the first weeks."))
    assert r.status_code == 302 and r.headers["Location"].endswith("/lead")
    page = text(trainee.get("/lead"))
    message = flashes(page)[0]
    assert message[0] == "success" and "is recorded as held" in message[1]
    assert "practicum log of the co-facilitator still training" in message[1]
    assert f'id="{prefix}duration_minutes"' not in page  # recorded: no form any more
    with app.app_context():
        row = db.session.scalar(select(GroupSession).where(GroupSession.group_id == group_id,
                                                           GroupSession.session_date == LAST_WEEK))
        assert row.status is SessionStatus.HELD and (row.held_minutes, row.attendance_count) == (85, 7)
        assert row.note == "We talked about the first weeks."
        assert [c.user.email for c in row.co_facilitations] == ["trainee2@example.org"]
        kinds = db.session.scalars(select(PracticumEntry.kind).where(PracticumEntry.source == "group")).all()
    assert sorted(kinds) == sorted([PracticumKind.CO_FACILITATED, PracticumKind.LED])

    # the group's page shows it among the sessions held, with the note for its facilitators
    page = plain(text(trainee.get(f"/groups/{group_id}")))
    assert "85 minutes" in page and "We talked about the first weeks." in page
    # ... but not to the co-facilitator's supervisor
    page = plain(text(login_as("other_supervisor").get(f"/groups/{group_id}")))
    assert "85 minutes" in page and "We talked about the first weeks." not in page

    # a second record is refused with the reason, the first stands
    r = trainee.submit("/lead", url, data=held_fields(group_id, LAST_WEEK, duration_minutes="60",
                                                      attendance_count="3", back="lead"))
    assert r.status_code == 409
    assert any("already recorded as held" in m for _, m in flashes(text(r)))


def test_only_the_sessions_lead_or_an_admin_may_record_it(app, login_as, people, certified):
    group_id = make_group(app, people.admin.id, now=T0 - timedelta(days=7), lead_id=people.trainee.id,
                          co_ids=(people.other_trainee.id,))
    url = f"/groups/{group_id}/sessions/{LAST_WEEK.isoformat()}/held"
    data = held_fields(group_id, LAST_WEEK, duration_minutes="90", attendance_count="5", back="group")
    co = login_as("other_trainee")
    assert co.submit(f"/groups/{group_id}", url, data=data).status_code == 403
    assert login_as("supervisor").submit(f"/groups/{group_id}", url, data=data).status_code == 403
    assert login_as("other_supervisor").submit(f"/groups/{group_id}", url, data=data).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GroupSession).where(
            GroupSession.status == SessionStatus.HELD)) == 0

    admin = login_as("admin")
    page = text(admin.get(f"/groups/{group_id}"))
    assert f'action="{url}"' in page  # administrators may record it too
    r = admin.submit(f"/groups/{group_id}", url, data=data)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/groups/{group_id}")
    assert "is recorded as held" in flashes(text(admin.get(r.headers["Location"])))[0][1]
    assert login_as("trainee").get(f"/groups/{group_id}/sessions/not-a-date/held").status_code == 405
    assert admin.submit(f"/groups/{group_id}", f"/groups/{group_id}/sessions/not-a-date/held",
                        data=data).status_code == 404


# ---------------------------------------------------------------- the calendar feed


def test_feed_rotation_shows_a_new_link_once_and_the_old_one_stops_working(app, login_as, people):
    make_group(app, people.admin.id, co_ids=(people.trainee.id,))
    trainee = login_as("trainee")
    r = trainee.get("/calendar")
    assert r.status_code == 200
    assert "You have no calendar feed" in text(r) and "Create my calendar link" in text(r)

    r = trainee.submit("/calendar", data={"action": "rotate"})
    assert r.status_code == 200  # shown in this response only, never in a redirect or a flash
    page = text(r)
    first = FEED_RE.search(page).group(1)
    assert "Copy it now: it is shown only this once." in page
    assert "Make a new link (the old one stops working)" in page and "Stop my calendar feed" in page
    feed = trainee.client.get(f"/calendar/{first}.ics")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert b"Tuesday evening group" in feed.data and ZOOM.encode() not in feed.data
    assert not FEED_RE.search(text(trainee.get("/calendar")))  # not shown again
    assert "Your calendar feed is on" in text(trainee.get("/calendar"))
    assert "Manage your calendar feed" in text(trainee.get("/lead"))

    r = trainee.submit("/calendar", data={"action": "rotate"})
    second = FEED_RE.search(text(r)).group(1)
    assert second != first
    assert app.test_client().get(f"/calendar/{first}.ics").status_code == 404
    assert app.test_client().get(f"/calendar/{second}.ics").status_code == 200

    r = trainee.submit("/calendar", data={"action": "stop"})
    assert r.status_code == 302
    assert flashes(text(trainee.get("/calendar")))[0][0] == "success"
    assert app.test_client().get(f"/calendar/{second}.ics").status_code == 404
    r = trainee.submit("/calendar", data={"action": "stop"})
    assert flashes(text(trainee.get(r.headers["Location"])))[0][0] == "error"
    assert trainee.submit("/calendar", data={"action": "explode"}).status_code == 400


# ---------------------------------------------------------------- CSRF and permissions


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(app, login_as, people):
    group_id = make_group(app, people.admin.id, now=T0 - timedelta(days=7))
    admin, trainee = login_as("admin"), login_as("trainee")
    before = (count(app, Group), count(app, GroupMember), count(app, AuditEvent))
    posts = [
        admin.client.post("/groups/new", data=GOOD),
        admin.client.post(f"/groups/{group_id}/edit", data=GOOD),
        admin.client.post(f"/groups/{group_id}/status", data={"status": "paused"}),
        admin.client.post(f"/groups/{group_id}/lead", data={"lead-user_id": str(people.trainee.id)}),
        admin.client.post(f"/groups/{group_id}/lead/remove"),
        admin.client.post(f"/groups/{group_id}/co-facilitators", data={"co-user_id": str(people.trainee.id)}),
        admin.client.post(f"/groups/{group_id}/co-facilitators/{people.trainee.id}/remove"),
        admin.client.post(f"/groups/{group_id}/sessions/{LAST_WEEK.isoformat()}/held",
                          data=held_fields(group_id, LAST_WEEK, duration_minutes="90", attendance_count="4")),
        trainee.client.post("/calendar", data={"action": "rotate"}),
    ]
    for r in posts:
        assert r.status_code == 400 and "The form expired" in text(r)
    assert (count(app, Group), count(app, GroupMember), count(app, AuditEvent)) == before
    assert group_state(app, group_id)["status"] is GroupStatus.ACTIVE


def test_who_may_open_what(app, client, login_as, people):
    group_id = make_group(app, people.admin.id)
    trainee = login_as("trainee")
    assert trainee.get("/groups/new").status_code == 403
    assert trainee.get(f"/groups/{group_id}/edit").status_code == 403
    assert trainee.submit("/lead", f"/groups/{group_id}/lead",
                          data={"lead-user_id": str(people.trainee.id)}).status_code == 403
    assert trainee.submit("/lead", f"/groups/{group_id}/status", data={"status": "closed"}).status_code == 403
    assert trainee.get(f"/groups/{group_id}").status_code == 404  # not one of theirs

    supervisor = login_as("supervisor")
    assert supervisor.get("/groups").status_code == 403
    assert supervisor.get("/lead").status_code == 403
    assert supervisor.get("/calendar").status_code == 403
    assert supervisor.get(f"/groups/{group_id}").status_code == 404

    admin = login_as("admin")
    assert admin.get("/lead").status_code == 403
    assert admin.get("/groups/new").status_code == 200
    page = text(admin.get("/groups"))
    assert '<a href="/groups" aria-current="page">Groups</a>' in page
    assert "Lead a group" not in page

    for path in ("/groups", "/groups/new", f"/groups/{group_id}", "/lead", "/calendar"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path

    # GETs change nothing
    with app.app_context():
        sessions = db.session.scalar(select(func.count()).select_from(GroupSession))
    for who in ("admin", "trainee"):
        b = login_as(who)
        for path in ("/groups", f"/groups/{group_id}", "/lead", "/calendar"):
            b.get(path)
    assert count(app, GroupSession) == sessions
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GroupMember).where(
            GroupMember.role == GroupRole.LEAD)) == 0


def test_names_and_notes_are_escaped(app, login_as, people):
    group_id = make_group(app, people.admin.id, name="<script>alert(1)</script>",
                          description="<b>bold</b>")
    page = text(login_as("admin").get(f"/groups/{group_id}"))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page


def test_the_admin_home_page_names_groups_that_need_a_lead(app, login_as, people):
    admin = login_as("admin")
    assert "need a lead facilitator" not in text(admin.get("/"))
    gid = make_group(app, people.admin.id)
    page = text(admin.get("/"))
    assert "1 group needs a lead facilitator" in page
    assert f'href="/groups/{gid}">Tuesday evening group</a>' in page
