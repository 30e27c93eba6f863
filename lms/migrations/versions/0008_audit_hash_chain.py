"""audit hash chain: each entry carries its sequence number, the previous entry's hash and its own; a one-row head

Existing entries are chained in id order. The append-only triggers are replaced by ones that also allow the one
change the application makes: filling in the chain columns, once, from empty, leaving everything else as it was.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

import lms.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
APPEND_ONLY = "audit_events is append-only"
HEAD_FORWARD = "audit_chain_head only moves forward"
# Everything but the chain columns: an UPDATE may fill those in once and must leave these as they were.
CONTENT = ("id", "occurred_at", "actor_id", "actor_label", "action", "subject_type", "subject_id", "subject_label",
           "data")

events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()), sa.column("occurred_at", lms.db.UTCDateTime()), sa.column("actor_id", sa.Integer()),
    sa.column("actor_label", sa.String()), sa.column("action", sa.String()), sa.column("subject_type", sa.String()),
    sa.column("subject_id", sa.String()), sa.column("subject_label", sa.String()), sa.column("data", sa.JSON()),
    sa.column("chain_seq", sa.BigInteger()), sa.column("prev_hash", sa.String()), sa.column("entry_hash", sa.String()),
)
head_table = sa.table("audit_chain_head", sa.column("id", sa.Integer()), sa.column("seq", sa.BigInteger()),
                      sa.column("hash", sa.String()))


def _digest(seq: int, prev_hash: str, row) -> str:
    """lms.audit.entry_digest as of this revision (a migration must not change when the application does);
    tests/services/test_audit_chain.py checks that entries chained here verify."""
    payload = {
        "seq": seq, "prev_hash": prev_hash, "occurred_at": row.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": row.actor_id, "actor_label": row.actor_label, "action": row.action,
        "subject_type": row.subject_type, "subject_id": row.subject_id, "subject_label": row.subject_label,
        "data": row.data,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _chain_existing() -> None:
    bind = op.get_bind()
    seal = (sa.update(events).where(events.c.id == sa.bindparam("b_id"))
            .values(chain_seq=sa.bindparam("b_seq"), prev_hash=sa.bindparam("b_prev"),
                    entry_hash=sa.bindparam("b_hash")))
    seq, prev, after = 0, GENESIS, 0
    while True:
        rows = bind.execute(sa.select(events).where(events.c.id > after).order_by(events.c.id).limit(1000)).all()
        if not rows:
            break
        params = []
        for row in rows:
            seq += 1
            digest = _digest(seq, prev, row)
            params.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
            prev, after = digest, row.id
        bind.execute(seal, params)
    bind.execute(sa.insert(head_table).values(id=1, seq=seq, hash=prev))


def _drop_append_only_triggers(postgresql: bool) -> None:
    if postgresql:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_head_single_row')),
    sa.CheckConstraint('seq >= 0', name=op.f('ck_audit_chain_head_seq_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    _drop_append_only_triggers(postgresql)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_events_chain_seq'), ['chain_seq'], unique=True)

    _chain_existing()

    if postgresql:
        # A function of its own: audit_events_append_only() also guards learning_events and stays as it is.
        op.execute(f"""
            CREATE FUNCTION audit_events_seal_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE'
                   AND OLD.chain_seq IS NULL AND OLD.prev_hash IS NULL AND OLD.entry_hash IS NULL
                   AND NEW.chain_seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.entry_hash IS NOT NULL
                   AND to_jsonb(NEW) - 'chain_seq' - 'prev_hash' - 'entry_hash'
                       = to_jsonb(OLD) - 'chain_seq' - 'prev_hash' - 'entry_hash'
                THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{APPEND_ONLY}';
            END $$""")
        op.execute("""
            CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_seal_once()""")
        op.execute(f"""
            CREATE FUNCTION audit_chain_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seq > OLD.seq THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{HEAD_FORWARD}';
            END $$""")
        op.execute("""
            CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head
            FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only()""")
    else:
        # Listed column by column: a later migration that adds a column to audit_events must list it here too
        # (on SQLite, any rebuild of the table drops these triggers, so it has to make them again anyway).
        unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in CONTENT)
        op.execute(f"""
            CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            WHEN NOT (OLD.chain_seq IS NULL AND OLD.prev_hash IS NULL AND OLD.entry_hash IS NULL
                      AND NEW.chain_seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.entry_hash IS NOT NULL
                      AND {unchanged})
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")
        op.execute(f"""
            CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")
        op.execute(f"""
            CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE ON audit_chain_head
            WHEN NOT (NEW.id = OLD.id AND NEW.seq > OLD.seq)
            BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD}'); END""")
        op.execute(f"""
            CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
            BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD}'); END""")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_append_only_triggers(postgresql)
    if postgresql:
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_forward_only ON audit_chain_head")
        op.execute("DROP FUNCTION IF EXISTS audit_chain_head_forward_only()")
        op.execute("DROP FUNCTION IF EXISTS audit_events_seal_once()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_forward_only")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_delete")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_chain_seq'))
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('chain_seq')

    op.drop_table('audit_chain_head')
    # The triggers of revision 0001 again.
    if postgresql:
        op.execute("""
            CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events
                BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")
