"""Imports every model so that Base.metadata knows all tables (Alembic and tests use this)."""

from lms.accounts.models import AccountToken, ApiToken, LoginSession, Role, User
from lms.audit import AuditEvent
from lms.db import Base

__all__ = ["AccountToken", "ApiToken", "AuditEvent", "Base", "LoginSession", "Role", "User"]
