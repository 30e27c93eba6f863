"""A database that goes away while the site is in use: requests get a quick, clean 503 (the page, problem+json
under /api/, Retry-After; /healthz says 503 too) instead of a stack trace or a hang, nothing is half-written, and
the site recovers by itself when the database returns (pool_pre_ping; a disconnect invalidates the pool).

PostgreSQL: a small TCP proxy of our own (threads and sockets on 127.0.0.1) stands between the app and the server;
the test cuts it (every connection closed, new ones refused), makes it unresponsive (connections accepted, never
answered: the connect timeout has to end the wait), or cuts it in the middle of a request. SQLite: the database
file cannot be opened (a directory where the file was, for connections made from then on), or the disk fails in
the middle of a request."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, make_url, select

from lms import audit
from lms.accounts.models import ApiToken, User
from lms.db import _AppBoundSession, db
from lms.groups.models import CalendarFeed
from tests.conftest import TEST_DATABASE_URL, Browser
from tests.reliability.support import assert_unavailable, bearer, token_for

postgresql_only = pytest.mark.skipif(not TEST_DATABASE_URL, reason="the TCP proxy stands in front of PostgreSQL")
sqlite_only = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the file of a SQLite database")

CONNECT_TIMEOUT = 2  # seconds, in the proxied app's URL
QUICK = CONNECT_TIMEOUT + 3  # no request may take longer than this while the database is away


# ---------------------------------------------------------------- a TCP proxy that can be cut


class Proxy:
    """Forwards 127.0.0.1:<port> to `upstream`, byte for byte, a thread per direction. `cut()` closes every
    connection and stops listening (connections are refused); `hang()` closes every connection and accepts new ones
    without ever answering; `restore()` forwards again, on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.mode = "up"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._listen()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port, self._listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed: cut
                return
            self._track(client)
            if self.mode == "hang":
                continue  # accepted, never answered
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                self._close(client)
                continue
            self._track(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv() on it
        sock.close()

    def _drop_connections(self) -> None:
        with self._lock:
            live = list(self._sockets)
        for sock in live:
            self._close(sock)

    def cut(self) -> None:
        self.mode = "down"
        if self._listener is not None:
            self._close(self._listener)
            self._listener = None
        self._drop_connections()

    def hang(self) -> None:
        self.mode = "hang"
        self._drop_connections()
        if self._listener is None:
            self._listen()

    def restore(self) -> None:
        self.mode = "up"
        self._drop_connections()  # the hung ones
        if self._listener is None:
            self._listen()


@pytest.fixture
def proxy(database):
    """Requested before the app fixtures, so it outlives them: their clean-up goes through it."""
    url = make_url(TEST_DATABASE_URL)
    running = Proxy((url.host or "127.0.0.1", url.port or 5432))
    yield running
    running.restore()
    running.cut()


@pytest.fixture
def proxied(proxy, database, app_factory):
    """An app whose database connections go through the proxy: same server, database and schema as the test's."""
    url = make_url(database["url"]).set(host="127.0.0.1", port=proxy.port)
    url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT)})
    return app_factory(DATABASE_URL=url.render_as_string(hide_password=False))


# ---------------------------------------------------------------- helpers


class Visitor:
    """A logged-in trainee with a browser and an API token, and the post they are about to make."""

    def __init__(self, app, people) -> None:
        self.app = app
        browser = Browser(app.test_client())
        assert browser.login(people.trainee.email).status_code == 302
        self.client = browser.client
        with app.app_context():
            from lms.accounts import services

            user = db.session.get(User, people.trainee.id)
            self.secret = services.create_api_token(user, actor=user, name="reliability").secret
            db.session.commit()
        self.csrf = token_for(self.client, "/settings")
        self.people = people

    def home(self):
        return self.client.get("/")

    def me(self):
        return self.client.get("/api/v1/me", headers=bearer(self.secret))

    def health(self):
        return self.client.get("/healthz")

    def create_token(self, name: str):
        return self.client.post("/settings/tokens", data={"csrf_token": self.csrf, "name": name})

    def rotate_feed(self):
        return self.client.post("/api/v1/me/calendar-feed", headers=bearer(self.secret))

    def tokens_named(self, name: str) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.name == name))

    def feeds(self) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(CalendarFeed))

    def all_well(self) -> None:
        home = self.home()
        assert home.status_code == 200 and self.people.trainee.display_name in home.get_data(as_text=True)
        me = self.me()
        assert me.status_code == 200 and me.get_json()["email"] == self.people.trainee.email
        health = self.health()
        assert health.status_code == 200 and health.get_json() == {"status": "ok", "database": "ok"}


def quickly(call):
    started = time.monotonic()
    response = call()
    elapsed = time.monotonic() - started
    assert elapsed < QUICK, f"took {elapsed:.1f}s: the request hung on the database"
    return response


def all_unavailable(visitor: Visitor, name: str | None) -> None:
    """Page, API, health check and (given a token name) a post: each a quick 503; the caller checks the post saved
    nothing."""
    assert_unavailable(quickly(visitor.home))
    assert_unavailable(quickly(visitor.me))
    health = quickly(visitor.health)
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
    assert int(health.headers["Retry-After"]) > 0
    if name is not None:
        assert_unavailable(quickly(lambda: visitor.create_token(name)))


def cut_midway(monkeypatch, cut) -> list[int]:
    """Make the database go away inside the next state change, once it has written its first rows (at its audit
    entry), by attribute lookup so whatever lms.audit.record becomes, it is still the step that runs."""
    original, fired = audit.record, []

    def record(*args, **kwargs):
        if not fired:
            fired.append(1)
            cut()
        return original(*args, **kwargs)

    monkeypatch.setattr(audit, "record", record)
    return fired


