"""`lms check-content` and `lms load-content` (with --dry-run), against a content tree of our own."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms.db import db
from lms.learning.models import Course, LessonVersion
from tests.content_tree import make_tree, write


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "content")


@pytest.fixture
def runner_for(app_factory):
    def make(tree):
        app = app_factory(CONTENT_DIR=str(tree))
        return app, app.test_cli_runner()

    return make


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_check_content_passes_on_a_valid_tree(runner_for, tree):
    _, runner = runner_for(tree)
    result = runner.invoke(args=["check-content"])
    assert result.exit_code == 0, result.output
    assert ("Content is valid: 2 courses, 4 lessons, 0 quizzes (0 questions), program Program version 1."
            in result.output)


def test_check_content_lists_every_problem_and_exits_1(runner_for, tree):
    write(tree / "courses/alpha/course.yaml", (tree / "courses/alpha/course.yaml").read_text() + "colour: red\n")
    write(tree / "courses/beta/lessons/01-first.md", "---\nminutes: soon\n---\ntext\n")
    _, runner = runner_for(tree)
    result = runner.invoke(args=["check-content"])
    assert result.exit_code == 1
    assert "courses/alpha/course.yaml:12: unknown key 'colour'" in result.output
    assert "courses/beta/lessons/01-first.md:2: 'minutes' must be a whole number" in result.output
    assert "problem(s) found" in result.output


def test_load_content_dry_run_then_real_then_again(runner_for, tree):
    app, runner = runner_for(tree)
    dry = runner.invoke(args=["load-content", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would change: course alpha: added" in dry.output and "nothing was written" in dry.output
    assert count(app, Course) == 0
    real = runner.invoke(args=["load-content"])
    assert real.exit_code == 0 and "course alpha: added" in real.output
    assert count(app, Course) == 2
    again = runner.invoke(args=["load-content"])
    assert again.exit_code == 0 and "Content is already up to date." in again.output
    lesson = tree / "courses/alpha/lessons/02-second.md"
    lesson.write_text(lesson.read_text() + "\nMore.\n")
    dry = runner.invoke(args=["load-content", "--dry-run"])
    assert "would change: lesson alpha/second: new version" in dry.output
    assert count(app, LessonVersion) == 4


def test_load_content_refuses_broken_content_and_writes_nothing(runner_for, tree):
    write(tree / "courses/beta/course.yaml", "title: [broken\n")
    app, runner = runner_for(tree)
    result = runner.invoke(args=["load-content"])
    assert result.exit_code == 1
    assert "courses/beta/course.yaml:1: not valid YAML" in result.output
    assert "nothing was loaded" in result.output
    assert count(app, Course) == 0
