"""Backups and restores of the application's database (`lms backup`, `lms restore`), from a database URL and
file paths: no Flask here.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies the database in one step, a consistent
snapshot, while the application goes on writing (WAL mode lets it); the copy is a single self-contained file.
Restoring goes back through the same API, so connections the application holds see the change safely.

PostgreSQL: `pg_dump --format=custom` of the database, or only of the schema named by `options=-csearch_path=...`
in the URL, taken within a snapshot that this module also reads the audit chain's head from, so the head it
reports is exactly the one in the file. Restoring is `pg_restore --clean --if-exists --no-owner` in one
transaction: a damaged archive fails part-way and changes nothing.

Both write to a temporary name beside the target and rename it when complete, and both refuse to replace a
database that holds data unless told to (`force`). After a restore, the schema revision is compared with this
code's and the audit chain is verified.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import URL, Connection, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from lms.audit import ChainReport, verify_chain

# Tables that hold no data of their own: a database with rows only here counts as empty.
BOOKKEEPING = {"alembic_version", "audit_chain_head"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    head: tuple[int, str] | None  # the audit chain's head in the backup (None: no chain in that schema)

    @property
    def head_text(self) -> str:
        return "none" if self.head is None else f"{self.head[0]}:{self.head[1]}"


@dataclass(frozen=True)
class RestoreResult:
    source: Path
    target: str  # the URL, without its password
    revision: str | None  # the restored schema's Alembic revision
    expected_revision: str | None  # this code's
    chain: ChainReport | None  # None when the schema is not this code's (verify after `lms init-db`)

    @property
    def schema_current(self) -> bool:
        return self.revision == self.expected_revision


def default_path(database_url: str, folder: Path, now: datetime | None = None) -> Path:
    """instance/backups/lms-20260102T030405Z.sqlite3 (or .dump for PostgreSQL)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = "sqlite3" if _kind(make_url(database_url)) == "sqlite" else "dump"
    return folder / f"lms-{stamp}.{suffix}"


def backup(database_url: str, output: Path) -> BackupResult:
    """Copy the database to `output` (which must not exist yet); its size and the audit head it holds."""
    url = make_url(database_url)
    kind = _kind(url)
    output = Path(output)
    if output.exists():
        raise BackupError(f"{output} already exists; choose another --output")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    _remove(partial)
    try:
        head = _backup_sqlite(url, partial) if kind == "sqlite" else _backup_postgresql(url, partial)
        _fsync(partial)
        partial.replace(output)
        _fsync(output.parent)
    finally:
        _remove(partial)
    return BackupResult(output, output.stat().st_size, head)


def restore(database_url: str, source: Path, *, force: bool = False,
            expected_revision: str | None = None) -> RestoreResult:
    """Replace the database's contents with the backup `source`. Checked first, before the target is touched:
    that the file is a readable backup of the right kind, and that the target holds no data (unless `force`).
    `expected_revision` is this code's newest migration (default: lms.migrate's head)."""
    url = make_url(database_url)
    kind = _kind(url)
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    if kind == "sqlite":
        _restore_sqlite(url, source, force)
    else:
        _restore_postgresql(url, source, force)
    if expected_revision is None:
        from lms.migrate import head_revision

        expected_revision = head_revision()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            revision = _revision(conn)
        chain = verify_chain(engine) if revision == expected_revision else None
    finally:
        engine.dispose()
    return RestoreResult(source, url.render_as_string(hide_password=True), revision, expected_revision, chain)


# ---------------------------------------------------------------- SQLite


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"{url} is not a SQLite database file that can be backed up")
    return Path(url.database)


def _backup_sqlite(url: URL, partial: Path) -> tuple[int, str] | None:
    path = _sqlite_path(url)
    if not path.is_file():
        raise BackupError(f"no database file at {path}")
    try:
        with closing(sqlite3.connect(path, timeout=30)) as src, closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)  # all pages in one step: one consistent snapshot, and WAL lets writers carry on
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
            return _head(dst.execute, "sqlite")
    except sqlite3.Error as exc:
        raise BackupError(f"could not copy {path}: {exc}") from None


def _open_backup_sqlite(source: Path) -> sqlite3.Connection:
    """The backup, opened read-only after checking that it is a sound SQLite file with an LMS schema."""
    conn = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise BackupError(f"{source} is damaged ({'; '.join(problems[:3])}); nothing was restored")
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone() \
                is None:
            raise BackupError(f"{source} is a SQLite file but not an LMS backup (no alembic_version table); "
                              "nothing was restored")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BackupError(f"{source} is not a readable SQLite backup ({exc}); nothing was restored") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _restore_sqlite(url: URL, source: Path, force: bool) -> None:
    target = _sqlite_path(url)
    with closing(_open_backup_sqlite(source)) as src:
        if target.is_file() and target.stat().st_size and not force:
            with closing(sqlite3.connect(target, timeout=30)) as existing:
                tables = [r[0] for r in existing.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
                full = [t for t in tables if t not in BOOKKEEPING
                        and existing.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]  # noqa: S608 (catalog names)
            _refuse_if_full(full, str(target))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(sqlite3.connect(target, timeout=30)) as dst:
                src.backup(dst)  # one write transaction on the target: all of the backup or none of it
        except sqlite3.Error as exc:
            raise BackupError(f"could not restore into {target}: {exc}") from None


# ---------------------------------------------------------------- PostgreSQL


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found on PATH; install the PostgreSQL client tools (Debian/Ubuntu: "
                          "apt-get install postgresql-client), of the server's major version or newer")
    return found


def url_schema(url: URL) -> str | None:
    """The schema named by options=-csearch_path=... (how the tests give each run its own), if any."""
    options = url.query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    m = re.search(r"-c\s*search_path\s*=\s*([^\s,]+)", options or "")
    return m.group(1).strip('"') if m else None


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """--dbname=... for pg_dump and pg_restore (password in the environment, never on the command line)."""
    fields: dict[str, str] = {}
    for key, value in (("host", url.host), ("port", url.port), ("user", url.username), ("dbname", url.database)):
        if value not in (None, ""):
            fields[key] = str(value)
    for key, value in url.query.items():
        fields[key] = " ".join(value) if isinstance(value, tuple) else str(value)
    conninfo = " ".join(f"{k}='" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for k, v in fields.items())
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return [f"--dbname={conninfo}", "--no-password"], env


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)  # noqa: S603 (no shell; our arguments)
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[:600] or f"exit status {done.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return done.stdout


