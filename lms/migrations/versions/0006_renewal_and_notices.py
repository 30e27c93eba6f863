"""renewal and notices: request paths, notices sent once, the subject salt of badges, the practicum kind "led"

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import lms.db

OLD_KINDS = ('observed', 'co_facilitated', 'led_observed', 'crisis_roleplay')
NEW_KINDS = OLD_KINDS + ('led',)


def _set_kinds(kinds: tuple[str, ...]) -> None:
    check = "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"
    with op.batch_alter_table('practicum_entries', recreate='always') as batch_op:
        batch_op.drop_constraint(op.f('ck_practicum_entries_practicum_kind'), type_='check')
        batch_op.create_check_constraint('practicum_kind', sa.text(check))


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('certificate_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('sent_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name=op.f('fk_certificate_notices_certificate_id_certificates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_notices')),
    sa.UniqueConstraint('certificate_id', 'kind', name=op.f('uq_certificate_notices_certificate_id'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_salt', sa.String(length=64), nullable=True))

    with op.batch_alter_table('certification_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('path', sa.Enum('initial', 'renewal', 'lapsed', name='request_path', native_enum=False, create_constraint=True, length=32), server_default='initial', nullable=False))
        batch_op.add_column(sa.Column('renews_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_certification_requests_renews_id_certificates'), 'certificates', ['renews_id'], ['id'])

    _set_kinds(NEW_KINDS)



def downgrade() -> None:
    op.execute("DELETE FROM practicum_entries WHERE kind = 'led'")
    _set_kinds(OLD_KINDS)
    with op.batch_alter_table('certification_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_certification_requests_renews_id_certificates'), type_='foreignkey')
        batch_op.drop_column('renews_id')
        batch_op.drop_constraint(op.f('ck_certification_requests_request_path'), type_='check')
        batch_op.drop_column('path')

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('subject_salt')

    op.drop_table('certificate_notices')
