"""Group pages, on the `groups` blueprint. Administrators: the list of groups, create and edit one, its status,
its lead (the leadership gate is the service's: a refused assignment is shown on the page with the reasons) and
its co-facilitators. Facilitators: "Lead a group" (unlocked with a certificate valid today, otherwise it says
what is missing), a group's page, recording that a session was held, and their calendar feed. Every change is one
service call; the meeting link shows only where services.may_see_meeting_link says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from lms.accounts import services as accounts
from lms.accounts.forms import EmptyForm
from lms.accounts.models import Role, User
from lms.certification.eligibility import lead_certificates, lead_status
from lms.dates import long_date
from lms.db import db, utcnow
from lms.errors import Conflict, DomainError, NotFound, ValidationFailed
from lms.groups import schedule, services
from lms.groups.forms import (
    COMMON_ZONES,
    STATUS_HELP,
    CalendarForm,
    CoFacilitatorForm,
    GroupForm,
    HeldForm,
    LeadForm,
    StatusForm,
)
from lms.groups.models import GROUP_TRANSITIONS, Group, GroupRole, GroupSession, GroupStatus, SessionStatus
from lms.groups.views import bp
from lms.security import role_required
from lms.web import form_errors_from

UPCOMING = 8  # sessions ahead on a group's page
RECENT_HELD = 8  # held sessions on a group's page
RECORD_WEEKS = 8  # sessions not recorded yet are offered for recording this far back
HISTORY_WEEKS = 26  # how far back a group's page looks for held sessions
LEAD_UPCOMING = 3  # sessions ahead per group on "Lead a group"
CANDIDATES_MAX = 1000  # people listed in the lead and co-facilitator selects


# ---------------------------------------------------------------- helpers shared by the pages


def _me() -> User:
    return current_user._get_current_object()


def _post_status(default: int = 422) -> int:
    return default if request.method == "POST" else 200


def _place(form, exc: DomainError) -> None:
    """The service's messages next to their fields (or as a flash), each starting with a capital letter."""
    form_errors_from(form, exc)
    for field in form:
        if field.errors:
            field.errors = [e[:1].upper() + e[1:] if isinstance(e, str) else e for e in field.errors]


def session_day(row: GroupSession) -> str:
    """“Tuesday 24 November 2026”: the session's local date."""
    return f"{row.session_date:%A} {long_date(row.session_date)}"


def session_time(row: GroupSession, group: Group) -> str:
    """“19:00” in the group's time zone (the wall-clock time moves in UTC with daylight saving, not here)."""
    return row.starts_at.astimezone(schedule.zone(group.timezone)).strftime("%H:%M")


def may_record(row: GroupSession, user: User) -> bool:
    """Whether to offer `user` the form recording this session as held (the service checks again); a session
    without a lead cannot be recorded at all."""
    return row.lead_id is not None and services.may_manage_session(row, user)


def _held_prefix(group_id: int, day: date) -> str:
    return f"held-{group_id}-{day.isoformat()}"


def _held_form(group: Group, row: GroupSession, back: str) -> HeldForm:
    form = HeldForm(formdata=None, prefix=_held_prefix(group.id, row.session_date),
                    duration_minutes=row.duration_minutes, back=back)
    form.co_facilitator_ids.choices = [SelectChoice(u.id, u.display_name) for u in group.co_facilitators]
    return form


def _flash_unshown(forms: dict, shown: set) -> None:
    """A posted form whose session is not on the page any more (recorded meanwhile, or never offered): its
    errors still reach the person."""
    for key, form in forms.items():
        if key not in shown and form.errors:
            problems = " ".join(e for name, errs in form.errors.items() if name != "csrf_token" for e in errs)
            flash(f"The session could not be recorded. {problems}", "error")


