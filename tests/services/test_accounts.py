"""Account services called directly: creating and inviting people, account links, logging in, roles,
supervisors, deactivation and API tokens. Every state change must leave its audit entry."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.accounts import services
from lms.accounts.models import AccountToken, ApiToken, LoginSession, Role, TokenPurpose, User
from lms.audit import AuditEvent
from lms.db import db, utcnow
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests import factories

NEW_PASSWORD = "a brand new passphrase"
IDLE = timedelta(hours=12)


# ---------------------------------------------------------------- helpers


@pytest.fixture
def folks(app_ctx) -> factories.People:
    """The usual people, made in (and attached to) the test's own app context."""
    return factories.make_people()


def events(action: str | None = None, subject: object | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if subject is not None:
        stmt = stmt.where(AuditEvent.subject_type == subject.__tablename__, AuditEvent.subject_id == str(subject.id))
    return list(db.session.scalars(stmt))


def only_event(action: str, subject: object) -> AuditEvent:
    found = events(action, subject)
    assert len(found) == 1, f"expected one {action} for {subject}, found {len(found)}"
    return found[0]


def event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def session_count(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(LoginSession).where(LoginSession.user_id == user.id))


def token_from_link(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def invite(actor: User | None = None, email: str = "New.Person@Example.org", **kw) -> User:
    kw.setdefault("display_name", "Nova Person")
    kw.setdefault("role", Role.TRAINEE)
    user = services.invite_user(actor=actor, email=email, **kw)
    db.session.commit()
    return user


# ---------------------------------------------------------------- create_user


def test_create_user_normalises_email_trims_names_and_audits(folks):
    user = services.create_user(actor=folks.admin, email="  Mixed.Case@Example.ORG ",
                                display_name="  Ada \t  Lovelace ", role="supervisor", password=factories.PASSWORD)
    db.session.commit()
    db.session.expire_all()
    assert user.email == "mixed.case@example.org"
    assert user.display_name == "Ada Lovelace"
    assert user.certificate_name == "Ada Lovelace"  # defaults to the display name
    assert user.role is Role.SUPERVISOR
    assert user.active and user.has_password and user.password_changed_at is not None
    assert user.password_hash != factories.PASSWORD
    assert services.authenticate("mixed.case@example.org", factories.PASSWORD) == user

    entry = only_event("user.created", user)
    assert entry.actor_id == folks.admin.id
    assert entry.actor_label == folks.admin.email
    assert entry.subject_label == "mixed.case@example.org"
    assert entry.data == {"role": "supervisor", "supervisor_id": None, "with_password": True}


def test_create_user_keeps_an_explicit_certificate_name(app_ctx):
    user = services.create_user(actor=None, email="c@example.org", display_name="Cat",
                                certificate_name="  Catherine   Jones ", role="trainee")
    assert user.certificate_name == "Catherine Jones"
    assert user.display_name == "Cat"
    assert not user.has_password
    entry = only_event("user.created", user)
    assert entry.actor_id is None and entry.actor_label == "system"
    assert entry.data["with_password"] is False


@pytest.mark.parametrize("email", ["admin@example.org", "ADMIN@example.org", " Admin@Example.Org "])
def test_duplicate_email_in_any_case_is_a_conflict(folks, email):
    users, audits = user_count(), event_count()
    with pytest.raises(Conflict) as caught:
        services.create_user(actor=folks.admin, email=email, display_name="Again", role="trainee")
    assert "already exists" in caught.value.detail
    assert "email" in caught.value.errors
    assert user_count() == users
    assert event_count() == audits


@pytest.mark.parametrize("email", ["", "   ", "not-an-address", "a@b", "two@@example.org"])
def test_invalid_email_is_refused(app_ctx, email):
    with pytest.raises(ValidationFailed) as caught:
        services.create_user(actor=None, email=email, display_name="X", role="trainee")
    assert "email" in caught.value.errors
    assert user_count() == 0


@pytest.mark.parametrize("password", ["", "short", "elevenchars", "aaaaaaaaaaaaaaaa", "abababababababab",
                                      "x" * 257])
def test_weak_password_is_refused(app_ctx, password):
    with pytest.raises(ValidationFailed) as caught:
        services.create_user(actor=None, email="p@example.org", display_name="P", role="trainee",
                             password=password)
    assert "password" in caught.value.errors
    assert user_count() == 0
    assert event_count() == 0


def test_twelve_character_password_is_enough(app_ctx):
    user = services.create_user(actor=None, email="p@example.org", display_name="P", role="trainee",
                                password="abcdefghijkl")
    assert services.authenticate("p@example.org", "abcdefghijkl") == user


@pytest.mark.parametrize(("display_name", "certificate_name", "field"), [
    ("", None, "display_name"),
    ("   ", None, "display_name"),
    (None, None, "display_name"),
    ("x" * 121, None, "display_name"),
    ("Fine", "y" * 121, "certificate_name"),
    ("Fine", " \t ", None),  # blank certificate name falls back to the display name
])
def test_names_are_required_and_bounded(app_ctx, display_name, certificate_name, field):
    call = dict(actor=None, email="n@example.org", display_name=display_name, role="trainee",
                certificate_name=certificate_name)
    if field is None:
        assert services.create_user(**call).certificate_name == "Fine"
        return
    with pytest.raises(ValidationFailed) as caught:
        services.create_user(**call)
    assert field in caught.value.errors
    assert user_count() == 0


def test_name_of_exactly_the_maximum_length_is_accepted(app_ctx):
    user = services.create_user(actor=None, email="n@example.org", display_name="x" * 120, role="trainee")
    assert len(user.display_name) == 120


def test_trainee_gets_an_active_supervisor(folks):
    user = services.create_user(actor=folks.admin, email="t@example.org", display_name="T", role="trainee",
                                supervisor=folks.supervisor)
    db.session.commit()
    assert user.supervisor == folks.supervisor
    assert user in folks.supervisor.trainees
    assert only_event("user.created", user).data["supervisor_id"] == folks.supervisor.id


@pytest.mark.parametrize("who", ["trainee", "admin"])
def test_supervisor_must_be_a_supervisor(folks, who):
    with pytest.raises(ValidationFailed) as caught:
        services.create_user(actor=folks.admin, email="t@example.org", display_name="T", role="trainee",
                             supervisor=getattr(folks, who))
    assert "supervisor" in caught.value.errors
    assert services.find_user_by_email("t@example.org") is None


def test_supervisor_must_be_active(folks):
    services.deactivate_user(folks.other_supervisor, actor=folks.admin)
    with pytest.raises(ValidationFailed) as caught:
        services.create_user(actor=folks.admin, email="t@example.org", display_name="T", role="trainee",
                             supervisor=folks.other_supervisor)
    assert "not an active supervisor" in caught.value.detail
    assert services.find_user_by_email("t@example.org") is None


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_only_trainees_have_a_supervisor(folks, role):
    with pytest.raises(ValidationFailed) as caught:
        services.create_user(actor=folks.admin, email="s@example.org", display_name="S", role=role,
                             supervisor=folks.supervisor)
    assert "Only trainees" in caught.value.detail
    assert services.find_user_by_email("s@example.org") is None


def test_unknown_role_is_refused(app_ctx):
    with pytest.raises(ValueError):
        services.create_user(actor=None, email="r@example.org", display_name="R", role="superuser")
    assert user_count() == 0


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("who", ["supervisor", "trainee"])
def test_admin_services_refuse_non_admins(folks, who):
    actor = getattr(folks, who)
    target = folks.other_trainee
    calls = [
        lambda: services.create_user(actor=actor, email="x@example.org", display_name="X", role="trainee"),
        lambda: services.invite_user(actor=actor, email="x@example.org", display_name="X", role="trainee"),
        lambda: services.change_role(target, "admin", actor=actor),
        lambda: services.change_role(actor, "admin", actor=actor),
        lambda: services.assign_supervisor(target, folks.supervisor, actor=actor),
        lambda: services.deactivate_user(target, actor=actor),
        lambda: services.update_profile(target, actor=actor, display_name="Hacked", certificate_name="Hacked"),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    services.deactivate_user(target, actor=folks.admin)
    before = event_count()
    with pytest.raises(PermissionDenied):
        services.reactivate_user(target, actor=actor)
    with pytest.raises(PermissionDenied):
        services.send_invitation(target, actor=actor)
    db.session.expire_all()
    assert event_count() == before
    assert services.find_user_by_email("x@example.org") is None
    assert actor.role is Role(who)
    assert target.supervisor_id == folks.other_supervisor.id
    assert target.display_name == "Theo Trainee"
    assert not target.active


# ---------------------------------------------------------------- invitations


def test_invitation_is_mailed_with_a_working_link(folks, outbox, app_ctx):
    user = invite(folks.admin)
    assert user.email == "new.person@example.org"
    assert not user.has_password and user.status == "invited"

    msg = outbox.last_to("new.person@example.org")
    assert "invited" in msg["Subject"].lower()
    body = outbox.body(msg)
    assert "Nova Person" in body and folks.admin.display_name in body
    link = outbox.link_in_last_to("new.person@example.org")
    assert link.startswith(app_ctx.config["BASE_URL"] + "/invitation/")
    raw = token_from_link(link)
    assert services.find_account_token(raw, TokenPurpose.INVITATION).user == user
    # the link really leads to a page that accepts it
    assert app_ctx.test_client().get(link[len(app_ctx.config["BASE_URL"]):]).status_code == 200
    # only the hash is stored
    stored = db.session.scalar(select(AccountToken).where(AccountToken.user_id == user.id))
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert stored.expires_at - stored.created_at == timedelta(days=app_ctx.config["INVITATION_DAYS"])

    assert services.redeem_account_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD) == user
    db.session.commit()
    assert services.authenticate("new.person@example.org", NEW_PASSWORD) == user
    assert only_event("user.invited", user).actor_id == folks.admin.id
    assert only_event("user.created", user).data["with_password"] is False


def test_invitation_mail_is_not_sent_if_the_transaction_rolls_back(app_ctx, outbox):
    services.invite_user(actor=None, email="gone@example.org", display_name="Gone", role="trainee")
    db.session.rollback()
    assert outbox.messages() == []
    assert services.find_user_by_email("gone@example.org") is None


def test_invitation_is_not_sent_to_someone_with_a_password_or_deactivated(folks):
    with pytest.raises(Conflict):
        services.send_invitation(folks.trainee, actor=folks.admin)
    user = invite(folks.admin)
    services.deactivate_user(user, actor=folks.admin)
    with pytest.raises(Conflict):
        services.send_invitation(user, actor=folks.admin)
    assert len(events("user.invited", user)) == 1


# ---------------------------------------------------------------- account links


def test_redeeming_sets_the_password_once(app_ctx, outbox):
    user = invite()
    raw = token_from_link(outbox.link_in_last_to(user.email))
    services.redeem_account_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD)
    db.session.commit()
    assert user.has_password and user.status == "active"
    entry = only_event("user.invitation_accepted", user)
    assert entry.actor_id == user.id

    with pytest.raises(Conflict):
        services.redeem_account_token(raw, TokenPurpose.INVITATION, "another long passphrase")
    db.session.rollback()
    assert services.authenticate(user.email, NEW_PASSWORD) == user
    assert services.authenticate(user.email, "another long passphrase") is None
    assert services.find_account_token(raw, TokenPurpose.INVITATION) is None
    assert len(events("user.invitation_accepted", user)) == 1


def test_a_weak_password_does_not_spend_the_link(app_ctx, outbox):
    user = invite()
    raw = token_from_link(outbox.link_in_last_to(user.email))
    with pytest.raises(ValidationFailed):
        services.redeem_account_token(raw, TokenPurpose.INVITATION, "too short")
    db.session.rollback()
    assert services.find_account_token(raw, TokenPurpose.INVITATION) is not None
    services.redeem_account_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD)
    assert user.has_password


