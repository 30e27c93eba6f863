"""The groups API: lead eligibility (with integration tokens of scope facilitators:read), groups and who sees them
and their meeting link, the leadership gate on PUT /lead, recording a session held, the calendar feed. The
services are tested on their own (tests/services/test_groups.py); here: wiring, permissions, status codes, what
the bodies show and hide."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.certification.models import PracticumEntry, PracticumKind
from lms.db import db
from lms.groups import services
from lms.groups.models import Group
from tests.certification_support import make_cert_tree, make_certificate
from tests.groups_support import T0, TODAY, ZOOM, group_fields, make_group

PROBLEM = "application/problem+json"
LAST_WEEK = TODAY - timedelta(days=7)


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


@pytest.fixture
def certified(app, people, tree) -> str:
    return make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)


class Caller:
    def __init__(self, client, secret: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {secret}"}

    def __getattr__(self, method: str):
        call = getattr(self.client, method)
        return lambda path, **kw: call(path, headers=self.headers, **kw)


@pytest.fixture
def api(app, people):
    """api('supervisor') -> a Caller with a fresh personal token; api('admin', scopes=[...]) an integration token."""
    client = app.test_client()

    def as_(who: str, scopes: tuple[str, ...] = ()) -> Caller:
        with app.app_context():
            user = db.session.get(User, getattr(people, who).id)
            secret = accounts.create_api_token(user, actor=None if scopes else user, name="tests",
                                               scopes=scopes).secret
            db.session.commit()
        return Caller(client, secret)

    return as_


@pytest.fixture
def led(app, people, certified) -> int:
    """A group made a week ago, led by Tess, with Theo (not certified) co-facilitating; last week's session and
    today's exist."""
    return make_group(app, people.admin.id, now=T0 - timedelta(days=7), lead_id=people.trainee.id,
                      co_ids=(people.other_trainee.id,))


# ---------------------------------------------------------------- eligibility


def test_eligibility_for_the_person_their_supervisor_and_admins(api, people, certified):
    path = f"/api/v1/facilitators/{people.trainee.id}/eligibility"
    for who in ("trainee", "supervisor", "admin"):
        r = api(who).get(path)
        assert r.status_code == 200, (who, r.get_json())
        body = r.get_json()
        assert body["may_lead"] is True and body["reasons"] == [] and body["user_id"] == people.trainee.id
        assert body["certificate"]["serial"] == certified and body["certificate"]["status"] == "valid"
    for who in ("other_supervisor", "other_trainee"):
        r = api(who).get(path)
        assert r.status_code == 404 and r.mimetype == PROBLEM
    assert api("admin").get("/api/v1/facilitators/999999/eligibility").status_code == 404


def test_eligibility_of_someone_not_certified(api, people, tree):
    body = api("other_trainee").get(f"/api/v1/facilitators/{people.other_trainee.id}/eligibility").get_json()
    assert body == {"user_id": people.other_trainee.id, "may_lead": False, "certificate": None,
                    "reasons": ["Not certified yet: the certification checklist shows what is missing."]}


