"""Forwarding the learning record to a Learning Record Store as xAPI 1.0.3 statements. Runs from the command
line only (`lms forward-statements`, `lms run-maintenance`), never inside a person's request.

Events go in id order, a batch per POST; the cursor moves past a batch only after the LRS acknowledged it,
and is committed batch by batch. A failure leaves the cursor where it was and waits (exponential backoff,
at most an hour) before trying again, so nothing is lost. Statement ids are derived from the event ids, so
a batch sent again after its answer was lost is recognised by the LRS and stored once.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import current_app
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from lms.db import db, utcnow
from lms.learning.models import LearningEvent
from lms.records.export import event_batches, site
from lms.records.models import LrsCursor
from lms.records.xapi import XAPI_VERSION, statement

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a forwarder that died frees the cursor after this long
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)


class LrsError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ForwardResult:
    configured: bool
    sent: int = 0
    pending: int = 0  # events not yet acknowledged by the LRS after this run
    error: str | None = None  # this run's failure; the cursor stayed where it was
    waiting_until: datetime | None = None  # no try before then (after this or an earlier failure)
    last_error: str | None = None  # the earlier failure being waited out
    busy: str | None = None  # why this run left the work to another one

    def summary(self) -> str:
        if not self.configured:
            return "LRS forwarding is off (LMS_LRS_ENDPOINT is not set)."
        if self.busy:
            return f"LRS forwarding skipped: {self.busy}."
        when = self.waiting_until.isoformat(timespec="seconds") if self.waiting_until else ""
        if self.error:
            return (f"Sent {self.sent} statement(s) to the LRS, then it failed: {self.error}. "
                    f"{self.pending} waiting; next try after {when}.")
        if self.waiting_until:
            return (f"LRS forwarding waits until {when} after a failure ({self.last_error}); "
                    f"{self.pending} statement(s) waiting.")
        return f"Sent {self.sent} statement(s) to the LRS; {self.pending} waiting."


def backoff(failures: int) -> timedelta:
    """1, 2, 4, ... minutes after consecutive failures, never more than an hour."""
    return min(FIRST_BACKOFF * 2 ** min(max(failures - 1, 0), 12), MAX_BACKOFF)


# ---------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a GET without the body, which an LRS would answer with 200 (a list
    # of statements): the batch would count as delivered without being sent. Refuse redirects instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl}; set LMS_LRS_ENDPOINT to the "
                                     "final address", headers, fp)


def _send(method: str, url: str, body: bytes, *, username: str | None, password: str | None, timeout: float
          ) -> int:
    headers = {"X-Experience-API-Version": XAPI_VERSION, "Content-Type": "application/json"}
    if username:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (http/https only: see config)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        detail = ""
        with contextlib.suppress(OSError):
            detail = exc.read(300).decode("utf-8", "replace").strip() if exc.fp else ""
        raise LrsError(f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else ""), status=exc.code
                       ) from None
    except urllib.error.URLError as exc:
        raise LrsError(f"cannot reach {url}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, connections dropped mid-answer
        raise LrsError(f"no answer from {url}: {exc.__class__.__name__} {exc}".strip()) from None


def post_statements(endpoint: str, statements: list[dict[str, Any]], *, username: str | None = None,
                    password: str | None = None, timeout: float = 30) -> None:
    """POST one batch to {endpoint}/statements; raises LrsError unless the LRS stored (or already had) all."""
    auth = dict(username=username, password=password, timeout=timeout)
    body = json.dumps(statements, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        _send("POST", f"{endpoint}/statements", body, **auth)
    except LrsError as exc:
        if exc.status != 409:
            raise
        # Some LRSs refuse a whole batch when one of its ids is stored already (a batch whose answer was lost
        # last time). Send them one by one; a 409 for one means the LRS holds a statement under our id, which
        # only this site makes, so it was delivered.
        for one in statements:
            try:
                _send("PUT", f"{endpoint}/statements?statementId={quote(one['id'])}",
                      json.dumps(one, ensure_ascii=False).encode(), **auth)
            except LrsError as single:
                if single.status != 409:
                    raise


# ---------------------------------------------------------------- the cursor


def _cursor(endpoint: str) -> LrsCursor:
    cursor = db.session.scalar(select(LrsCursor).where(LrsCursor.endpoint == endpoint))
    if cursor is None:
        try:
            with db.session.begin_nested():
                cursor = LrsCursor(endpoint=endpoint, last_event_id=0, delivered=0, failures=0)
                db.session.add(cursor)
        except IntegrityError:  # another forwarder made it a moment ago
            cursor = db.session.scalar(select(LrsCursor).where(LrsCursor.endpoint == endpoint))
        db.session.commit()
    assert cursor is not None
    return cursor


def _claim(cursor: LrsCursor, now: datetime) -> bool:
    """Take the cursor for this run, unless another forwarder holds it: one conditional UPDATE, so two runs
    started together (cron overlapping a manual run) never send the same batch side by side."""
    claimed = db.session.execute(
        update(LrsCursor).where(LrsCursor.id == cursor.id,
                                or_(LrsCursor.lease_until.is_(None), LrsCursor.lease_until <= now))
        .values(lease_until=now + LEASE).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if claimed:
        db.session.refresh(cursor)  # another run may have moved it since we read it
    return bool(claimed)


def _release(cursor: LrsCursor) -> None:
    try:
        db.session.rollback()
        db.session.execute(update(LrsCursor).where(LrsCursor.id == cursor.id).values(lease_until=None)
                           .execution_options(synchronize_session=False))
        db.session.commit()
    except DBAPIError:  # the lease runs out by itself
        log.exception("could not release the LRS cursor")
        db.session.rollback()


def _settled_max_id() -> int:
    """The highest event id below which no new event can still appear. On PostgreSQL, ids are handed out
    when a row is inserted but become visible at commit, so id 101 can appear after 102 was read; taking a
    SHARE lock for a moment waits for every transaction writing events to finish. SQLite has one writer at a
    time, so ids become visible in order."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
        db.session.execute(text(f"LOCK TABLE {LearningEvent.__tablename__} IN SHARE MODE"))
    highest = db.session.scalar(select(func.max(LearningEvent.id))) or 0
    db.session.commit()
    return highest


