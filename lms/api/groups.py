"""Groups and the leadership gate: whether a facilitator may lead today, groups (list, create, edit), their lead
and co-facilitators, their sessions, recording a session held, and the caller's calendar feed. Every change is
one call of lms.groups.services, which checks who may do it; the blueprint commits when the answer is < 400.
The meeting link is in a body only for the group's facilitators and administrators."""

from __future__ import annotations

import datetime as dt
from datetime import date, timedelta

from flask import request, url_for
from pydantic import BaseModel, Field, StrictInt

from lms.accounts.models import Role, User
from lms.api.core import ApiError, api_user, parse_body, require_role, route, token_scopes
from lms.api.schemas import PersonRef, Strict, StrictId
from lms.db import db, utcnow
from lms.errors import NotFound
from lms.groups import schedule, services
from lms.groups.models import Group, GroupSession, GroupStatus, SessionStatus

TAG = "Groups"
ELIGIBILITY_SCOPE = services.SCOPE_FACILITATORS_READ


# ---------------------------------------------------------------- bodies


class CertificateRef(BaseModel):
    serial: str
    status: str = Field(description="valid, expired, revoked or superseded, today")
    valid_until: dt.date


class FacilitatorEligibilityOut(BaseModel):
    user_id: int
    may_lead: bool = Field(description="Whether they may lead community sessions today.")
    certificate: CertificateRef | None = Field(
        description="The certificate valid today, or else their latest one; null if they never had one.")
    reasons: list[str] = Field(description="Why they may not lead; empty when they may.")


class ScheduleOut(BaseModel):
    weekday: int = Field(description="0 Monday ... 6 Sunday, in the group's time zone")
    weekday_name: str
    start_time: str = Field(description="local wall-clock time, HH:MM")
    duration_minutes: int
    timezone: str = Field(description="IANA time zone")
    text: str


class SessionRef(BaseModel):
    date: dt.date
    starts_at: dt.datetime = Field(description="UTC")


class GroupOut(BaseModel):
    id: int
    name: str
    description: str
    schedule: ScheduleOut
    capacity: int
    status: str
    needs_lead: bool
    lead: PersonRef | None
    co_facilitators: list[PersonRef]
    meeting_url: str | None = Field(description="Only for the group's facilitators and administrators; else null.")
    next_session: SessionRef | None
    created_at: dt.datetime


class GroupList(BaseModel):
    items: list[GroupOut]


class GroupIn(Strict):
    name: str = Field(min_length=1, max_length=services.NAME_MAX)
    description: str = Field(default="", max_length=services.DESCRIPTION_MAX)
    weekday: StrictInt = Field(ge=0, le=6, description="0 Monday ... 6 Sunday")
    start_time: str = Field(pattern=r"^\d{2}:\d{2}$", description="local time, HH:MM", examples=["19:00"])
    duration_minutes: StrictInt = Field(ge=services.DURATION_MIN, le=services.DURATION_MAX)
    timezone: str = Field(max_length=64, examples=["America/New_York"])
    meeting_url: str = Field(max_length=services.MEETING_URL_MAX, description="https on zoom.us or a subdomain")
    capacity: StrictInt = Field(ge=services.CAPACITY_MIN, le=services.CAPACITY_MAX)


class GroupUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=services.NAME_MAX)
    description: str | None = Field(default=None, max_length=services.DESCRIPTION_MAX)
    weekday: StrictInt | None = Field(default=None, ge=0, le=6)
    start_time: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$")
    duration_minutes: StrictInt | None = Field(default=None, ge=services.DURATION_MIN, le=services.DURATION_MAX)
    timezone: str | None = Field(default=None, max_length=64)
    meeting_url: str | None = Field(default=None, max_length=services.MEETING_URL_MAX)
    capacity: StrictInt | None = Field(default=None, ge=services.CAPACITY_MIN, le=services.CAPACITY_MAX)
    status: GroupStatus | None = Field(default=None, description="active, paused or closed (closing is final)")


class PersonIdIn(Strict):
    user_id: StrictId


class SessionHeldIn(Strict):
    duration_minutes: StrictInt = Field(ge=services.HELD_MINUTES_MIN, le=services.HELD_MINUTES_MAX)
    attendance_count: StrictInt = Field(ge=0, description="How many took part: a number, never names. At most the "
                                                          "group's capacity x 2.")
    co_facilitator_ids: list[StrictId] = Field(default_factory=list,
                                                description="Co-facilitators of the group who took part.")
    note: str | None = Field(default=None, max_length=services.NOTE_MAX, description=services.NOTE_HELP)


