"""Real concurrency for tests: calls released at the same moment by a barrier, each in its own thread (and so,
in the app, its own app context, session and database connection)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from lms.db import db
from lms.errors import DomainError

N = 6  # threads per race, unless a test says otherwise


def together(call: Callable[[int], Any], n: int = N) -> list[Any]:
    """Run call(i) for i in range(n) in n threads released at once; the results in order, or the first error."""
    barrier = threading.Barrier(n, timeout=30)

    def run(i: int) -> Any:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result(timeout=120) for f in [pool.submit(run, i) for i in range(n)]]


def outcome(app, work: Callable[[], Any]) -> str:
    """Run work() in a fresh app context and commit: 'ok', or the domain error's class name (rolled back)."""
    with app.app_context():
        try:
            work()
            db.session.commit()
            return "ok"
        except DomainError as exc:
            db.session.rollback()
            return type(exc).__name__


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))
