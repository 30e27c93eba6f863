"""People and their credentials: users with a role, login sessions, one-time account tokens, API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, utcnow


class Role(enum.StrEnum):
    TRAINEE = "trainee"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"trainee": "Trainee facilitator", "supervisor": "Supervisor", "admin": "Administrator"}[
            self.value
        ]


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as text with a CHECK constraint: portable between SQLite and PostgreSQL, easy to extend.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("supervisor_id IS NULL OR supervisor_id <> id", name="not_own_supervisor"),
        CheckConstraint("accommodation_factor >= 1 AND accommodation_factor <= 4", name="accommodation_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    certificate_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.TRAINEE)
    active: Mapped[bool] = mapped_column(default=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Extra time on timed quizzes (1.5 = half as long again), set once by a supervisor or admin.
    accommodation_factor: Mapped[float] = mapped_column(default=1.0, server_default="1")

    supervisor: Mapped[User | None] = relationship(remote_side=[id], back_populates="trainees")
    trainees: Mapped[list[User]] = relationship(back_populates="supervisor")

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def status(self) -> str:
        if not self.active:
            return "deactivated"
        return "active" if self.has_password else "invited"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role.value}>"


class LoginSession(Base):
    """A server-side record of one login; the cookie carries its secret. Deleting the row ends the login."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class TokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a password)


class AccountToken(Base):
    """A one-time secret sent by e-mail: an invitation or a password reset. Only its hash is stored."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(_enum(TokenPurpose, "token_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A personal API token. Shown once at creation; only its SHA-256 is stored. A token without scopes acts as
    its owner; a token with scopes (an integration token, made by an operator) may call only the endpoints that
    accept one of them, and there it has what the scope grants (see lms.api.core)."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(String(200), default="", server_default="")  # space-separated

    user: Mapped[User] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
