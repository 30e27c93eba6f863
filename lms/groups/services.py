"""Groups, one function per verb: create and edit a group, change its status, assign its lead (the leadership
gate) and co-facilitators, materialise its sessions, record a session held (and the practicum entries it makes),
cancel one, and rotate a calendar feed. Each takes the acting user explicitly (None: an operator at the shell),
checks the transition, writes the audit trail, queues its e-mail and flushes; the caller commits. Also the reads
that pages, API and CLI share: who sees a group and its meeting link, a facilitator's lead eligibility, the
sessions of a group or a person, and the .ics feed.

Sessions are rows (`GroupSession`), materialised ahead for HORIZON_WEEKS by `ensure_sessions` (on create, on
every schedule, status and lead change, and daily by `lms run-maintenance`), or made on demand when a date on
the schedule is recorded or cancelled. A row keeps the lead of record: while a session is ahead it follows the
group's lead; once it has started it stays as it was.

The gate holds over time: `_on_certificate_lapsed` is connected to certification's `certificate_lapsed` signal
when this module is imported (lms.api imports it at start-up), and steps a facilitator down as lead when their
certificate is revoked or noticed as expired."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from lms import audit, mail
from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.accounts.signals import account_deactivated
from lms.certification import eligibility, signals
from lms.certification import services as certification
from lms.certification.models import Certificate, PracticumKind, check_transition
from lms.dates import long_date
from lms.db import db, lock_row, utcnow
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.groups import ical, schedule
from lms.groups.models import (
    GROUP_TRANSITIONS,
    SESSION_TRANSITIONS,
    CalendarFeed,
    Group,
    GroupMember,
    GroupRole,
    GroupSession,
    GroupStatus,
    SessionCoFacilitator,
    SessionStatus,
)
from lms.urls import external_url

NAME_MAX = 120  # the practicum log's group_name holds the same
DESCRIPTION_MAX = 2000
DURATION_MIN, DURATION_MAX = 15, 240
CAPACITY_MIN, CAPACITY_MAX = 1, 300
MEETING_URL_MAX = 500
HELD_MINUTES_MIN, HELD_MINUTES_MAX = 5, 480
ATTENDANCE_FACTOR = 2  # attendance may exceed capacity (drop-ins), but not absurdly: at most capacity x 2
NOTE_MAX = 1000
NOTE_HELP = ("A few lines for the record: what the session covered, anything the supervisor should know. Never "
             "write participants' names or details that could identify someone: the site cannot detect names, "
             f"so please read it over before saving. At most {NOTE_MAX} characters.")
HORIZON_WEEKS = 16  # sessions materialised ahead
FEED_WEEKS = 12  # the calendar feed shows this far ahead
FEED_PAST_DAYS = 7  # and this far back, so a session just held does not vanish from the calendar at once
RECORD_HISTORY_DAYS = certification.PRACTICUM_HISTORY_DAYS
FEED_TOKEN_BYTES = 32  # 256 bits, like API tokens and login sessions
FEED_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")

SCOPE_FACILITATORS_READ = "facilitators:read"
accounts.register_api_scope(SCOPE_FACILITATORS_READ,
                            "read whether any facilitator may lead sessions today (GET /facilitators/{id}/eligibility)")

GROUP_FIELDS = ("name", "description", "weekday", "start_time", "duration_minutes", "timezone", "meeting_url",
                "capacity")
SCHEDULE_FIELDS = frozenset({"weekday", "start_time", "duration_minutes", "timezone"})
_STATUS_VERBS = {GroupStatus.ACTIVE: "resumed", GroupStatus.PAUSED: "paused", GroupStatus.CLOSED: "closed"}


# ---------------------------------------------------------------- helpers


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _is_admin(user: User | None) -> bool:
    return user is not None and user.active and user.role is Role.ADMIN


def _require_admin(actor: User | None, what: str) -> None:
    """Administrators, or an operator at the shell (actor None)."""
    if actor is not None and not _is_admin(actor):
        raise PermissionDenied(f"Only an administrator can {what}.")


def _lock_group(group: Group) -> None:
    """Hold the group's row for the rest of the transaction: lead changes, recordings and materialisation of one
    group wait for each other. Pending changes are flushed first, so the re-read cannot undo them."""
    db.session.flush()
    lock_row(group, "status", "members")


def _whole(value: Any) -> int | None:
    """An int from an int or a string of digits (forms send strings); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        return int(value)
    return None


def _ranged(raw: Any, field: str, lo: int, hi: int, errors: dict[str, list[str]]) -> int | None:
    value = _whole(raw)
    if value is None or not lo <= value <= hi:
        errors[field] = [f"give a whole number from {lo} to {hi}"]
        return None
    return value


# ---------------------------------------------------------------- validation


