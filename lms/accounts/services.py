"""Account state changes. Each takes the acting user explicitly, checks what is allowed, writes the audit
trail and flushes; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from lms import audit, mail
from lms.accounts import signals
from lms.accounts.models import AccountToken, ApiToken, LoginSession, Role, TokenPurpose, User
from lms.db import db, lock_row, utcnow
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.pagination import Page, paginate
from lms.urls import external_url

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
NAME_MAX_LENGTH = 120
API_TOKEN_PREFIX = "pnd_"  # noqa: S105 (a prefix, not a secret)
# A hash of a random password, checked when the e-mail is unknown so both paths take the same time.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def _hash(password: str) -> str:
    # scrypt by default; the test suite configures a cheap method so it is not dominated by hashing.
    return generate_password_hash(password, method=_config("PASSWORD_HASH_METHOD"))


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# ---------------------------------------------------------------- validation


def normalise_email(email: str) -> str:
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(f"E-mail address: {exc}", errors={"email": [str(exc)]}) from exc
    return result.normalized.lower()


def check_password_policy(password: str, *, field: str = "password") -> None:
    problem = None
    if len(password) < PASSWORD_MIN_LENGTH:
        problem = f"Password must be at least {PASSWORD_MIN_LENGTH} characters long."
    elif len(password) > PASSWORD_MAX_LENGTH:
        problem = f"Password must be at most {PASSWORD_MAX_LENGTH} characters long."
    elif len(set(password)) < 4:
        problem = "Password must not be one or two characters repeated."
    if problem:
        raise ValidationFailed(problem, errors={field: [problem]})


def _clean_name(value: str | None, field: str, label: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationFailed(f"{label} is required.", errors={field: [f"{label} is required."]})
    if len(value) > NAME_MAX_LENGTH:
        msg = f"{label} must be at most {NAME_MAX_LENGTH} characters."
        raise ValidationFailed(msg, errors={field: [msg]})
    return value


def _require_admin(actor: User | None) -> None:
    """None means the system itself (the CLI run by an operator)."""
    if actor is not None and actor.role is not Role.ADMIN:
        raise PermissionDenied("Only an administrator may do this.")


def _check_supervisor(supervisor: User | None, role: Role) -> None:
    if supervisor is None:
        return
    if role is not Role.TRAINEE:
        raise ValidationFailed(
            "Only trainees have a supervisor.", errors={"supervisor": ["Only trainees have a supervisor."]}
        )
    if supervisor.role is not Role.SUPERVISOR or not supervisor.active:
        msg = f"{supervisor.display_name} is not an active supervisor."
        raise ValidationFailed(msg, errors={"supervisor": [msg]})


def _hold_admins() -> None:
    """Lock every active administrator's row, in id order, before a change that could leave none: two
    administrators demoting or deactivating each other at once then take turns, and the second sees that the
    first has left them the last one. (SQLite: the writer lock that lock_row takes next does the same.)"""
    db.session.execute(select(User.id).where(User.role == Role.ADMIN, User.active.is_(True))
                       .order_by(User.id).with_for_update())


def _active_admin_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active.is_(True))
    ) or 0


# ---------------------------------------------------------------- lookups


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def active_admins() -> list[User]:
    """Every active administrator, oldest account first: who is told when something needs an administrator."""
    return list(db.session.scalars(select(User).where(User.role == Role.ADMIN, User.active.is_(True))
                                   .order_by(User.id)))


def active_supervisors() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.SUPERVISOR, User.active.is_(True))
            .order_by(User.display_name)
        )
    )


def search_users(*, q: str = "", role: str = "", status: str = "", page: int = 1, per_page: int = 25,
                 supervisor_id: int | None = None) -> Page[User]:
    stmt = select(User).order_by(User.display_name, User.id)
    if q:
        needle = q.strip().lower()  # autoescape: a % or _ typed in the search box is text, not a wildcard
        stmt = stmt.where(or_(User.email.contains(needle, autoescape=True),
                              func.lower(User.display_name).contains(needle, autoescape=True)))
    if role:
        stmt = stmt.where(User.role == Role(role))
    if status == "active":
        stmt = stmt.where(User.active.is_(True), User.password_hash.is_not(None))
    elif status == "invited":
        stmt = stmt.where(User.active.is_(True), User.password_hash.is_(None))
    elif status == "deactivated":
        stmt = stmt.where(User.active.is_(False))
    if supervisor_id is not None:
        stmt = stmt.where(User.supervisor_id == supervisor_id)
    return paginate(stmt, page, per_page)


# ---------------------------------------------------------------- creating people


def create_user(*, actor: User | None, email: str, display_name: str, role: Role | str,
                certificate_name: str | None = None, supervisor: User | None = None,
                password: str | None = None) -> User:
    _require_admin(actor)
    role = Role(role)
    email = normalise_email(email)
    display_name = _clean_name(display_name, "display_name", "Display name")
    certificate_name = _clean_name((certificate_name or "").strip() or display_name, "certificate_name",
                                   "Certificate name")
    _check_supervisor(supervisor, role)
    if password is not None:
        check_password_policy(password)
    if find_user_by_email(email) is not None:
        raise Conflict(f"A user with the e-mail {email} already exists.", errors={"email": ["Already in use."]})
    user = User(email=email, display_name=display_name, certificate_name=certificate_name, role=role,
                supervisor=supervisor, active=True)
    if password is not None:
        user.password_hash = _hash(password)
        user.password_changed_at = utcnow()
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.created", user, role=role, supervisor_id=supervisor.id if supervisor else None,
                 with_password=password is not None)
    return user


def invite_user(*, actor: User | None, email: str, display_name: str, role: Role | str,
                certificate_name: str | None = None, supervisor: User | None = None) -> User:
    """Create the account without a password and e-mail a link to set one."""
    user = create_user(actor=actor, email=email, display_name=display_name, role=role,
                       certificate_name=certificate_name, supervisor=supervisor)
    send_invitation(user, actor=actor)
    return user


def send_invitation(user: User, *, actor: User | None) -> str:
    _require_admin(actor)
    if user.has_password:
        raise Conflict(f"{user.email} has already set a password; send a password reset instead.")
    if not user.active:
        raise Conflict(f"{user.email} is deactivated; reactivate the account first.")
    days = _config("INVITATION_DAYS")
    raw = _issue_account_token(user, TokenPurpose.INVITATION, timedelta(days=days))
    mail.send(user.email, "You are invited to Project New Day facilitator training", "invitation",
              user=user, inviter=actor, link=external_url("accounts.accept_invitation", token=raw), days=days)
    audit.record(actor, "user.invited", user, expires_in_days=days)
    return raw


def _config(key: str):
    from flask import current_app

    return current_app.config[key]


def _issue_account_token(user: User, purpose: TokenPurpose, lifetime: timedelta) -> str:
    now = utcnow()
    # Only the newest link of each kind works: older ones are spent.
    db.session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    raw = secrets.token_urlsafe(32)
    db.session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=_digest(raw), created_at=now,
                                expires_at=now + lifetime))
    db.session.flush()
    return raw


def find_account_token(raw: str, purpose: TokenPurpose) -> AccountToken | None:
    """The token if it is unused, unexpired and its user active; else None."""
    if not raw or len(raw) > 128:
        return None
    token = db.session.scalar(
        select(AccountToken).where(AccountToken.token_hash == _digest(raw), AccountToken.purpose == purpose)
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow() or not token.user.active:
        return None
    return token


def redeem_account_token(raw: str, purpose: TokenPurpose, new_password: str) -> User:
    """Set the password from an invitation or reset link; the link is spent and other logins end."""
    # Row lock: two tabs submitting the same link cannot both succeed.
    token = db.session.scalar(
        select(AccountToken)
        .where(AccountToken.token_hash == _digest(raw or ""), AccountToken.purpose == purpose)
        .with_for_update()
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow() or not token.user.active:
        raise Conflict("This link is invalid, has expired or has already been used.")
    check_password_policy(new_password)
    user = token.user
    token.used_at = utcnow()
    _set_password(user, new_password)
    audit.record(user, "user.invitation_accepted" if purpose is TokenPurpose.INVITATION else "user.password_reset",
                 user)
    return user


def _set_password(user: User, password: str) -> None:
    user.password_hash = _hash(password)
    user.password_changed_at = utcnow()
    end_all_login_sessions(user)


# ---------------------------------------------------------------- logging in


def authenticate(email: str, password: str) -> User | None:
    """The user when the e-mail and password match an active account, else None (never says which part
    was wrong)."""
    user = find_user_by_email(email)
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        audit.record(None, "user.login_failed", user)
        return None
    if not user.active:
        audit.record(None, "user.login_refused", user, reason="deactivated")
        return None
    return user


def start_login_session(user: User) -> str:
    """Record a new login and return the secret for the session cookie."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(LoginSession(user_id=user.id, token_hash=_digest(raw), created_at=now, last_seen_at=now))
    user.last_login_at = now
    audit.record(user, "user.login", user)
    return raw


