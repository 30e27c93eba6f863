"""quizzes and attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quizzes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quizzes')),
    sa.UniqueConstraint('slug', name=op.f('uq_quizzes_slug'))
    )
    op.create_table('quiz_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('created_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quiz_id'], ['quizzes.id'], name=op.f('fk_quiz_versions_quiz_id_quizzes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_versions')),
    sa.UniqueConstraint('quiz_id', 'version', name=op.f('uq_quiz_versions_quiz_id'))
    )
    with op.batch_alter_table('quiz_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quiz_versions_quiz_id'), ['quiz_id'], unique=False)

    op.create_table('attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('quiz_version_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('in_progress', 'submitted', 'timed_out', name='attempt_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('started_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', lms.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('question_ids', sa.JSON(), nullable=False),
    sa.Column('option_orders', sa.JSON(), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('critical_failed', sa.Boolean(), nullable=True),
    sa.Column('results', sa.JSON(), nullable=True),
    sa.CheckConstraint('score IS NULL OR (score >= 0 AND score <= 100)', name=op.f('ck_attempts_score_range')),
    sa.ForeignKeyConstraint(['quiz_id'], ['quizzes.id'], name=op.f('fk_attempts_quiz_id_quizzes')),
    sa.ForeignKeyConstraint(['quiz_version_id'], ['quiz_versions.id'], name=op.f('fk_attempts_quiz_version_id_quiz_versions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attempts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempts')),
    sa.UniqueConstraint('user_id', 'quiz_id', 'number', name=op.f('uq_attempts_user_id'))
    )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempts_quiz_id'), ['quiz_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attempts_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_attempts_one_open', ['user_id', 'quiz_id'], unique=True, sqlite_where=sa.text("status = 'in_progress'"), postgresql_where=sa.text("status = 'in_progress'"))

    op.create_table('course_completions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('course_version', sa.String(length=64), nullable=False),
    sa.Column('completed_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_course_completions_attempt_id_attempts')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_completions_course_id_courses')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_course_completions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_completions')),
    sa.UniqueConstraint('user_id', 'course_id', name=op.f('uq_course_completions_user_id'))
    )
    with op.batch_alter_table('course_completions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_completions_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_course_completions_user_id'), ['user_id'], unique=False)

    op.create_table('attempt_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.String(length=80), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.Column('saved_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_attempt_answers_attempt_id_attempts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_answers')),
    sa.UniqueConstraint('attempt_id', 'question_id', name=op.f('uq_attempt_answers_attempt_id'))
    )
    with op.batch_alter_table('course_activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quiz_attempt_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quiz_score', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('quiz_passed_at', lms.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_course_activity_quiz_attempt_id_attempts'), 'attempts', ['quiz_attempt_id'], ['id'])

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accommodation_factor', sa.Double(), server_default='1', nullable=False))
        batch_op.create_check_constraint('accommodation_range', 'accommodation_factor >= 1 AND accommodation_factor <= 4')



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('accommodation_range', type_='check')
        batch_op.drop_column('accommodation_factor')

    with op.batch_alter_table('course_activity', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_course_activity_quiz_attempt_id_attempts'), type_='foreignkey')
        batch_op.drop_column('quiz_passed_at')
        batch_op.drop_column('quiz_score')
        batch_op.drop_column('quiz_attempt_id')

    with op.batch_alter_table('course_completions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_completions_user_id'))
        batch_op.drop_index(batch_op.f('ix_course_completions_course_id'))

    op.drop_table('course_completions')
    op.drop_table('attempt_answers')
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('uq_attempts_one_open', sqlite_where=sa.text("status = 'in_progress'"), postgresql_where=sa.text("status = 'in_progress'"))
        batch_op.drop_index(batch_op.f('ix_attempts_user_id'))
        batch_op.drop_index(batch_op.f('ix_attempts_quiz_id'))

    op.drop_table('attempts')
    with op.batch_alter_table('quiz_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quiz_versions_quiz_id'))

    op.drop_table('quiz_versions')
    op.drop_table('quizzes')
