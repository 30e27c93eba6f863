"""The append-only audit trail: `record(actor, action, subject, **data)` for every state change.

Rows are never updated or deleted: the ORM refuses, and a database trigger (see the migrations) refuses too,
with one exception: the chain columns are filled in once, at commit.

The trail is a hash chain. When a transaction that wrote entries commits, `_seal_on_commit` locks the one-row
`audit_chain_head` (last, after every row lock the services took, so it cannot deadlock with them), gives each of
the transaction's entries the next sequence number, the previous entry's hash and its own hash (SHA-256 of a
canonical serialisation, `entry_digest`), and moves the head. `verify_chain` (`lms verify-audit`) walks the chain
and names every entry that was edited, removed, inserted or moved since, and any row written around the app.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Connection,
    Engine,
    ForeignKey,
    Index,
    String,
    bindparam,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship
from sqlalchemy.orm.attributes import set_committed_value

from lms.db import Base, db, utcnow

GENESIS = "0" * 64  # the "previous hash" of the first entry


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Who acted, as they were called at the time ("system" for maintenance and CLI work without a user).
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    subject_label: Mapped[str | None] = mapped_column(String(254))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The hash chain: empty until the transaction that wrote the entry commits, then set once (never by the ORM).
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))

    actor = relationship("User", foreign_keys=[actor_id])


class AuditChainHead(Base):
    """The tip of the chain: the last sequence number given and that entry's hash. One row, id 1; the database
    lets it only move forward."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("seq >= 0", name="seq_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditImmutableError(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
def _no_update(*_: Any) -> None:
    raise AuditImmutableError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _no_delete(*_: Any) -> None:
    raise AuditImmutableError("audit events are append-only")


def _describe(subject: Any) -> tuple[str | None, str | None, str | None]:
    if subject is None:
        return None, None, None
    subject_type = getattr(subject, "__tablename__", type(subject).__name__.lower())
    subject_id = getattr(subject, "id", None)
    label = getattr(subject, "email", None) or getattr(subject, "name", None) or getattr(subject, "title", None)
    return subject_type, None if subject_id is None else str(subject_id), label


def record(actor: Any, action: str, subject: Any = None, **data: Any) -> AuditEvent:
    """Append one entry. `actor` is a User or None (the system). Call inside the service's transaction; the entry
    joins the hash chain when that transaction commits."""
    if subject is not None and getattr(subject, "id", 0) is None:
        db.session.flush()  # give a new subject its id
    subject_type, subject_id, subject_label = _describe(subject)
    entry = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "email", None) or "system",
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=subject_label,
        data={k: _jsonable(v) for k, v in data.items()},
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # enums
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def query_events(*, action: str | None = None, actor_id: int | None = None,
                 subject_type: str | None = None, subject_id: str | None = None):
    """A select() of events, newest first, narrowed by whichever filters are given."""
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    return stmt


# ---------------------------------------------------------------- the hash chain

_EVENTS = AuditEvent.__table__
_HEAD = AuditChainHead.__table__
# What an entry's hash covers besides its place in the chain (the id is only a surrogate key).
_HASHED = (_EVENTS.c.occurred_at, _EVENTS.c.actor_id, _EVENTS.c.actor_label, _EVENTS.c.action,
           _EVENTS.c.subject_type, _EVENTS.c.subject_id, _EVENTS.c.subject_label, _EVENTS.c.data)
_UNSEALED = "lms.audit.unsealed"  # key in Session.info: this transaction's entries, in the order they were written


def entry_digest(seq: int, prev_hash: str | None, row: Any) -> str:
    """SHA-256 (hex) of the entry's canonical form: sorted-key JSON of its place in the chain and its content,
    read as the database returns it. Changing this changes every hash: it would need a migration that re-chains."""
    payload = {
        "seq": seq, "prev_hash": prev_hash, "occurred_at": row.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": row.actor_id, "actor_label": row.actor_label, "action": row.action,
        "subject_type": row.subject_type, "subject_id": row.subject_id, "subject_label": row.subject_label,
        "data": row.data,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _lock_head(conn: Connection) -> tuple[int, str]:
    """Hold the head for the rest of the transaction and read it. PostgreSQL: SELECT ... FOR UPDATE, which waits
    for a concurrent sealer and then sees what it wrote. SQLite: the caller has already inserted the entries it
    seals in this transaction, so it holds SQLite's single writer lock and nobody else can move the head. A head
    missing altogether (a new or emptied database) starts at the genesis; if entries exist without a head, the
    first sequence number collides with theirs and the commit fails, loudly, rather than starting a second chain."""
    stmt = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing())
        row = conn.execute(stmt).one()
    return row.seq, row.hash