def test_an_integration_token_reads_anyones_eligibility_and_nothing_else(api, people, runner, app, certified):
    rota = api("other_trainee", scopes=("facilitators:read",))
    r = rota.get(f"/api/v1/facilitators/{people.trainee.id}/eligibility")
    assert r.status_code == 200 and r.get_json()["may_lead"] is True
    for path in ("/api/v1/me", "/api/v1/groups", f"/api/v1/users/{people.trainee.id}"):
        r = rota.get(path)
        assert r.status_code == 403 and "facilitators:read" in r.get_json()["detail"], path
    assert rota.get("/api/v1/openapi.json").status_code == 200
    # the command line makes them
    result = runner.invoke(args=["create-token", people.admin.email, "--name", "rota", "--scope",
                                 "facilitators:read"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    r = app.test_client().get(f"/api/v1/facilitators/{people.trainee.id}/eligibility",
                              headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200
    bad = runner.invoke(args=["create-token", people.admin.email, "--scope", "everything"])
    assert bad.exit_code == 1 and "Unknown scope everything" in bad.output


# ---------------------------------------------------------------- groups


def test_create_a_group(api, people):
    r = api("admin").post("/api/v1/groups", json=group_fields())
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert r.headers["Location"] == f"/api/v1/groups/{body['id']}"
    assert body["needs_lead"] is True and body["lead"] is None and body["meeting_url"] == ZOOM
    assert body["schedule"] == {"weekday": TODAY.weekday(), "weekday_name": TODAY.strftime("%A"),
                                "start_time": "19:00", "duration_minutes": 90, "timezone": "UTC",
                                "text": f"{TODAY:%A}s at 19:00 (UTC), 90 minutes"}
    assert body["next_session"]["date"] >= TODAY.isoformat()
    again = api("admin").post("/api/v1/groups", json=group_fields(name="tuesday EVENING group"))
    assert again.status_code == 409 and list(again.get_json()["errors"]) == ["name"]


def test_creating_names_the_wrong_fields(api):
    admin = api("admin")
    r = admin.post("/api/v1/groups", json=group_fields(timezone="Mars/Olympus", meeting_url="https://meet.example/x"))
    assert r.status_code == 422 and r.mimetype == PROBLEM
    assert set(r.get_json()["errors"]) == {"timezone", "meeting_url"}
    r = admin.post("/api/v1/groups", json=group_fields(weekday=9, colour="red", capacity="12"))
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"weekday", "colour", "capacity"}


@pytest.mark.parametrize("who", ["supervisor", "trainee"])
def test_only_admins_create(api, who):
    assert api(who).post("/api/v1/groups", json=group_fields()).status_code == 403


def test_list_groups_by_role_and_the_meeting_link(api, app, people, led):
    make_group(app, people.admin.id, name="Another group")
    admin = api("admin").get("/api/v1/groups").get_json()["items"]
    assert [g["name"] for g in admin] == ["Another group", "Tuesday evening group"]
    assert all(g["meeting_url"] == ZOOM for g in admin)
    mine = api("other_trainee").get("/api/v1/groups").get_json()["items"]  # a co-facilitator
    assert [(g["name"], g["meeting_url"]) for g in mine] == [("Tuesday evening group", ZOOM)]
    assert mine[0]["lead"] == {"id": people.trainee.id, "display_name": "Tess Trainee"}
    assert mine[0]["co_facilitators"] == [{"id": people.other_trainee.id, "display_name": "Theo Trainee"}]
    assert api("supervisor").get("/api/v1/groups").status_code == 403
    # a supervisor of one of its facilitators sees the group, not its room
    r = api("supervisor").get(f"/api/v1/groups/{led}")
    assert r.status_code == 200 and r.get_json()["meeting_url"] is None
    assert ZOOM not in r.get_data(as_text=True)
    assert api("other_supervisor").get(f"/api/v1/groups/{led}").status_code == 200  # Theo's supervisor
    with app.app_context():
        theo = db.session.get(User, people.other_trainee.id)
        services.remove_co_facilitator(db.session.get(Group, led), theo, actor=None)
        db.session.commit()
    assert api("other_supervisor").get(f"/api/v1/groups/{led}").status_code == 404
    assert api("other_trainee").get(f"/api/v1/groups/{led}").status_code == 404


def test_edit_and_pause_a_group(api, led):
    admin = api("admin")
    r = admin.patch(f"/api/v1/groups/{led}", json={"capacity": 20, "status": "paused"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["capacity"] == 20 and r.get_json()["status"] == "paused"
    assert r.get_json()["next_session"] is None
    assert admin.patch(f"/api/v1/groups/{led}", json={"status": "closed"}).status_code == 200
    r = admin.patch(f"/api/v1/groups/{led}", json={"status": "active"})
    assert r.status_code == 409 and "closed" in r.get_json()["detail"]
    assert api("trainee").patch(f"/api/v1/groups/{led}", json={"capacity": 3}).status_code == 403


# ---------------------------------------------------------------- the gate


def test_put_lead_refuses_an_uncertified_facilitator_with_the_reasons(api, people, certified):
    gid = api("admin").post("/api/v1/groups", json=group_fields()).get_json()["id"]
    r = api("admin").put(f"/api/v1/groups/{gid}/lead", json={"user_id": people.other_trainee.id})
    assert r.status_code == 409 and r.mimetype == PROBLEM
    assert r.get_json()["errors"] == {"user_id": [
        "Not certified yet: the certification checklist shows what is missing."]}
    r = api("admin").put(f"/api/v1/groups/{gid}/lead", json={"user_id": people.trainee.id})
    assert r.status_code == 200 and r.get_json()["lead"]["id"] == people.trainee.id
    assert r.get_json()["needs_lead"] is False
    assert api("admin").put(f"/api/v1/groups/{gid}/lead", json={"user_id": 999999}).status_code == 422
    assert api("supervisor").put(f"/api/v1/groups/{gid}/lead", json={"user_id": people.trainee.id}
                                 ).status_code == 403
    r = api("admin").delete(f"/api/v1/groups/{gid}/lead")
    assert r.status_code == 200 and r.get_json()["needs_lead"] is True


def test_co_facilitators_through_the_api(api, people, led):
    admin = api("admin")
    r = admin.post(f"/api/v1/groups/{led}/co-facilitators", json={"user_id": people.other_trainee.id})
    assert r.status_code == 409
    r = admin.delete(f"/api/v1/groups/{led}/co-facilitators/{people.other_trainee.id}")
    assert r.status_code == 200 and r.get_json()["co_facilitators"] == []
    r = admin.post(f"/api/v1/groups/{led}/co-facilitators", json={"user_id": people.supervisor.id})
    assert r.status_code == 422


# ---------------------------------------------------------------- sessions


def held(caller, gid: int, day, **body):
    return caller.post(f"/api/v1/groups/{gid}/sessions/{day}/held",
                       json={"duration_minutes": 90, "attendance_count": 6} | body)


def test_the_lead_records_a_session_held(app, api, people, led):
    tess = api("trainee")
    r = held(tess, led, LAST_WEEK, co_facilitator_ids=[people.other_trainee.id], note="Topic: routines.")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "held" and body["date"] == LAST_WEEK.isoformat()
    assert body["held"]["attendance_count"] == 6 and body["held"]["note"] == "Topic: routines."
    assert body["held"]["co_facilitators"] == [{"id": people.other_trainee.id, "display_name": "Theo Trainee"}]
    assert body["lead"]["id"] == people.trainee.id
    with app.app_context():
        kinds = {(e.user_id, e.kind) for e in db.session.scalars(select(PracticumEntry).where(
            PracticumEntry.source == "group"))}
    assert kinds == {(people.other_trainee.id, PracticumKind.CO_FACILITATED), (people.trainee.id, PracticumKind.LED)}
    again = held(tess, led, LAST_WEEK)
    assert again.status_code == 409 and "already recorded" in again.get_json()["detail"]
    # the supervisor sees the session, without the note
    sessions = api("supervisor").get(f"/api/v1/groups/{led}/sessions").get_json()["items"]
    first = next(s for s in sessions if s["date"] == LAST_WEEK.isoformat())
    assert first["status"] == "held" and first["held"]["note"] is None
    mine = api("trainee").get(f"/api/v1/groups/{led}/sessions?from={LAST_WEEK}&to={LAST_WEEK}").get_json()["items"]
    assert [s["held"]["note"] for s in mine] == ["Topic: routines."]


def test_recording_is_for_the_lead_or_an_admin_and_is_checked(api, people, led):
    assert held(api("other_trainee"), led, LAST_WEEK).status_code == 403
    assert held(api("supervisor"), led, LAST_WEEK).status_code == 403
    assert held(api("other_supervisor"), led, LAST_WEEK).status_code == 403
    assert held(api("admin"), led, "yesterday").status_code == 404
    assert held(api("admin"), led, LAST_WEEK + timedelta(days=1)).status_code == 404  # not a meeting day
    r = held(api("trainee"), led, LAST_WEEK, attendance_count=-1, note="x" * 1001, extra=True)
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"attendance_count", "note", "extra"}
    r = held(api("trainee"), led, LAST_WEEK, attendance_count=99)  # capacity 12
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["attendance_count"]
    r = held(api("trainee"), led, TODAY + timedelta(days=7))
    assert r.status_code == 409 and "not started" in r.get_json()["detail"]
    assert held(api("admin"), led, LAST_WEEK).status_code == 201


def test_cancel_a_session_and_list_with_bad_dates(api, led):
    day = TODAY + timedelta(days=7)
    r = api("trainee").post(f"/api/v1/groups/{led}/sessions/{day}/cancel")
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert api("trainee").post(f"/api/v1/groups/{led}/sessions/{day}/cancel").status_code == 409
    assert api("admin").get(f"/api/v1/groups/{led}/sessions?from=soon").status_code == 400
    assert api("admin").get(f"/api/v1/groups/{led}/sessions?from=2026-01-01&to=2028-01-01").status_code == 400


# ---------------------------------------------------------------- calendar feed


def test_the_calendar_feed_is_public_by_its_secret_and_rotates(app, api, led):
    r = api("trainee").post("/api/v1/me/calendar-feed")
    assert r.status_code == 201
    url = r.get_json()["url"]
    path = urlsplit(url).path
    assert path.startswith("/calendar/") and path.endswith(".ics")
    anonymous = app.test_client()
    feed = anonymous.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert feed.headers["Cache-Control"] == "private, no-store"
    cal = Calendar.from_ical(feed.data)
    summaries = {str(e["SUMMARY"]) for e in cal.walk("VEVENT")}
    assert summaries == {"Tuesday evening group (lead)"}
    assert b"zoom.us" not in feed.data
    second = api("trainee").post("/api/v1/me/calendar-feed").get_json()["url"]
    assert anonymous.get(path).status_code == 404
    assert anonymous.get(urlsplit(second).path).status_code == 200
    assert anonymous.get("/calendar/not-a-token.ics").status_code == 404
    assert api("trainee").delete("/api/v1/me/calendar-feed").status_code == 204
    assert anonymous.get(urlsplit(second).path).status_code == 404
    assert api("trainee").delete("/api/v1/me/calendar-feed").status_code == 404


# ---------------------------------------------------------------- OpenAPI


def test_openapi_lists_the_groups_paths(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path, methods in {
        "/facilitators/{user_id}/eligibility": {"get"},
        "/groups": {"get", "post"},
        "/groups/{group_id}": {"get", "patch"},
        "/groups/{group_id}/lead": {"put", "delete"},
        "/groups/{group_id}/co-facilitators": {"post"},
        "/groups/{group_id}/co-facilitators/{user_id}": {"delete"},
        "/groups/{group_id}/sessions": {"get"},
        "/groups/{group_id}/sessions/{day}/held": {"post"},
        "/groups/{group_id}/sessions/{day}/cancel": {"post"},
        "/me/calendar-feed": {"post", "delete"},
    }.items():
        assert set(paths[path]) == methods, path
    assert paths["/facilitators/{user_id}/eligibility"]["get"]["x-token-scopes"] == ["facilitators:read"]
    assert "409" in paths["/groups/{group_id}/lead"]["put"]["responses"]
    assert {"GroupOut", "GroupIn", "SessionHeldIn", "FacilitatorEligibilityOut"} <= set(doc["components"]["schemas"])