def meeting_url_problem(url: str) -> str | None:
    """Why `url` is not acceptable as a meeting link, or None: https, on zoom.us or one of its subdomains
    (us02web.zoom.us), no user name, password or unusual port, nothing a browser would read differently."""
    if not url:
        return "give the Zoom meeting link"
    if len(url) > MEETING_URL_MAX:
        return f"at most {MEETING_URL_MAX} characters"
    if any(c.isspace() or not 33 <= ord(c) <= 126 or c == "\\" for c in url):
        return "a link has no spaces, backslashes or non-ASCII characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "this is not a valid link"
    if parts.scheme != "https":
        return "the link must start with https://"
    if parts.username is not None or parts.password is not None or port not in (None, 443):
        return "the link must not contain a user name, password or port"
    host = (parts.hostname or "").rstrip(".")
    if not (host == "zoom.us" or host.endswith(".zoom.us")):
        return "the link must be a Zoom link, on zoom.us (e.g. https://us02web.zoom.us/j/…)"
    return None


def _clean_time(raw: Any) -> time | None:
    """A naive time in whole minutes, from a time or "HH:MM" (seconds ":00" allowed); None otherwise."""
    if isinstance(raw, time):
        value = raw
    elif isinstance(raw, str) and (m := re.fullmatch(r"(\d{1,2}):(\d{2})(?::00)?", raw.strip())):
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 23 or minute > 59:
            return None
        value = time(hour, minute)
    else:
        return None
    if value.tzinfo is not None or value.second or value.microsecond:
        return None
    return value


def _clean_group_fields(raw: dict[str, Any], *, group: Group | None) -> dict[str, Any]:
    """Validate the fields given (all of them for a new group) and return them clean. ValidationFailed names
    every field that is wrong; a name another group has is a Conflict naming `name`."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for field in raw:
        if field not in GROUP_FIELDS:
            errors[field] = ["not a field of a group"]
    if group is None:
        for field in GROUP_FIELDS:
            if field != "description" and raw.get(field) in (None, ""):
                errors.setdefault(field, ["this field is required"])
    if "name" in raw and "name" not in errors:
        name = " ".join(str(raw["name"] or "").split())
        if not name:
            errors["name"] = ["give the group a name"]
        elif len(name) > NAME_MAX:
            errors["name"] = [f"at most {NAME_MAX} characters"]
        else:
            clean["name"] = name
    if "description" in raw:
        description = str(raw["description"] or "").replace("\r\n", "\n").strip()
        if len(description) > DESCRIPTION_MAX:
            errors["description"] = [f"at most {DESCRIPTION_MAX} characters"]
        else:
            clean["description"] = description
    if "weekday" in raw and "weekday" not in errors:
        value = _whole(raw["weekday"])
        if value is None or not 0 <= value <= 6:
            errors["weekday"] = ["give the day of the week as 0 (Monday) to 6 (Sunday)"]
        else:
            clean["weekday"] = value
    if "start_time" in raw and "start_time" not in errors:
        value = _clean_time(raw["start_time"])
        if value is None:
            errors["start_time"] = ["give the local start time as HH:MM, e.g. 19:00"]
        else:
            clean["start_time"] = value
    if "duration_minutes" in raw and "duration_minutes" not in errors:
        value = _ranged(raw["duration_minutes"], "duration_minutes", DURATION_MIN, DURATION_MAX, errors)
        if value is not None:
            clean["duration_minutes"] = value
    if "timezone" in raw and "timezone" not in errors:
        name = str(raw["timezone"] or "").strip()
        if not schedule.is_timezone(name):
            errors["timezone"] = ["give an IANA time zone such as Europe/London or America/New_York"]
        else:
            clean["timezone"] = name
    if "meeting_url" in raw and "meeting_url" not in errors:
        url = str(raw["meeting_url"] or "").strip()
        problem = meeting_url_problem(url)
        if problem:
            errors["meeting_url"] = [problem]
        else:
            clean["meeting_url"] = urlsplit(url).geturl()
    if "capacity" in raw and "capacity" not in errors:
        value = _ranged(raw["capacity"], "capacity", CAPACITY_MIN, CAPACITY_MAX, errors)
        if value is not None:
            clean["capacity"] = value
    if errors:
        raise ValidationFailed("The group is not complete: " + ", ".join(sorted(errors)) + ".", errors=errors)
    if "name" in clean:
        clash = select(Group.id).where(func.lower(Group.name) == clean["name"].lower())
        if group is not None:
            clash = clash.where(Group.id != group.id)
        if db.session.scalar(clash.limit(1)) is not None:
            msg = f"Another group is already called “{clean['name']}”."
            raise Conflict(msg, errors={"name": [msg]})
    return clean


def _audit_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of a change: every field but the meeting link itself (only that it changed)."""
    out = {k: (v.strftime("%H:%M") if isinstance(v, time) else v) for k, v in fields.items() if k != "meeting_url"}
    if "meeting_url" in fields:
        out["meeting_url_changed"] = True
    return out


# ---------------------------------------------------------------- groups


