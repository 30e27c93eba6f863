"""Content sync (atomic, idempotent, versioned, never deleting) and progress through the courses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.accounts.models import Role
from lms.audit import AuditEvent
from lms.content import load
from lms.content_sync import sync_content
from lms.db import db
from lms.errors import Conflict, ValidationFailed
from lms.learning import services
from lms.learning.models import (
    CodeOfConductVersion,
    Course,
    CourseVersion,
    LearningEvent,
    Lesson,
    LessonCompletion,
    LessonVersion,
    ProgramVersion,
)
from lms.learning.services import CourseState
from tests import factories
from tests.content_tree import make_tree, write, write_course


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "content")


def sync(tree: Path) -> list[str]:
    changes = sync_content(load(tree / "courses", tree / "quizzes"), actor=None)
    db.session.commit()
    return changes


def counts() -> dict[str, int]:
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in (
        Course, CourseVersion, Lesson, LessonVersion, ProgramVersion, CodeOfConductVersion, AuditEvent)}


def lesson(course: str, slug: str) -> Lesson:
    return db.session.scalar(select(Lesson).join(Course).where(Course.slug == course, Lesson.slug == slug))


def test_first_load_creates_everything(app_ctx, tree):
    changes = sync(tree)
    assert "course alpha: added" in changes[0]
    assert counts() | {"AuditEvent": 0} == {"Course": 2, "CourseVersion": 2, "Lesson": 4, "LessonVersion": 4,
                                            "ProgramVersion": 1, "CodeOfConductVersion": 1, "AuditEvent": 0}
    beta = services.get_course("beta")
    assert beta.prerequisites == ["alpha"] and [x.slug for x in beta.active_lessons] == ["first", "second"]


def test_reloading_unchanged_content_is_a_no_op(app_ctx, tree):
    sync(tree)
    before = counts()
    assert sync(tree) == []
    assert counts() == before  # not even an audit entry


def test_changed_lesson_makes_a_new_version_and_keeps_earned_records(app_ctx, tree):
    sync(tree)
    trainee = factories.make_user(Role.TRAINEE)
    first = lesson("alpha", "first")
    services.complete_lesson(trainee, first)
    db.session.commit()
    old_lesson_version, old_course_version = first.version, first.course.version

    path = tree / "courses/alpha/lessons/01-first.md"
    path.write_text(path.read_text() + "\nA new paragraph.\n")
    changes = sync(tree)
    assert any(c.startswith("lesson alpha/first: new version") for c in changes)
    assert any(c.startswith("course alpha: new version") for c in changes)
    assert first.version != old_lesson_version
    versions = db.session.scalars(select(LessonVersion.version).where(LessonVersion.lesson_id == first.id)).all()
    assert set(versions) == {old_lesson_version, first.version}
    completion = db.session.scalar(select(LessonCompletion).where(LessonCompletion.user_id == trainee.id))
    assert (completion.lesson_version, completion.course_version) == (old_lesson_version, old_course_version)
    assert services.progress_in(trainee, first.course).done_count == 1  # still counts


def test_removed_lesson_and_course_are_retired_never_deleted(app_ctx, tree):
    sync(tree)
    trainee = factories.make_user(Role.TRAINEE)
    services.complete_lesson(trainee, lesson("alpha", "second"))
    db.session.commit()
    write_course(tree, "alpha", 1, lessons=("first",))
    (tree / "courses/alpha/lessons/02-second.md").unlink()
    changes = sync(tree)
    assert "lesson alpha/second: retired (completions of it are kept)" in changes
    second = lesson("alpha", "second")
    assert second is not None and not second.active
    assert db.session.scalar(select(func.count()).select_from(LessonCompletion)) == 1
    assert [x.slug for x in services.get_course("alpha").active_lessons] == ["first"]

    # a course leaving the files is retired too
    import shutil

    shutil.rmtree(tree / "courses/beta")
    (tree / "courses/program.yaml").write_text((tree / "courses/program.yaml").read_text()
                                               .replace("[alpha, beta]", "[alpha]").replace("course: beta",
                                                                                            "course: alpha"))
    changes = sync(tree)
    assert any(c.startswith("course beta: retired") for c in changes)
    assert db.session.scalar(select(Course).where(Course.slug == "beta")).active is False


def test_broken_content_is_refused_whole(app_ctx, tree):
    write(tree / "courses/alpha/course.yaml", "title: [broken\n")
    with pytest.raises(ValidationFailed):
        sync_content(load(tree / "courses", tree / "quizzes"), actor=None)
    db.session.rollback()
    assert counts()["Course"] == 0


def test_code_of_conduct_text_change_needs_a_new_version(app_ctx, tree):
    sync(tree)
    code = tree / "courses/code.md"
    code.write_text(code.read_text() + "I will also be on time.\n")
    with pytest.raises(Conflict, match="give it a new version"):
        sync_content(load(tree / "courses", tree / "quizzes"), actor=None)
    db.session.rollback()
    code.write_text(code.read_text().replace('version: "1.0"', 'version: "1.1"'))
    assert "code of conduct: version 1.1 now in force" in sync(tree)
    current = db.session.scalars(select(CodeOfConductVersion).where(CodeOfConductVersion.current.is_(True))).all()
    assert [c.version for c in current] == ["1.1"]


def test_prerequisites_lock_until_finished(app_ctx, tree):
    sync(tree)
    trainee = factories.make_user(Role.TRAINEE)
    alpha, beta = services.progress_for(trainee)
    assert alpha.state is CourseState.NOT_STARTED
    assert beta.state is CourseState.LOCKED and [c.slug for c in beta.missing_prerequisites] == ["alpha"]
    with pytest.raises(Conflict, match="prerequisite"):
        services.complete_lesson(trainee, lesson("beta", "first"))
    db.session.rollback()
    services.complete_lesson(trainee, lesson("alpha", "first"))
    assert services.progress_for(trainee)[0].state is CourseState.IN_PROGRESS
    services.complete_lesson(trainee, lesson("alpha", "second"))
    alpha, beta = services.progress_for(trainee)
    assert alpha.state is CourseState.DONE and alpha.percent == 100
    assert beta.state is CourseState.NOT_STARTED


def test_completing_is_idempotent_and_recorded_once(app_ctx, tree):
    sync(tree)
    trainee = factories.make_user(Role.TRAINEE)
    first = lesson("alpha", "first")
    c1, new1 = services.complete_lesson(trainee, first)
    c2, new2 = services.complete_lesson(trainee, first)
    db.session.commit()
    assert (new1, new2) == (True, False) and c1.id == c2.id
    events = db.session.scalars(select(LearningEvent).where(LearningEvent.user_id == trainee.id)).all()
    assert [(e.verb.value, e.object_type, e.object_id, e.content_version) for e in events] == [
        ("completed", "lesson", str(first.id), first.version)]


def test_continue_where_you_left_off(app_ctx, tree):
    sync(tree)
    trainee = factories.make_user(Role.TRAINEE)
    first, second = lesson("alpha", "first"), lesson("alpha", "second")
    assert services.progress_for(trainee)[0].next_lesson.id == first.id
    services.record_visit(trainee, second)
    assert services.progress_for(trainee)[0].next_lesson.id == second.id
    services.complete_lesson(trainee, second)
    assert services.progress_for(trainee)[0].next_lesson.id == first.id  # the one still open


def test_progress_uses_a_fixed_number_of_queries(app_ctx, tree):
    from sqlalchemy import event

    for i in range(3, 9):
        write_course(tree, f"extra{i}", i)
    (tree / "courses/program.yaml").write_text((tree / "courses/program.yaml").read_text().replace(
        "[alpha, beta]", "[alpha, beta, " + ", ".join(f"extra{i}" for i in range(3, 9)) + "]"))
    sync(tree)
    trainee = factories.make_user(Role.TRAINEE)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        progress = services.progress_for(trainee)
        _ = [(p.state, p.percent, p.next_lesson) for p in progress]
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(progress) == 8
    assert len(statements) <= 5, statements  # lessons, completions, activity, course completions (+courses)