def test_expired_link_is_refused(app_ctx, outbox):
    user = invite()
    raw = token_from_link(outbox.link_in_last_to(user.email))
    token = db.session.scalar(select(AccountToken).where(AccountToken.user_id == user.id))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert services.find_account_token(raw, TokenPurpose.INVITATION) is None
    with pytest.raises(Conflict):
        services.redeem_account_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD)
    db.session.rollback()
    db.session.refresh(user)
    assert not user.has_password
    assert events("user.invitation_accepted", user) == []


@pytest.mark.parametrize("raw", ["", "not-a-token", "x" * 200])
def test_unknown_link_is_refused(app_ctx, raw):
    assert services.find_account_token(raw, TokenPurpose.INVITATION) is None
    with pytest.raises(Conflict):
        services.redeem_account_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD)


def test_only_the_newest_invitation_link_works(folks, outbox):
    user = invite(folks.admin)
    first = token_from_link(outbox.link_in_last_to(user.email))
    services.send_invitation(user, actor=folks.admin)
    db.session.commit()
    assert len([m for m in outbox.messages() if m["To"] == user.email]) == 2
    second = token_from_link(outbox.link_in_last_to(user.email))
    assert first != second

    assert services.find_account_token(first, TokenPurpose.INVITATION) is None
    with pytest.raises(Conflict):
        services.redeem_account_token(first, TokenPurpose.INVITATION, NEW_PASSWORD)
    db.session.rollback()
    services.redeem_account_token(second, TokenPurpose.INVITATION, NEW_PASSWORD)
    db.session.commit()
    assert services.authenticate(user.email, NEW_PASSWORD) == user
    assert len(events("user.invited", user)) == 2


