"""Eligibility for certification: one function, `evaluate`, that reads the program file's rules (as loaded) and a
person's record and returns a checklist of met and unmet requirements with what to do next. Pages, the API and
the services (request, approve) all call it, so they cannot disagree. A fixed number of queries, whatever the
record's size."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from lms.accounts.models import User
from lms.certification.models import (
    OPEN_REQUEST_STATUSES,
    Certificate,
    CertificateState,
    CertificationRequest,
    ConductAcknowledgement,
    EntryStatus,
    PracticumEntry,
    PracticumKind,
    RequestPath,
)
from lms.dates import long_date
from lms.db import db, utcnow
from lms.learning.models import CodeOfConductVersion, Course, ProgramVersion
from lms.learning.services import progress_for
from lms.quizzes.models import Attempt, Quiz


@dataclass(frozen=True)
class Requirement:
    """One line of the checklist. `action` names where to go next: `course:<slug>`, `practicum` or
    `code_of_conduct`; the web layer turns it into a link."""

    key: str
    group: str  # courses, practicum, conduct
    title: str
    met: bool
    progress: str
    next_step: str | None = None
    action: str | None = None


@dataclass(frozen=True)
class Eligibility:
    user_id: int
    program_id: int | None
    program_slug: str | None
    program_title: str | None
    program_version: str | None
    requirements: tuple[Requirement, ...]
    open_request_id: int | None = None
    open_request_status: str | None = None
    certificate_serial: str | None = None  # a certificate valid today, if any
    path: RequestPath = RequestPath.INITIAL  # the rules that apply: first certification, renewal, or after a lapse
    renews_id: int | None = None  # the certificate a renewal (or a request after a lapse) replaces
    renews_serial: str | None = None
    renewal_opens: date | None = None  # the short renewal path's window around the current certificate's expiry
    renewal_closes: date | None = None

    @property
    def eligible(self) -> bool:
        """Every requirement of the program in force is met."""
        return self.program_id is not None and all(r.met for r in self.requirements)

    @property
    def met_count(self) -> int:
        return sum(1 for r in self.requirements if r.met)

    @property
    def unmet(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.met]

    @property
    def blockers(self) -> list[str]:
        """Why a request cannot be made now (empty when it can)."""
        reasons = []
        if self.program_id is None:
            reasons.append("No certification program is loaded yet.")
        if self.certificate_serial and self.path is not RequestPath.RENEWAL:
            opens = f" Renewal opens on {long_date(self.renewal_opens)}." if self.renewal_opens else ""
            reasons.append(f"You already hold a valid certificate ({self.certificate_serial}).{opens}")
        if self.open_request_id is not None:
            reasons.append("You already have a request open.")
        if self.program_id is not None and not self.eligible:
            reasons.append(f"{len(self.unmet)} of {len(self.requirements)} requirements are not met yet.")
        return reasons

    @property
    def may_request(self) -> bool:
        return not self.blockers

    def groups(self) -> list[tuple[str, list[Requirement]]]:
        return group_requirements(self.requirements)

    def as_dict(self) -> dict[str, Any]:
        return {"eligible": self.eligible, "may_request": self.may_request, "blockers": self.blockers,
                "program": None if self.program_id is None else {
                    "slug": self.program_slug, "title": self.program_title, "version": self.program_version},
                "requirements": [asdict(r) for r in self.requirements],
                "open_request": None if self.open_request_id is None else {
                    "id": self.open_request_id, "status": self.open_request_status},
                "certificate_serial": self.certificate_serial, "path": self.path.value,
                "renews_serial": self.renews_serial,
                "renewal_opens": self.renewal_opens.isoformat() if self.renewal_opens else None,
                "renewal_closes": self.renewal_closes.isoformat() if self.renewal_closes else None}


GROUP_TITLES = {"courses": "Required courses", "practicum": "Supervised practicum", "conduct": "Code of conduct"}


def group_requirements(requirements: tuple[Requirement, ...] | list[Requirement]
                       ) -> list[tuple[str, list[Requirement]]]:
    """The checklist in its sections, in order, leaving out empty ones."""
    out: list[tuple[str, list[Requirement]]] = []
    for key, title in GROUP_TITLES.items():
        items = [r for r in requirements if r.group == key]
        if items:
            out.append((title, items))
    return out


def requirements_from(snapshot: dict[str, Any] | None) -> tuple[Requirement, ...]:
    """The requirements of a checklist kept as a dict (`Eligibility.as_dict`, stored with each request)."""
    names = {f.name for f in fields(Requirement)}
    return tuple(Requirement(**{k: v for k, v in r.items() if k in names})
                 for r in (snapshot or {}).get("requirements", []))


def current_program() -> ProgramVersion | None:
    return db.session.scalar(select(ProgramVersion).where(ProgramVersion.current.is_(True))
                             .order_by(ProgramVersion.id.desc()).limit(1))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _course_requirements(user: User, rules: dict[str, Any]) -> list[Requirement]:
    slugs: list[str] = list(rules.get("required_courses") or [])
    min_score = float(rules.get("min_quiz_score") or 0)
    critical = bool(rules.get("critical_questions_must_be_correct", True))
    courses = {c.slug: c for c in db.session.scalars(select(Course).where(Course.slug.in_(slugs)))}
    progress = {p.course.slug: p for p in progress_for(user, list(courses.values()))}
    quiz_slugs = [c.quiz_slug for c in courses.values() if c.quiz_slug]
    passed = [Attempt.passed.is_(True)]
    if critical:
        passed.append(Attempt.critical_failed.isnot(True))
    best = dict(db.session.execute(
        select(Quiz.slug, func.max(Attempt.score)).join(Attempt, Attempt.quiz_id == Quiz.id)
        .where(Attempt.user_id == user.id, Quiz.slug.in_(quiz_slugs), *passed).group_by(Quiz.slug)).all())
    rule = f"at least {min_score:g}% on its quiz" + (" with every critical question right" if critical else "")
    out = []
    for slug in slugs:
        course = courses.get(slug)
        if course is None:  # the program names a course that is not loaded: nobody can meet it
            out.append(Requirement(key=f"course:{slug}", group="courses", title=f"Complete the course “{slug}”",
                                   met=False, progress="This course is not available yet.",
                                   next_step="Ask an administrator: the program names a course that is not loaded."))
            continue
        p = progress[slug]
        score = best.get(course.quiz_slug) if course.quiz_slug else None
        quiz_ok = course.quiz_slug is None or (score is not None and score >= min_score)
        done = p.completion is not None
        title = f"Complete “{course.title}” with {rule}" if course.quiz_slug else f"Complete “{course.title}”"
        if done and quiz_ok:
            when = long_date(p.completion.completed_at)
            shown = f", quiz {score:g}%" if score is not None else ""
            out.append(Requirement(key=f"course:{slug}", group="courses", title=title, met=True,
                                   progress=f"Completed {when}{shown}"))
            continue
        if not p.lessons_done:
            status = f"{p.done_count} of {_plural(p.total, 'lesson')} done"
            step = "Finish the lessons, then pass the quiz." if course.quiz_slug else "Finish the lessons."
        else:
            status = "Lessons done; quiz " + (f"passed at {score:g}%, below {min_score:g}%" if score is not None
                                              else "not passed yet")
            step = "Take the quiz." if score is None else f"Take the quiz again and reach {min_score:g}%."
        out.append(Requirement(key=f"course:{slug}", group="courses", title=title, met=False, progress=status,
                               next_step=step, action=f"course:{slug}"))
    return out


def _practicum_counts(user: User, since: date | None) -> tuple[dict[PracticumKind, int], dict[PracticumKind, int]]:
    """Entries that count (confirmed; led-while-observed ones passed on the rubric) and entries waiting for
    review, by kind, for sessions on or after `since`."""
    stmt = (select(PracticumEntry.kind, PracticumEntry.status, PracticumEntry.rubric_passed, func.count())
            .where(PracticumEntry.user_id == user.id)
            .group_by(PracticumEntry.kind, PracticumEntry.status, PracticumEntry.rubric_passed))
    if since is not None:
        stmt = stmt.where(PracticumEntry.session_date >= since)
    counted: dict[PracticumKind, int] = {}
    pending: dict[PracticumKind, int] = {}
    for kind, status, rubric_passed, n in db.session.execute(stmt):
        if status is EntryStatus.PENDING:
            pending[kind] = pending.get(kind, 0) + n
        elif status is EntryStatus.CONFIRMED and (rubric_passed or not kind.scored):
            counted[kind] = counted.get(kind, 0) + n
    return counted, pending


def _practicum_requirements(user: User, rules: dict[str, Any], since: date | None = None) -> list[Requirement]:
    wanted: dict[str, int] = dict(rules.get("practicum") or {})
    counted, pending = _practicum_counts(user, since)
    pass_score = rules.get("rubric_pass_score")
    titles = {
        PracticumKind.OBSERVED: lambda n: f"Observe {_plural(n, 'community session')}",
        PracticumKind.CO_FACILITATED: lambda n: f"Co-facilitate {_plural(n, 'community session')}",
        PracticumKind.LED_OBSERVED: lambda n: (f"Lead {_plural(n, 'session')} while your supervisor observes, "
                                               f"{'each ' if n > 1 else ''}scored at least {pass_score} on every "
                                               "rubric criterion"),
    }
    needs: list[tuple[PracticumKind, int, str]] = []
    for kind, title in titles.items():
        n = int(wanted.get(kind.rule_key) or 0)
        if n > 0:
            needs.append((kind, n, title(n)))
    if rules.get("crisis_roleplay_required"):
        needs.append((PracticumKind.CRISIS_ROLEPLAY, 1, "Take part in a crisis role-play with your supervisor"))
    return [_practicum_line(f"practicum:{kind.value}", title, have=counted.get(kind, 0),
                            waiting=pending.get(kind, 0), needed=n, since=since,
                            log_step="Log each session in your practicum log; your supervisor confirms it.")
            for kind, n, title in needs]


def _practicum_line(key: str, title: str, *, have: int, waiting: int, needed: int, since: date | None,
                    log_step: str) -> Requirement:
    """A checklist line counting confirmed practicum entries, with those still waiting for review."""
    status = f"{min(have, needed)} of {needed} confirmed" + (f" since {long_date(since)}" if since else "")
    if waiting:
        status += f" ({waiting} waiting for review)"
    met = have >= needed
    step = None
    if not met:
        step = "Wait for your supervisor to review your entries." if have + waiting >= needed else log_step
    return Requirement(key=key, group="practicum", title=title, met=met, progress=status, next_step=step,
                       action=None if met else "practicum")


def _conduct_requirement(user: User, rules: dict[str, Any]) -> list[Requirement]:
    if not rules.get("code_of_conduct_version"):
        return []
    code = db.session.scalar(select(CodeOfConductVersion).where(CodeOfConductVersion.current.is_(True)))
    if code is None:
        return []
    acknowledged = db.session.scalar(
        select(ConductAcknowledgement.acknowledged_at).where(ConductAcknowledgement.user_id == user.id,
                                                             ConductAcknowledgement.code_version_id == code.id))
    title = f"Read and accept the code of conduct (version {code.version})"
    if acknowledged is not None:
        return [Requirement(key="code_of_conduct", group="conduct", title=title, met=True,
                            progress=f"Accepted {long_date(acknowledged)}")]
    older = db.session.scalar(select(func.count()).select_from(ConductAcknowledgement)
                              .where(ConductAcknowledgement.user_id == user.id))
    status = "You accepted an earlier version; this one has changed." if older else "Not accepted yet"
    return [Requirement(key="code_of_conduct", group="conduct", title=title, met=False, progress=status,
                        next_step="Read the code of conduct and accept it.", action="code_of_conduct")]


def _renewal_requirements(user: User, rules: dict[str, Any], cert: Certificate) -> list[Requirement]:
    """The short path: the refresher course with its quiz passed since the certificate was issued, and enough
    sessions led while it was valid, confirmed by the supervisor."""
    renewal: dict[str, Any] = dict(rules.get("renewal") or {})
    out: list[Requirement] = []
    slug = renewal.get("course")
    if slug:
        course = db.session.scalar(select(Course).where(Course.slug == slug))
        title = f"Complete the refresher course “{course.title if course else slug}”"
        if course is None:
            out.append(Requirement(key=f"course:{slug}", group="courses", title=title, met=False,
                                   progress="This course is not available yet.",
                                   next_step="Ask an administrator: the renewal rules name a course that is not "
                                             "loaded."))
        else:
            p = progress_for(user, [course])[0]
            min_score = float(rules.get("min_quiz_score") or 0)
            passed = [Attempt.passed.is_(True), Attempt.score >= min_score, Attempt.started_at >= _start_of(
                cert.valid_from)]
            if rules.get("critical_questions_must_be_correct", True):
                passed.append(Attempt.critical_failed.isnot(True))
            best = db.session.scalar(select(func.max(Attempt.score)).join(Quiz, Attempt.quiz_id == Quiz.id)
                                     .where(Attempt.user_id == user.id, Quiz.slug == course.quiz_slug, *passed)
                                     ) if course.quiz_slug else None
            quiz_ok = course.quiz_slug is None or best is not None
            if p.lessons_done and quiz_ok:
                shown = f"quiz passed at {best:g}% " if best is not None else ""
                out.append(Requirement(key=f"course:{slug}", group="courses", title=title, met=True,
                                       progress=f"Lessons done; {shown}since {long_date(cert.valid_from)}".strip()))
            else:
                status = (f"{p.done_count} of {_plural(p.total, 'lesson')} done" if not p.lessons_done
                          else f"Quiz not passed at {min_score:g}% since {long_date(cert.valid_from)}")
                out.append(Requirement(key=f"course:{slug}", group="courses", title=title, met=False,
                                       progress=status, next_step="Read the lessons and pass the refresher's quiz.",
                                       action=f"course:{slug}"))
    n = int(renewal.get("min_sessions_led") or 0)
    if n > 0:
        counted, pending = _practicum_counts(user, cert.valid_from)
        led = (PracticumKind.LED, PracticumKind.LED_OBSERVED)
        out.append(_practicum_line(
            "practicum:led", f"Lead {_plural(n, 'community session')} while your certificate is valid",
            have=sum(counted.get(k, 0) for k in led), waiting=sum(pending.get(k, 0) for k in led), needed=n,
            since=cert.valid_from,
            log_step="Log each session you lead in your practicum log; your supervisor confirms it."))
    return out


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def latest_certificate(user: User) -> Certificate | None:
    """The person's newest certificate that is neither revoked nor superseded, valid or expired."""
    return db.session.scalar(select(Certificate).where(
        Certificate.user_id == user.id, Certificate.state == CertificateState.ACTIVE)
        .order_by(Certificate.valid_until.desc(), Certificate.id.desc()).limit(1))