def create_group(*, actor: User | None, name: str, weekday: int | str, start_time: time | str,
                 duration_minutes: int | str, timezone: str, meeting_url: str, capacity: int | str,
                 description: str = "", now: datetime | None = None) -> Group:
    """An administrator adds a group; it starts active, without a lead (so it needs one), and its sessions for
    the next HORIZON_WEEKS are made."""
    _require_admin(actor, "create groups")
    now = now or utcnow()
    clean = _clean_group_fields(dict(name=name, description=description, weekday=weekday, start_time=start_time,
                                     duration_minutes=duration_minutes, timezone=timezone, meeting_url=meeting_url,
                                     capacity=capacity), group=None)
    group = Group(**clean, status=GroupStatus.ACTIVE, created_at=now, updated_at=now,
                  created_by_id=actor.id if actor else None)
    db.session.add(group)
    db.session.flush()
    audit.record(actor, "group.created", group, **_audit_fields(clean))
    ensure_sessions(group, now=now)
    return group


def update_group(group: Group, *, actor: User | None, now: datetime | None = None, **changes: Any) -> Group:
    """Change any of GROUP_FIELDS. A new schedule replaces the sessions that have not started (the ones that
    have, and everything recorded, stay); a closed group cannot be changed."""
    _require_admin(actor, "edit groups")
    now = now or utcnow()
    _lock_group(group)
    if group.status is GroupStatus.CLOSED:
        raise Conflict(f"{group.name} is closed, so it cannot be changed.")
    clean = _clean_group_fields(changes, group=group)
    changed = {k: v for k, v in clean.items() if getattr(group, k) != v}
    if not changed:
        return group
    for field, value in changed.items():
        setattr(group, field, value)
    group.updated_at = now
    db.session.flush()
    audit.record(actor, "group.updated", group, **_audit_fields(changed))
    if SCHEDULE_FIELDS & changed.keys():
        _reschedule(group, now)
    return group


def change_group_status(group: Group, status: GroupStatus | str, *, actor: User | None,
                        now: datetime | None = None) -> Group:
    """Pause, resume or close a group (GROUP_TRANSITIONS). Leaving `active` removes the sessions that have not
    started and were not cancelled; resuming makes them again. Closing is final; the records stay."""
    _require_admin(actor, "change a group's status")
    now = now or utcnow()
    try:
        target = GroupStatus(status)
    except ValueError:
        raise ValidationFailed("Unknown status.", errors={"status": [
            f"one of {', '.join(s.value for s in GroupStatus)}"]}) from None
    _lock_group(group)
    check_transition(GROUP_TRANSITIONS, group.status, target, "group", _STATUS_VERBS[target])
    previous, group.status, group.updated_at = group.status, target, now
    db.session.flush()
    if target is GroupStatus.ACTIVE:
        ensure_sessions(group, now=now)
    else:
        for row in _unstarted(group, now):
            if row.status is SessionStatus.SCHEDULED:
                db.session.delete(row)
        db.session.flush()
    audit.record(actor, f"group.{_STATUS_VERBS[target]}", group, previous=previous, status=target)
    return group


def get_group(group_id: int, viewer: User) -> Group:
    """The group, for admins, its facilitators and their supervisors; anyone else gets not-found."""
    group = db.session.get(Group, group_id)
    if group is None or not may_view_group(group, viewer):
        raise NotFound("No such group.")
    return group


def may_view_group(group: Group, viewer: User | None) -> bool:
    """Admins, the group's facilitators, and the supervisors of its facilitators (who confirm their practicum)."""
    if viewer is None or not viewer.active:
        return False
    if is_facilitator_or_admin(group, viewer):
        return True
    return viewer.role is Role.SUPERVISOR and any(m.user.supervisor_id == viewer.id for m in group.members)


def is_facilitator_or_admin(group: Group, viewer: User | None) -> bool:
    if viewer is None or not viewer.active:
        return False
    return viewer.role is Role.ADMIN or group.role_of(viewer) is not None


def may_see_meeting_link(group: Group, viewer: User | None) -> bool:
    """The Zoom link is for the group's lead and co-facilitators and for administrators, nobody else: the room
    of a recovery meeting is not passed around. Pages, API and feed all ask this."""
    return is_facilitator_or_admin(group, viewer)


def list_groups(viewer: User) -> list[Group]:
    """Admins: every group. Trainee facilitators: the groups they lead or co-facilitate. Others: refused."""
    stmt = select(Group).options(selectinload(Group.members).selectinload(GroupMember.user)).order_by(
        func.lower(Group.name), Group.id)
    if _is_admin(viewer):
        return list(db.session.scalars(stmt))
    if viewer.active and viewer.role is Role.TRAINEE:
        mine = select(GroupMember.group_id).where(GroupMember.user_id == viewer.id)
        return list(db.session.scalars(stmt.where(Group.id.in_(mine))))
    raise PermissionDenied("Groups are listed for administrators and facilitators.")


def groups_needing_lead() -> list[Group]:
    """Active groups without a lead, by name: what the admin home page should show first."""
    has_lead = select(GroupMember.group_id).where(GroupMember.role == GroupRole.LEAD)
    return list(db.session.scalars(select(Group).where(Group.status == GroupStatus.ACTIVE, Group.id.not_in(has_lead))
                                   .order_by(func.lower(Group.name))))


# ---------------------------------------------------------------- facilitators: the leadership gate