def test_a_link_is_only_good_for_its_purpose(app_ctx, outbox):
    user = invite()
    raw = token_from_link(outbox.link_in_last_to(user.email))
    assert services.find_account_token(raw, TokenPurpose.PASSWORD_RESET) is None
    with pytest.raises(Conflict):
        services.redeem_account_token(raw, TokenPurpose.PASSWORD_RESET, NEW_PASSWORD)
    db.session.rollback()
    assert not user.has_password


def test_link_of_a_deactivated_account_is_refused(folks, outbox):
    user = invite(folks.admin)
    raw = token_from_link(outbox.link_in_last_to(user.email))
    services.deactivate_user(user, actor=folks.admin)
    db.session.commit()
    assert services.find_account_token(raw, TokenPurpose.INVITATION) is None
    with pytest.raises(Conflict):
        services.redeem_account_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD)


def test_password_reset_sets_a_new_password_and_ends_every_login(folks, outbox, app_ctx):
    user = folks.trainee
    first = services.start_login_session(user)
    second = services.start_login_session(user)
    db.session.commit()

    services.request_password_reset("  TRAINEE@example.org ")
    db.session.commit()
    link = outbox.link_in_last_to(user.email)
    assert link.startswith(app_ctx.config["BASE_URL"] + "/password/reset/")
    assert "reset" in outbox.last_to(user.email)["Subject"].lower()
    entry = only_event("user.password_reset_requested", user)
    assert entry.actor_id is None
    token = db.session.scalar(select(AccountToken).where(AccountToken.user_id == user.id))
    assert token.expires_at - token.created_at == timedelta(minutes=app_ctx.config["PASSWORD_RESET_MINUTES"])

    services.redeem_account_token(token_from_link(link), TokenPurpose.PASSWORD_RESET, NEW_PASSWORD)
    db.session.commit()
    assert services.authenticate(user.email, factories.PASSWORD) is None
    assert services.authenticate(user.email, NEW_PASSWORD) == user
    assert session_count(user) == 0
    assert services.check_login_session(user.id, first, idle=IDLE) is None
    assert services.check_login_session(user.id, second, idle=IDLE) is None
    assert only_event("user.password_reset", user).actor_id == user.id