def _backup_postgresql(url: URL, partial: Path) -> tuple[int, str] | None:
    pg_dump = _tool("pg_dump")
    dbname, env = _libpq(url)
    schema = url_schema(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            # pg_dump reads the snapshot this transaction exported, so the head read here is the one it dumps.
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            head = _head(lambda sql: conn.exec_driver_sql(sql), "postgresql")
            _run([pg_dump, "--format=custom", f"--file={partial}", f"--snapshot={snapshot}", *dbname,
                  *([f"--schema={schema}"] if schema else [])], env, "pg_dump")
            conn.rollback()
    except BackupError:
        raise
    except Exception as exc:  # unreachable server, bad URL
        raise BackupError(f"cannot read the database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    return head


def _archive_tables(pg_restore: str, source: Path, env: dict[str, str]) -> dict[str, set[str]]:
    """The archive's tables by schema, read from its table of contents (which also proves it is an archive)."""
    try:
        listing = _run([pg_restore, "--list", str(source)], env, "reading the archive")
    except BackupError as exc:
        raise BackupError(f"{source} is not a readable pg_dump archive ({exc}); nothing was restored") from None
    tables: dict[str, set[str]] = {}
    for line in listing.splitlines():
        # e.g. "217; 1259 16390 TABLE lms_test_1 audit_events postgres"
        m = re.match(r"\d+;\s+\d+\s+\d+\s+TABLE\s+(?!DATA\s)(\S+)\s+(\S+)", line)  # not "TABLE DATA ..."
        if m:
            tables.setdefault(m.group(1), set()).add(m.group(2))
    if not tables:
        raise BackupError(f"{source} holds no tables; nothing was restored")
    return tables


def _restore_postgresql(url: URL, source: Path, force: bool) -> None:
    pg_restore = _tool("pg_restore")
    dbname, env = _libpq(url)
    in_archive = _archive_tables(pg_restore, source, env)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            schema = url_schema(url) or conn.exec_driver_sql("SELECT current_schema()").scalar() or "public"
            if schema not in in_archive:
                raise BackupError(f"{source} holds schema {', '.join(sorted(in_archive))}, but the database uses "
                                  f"{schema}; nothing was restored")
            # pg_restore --clean replaces what the archive holds and leaves anything else: a table the backup
            # lacks (a newer schema's) would survive beside it, half old, half new. Refuse that before starting.
            extra = sorted(set(_tables(conn, schema)) - in_archive[schema])
            if extra:
                raise BackupError(f"the database has tables the backup lacks ({', '.join(extra)}): its schema is "
                                  "newer than the backup's. Restore into an empty database (create a new one, or "
                                  "drop the schema), then run `lms init-db`; nothing was restored")
            if not force:
                _refuse_if_full(_tables_with_rows(conn, schema), f"{url.render_as_string(hide_password=True)} "
                                                                  f"(schema {schema})")
    except BackupError:
        raise
    except Exception as exc:
        raise BackupError(f"cannot open the target database: {exc.__class__.__name__}: "
                          f"{str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    # One transaction: an archive damaged past its table of contents fails here and leaves the target as it was.
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error", *dbname,
          str(source)], env, "pg_restore")


def _tables(conn: Connection, schema: str) -> list[str]:
    return list(conn.execute(text("SELECT table_name FROM information_schema.tables WHERE table_schema = :schema "
                                  "AND table_type = 'BASE TABLE' ORDER BY table_name"), {"schema": schema}).scalars())


def _tables_with_rows(conn: Connection, schema: str) -> list[str]:
    tables = _tables(conn, schema)
    quote = conn.dialect.identifier_preparer.quote
    return [t for t in tables if t not in BOOKKEEPING
            and conn.exec_driver_sql(f"SELECT 1 FROM {quote(schema)}.{quote(t)} LIMIT 1").first()]  # noqa: S608


# ---------------------------------------------------------------- shared


def _kind(url: URL) -> str:
    if url.get_backend_name() in ("sqlite", "postgresql"):
        return url.get_backend_name()
    raise BackupError(f"backups support SQLite and PostgreSQL, not {url.get_backend_name()}")


def _refuse_if_full(tables: list[str], target: str) -> None:
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise BackupError(f"{target} already holds data (in {shown}); nothing was restored. Use --force to replace "
                          "it (back it up first).")


def _head(execute, dialect: str) -> tuple[int, str] | None:
    exists = ("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_chain_head'" if dialect == "sqlite"
              else "SELECT to_regclass('audit_chain_head') IS NOT NULL")
    row = execute(exists).fetchone()
    if not row or not row[0]:
        return None
    head = execute("SELECT seq, hash FROM audit_chain_head WHERE id = 1").fetchone()
    return None if head is None else (int(head[0]), str(head[1]))


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _fsync(path: Path) -> None:
    """Make the file (or a folder's entry for it) durable before saying the backup is done."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for extra in ("", "-journal", "-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
