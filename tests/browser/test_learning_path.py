"""A trainee's way through the real curriculum: dashboard, a whole course lesson by lesson with the progress
bar moving, on to its quiz, and a course locked behind its prerequisite, with the reason shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lms.content import load
from tests.browser.support import follow, log_in, submit, visit
from tests.content_tree import load_into
from tests.factories import PASSWORD, People

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def curriculum(app):
    load_into(app, ROOT)
    return load(ROOT / "courses", ROOT / "quizzes")


def progress_value(where) -> int:
    return int(where.locator("progress").first.get_attribute("value"))


def test_trainee_walks_a_course_and_meets_a_locked_one(page: Page, people: People, curriculum):
    first = curriculum.courses[0]
    log_in(page, people.trainee.email, PASSWORD)
    expect(page.get_by_role("heading", level=2, name="Your path to facilitating")).to_be_visible()
    expect(page.get_by_text(f"0 of {len(curriculum.program.required_courses)} required courses done")).to_be_visible()

    follow(page, page.get_by_role("link", name=f"Open “{first.title}”"))
    expect(page.get_by_role("heading", level=1)).to_have_text(first.title)
    assert progress_value(page) == 0
    follow(page, page.get_by_role("link", name=re.compile(r"^Start: ")))

    for n, lesson in enumerate(first.lessons, start=1):
        expect(page.get_by_role("heading", level=1)).to_have_text(lesson.title)
        expect(page.get_by_text(f"Lesson {n} of {len(first.lessons)}")).to_be_visible()
        assert progress_value(page) == n - 1
        # the configured emergency number replaced any placeholder
        expect(page.locator(".lesson-body")).not_to_contain_text("{{")
        submit(page, page.get_by_role("button", name=re.compile(r"^Mark as complete")))

    # after the last lesson: on to the course's quiz, which completes the course
    quiz = curriculum.quiz(first.quiz)
    expect(page.get_by_role("heading", level=1)).to_have_text(quiz.title)
    expect(page.get_by_role("status").filter(has_text="Now the quiz")).to_be_visible()
    expect(page.get_by_role("button", name="Start the quiz")).to_be_visible()
    visit(page, f"/courses/{first.slug}")
    assert progress_value(page) == len(first.lessons)
    expect(page.get_by_role("status").filter(has_text="finished every lesson")).to_be_visible()

    # the dashboard shows the full progress bar; the course is not done until the quiz is passed
    visit(page, "/")
    expect(page.get_by_text(f"0 of {len(curriculum.program.required_courses)} required courses done")).to_be_visible()
    assert progress_value(page.locator(".course-card", has_text=first.title)) == len(first.lessons)

    # a course behind an unfinished prerequisite is locked, and says why
    locked = next(c for c in curriculum.courses if c.prerequisites and first.slug not in c.prerequisites)
    needed = curriculum.course(locked.prerequisites[0])
    card = page.locator(".course-card", has_text=locked.title)
    expect(card).to_contain_text("Locked")
    expect(card).to_contain_text(f"Opens after: {needed.title}")
    follow(page, card.get_by_role("link", name=locked.title))
    expect(page.get_by_role("heading", name="This course is locked")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(needed.title)
    # its lessons cannot be opened: the address leads back to the course page with the reason
    visit(page, f"/courses/{locked.slug}/lessons/{locked.lessons[0].slug}")
    expect(page).to_have_url(re.compile(rf"/courses/{locked.slug}$"))
    expect(page.get_by_text("This course opens once you have finished")).to_be_visible()