def cut_at_commit(monkeypatch, cut) -> list[int]:
    """Make the database go away as the next request commits: for the API that is after the view, in its
    after_request hook, so the error reaches the error handlers as a 500 wrapping it."""
    original, fired = _AppBoundSession.commit, []

    def commit(self, *args, **kwargs):
        if not fired:
            fired.append(1)
            cut()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_AppBoundSession, "commit", commit)
    return fired


# ---------------------------------------------------------------- PostgreSQL


@postgresql_only
def test_postgresql_cut_then_restored(proxy, proxied, people):
    visitor = Visitor(proxied, people)
    visitor.all_well()
    try:
        proxy.cut()
        all_unavailable(visitor, "while away")
    finally:
        proxy.restore()
    visitor.all_well()  # the pool replaced its dead connections by itself
    assert visitor.tokens_named("while away") == 0
    assert visitor.create_token("while away").status_code == 200
    assert visitor.tokens_named("while away") == 1


@postgresql_only
def test_postgresql_unresponsive_server_times_out_then_recovers(proxy, proxied, people):
    """Connections are accepted and never answered: the connect timeout ends each wait with a 503."""
    visitor = Visitor(proxied, people)
    visitor.all_well()
    try:
        proxy.hang()
        all_unavailable(visitor, None)  # each request waits out the connect timeout: the post is left out
    finally:
        proxy.restore()
    visitor.all_well()


@postgresql_only
def test_postgresql_gone_in_the_middle_of_a_request(proxy, proxied, people, monkeypatch):
    visitor = Visitor(proxied, people)
    visitor.all_well()
    fired = cut_midway(monkeypatch, proxy.cut)
    try:
        assert_unavailable(quickly(lambda: visitor.create_token("midway")))
        assert fired
    finally:
        monkeypatch.undo()
        proxy.restore()
    assert visitor.tokens_named("midway") == 0  # the token row flushed before the cut did not survive
    visitor.all_well()
    assert visitor.create_token("midway").status_code == 200
    assert visitor.tokens_named("midway") == 1

    fired = cut_at_commit(monkeypatch, proxy.cut)  # an API call, cut as it commits
    try:
        assert_unavailable(quickly(visitor.rotate_feed))
        assert fired
    finally:
        monkeypatch.undo()
        proxy.restore()
    assert visitor.feeds() == 0
    visitor.all_well()
    assert visitor.rotate_feed().status_code == 201 and visitor.feeds() == 1


# ---------------------------------------------------------------- SQLite


def _sqlite_file(app) -> Path:
    return Path(make_url(app.config["DATABASE_URL"]).database)


@sqlite_only
def test_sqlite_file_that_cannot_be_opened_then_restored(app, people):
    """The file is moved away and a directory stands in its place; the pool is recycled (a worker restarting),
    so every connection from then on has to open the file. Then the file comes back."""
    visitor = Visitor(app, people)
    visitor.all_well()
    path = _sqlite_file(app)
    moved = []
    with app.app_context():
        db.engine.dispose()
    try:
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.rename(f"{part}.away")
                moved.append(part)
        path.mkdir()
        all_unavailable(visitor, "while away")
    finally:
        path.rmdir()
        for part in moved:
            Path(f"{part}.away").rename(part)
    visitor.all_well()
    assert visitor.tokens_named("while away") == 0
    assert visitor.create_token("while away").status_code == 200
    assert visitor.tokens_named("while away") == 1


@sqlite_only
def test_sqlite_disk_failing_in_the_middle_of_a_request(app, people, monkeypatch):
    """After the state change has written its first rows, every statement fails as a failing disk makes it fail
    (sqlite3.OperationalError: disk I/O error) until the disk is back."""
    visitor = Visitor(app, people)
    visitor.all_well()
    failing = threading.Event()

    def disk(*_args, **_kwargs):
        if failing.is_set():
            raise sqlite3.OperationalError("disk I/O error")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", disk)
    try:
        for call in (lambda: visitor.create_token("midway"), visitor.rotate_feed):  # a page, then the API
            fired = cut_midway(monkeypatch, failing.set)
            assert_unavailable(quickly(call))
            assert fired
            assert_unavailable(quickly(visitor.home))
            health = quickly(visitor.health)
            assert health.status_code == 503 and int(health.headers["Retry-After"]) > 0
            monkeypatch.undo()
            failing.clear()
            visitor.all_well()
    finally:
        monkeypatch.undo()
        failing.clear()
        event.remove(engine, "before_cursor_execute", disk)
    assert visitor.tokens_named("midway") == 0 and visitor.feeds() == 0
    assert visitor.create_token("midway").status_code == 200
    assert visitor.rotate_feed().status_code == 201
    assert visitor.tokens_named("midway") == 1 and visitor.feeds() == 1


# ---------------------------------------------------------------- what counts as "away"


def test_a_mistake_in_the_sql_is_a_bug_not_an_outage(tmp_path):
    """503 is for a database that cannot be reached or used; SQLite's OperationalError also covers a mistake in
    the SQL (no such table), which stays a 500 with its stack trace in the log."""
    from sqlalchemy import create_engine, exc, text

    from lms import database_unavailable

    def error_of(engine, sql: str) -> exc.DBAPIError:
        with pytest.raises(exc.DBAPIError) as caught, engine.connect() as conn:
            conn.execute(text(sql))
        return caught.value

    assert not database_unavailable(error_of(create_engine("sqlite://"), "SELECT * FROM no_such_table"))
    assert database_unavailable(error_of(create_engine(f"sqlite:///{tmp_path}"), "SELECT 1"))  # a directory
    assert not database_unavailable(ValueError("not a database error"))
