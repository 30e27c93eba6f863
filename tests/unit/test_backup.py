"""`lms backup` and `lms restore` (lms/backup.py): a backup taken while the app writes restores to the same
rows and a valid audit chain; a database with data is replaced only with --force; a damaged or missing file
changes nothing. SQLite through the online backup API; PostgreSQL through pg_dump and pg_restore into a scratch
database made (and dropped) here."""

from __future__ import annotations

import secrets
import shutil
import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import URL, create_engine, func, insert, make_url, select
from sqlalchemy.pool import NullPool

from lms import audit, backup, migrate
from lms.accounts import services
from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.backup import BackupError
from lms.db import db, utcnow
from lms.models import Base
from tests import factories

PG_TOOLS = shutil.which("pg_dump") and shutil.which("pg_restore")


@pytest.fixture
def url(app, database) -> str:
    if database["kind"] == "postgresql" and not PG_TOOLS:
        pytest.skip("pg_dump/pg_restore are not installed (apt-get install postgresql-client)")
    return app.config["DATABASE_URL"]


@pytest.fixture(scope="module")
def scratch_databases(database):
    """PostgreSQL databases made for this module's restores, reused from test to test (dropping a database
    costs a checkpoint) and dropped at the end."""
    made: list[str] = []
    yield made
    if made:
        with _server(make_url(database["url"])).connect() as conn:
            for name in made:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def scratch(database, tmp_path, scratch_databases):
    """make(): the URL of an empty database to restore into, a different one at each call. SQLite: a new file.
    PostgreSQL: one of the module's databases with the test run's schema made afresh, and the same search_path
    option (so the schema the backup holds is the one looked in); or, with keep_schema=False, used through a
    fresh public schema, as in production."""
    used = 0

    def make(keep_schema: bool = True) -> str:
        nonlocal used
        used += 1
        if database["kind"] == "sqlite":
            return f"sqlite:///{tmp_path / f'scratch-{used}.sqlite3'}"
        server = make_url(database["url"])
        if used > len(scratch_databases):
            name = f"lms_scratch_{secrets.token_hex(4)}"
            with _server(server).connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            scratch_databases.append(name)
        target = server.set(database=scratch_databases[used - 1])
        schema = backup.url_schema(server) if keep_schema else "public"
        with _server(target).connect() as conn:  # whatever an earlier test left goes
            for (left,) in conn.exec_driver_sql("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
                                                "AND nspname <> 'information_schema'"):
                conn.exec_driver_sql(f'DROP SCHEMA "{left}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        return (target if keep_schema else target.set(query={})).render_as_string(hide_password=False)

    return make


def _server(url: URL):
    return create_engine(url.set(query={}), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def counts(database_url: str) -> dict[str, int]:
    """Rows in every table of the application's schema."""
    return {name: len(rows) for name, rows in contents(database_url).items()}


def contents(database_url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the application's schema, in primary-key order."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def make_activity(n: int = 3) -> None:
    """Audited changes through a service, committed one by one."""
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
    for _ in range(n):
        user = factories.make_user(Role.TRAINEE)
        services.change_role(user, Role.SUPERVISOR, actor=admin)
        db.session.commit()


def live_head() -> tuple[int, str]:
    report = audit.verify_chain(db.engine)
    assert report.ok, [str(p) for p in report.problems]
    return report.head


# ---------------------------------------------------------------- round trips


def test_restore_into_an_empty_database_gives_the_same_rows_and_a_valid_chain(app_ctx, people, url, scratch,
                                                                             tmp_path):
    make_activity()
    before = contents(url)
    assert len(before["audit_events"]) > 5 and len(before["users"]) > 5

    made = backup.backup(url, tmp_path / "backups" / "one.bak")
    assert made.path == tmp_path / "backups" / "one.bak"
    assert made.size == made.path.stat().st_size > 0
    assert made.head == live_head()
    assert not list((tmp_path / "backups").glob("*.partial*"))  # written beside, renamed when complete

    target = scratch()
    restored = backup.restore(target, made.path)
    assert contents(target) == before
    assert restored.revision == restored.expected_revision == migrate.head_revision()
    assert restored.schema_current
    assert restored.chain is not None and restored.chain.ok, [str(p) for p in restored.chain.problems]
    assert restored.chain.entries == len(before["audit_events"])
    assert restored.chain.head == made.head


def test_a_backup_taken_while_the_app_writes_is_consistent(app, people, url, scratch, tmp_path):
    """A writer commits a new user and its audit entry again and again, before, while and after the backup
    runs; the copy holds whole transactions only (as many users as user.created entries), its chain verifies,
    and its head is an earlier point of the live chain, which went on growing."""
    started = threading.Event()
    written: list[int] = []
    until = [10**6]  # how many to write: lowered once the backup is done

    def write() -> None:
        with app.app_context():
            admin = db.session.get(User, people.admin.id)
            while len(written) < until[0]:
                services.create_user(actor=admin, email=f"busy{len(written)}@example.org", display_name="Busy",
                                     role=Role.TRAINEE, password=None)
                db.session.commit()
                written.append(1)
                if len(written) >= 5:
                    started.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert started.wait(30)
        made = backup.backup(url, tmp_path / "busy.bak")
        during = len(written)
    finally:
        until[0] = len(written) + 3  # a few more after it
        writer.join(60)
    assert not writer.is_alive()

    target = scratch()
    restored = backup.restore(target, made.path)
    assert restored.chain.ok, [str(p) for p in restored.chain.problems]
    engine = create_engine(target, poolclass=NullPool)
    with engine.connect() as conn:
        users = conn.scalar(select(func.count()).select_from(User).where(User.email.startswith("busy")))
        created = conn.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "user.created", AuditEvent.subject_label.startswith("busy")))
    engine.dispose()
    # whole transactions, as of one moment (at most one commit was still being counted when the backup returned)
    assert 5 <= users == created <= during + 1
    with app.app_context():
        later = audit.verify_chain(db.engine, expect_head=made.head)
        assert later.ok, [str(p) for p in later.problems]
        assert later.head[0] >= made.head[0] + 2
        assert db.session.scalar(select(func.count()).select_from(User)
                                 .where(User.email.startswith("busy"))) == len(written) >= users + 2


@pytest.mark.skipif(not PG_TOOLS, reason="pg_dump/pg_restore are not installed")
def test_postgresql_whole_database_round_trip(database, scratch, tmp_path):
    """As in production: a URL without a search_path, the public schema of a database of its own."""
    if database["kind"] != "postgresql":
        pytest.skip("PostgreSQL only (LMS_TEST_DATABASE_URL)")
    source = scratch(keep_schema=False)
    engine = create_engine(source, poolclass=NullPool)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "head")
    with engine.begin() as conn:  # rows as a bulk loader writes them, sealed the same way
        conn.execute(insert(AuditEvent.__table__), [
            {"occurred_at": utcnow(), "actor_id": None, "actor_label": "system", "action": "bulk.entry",
             "subject_type": None, "subject_id": None, "subject_label": None, "data": {"k": k}} for k in range(20)])
        audit.seal_unsealed(conn)
    engine.dispose()

    made = backup.backup(source, tmp_path / "whole.dump")
    assert made.head[0] == 20
    target = scratch(keep_schema=False)
    restored = backup.restore(target, made.path)
    assert restored.schema_current and restored.chain.ok
    assert restored.chain.head == made.head
    assert contents(target) == contents(source)
    # a backup of one schema is not restored into another
    with pytest.raises(BackupError, match="holds schema public, but the database uses elsewhere"):
        backup.restore(make_url(target).update_query_dict({"options": "-csearch_path=elsewhere"})
                       .render_as_string(hide_password=False), made.path)


