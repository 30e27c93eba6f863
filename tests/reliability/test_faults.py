"""Faults in the middle of every multi-step state change: each case below prepares a real request (page, API or
command), then makes a step the service calls fail after the service has already written something (the audit
trail, mail, the certificate renderer, session scheduling, the learning record, the content sync, the commit),
and checks that

- at the moment of the fault the failing transaction had written something (so the fault is in the middle),
- the person got a clean error: the 500 page or problem+json, no stack trace, not the exception's words,
- every table is exactly as before (Base.metadata, row by row), and no e-mail left,
- the same request without the fault then goes through: the fault alone stopped it and nothing stayed locked.

One table, one test: `CASES` lists each service with its trigger, so the count is what the table holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.certification import services as certification
from lms.certification.models import Certificate, CertificationRequest, RequestStatus
from lms.db import db, utcnow
from lms.learning.models import Lesson
from lms.quizzes import services as quizzes
from tests import factories
from tests.certification_support import (
    REFLECTION,
    make_approved,
    make_cert_tree,
    make_certificate,
    make_eligible,
    make_request,
)
from tests.content_tree import CORRECT, time_out, write
from tests.groups_support import T0, TODAY, group_fields, make_group
from tests.reliability.support import (
    Fault,
    InjectedFault,
    assert_unexpected,
    bearer,
    committed,
    complete_lessons,
    differences,
    token_for,
)

NEW_PASSWORD = "a brand new passphrase for the test"
LAST_WEEK = TODAY - timedelta(days=7)
REASON = "Not yet: one more observed session, please."
CORRECT_FORM = {"q-pick-a": "a", "q-safe": "true", "q-both": ["a", "b"], "q-name-it": "Naloxone"}


# ---------------------------------------------------------------- the world a case is arranged in


class World:
    """The app, the people (factories.People), and ways to bring them to the state a case needs."""

    def __init__(self, app, people, tmp_path: Path, login_as) -> None:
        self.app, self.people, self.tmp, self.login_as = app, people, tmp_path, login_as
        self._tree: Path | None = None

    def id(self, who: str) -> int:
        return getattr(self.people, who).id

    def tree(self) -> Path:
        if self._tree is None:
            self._tree = make_cert_tree(self.app, self.tmp / "content")
        return self._tree

    def browser(self, who: str) -> FlaskClient:
        return self.login_as(who).client

    def api_token(self, who: str) -> str:
        """A personal API token, used once, so the case's own call changes nothing about it."""
        with self.app.app_context():
            user = db.session.get(User, self.id(who))
            secret = accounts.create_api_token(user, actor=user, name="fault tests").secret
            db.session.commit()
        assert self.app.test_client().get("/api/v1/me", headers=bearer(secret)).status_code == 200
        return secret

    def supervisor_of(self, who: str) -> int:
        return self.id("supervisor" if who == "trainee" else "other_supervisor")

    def certified(self, who: str = "trainee") -> str:
        self.tree()
        return make_certificate(self.app, self.id(who), self.supervisor_of(who), self.id("admin"))

    def certified_days_ago(self, who: str, days: int) -> None:
        self.tree()
        request_id = make_approved(self.app, self.id(who), self.supervisor_of(who))
        with self.app.app_context():
            certification.issue_certificate(db.session.get(CertificationRequest, request_id),
                                            issuer=db.session.get(User, self.id("admin")),
                                            now=utcnow() - timedelta(days=days))
            db.session.commit()

    def open_attempt(self, who: str = "trainee") -> int:
        with self.app.app_context():
            attempt, _ = quizzes.start_attempt(db.session.get(User, self.id(who)), quizzes.get_quiz("alpha"))
            db.session.commit()
            return attempt.id

    def entry(self, who: str = "trainee") -> int:
        with self.app.app_context():
            entry = certification.log_practicum(db.session.get(User, self.id(who)), kind="observed",
                                                session_date=TODAY - timedelta(days=3),
                                                group_name="Tuesday evening group", reflection=REFLECTION)
            db.session.commit()
            return entry.id

    def group(self, **kw: Any) -> int:
        return make_group(self.app, self.id("admin"), **kw)