def _pending(cursor: LrsCursor) -> int:
    return db.session.scalar(select(func.count()).select_from(LearningEvent)
                             .where(LearningEvent.id > cursor.last_event_id)) or 0


def forward_statements(now: datetime | None = None, *, retry_now: bool = False) -> ForwardResult:
    """Send every learning event the LRS has not acknowledged yet, batch by batch. `retry_now` ignores the
    wait after a failure (an operator who just fixed the LRS)."""
    config = current_app.config
    endpoint = config.get("LRS_ENDPOINT")
    if not endpoint:
        return ForwardResult(configured=False)
    given = now

    def clock() -> datetime:  # a run may take a while: real time unless the caller fixed it (tests)
        return given or utcnow()

    now = clock()
    cursor = _cursor(endpoint)
    if cursor.next_try_at is not None and cursor.next_try_at > now and not retry_now:
        return ForwardResult(True, pending=_pending(cursor), last_error=cursor.last_error,
                             waiting_until=cursor.next_try_at)
    if not _claim(cursor, now):
        return ForwardResult(True, pending=_pending(cursor), busy="another forwarder is at work")
    result = ForwardResult(True)
    try:
        try:
            upto = _settled_max_id()
        except DBAPIError:
            db.session.rollback()
            result.busy = "events are being written at this moment; the next run sends them"
            return result
        where = site()
        for events in event_batches(after=cursor.last_event_id, upto=upto, size=config["LRS_BATCH"]):
            statements = [statement(where, e) for e in events]
            db.session.commit()  # hold no transaction while waiting for the LRS
            try:
                post_statements(endpoint, statements, username=config.get("LRS_USERNAME"),
                                password=config.get("LRS_PASSWORD"), timeout=config["LRS_TIMEOUT"])
            except LrsError as exc:
                cursor.failures += 1
                cursor.last_error = str(exc)[:1000]
                cursor.next_try_at = clock() + backoff(cursor.failures)
                cursor.updated_at = utcnow()
                db.session.commit()
                log.warning("LRS delivery failed (%d in a row), next try after %s: %s", cursor.failures,
                            cursor.next_try_at.isoformat(), exc)
                result.error, result.waiting_until = cursor.last_error, cursor.next_try_at
                break
            cursor.last_event_id = events[-1].id
            cursor.delivered += len(events)
            cursor.failures, cursor.last_error, cursor.next_try_at = 0, None, None
            cursor.last_success_at = cursor.updated_at = utcnow()
            cursor.lease_until = clock() + LEASE
            db.session.commit()
            result.sent += len(events)
        result.pending = _pending(cursor)
        return result
    finally:
        _release(cursor)