def test_an_old_backup_restores_and_says_the_schema_needs_upgrading(app_ctx, people, url, scratch, tmp_path):
    with db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0007")
    try:
        made = backup.backup(url, tmp_path / "old.bak")
    finally:
        with db.engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), "head")
    assert made.head is None  # no chain in that schema
    restored = backup.restore(scratch(), made.path)
    assert restored.revision == "0007"
    assert not restored.schema_current
    assert restored.chain is None


# ---------------------------------------------------------------- refusals that change nothing


def test_restore_refuses_a_database_with_data_unless_forced(app_ctx, people, url, tmp_path):
    made = backup.backup(url, tmp_path / "snap.bak")
    in_backup = contents(url)
    make_activity(2)  # written after the backup
    live = contents(url)
    db.session.remove()

    with pytest.raises(BackupError, match=r"already holds data \(in .*users.*\); nothing was restored. Use --force"):
        backup.restore(url, made.path)
    assert contents(url) == live

    db.engine.dispose()
    restored = backup.restore(url, made.path, force=True)
    assert contents(url) == in_backup
    assert restored.chain.ok and restored.chain.head == made.head


@pytest.mark.parametrize("damage", ["garbage", "truncated", "end_cut_off", "missing"])
def test_a_damaged_or_missing_backup_changes_nothing(app_ctx, people, url, tmp_path, damage):
    good = backup.backup(url, tmp_path / "good.bak")
    make_activity(1)
    live, head = contents(url), live_head()
    bad = tmp_path / "bad.bak"
    if damage == "garbage":
        bad.write_bytes(secrets.token_bytes(64 * 1024))
    elif damage == "truncated":
        data = good.path.read_bytes()
        bad.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "end_cut_off":  # a pg_dump archive still lists its contents: pg_restore fails part-way
        data = good.path.read_bytes()
        bad.write_bytes(data[:-100])
    db.session.remove()

    expected = {"garbage": "is not a readable", "truncated": "is not a readable",
                "end_cut_off": "(is not a readable SQLite backup|pg_restore failed: .*could not read from input file)",
                "missing": "no backup file at"}[damage]
    with pytest.raises(BackupError, match=expected):
        backup.restore(url, bad, force=True)  # forced: only the file stands in the way
    assert contents(url) == live
    assert live_head() == head