@dataclass(frozen=True)
class LeadEligibility:
    """What `lead_status` says, with the certificate it concerns: the valid one, or else the latest one."""

    user_id: int
    may_lead: bool
    certificate: Certificate | None
    certificate_status: str | None
    reasons: tuple[str, ...]


def facilitator_eligibility(user: User, *, today: date | None = None) -> LeadEligibility:
    today = today or utcnow().date()
    status = eligibility.lead_status(user, today=today)
    cert = status.shown
    return LeadEligibility(user.id, status.may_lead, cert, cert.status_on(today).value if cert else None,
                           status.reasons)


def may_view_eligibility(viewer: User, user: User, *, scopes: Iterable[str] = ()) -> bool:
    """The facilitator themselves, their supervisor, administrators, and integration tokens with the scope
    facilitators:read (a rota system asking before it shows someone as lead)."""
    if SCOPE_FACILITATORS_READ in set(scopes):
        return True
    if not viewer.active:
        return False
    return viewer.id == user.id or viewer.role is Role.ADMIN or (
        viewer.role is Role.SUPERVISOR and user.supervisor_id == viewer.id)


def assign_lead(group: Group, user: User, *, actor: User | None, today: date | None = None,
                now: datetime | None = None) -> GroupMember:
    """Make `user` the group's lead facilitator. The gate: refused (409, with lead_status's reasons in
    `errors.user_id`) unless they hold a certificate valid today and their account is active. The previous
    lead, if any, leaves the group; a co-facilitator who becomes lead changes role. The sessions that have not
    started get the new lead. Assigning the current lead again changes nothing."""
    _require_admin(actor, "assign a group's lead")
    now = now or utcnow()
    today = today or now.date()
    _lock_candidate(user)
    _lock_group(group)
    if group.status is GroupStatus.CLOSED:
        raise Conflict(f"{group.name} is closed, so it cannot have a new lead.")
    status = eligibility.lead_status(user, today=today)
    if not status.may_lead:
        raise Conflict(f"{user.display_name} may not lead sessions: {' '.join(status.reasons)}",
                       errors={"user_id": list(status.reasons)})
    current = group.lead_member
    if current is not None and current.user_id == user.id:
        return current
    previous = current.user if current else None
    if current is not None:
        group.members.remove(current)
        db.session.flush()  # the old lead goes before the new one arrives (one lead per group, in the database)
    member = next((m for m in group.members if m.user_id == user.id), None)
    if member is not None:
        member.role, member.added_at, member.added_by_id = GroupRole.LEAD, now, actor.id if actor else None
    else:
        member = GroupMember(user_id=user.id, role=GroupRole.LEAD, added_at=now,
                             added_by_id=actor.id if actor else None)
        group.members.append(member)
    db.session.flush()
    ensure_sessions(group, now=now)
    moved = _sync_unstarted_leads(group, now)
    audit.record(actor, "group.lead_assigned", group, lead=user.email, previous=previous.email if previous else None,
                 certificate=status.certificate.serial if status.certificate else None, sessions=moved)
    return member


def _lock_candidate(user: User) -> None:
    """Hold the person's account and certificates for the rest of the transaction, and re-read the account. A
    deactivation or revocation committed a moment ago is then seen by the gate; one in flight waits for this
    assignment and then steps the new lead down (step_down_lapsed_lead) instead of missing it. Taken before the
    group's lock, in the order deactivation and revocation take theirs (the person's rows, then their groups)."""
    lock_row(user, "active")
    db.session.execute(select(Certificate.id).where(Certificate.user_id == user.id).with_for_update())


def remove_lead(group: Group, *, actor: User | None, now: datetime | None = None) -> None:
    """An administrator takes the lead off a group (it then needs one); sessions ahead lose their lead."""
    _require_admin(actor, "remove a group's lead")
    now = now or utcnow()
    _lock_group(group)
    current = group.lead_member
    if current is None:
        raise Conflict(f"{group.name} has no lead to remove.")
    lead = current.user
    group.members.remove(current)
    db.session.flush()
    cleared = _sync_unstarted_leads(group, now)
    audit.record(actor, "group.lead_removed", group, lead=lead.email, reason="removed", sessions=cleared)


def add_co_facilitator(group: Group, user: User, *, actor: User | None, now: datetime | None = None
                       ) -> GroupMember:
    """Certified facilitators and trainees gaining practicum co-facilitate: any active trainee-role account.
    Their participation in a held session makes a practicum entry when they are not certified."""
    _require_admin(actor, "add co-facilitators")
    now = now or utcnow()
    lock_row(user, "active", "role")  # a deactivation in flight finishes first (person, then group, as it locks)
    _lock_group(group)
    if group.status is GroupStatus.CLOSED:
        raise Conflict(f"{group.name} is closed.")
    if not user.active or user.role is not Role.TRAINEE:
        msg = "Co-facilitators are active trainee or certified facilitator accounts."
        raise ValidationFailed(msg, errors={"user_id": [msg]})
    role = group.role_of(user)
    if role is not None:
        raise Conflict(f"{user.display_name} is already the group's {role.label.lower()}.")
    member = GroupMember(user_id=user.id, role=GroupRole.CO_FACILITATOR, added_at=now,
                         added_by_id=actor.id if actor else None)
    group.members.append(member)
    db.session.flush()
    audit.record(actor, "group.co_facilitator_added", group, user=user.email)
    return member