def renewal_window(rules: dict[str, Any], cert: Certificate) -> tuple[date, date]:
    """The first and last day of the short renewal path for `cert`."""
    renewal: dict[str, Any] = dict(rules.get("renewal") or {})
    before, after = int(renewal.get("window_days_before") or 0), int(renewal.get("grace_days_after") or 0)
    return cert.valid_until - timedelta(days=before), cert.valid_until + timedelta(days=after)


def valid_certificate(user: User, *, today: date | None = None) -> Certificate | None:
    """The person's certificate that is valid today, if any (the newest, should there be several)."""
    today = today or utcnow().date()
    return db.session.scalar(select(Certificate).where(
        Certificate.user_id == user.id, Certificate.state == CertificateState.ACTIVE,
        Certificate.valid_until >= today).order_by(Certificate.issued_at.desc()).limit(1))


def evaluate(user: User, *, today: date | None = None) -> Eligibility:
    """The checklist for `user` against the program in force."""
    program = current_program()
    open_request = db.session.scalar(select(CertificationRequest).where(
        CertificationRequest.user_id == user.id, CertificationRequest.status.in_(OPEN_REQUEST_STATUSES)))
    certificate = valid_certificate(user, today=today)
    extra = dict(open_request_id=open_request.id if open_request else None,
                 open_request_status=open_request.status.value if open_request else None,
                 certificate_serial=certificate.serial if certificate else None)
    if program is None:
        return Eligibility(user_id=user.id, program_id=None, program_slug=None, program_title=None,
                           program_version=None, requirements=(), **extra)
    rules = program.rules
    today = today or utcnow().date()
    latest = latest_certificate(user)
    path, since, window = RequestPath.INITIAL, None, (None, None)
    if latest is not None and rules.get("renewal"):
        window = renewal_window(rules, latest)
        if today > window[1]:  # lapsed beyond the grace period: the full path, with a new practicum
            path, since = RequestPath.LAPSED, latest.valid_until + timedelta(days=1)
        elif today >= window[0]:
            path = RequestPath.RENEWAL
    if path is RequestPath.RENEWAL:
        assert latest is not None
        requirements = _renewal_requirements(user, rules, latest) + _conduct_requirement(user, rules)
    else:
        requirements = (_course_requirements(user, rules) + _practicum_requirements(user, rules, since)
                        + _conduct_requirement(user, rules))
    return Eligibility(user_id=user.id, program_id=program.id, program_slug=program.slug,
                       program_title=program.title, program_version=program.version,
                       requirements=tuple(requirements), path=path,
                       renews_id=latest.id if latest and path is not RequestPath.INITIAL else None,
                       renews_serial=latest.serial if latest and path is not RequestPath.INITIAL else None,
                       renewal_opens=window[0], renewal_closes=window[1], **extra)