def test_password_reset_for_unknown_or_deactivated_address_says_nothing(folks, outbox):
    services.deactivate_user(folks.other_trainee, actor=folks.admin)
    db.session.commit()
    before = event_count()
    services.request_password_reset("nobody@example.org")
    services.request_password_reset(folks.other_trainee.email)
    services.request_password_reset("not an address")
    db.session.commit()
    assert outbox.messages() == []
    assert event_count() == before
    assert db.session.scalar(select(func.count()).select_from(AccountToken)) == 0


def test_a_new_reset_link_spends_the_older_one(folks, outbox):
    services.request_password_reset(folks.trainee.email)
    db.session.commit()
    first = token_from_link(outbox.link_in_last_to(folks.trainee.email))
    services.request_password_reset(folks.trainee.email)
    db.session.commit()
    second = token_from_link(outbox.link_in_last_to(folks.trainee.email))
    assert services.find_account_token(first, TokenPurpose.PASSWORD_RESET) is None
    assert services.find_account_token(second, TokenPurpose.PASSWORD_RESET) is not None


# ---------------------------------------------------------------- authenticate


def test_authenticate_with_the_right_password(folks):
    assert services.authenticate(folks.trainee.email, factories.PASSWORD) == folks.trainee
    assert services.authenticate("  TRAINEE@Example.org", factories.PASSWORD) == folks.trainee
    assert events("user.login_failed") == []


def test_wrong_password_is_refused_and_audited(folks):
    assert services.authenticate(folks.trainee.email, "wrong password entirely") is None
    assert services.authenticate(folks.trainee.email, "") is None
    assert services.authenticate(folks.trainee.email, None) is None
    found = events("user.login_failed", folks.trainee)
    assert len(found) == 3
    assert all(e.actor_id is None and e.actor_label == "system" for e in found)


def test_unknown_email_is_refused_without_an_audit_entry(folks):
    before = event_count()
    assert services.authenticate("nobody@example.org", factories.PASSWORD) is None
    assert services.authenticate("", factories.PASSWORD) is None
    assert event_count() == before


def test_invited_account_without_password_cannot_log_in(app_ctx):
    user = invite()
    assert services.authenticate(user.email, "") is None
    assert services.authenticate(user.email, factories.PASSWORD) is None


def test_deactivated_account_cannot_log_in(folks):
    services.deactivate_user(folks.trainee, actor=folks.admin)
    assert services.authenticate(folks.trainee.email, factories.PASSWORD) is None
    refused = only_event("user.login_refused", folks.trainee)
    assert refused.data == {"reason": "deactivated"}
    assert services.authenticate(folks.trainee.email, "wrong password entirely") is None
    assert len(events("user.login_failed", folks.trainee)) == 1


# ---------------------------------------------------------------- login sessions


def test_login_session_start_check_end(folks):
    user = folks.trainee
    assert user.last_login_at is None
    raw = services.start_login_session(user)
    db.session.commit()
    assert user.last_login_at is not None
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest() != raw
    assert only_event("user.login", user).actor_id == user.id

    assert services.check_login_session(user.id, raw, idle=IDLE) == user
    assert services.check_login_session(folks.admin.id, raw, idle=IDLE) is None  # someone else's id
    assert services.check_login_session(user.id, raw + "x", idle=IDLE) is None
    assert services.check_login_session(user.id, None, idle=IDLE) is None
    assert services.check_login_session(user.id, "", idle=IDLE) is None

    services.end_login_session(user, raw)
    db.session.commit()
    assert services.check_login_session(user.id, raw, idle=IDLE) is None
    assert session_count(user) == 0
    assert only_event("user.logout", user).actor_id == user.id


