"""certification: code-of-conduct acknowledgements, practicum log, requests, certificates; the verb "earned"

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import lms.db

OLD_VERBS = ('completed', 'attempted', 'passed', 'failed', 'acknowledged')
NEW_VERBS = OLD_VERBS + ('earned',)


def _set_verbs(verbs: tuple[str, ...]) -> None:
    """learning_events.verb is checked against a list; SQLite can only change that by rebuilding the table, and a
    rebuild drops the append-only triggers, so they are made again."""
    check = "verb IN (" + ", ".join(f"'{v}'" for v in verbs) + ")"
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE learning_events DROP CONSTRAINT ck_learning_events_verb")
        op.execute(f"ALTER TABLE learning_events ADD CONSTRAINT ck_learning_events_verb CHECK ({check})")
        return
    op.execute("DROP TRIGGER IF EXISTS learning_events_no_update")
    op.execute("DROP TRIGGER IF EXISTS learning_events_no_delete")
    with op.batch_alter_table('learning_events', recreate='always') as batch_op:
        batch_op.drop_constraint(op.f('ck_learning_events_verb'), type_='check')
        batch_op.create_check_constraint('verb', sa.text(check))
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER learning_events_no_{verb.lower()} BEFORE {verb} ON learning_events
            BEGIN SELECT RAISE(ABORT, 'learning_events is append-only'); END""")


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('certification_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('program_version_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'withdrawn', 'issued', name='request_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('requested_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('eligibility', sa.JSON(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("status NOT IN ('approved', 'rejected', 'issued') OR decided_by_id IS NOT NULL", name=op.f('ck_certification_requests_decided_has_decider')),
    sa.CheckConstraint('decided_by_id IS NULL OR decided_by_id <> user_id', name=op.f('ck_certification_requests_not_own_decision')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_certification_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['program_version_id'], ['program_versions.id'], name=op.f('fk_certification_requests_program_version_id_program_versions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_certification_requests_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certification_requests'))
    )
    with op.batch_alter_table('certification_requests', schema=None) as batch_op:
        batch_op.create_index('ix_certification_requests_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_certification_requests_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_certification_requests_one_open', ['user_id'], unique=True, sqlite_where=sa.text("status IN ('pending', 'approved')"), postgresql_where=sa.text("status IN ('pending', 'approved')"))

    op.create_table('conduct_acknowledgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_version_id', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code_version_id'], ['code_of_conduct_versions.id'], name=op.f('fk_conduct_acknowledgements_code_version_id_code_of_conduct_versions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_conduct_acknowledgements_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conduct_acknowledgements')),
    sa.UniqueConstraint('user_id', 'code_version_id', name=op.f('uq_conduct_acknowledgements_user_id'))
    )
    with op.batch_alter_table('conduct_acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conduct_acknowledgements_user_id'), ['user_id'], unique=False)

    op.create_table('practicum_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('observed', 'co_facilitated', 'led_observed', 'crisis_roleplay', name='practicum_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('group_name', sa.String(length=120), nullable=False),
    sa.Column('reflection', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'rejected', name='entry_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('rubric_scores', sa.JSON(), nullable=True),
    sa.Column('rubric_passed', sa.Boolean(), nullable=True),
    sa.CheckConstraint("status = 'pending' OR (reviewer_id IS NOT NULL AND reviewed_at IS NOT NULL)", name=op.f('ck_practicum_entries_reviewed_has_reviewer')),
    sa.CheckConstraint('reviewer_id IS NULL OR reviewer_id <> user_id', name=op.f('ck_practicum_entries_not_own_review')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_practicum_entries_reviewer_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_practicum_entries_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practicum_entries'))
    )
    with op.batch_alter_table('practicum_entries', schema=None) as batch_op:
        batch_op.create_index('ix_practicum_entries_user_id_status', ['user_id', 'status'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('verification_code', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('holder_name', sa.String(length=120), nullable=False),
    sa.Column('program_slug', sa.String(length=80), nullable=False),
    sa.Column('program_title', sa.String(length=200), nullable=False),
    sa.Column('program_version', sa.String(length=40), nullable=False),
    sa.Column('issued_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=False),
    sa.Column('approver_name', sa.String(length=120), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issuer_name', sa.String(length=120), nullable=False),
    sa.Column('state', sa.Enum('active', 'revoked', 'superseded', name='certificate_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('revoked_at', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint("state <> 'revoked' OR (revoked_at IS NOT NULL AND revocation_reason IS NOT NULL)", name=op.f('ck_certificates_revoked_has_reason')),
    sa.CheckConstraint('issued_by_id <> user_id', name=op.f('ck_certificates_not_own_issue')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_certificates_approved_by_id_users')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_certificates_issued_by_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['certification_requests.id'], name=op.f('fk_certificates_request_id_certification_requests')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_certificates_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['certificates.id'], name=op.f('fk_certificates_superseded_by_id_certificates')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_certificates_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('request_id', name='uq_certificates_request_id'),
    sa.UniqueConstraint('serial', name=op.f('uq_certificates_serial')),
    sa.UniqueConstraint('verification_code', name=op.f('uq_certificates_verification_code'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_user_id_issued_at', ['user_id', 'issued_at'], unique=False)

    _set_verbs(NEW_VERBS)


def downgrade() -> None:
    # Refused by the database while "earned" events exist: the learning record is append-only.
    _set_verbs(OLD_VERBS)
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_user_id_issued_at')

    op.drop_table('certificates')
    with op.batch_alter_table('practicum_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_practicum_entries_user_id_status')

    op.drop_table('practicum_entries')
    with op.batch_alter_table('conduct_acknowledgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conduct_acknowledgements_user_id'))

    op.drop_table('conduct_acknowledgements')
    with op.batch_alter_table('certification_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_certification_requests_one_open', sqlite_where=sa.text("status IN ('pending', 'approved')"), postgresql_where=sa.text("status IN ('pending', 'approved')"))
        batch_op.drop_index(batch_op.f('ix_certification_requests_user_id'))
        batch_op.drop_index('ix_certification_requests_status')

    op.drop_table('certification_requests')
