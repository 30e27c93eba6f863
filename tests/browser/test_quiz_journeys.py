"""A trainee takes a quiz in Chromium: answers are saved as they click (quiz.js, under the site's CSP), kept
across a reload, and graded on submit; the countdown shows the time left; an attempt whose time ran out is
closed and graded when the page is next opened. Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from lms.db import db, utcnow
from lms.quizzes.models import Attempt
from tests.browser.support import log_in, submit, visit
from tests.content_tree import add_quiz, load_into, make_tree, time_out
from tests.factories import PASSWORD, People

SAVED = "All answers saved"


@pytest.fixture
def quiz_content(app, tmp_path):
    """The small test tree with the alpha quiz, loaded before the live server answers anything."""
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    load_into(app, root)
    return root


def question(page: Page, qid: str):
    return page.locator(f"#question-{qid}")


def start_quiz(page: Page) -> int:
    visit(page, "/quizzes/alpha")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha quiz")
    expect(page.get_by_text("4 questions, drawn at random for each attempt.")).to_be_visible()
    submit(page, page.get_by_role("button", name="Start the quiz"))
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    expect(page.locator("ol.questions > li")).to_have_count(4)
    return int(re.search(r"/attempts/(\d+)$", page.url).group(1))


def autosave_status(page: Page):
    return page.locator("[data-autosave-status]")


def autosave_of(page: Page, qid: str):
    """Wait for quiz.js's PUT that carries the answer to `qid` (changes close together go in one PUT)."""
    return page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/answers")
                                and f'"{qid}"' in (r.request.post_data or ""))


def test_trainee_answers_with_autosave_reloads_and_passes(page: Page, people: People, quiz_content):
    log_in(page, people.trainee.email, PASSWORD)
    aid = start_quiz(page)

    # some answers, by clicking; quiz.js saves them through the API
    with autosave_of(page, "safe") as put:
        question(page, "pick-a").get_by_label("A", exact=True).check()
        question(page, "safe").get_by_label("True", exact=True).check()
    assert put.value.status == 200
    expect(autosave_status(page)).to_contain_text(SAVED)

    # a reload (or coming back later) shows them still chosen
    visit(page, f"/attempts/{aid}")
    expect(autosave_status(page)).to_have_text("")
    expect(question(page, "pick-a").get_by_label("A", exact=True)).to_be_checked()
    expect(question(page, "pick-a").get_by_label("B", exact=True)).not_to_be_checked()
    expect(question(page, "safe").get_by_label("True", exact=True)).to_be_checked()
    expect(question(page, "both").get_by_role("checkbox", name="Right one", exact=True)).not_to_be_checked()

    # the rest
    with autosave_of(page, "name-it") as put:
        question(page, "both").get_by_role("checkbox", name="Right one", exact=True).check()
        question(page, "both").get_by_role("checkbox", name="Right two", exact=True).check()
        question(page, "name-it").get_by_label("Your answer").fill("naloxone")
        question(page, "name-it").get_by_label("Your answer").press("Tab")
    assert put.value.status == 200
    expect(autosave_status(page)).to_contain_text(SAVED)

    submit(page, page.get_by_role("button", name="Submit for grading"))
    expect(page).to_have_url(re.compile(rf"/attempts/{aid}/result$"))
    expect(page.get_by_role("heading", level=2, name="Passed")).to_be_visible()
    expect(page.locator(".score")).to_contain_text("Score: 100%")
    expect(page.get_by_role("heading", level=2, name="Review")).to_be_visible()

    # the quiz page lists the attempt as passed
    visit(page, "/quizzes/alpha")
    expect(page.get_by_role("table")).to_contain_text("Submitted")
    expect(page.get_by_role("table")).to_contain_text("100%")


def test_attempt_whose_time_ran_out_is_closed_on_reload(page: Page, people: People, app, quiz_content):
    log_in(page, people.other_trainee.email, PASSWORD)
    aid = start_quiz(page)
    with autosave_of(page, "pick-a") as put:
        question(page, "pick-a").get_by_label("A", exact=True).check()
    assert put.value.status == 200
    expect(autosave_status(page)).to_contain_text(SAVED)

    # the time limit and the 30-second grace are over
    time_out(app, aid)
    with app.app_context():
        assert db.session.get(Attempt, aid).deadline + timedelta(seconds=30) < utcnow()

    visit(page, f"/attempts/{aid}")
    expect(page).to_have_url(re.compile(rf"/attempts/{aid}/result$"))
    expect(page.get_by_role("status").filter(has_text="Time ran out")).to_contain_text(
        "Time ran out, so the attempt was closed and graded with the answers saved in time.")
    expect(page.get_by_role("heading", level=2, name="Not passed yet")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Closed when time ran out"))).to_be_visible()
    expect(page.locator(".score")).to_contain_text("Score: 25%")
    with app.app_context():
        assert db.session.get(Attempt, aid).status.value == "timed_out"


def test_countdown_shows_the_time_left(page: Page, people: People, quiz_content):
    log_in(page, people.trainee.email, PASSWORD)
    start_quiz(page)
    clock = page.get_by_role("timer")
    expect(clock).to_be_visible()
    expect(clock).to_have_text(re.compile(r"^Time left: (9|10):\d\d$"))
    first = clock.text_content()
    expect(clock).not_to_have_text(first or "")  # it ticks
    expect(page.locator(".attempt-bar")).to_contain_text("Time allowed until")