@dataclass(frozen=True)
class LeadStatus:
    """Whether a person may lead PND community sessions today, on which certificate, or why not."""

    may_lead: bool
    certificate: Certificate | None  # the certificate valid today, if any
    reasons: tuple[str, ...]
    shown: Certificate | None = None  # the one to show: the valid one, or else the latest one, if any


def lead_certificates(users: list[User], *, today: date | None = None) -> dict[int, Certificate]:
    """The bulk form of `lead_status`'s rule, in one query: for each of `users` who may lead today (an active
    account with a certificate valid today), that certificate, by user id; the others are absent."""
    today = today or utcnow().date()
    ids = [u.id for u in users if u.active]
    if not ids:
        return {}
    rows = db.session.scalars(select(Certificate).where(
        Certificate.user_id.in_(ids), Certificate.state == CertificateState.ACTIVE, Certificate.valid_until >= today)
        .order_by(Certificate.issued_at, Certificate.id))
    return {cert.user_id: cert for cert in rows}  # the newest last, so it wins


def lead_status(user: User, *, today: date | None = None) -> LeadStatus:
    """Leading needs an active account and a certificate valid today (not expired, revoked, or superseded without
    a valid successor). The one check that pages, API and CLI all go through."""
    today = today or utcnow().date()
    cert = valid_certificate(user, today=today)
    if cert is not None and user.active:
        return LeadStatus(True, cert, (), shown=cert)
    reasons: list[str] = []
    if not user.active:
        reasons.append("The account is deactivated.")
    last = cert
    if cert is None:
        last = db.session.scalar(select(Certificate).where(Certificate.user_id == user.id)
                                 .order_by(Certificate.issued_at.desc(), Certificate.id.desc()).limit(1))
        if last is None:
            reasons.append("Not certified yet: the certification checklist shows what is missing.")
        elif last.state is CertificateState.REVOKED:
            when = long_date(last.revoked_at) if last.revoked_at else "an earlier date"
            reasons.append(f"Certificate {last.serial} was revoked on {when}.")
        elif last.state is CertificateState.SUPERSEDED:
            reasons.append(f"Certificate {last.serial} was superseded, and no later certificate is valid.")
        else:
            reasons.append(f"Certificate {last.serial} expired after {long_date(last.valid_until)}; renew it to "
                           "lead again.")
    return LeadStatus(False, cert, tuple(reasons), shown=last)