@dataclass
class Action:
    run: Callable[[], Any]
    kind: str  # "web", "api" or "cli"


def form(client: FlaskClient, page: str, path: str, **fields: Any) -> Action:
    """A form post to `path`, with the CSRF token of `page` fetched now (pages may write: visits, closures)."""
    token = token_for(client, page)
    return Action(lambda: client.post(path, data={"csrf_token": token, **fields}), "web")


def api(client: FlaskClient, secret: str, path: str, body: dict | None = None) -> Action:
    return Action(lambda: client.post(path, json=body if body is not None else {}, headers=bearer(secret)), "api")


def command(world: World, *args: str) -> Action:
    runner = world.app.test_cli_runner()
    return Action(lambda: runner.invoke(args=list(args)), "cli")


# ---------------------------------------------------------------- quizzes and learning


def start_attempt_page(w: World) -> Action:
    w.tree()
    return form(w.browser("trainee"), "/quizzes/alpha", "/quizzes/alpha/attempts")


def submit_attempt_page(w: World) -> Action:
    w.tree()
    complete_lessons(w.app, w.id("trainee"))
    aid = w.open_attempt()
    return form(w.browser("trainee"), f"/attempts/{aid}", f"/attempts/{aid}/submit", **CORRECT_FORM)


def submit_attempt_api(w: World) -> Action:
    w.tree()
    aid = w.open_attempt()
    return api(w.app.test_client(), w.api_token("trainee"), f"/api/v1/attempts/{aid}/submit", {"answers": CORRECT})


def complete_lesson_page(w: World) -> Action:
    w.tree()
    from lms.learning import services as learning

    with w.app.app_context():
        slug = db.session.scalars(select(Lesson.slug).where(Lesson.course_id == learning.get_course("alpha").id)
                                  .order_by(Lesson.position)).first()
    page = f"/courses/alpha/lessons/{slug}"
    return form(w.browser("trainee"), page, f"{page}/complete")


# ---------------------------------------------------------------- certification


def accept_code_page(w: World) -> Action:
    w.tree()
    page = "/certification/code-of-conduct"
    return form(w.browser("trainee"), page, page, version="1.0", agree="y")


def log_practicum_page(w: World) -> Action:
    w.tree()
    return form(w.browser("trainee"), "/practicum", "/practicum", kind="observed",
                session_date=(TODAY - timedelta(days=3)).isoformat(), group_name="Tuesday evening group",
                reflection=REFLECTION)


def log_practicum_api(w: World) -> Action:
    w.tree()
    return api(w.app.test_client(), w.api_token("trainee"), "/api/v1/practicum", {
        "kind": "observed", "session_date": (TODAY - timedelta(days=3)).isoformat(),
        "group_name": "Tuesday evening group", "reflection": REFLECTION})


def review_entry_page(w: World) -> Action:
    w.tree()
    page = f"/practicum/{w.entry()}/review"
    return form(w.browser("supervisor"), page, page, confirm="Confirm this entry")


def request_page(w: World) -> Action:
    w.tree()
    make_eligible(w.app, w.id("trainee"), w.id("supervisor"))
    return form(w.browser("trainee"), "/certification", "/certification/request", message="Ready, I think.")


def _request(w: World, approved: bool = False) -> int:
    w.tree()
    return (make_approved if approved else make_request)(w.app, w.id("trainee"), w.id("supervisor"))


def approve_page(w: World) -> Action:
    page = f"/certification/requests/{_request(w)}"
    return form(w.browser("supervisor"), page, f"{page}/approve", note="Well done.")


def approve_api(w: World) -> Action:
    return api(w.app.test_client(), w.api_token("supervisor"), f"/api/v1/certification-requests/{_request(w)}/approve")


def reject_page(w: World) -> Action:
    page = f"/certification/requests/{_request(w)}"
    return form(w.browser("supervisor"), page, f"{page}/reject", reason=REASON)


def withdraw_page(w: World) -> Action:
    return form(w.browser("trainee"), "/certification", f"/certification/requests/{_request(w)}/withdraw")