_SEAL = (update(_EVENTS).where(_EVENTS.c.id == bindparam("b_id"), _EVENTS.c.chain_seq.is_(None))
         .values(chain_seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), entry_hash=bindparam("b_hash")))


def _chain(conn: Connection, ids: Sequence[int], head: tuple[int, str]) -> tuple[tuple[int, str], list[dict]]:
    """Seal the entries `ids`, in that order, after `head`; the new head and what each entry was given."""
    found = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update({r.id: r for r in conn.execute(select(_EVENTS.c.id, *_HASHED).where(_EVENTS.c.id.in_(chunk)))})
    seq, prev = head
    sealed = []
    for entry_id in ids:
        if entry_id not in found:
            raise RuntimeError(f"audit entry {entry_id} vanished before it could be sealed")
        seq += 1
        digest = entry_digest(seq, prev, found[entry_id])
        sealed.append({"b_id": entry_id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    if sealed:
        conn.execute(_SEAL, sealed)
        conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev))
    return (seq, prev), sealed


@event.listens_for(AuditEvent, "after_insert")
def _note_unsealed(_mapper: Any, _connection: Any, entry: AuditEvent) -> None:
    session = object_session(entry)
    if session is not None:
        session.info.setdefault(_UNSEALED, []).append(entry)


def _seal_on_commit(session: Session) -> None:
    """Before the outermost commit: chain the entries this transaction wrote (and only those: rows another
    transaction is writing are its own business, and a row nobody noted was not written by the app)."""
    if session.in_nested_transaction():
        return  # a savepoint being released: wait for the real commit, so the head is locked last
    session.flush()  # write what is pending (entries added but not flushed too), taking its row locks first
    noted = session.info.get(_UNSEALED)
    if not noted:
        return
    # An entry written in a savepoint that was rolled back is no longer persistent: it was never written.
    entries = [e for e in noted if inspect(e).persistent]
    noted.clear()
    if not entries:
        return
    conn = session.connection()
    _head, sealed = _chain(conn, [e.id for e in entries], _lock_head(conn))
    for entry, values in zip(entries, sealed, strict=True):
        # Tell the objects in memory what the row now holds, without the ORM thinking they changed.
        set_committed_value(entry, "chain_seq", values["b_seq"])
        set_committed_value(entry, "prev_hash", values["b_prev"])
        set_committed_value(entry, "entry_hash", values["b_hash"])


def _forget_unsealed(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed (sealed) or rolled back
        session.info.pop(_UNSEALED, None)


event.listen(db.session, "before_commit", _seal_on_commit)
event.listen(db.session, "after_transaction_end", _forget_unsealed)


def seal_unsealed(conn: Connection) -> int:
    """Chain every entry that has no place in the chain yet, in id order; how many. Only for bulk loaders that
    insert audit rows with Core statements (tests/bench/generate.py), in the same transaction as their inserts:
    the application never calls it, because sealing whatever is unsealed would also bless rows written around
    it, which `verify_chain` exists to find."""
    head = _lock_head(conn)
    total = 0
    while True:
        ids = list(conn.scalars(select(_EVENTS.c.id).where(_EVENTS.c.chain_seq.is_(None))
                                .order_by(_EVENTS.c.id).limit(1000)))
        if not ids:
            return total
        head, _sealed = _chain(conn, ids, head)
        total += len(ids)


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int | None
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = "chain" if self.entry_id is None else f"entry id {self.entry_id}"
        if self.seq is not None:
            where += f" (seq {self.seq})"
        return f"{where}: {self.message}"


@dataclass
class ChainReport:
    entries: int = 0  # sealed entries walked
    head: tuple[int, str] | None = None  # as stored in audit_chain_head
    problems: list[ChainProblem] = field(default_factory=list)  # the first MAX_PROBLEMS of them
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def head_text(self) -> str:
        seq, digest = self.head or (0, GENESIS)
        return f"{seq}:{digest}"

    def add(self, entry_id: int | None, seq: int | None, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ChainProblem(entry_id, seq, message))


MAX_PROBLEMS = 200


def parse_head(text: str) -> tuple[int, str]:
    """'SEQ:HASH' as printed by `lms verify-audit` and `lms backup`."""
    seq, sep, digest = text.strip().partition(":")
    digest = digest.lower()
    if not sep or not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"'{text}' is not SEQ:HASH (a sequence number, a colon and 64 hex digits)")
    return int(seq), digest


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read-only connection that sees the database as of one moment for as long as it is open, so rows
    committed during the walk neither appear half-way nor look like tampering."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")  # a read transaction: WAL keeps its snapshot until the end
            try:
                yield conn
            finally:
                conn.rollback()
    else:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                yield conn
            finally:
                conn.rollback()


