"""The migrations build exactly the schema the models describe, and run down and up again cleanly."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from lms import audit, migrate
from lms.db import db
from lms.models import Base


def _diff() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def _tables() -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names()) - {"alembic_version"}


def test_migrated_database_matches_the_models(app_ctx):
    assert _diff() == []


def test_every_model_table_is_created(app_ctx):
    assert _tables() == set(Base.metadata.tables)


def test_database_is_at_the_single_head(app_ctx):
    head = migrate.head_revision()
    assert head is not None
    assert migrate.current_revision() == head
    assert migrate.upgrade() == (head, head)  # nothing left to do


def test_downgrade_to_base_and_upgrade_again(app_ctx):
    head = migrate.head_revision()
    with db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
    assert migrate.current_revision() is None
    assert _tables() == set()

    with db.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "head")
    assert migrate.current_revision() == head
    assert _tables() == set(Base.metadata.tables)
    assert _diff() == []

    # the append-only trigger came back with the table
    audit.record(None, "test.after_upgrade")
    db.session.commit()
    with pytest.raises(sqlalchemy.exc.DBAPIError):
        db.session.execute(text("DELETE FROM audit_events"))
    db.session.rollback()


def test_upgrade_from_empty_reports_both_revisions(app_ctx):
    with db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
    before, after = migrate.upgrade()
    assert before is None
    assert after == migrate.head_revision()
    assert _diff() == []


def test_env_refuses_to_run_without_a_connection():
    with pytest.raises(RuntimeError, match="init-db"):
        command.upgrade(migrate.alembic_config(), "head")
