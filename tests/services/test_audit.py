"""The audit trail: what record() stores, and that neither the ORM nor the database lets an entry change."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy.exc
from sqlalchemy import delete, func, select, text, update

from lms import audit
from lms.accounts.models import ApiToken, Role, User
from lms.audit import AuditChainHead, AuditEvent, AuditImmutableError
from lms.db import db, utcnow
from tests import factories


@pytest.fixture
def admin(app_ctx) -> User:
    return factories.make_user(Role.ADMIN, email_address="boss@example.org", name="Bo Boss")


@pytest.fixture
def entry(admin) -> AuditEvent:
    subject = factories.make_user(Role.TRAINEE, email_address="subject@example.org")
    made = audit.record(admin, "test.something", subject, note="first")
    db.session.commit()
    return made


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def reread(entry_id: int) -> AuditEvent:
    db.session.expire_all()
    return db.session.get(AuditEvent, entry_id)


class Colour(enum.Enum):
    RED = "red"


# ---------------------------------------------------------------- record()


def test_record_stores_actor_action_subject_and_data(admin):
    subject = factories.make_user(Role.TRAINEE, email_address="subject@example.org")
    before = utcnow()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    made = audit.record(admin, "test.recorded", subject, reason="because", count=3, flag=True, role=Role.TRAINEE,
                        colour=Colour.RED, when=when, ids=(1, 2), nothing=None, nested={"a": [1, "b"]})
    db.session.commit()

    stored = reread(made.id)
    assert stored.action == "test.recorded"
    assert stored.actor_id == admin.id
    assert stored.actor == admin
    assert stored.actor_label == "boss@example.org"
    assert stored.subject_type == "users"
    assert stored.subject_id == str(subject.id)
    assert stored.subject_label == "subject@example.org"
    assert stored.data == {"reason": "because", "count": 3, "flag": True, "role": "trainee", "colour": "red",
                           "when": "2026-01-02T03:04:05+00:00", "ids": [1, 2], "nothing": None,
                           "nested": {"a": [1, "b"]}}
    assert before - timedelta(seconds=1) <= stored.occurred_at <= utcnow()
    assert stored.occurred_at.tzinfo is not None


def test_record_by_the_system_without_a_subject(app_ctx):
    made = audit.record(None, "system.maintenance")
    db.session.commit()
    stored = reread(made.id)
    assert stored.actor_id is None
    assert stored.actor_label == "system"
    assert (stored.subject_type, stored.subject_id, stored.subject_label) == (None, None, None)
    assert stored.data == {}


def test_record_gives_a_new_subject_its_id_first(admin):
    token = ApiToken(user_id=admin.id, name="fresh", token_hash="0" * 64, prefix="pnd_000000")
    db.session.add(token)
    assert token.id is None
    made = audit.record(admin, "test.new_subject", token)
    assert token.id is not None
    assert made.subject_type == "api_tokens"
    assert made.subject_id == str(token.id)
    assert made.subject_label == "fresh"  # a token is known by its name


def test_record_keeps_the_actors_address_at_the_time(admin):
    made = audit.record(admin, "test.then", None)
    admin.email = "renamed@example.org"
    db.session.commit()
    assert reread(made.id).actor_label == "boss@example.org"


def test_record_happens_inside_the_callers_transaction(admin):
    before = count()
    audit.record(admin, "test.rolled_back", None)
    assert count() == before + 1
    db.session.rollback()
    assert count() == before


def test_query_events_filters_and_orders_newest_first(admin):
    other = factories.make_user(Role.TRAINEE, email_address="other@example.org")
    first = audit.record(admin, "user.alpha", other)
    second = audit.record(None, "user.beta", admin)
    third = audit.record(admin, "userXgamma", other)
    db.session.commit()

    def ids(**kw) -> list[int]:
        wanted = {first.id, second.id, third.id}
        return [e.id for e in db.session.scalars(audit.query_events(**kw)) if e.id in wanted]

    assert ids() == [third.id, second.id, first.id]
    assert ids(action="user.") == [second.id, first.id]
    assert ids(action="user_") == []  # "_" is not a wildcard
    assert ids(action="user%") == []
    assert ids(actor_id=admin.id) == [third.id, first.id]
    assert ids(subject_type="users", subject_id=str(other.id)) == [third.id, first.id]
    assert ids(subject_type="api_tokens") == []


# ---------------------------------------------------------------- the ORM refuses


def test_orm_refuses_to_update_an_entry(entry):
    entry.action = "test.tampered"
    with pytest.raises(AuditImmutableError):
        db.session.flush()
    db.session.rollback()
    assert reread(entry.id).action == "test.something"


def test_orm_refuses_to_change_the_data(entry):
    entry.data = {"note": "rewritten"}
    with pytest.raises(AuditImmutableError):
        db.session.commit()
    db.session.rollback()
    assert reread(entry.id).data == {"note": "first"}


def test_orm_refuses_to_delete_an_entry(entry):
    db.session.delete(entry)
    with pytest.raises(AuditImmutableError):
        db.session.flush()
    db.session.rollback()
    assert reread(entry.id) is not None


# ---------------------------------------------------------------- the database refuses


def _refused(statement) -> None:
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
        db.session.execute(statement)
        db.session.flush()
    db.session.rollback()
    assert "append-only" in str(caught.value)


def test_database_refuses_raw_update(entry):
    _refused(text("UPDATE audit_events SET action = 'test.tampered'"))
    _refused(text("UPDATE audit_events SET data = '{}' WHERE id = :id").bindparams(id=entry.id))
    stored = reread(entry.id)
    assert stored.action == "test.something"
    assert stored.data == {"note": "first"}


def test_database_refuses_raw_delete(entry):
    before = count()
    _refused(text("DELETE FROM audit_events"))
    _refused(text("DELETE FROM audit_events WHERE id = :id").bindparams(id=entry.id))
    assert count() == before
    assert reread(entry.id) is not None


def test_database_refuses_bulk_orm_statements_that_skip_mapper_events(entry):
    # update()/delete() statements bypass the ORM's before_update/before_delete hooks: only the trigger is left.
    _refused(update(AuditEvent).where(AuditEvent.id == entry.id).values(action="test.tampered"))
    _refused(delete(AuditEvent).where(AuditEvent.id == entry.id))
    assert reread(entry.id).action == "test.something"


def test_database_refuses_on_a_connection_of_its_own(entry):
    with db.engine.connect() as conn:
        with pytest.raises(sqlalchemy.exc.DBAPIError):
            conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": entry.id})
        conn.rollback()
        assert conn.execute(select(func.count()).select_from(AuditEvent)).scalar() >= 1


def test_inserting_still_works_after_a_refusal(entry):
    _refused(text("DELETE FROM audit_events"))
    audit.record(None, "test.after")
    db.session.commit()
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"test.something", "test.after"} <= actions


# ---------------------------------------------------------------- the hash chain: sealed at commit


def chain_row(entry_id: int):
    """The entry as the database holds it now (not as the session remembers it)."""
    table = AuditEvent.__table__
    return db.session.execute(select(table).where(table.c.id == entry_id)).one()


def head() -> tuple[int, str] | None:
    row = db.session.execute(select(AuditChainHead.seq, AuditChainHead.hash)).first()
    return None if row is None else (row.seq, row.hash)


def test_commit_seals_the_transactions_entries_in_the_order_written(admin):
    start_seq, start_hash = head()
    first = audit.record(admin, "test.first", None, n=1)
    second = audit.record(None, "test.second", admin, n=2)
    assert chain_row(first.id).chain_seq is None  # readable before commit, sealed only at commit
    db.session.commit()
    third = audit.record(admin, "test.third", None, n=3)
    db.session.commit()

    rows = [chain_row(e.id) for e in (first, second, third)]
    assert [r.chain_seq for r in rows] == [start_seq + 1, start_seq + 2, start_seq + 3]
    assert [r.prev_hash for r in rows] == [start_hash, rows[0].entry_hash, rows[1].entry_hash]
    for row in rows:
        assert row.entry_hash == audit.entry_digest(row.chain_seq, row.prev_hash, row)
    assert len({r.entry_hash for r in rows}) == 3
    assert head() == (start_seq + 3, rows[2].entry_hash)
    # the objects in memory know their place too, without the ORM taking that for a change to write
    assert (third.chain_seq, third.prev_hash, third.entry_hash) == (rows[2].chain_seq, rows[1].entry_hash,
                                                                    rows[2].entry_hash)
    assert not db.session.dirty


def test_the_hash_covers_every_field_and_the_place_in_the_chain(entry):
    row = chain_row(entry.id)
    digest = audit.entry_digest(row.chain_seq, row.prev_hash, row)
    assert digest == row.entry_hash
    assert audit.entry_digest(row.chain_seq + 1, row.prev_hash, row) != digest
    assert audit.entry_digest(row.chain_seq, "f" * 64, row) != digest
    fields = dict(row._mapping)
    for name, other in (("occurred_at", row.occurred_at + timedelta(microseconds=1)), ("actor_id", 999),
                        ("actor_label", "someone@example.org"), ("action", "test.other"), ("subject_type", "x"),
                        ("subject_id", "0"), ("subject_label", "x"), ("data", {"note": "second"})):
        changed = type("Row", (), {**fields, name: other})
        assert audit.entry_digest(row.chain_seq, row.prev_hash, changed) != digest, name


def test_rolled_back_entries_take_no_place_in_the_chain(admin):
    start_seq, _ = head()
    audit.record(admin, "test.rolled_back", None)
    db.session.rollback()
    kept = audit.record(admin, "test.kept", None)
    db.session.commit()
    assert chain_row(kept.id).chain_seq == start_seq + 1


def test_an_entry_whose_savepoint_rolled_back_is_not_sealed(admin):
    start_seq, _ = head()
    before = audit.record(admin, "test.before_savepoint", None)
    with pytest.raises(RuntimeError), db.session.begin_nested():
        audit.record(admin, "test.in_failed_savepoint", None)
        raise RuntimeError("undo the savepoint")
    after = audit.record(admin, "test.after_savepoint", None)
    db.session.commit()
    assert [chain_row(e.id).chain_seq for e in (before, after)] == [start_seq + 1, start_seq + 2]
    assert head()[0] == start_seq + 2
    assert "test.in_failed_savepoint" not in set(db.session.scalars(select(AuditEvent.action)))


def test_a_released_savepoint_waits_for_the_real_commit(admin):
    # Sealing at a savepoint would lock the head early, before row locks taken later in the transaction.
    start = head()
    with db.session.begin_nested():
        inner = audit.record(admin, "test.in_savepoint", None)
    assert chain_row(inner.id).chain_seq is None
    assert head() == start
    db.session.commit()
    assert chain_row(inner.id).chain_seq == start[0] + 1


def test_commit_with_a_savepoint_still_open_seals_its_entries_too(admin):
    start_seq, _ = head()
    db.session.begin_nested()
    inner = audit.record(admin, "test.in_open_savepoint", None)
    db.session.commit()  # commits the whole transaction, releasing the savepoint on the way
    assert chain_row(inner.id).chain_seq == start_seq + 1


def test_an_entry_added_without_a_flush_is_sealed_too(admin):
    start_seq, _ = head()
    entry = AuditEvent(actor_label="system", action="test.added_directly", data={})
    db.session.add(entry)
    db.session.commit()
    assert chain_row(entry.id).chain_seq == start_seq + 1


def test_a_commit_without_entries_leaves_the_head_alone(admin):
    start = head()
    admin.display_name = "Bo Renamed"
    db.session.commit()
    assert head() == start


def test_database_lets_the_chain_be_set_once_and_nothing_else(admin):
    sealed = audit.record(admin, "test.sealed", None)
    db.session.commit()
    row = chain_row(sealed.id)
    # a sealed entry cannot be sealed again, nor moved
    _refused(text("UPDATE audit_events SET chain_seq = chain_seq + 1000 WHERE id = :id").bindparams(id=sealed.id))
    _refused(text("UPDATE audit_events SET entry_hash = :h WHERE id = :id").bindparams(h="f" * 64, id=sealed.id))
    assert chain_row(sealed.id) == row
    # sealing may not smuggle in a change of content
    unsealed = audit.record(admin, "test.unsealed", None)  # flushed, not committed: no place in the chain yet
    _refused(text("UPDATE audit_events SET chain_seq = 999999, prev_hash = :h, entry_hash = :h, action = 'x' "
                  "WHERE id = :id").bindparams(h="a" * 64, id=unsealed.id))
    # nor fill in part of the chain columns
    unsealed = audit.record(admin, "test.unsealed", None)
    _refused(text("UPDATE audit_events SET chain_seq = 999999 WHERE id = :id").bindparams(id=unsealed.id))


def test_database_lets_the_head_only_move_forward(entry):
    seq, digest = head()
    _refused_head(text("UPDATE audit_chain_head SET seq = seq - 1"))
    _refused_head(text("UPDATE audit_chain_head SET hash = :h").bindparams(h="f" * 64))
    _refused_head(text("DELETE FROM audit_chain_head"))
    assert head() == (seq, digest)


def _refused_head(statement) -> None:
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
        db.session.execute(statement)
    db.session.rollback()
    assert "only moves forward" in str(caught.value)
