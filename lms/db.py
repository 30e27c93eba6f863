"""The database: declarative Base, one engine per application, and a session scoped to the app context.

Services use `db.session` and flush; the request (or CLI command) commits once or rolls back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url, select, update
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


ENGINE_KEY = "lms.engine"


class _AppBoundSession(Session):
    """Binds to the engine of whichever application is current."""

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Engine:
        return current_app.extensions[ENGINE_KEY]


def _app_ctx_id() -> int:
    return id(app_ctx._get_current_object())


# Every id is an INTEGER column (32 bits on PostgreSQL): a larger number names nothing, and one beyond 64 bits
# cannot even be compared on SQLite (a 500 instead of an answer). Pages and the API answer 404 for one in a path.
MAX_ID = 2**31 - 1

# Seconds to wait for a database server to accept a new connection: a server that went away answers requests
# with a quick 503 instead of holding them until the client gives up. A URL's own ?connect_timeout= wins.
CONNECT_TIMEOUT = 10


def make_engine(url: str) -> Engine:
    # pool_pre_ping: a pooled connection is tested before use and replaced when the server dropped it (a restart,
    # a failover), so the first request after the database returns succeeds instead of failing on a dead socket.
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _begin_before_savepoint(conn: Any, _name: str) -> None:
            # The sqlite3 module begins a transaction only before a write, so reads and then a savepoint (a service
            # that inserts "in a savepoint" to catch a duplicate) would run outside one: SQLite then takes the
            # SAVEPOINT as the start of a transaction and its RELEASE as a COMMIT, and a later rollback would leave
            # the savepoint's rows behind. Begin first; IMMEDIATE takes the writer lock the savepoint is about to need.
            raw = conn.connection.dbapi_connection
            if not raw.in_transaction:
                raw.execute("BEGIN IMMEDIATE")

        return engine
    connect_args = {} if "connect_timeout" in make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args)


class Database:
    def __init__(self) -> None:
        self.session = scoped_session(
            sessionmaker(class_=_AppBoundSession, expire_on_commit=False), scopefunc=_app_ctx_id
        )

    def init_app(self, app: Flask) -> None:
        app.extensions[ENGINE_KEY] = make_engine(app.config["DATABASE_URL"])

        @app.teardown_appcontext
        def _remove_session(exc: BaseException | None) -> None:
            if exc is not None:
                self.session.rollback()
            self.session.remove()

    @property
    def engine(self) -> Engine:
        return current_app.extensions[ENGINE_KEY]


db = Database()


def lock_row(obj: Any, *refresh: str) -> None:
    """Hold `obj`'s row for the rest of the transaction, then re-read the named attributes (all when none are
    named), so a concurrent change of the same row waits and then sees the new state. PostgreSQL: SELECT ... FOR
    UPDATE. SQLite has no row locks and starts its transaction at the first write, so a no-op update takes its
    single writer lock instead."""
    table = type(obj).__table__
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(table).where(table.c.id == obj.id).values(id=table.c.id))
    else:
        db.session.execute(select(table.c.id).where(table.c.id == obj.id).with_for_update())
    db.session.refresh(obj, attribute_names=list(refresh) or None)