def test_ending_one_login_keeps_the_others(folks):
    user = folks.trainee
    one = services.start_login_session(user)
    two = services.start_login_session(user)
    assert one != two
    services.end_login_session(user, one)
    assert services.check_login_session(user.id, one, idle=IDLE) is None
    assert services.check_login_session(user.id, two, idle=IDLE) == user


def test_idle_login_expires(folks):
    user = folks.trainee
    raw = services.start_login_session(user)
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    row.last_seen_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    assert services.check_login_session(user.id, raw, idle=timedelta(hours=3)) == user
    row.last_seen_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    assert services.check_login_session(user.id, raw, idle=timedelta(hours=1)) is None
    db.session.commit()
    assert session_count(user) == 0  # the expired row is gone
    assert services.check_login_session(user.id, raw, idle=timedelta(hours=24)) is None


def test_activity_refreshes_last_seen_without_writing_on_every_request(folks):
    user = folks.trainee
    raw = services.start_login_session(user)
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    recent = utcnow() - timedelta(minutes=1)
    row.last_seen_at = recent
    db.session.commit()
    services.check_login_session(user.id, raw, idle=IDLE)
    assert row.last_seen_at == recent
    stale = utcnow() - timedelta(minutes=30)
    row.last_seen_at = stale
    db.session.commit()
    services.check_login_session(user.id, raw, idle=IDLE)
    db.session.commit()
    db.session.refresh(row)
    assert row.last_seen_at > utcnow() - timedelta(minutes=1)


def test_session_of_a_deactivated_user_is_refused(folks):
    user = folks.trainee
    raw = services.start_login_session(user)
    user.active = False  # even if a row were left behind
    db.session.flush()
    assert services.check_login_session(user.id, raw, idle=IDLE) is None


def test_change_password_ends_other_sessions_and_returns_a_fresh_one(folks):
    user = folks.trainee
    old_one = services.start_login_session(user)
    old_two = services.start_login_session(user)
    other_user = services.start_login_session(folks.admin)
    db.session.commit()

    fresh = services.change_password(user, current_password=factories.PASSWORD, new_password=NEW_PASSWORD)
    db.session.commit()
    assert fresh not in (old_one, old_two)
    assert services.check_login_session(user.id, old_one, idle=IDLE) is None
    assert services.check_login_session(user.id, old_two, idle=IDLE) is None
    assert services.check_login_session(user.id, fresh, idle=IDLE) == user
    assert services.check_login_session(folks.admin.id, other_user, idle=IDLE) == folks.admin
    assert session_count(user) == 1
    assert services.authenticate(user.email, factories.PASSWORD) is None
    assert services.authenticate(user.email, NEW_PASSWORD) == user
    assert only_event("user.password_changed", user).actor_id == user.id


def test_change_password_needs_the_current_password_and_the_policy(folks):
    user = folks.trainee
    raw = services.start_login_session(user)
    with pytest.raises(ValidationFailed) as wrong:
        services.change_password(user, current_password="not my password", new_password=NEW_PASSWORD)
    assert "current_password" in wrong.value.errors
    with pytest.raises(ValidationFailed) as weak:
        services.change_password(user, current_password=factories.PASSWORD, new_password="short")
    assert "new_password" in weak.value.errors
    db.session.commit()
    assert services.authenticate(user.email, factories.PASSWORD) == user
    assert services.check_login_session(user.id, raw, idle=IDLE) == user
    assert events("user.password_changed") == []


# ---------------------------------------------------------------- profile


def test_update_profile_by_self_and_admin(folks):
    services.update_profile(folks.trainee, actor=folks.trainee, display_name=" Tess  T ",
                            certificate_name="Tess Trainee")
    entry = only_event("user.profile_updated", folks.trainee)
    assert entry.actor_id == folks.trainee.id
    assert entry.data == {"changes": {"display_name": {"from": "Tess Trainee", "to": "Tess T"}}}
    services.update_profile(folks.trainee, actor=folks.admin, display_name="Tess T",
                            certificate_name="Tessa Trainee")
    assert folks.trainee.certificate_name == "Tessa Trainee"
    # nothing changed: no entry
    services.update_profile(folks.trainee, actor=folks.admin, display_name="Tess T",
                            certificate_name="Tessa Trainee")
    assert len(events("user.profile_updated", folks.trainee)) == 2
    with pytest.raises(ValidationFailed):
        services.update_profile(folks.trainee, actor=folks.trainee, display_name="", certificate_name="X")
    assert folks.trainee.display_name == "Tess T"


# ---------------------------------------------------------------- change_role


