"""lrs forwarding cursor

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lrs_cursors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=False),
    sa.Column('last_event_id', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_try_at', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_until', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_cursors')),
    sa.UniqueConstraint('endpoint', name=op.f('uq_lrs_cursors_endpoint'))
    )


def downgrade() -> None:
    op.drop_table('lrs_cursors')
