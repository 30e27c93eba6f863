"""Shared by the reliability tests: a snapshot of every table (Base.metadata), faults injected into a step a
service calls, posts prepared ahead (CSRF token fetched) so they can be released together, and what a clean
error looks like to a person (a page without a stack trace) and to a program (problem+json)."""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from lms.db import db
from lms.models import Base
from tests.conftest import csrf_from

MARK = "injected-fault-7c1e"  # in every injected exception's message: it must never reach the person or program


class InjectedFault(RuntimeError):
    pass


# ---------------------------------------------------------------- snapshots


Snapshot = dict[str, list[tuple]]


def snapshot(session: Any = None) -> Snapshot:
    """Every row of every table, by primary key: through `session` (a failing transaction sees its own uncommitted
    writes) or, by default, the current app context's session."""
    session = session or db.session
    out: Snapshot = {}
    for table in Base.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        out[table.name] = [tuple(row) for row in session.execute(select(table).order_by(*order))]
    return out


def committed(app) -> Snapshot:
    """What is committed, read in a fresh app context."""
    with app.app_context():
        return snapshot()


def differences(before: Snapshot, after: Snapshot) -> dict[str, dict[str, int]]:
    """Per table that changed: how many rows appeared and disappeared (a changed row counts as both)."""
    out = {}
    for name in sorted(set(before) | set(after)):
        old, new = Counter(map(repr, before.get(name, []))), Counter(map(repr, after.get(name, [])))
        if old != new:
            out[name] = {"added": sum((new - old).values()), "removed": sum((old - new).values())}
    return out


# ---------------------------------------------------------------- faults


@dataclass
class Fault:
    """Raise InjectedFault on the `nth` call of `target` ("module:attribute" or "module:Class.attribute"), after
    the call went through (`when="after"`: what it wrote stays in the transaction) or instead of it ("before").
    At that moment it snapshots the database through the failing request's own session (`during`), which shows
    what the service had already written."""

    target: str
    nth: int = 1
    when: str = "after"
    calls: int = 0
    during: Snapshot | None = field(default=None, repr=False)

    def install(self, monkeypatch) -> Fault:
        module_name, _, path = self.target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *parents, attr = path.split(".")
        for name in parents:
            owner = getattr(owner, name)
        original = getattr(owner, attr)

        def faulty(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls != self.nth:
                return original(*args, **kwargs)
            if self.when == "after":
                original(*args, **kwargs)
            self.during = snapshot()
            raise InjectedFault(f"{MARK}: {self.target}, call {self.nth}")

        monkeypatch.setattr(owner, attr, faulty)
        return self

    @property
    def fired(self) -> bool:
        return self.during is not None

    def __str__(self) -> str:
        return f"{self.target}#{self.nth}{'' if self.when == 'after' else ' (instead)'}"


# ---------------------------------------------------------------- test data


def complete_lessons(app, user_id: int, course: str = "alpha") -> None:
    """Every lesson of the course done (its quiz not yet passed), through the learning service."""
    from lms.accounts.models import User
    from lms.learning import services as learning

    with app.app_context():
        user = db.session.get(User, user_id)
        for lesson in learning.get_course(course).active_lessons:
            learning.complete_lesson(user, lesson)
        db.session.commit()


# ---------------------------------------------------------------- requests


def token_for(client: FlaskClient, page: str) -> str:
    """The CSRF token of `page` for this client's session, fetched ahead of a post."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    return csrf_from(response.get_data(as_text=True))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# ---------------------------------------------------------------- what a clean error looks like


def _no_leak(body: str) -> None:
    assert MARK not in body, "the exception's message reached the client"
    for sign in ("Traceback", "InjectedFault", 'File "', "sqlalchemy", "psycopg", "sqlite3"):
        assert sign not in body, f"{sign!r} in the answer"


def assert_error_page(response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    _no_leak(body)
    assert f"Error {status}." in body
    for w in words:
        assert w in body, w
    return body


def assert_problem(response, status: int, *words: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json"
    _no_leak(response.get_data(as_text=True))
    body = response.get_json()
    assert body["status"] == status and body["instance"] == response.request.path
    for w in words:
        assert w in body["detail"], w
    return body


def assert_unexpected(response) -> None:
    """The 500 of an unexpected error: a page saying nothing was half-saved, or problem+json under /api/."""
    if response.request.path.startswith("/api/"):
        assert_problem(response, 500, "Something went wrong on our side")
    else:
        assert_error_page(response, 500, "Something went wrong on our side", "nothing you did was half-saved")


UNAVAILABLE = "The service is briefly unavailable"


def assert_unavailable(response) -> None:
    """The 503 of a database that is away: page or problem+json, and when to try again."""
    if response.request.path.startswith("/api/"):
        assert_problem(response, 503, UNAVAILABLE)
    else:
        assert_error_page(response, 503, UNAVAILABLE)
    assert int(response.headers["Retry-After"]) > 0
