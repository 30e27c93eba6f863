"""The learning pages: dashboard, catalogue, course and lesson pages, marking complete, admin content pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.db import db
from lms.learning.models import Lesson, LessonCompletion
from tests.content_tree import load_into, make_tree


@pytest.fixture
def content(app, tmp_path):
    root = make_tree(tmp_path / "content")
    load_into(app, root)
    return root


def lesson_id(app, course: str, slug: str) -> int:
    with app.app_context():
        from lms.learning.models import Course

        return db.session.scalar(select(Lesson.id).join(Course).where(Course.slug == course, Lesson.slug == slug))


def test_trainee_dashboard_shows_the_program_as_a_checklist(login_as, content):
    trainee = login_as("trainee")
    html = trainee.get("/").get_data(as_text=True)
    assert "Your path to facilitating" in html
    assert "0 of 2 required courses done" in html
    assert "Course alpha" in html and "Course beta" in html
    assert "Opens after" in html  # beta is locked behind alpha
    assert "Your next step" in html


def test_walking_through_a_course(login_as, content, app):
    trainee = login_as("trainee")
    html = trainee.get("/courses/alpha").get_data(as_text=True)
    assert "Explain something." in html and "Start: alpha first" in html
    page = trainee.get("/courses/alpha/lessons/first")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "In an emergency call 911." in body  # the configured resource, filled in
    assert 'value="0"' in body and 'max="2"' in body  # the progress bar
    # the dashboard now offers to continue there
    assert "Continue where you left off" in trainee.get("/").get_data(as_text=True)

    r = trainee.submit("/courses/alpha/lessons/first", "/courses/alpha/lessons/first/complete")
    assert r.status_code == 302 and r.headers["Location"].endswith("/courses/alpha/lessons/second")
    body = trainee.get("/courses/alpha/lessons/second").get_data(as_text=True)
    assert 'value="1"' in body
    r = trainee.submit("/courses/alpha/lessons/second", "/courses/alpha/lessons/second/complete")
    assert r.headers["Location"].endswith("/courses/alpha")
    course = trainee.get("/courses/alpha").get_data(as_text=True)
    assert "You completed this course" in course
    # marking again is harmless
    r = trainee.submit("/courses/alpha", "/courses/alpha/lessons/second/complete")
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(LessonCompletion.id).where(LessonCompletion.lesson_id == lesson_id(
            app, "alpha", "second"))) is not None
        assert len(db.session.scalars(select(LessonCompletion)).all()) == 2


def test_locked_course_says_why_and_keeps_lessons_closed(login_as, content):
    trainee = login_as("trainee")
    html = trainee.get("/courses/beta").get_data(as_text=True)
    assert "This course is locked" in html and "Course alpha" in html
    r = trainee.get("/courses/beta/lessons/first")
    assert r.status_code == 302 and r.headers["Location"].endswith("/courses/beta")
    r = trainee.submit("/courses/beta", "/courses/beta/lessons/first/complete")
    assert r.status_code == 302
    assert "Finish the prerequisite course(s) first" in trainee.get("/courses/beta").get_data(as_text=True)


def test_unknown_course_and_lesson_are_404(login_as, content):
    trainee = login_as("trainee")
    assert trainee.get("/courses/nope").status_code == 404
    assert trainee.get("/courses/alpha/lessons/nope").status_code == 404


def test_complete_needs_post_and_csrf(login_as, content):
    trainee = login_as("trainee")
    assert trainee.get("/courses/alpha/lessons/first/complete").status_code == 405
    assert trainee.client.post("/courses/alpha/lessons/first/complete").status_code == 400


def test_courses_need_login(client, content):
    r = client.get("/courses/alpha")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_admin_content_overview_and_preview(login_as, content, app):
    admin = login_as("admin")
    html = admin.get("/admin/content").get_data(as_text=True)
    assert "Course alpha" in html and "Program" in html and "version 1.0" in html
    lid = lesson_id(app, "alpha", "first")
    preview = admin.get(f"/admin/content/lessons/{lid}").get_data(as_text=True)
    assert "alpha first" in preview and "(current)" in preview
    assert admin.get(f"/admin/content/lessons/{lid}?version=nope").status_code == 404
    assert login_as("trainee").get("/admin/content").status_code == 403