def test_admin_changes_someone_elses_role(folks):
    services.change_role(folks.other_trainee, "admin", actor=folks.admin)
    db.session.commit()
    assert folks.other_trainee.role is Role.ADMIN
    assert folks.other_trainee.supervisor_id is None  # only trainees have a supervisor
    entry = only_event("user.role_changed", folks.other_trainee)
    assert entry.actor_id == folks.admin.id
    assert entry.data == {"from": "trainee", "to": "admin"}


def test_same_role_is_a_no_op(folks):
    before = event_count()
    services.change_role(folks.trainee, Role.TRAINEE, actor=folks.admin)
    assert event_count() == before
    assert folks.trainee.supervisor_id == folks.supervisor.id


def test_cannot_change_own_role(folks):
    services.change_role(folks.other_trainee, "admin", actor=folks.admin)  # not the last admin any more
    with pytest.raises(Conflict) as caught:
        services.change_role(folks.admin, "trainee", actor=folks.admin)
    assert "own role" in caught.value.detail
    assert folks.admin.role is Role.ADMIN
    assert events("user.role_changed", folks.admin) == []


def test_last_active_admin_keeps_the_role(folks):
    with pytest.raises(Conflict) as caught:
        services.change_role(folks.admin, "supervisor", actor=None)
    assert "last active administrator" in caught.value.detail
    assert folks.admin.role is Role.ADMIN

    # a deactivated second admin does not count
    services.change_role(folks.other_trainee, "admin", actor=folks.admin)
    services.deactivate_user(folks.other_trainee, actor=folks.admin)
    with pytest.raises(Conflict):
        services.change_role(folks.admin, "supervisor", actor=None)
    assert folks.admin.role is Role.ADMIN

    # with another active admin it is allowed
    services.reactivate_user(folks.other_trainee, actor=folks.admin)
    services.change_role(folks.admin, "supervisor", actor=folks.other_trainee)
    assert folks.admin.role is Role.SUPERVISOR
    assert only_event("user.role_changed", folks.admin).actor_id == folks.other_trainee.id


def test_a_deactivated_admin_can_be_demoted_even_if_only_one_active_admin_remains(folks):
    second = factories.make_user(Role.ADMIN)
    services.deactivate_user(second, actor=folks.admin)
    services.change_role(second, "trainee", actor=folks.admin)
    assert second.role is Role.TRAINEE


@pytest.mark.parametrize("new_role", ["trainee", "admin"])
def test_demoting_a_supervisor_unassigns_their_trainees(folks, new_role):
    extra = factories.make_user(Role.TRAINEE, supervisor=folks.supervisor)
    sup = folks.supervisor
    services.change_role(sup, new_role, actor=folks.admin)
    db.session.commit()
    db.session.expire_all()
    assert sup.role is Role(new_role)
    assert folks.trainee.supervisor_id is None
    assert extra.supervisor_id is None
    assert sup.trainees == []
    assert folks.other_trainee.supervisor_id == folks.other_supervisor.id  # someone else's trainee
    for trainee in (folks.trainee, extra):
        entry = only_event("user.supervisor_assigned", trainee)
        assert entry.actor_id == folks.admin.id
        assert entry.data["supervisor_id"] is None
        assert entry.data["previous_supervisor_id"] == sup.id
    assert events("user.supervisor_assigned", folks.other_trainee) == []
    assert only_event("user.role_changed", sup).data == {"from": "supervisor", "to": new_role}


def test_promoting_a_trainee_drops_their_supervisor(folks):
    services.change_role(folks.trainee, "supervisor", actor=folks.admin)
    db.session.commit()
    db.session.expire_all()
    assert folks.trainee.supervisor_id is None
    assert folks.trainee not in folks.supervisor.trainees
    assert folks.trainee.role is Role.SUPERVISOR


# ---------------------------------------------------------------- assign_supervisor


def test_assign_change_and_remove_a_supervisor(folks):
    trainee = factories.make_user(Role.TRAINEE)
    services.assign_supervisor(trainee, folks.supervisor, actor=folks.admin)
    db.session.commit()
    assert trainee.supervisor_id == folks.supervisor.id
    services.assign_supervisor(trainee, folks.other_supervisor, actor=None)
    db.session.commit()
    assert trainee.supervisor_id == folks.other_supervisor.id
    services.assign_supervisor(trainee, None, actor=folks.admin)
    db.session.commit()
    assert trainee.supervisor_id is None

    found = events("user.supervisor_assigned", trainee)
    assert [(e.actor_id, e.data) for e in found] == [
        (folks.admin.id, {"supervisor_id": folks.supervisor.id, "previous_supervisor_id": None}),
        (None, {"supervisor_id": folks.other_supervisor.id, "previous_supervisor_id": folks.supervisor.id}),
        (folks.admin.id, {"supervisor_id": None, "previous_supervisor_id": folks.other_supervisor.id}),
    ]