def remove_co_facilitator(group: Group, user: User, *, actor: User | None) -> None:
    _require_admin(actor, "remove co-facilitators")
    _lock_group(group)
    member = next((m for m in group.members if m.user_id == user.id and m.role is GroupRole.CO_FACILITATOR), None)
    if member is None:
        raise NotFound(f"{user.display_name} is not a co-facilitator of {group.name}.")
    group.members.remove(member)
    db.session.flush()
    audit.record(actor, "group.co_facilitator_removed", group, user=user.email)


def step_down_lapsed_lead(user: User, *, actor: User | None, now: datetime, reason: str,
                          serial: str | None = None) -> list[Group]:
    """Remove `user` as lead of every group they lead when they may no longer lead (lead_status), and from the
    sessions that have not started; those that have, and all recorded ones, stay. Active and paused groups
    that lost their lead are e-mailed to every administrator. Returns the groups. Nothing happens when another
    certificate still lets them lead (an old, superseded one was revoked)."""
    if eligibility.lead_status(user, today=now.date()).may_lead:
        return []
    memberships = list(db.session.scalars(select(GroupMember).where(
        GroupMember.user_id == user.id, GroupMember.role == GroupRole.LEAD).order_by(GroupMember.group_id)))
    groups = []
    for member in memberships:
        group = member.group
        _lock_group(group)
        group.members.remove(member)
        db.session.flush()
        cleared = _sync_unstarted_leads(group, now)
        audit.record(actor, "group.lead_removed", group, lead=user.email, reason=reason, certificate=serial,
                     sessions=cleared)
        groups.append(group)
    open_groups = [g for g in groups if g.status is not GroupStatus.CLOSED]
    if open_groups:
        items = [dict(name=g.name, id=g.id, schedule=g.schedule.describe(),
                      next=_next_date(g, now)) for g in open_groups]
        subject = (f"Group needs a lead: {open_groups[0].name}" if len(open_groups) == 1
                   else f"{len(open_groups)} groups need a lead")
        for admin in accounts.active_admins():
            mail.send(admin.email, subject, "group_needs_lead", admin=admin, holder=user, reason=reason,
                      serial=serial, groups=items)
    return groups


@account_deactivated.connect
def _on_account_deactivated(user: User, *, actor: User | None = None, **_: Any) -> None:
    step_down_lapsed_lead(user, actor=actor, now=utcnow(), reason="deactivated")


@signals.certificate_lapsed.connect
def _on_certificate_lapsed(cert: Certificate, *, reason: str, actor: User | None = None,
                           now: datetime | None = None, **_: Any) -> None:
    step_down_lapsed_lead(cert.user, actor=actor, now=now or utcnow(), reason=reason, serial=cert.serial)


# ---------------------------------------------------------------- sessions


def _unstarted(group: Group, now: datetime) -> list[GroupSession]:
    return list(db.session.scalars(select(GroupSession).where(
        GroupSession.group_id == group.id, GroupSession.starts_at > now, GroupSession.status != SessionStatus.HELD)
        .order_by(GroupSession.session_date)))


def _sync_unstarted_leads(group: Group, now: datetime) -> int:
    """Sessions that have not started take the group's current lead (or none). Returns how many changed."""
    lead = group.lead_member
    lead_id = lead.user_id if lead else None
    changed = 0
    for row in _unstarted(group, now):
        if row.lead_id != lead_id:
            row.lead_id = lead_id
            changed += 1
    db.session.flush()
    return changed


def _reschedule(group: Group, now: datetime) -> None:
    """After a schedule change: sessions ahead that are not on the new schedule go, the others take the new
    duration, and the horizon is filled again."""
    for row in _unstarted(group, now):
        occ = schedule.occurrence(group.schedule, row.session_date)
        if occ is None or occ.starts_at != row.starts_at:
            db.session.delete(row)
        else:
            row.duration_minutes = group.duration_minutes
    db.session.flush()
    ensure_sessions(group, now=now)


def ensure_sessions(group: Group, until: date | None = None, *, now: datetime | None = None) -> int:
    """Materialise an active group's sessions from today (its local date) through `until` (default:
    HORIZON_WEEKS ahead): one row for each date on the schedule that has none, with the group's lead. Rows that
    exist are left as they are. Returns how many were made."""
    now = now or utcnow()
    if group.status is not GroupStatus.ACTIVE:
        return 0
    _lock_group(group)
    start = schedule.local_today(group.timezone, now)
    until = until or start + timedelta(weeks=HORIZON_WEEKS)
    wanted = schedule.occurrences(group.schedule, start, until)
    have = set(db.session.scalars(select(GroupSession.session_date).where(
        GroupSession.group_id == group.id, GroupSession.session_date >= start, GroupSession.session_date <= until)))
    lead = group.lead_member
    made = 0
    for occ in wanted:
        if occ.session_date in have:
            continue
        db.session.add(GroupSession(group_id=group.id, session_date=occ.session_date, starts_at=occ.starts_at,
                                    duration_minutes=group.duration_minutes, lead_id=lead.user_id if lead else None,
                                    status=SessionStatus.SCHEDULED))
        made += 1
    db.session.flush()
    return made