class HeldRecord(BaseModel):
    held_minutes: int
    attendance_count: int
    note: str | None = Field(description="Only for the group's facilitators and administrators; else null.")
    co_facilitators: list[PersonRef]
    recorded_by: PersonRef | None
    recorded_at: dt.datetime


class SessionOut(BaseModel):
    group_id: int
    date: dt.date = Field(description="the local date in the group's time zone")
    starts_at: dt.datetime = Field(description="UTC")
    local_start: dt.datetime = Field(description="the same instant with the group's UTC offset")
    duration_minutes: int
    status: str = Field(description="scheduled, held or cancelled")
    lead: PersonRef | None
    held: HeldRecord | None


class SessionList(BaseModel):
    items: list[SessionOut]


class CalendarFeedOut(BaseModel):
    url: str = Field(description="The secret address of the caller's .ics feed, shown once. Anyone with it sees "
                                 "the caller's session times; rotate it if it leaks.")


# ---------------------------------------------------------------- shaping


def _person(user: User | None) -> PersonRef | None:
    return PersonRef(id=user.id, display_name=user.display_name) if user else None


def _group(group: Group, viewer: User) -> dict:
    nxt = services.next_session(group)
    sched = group.schedule
    return GroupOut(
        id=group.id, name=group.name, description=group.description,
        schedule=ScheduleOut(weekday=sched.weekday, weekday_name=sched.weekday_name,
                             start_time=sched.start_time.strftime("%H:%M"), duration_minutes=sched.duration_minutes,
                             timezone=sched.timezone, text=sched.describe()),
        capacity=group.capacity, status=group.status.value, needs_lead=group.needs_lead, lead=_person(group.lead),
        co_facilitators=[_person(u) for u in group.co_facilitators],
        meeting_url=group.meeting_url if services.may_see_meeting_link(group, viewer) else None,
        next_session=SessionRef(date=nxt.session_date, starts_at=nxt.starts_at) if nxt else None,
        created_at=group.created_at,
    ).model_dump(mode="json")


def _session(row: GroupSession, viewer: User) -> dict:
    group = row.group
    held = None
    if row.status is SessionStatus.HELD:
        held = HeldRecord(held_minutes=row.held_minutes, attendance_count=row.attendance_count,
                          note=row.note if services.is_facilitator_or_admin(group, viewer) else None,
                          co_facilitators=[_person(c.user) for c in row.co_facilitations],
                          recorded_by=_person(row.recorded_by), recorded_at=row.recorded_at)
    return SessionOut(group_id=group.id, date=row.session_date, starts_at=row.starts_at,
                      local_start=row.starts_at.astimezone(schedule.zone(group.timezone)),
                      duration_minutes=row.duration_minutes, status=row.status.value, lead=_person(row.lead),
                      held=held).model_dump(mode="json")


def _user_or_404(user_id: int, what: str = "person") -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, f"No such {what}.")
    return user


def _body_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(422, "No such person.", title="Unprocessable content", errors={"user_id": ["no such person"]})
    return user