def verify_chain(engine: Engine, *, expect_head: tuple[int, str] | None = None,
                 batch_size: int = 1000) -> ChainReport:
    """Walk the chain in sequence order, batch by batch (memory stays flat however long it is), and report what
    does not hold: each entry's hash matches its content and place, links to the entry before, numbers run
    1, 2, 3... without gaps or repeats, the head names the last entry, and no row lacks a seal (the app seals in
    the transaction that writes, so a committed unsealed row was written around it). With `expect_head`, a head
    noted earlier (SEQ, HASH) must still be in the chain: that also catches the end cut off and the head rewound,
    which nothing inside the database can show."""
    report = ChainReport()
    cols = (_EVENTS.c.id, _EVENTS.c.chain_seq, _EVENTS.c.prev_hash, _EVENTS.c.entry_hash, *_HASHED)
    with _snapshot(engine) as conn:
        head = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
        report.head = None if head is None else (head.seq, head.hash)
        seq, prev, after = 0, GENESIS, -1
        expected_seen = expect_head is None or expect_head[0] == 0
        if expect_head is not None and expect_head[0] == 0 and expect_head[1] != GENESIS:
            report.add(None, 0, "the expected head 0:... must name the genesis hash 000...0")
        while True:
            rows = conn.execute(select(*cols).where(_EVENTS.c.chain_seq > after)
                                .order_by(_EVENTS.c.chain_seq, _EVENTS.c.id).limit(batch_size)).all()
            if not rows:
                break
            after = rows[-1].chain_seq
            for row in rows:
                report.entries += 1
                if row.chain_seq == seq:
                    continue  # a second row with a number already seen: reported with the duplicates below
                if row.chain_seq != seq + 1:
                    missing = row.chain_seq - seq - 1
                    report.add(row.id, row.chain_seq, f"{missing} entr{'y' if missing == 1 else 'ies'} before it "
                               f"(seq {seq + 1}{'' if missing == 1 else f' to {row.chain_seq - 1}'}) are missing: "
                               "deleted")
                elif row.prev_hash != prev:
                    report.add(row.id, row.chain_seq, "does not link to the entry before it (its prev_hash is not "
                               "that entry's hash): entries were removed, inserted or reordered here")
                if row.entry_hash != entry_digest(row.chain_seq, row.prev_hash, row):
                    report.add(row.id, row.chain_seq, "its content or place does not match its hash: edited or "
                               "moved after it was written")
                if head is not None and row.chain_seq > head.seq:
                    report.add(row.id, row.chain_seq, f"comes after the chain head (seq {head.seq}): written "
                               "around the application")
                if expect_head is not None and row.chain_seq == expect_head[0]:
                    expected_seen = True
                    if row.entry_hash != expect_head[1]:
                        report.add(row.id, row.chain_seq, f"its hash is {row.entry_hash}, not the expected head's "
                                   f"{expect_head[1]}: the chain was rewritten up to here")
                seq, prev = row.chain_seq, row.entry_hash

        for dup_seq, n in conn.execute(select(_EVENTS.c.chain_seq, func.count()).where(_EVENTS.c.chain_seq.isnot(None))
                                       .group_by(_EVENTS.c.chain_seq).having(func.count() > 1)):
            ids = ", ".join(str(i) for i in conn.scalars(select(_EVENTS.c.id).where(_EVENTS.c.chain_seq == dup_seq)
                                                         .order_by(_EVENTS.c.id)))
            report.add(None, dup_seq, f"{n} entries (ids {ids}) share this sequence number: one was forged")

        for row in conn.execute(select(_EVENTS.c.id, _EVENTS.c.action).where(_EVENTS.c.chain_seq.is_(None))
                                .order_by(_EVENTS.c.id)):
            report.add(row.id, None, f"'{row.action}' has no place in the chain: inserted around the application")

        if head is None:
            if report.entries:
                report.add(None, None, "the chain head (audit_chain_head) is missing")
        elif head.seq > seq:
            missing = head.seq - seq
            report.add(None, head.seq, f"the head names seq {head.seq} but the chain ends at seq {seq}: the last "
                       f"{missing} entr{'y was' if missing == 1 else 'ies were'} deleted")
        elif head.seq == seq and head.hash != prev:
            report.add(None, head.seq, "the head's hash is not the last entry's hash: the head or the last entry "
                       "was rewritten")
        if not expected_seen and expect_head is not None:
            report.add(None, expect_head[0], f"the expected head is beyond the end of the chain (seq {seq}): "
                       "entries were removed from the end and the head rewound (or this database is older than "
                       "that head)")
    return report