def extend_schedules(*, now: datetime | None = None) -> int:
    """For `lms run-maintenance`: keep every active group's sessions materialised HORIZON_WEEKS ahead."""
    now = now or utcnow()
    made = 0
    for group in db.session.scalars(select(Group).where(Group.status == GroupStatus.ACTIVE).order_by(Group.id)):
        made += ensure_sessions(group, now=now)
    return made


def get_session(group: Group, day: date) -> GroupSession | None:
    return db.session.scalar(select(GroupSession).where(GroupSession.group_id == group.id,
                                                        GroupSession.session_date == day))


def session_on(group: Group, day: date) -> GroupSession:
    """The session on local date `day`, made now if the date is on the schedule and has no row yet (with the
    group's current lead); NotFound for a day the group does not meet or before it existed."""
    row = get_session(group, day)
    if row is not None:
        return row
    occ = schedule.occurrence(group.schedule, day)
    created = schedule.local_today(group.timezone, group.created_at)
    if occ is None or day < created:
        raise NotFound(f"{group.name} has no session on {long_date(day)}: it meets on "
                       f"{group.schedule.weekday_name}s since {long_date(created)}.")
    lead = group.lead_member
    row = GroupSession(group_id=group.id, session_date=day, starts_at=occ.starts_at,
                       duration_minutes=group.duration_minutes, lead_id=lead.user_id if lead else None,
                       status=SessionStatus.SCHEDULED)
    db.session.add(row)
    db.session.flush()
    return row


def sessions_between(group: Group, start: date, end: date) -> list[GroupSession]:
    """The group's session rows with a local date from `start` to `end`, in order."""
    return list(db.session.scalars(select(GroupSession).where(
        GroupSession.group_id == group.id, GroupSession.session_date >= start, GroupSession.session_date <= end)
        .options(selectinload(GroupSession.lead), selectinload(GroupSession.co_facilitations)
                 .selectinload(SessionCoFacilitator.user))
        .order_by(GroupSession.session_date)))


def next_session(group: Group, now: datetime | None = None) -> GroupSession | None:
    now = now or utcnow()
    return db.session.scalar(select(GroupSession).where(
        GroupSession.group_id == group.id, GroupSession.starts_at > now, GroupSession.status == SessionStatus.SCHEDULED)
        .order_by(GroupSession.starts_at).limit(1))


def _next_date(group: Group, now: datetime) -> str | None:
    row = next_session(group, now)
    return long_date(row.session_date) if row else None


def may_manage_session(session: GroupSession, user: User) -> bool:
    """Whether `user` may record, cancel or reinstate this session: its lead of record, or an administrator."""
    return user.active and (user.role is Role.ADMIN or (session.lead_id is not None and session.lead_id == user.id))


def _require_lead_or_admin(session: GroupSession, actor: User, what: str) -> None:
    if not may_manage_session(session, actor):
        raise PermissionDenied(f"Only the session's lead facilitator or an administrator can {what}.")