def issue_page(w: World) -> Action:
    page = f"/certification/requests/{_request(w, approved=True)}"
    return form(w.browser("admin"), page, f"{page}/issue")


def issue_api(w: World) -> Action:
    return api(w.app.test_client(), w.api_token("admin"), "/api/v1/certificates",
               {"request_id": _request(w, approved=True)})


def bulk_issue_page(w: World) -> Action:
    w.tree()
    ids = [str(make_approved(w.app, w.id(who), w.supervisor_of(who))) for who in ("trainee", "other_trainee")]
    return form(w.browser("admin"), "/reviews?status=approved", "/certification/requests/issue", request_ids=ids)


def revoke_lead_page(w: World) -> Action:
    """The holder leads a group: revoking steps them down (the certificate_lapsed signal) and tells the admins."""
    serial = w.certified()
    w.group(lead_id=w.id("trainee"))
    page = f"/certificates/{serial}"
    return form(w.browser("admin"), page, f"{page}/revoke", reason="Breach of the code of conduct.", confirm="y")


def revoke_api(w: World) -> Action:
    serial = w.certified()
    return api(w.app.test_client(), w.api_token("admin"), f"/api/v1/certificates/{serial}/revoke",
               {"reason": "Breach of the code of conduct."})


# ---------------------------------------------------------------- groups


def _group_form(**overrides: Any) -> dict[str, str]:
    return {k: str(v) for k, v in group_fields(**overrides).items()}


def create_group_page(w: World) -> Action:
    return form(w.browser("admin"), "/groups/new", "/groups/new", **_group_form(name="Thursday evening group"))


def create_group_api(w: World) -> Action:
    return api(w.app.test_client(), w.api_token("admin"), "/api/v1/groups", group_fields(name="Thursday group"))


def edit_group_page(w: World) -> Action:
    gid = w.group()
    page = f"/groups/{gid}/edit"
    return form(w.browser("admin"), page, page, **_group_form(start_time="20:30"))


def pause_group_page(w: World) -> Action:
    gid = w.group()
    return form(w.browser("admin"), f"/groups/{gid}", f"/groups/{gid}/status", status="paused")


def assign_lead_page(w: World) -> Action:
    w.certified()
    gid = w.group()
    return form(w.browser("admin"), f"/groups/{gid}", f"/groups/{gid}/lead", **{"lead-user_id": str(w.id("trainee"))})


def remove_lead_page(w: World) -> Action:
    w.certified()
    gid = w.group(lead_id=w.id("trainee"))
    return form(w.browser("admin"), f"/groups/{gid}", f"/groups/{gid}/lead/remove")


def add_co_facilitator_page(w: World) -> Action:
    gid = w.group()
    return form(w.browser("admin"), f"/groups/{gid}", f"/groups/{gid}/co-facilitators",
                **{"co-user_id": str(w.id("other_trainee"))})


def record_held_page(w: World) -> Action:
    """The certified lead records last week's session with an uncertified co-facilitator: two practicum entries
    (each audited, each mailed to a supervisor), then the record itself."""
    w.certified()
    gid = w.group(now=T0 - timedelta(days=7), lead_id=w.id("trainee"), co_ids=(w.id("other_trainee"),))
    prefix = f"held-{gid}-{LAST_WEEK.isoformat()}-"
    fields = {"duration_minutes": "85", "attendance_count": "7", "back": "lead",
              "co_facilitator_ids": str(w.id("other_trainee"))}
    return form(w.browser("trainee"), "/lead", f"/groups/{gid}/sessions/{LAST_WEEK.isoformat()}/held",
                **{prefix + k: v for k, v in fields.items()})


def cancel_session_api(w: World) -> Action:
    gid = w.group()
    return api(w.app.test_client(), w.api_token("admin"),
               f"/api/v1/groups/{gid}/sessions/{(TODAY + timedelta(days=7)).isoformat()}/cancel")


def rotate_feed_page(w: World) -> Action:
    return form(w.browser("trainee"), "/calendar", "/calendar", action="rotate")