def test_backup_refuses_to_overwrite_a_file(app_ctx, url, tmp_path):
    existing = tmp_path / "there.bak"
    existing.write_bytes(b"keep me")
    with pytest.raises(BackupError, match="already exists"):
        backup.backup(url, existing)
    assert existing.read_bytes() == b"keep me"


def test_postgresql_without_its_client_tools_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    pg = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with pytest.raises(BackupError, match="pg_dump was not found on PATH; install the PostgreSQL client tools"):
        backup.backup(pg, tmp_path / "x.dump")
    archive = tmp_path / "x.dump"
    archive.write_bytes(b"PGDMP")
    with pytest.raises(BackupError, match="pg_restore was not found on PATH"):
        backup.restore(pg, archive)
    assert not list(tmp_path.glob("*.partial"))


def test_default_backup_names(tmp_path):
    from datetime import UTC, datetime

    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert backup.default_path("sqlite:////srv/lms.sqlite3", tmp_path, at) == tmp_path / "lms-20260102T030405Z.sqlite3"
    assert backup.default_path("postgresql+psycopg://db/lms", tmp_path, at) == tmp_path / "lms-20260102T030405Z.dump"
    with pytest.raises(BackupError, match="not mysql"):
        backup.default_path("mysql://db/lms", tmp_path, at)


# ---------------------------------------------------------------- the commands


def test_backup_and_restore_commands(app, runner, people, url, tmp_path):
    target = tmp_path / "cli.bak"
    made = runner.invoke(args=["backup", "--output", str(target)])
    assert made.exit_code == 0, made.output
    with app.app_context():
        head = live_head()
        note = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "backup.created")).one()
    size = target.stat().st_size
    assert made.output == f"Wrote {target} ({size} bytes); audit head {head[0] - 1}:{note.prev_hash}.\n"
    # noted in the live trail after the fact, with the head the file holds
    assert note.data == {"file": str(target), "bytes": size, "audit_head": f"{head[0] - 1}:{note.prev_hash}"}

    again = runner.invoke(args=["backup", "--output", str(target)])
    assert again.exit_code == 1
    assert "already exists" in again.output

    refused = runner.invoke(args=["restore", str(target)])
    assert refused.exit_code == 1
    assert "already holds data" in refused.output and "--force" in refused.output

    done = runner.invoke(args=["restore", str(target), "--force"])
    assert done.exit_code == 0, done.output
    assert f"Restored {target} into " in done.output
    assert f"Audit trail OK: {head[0] - 1} entries, head {head[0] - 1}:{note.prev_hash}." in done.output
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.chain_seq)).all()
        assert "backup.created" not in actions  # written after the backup, so not in it
        assert actions[-1] == "database.restored"  # the restore is on the restored trail
        assert audit.verify_chain(db.engine).ok

    missing = runner.invoke(args=["restore", str(tmp_path / "nope.bak")])
    assert missing.exit_code == 1
    assert "no backup file at" in missing.output


def test_backup_command_default_location(app, runner, url):
    made = runner.invoke(args=["backup"])
    assert made.exit_code == 0, made.output
    files = list((Path(app.instance_path) / "backups").iterdir())
    assert len(files) == 1 and files[0].name.startswith("lms-")
    assert f"Wrote {files[0]} (" in made.output


def test_restore_command_on_an_old_backup_says_to_upgrade(app, runner, url, tmp_path):
    with app.app_context(), db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0007")
    try:
        with app.app_context():
            made = backup.backup(url, tmp_path / "old.bak")
        result = runner.invoke(args=["restore", str(made.path), "--force"])
        assert result.exit_code == 0, result.output
        assert "revision 0007; this code expects 0008: run `lms init-db`, then `lms verify-audit`." in result.output
        with app.app_context():
            assert migrate.current_revision() == "0007"
    finally:  # leave the (shared, on PostgreSQL) schema as the suite expects it
        with app.app_context(), db.engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), "head")


def test_an_old_backup_is_not_restored_over_a_newer_schema(app_ctx, url, scratch, tmp_path):
    """SQLite replaces the whole file; pg_restore would leave the newer tables beside the old ones, so it is
    refused before anything changes."""
    with db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0007")
    try:
        made = backup.backup(url, tmp_path / "old.bak")
    finally:
        with db.engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), "head")
    target = scratch()
    engine = create_engine(target, poolclass=NullPool)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "head")
    engine.dispose()
    if make_url(url).get_backend_name() == "sqlite":
        assert backup.restore(target, made.path).revision == "0007"
        return
    with pytest.raises(BackupError, match=r"has tables the backup lacks \(audit_chain_head\): its schema is newer"):
        backup.restore(target, made.path, force=True)
    assert counts(target)["audit_chain_head"] == 1  # untouched
