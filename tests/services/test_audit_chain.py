"""The audit trail's hash chain: `verify_chain` (`lms verify-audit`) names each entry edited, deleted, inserted
or moved by someone writing to the database directly, past the triggers, as an attacker with database access
would; concurrent commits still make one unbroken chain; the migration chains the entries already there; bulk
loaders can seal what they insert."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, func, insert, select, text, update

from lms import audit, migrate
from lms.accounts import services
from lms.accounts.models import Role, User
from lms.audit import GENESIS, AuditChainHead, AuditEvent, entry_digest, verify_chain
from lms.db import db, lock_row, utcnow
from tests import factories
from tests.concurrency import N, together

EVENTS = AuditEvent.__table__
HEAD = AuditChainHead.__table__


@contextmanager
def attacker() -> Iterator[Connection]:
    """A connection that writes past the append-only triggers and commits. SQLite: the triggers are dropped and
    made again around the change; PostgreSQL: triggers are off for this transaction (session_replication_role)."""
    db.session.commit()  # the test's own session holds nothing meanwhile
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name IN ('audit_events', 'audit_chain_head')")).all()
            assert len(triggers) == 4
            for name, _sql in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            yield conn
            for _name, sql in triggers:
                conn.exec_driver_sql(sql)
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
        conn.commit()


def rows(conn=None) -> list:
    """Every sealed entry in chain order, as stored."""
    return (conn or db.session).execute(select(EVENTS).where(EVENTS.c.chain_seq.isnot(None))
                                        .order_by(EVENTS.c.chain_seq)).all()


def stored_head() -> tuple[int, str]:
    row = db.session.execute(select(HEAD.c.seq, HEAD.c.hash)).one()
    return row.seq, row.hash


def verify(**kw) -> audit.ChainReport:
    db.session.commit()
    return verify_chain(db.engine, **kw)


def messages(report: audit.ChainReport) -> list[tuple[int | None, int | None, str]]:
    return [(p.entry_id, p.seq, p.message) for p in report.problems]


@pytest.fixture
def chain(app_ctx) -> list:
    """Eight entries over four commits (one written by a real service), all sealed: their rows in chain order."""
    admin = factories.make_user(Role.ADMIN, email_address="chief@example.org")
    audit.record(admin, "test.one", None, n=1)
    audit.record(admin, "test.two", admin, n=2, nested={"a": [1, 2]})
    db.session.commit()
    audit.record(None, "test.three", None, n=3, text="ünïcode ✓")
    db.session.commit()
    services.change_role(factories.make_user(Role.TRAINEE), Role.SUPERVISOR, actor=admin)
    audit.record(admin, "test.four", None, n=4)
    audit.record(admin, "test.five", None, n=5)
    db.session.commit()
    found = rows()
    assert len(found) == 8
    return found


# ---------------------------------------------------------------- an intact chain


def test_an_intact_chain_verifies(chain):
    report = verify()
    assert report.ok, messages(report)
    assert report.entries == len(chain) == db.session.scalar(select(func.count()).select_from(EVENTS))
    assert [r.chain_seq for r in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in zip(chain, chain[1:], strict=False))
    assert report.head == stored_head() == (len(chain), chain[-1].entry_hash)
    assert report.head_text == f"{len(chain)}:{chain[-1].entry_hash}"
    # an earlier head written down elsewhere is found in the chain
    assert verify(expect_head=(3, chain[2].entry_hash)).ok
    assert verify(expect_head=(0, GENESIS)).ok


def test_an_empty_trail_verifies(app_ctx):
    report = verify()
    assert report.ok and report.entries == 0
    assert report.head_text in ("0:" + GENESIS, "0:" + GENESIS)


def test_verify_reads_in_batches(chain):
    # A tiny batch walks the same chain across many queries (how it keeps memory flat on a long one).
    assert verify(batch_size=3).ok
    with attacker() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.chain_seq == 4).values(action="test.tampered"))
    assert [(p.entry_id, p.seq) for p in verify(batch_size=3).problems] == [(chain[3].id, 4)]


# ---------------------------------------------------------------- tampering, each one named


@pytest.mark.parametrize(("column", "value"), [
    ("data", {"n": 200}),
    ("action", "test.innocent"),
    ("actor_label", "someone.else@example.org"),
    ("actor_id", "another"),
    ("subject_id", "12345"),
    ("occurred_at", "+1s"),
])
def test_an_edited_entry_is_named(chain, column, value):
    target = chain[4]
    if value == "+1s":
        value = target.occurred_at + timedelta(seconds=1)
    elif value == "another":
        value = chain[-1].actor_id if target.actor_id is None else None
        assert value != target.actor_id
    with attacker() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == target.id).values({column: value}))
    report = verify()
    assert messages(report) == [(target.id, 5, "its content or place does not match its hash: edited or moved "
                                                "after it was written")]
    assert report.problem_count == 1


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(chain):
    target = chain[2]
    edited = {**target._mapping, "data": {"n": 300}}
    forged = entry_digest(target.chain_seq, target.prev_hash, type("Row", (), edited))
    with attacker() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == target.id).values(data={"n": 300}, entry_hash=forged))
    assert [(p.entry_id, p.seq) for p in verify().problems] == [(chain[3].id, 4)]
    assert "does not link to the entry before it" in verify().problems[0].message


def test_a_deleted_entry_in_the_middle_is_named(chain):
    with attacker() as conn:
        conn.execute(EVENTS.delete().where(EVENTS.c.id.in_([chain[3].id, chain[4].id])))
    report = verify()
    assert messages(report) == [(chain[5].id, 6, "2 entries before it (seq 4 to 5) are missing: deleted")]


def test_deleted_last_entries_no_longer_meet_the_head(chain):
    with attacker() as conn:
        conn.execute(EVENTS.delete().where(EVENTS.c.chain_seq > 6))
    assert messages(verify()) == [(None, 8, "the head names seq 8 but the chain ends at seq 6: the last 2 entries "
                                            "were deleted")]


def test_a_cut_end_with_the_head_rewound_is_caught_only_against_an_earlier_head(chain):
    noted = (8, chain[7].entry_hash)  # what the operator wrote down after an earlier run
    with attacker() as conn:
        conn.execute(EVENTS.delete().where(EVENTS.c.chain_seq > 6))
        conn.execute(update(HEAD).values(seq=6, hash=chain[5].entry_hash))
    assert verify().ok  # what the database alone cannot show (docs/operations.md says so)
    report = verify(expect_head=noted)
    assert messages(report) == [(None, 8, "the expected head is beyond the end of the chain (seq 6): entries were "
                                          "removed from the end and the head rewound (or this database is older "
                                          "than that head)")]


def test_a_chain_rewritten_from_an_edit_on_is_caught_against_an_earlier_head(chain):
    noted = (6, chain[5].entry_hash)
    with attacker() as conn:  # edit entry 3 and recompute every hash after it, and the head
        prev = chain[1].entry_hash
        for row in chain[2:]:
            fields = {**row._mapping, **({"data": {"n": 333}} if row.chain_seq == 3 else {})}
            digest = entry_digest(row.chain_seq, prev, type("Row", (), fields))
            conn.execute(update(EVENTS).where(EVENTS.c.id == row.id)
                         .values(data=fields["data"], prev_hash=prev, entry_hash=digest))
            prev = digest
        conn.execute(update(HEAD).values(hash=prev))
    assert verify().ok
    report = verify(expect_head=noted)
    assert [(p.entry_id, p.seq) for p in report.problems] == [(chain[5].id, 6)]
    assert "not the expected head's" in report.problems[0].message


def _forge(conn: Connection, **chain_columns) -> int:
    return conn.execute(insert(EVENTS).values(occurred_at=utcnow(), actor_id=None, actor_label="system",
                                              action="user.role_changed", subject_type="users", subject_id="1",
                                              subject_label=None, data={"role": "admin"}, **chain_columns)
                        ).inserted_primary_key[0]


def test_a_row_inserted_around_the_app_is_named(chain):
    with attacker() as conn:
        forged = _forge(conn)
    assert messages(verify()) == [(forged, None, "'user.role_changed' has no place in the chain: inserted around "
                                                 "the application")]


def test_a_well_formed_row_appended_past_the_head_is_named(chain):
    with attacker() as conn:
        forged = _forge(conn, chain_seq=9, prev_hash=chain[7].entry_hash, entry_hash="0" * 64)
        row = conn.execute(select(EVENTS).where(EVENTS.c.id == forged)).one()
        conn.execute(update(EVENTS).where(EVENTS.c.id == forged)
                     .values(entry_hash=entry_digest(9, chain[7].entry_hash, row)))
    assert messages(verify()) == [(forged, 9, "comes after the chain head (seq 8): written around the application")]


def test_a_row_forged_into_a_used_place_is_named(chain):
    index = "ix_audit_events_chain_seq"
    with attacker() as conn:  # the unique index would refuse it, so it goes first
        conn.exec_driver_sql(f"DROP INDEX {index}")
        forged = _forge(conn, chain_seq=4, prev_hash=chain[2].entry_hash, entry_hash="0" * 64)
    try:
        report = verify()
        assert (None, 4, f"2 entries (ids {min(chain[3].id, forged)}, {max(chain[3].id, forged)}) share this "
                         "sequence number: one was forged") in messages(report)
    finally:  # the PostgreSQL schema outlives this test: put the index back
        with attacker() as conn:
            conn.execute(EVENTS.delete().where(EVENTS.c.id == forged))
            conn.exec_driver_sql(f"CREATE UNIQUE INDEX {index} ON audit_events (chain_seq)")


def test_two_entries_swapped_in_the_chain_are_both_named(chain):
    a, b = chain[1], chain[5]
    with attacker() as conn:  # exchange their places: numbers and links
        conn.execute(update(EVENTS).where(EVENTS.c.id == a.id).values(chain_seq=-1))
        conn.execute(update(EVENTS).where(EVENTS.c.id == b.id)
                     .values(chain_seq=a.chain_seq, prev_hash=a.prev_hash, entry_hash=a.entry_hash))
        conn.execute(update(EVENTS).where(EVENTS.c.id == a.id)
                     .values(chain_seq=b.chain_seq, prev_hash=b.prev_hash, entry_hash=b.entry_hash))
    report = verify()
    assert [(p.entry_id, p.seq) for p in report.problems] == [(b.id, 2), (a.id, 6)]
    assert all("does not match its hash" in p.message for p in report.problems)


def test_a_rewritten_or_missing_head_is_named(chain):
    with attacker() as conn:
        conn.execute(update(HEAD).values(hash="f" * 64))
    assert messages(verify()) == [(None, 8, "the head's hash is not the last entry's hash: the head or the last "
                                            "entry was rewritten")]
    with attacker() as conn:
        conn.execute(HEAD.delete())
    assert messages(verify()) == [(None, None, "the chain head (audit_chain_head) is missing")]


# ---------------------------------------------------------------- concurrency


def test_concurrent_audited_commits_make_one_unbroken_chain(app, people):
    """Threads write audited changes at once, through services and directly, some rolled back, some in
    savepoints; afterwards every entry has its own number and the chain verifies."""
    admin_id = people.admin.id

    def work(i: int) -> None:
        for j in range(3):
            with app.app_context():
                admin = db.session.get(User, admin_id)
                services.create_user(actor=admin, email=f"racer{i}-{j}@example.org", display_name=f"Racer {i}",
                                     role=Role.TRAINEE, password=None)
                with db.session.begin_nested():
                    audit.record(admin, "test.in_savepoint", None, i=i, j=j)
                audit.record(None, "test.direct", None, i=i, j=j)
                db.session.commit()
            with app.app_context():
                audit.record(None, "test.rolled_back", None, i=i)
                db.session.rollback()

    together(work)
    with app.app_context():
        report = verify_chain(db.engine)
        assert report.ok, messages(report)
        total = db.session.scalar(select(func.count()).select_from(EVENTS))
        assert report.entries == total
        found = db.session.scalars(select(EVENTS.c.chain_seq).order_by(EVENTS.c.chain_seq)).all()
        assert found == list(range(1, total + 1))  # every number once, none skipped
        assert db.session.scalar(select(func.count()).select_from(EVENTS)
                                 .where(EVENTS.c.action == "test.direct")) == 3 * N
        assert db.session.scalar(select(func.count()).select_from(EVENTS)
                                 .where(EVENTS.c.action == "test.rolled_back")) == 0


def test_the_head_is_locked_after_the_row_locks_so_opposite_orders_do_not_deadlock(app, people):
    """Half the threads lock a shared row before releasing a savepoint with an entry in it, half after. Were
    the head locked at the savepoint, the two orders would deadlock on PostgreSQL; it is locked at commit. (The
    entries name no actor: an entry's foreign key to a user takes a share lock on that user's row, and a later
    FOR UPDATE of the same row by two such transactions deadlocks whatever the chain does.)"""
    shared_id = people.trainee.id

    def work(i: int) -> str:
        with app.app_context():
            shared = db.session.get(User, shared_id)
            audit.record(None, "test.opened", None, i=i)
            if i % 2:
                lock_row(shared)
            with db.session.begin_nested():
                audit.record(None, "test.in_savepoint", None, i=i)
            if not i % 2:
                lock_row(shared)
            db.session.commit()
        return "ok"

    assert together(work) == ["ok"] * N
    with app.app_context():
        report = verify_chain(db.engine)
        assert report.ok, messages(report)
        assert db.session.scalar(select(func.count()).select_from(EVENTS)
                                 .where(EVENTS.c.action.startswith("test."))) == 2 * N


def test_verify_sees_one_moment_while_entries_keep_coming(app, people):
    """A writer commits entries throughout; each verification walks in small batches (many queries) yet sees
    the chain as of one moment: no entry past the head it read, no false alarm."""
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        with app.app_context():
            while not stop.is_set():
                audit.record(None, "test.meanwhile", None, n=len(written))
                db.session.commit()
                written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with app.app_context():
            reports = []
            for _ in range(6):
                seen = len(written)
                reports.append(verify_chain(db.engine, batch_size=1))
                while len(written) < seen + 3:  # let some commits land between walks
                    stop.wait(0.01)
    finally:
        stop.set()
        writer.join(30)
    assert [messages(r) for r in reports] == [[]] * 6
    assert reports[-1].head[0] > reports[0].head[0]


# ---------------------------------------------------------------- the migration and bulk loaders


def test_the_migration_chains_the_entries_already_there_in_id_order(app_ctx):
    with db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0007")
    old = ("INSERT INTO audit_events (occurred_at, actor_id, actor_label, action, subject_type, subject_id, "
           "subject_label, data) VALUES (:at, NULL, 'system', :action, NULL, NULL, NULL, :data)")
    with db.engine.begin() as conn:
        for n, at in enumerate(["2025-03-01 10:00:00.123456", "2025-01-01 09:00:00", "2025-02-01 08:00:00.5"]):
            conn.execute(text(old), {"at": at, "action": f"old.{n}", "data": f'{{"n": {n}, "s": "é"}}'})
    with db.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "head")

    report = verify()
    assert report.ok, messages(report)
    assert report.entries == 3
    assert [r.action for r in rows()] == ["old.0", "old.1", "old.2"]  # by id, not by time
    # the application carries on from the head the migration left
    after = audit.record(None, "new.entry")
    db.session.commit()
    assert after.chain_seq == 4
    assert verify().ok


def test_a_bulk_loader_seals_what_it_inserted_with_core(chain):
    with db.engine.begin() as conn:  # as tests/bench/generate.py writes: Core inserts, explicit ids
        start = conn.scalar(select(func.max(EVENTS.c.id))) + 1
        conn.execute(insert(EVENTS), [
            {"id": start + k, "occurred_at": utcnow(), "actor_id": None, "actor_label": "system",
             "action": "bench.entry", "subject_type": None, "subject_id": None, "subject_label": None,
             "data": {"k": k}} for k in range(2500)])
        assert audit.seal_unsealed(conn) == 2500
    report = verify()
    assert report.ok, messages(report)
    assert report.entries == 8 + 2500
    assert report.head[0] == 8 + 2500
    with db.engine.begin() as conn:
        assert audit.seal_unsealed(conn) == 0  # nothing left


# ---------------------------------------------------------------- lms verify-audit


def test_verify_audit_command(app, runner, people):
    ok = runner.invoke(args=["verify-audit"])
    assert ok.exit_code == 0, ok.output
    with app.app_context():
        seq, digest = stored_head()
        count = db.session.scalar(select(func.count()).select_from(EVENTS))
    assert ok.output == f"Audit trail OK: {count} entries, head {seq}:{digest}.\n"

    again = runner.invoke(args=["verify-audit", "--expect-head", f"{seq}:{digest.upper()}"])
    assert again.exit_code == 0, again.output
    assert f"the expected head {seq} is in the chain" in again.output

    wrong = runner.invoke(args=["verify-audit", "--expect-head", f"{seq}:{'a' * 64}"])
    assert wrong.exit_code == 1
    assert "not the expected head's" in wrong.output

    unusable = runner.invoke(args=["verify-audit", "--expect-head", "12"])
    assert unusable.exit_code == 2
    assert "is not SEQ:HASH" in unusable.output

    with app.app_context():
        target = rows()[1]
        with attacker() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.id == target.id).values(action="user.nothing"))
    broken = runner.invoke(args=["verify-audit"])
    assert broken.exit_code == 1
    assert f"entry id {target.id} (seq 2): its content or place does not match its hash" in broken.output
    assert f"Error: the audit trail does not verify: 1 problem(s) among {count} entries" in broken.output
