"""groups: groups and their facilitators, sessions, calendar feeds; scopes of API tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
    sa.UniqueConstraint('user_id', name=op.f('uq_calendar_feeds_user_id'))
    )
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('meeting_url', sa.String(length=500), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'paused', 'closed', name='group_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("meeting_url LIKE 'https://%'", name=op.f('ck_groups_meeting_url_https')),
    sa.CheckConstraint('capacity >= 1 AND capacity <= 300', name=op.f('ck_groups_capacity_range')),
    sa.CheckConstraint('duration_minutes >= 15 AND duration_minutes <= 240', name=op.f('ck_groups_duration_range')),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_groups_weekday_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_groups_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_groups_name'))
    )
    op.create_table('group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('lead', 'co_facilitator', name='group_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('added_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_group_members_added_by_id_users')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_members_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_members')),
    sa.UniqueConstraint('group_id', 'user_id', name=op.f('uq_group_members_group_id'))
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index('ix_group_members_user_id', ['user_id'], unique=False)
        batch_op.create_index('uq_group_members_one_lead', ['group_id'], unique=True, sqlite_where=sa.text("role = 'lead'"), postgresql_where=sa.text("role = 'lead'"))

    op.create_table('group_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('starts_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('scheduled', 'held', 'cancelled', name='session_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('held_minutes', sa.Integer(), nullable=True),
    sa.Column('attendance_count', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lead_entry_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status <> 'held' OR (lead_id IS NOT NULL AND recorded_by_id IS NOT NULL AND recorded_at IS NOT NULL AND attendance_count IS NOT NULL AND held_minutes IS NOT NULL)", name=op.f('ck_group_sessions_held_is_recorded')),
    sa.CheckConstraint('attendance_count IS NULL OR attendance_count >= 0', name=op.f('ck_group_sessions_attendance_non_negative')),
    sa.CheckConstraint('held_minutes IS NULL OR held_minutes > 0', name=op.f('ck_group_sessions_held_minutes_positive')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_sessions_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_entry_id'], ['practicum_entries.id'], name=op.f('fk_group_sessions_lead_entry_id_practicum_entries')),
    sa.ForeignKeyConstraint(['lead_id'], ['users.id'], name=op.f('fk_group_sessions_lead_id_users')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_group_sessions_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_sessions')),
    sa.UniqueConstraint('group_id', 'session_date', name=op.f('uq_group_sessions_group_id'))
    )
    with op.batch_alter_table('group_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_group_sessions_lead_id', ['lead_id'], unique=False)
        batch_op.create_index('ix_group_sessions_starts_at', ['starts_at'], unique=False)

    op.create_table('session_co_facilitators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('practicum_entry_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['practicum_entry_id'], ['practicum_entries.id'], name=op.f('fk_session_co_facilitators_practicum_entry_id_practicum_entries')),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'], name=op.f('fk_session_co_facilitators_session_id_group_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_session_co_facilitators_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_co_facilitators')),
    sa.UniqueConstraint('session_id', 'user_id', name=op.f('uq_session_co_facilitators_session_id'))
    )
    with op.batch_alter_table('session_co_facilitators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_co_facilitators_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=200), server_default='', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scopes')

    with op.batch_alter_table('session_co_facilitators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_co_facilitators_user_id'))

    op.drop_table('session_co_facilitators')
    with op.batch_alter_table('group_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_group_sessions_starts_at')
        batch_op.drop_index('ix_group_sessions_lead_id')

    op.drop_table('group_sessions')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index('uq_group_members_one_lead', sqlite_where=sa.text("role = 'lead'"), postgresql_where=sa.text("role = 'lead'"))
        batch_op.drop_index('ix_group_members_user_id')

    op.drop_table('group_members')
    op.drop_table('groups')
    op.drop_table('calendar_feeds')