def _date_or_404(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise NotFound("No session on that date: give it as YYYY-MM-DD.") from None


def _date_arg(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter {name} must be a date, YYYY-MM-DD.") from None


# ---------------------------------------------------------------- facilitators


@route("/facilitators/<int:user_id>/eligibility", "GET", tag=TAG, response=FacilitatorEligibilityOut, errors=(404,),
       scopes=(ELIGIBILITY_SCOPE,), summary="Whether a facilitator may lead community sessions today, and why not",
       description=(
           "The same check that assigning a lead goes through: an active account and a certificate valid today "
           "(not expired, revoked, or superseded without a valid successor). For the facilitator themselves, "
           "their supervisor, administrators, and integration tokens with the scope `facilitators:read` (made "
           "by an operator: `lms create-token EMAIL --scope facilitators:read`), which may ask about anyone but "
           "call nothing else. Anyone else gets 404, as for an unknown id."))
def get_facilitator_eligibility(user_id: int):
    viewer = api_user()
    user = db.session.get(User, user_id)
    if user is None or not services.may_view_eligibility(viewer, user, scopes=token_scopes()):
        raise ApiError(404, "No such person.")
    result = services.facilitator_eligibility(user)
    cert = result.certificate
    return FacilitatorEligibilityOut(
        user_id=user.id, may_lead=result.may_lead, reasons=list(result.reasons),
        certificate=CertificateRef(serial=cert.serial, status=result.certificate_status, valid_until=cert.valid_until)
        if cert else None).model_dump(mode="json")


# ---------------------------------------------------------------- groups


@route("/groups", "GET", tag=TAG, response=GroupList, errors=(403,),
       summary="Groups: all of them for administrators, the caller's own for facilitators",
       description="Supervisors get 403 (they see a group through their trainees' practicum, `GET /groups/{id}`).")
def list_groups():
    viewer = api_user()
    return GroupList(items=[_group(g, viewer) for g in services.list_groups(viewer)]).model_dump(mode="json")


@route("/groups", "POST", tag=TAG, body=GroupIn, response=GroupOut, status=201, errors=(400, 403, 409, 415, 422),
       summary="Create a group (administrators)",
       description=(
           "Starts active and without a lead (`needs_lead`). `timezone` is an IANA key; `meeting_url` must be "
           "https on zoom.us or one of its subdomains. 422 names each field that is wrong; 409 when another group "
           "has the name."))
def create_group():
    admin = require_role(Role.ADMIN)
    body = parse_body(GroupIn)
    group = services.create_group(actor=admin, **body.model_dump())
    return _group(group, admin), 201, {"Location": url_for("api.get_group", group_id=group.id)}


@route("/groups/<int:group_id>", "GET", tag=TAG, response=GroupOut, errors=(404,),
       summary="One group (administrators, its facilitators, their supervisors)",
       description="`meeting_url` is null for supervisors: the link is for the group's facilitators and "
                   "administrators.")
def get_group(group_id: int):
    viewer = api_user()
    return _group(services.get_group(group_id, viewer), viewer)


@route("/groups/<int:group_id>", "PATCH", tag=TAG, body=GroupUpdate, response=GroupOut,
       errors=(400, 403, 404, 409, 415, 422), summary="Edit a group, or pause, resume or close it (administrators)",
       description=(
           "Only the fields sent change. A new schedule replaces the sessions that have not started. `status` "
           "moves active ↔ paused, or to closed (final); 409 for a move the table does not allow or any change to "
           "a closed group."))
def update_group(group_id: int):
    admin = require_role(Role.ADMIN)
    group = services.get_group(group_id, admin)
    body = parse_body(GroupUpdate)
    changes = body.model_dump(exclude_unset=True)
    status = changes.pop("status", None)
    if changes:
        services.update_group(group, actor=admin, **changes)
    if status is not None and status is not group.status:
        services.change_group_status(group, status, actor=admin)
    return _group(group, admin)


@route("/groups/<int:group_id>/lead", "PUT", tag=TAG, body=PersonIdIn, response=GroupOut,
       errors=(400, 403, 404, 409, 415, 422), summary="Assign the group's lead facilitator (administrators)",
       description=(
           "The leadership gate: 409 unless the person may lead today (see "
           "`GET /facilitators/{id}/eligibility`); `errors.user_id` lists the reasons (not certified, expired, "
           "revoked, deactivated). The previous lead leaves the group; sessions that have not started take the "
           "new lead. Assigning the current lead again changes nothing."))
def assign_group_lead(group_id: int):
    admin = require_role(Role.ADMIN)
    group = services.get_group(group_id, admin)
    body = parse_body(PersonIdIn)
    services.assign_lead(group, _body_user(body.user_id), actor=admin)
    return _group(group, admin)


@route("/groups/<int:group_id>/lead", "DELETE", tag=TAG, response=GroupOut, errors=(403, 404, 409),
       summary="Remove the group's lead (administrators); the group then needs one")
def remove_group_lead(group_id: int):
    admin = require_role(Role.ADMIN)
    group = services.get_group(group_id, admin)
    services.remove_lead(group, actor=admin)
    return _group(group, admin)


@route("/groups/<int:group_id>/co-facilitators", "POST", tag=TAG, body=PersonIdIn, response=GroupOut, status=201,
       errors=(400, 403, 404, 409, 415, 422), summary="Add a co-facilitator (administrators)",
       description="Any active trainee or certified facilitator; 409 when already in the group.")
def add_group_co_facilitator(group_id: int):
    admin = require_role(Role.ADMIN)
    group = services.get_group(group_id, admin)
    body = parse_body(PersonIdIn)
    services.add_co_facilitator(group, _body_user(body.user_id), actor=admin)
    return _group(group, admin), 201


@route("/groups/<int:group_id>/co-facilitators/<int:user_id>", "DELETE", tag=TAG, response=GroupOut,
       errors=(403, 404), summary="Remove a co-facilitator (administrators)")
def remove_group_co_facilitator(group_id: int, user_id: int):
    admin = require_role(Role.ADMIN)
    group = services.get_group(group_id, admin)
    services.remove_co_facilitator(group, _user_or_404(user_id), actor=admin)
    return _group(group, admin)


# ---------------------------------------------------------------- sessions


@route("/groups/<int:group_id>/sessions", "GET", tag=TAG, response=SessionList, errors=(400, 404),
       summary="A group's sessions between two local dates (default: the last 4 weeks and the next 12)",
       query={"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}},
       description="At most a year at a time (400). The note of a held session is null for supervisors.")
def list_group_sessions(group_id: int):
    viewer = api_user()
    group = services.get_group(group_id, viewer)
    today = utcnow().date()
    start = _date_arg("from", today - timedelta(weeks=4))
    end = _date_arg("to", today + timedelta(weeks=services.FEED_WEEKS))
    if end < start or (end - start).days > 366:
        raise ApiError(400, "Give `from` no later than `to`, at most a year apart.")
    return SessionList(items=[_session(r, viewer) for r in services.sessions_between(group, start, end)]
                       ).model_dump(mode="json")


@route("/groups/<int:group_id>/sessions/<day>/held", "POST", tag=TAG, body=SessionHeldIn, response=SessionOut,
       status=201, errors=(400, 403, 404, 409, 415, 422),
       summary="Record that a session took place (its lead or an administrator)",
       description=(
           "`day` is the session's local date, YYYY-MM-DD (404 when the group does not meet that day). Records "
           "the length, how many took part (a number, at most capacity × 2) and the co-facilitators who were "
           "there (each must be a co-facilitator of the group); `note` is optional, at most 1000 characters and "
           "must not name participants. Co-facilitators who are not certified get a pending practicum entry "
           "(co-facilitated) for their supervisor to confirm; a certified lead gets a pending `led` entry toward "
           "renewal. 409 if the session was already recorded (the first record stands), was cancelled, has not "
           "started, or had no lead."))
def record_session_held(group_id: int, day: str):
    viewer = api_user()
    group = services.get_group(group_id, viewer)
    when = _date_or_404(day)
    body = parse_body(SessionHeldIn)
    row = services.record_session_held(group, when, actor=viewer, duration_minutes=body.duration_minutes,
                                       attendance_count=body.attendance_count,
                                       co_facilitator_ids=body.co_facilitator_ids, note=body.note)
    return _session(row, viewer), 201


@route("/groups/<int:group_id>/sessions/<day>/cancel", "POST", tag=TAG, response=SessionOut,
       errors=(403, 404, 409), summary="Cancel a session that has not started (its lead or an administrator)")
def cancel_group_session(group_id: int, day: str):
    viewer = api_user()
    group = services.get_group(group_id, viewer)
    return _session(services.cancel_session(group, _date_or_404(day), actor=viewer), viewer)


# ---------------------------------------------------------------- calendar feed


@route("/me/calendar-feed", "POST", tag=TAG, response=CalendarFeedOut, status=201,
       summary="Make a new secret address for the caller's calendar feed (.ics); the old one stops working",
       description=(
           "The feed lists the sessions the caller leads or co-facilitates, a week back and 12 weeks ahead, in "
           "UTC. It leaves out the meeting link. The address is shown once; the server keeps only its SHA-256."))
def rotate_my_calendar_feed():
    viewer = api_user()
    raw = services.rotate_feed_token(viewer, actor=viewer)
    return CalendarFeedOut(url=services.feed_url(raw)).model_dump(mode="json"), 201


@route("/me/calendar-feed", "DELETE", tag=TAG, response=None, status=204, errors=(404,),
       summary="Stop the caller's calendar feed address")
def revoke_my_calendar_feed():
    viewer = api_user()
    services.revoke_feed(viewer, actor=viewer)
    return "", 204