def record_session_held(group: Group, day: date, *, actor: User, duration_minutes: int | str,
                        attendance_count: int | str, co_facilitator_ids: Iterable[int] = (),
                        note: str | None = None, now: datetime | None = None) -> GroupSession:
    """The session's lead (or an administrator) records that the session on local date `day` took place: how
    long it ran, how many took part (a number, at most capacity x 2), which of the group's co-facilitators
    were there, and an optional short note without participant names (NOTE_HELP). Then:
    - each co-facilitator who is not certified on that day gets a pending practicum entry (co-facilitated,
      source "group") for their supervisor to confirm, with a factual reflection;
    - a lead certified on that day gets a pending entry "led" toward renewal, likewise.
    Marking a session held a second time is a 409: the first record and its practicum entries stand. A session
    that has not started, that was cancelled, or that has no lead of record cannot be marked held."""
    now = now or utcnow()
    _lock_group(group)
    session = session_on(group, day)
    lock_row(session, "status")
    _require_lead_or_admin(session, actor, "record this session")
    if session.status is SessionStatus.HELD:
        by = session.recorded_by.display_name if session.recorded_by else "someone"
        raise Conflict(f"The session of {long_date(day)} was already recorded as held, by {by}.")
    check_transition(SESSION_TRANSITIONS, session.status, SessionStatus.HELD, "session", "marked held")
    if session.starts_at > now:
        raise Conflict(f"The session of {long_date(day)} has not started yet; record it once it has taken place.")
    if day < now.date() - timedelta(days=RECORD_HISTORY_DAYS):
        raise ValidationFailed("Sessions more than two years old cannot be recorded.",
                               errors={"date": ["more than two years ago"]})
    lead = session.lead
    if lead is None:
        raise Conflict(f"The session of {long_date(day)} had no lead facilitator, so it cannot be recorded as held.")
    errors: dict[str, list[str]] = {}
    minutes = _ranged(duration_minutes, "duration_minutes", HELD_MINUTES_MIN, HELD_MINUTES_MAX, errors)
    attendance = _ranged(attendance_count, "attendance_count", 0, group.capacity * ATTENDANCE_FACTOR, errors)
    note = (note or "").replace("\r\n", "\n").strip() or None
    if note and len(note) > NOTE_MAX:
        errors["note"] = [f"at most {NOTE_MAX} characters, and no participant names"]
    co_members = {m.user_id: m.user for m in group.members if m.role is GroupRole.CO_FACILITATOR}
    co_ids: list[int] = []
    for raw in co_facilitator_ids or ():
        uid = _whole(raw)
        if uid is None or uid not in co_members:
            errors.setdefault("co_facilitator_ids", []).append(f"{raw} is not a co-facilitator of {group.name}")
        elif uid not in co_ids:
            co_ids.append(uid)
    if errors:
        raise ValidationFailed("The session record is not complete: " + ", ".join(sorted(errors)) + ".",
                               errors=errors)
    assert minutes is not None and attendance is not None
    session.status, session.held_minutes, session.attendance_count, session.note = (
        SessionStatus.HELD, minutes, attendance, note)
    session.recorded_by_id, session.recorded_at = actor.id, now
    db.session.flush()

    # The practicum log refuses a session "in the future" by its own (UTC) date; this one has started, and its
    # local date can be a day ahead of UTC's, so the log is told which day it is for this check.
    log_today = max(now.date(), day)
    by = f"the lead {actor.display_name}" if actor.id == lead.id else f"{actor.display_name} (administrator)"
    when = long_date(day)
    trainees: list[str] = []
    for uid in co_ids:
        person = co_members[uid]
        entry = None
        if person.role is Role.TRAINEE and not eligibility.lead_status(person, today=day).may_lead:
            entry = certification.log_practicum(
                person, kind=PracticumKind.CO_FACILITATED, session_date=day, group_name=group.name,
                reflection=(f"Co-facilitated the {group.name} session on {when}, recorded by {by}. "
                            "(Made from the group's session record.)"),
                today=log_today, source="group", actor=actor)
            trainees.append(person.email)
        session.co_facilitations.append(SessionCoFacilitator(user_id=uid,
                                                             practicum_entry_id=entry.id if entry else None))
    if lead.role is Role.TRAINEE and eligibility.lead_status(lead, today=day).may_lead:
        entry = certification.log_practicum(
            lead, kind=PracticumKind.LED, session_date=day, group_name=group.name,
            reflection=(f"Led the {group.name} session on {when} as a certified facilitator "
                        f"({minutes} minutes, {attendance} taking part), recorded by {by}. "
                        "(Made from the group's session record.)"),
            today=log_today, source="group", actor=actor)
        session.lead_entry_id = entry.id
    db.session.flush()
    audit.record(actor, "group_session.held", session, group_id=group.id, date=day.isoformat(), lead=lead.email,
                 minutes=minutes, attendance=attendance, co_facilitators=[co_members[u].email for u in co_ids],
                 practicum_for=trainees, led_entry=session.lead_entry_id)
    return session


def cancel_session(group: Group, day: date, *, actor: User, now: datetime | None = None) -> GroupSession:
    """The lead or an administrator cancels a session that has not started (it shows as cancelled in calendars)."""
    now = now or utcnow()
    _lock_group(group)
    session = session_on(group, day)
    lock_row(session, "status")
    _require_lead_or_admin(session, actor, "cancel this session")
    check_transition(SESSION_TRANSITIONS, session.status, SessionStatus.CANCELLED, "session", "cancelled")
    if session.starts_at <= now:
        raise Conflict(f"The session of {long_date(day)} has already started, so it cannot be cancelled.")
    session.status, session.recorded_by_id, session.recorded_at = SessionStatus.CANCELLED, actor.id, now
    db.session.flush()
    audit.record(actor, "group_session.cancelled", session, group_id=group.id, date=day.isoformat())
    return session


def reinstate_session(group: Group, day: date, *, actor: User, now: datetime | None = None) -> GroupSession:
    """Undo a cancellation before the session starts; it takes the group's current lead."""
    now = now or utcnow()
    _lock_group(group)
    session = get_session(group, day)
    if session is None:
        raise NotFound(f"{group.name} has no session on {long_date(day)}.")
    lock_row(session, "status")
    _require_lead_or_admin(session, actor, "reinstate this session")
    check_transition(SESSION_TRANSITIONS, session.status, SessionStatus.SCHEDULED, "session", "reinstated")
    if session.starts_at <= now:
        raise Conflict(f"The session of {long_date(day)} has already started.")
    lead = group.lead_member
    session.status, session.recorded_by_id, session.recorded_at = SessionStatus.SCHEDULED, None, None
    session.lead_id = lead.user_id if lead else None
    db.session.flush()
    audit.record(actor, "group_session.reinstated", session, group_id=group.id, date=day.isoformat())
    return session


# ---------------------------------------------------------------- calendar feeds