def check_login_session(user_id: int, raw: str | None, *, idle: timedelta) -> User | None:
    if not raw:
        return None
    row = db.session.scalar(
        select(LoginSession).where(LoginSession.token_hash == _digest(raw), LoginSession.user_id == user_id)
    )
    if row is None:
        return None
    now = utcnow()
    if row.last_seen_at + idle < now:
        db.session.delete(row)
        return None
    if now - row.last_seen_at > timedelta(minutes=5):  # avoid a write on every request
        row.last_seen_at = now
    return row.user if row.user.active else None


def end_login_session(user: User | None, raw: str | None) -> None:
    if raw:
        db.session.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(raw)))
    if user is not None:
        audit.record(user, "user.logout", user)


def end_all_login_sessions(user: User) -> None:
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def change_password(user: User, *, current_password: str, new_password: str) -> str:
    """Change the password, end every login of this user, and return a fresh session secret for the
    caller's own session."""
    if user.password_hash is None or not check_password_hash(user.password_hash, current_password or ""):
        raise ValidationFailed("Your current password is not correct.",
                               errors={"current_password": ["Not correct."]})
    check_password_policy(new_password, field="new_password")
    _set_password(user, new_password)
    audit.record(user, "user.password_changed", user)
    return start_login_session(user)


def request_password_reset(email: str) -> None:
    """E-mail a reset link if an active account has this address; say nothing either way."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    minutes = _config("PASSWORD_RESET_MINUTES")
    raw = _issue_account_token(user, TokenPurpose.PASSWORD_RESET, timedelta(minutes=minutes))
    mail.send(user.email, "Reset your Project New Day training password", "password_reset", user=user,
              link=external_url("accounts.reset_password", token=raw), minutes=minutes)
    audit.record(None, "user.password_reset_requested", user)


# ---------------------------------------------------------------- administration


def update_profile(user: User, *, actor: User, display_name: str, certificate_name: str) -> None:
    if actor.id != user.id:
        _require_admin(actor)
    new = {
        "display_name": _clean_name(display_name, "display_name", "Display name"),
        "certificate_name": _clean_name(certificate_name, "certificate_name", "Certificate name"),
    }
    changed = {k: {"from": getattr(user, k), "to": v} for k, v in new.items() if getattr(user, k) != v}
    if not changed:
        return
    for k, v in new.items():
        setattr(user, k, v)
    audit.record(actor, "user.profile_updated", user, changes=changed)


def change_role(user: User, role: Role | str, *, actor: User | None) -> None:
    _require_admin(actor)
    role = Role(role)
    if user.role is Role.ADMIN:
        _hold_admins()
    lock_row(user, "role", "active", "supervisor_id")  # one change at a time, each seeing the one before
    if role is user.role:
        return
    if actor is not None and actor.id == user.id:
        raise Conflict("You cannot change your own role; ask another administrator.")
    if user.role is Role.ADMIN and user.active and _active_admin_count() <= 1:
        raise Conflict("This is the last active administrator; make someone else an administrator first.")
    old = user.role
    if old is Role.SUPERVISOR:
        _unassign_trainees(user, actor=actor)
    if role is not Role.TRAINEE and user.supervisor_id is not None:
        user.supervisor = None
    user.role = role
    audit.record(actor, "user.role_changed", user, **{"from": old, "to": role})


def _unassign_trainees(supervisor: User, *, actor: User | None) -> None:
    for trainee in list(supervisor.trainees):
        trainee.supervisor = None
        audit.record(actor, "user.supervisor_assigned", trainee, supervisor_id=None,
                     previous_supervisor_id=supervisor.id, reason="supervisor no longer available")


def assign_supervisor(trainee: User, supervisor: User | None, *, actor: User | None) -> None:
    _require_admin(actor)
    if trainee.role is not Role.TRAINEE:
        raise Conflict(f"{trainee.display_name} is not a trainee; only trainees have a supervisor.")
    _check_supervisor(supervisor, trainee.role)
    previous = trainee.supervisor_id
    if previous == (supervisor.id if supervisor else None):
        return
    trainee.supervisor = supervisor
    audit.record(actor, "user.supervisor_assigned", trainee, supervisor_id=supervisor.id if supervisor else None,
                 previous_supervisor_id=previous)


def deactivate_user(user: User, *, actor: User | None) -> None:
    _require_admin(actor)
    if user.role is Role.ADMIN:
        _hold_admins()
    lock_row(user, "active", "role")  # two administrators pressing at once: one deactivation, one trail entry
    if not user.active:
        raise Conflict(f"{user.email} is already deactivated.")
    if actor is not None and actor.id == user.id:
        raise Conflict("You cannot deactivate your own account.")
    if user.role is Role.ADMIN and _active_admin_count() <= 1:
        raise Conflict("This is the last active administrator.")
    user.active = False
    if user.role is Role.SUPERVISOR:
        _unassign_trainees(user, actor=actor)
    end_all_login_sessions(user)
    audit.record(actor, "user.deactivated", user)
    signals.account_deactivated.send(user, actor=actor)


def reactivate_user(user: User, *, actor: User | None) -> None:
    _require_admin(actor)
    lock_row(user, "active")
    if user.active:
        raise Conflict(f"{user.email} is already active.")
    user.active = True
    audit.record(actor, "user.reactivated", user)


# ---------------------------------------------------------------- API tokens


@dataclass
class NewApiToken:
    token: ApiToken
    secret: str  # shown once


# Scopes of integration tokens: name -> what it grants. Features register theirs (lms.groups: facilitators:read),
# so this module need not know them.
API_SCOPES: dict[str, str] = {}


def register_api_scope(name: str, description: str) -> None:
    API_SCOPES[name] = description


def create_api_token(user: User, *, actor: User | None, name: str, scopes: tuple[str, ...] | list[str] = ()
                     ) -> NewApiToken:
    """A personal token, or with `scopes` an integration token limited to the endpoints of those scopes. Only an
    operator (actor None, the command line) or an administrator makes scoped tokens."""
    if actor is not None and actor.id != user.id:
        raise PermissionDenied("People create their own API tokens.")
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        msg = "Give the token a name of 1 to 80 characters, such as what will use it."
        raise ValidationFailed(msg, errors={"name": [msg]})
    wanted = sorted(set(scopes))
    if wanted:
        unknown = [s for s in wanted if s not in API_SCOPES]
        if unknown:
            known = ", ".join(sorted(API_SCOPES)) or "none"
            msg = f"Unknown scope {', '.join(unknown)}; the scopes are: {known}."
            raise ValidationFailed(msg, errors={"scopes": [msg]})
        if actor is not None and actor.role is not Role.ADMIN:
            raise PermissionDenied("Only an administrator or an operator makes integration tokens with scopes.")
    if not user.active:
        raise Conflict("A deactivated account cannot have API tokens.")
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_digest(secret), prefix=secret[:10],
                     scopes=" ".join(wanted))
    db.session.add(token)
    db.session.flush()
    audit.record(actor or None, "api_token.created", token, user_id=user.id, token_name=name,
                 **({"scopes": wanted} if wanted else {}))
    return NewApiToken(token=token, secret=secret)


def list_api_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def revoke_api_token(token: ApiToken, *, actor: User) -> None:
    if actor.id != token.user_id and actor.role is not Role.ADMIN:
        raise NotFound("No such token.")
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    token.revoked_at = utcnow()
    audit.record(actor, "api_token.revoked", token, user_id=token.user_id, token_name=token.name)


def api_token_for_secret(secret: str) -> ApiToken | None:
    """The token if it is live (not revoked, its owner active), noting its use; else None."""
    if not secret or not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        token.last_used_at = now
    return token


def user_for_api_token(secret: str) -> User | None:
    token = api_token_for_secret(secret)
    return token.user if token is not None else None
