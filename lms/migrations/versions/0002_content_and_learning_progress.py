"""content and learning progress

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('code_of_conduct_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('effective', sa.String(length=10), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('loaded_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_of_conduct_versions')),
    sa.UniqueConstraint('version', name=op.f('uq_code_of_conduct_versions_version'))
    )
    op.create_table('content_syncs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('synced_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_syncs'))
    )
    op.create_table('courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('estimated_minutes', sa.Integer(), nullable=False),
    sa.Column('objectives', sa.JSON(), nullable=False),
    sa.Column('prerequisites', sa.JSON(), nullable=False),
    sa.Column('quiz_slug', sa.String(length=80), nullable=True),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses')),
    sa.UniqueConstraint('slug', name=op.f('uq_courses_slug'))
    )
    op.create_table('program_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('loaded_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_program_versions')),
    sa.UniqueConstraint('slug', 'digest', name=op.f('uq_program_versions_slug'))
    )
    op.create_table('course_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('lesson_versions', sa.JSON(), nullable=False),
    sa.Column('created_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_versions_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_versions')),
    sa.UniqueConstraint('course_id', 'version', name=op.f('uq_course_versions_course_id'))
    )
    with op.batch_alter_table('course_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_versions_course_id'), ['course_id'], unique=False)

    op.create_table('learning_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('verb', sa.Enum('completed', 'attempted', 'passed', 'failed', 'acknowledged', name='verb', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('object_type', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.String(length=80), nullable=False),
    sa.Column('object_title', sa.String(length=200), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('content_version', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('occurred_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_learning_events_course_id_courses')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_learning_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_events'))
    )
    with op.batch_alter_table('learning_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_events_course_id'), ['course_id'], unique=False)
        batch_op.create_index('ix_learning_events_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index('ix_learning_events_user_id_occurred_at', ['user_id', 'occurred_at'], unique=False)

    op.create_table('lessons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_lessons_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lessons')),
    sa.UniqueConstraint('course_id', 'slug', name=op.f('uq_lessons_course_id'))
    )
    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lessons_course_id'), ['course_id'], unique=False)

    op.create_table('course_activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('started_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_lesson_id', sa.Integer(), nullable=True),
    sa.Column('last_seen_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_activity_course_id_courses')),
    sa.ForeignKeyConstraint(['last_lesson_id'], ['lessons.id'], name=op.f('fk_course_activity_last_lesson_id_lessons')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_course_activity_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_activity')),
    sa.UniqueConstraint('user_id', 'course_id', name=op.f('uq_course_activity_user_id'))
    )
    with op.batch_alter_table('course_activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_activity_user_id'), ['user_id'], unique=False)

    op.create_table('lesson_completions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('lesson_version', sa.String(length=64), nullable=False),
    sa.Column('course_version', sa.String(length=64), nullable=False),
    sa.Column('completed_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_completions_lesson_id_lessons')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lesson_completions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lesson_completions')),
    sa.UniqueConstraint('user_id', 'lesson_id', name=op.f('uq_lesson_completions_user_id'))
    )
    with op.batch_alter_table('lesson_completions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lesson_completions_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lesson_completions_user_id'), ['user_id'], unique=False)

    op.create_table('lesson_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', lms.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_versions_lesson_id_lessons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lesson_versions')),
    sa.UniqueConstraint('lesson_id', 'version', name=op.f('uq_lesson_versions_lesson_id'))
    )
    with op.batch_alter_table('lesson_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lesson_versions_lesson_id'), ['lesson_id'], unique=False)

    # The learning record is append-only, like the audit trail.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE TRIGGER learning_events_append_only BEFORE UPDATE OR DELETE ON learning_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER learning_events_no_{verb.lower()} BEFORE {verb} ON learning_events
                BEGIN SELECT RAISE(ABORT, 'learning_events is append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS learning_events_append_only ON learning_events")
    else:
        op.execute("DROP TRIGGER IF EXISTS learning_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS learning_events_no_delete")
    with op.batch_alter_table('lesson_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lesson_versions_lesson_id'))

    op.drop_table('lesson_versions')
    with op.batch_alter_table('lesson_completions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lesson_completions_user_id'))
        batch_op.drop_index(batch_op.f('ix_lesson_completions_lesson_id'))

    op.drop_table('lesson_completions')
    with op.batch_alter_table('course_activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_activity_user_id'))

    op.drop_table('course_activity')
    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lessons_course_id'))

    op.drop_table('lessons')
    with op.batch_alter_table('learning_events', schema=None) as batch_op:
        batch_op.drop_index('ix_learning_events_user_id_occurred_at')
        batch_op.drop_index('ix_learning_events_object')
        batch_op.drop_index(batch_op.f('ix_learning_events_course_id'))

    op.drop_table('learning_events')
    with op.batch_alter_table('course_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_versions_course_id'))

    op.drop_table('course_versions')
    op.drop_table('program_versions')
    op.drop_table('courses')
    op.drop_table('content_syncs')
    op.drop_table('code_of_conduct_versions')
