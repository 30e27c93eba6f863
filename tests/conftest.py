"""Fixtures: a migrated database per test (SQLite by default, PostgreSQL when LMS_TEST_DATABASE_URL is set),
the app, its test client and CLI runner, people of each role, and logging in."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from lms import create_app
from lms.db import db
from lms.migrate import upgrade
from lms.models import Base
from tests import factories

TEST_DATABASE_URL = os.environ.get("LMS_TEST_DATABASE_URL", "").strip()
SECRET = "test-secret-key-" + "x" * 32


def _config(database_url: str, instance: Path, **extra) -> dict:
    return {"LMS_ENV": "testing", "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
            "SECRET_KEY": SECRET, "RATELIMIT_STORAGE_URI": "memory://",
            # Cheap hashing keeps the suite quick; production uses scrypt (tests/unit/test_passwords.py checks).
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **extra}


@pytest.fixture(scope="session")
def database(tmp_path_factory) -> Iterator[dict]:
    """Migrate once per run. SQLite: a template file copied for each test. PostgreSQL: a schema of its own
    (dropped at the end), emptied after each test."""
    base = tmp_path_factory.mktemp("db")
    if TEST_DATABASE_URL:
        schema = f"lms_test_{os.getpid()}_{secrets.token_hex(3)}"
        admin_engine = create_engine(TEST_DATABASE_URL)
        with admin_engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in TEST_DATABASE_URL else "?"
        url = f"{TEST_DATABASE_URL}{sep}options=-csearch_path%3D{schema}"
        app = create_app(_config(url, base / "instance"))
        with app.app_context():
            upgrade()
            db.engine.dispose()
        try:
            yield {"kind": "postgresql", "url": url}
        finally:
            with admin_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin_engine.dispose()
    else:
        template = base / "template.sqlite3"
        app = create_app(_config(f"sqlite:///{template}", base / "instance"))
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield {"kind": "sqlite", "template": template}


@pytest.fixture
def app_factory(database, tmp_path) -> Iterator:
    """Build apps on this test's database; extra config (rate limits, mail) per call."""
    apps: list[Flask] = []
    if database["kind"] == "sqlite":
        path = tmp_path / "lms.sqlite3"
        shutil.copy(database["template"], path)
        url = f"sqlite:///{path}"
    else:
        url = database["url"]

    def make(**extra) -> Flask:
        app = create_app(_config(url, tmp_path / "instance", **extra))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            if database["kind"] == "postgresql":
                tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
                with db.engine.begin() as conn:
                    conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.engine.dispose()


@pytest.fixture
def app(app_factory) -> Flask:
    return app_factory()


@pytest.fixture
def app_ctx(app) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def outbox(app) -> factories.Outbox:
    return factories.Outbox(Path(app.config["MAIL_OUTBOX"]))


@pytest.fixture
def people(app) -> factories.People:
    """An admin, two supervisors, and two trainees (the first assigned to the first supervisor)."""
    with app.app_context():
        return factories.make_people()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1) or m.group(2)


class Browser:
    """A test client with a habit of fetching the page's CSRF token before posting, like a browser."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, *a, **kw):
        return self.client.get(*a, **kw)

    def submit(self, page: str, action: str | None = None, data: dict | None = None, **kw):
        token = csrf_from(self.client.get(page).get_data(as_text=True))
        return self.client.post(action or page, data={"csrf_token": token, **(data or {})}, **kw)

    def login(self, email: str, password: str = factories.PASSWORD):
        return self.submit("/login", data={"email": email, "password": password})


@pytest.fixture
def web(client) -> Browser:
    return Browser(client)


@pytest.fixture
def login_as(app, people):
    """login_as('admin') -> a Browser logged in as that person of `people`."""

    def login(who: str) -> Browser:
        browser = Browser(app.test_client())
        user = getattr(people, who)
        response = browser.login(user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return login
