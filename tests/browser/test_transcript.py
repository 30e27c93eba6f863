"""A supervisor finds their trainee on the home page and opens the trainee's transcript, then downloads it as a
PDF. Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.accounts.models import User
from lms.db import db, utcnow
from lms.learning import services as learning
from lms.learning.models import Lesson
from lms.quizzes import services as quizzes
from tests.browser.support import follow, log_in, visit
from tests.content_tree import CORRECT, add_quiz, load_into, make_tree
from tests.factories import PASSWORD, People


@pytest.fixture
def trainee_record(app, people, tmp_path):
    """The small tree with alpha's quiz; the trainee has finished alpha (lessons and a passed quiz)."""
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    load_into(app, root)
    with app.app_context():
        trainee = db.session.get(User, people.trainee.id)
        course = learning.get_course("alpha")
        for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id)):
            learning.complete_lesson(trainee, lesson)
        at = utcnow() - timedelta(hours=1)
        attempt, _ = quizzes.start_attempt(trainee, quizzes.get_quiz("alpha"), now=at)
        quizzes.submit_attempt(attempt, trainee, {q: CORRECT[q] for q in attempt.question_ids},
                               now=at + timedelta(minutes=2))
        db.session.commit()


def test_supervisor_opens_a_trainees_transcript(page: Page, people: People, trainee_record):
    log_in(page, people.supervisor.email, PASSWORD)
    row = page.get_by_role("row").filter(has_text=people.trainee.display_name)
    expect(row).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=people.other_trainee.display_name)).to_have_count(0)

    follow(page, row.get_by_role("link", name=f"Transcript of {people.trainee.display_name}"))
    expect(page).to_have_url(re.compile(rf"/people/{people.trainee.id}/transcript$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Transcript of {people.trainee.display_name}")
    required = page.get_by_role("region", name="Required courses")
    expect(required.get_by_role("row").filter(has_text="Course alpha")).to_contain_text("Done")
    expect(required.get_by_role("row").filter(has_text="Course beta")).to_contain_text("Not started")
    attempts = page.get_by_role("region", name="Quiz attempts")
    expect(attempts.get_by_role("row").filter(has_text="Alpha quiz")).to_contain_text("100%")
    expect(page.get_by_text("use your browser's Print command")).to_be_visible()

    # the same record as a PDF download
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(r"^Download PDF")).click()
    download = info.value
    assert re.fullmatch(r"transcript-tess-trainee-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename)
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    # and back to the list of trainees
    follow(page, page.get_by_role("link", name="← Your trainees"))
    expect(page.get_by_role("row").filter(has_text=people.trainee.display_name)).to_be_visible()


def test_trainee_opens_their_own_transcript_from_the_menu(page: Page, people: People, trainee_record):
    log_in(page, people.trainee.email, PASSWORD)
    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Transcript"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your transcript")
    expect(page.get_by_text("1 of 2 required courses done")).to_be_visible()
    visit(page, "/transcript")