def test_assigning_the_same_supervisor_again_writes_nothing(folks):
    before = event_count()
    services.assign_supervisor(folks.trainee, folks.supervisor, actor=folks.admin)
    assert event_count() == before


def test_only_trainees_get_a_supervisor_assigned(folks):
    with pytest.raises(Conflict):
        services.assign_supervisor(folks.other_supervisor, folks.supervisor, actor=folks.admin)
    with pytest.raises(Conflict):
        services.assign_supervisor(folks.admin, folks.supervisor, actor=folks.admin)
    assert folks.other_supervisor.supervisor_id is None
    assert events("user.supervisor_assigned") == []


@pytest.mark.parametrize("who", ["other_trainee", "admin"])
def test_assigned_supervisor_must_be_a_supervisor(folks, who):
    with pytest.raises(ValidationFailed):
        services.assign_supervisor(folks.trainee, getattr(folks, who), actor=folks.admin)
    assert folks.trainee.supervisor_id == folks.supervisor.id


def test_assigned_supervisor_must_be_active(folks):
    services.deactivate_user(folks.other_supervisor, actor=folks.admin)
    with pytest.raises(ValidationFailed):
        services.assign_supervisor(folks.trainee, folks.other_supervisor, actor=folks.admin)
    assert folks.trainee.supervisor_id == folks.supervisor.id


def test_active_supervisors_and_search(folks):
    services.deactivate_user(folks.other_supervisor, actor=folks.admin)
    assert services.active_supervisors() == [folks.supervisor]
    page = services.search_users(role="trainee")
    assert {u.email for u in page.items} == {"trainee@example.org", "trainee2@example.org"}
    assert [u.email for u in services.search_users(q="SKY").items] == ["sup2@example.org"]
    assert [u.email for u in services.search_users(status="deactivated").items] == ["sup2@example.org"]
    assert [u.email for u in services.search_users(supervisor_id=folks.supervisor.id).items] == [
        "trainee@example.org"]
    invite()
    assert [u.email for u in services.search_users(status="invited").items] == ["new.person@example.org"]


# ---------------------------------------------------------------- deactivate / reactivate


def test_deactivate_ends_sessions_and_reactivate_restores_login(folks):
    user = folks.trainee
    raw = services.start_login_session(user)
    db.session.commit()
    services.deactivate_user(user, actor=folks.admin)
    db.session.commit()
    assert not user.active and user.status == "deactivated"
    assert session_count(user) == 0
    assert services.check_login_session(user.id, raw, idle=IDLE) is None
    assert only_event("user.deactivated", user).actor_id == folks.admin.id

    with pytest.raises(Conflict):
        services.deactivate_user(user, actor=folks.admin)
    assert len(events("user.deactivated", user)) == 1

    services.reactivate_user(user, actor=folks.admin)
    db.session.commit()
    assert user.active
    assert only_event("user.reactivated", user).actor_id == folks.admin.id
    assert services.authenticate(user.email, factories.PASSWORD) == user
    assert services.check_login_session(user.id, raw, idle=IDLE) is None  # old login stays ended
    with pytest.raises(Conflict):
        services.reactivate_user(user, actor=folks.admin)
    assert len(events("user.reactivated", user)) == 1


def test_cannot_deactivate_yourself(folks):
    services.change_role(folks.other_trainee, "admin", actor=folks.admin)
    with pytest.raises(Conflict) as caught:
        services.deactivate_user(folks.admin, actor=folks.admin)
    assert "your own" in caught.value.detail
    assert folks.admin.active


def test_cannot_deactivate_the_last_active_admin(folks):
    with pytest.raises(Conflict) as caught:
        services.deactivate_user(folks.admin, actor=None)
    assert "last active administrator" in caught.value.detail
    assert folks.admin.active
    second = factories.make_user(Role.ADMIN)
    services.deactivate_user(folks.admin, actor=second)
    assert not folks.admin.active
    with pytest.raises(Conflict):
        services.deactivate_user(second, actor=None)
    assert second.active


def test_deactivating_a_supervisor_unassigns_their_trainees(folks):
    services.deactivate_user(folks.supervisor, actor=folks.admin)
    db.session.commit()
    db.session.expire_all()
    assert folks.trainee.supervisor_id is None
    entry = only_event("user.supervisor_assigned", folks.trainee)
    assert entry.data["previous_supervisor_id"] == folks.supervisor.id
    assert folks.other_trainee.supervisor_id == folks.other_supervisor.id


# ---------------------------------------------------------------- API tokens