# ---------------------------------------------------------------- accounts


def invite_page(w: World) -> Action:
    return form(w.browser("admin"), "/admin/users/new", "/admin/users/new", email="newcomer@example.org",
                display_name="Nia Newcomer", role="trainee", supervisor=str(w.id("supervisor")), send_invitation="y")


def invite_api(w: World) -> Action:
    return api(w.app.test_client(), w.api_token("admin"), "/api/v1/users",
               {"email": "newcomer@example.org", "display_name": "Nia Newcomer"})


def accept_invitation_page(w: World) -> Action:
    with w.app.app_context():
        user = accounts.create_user(actor=None, email="newcomer@example.org", display_name="Nia Newcomer",
                                    role="trainee")
        raw = accounts.send_invitation(user, actor=None)
        db.session.commit()
    page = f"/invitation/{raw}"
    return form(w.app.test_client(), page, page, password=NEW_PASSWORD, confirm=NEW_PASSWORD)


def change_password_page(w: World) -> Action:
    return form(w.browser("trainee"), "/settings", "/settings/password", current_password=factories.PASSWORD,
                new_password=NEW_PASSWORD, confirm=NEW_PASSWORD)


def forgot_password_page(w: World) -> Action:
    return form(w.app.test_client(), "/password/forgot", "/password/forgot", email="trainee@example.org")


def deactivate_supervisor_page(w: World) -> Action:
    """A supervisor with a trainee: the trainee is unassigned (audited), their logins end, then the account."""
    uid = w.id("supervisor")
    return form(w.browser("admin"), f"/admin/users/{uid}", f"/admin/users/{uid}/deactivate")


def deactivate_lead_page(w: World) -> Action:
    """A certified lead: deactivation steps them down from their group (account_deactivated) and mails the admins."""
    w.certified()
    w.group(lead_id=w.id("trainee"))
    uid = w.id("trainee")
    return form(w.browser("admin"), f"/admin/users/{uid}", f"/admin/users/{uid}/deactivate")


def change_role_page(w: World) -> Action:
    uid = w.id("supervisor")
    return form(w.browser("admin"), f"/admin/users/{uid}", f"/admin/users/{uid}/role", role="trainee")


def create_token_page(w: World) -> Action:
    return form(w.browser("trainee"), "/settings", "/settings/tokens", name="reporting script")


def create_token_cli(w: World) -> Action:
    return command(w, "create-token", "trainee@example.org", "--name", "nightly export")


def invite_cli(w: World) -> Action:
    return command(w, "create-user", "newcomer@example.org", "--name", "Nia Newcomer", "--role", "trainee")


# ---------------------------------------------------------------- content and maintenance


def load_content_cli(w: World) -> Action:
    """The course files change (a lesson and the quiz): `lms load-content` brings the database in line."""
    root = w.tree()
    w.app.config["CONTENT_DIR"] = str(root)
    lesson = sorted((root / "courses" / "alpha" / "lessons").glob("*.md"))[0]
    write(lesson, lesson.read_text() + "\nA paragraph added since.\n")
    quiz = root / "quizzes" / "alpha.yaml"
    write(quiz, quiz.read_text().replace("pass_mark: 75", "pass_mark: 80"))
    return command(w, "load-content")


def maintenance_attempts_cli(w: World) -> Action:
    w.tree()
    time_out(w.app, w.open_attempt())
    return command(w, "run-maintenance")


def maintenance_expiry_cli(w: World) -> Action:
    """Two certificates that expired: each is noted (a notice row, the audit trail, two e-mails)."""
    for who in ("trainee", "other_trainee"):
        w.certified_days_ago(who, 800)
    return command(w, "run-maintenance")


def maintenance_reminder_cli(w: World) -> Action:
    w.certified_days_ago("trainee", 725)  # about five days left
    return command(w, "run-maintenance")


