"""The audit trail: what record() stores, and that neither the ORM nor the database lets an entry change."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy.exc
from sqlalchemy import delete, func, select, text, update

from lms import audit
from lms.accounts.models import ApiToken, Role, User
from lms.audit import AuditEvent, AuditImmutableError
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