def test_api_token_secret_is_shown_once_and_only_its_hash_is_stored(folks):
    new = services.create_api_token(folks.trainee, actor=folks.trainee, name="  my   laptop ")
    db.session.commit()
    assert re.fullmatch(r"pnd_[A-Za-z0-9_-]{40,}", new.secret)
    token = db.session.get(ApiToken, new.token.id)
    assert token.name == "my laptop"
    assert token.token_hash == hashlib.sha256(new.secret.encode()).hexdigest()
    assert token.prefix == new.secret[:10]
    stored = [token.name, token.token_hash, token.prefix]
    assert new.secret not in stored
    assert not hasattr(token, "secret")
    assert token.active and token.last_used_at is None

    entry = only_event("api_token.created", token)
    assert entry.actor_id == folks.trainee.id
    assert entry.data == {"user_id": folks.trainee.id, "token_name": "my laptop"}
    assert new.secret not in str(entry.data)

    assert services.user_for_api_token(new.secret) == folks.trainee
    assert token.last_used_at is not None
    assert services.list_api_tokens(folks.trainee) == [token]
    assert services.list_api_tokens(folks.admin) == []


def test_every_token_is_different(folks):
    one = services.create_api_token(folks.trainee, actor=folks.trainee, name="one")
    two = services.create_api_token(folks.trainee, actor=folks.trainee, name="two")
    assert one.secret != two.secret
    assert services.user_for_api_token(one.secret) == services.user_for_api_token(two.secret) == folks.trainee
    assert services.list_api_tokens(folks.trainee) == [two.token, one.token]


@pytest.mark.parametrize("secret", ["", "pnd_", "pnd_unknown", "xyz_abc", "pnd_" + "a" * 200])
def test_unknown_api_token_gives_no_user(folks, secret):
    services.create_api_token(folks.trainee, actor=folks.trainee, name="real")
    assert services.user_for_api_token(secret) is None


def test_a_secret_without_its_prefix_is_refused(folks):
    new = services.create_api_token(folks.trainee, actor=folks.trainee, name="real")
    assert services.user_for_api_token(new.secret[len("pnd_"):]) is None
    assert services.user_for_api_token(new.secret.upper()) is None


def test_revoked_token_gives_no_user(folks):
    new = services.create_api_token(folks.trainee, actor=folks.trainee, name="laptop")
    services.revoke_api_token(new.token, actor=folks.trainee)
    db.session.commit()
    assert new.token.revoked_at is not None and not new.token.active
    assert services.user_for_api_token(new.secret) is None
    entry = only_event("api_token.revoked", new.token)
    assert entry.actor_id == folks.trainee.id
    assert entry.data == {"user_id": folks.trainee.id, "token_name": "laptop"}
    with pytest.raises(Conflict):
        services.revoke_api_token(new.token, actor=folks.trainee)
    assert len(events("api_token.revoked")) == 1


def test_only_the_owner_or_an_admin_revokes_a_token(folks):
    new = services.create_api_token(folks.trainee, actor=folks.trainee, name="laptop")
    for who in (folks.supervisor, folks.other_trainee):
        with pytest.raises(NotFound):
            services.revoke_api_token(new.token, actor=who)
    assert services.user_for_api_token(new.secret) == folks.trainee
    services.revoke_api_token(new.token, actor=folks.admin)
    assert services.user_for_api_token(new.secret) is None
    assert only_event("api_token.revoked", new.token).actor_id == folks.admin.id


def test_token_of_a_deactivated_user_gives_no_user(folks):
    new = services.create_api_token(folks.trainee, actor=folks.trainee, name="laptop")
    services.deactivate_user(folks.trainee, actor=folks.admin)
    db.session.commit()
    assert services.user_for_api_token(new.secret) is None
    services.reactivate_user(folks.trainee, actor=folks.admin)
    assert services.user_for_api_token(new.secret) == folks.trainee


def test_a_deactivated_user_cannot_get_a_token(folks):
    services.deactivate_user(folks.trainee, actor=folks.admin)
    with pytest.raises(Conflict):
        services.create_api_token(folks.trainee, actor=None, name="cli")
    assert services.list_api_tokens(folks.trainee) == []


@pytest.mark.parametrize("who", ["admin", "supervisor", "other_trainee"])
def test_nobody_else_creates_a_token_for_you(folks, who):
    with pytest.raises(PermissionDenied):
        services.create_api_token(folks.trainee, actor=getattr(folks, who), name="sneaky")
    assert services.list_api_tokens(folks.trainee) == []
    assert events("api_token.created") == []


def test_the_system_may_create_a_token(folks):
    new = services.create_api_token(folks.trainee, actor=None, name="cli")
    assert services.user_for_api_token(new.secret) == folks.trainee
    assert only_event("api_token.created", new.token).actor_label == "system"


@pytest.mark.parametrize("name", ["", "   ", None, "n" * 81])
def test_token_needs_a_sensible_name(folks, name):
    with pytest.raises(ValidationFailed) as caught:
        services.create_api_token(folks.trainee, actor=folks.trainee, name=name)
    assert "name" in caught.value.errors
    assert services.list_api_tokens(folks.trainee) == []