def maintenance_schedules_cli(w: World) -> Action:
    """Two groups made ten weeks ago: their sessions are materialised six weeks ahead, short of the sixteen."""
    for name in ("Monday group", "Friday group"):
        w.group(now=T0 - timedelta(weeks=10), name=name)
    return command(w, "run-maintenance")


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    service: str
    arrange: Callable[[World], Action]
    fault: tuple[str, int, str]  # target, nth call, "after" it ran or "instead" of it

    def __str__(self) -> str:
        target, nth, when = self.fault
        return f"{self.service}: {target.split(':')[1]}#{nth}{'' if when == 'after' else '-instead'}"


AUDIT, MAIL = "lms.audit:record", "lms.mail:send"
RENDER = "lms.certification.pdf:render_certificate"
SESSIONS = "lms.groups.services:ensure_sessions"
COMMIT = "lms.db:_AppBoundSession.commit"

CASES = [
    # quizzes and learning
    Case("quiz attempt start (page)", start_attempt_page, (AUDIT, 1, "after")),
    Case("quiz submit (page), at course completion", submit_attempt_page, (AUDIT, 2, "after")),
    Case("quiz submit (page), at the learning record", submit_attempt_page,
         ("lms.learning.services:note_quiz_passed", 1, "instead")),
    Case("quiz submit (API)", submit_attempt_api, (AUDIT, 1, "after")),
    Case("lesson complete (page)", complete_lesson_page, (AUDIT, 1, "after")),
    # certification
    Case("code of conduct accept (page)", accept_code_page, (AUDIT, 1, "after")),
    Case("practicum log (page)", log_practicum_page, (MAIL, 1, "after")),
    Case("practicum log (API)", log_practicum_api, (AUDIT, 1, "after")),
    Case("practicum review (page)", review_entry_page, (MAIL, 1, "after")),
    Case("certification request (page)", request_page, (MAIL, 1, "after")),
    Case("certification approve (page)", approve_page, (MAIL, 2, "after")),
    Case("certification approve (API)", approve_api, (AUDIT, 1, "after")),
    Case("certification reject (page)", reject_page, (MAIL, 1, "after")),
    Case("certification withdraw (page)", withdraw_page, (MAIL, 1, "after")),
    Case("certificate issue (page), at rendering", issue_page, (RENDER, 1, "instead")),
    Case("certificate issue (page), at the supervisor's mail", issue_page, (MAIL, 2, "after")),
    Case("certificate issue (API)", issue_api, (AUDIT, 1, "after")),
    Case("certificate bulk issue (page), at the commit", bulk_issue_page, (COMMIT, 1, "instead")),
    Case("certificate revoke (page), at the lead's step-down", revoke_lead_page, (AUDIT, 2, "after")),
    Case("certificate revoke (page), at the last mail", revoke_lead_page, (MAIL, 3, "after")),
    Case("certificate revoke (API)", revoke_api, (AUDIT, 1, "after")),
    # groups
    Case("group create (page)", create_group_page, (SESSIONS, 1, "after")),
    Case("group create (API)", create_group_api, (AUDIT, 1, "after")),
    Case("group edit with a new schedule (page)", edit_group_page, (SESSIONS, 1, "after")),
    Case("group pause (page)", pause_group_page, (AUDIT, 1, "after")),
    Case("group assign lead (page)", assign_lead_page, (AUDIT, 1, "after")),
    Case("group remove lead (page)", remove_lead_page, (AUDIT, 1, "after")),
    Case("group add co-facilitator (page)", add_co_facilitator_page, (AUDIT, 1, "after")),
    Case("group session held (page)", record_held_page, (AUDIT, 3, "after")),
    Case("group session cancel (API)", cancel_session_api, (AUDIT, 1, "after")),
    Case("calendar feed rotate (page)", rotate_feed_page, (AUDIT, 1, "after")),
    # accounts
    Case("account invite (page)", invite_page, (AUDIT, 2, "after")),
    Case("account invite (API)", invite_api, (MAIL, 1, "after")),
    Case("account invite (CLI create-user)", invite_cli, (AUDIT, 2, "after")),
    Case("registration: invitation accepted (page)", accept_invitation_page, (AUDIT, 2, "after")),
    Case("password change (page)", change_password_page, (AUDIT, 2, "after")),
    Case("password reset request (page)", forgot_password_page, (AUDIT, 1, "after")),
    Case("deactivate a supervisor (page)", deactivate_supervisor_page, (AUDIT, 2, "after")),
    Case("deactivate a lead (page)", deactivate_lead_page, (MAIL, 1, "after")),
    Case("role change (page)", change_role_page, (AUDIT, 2, "after")),
    Case("API token create (page)", create_token_page, (AUDIT, 1, "after")),
    Case("API token create (CLI create-token)", create_token_cli, (AUDIT, 1, "after")),
    # content and maintenance
    Case("content sync (CLI load-content), at the end", load_content_cli, (AUDIT, 1, "after")),
    Case("content sync (CLI load-content), between courses and quizzes", load_content_cli,
         ("lms.content_sync:sync_quizzes", 1, "instead")),
    Case("maintenance: close expired attempts (CLI)", maintenance_attempts_cli, (AUDIT, 1, "after")),
    Case("maintenance: note expired certificates (CLI)", maintenance_expiry_cli, (AUDIT, 2, "after")),
    Case("maintenance: expiry reminders (CLI)", maintenance_reminder_cli, (AUDIT, 1, "after")),
    Case("maintenance: extend group schedules (CLI)", maintenance_schedules_cli, (SESSIONS, 2, "after")),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_fault_in_the_middle_leaves_nothing_half_written(case, app, people, tmp_path, login_as, outbox):
    world = World(app, people, tmp_path, login_as)
    action = case.arrange(world)
    before, mails = committed(app), len(outbox.messages())
    target, nth, when = case.fault
    fault = Fault(target, nth, "after" if when == "after" else "before")

    with pytest.MonkeyPatch.context() as patch:
        fault.install(patch)
        result = action.run()

    assert fault.fired, f"{fault} was never reached ({fault.calls} calls)"
    assert differences(before, fault.during), f"nothing was written before {fault}: the fault is not in the middle"
    if action.kind == "cli":
        assert result.exit_code != 0 and isinstance(result.exception, InjectedFault), result.output
    else:
        assert_unexpected(result)
    assert differences(before, committed(app)) == {}, "half-written"
    assert len(outbox.messages()) == mails, "e-mail sent for a change that was rolled back"

    # Without the fault the very same request goes through: the fault alone stopped it, and nothing stayed locked.
    result = action.run()
    if action.kind == "cli":
        assert result.exit_code == 0, result.output
    else:
        assert result.status_code < 400, (result.status_code, result.get_data(as_text=True)[:300])
    assert differences(before, committed(app)), "the request changed nothing even without the fault"


def test_bulk_issue_stands_each_certificate_alone_with_its_mail(app, people, tmp_path, login_as, outbox):
    """Bulk issue keeps what could be made: when the second certificate cannot be rendered, the first is issued
    and its holder and supervisor are told; the second request stays approved and nobody is told about it."""
    world = World(app, people, tmp_path, login_as)
    action = bulk_issue_page(world)
    with app.app_context():
        first, second = db.session.scalars(select(CertificationRequest).order_by(CertificationRequest.id)).all()
        second_row = db.session.execute(select(CertificationRequest.__table__)
                                        .where(CertificationRequest.id == second.id)).one()
    mails = len(outbox.messages())
    fault = Fault(RENDER, 2, "before")
    with pytest.MonkeyPatch.context() as patch:
        fault.install(patch)
        response = action.run()
    assert fault.fired and response.status_code == 302
    with app.app_context():
        certs = db.session.scalars(select(Certificate)).all()
        assert [c.request_id for c in certs] == [first.id]
        assert db.session.get(CertificationRequest, first.id).status is RequestStatus.ISSUED
        assert db.session.execute(select(CertificationRequest.__table__)
                                  .where(CertificationRequest.id == second.id)).one() == second_row
    sent = [(m["To"], m["Subject"]) for m in outbox.messages()[mails:]]
    assert sorted(sent) == [("sup@example.org", "Certificate issued: Tess Trainee"),
                            ("trainee@example.org", "Your facilitator certificate")]
