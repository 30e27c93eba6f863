"""Outbound mail. Messages are queued on the database session and sent only after it commits, so a rolled
back change never sends mail. By default each message is written as an .eml file to instance/outbox/; with
MAIL_SMTP_HOST set it goes out by SMTP."""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from lms.db import db

log = logging.getLogger(__name__)
_PENDING = "lms.pending_mail"


def build_message(to: str, subject: str, template: str, **context: Any) -> EmailMessage:
    """Render templates/email/<template>.txt (and .html when present) into a message."""
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="pnd-lms")
    msg.set_content(render_template(f"email/{template}.txt", **context))
    return msg


def send(to: str, subject: str, template: str, **context: Any) -> None:
    """Queue a message; it leaves when the current transaction commits."""
    msg = build_message(to, subject, template, **context)
    session = db.session()
    # Noted with the savepoint it was queued in (None: outside any), so that rolling back a savepoint drops the
    # mail queued inside it and keeps the rest (bulk issue: one certificate fails, the others' mail still goes).
    session.info.setdefault(_PENDING, []).append((msg, current_app._get_current_object(),
                                                  session.get_nested_transaction()))


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction itself may still roll back
        return
    pending = session.info.pop(_PENDING, [])
    for msg, app, _savepoint in pending:
        try:
            deliver(msg, app.config)
        except Exception:  # a mail failure must not undo a committed decision; it is logged for the operator
            log.exception("could not deliver mail %s to %s", msg["Subject"], msg["To"])


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous: SessionTransaction) -> None:
    """Drop the mail queued inside what was rolled back: the savepoint (and those within it), or everything."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    undone = previous
    while undone.parent is not None and not undone.nested:  # a failed flush undoes its savepoint or transaction
        undone = undone.parent
    if not undone.nested:
        session.info.pop(_PENDING, None)
        return
    session.info[_PENDING] = [item for item in pending if not _within(item[2], undone)]


def _within(savepoint: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is outer:
            return True
        savepoint = savepoint.parent
    return False


def deliver(msg: EmailMessage, config: Any) -> None:
    if config.get("MAIL_SMTP_HOST"):
        _smtp(msg, config)
    else:
        _outbox(msg, Path(config["MAIL_OUTBOX"]))


def _outbox(msg: EmailMessage, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
    path.write_bytes(bytes(msg))
    log.info("mail to %s written to %s", msg["To"], path)
    return path


def _smtp(msg: EmailMessage, config: Any) -> None:
    host, port, security = config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], config["MAIL_SMTP_SECURITY"]
    context = ssl.create_default_context()
    if security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, context=context, timeout=20)
    else:
        server = smtplib.SMTP(host, port, timeout=20)
    with server:
        if security == "starttls":
            server.starttls(context=context)
        if config.get("MAIL_SMTP_USERNAME"):
            server.login(config["MAIL_SMTP_USERNAME"], config.get("MAIL_SMTP_PASSWORD") or "")
        server.send_message(msg)
