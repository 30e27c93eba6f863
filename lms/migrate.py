"""Alembic, driven from the application: the same configuration as the web app, no alembic.ini to keep in
step. `lms init-db` calls upgrade()."""

from __future__ import annotations

import logging
from pathlib import Path

logging.getLogger("alembic").setLevel(logging.WARNING)  # before alembic announces its plugins

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402

from lms.db import db  # noqa: E402

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(target: str = "head") -> tuple[str | None, str | None]:
    before = current_revision()
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), target)
    return before, current_revision()


def revision(message: str) -> None:
    with db.engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True)