def _day_or_404(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(404)


# ---------------------------------------------------------------- who can lead: the selects of the admin forms


@dataclass(frozen=True)
class Candidate:
    user: User
    may_lead: bool
    detail: str  # “certificate PND-… valid until 24 November 2027” or why they cannot lead


def _candidates() -> list[Candidate]:
    """Every active trainee-role account (certified facilitators are trainee accounts with a certificate), those
    who may lead today first, each by name. Whether one may lead is lead_status's answer; assign_lead asks again."""
    today = utcnow().date()
    people = accounts.search_users(role=Role.TRAINEE.value, status="active", per_page=CANDIDATES_MAX).items
    certified = lead_certificates(people, today=today)  # one query for the whole list
    out = []
    for person in people:
        cert = certified.get(person.id)
        detail = f"certified until {long_date(cert.valid_until)}" if cert else "not certified today"
        out.append(Candidate(person, cert is not None, detail))
    return sorted(out, key=lambda c: not c.may_lead)  # stable: by name within each part


def _lead_form(group: Group, candidates: list[Candidate], *, bound: bool = False) -> LeadForm:
    form = LeadForm(prefix="lead") if bound else LeadForm(formdata=None, prefix="lead")
    current = group.lead_member
    form.user_id.choices = [SelectChoice("", "Choose a facilitator")] + [
        SelectChoice(str(c.user.id), f"{c.user.display_name} ({c.user.email}), {c.detail}",
                     optgroup="May lead today" if c.may_lead else "Cannot lead today")
        for c in candidates if current is None or c.user.id != current.user_id]
    return form


def _co_form(group: Group, candidates: list[Candidate], *, bound: bool = False) -> CoFacilitatorForm:
    form = CoFacilitatorForm(prefix="co") if bound else CoFacilitatorForm(formdata=None, prefix="co")
    members = {m.user_id for m in group.members}
    form.user_id.choices = [SelectChoice("", "Choose a person")] + [
        SelectChoice(str(c.user.id), f"{c.user.display_name} ({c.user.email}){', certified' if c.may_lead else ''}")
        for c in sorted(candidates, key=lambda c: (c.user.display_name.lower(), c.user.id))
        if c.user.id not in members]
    return form


def _status_form(group: Group, *, bound: bool = False) -> StatusForm:
    form = StatusForm() if bound else StatusForm(formdata=None)
    targets = sorted(GROUP_TRANSITIONS[group.status], key=list(GroupStatus).index)
    form.status.choices = [SelectChoice(s.value, f"{s.label}: {STATUS_HELP[s.value]}") for s in targets]
    return form


# ---------------------------------------------------------------- administrators: the list of groups


@bp.get("/groups")
@role_required(Role.ADMIN, Role.TRAINEE)
def index():
    if current_user.role is Role.TRAINEE:  # facilitators see their groups on "Lead a group"
        return redirect(url_for("groups.lead"))
    groups = services.list_groups(_me())
    return render_template("groups/index.html", groups=groups,
                           nexts={g.id: services.next_session(g) for g in groups},
                           needing=[g for g in groups if g.needs_lead], session_day=session_day,
                           session_time=session_time)


def _render_form(form: GroupForm, group: Group | None, code: int = 200):
    return render_template("groups/form.html", form=form, group=group, zones=COMMON_ZONES), code


@bp.route("/groups/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_group():
    form = GroupForm()
    if request.method == "GET":
        form.duration_minutes.data = form.duration_minutes.data or 90
    if not form.validate_on_submit():
        return _render_form(form, None, _post_status())
    try:
        group = services.create_group(actor=_me(), **form.values())
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        _place(form, exc)
        return _render_form(form, None, exc.status)
    group_id, name = group.id, group.name
    db.session.commit()
    flash(f"{name} is created, with its sessions planned ahead. It needs a lead facilitator: choose one below.",
          "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_group(group_id: int):
    group = services.get_group(group_id, _me())
    if group.status is GroupStatus.CLOSED:
        flash(f"{group.name} is closed, so it cannot be changed. Its records stay.", "error")
        return redirect(url_for("groups.detail", group_id=group.id))
    form = GroupForm(obj=group)
    if not form.validate_on_submit():
        return _render_form(form, group, _post_status())
    try:
        services.update_group(group, actor=_me(), **form.values())
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        _place(form, exc)
        return _render_form(form, group, exc.status)
    name = group.name
    db.session.commit()
    flash(f"{name} is saved. If the day, time or time zone changed, the sessions ahead follow the new schedule.",
          "success")
    return redirect(url_for("groups.detail", group_id=group_id))


# ---------------------------------------------------------------- one group


def _render_detail(group: Group, *, code: int = 200, lead_form: LeadForm | None = None,
                   co_form: CoFacilitatorForm | None = None, status_form: StatusForm | None = None,
                   held: dict[date, HeldForm] | None = None):
    me = _me()
    now = utcnow()
    today = schedule.local_today(group.timezone, now)
    rows = services.sessions_between(group, today - timedelta(weeks=HISTORY_WEEKS),
                                     today + timedelta(weeks=services.HORIZON_WEEKS))
    upcoming = [r for r in rows if r.starts_at > now][:UPCOMING]
    record_from = today - timedelta(weeks=RECORD_WEEKS)
    waiting = [r for r in rows if r.status is SessionStatus.SCHEDULED and r.starts_at <= now
               and r.session_date >= record_from]
    held_rows = [r for r in reversed(rows) if r.status is SessionStatus.HELD][:RECENT_HELD]
    held = held or {}
    held_forms = {r.session_date: held.get(r.session_date) or _held_form(group, r, "group")
                  for r in waiting if may_record(r, me)}
    _flash_unshown(held, set(held_forms))
    admin = me.role is Role.ADMIN
    ctx = dict(group=group, upcoming=upcoming, waiting=waiting, held_rows=held_rows, held_forms=held_forms,
               next=services.next_session(group, now), show_link=services.may_see_meeting_link(group, me),
               show_notes=services.is_facilitator_or_admin(group, me), my_role=group.role_of(me), admin=admin,
               session_day=session_day, session_time=session_time, record_weeks=RECORD_WEEKS)
    if admin:
        candidates = _candidates() if group.status is not GroupStatus.CLOSED else []
        ctx.update(lead_form=lead_form or _lead_form(group, candidates),
                   co_form=co_form or _co_form(group, candidates),
                   status_form=status_form or _status_form(group))
    return render_template("groups/detail.html", **ctx), code


@bp.get("/groups/<int:group_id>")
@login_required
def detail(group_id: int):
    # administrators, the group's facilitators and their supervisors; anyone else gets the 404 page
    return _render_detail(services.get_group(group_id, _me()))


@bp.post("/groups/<int:group_id>/status")
@role_required(Role.ADMIN)
def change_status(group_id: int):
    group = services.get_group(group_id, _me())
    form = _status_form(group, bound=True)
    if not form.validate_on_submit():
        return _render_detail(group, status_form=form, code=422)
    try:
        services.change_group_status(group, form.status.data, actor=_me())
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        _place(form, exc)
        return _render_detail(group, status_form=form, code=exc.status)
    name, status = group.name, group.status
    db.session.commit()
    flash({GroupStatus.ACTIVE: f"{name} is active again; its sessions are planned ahead.",
           GroupStatus.PAUSED: f"{name} is paused. Its sessions ahead are off the calendar until you resume it.",
           GroupStatus.CLOSED: f"{name} is closed. Its records stay."}[status], "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.post("/groups/<int:group_id>/lead")
@role_required(Role.ADMIN)
def assign_lead(group_id: int):
    group = services.get_group(group_id, _me())
    form = _lead_form(group, _candidates(), bound=True)
    if not form.validate_on_submit():
        return _render_detail(group, lead_form=form, code=422)
    person = accounts.get_user(form.user_id.data)
    try:
        services.assign_lead(group, person, actor=_me())
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        if "user_id" in exc.errors:  # the gate: "X may not lead sessions: <reasons>"
            form.user_id.errors = [*form.user_id.errors, exc.detail]
        else:
            _place(form, exc)
        return _render_detail(group, lead_form=form, code=exc.status)
    name, who = group.name, person.display_name
    db.session.commit()
    flash(f"{who} is now the lead facilitator of {name}. The sessions ahead show them as lead.", "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.post("/groups/<int:group_id>/lead/remove")
@role_required(Role.ADMIN)
def remove_lead(group_id: int):
    group = services.get_group(group_id, _me())
    if not EmptyForm().validate_on_submit():
        abort(400)
    who = group.lead.display_name if group.lead else None
    try:
        services.remove_lead(group, actor=_me())
    except Conflict as exc:
        db.session.rollback()
        flash(exc.detail, "error")
    else:
        name = group.name
        db.session.commit()
        flash(f"{who} is no longer the lead of {name}. The group needs a lead facilitator.", "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.post("/groups/<int:group_id>/co-facilitators")
@role_required(Role.ADMIN)
def add_co_facilitator(group_id: int):
    group = services.get_group(group_id, _me())
    form = _co_form(group, _candidates(), bound=True)
    if not form.validate_on_submit():
        return _render_detail(group, co_form=form, code=422)
    person = accounts.get_user(form.user_id.data)
    try:
        services.add_co_facilitator(group, person, actor=_me())
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        _place(form, exc)
        if not form.user_id.errors:
            form.user_id.errors = [exc.detail]
        return _render_detail(group, co_form=form, code=exc.status)
    name, who = group.name, person.display_name
    db.session.commit()
    flash(f"{who} is now a co-facilitator of {name}.", "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.post("/groups/<int:group_id>/co-facilitators/<int:user_id>/remove")
@role_required(Role.ADMIN)
def remove_co_facilitator(group_id: int, user_id: int):
    group = services.get_group(group_id, _me())
    person = accounts.get_user(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.remove_co_facilitator(group, person, actor=_me())
    except (NotFound, Conflict) as exc:
        db.session.rollback()
        flash(exc.detail, "error")
    else:
        name, who = group.name, person.display_name
        db.session.commit()
        flash(f"{who} is no longer a co-facilitator of {name}.", "success")
    return redirect(url_for("groups.detail", group_id=group_id))


# ---------------------------------------------------------------- recording a session held


@bp.post("/groups/<int:group_id>/sessions/<day>/held")
@login_required
def record_held(group_id: int, day: str):
    group = services.get_group(group_id, _me())
    when = _day_or_404(day)
    form = HeldForm(prefix=_held_prefix(group.id, when))
    form.co_facilitator_ids.choices = [SelectChoice(u.id, u.display_name) for u in group.co_facilitators]
    back = "lead" if form.back.data == "lead" and current_user.role is Role.TRAINEE else "group"
    if not form.validate_on_submit():
        return _render_back(back, group, when, form, 422)
    try:
        row = services.record_session_held(  # its lead of record or an admin, else PermissionDenied (403)
            group, when, actor=_me(), duration_minutes=form.duration_minutes.data,
            attendance_count=form.attendance_count.data, co_facilitator_ids=form.co_facilitator_ids.data or [],
            note=form.note.data)
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        _place(form, exc)
        return _render_back(back, group, when, form, exc.status)
    practicum = sum(1 for c in row.co_facilitations if c.practicum_entry_id is not None)
    led_entry = row.lead_entry_id is not None and row.lead_id == current_user.id
    message = f"Thank you. The session of {session_day(row)} is recorded as held."
    if practicum:
        message += (" It is in the practicum log of " + ("the co-facilitator" if practicum == 1 else
                                                          f"{practicum} co-facilitators")
                    + " still training, for their supervisor to confirm.")
    if led_entry:
        message += " It is also in your practicum log as a session you led, toward renewal."
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("groups.lead") if back == "lead" else url_for("groups.detail", group_id=group_id))


def _render_back(back: str, group: Group, day: date, form: HeldForm, code: int):
    if back == "lead":
        return _render_lead(held={(group.id, day): form}, code=code)
    return _render_detail(group, held={day: form}, code=code)


# ---------------------------------------------------------------- facilitators: "Lead a group"


@dataclass
class GroupCard:
    group: Group
    role: GroupRole | None
    upcoming: list[GroupSession]
    show_link: bool


def _render_lead(*, held: dict[tuple[int, date], HeldForm] | None = None, code: int = 200):
    me = _me()
    now = utcnow()
    status = lead_status(me, today=now.date())
    cards = []
    for group in services.list_groups(me):
        today = schedule.local_today(group.timezone, now)
        rows = services.sessions_between(group, today, today + timedelta(weeks=LEAD_UPCOMING + 2))
        cards.append(GroupCard(group, group.role_of(me), [r for r in rows if r.starts_at > now][:LEAD_UPCOMING],
                               services.may_see_meeting_link(group, me)))
    start = now.date() - timedelta(weeks=RECORD_WEEKS)
    to_record = [row for row, role in services.sessions_of(me, start, now.date() + timedelta(days=1))
                 if role is GroupRole.LEAD and row.status is SessionStatus.SCHEDULED and row.starts_at <= now
                 and may_record(row, me)]
    held = held or {}
    held_forms = {(r.group_id, r.session_date): held.get((r.group_id, r.session_date))
                  or _held_form(r.group, r, "lead") for r in to_record}
    _flash_unshown(held, set(held_forms))
    return render_template("groups/lead.html", status=status, cards=cards, to_record=to_record,
                           held_forms=held_forms, has_feed=services.has_feed(me), session_day=session_day,
                           session_time=session_time, long_date=long_date), code


@bp.get("/lead")
@role_required(Role.TRAINEE)
def lead():
    return _render_lead()


# ---------------------------------------------------------------- a facilitator's calendar feed


def _webcal(url: str) -> str:
    """The same address for calendar apps that subscribe on a click (webcal://)."""
    for scheme in ("https://", "http://"):
        if url.startswith(scheme):
            return "webcal://" + url.removeprefix(scheme)
    return url


def _render_calendar(new_url: str | None = None, code: int = 200):
    me = _me()
    today = utcnow().date()
    sessions = services.sessions_of(me, today, today + timedelta(weeks=services.FEED_WEEKS))
    return render_template("groups/calendar.html", has_feed=services.has_feed(me), new_url=new_url,
                           webcal=_webcal(new_url) if new_url else None, session_count=len(sessions),
                           feed_weeks=services.FEED_WEEKS, past_days=services.FEED_PAST_DAYS), code


@bp.route("/calendar", methods=["GET", "POST"])
@role_required(Role.TRAINEE)
def calendar():
    if request.method == "GET":
        return _render_calendar()
    form = CalendarForm()
    if not form.validate_on_submit():
        abort(400)
    if form.action.data == "rotate":
        try:
            raw = services.rotate_feed_token(_me(), actor=_me())
        except Conflict as exc:
            db.session.rollback()
            flash(exc.detail, "error")
            return redirect(url_for("groups.calendar"))
        db.session.commit()
        # Rendered, not redirected: the secret exists only in this response (a flash would keep it in the cookie).
        return _render_calendar(new_url=services.feed_url(raw))
    try:
        services.revoke_feed(_me(), actor=_me())
    except NotFound as exc:
        db.session.rollback()
        flash(exc.detail, "error")
    else:
        db.session.commit()
        flash("Your calendar feed is stopped. Calendars subscribed to it no longer get your sessions; you can make a "
              "new link at any time.", "success")
    return redirect(url_for("groups.calendar"))