def rotate_feed_token(user: User, *, actor: User | None) -> str:
    """Make (or replace) the person's calendar feed secret and return it, once; the old address stops working.
    Only the person themselves, or an operator at the shell."""
    if actor is not None and actor.id != user.id:
        raise PermissionDenied("People make their own calendar feed address.")
    if not user.active:
        raise Conflict("A deactivated account has no calendar feed.")
    raw = secrets.token_urlsafe(FEED_TOKEN_BYTES)
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    rotated = feed is not None
    if feed is None:
        feed = CalendarFeed(user_id=user.id, token_hash=_digest(raw), created_at=utcnow())
        db.session.add(feed)
    else:
        feed.token_hash, feed.created_at = _digest(raw), utcnow()
    db.session.flush()
    audit.record(actor, "calendar_feed.rotated" if rotated else "calendar_feed.created", user)
    return raw


def revoke_feed(user: User, *, actor: User | None) -> None:
    """Stop the person's feed address (they, an administrator, or an operator)."""
    if actor is not None and actor.id != user.id and not _is_admin(actor):
        raise PermissionDenied("Only the person or an administrator can stop a calendar feed.")
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    if feed is None:
        raise NotFound("There is no calendar feed to stop.")
    db.session.delete(feed)
    db.session.flush()
    audit.record(actor, "calendar_feed.revoked", user)


def has_feed(user: User) -> bool:
    return db.session.scalar(select(CalendarFeed.id).where(CalendarFeed.user_id == user.id)) is not None


def feed_url(raw: str) -> str:
    return external_url("groups.calendar_feed", token=raw)


def user_for_feed_token(raw: str) -> User | None:
    """The active owner of the feed secret, or None (unknown, malformed, rotated away, deactivated)."""
    if not raw or not FEED_TOKEN_PATTERN.fullmatch(raw):
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _digest(raw)))
    if feed is None or not feed.user.active:
        return None
    return feed.user


def sessions_of(user: User, start: date, end: date) -> list[tuple[GroupSession, GroupRole]]:
    """The sessions from `start` to `end` that `user` leads, or co-facilitates (in a group where they are a
    co-facilitator, or recorded as one), each with their role in it."""
    co_groups = select(GroupMember.group_id).where(GroupMember.user_id == user.id,
                                                   GroupMember.role == GroupRole.CO_FACILITATOR)
    recorded = select(SessionCoFacilitator.session_id).where(SessionCoFacilitator.user_id == user.id)
    rows = db.session.scalars(select(GroupSession).where(
        GroupSession.session_date >= start, GroupSession.session_date <= end,
        or_(GroupSession.lead_id == user.id, GroupSession.group_id.in_(co_groups), GroupSession.id.in_(recorded)))
        .options(selectinload(GroupSession.group)).order_by(GroupSession.starts_at))
    return [(row, GroupRole.LEAD if row.lead_id == user.id else GroupRole.CO_FACILITATOR) for row in rows]


def _feed_host() -> str:
    return urlsplit(current_app.config["BASE_URL"]).hostname or "pnd-lms"


def feed_events(user: User, *, now: datetime | None = None) -> list[ical.FeedEvent]:
    """The person's sessions from FEED_PAST_DAYS ago to FEED_WEEKS ahead, as calendar events. UIDs are stable per
    group and date. The meeting link is left out on purpose: a feed address is a long-lived secret that
    calendar services fetch and keep on their servers, so the link of a recovery meeting stays on the site."""
    now = now or utcnow()
    today = now.date()
    host = _feed_host()
    site = current_app.config["BASE_URL"]
    out = []
    for row, role in sessions_of(user, today - timedelta(days=FEED_PAST_DAYS), today + timedelta(weeks=FEED_WEEKS)):
        group = row.group
        minutes = row.held_minutes if row.status is SessionStatus.HELD else row.duration_minutes
        what = "lead facilitator" if role is GroupRole.LEAD else "co-facilitator"
        lines = [f"Project New Day community session: {group.name}.", f"You are the {what}.",
                 f"Weekly: {group.schedule.describe()}."]
        if row.status is SessionStatus.HELD:
            lines.append("Recorded as held.")
        elif row.status is SessionStatus.CANCELLED:
            lines.append("This session is cancelled.")
        lines.append(f"The meeting link is on the training site, for the group's facilitators: {site}")
        out.append(ical.FeedEvent(
            uid=f"pnd-group-{group.id}-{row.session_date:%Y%m%d}@{host}", starts_at=row.starts_at,
            ends_at=row.starts_at + timedelta(minutes=minutes),
            summary=f"{group.name} ({'lead' if role is GroupRole.LEAD else 'co-facilitator'})",
            description="\n".join(lines), cancelled=row.status is SessionStatus.CANCELLED))
    return out


def calendar_for_token(raw: str, *, now: datetime | None = None) -> bytes | None:
    """The .ics of the feed with this secret, or None when there is no such (live) feed."""
    user = user_for_feed_token(raw)
    if user is None:
        return None
    now = now or utcnow()
    return ical.build_calendar(feed_events(user, now=now), name="Project New Day sessions", now=now)
