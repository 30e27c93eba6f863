"""Supervision in Chromium: a supervisor's dashboard of their trainees' progress, filtered to those who are
stuck, on to a trainee's attempts; an administrator's reports and their way to one supervisor's dashboard.
Every page is checked with axe-core (support.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.accounts.models import Role, User
from lms.db import db, utcnow
from lms.learning import services as learning
from lms.learning.models import Course, Lesson
from lms.quizzes import services as quizzes
from tests import factories
from tests.browser.support import follow, log_in, submit, visit
from tests.content_tree import add_quiz, load_into, make_tree
from tests.factories import PASSWORD, People


@pytest.fixture
def progress(app, people: People, tmp_path) -> None:
    """Sam Supervisor's trainees: Tess (nothing yet), Abe (alpha's lessons read), Zoe (failed alpha's quiz twice).
    Abe and Zoe have both started alpha."""
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    load_into(app, root)
    with app.app_context():
        sup = db.session.get(User, people.supervisor.id)
        abe = factories.make_user(Role.TRAINEE, name="Abe Able", supervisor=sup)
        zoe = factories.make_user(Role.TRAINEE, name="Zoe Zed", supervisor=sup)
        for lesson in db.session.scalars(select(Lesson).join(Course).where(Course.slug == "alpha")):
            learning.complete_lesson(abe, lesson)
        t0 = utcnow() - timedelta(hours=1)
        for start in (t0, t0 + timedelta(minutes=10)):
            attempt, _ = quizzes.start_attempt(zoe, quizzes.get_quiz("alpha"), now=start)
            quizzes.submit_attempt(attempt, zoe, {}, now=start + timedelta(minutes=1))
        db.session.commit()


def rows(page: Page):
    return page.get_by_role("region", name="Progress of the trainees").locator("tbody tr")


def test_supervisor_sees_progress_and_filters_to_the_stuck(page: Page, people: People, progress):
    log_in(page, people.supervisor.email, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Sam Supervisor")
    expect(page.get_by_role("heading", level=2, name="Your trainees")).to_be_visible()
    expect(rows(page)).to_have_count(3)
    abe = rows(page).filter(has_text="Abe Able")
    expect(abe).to_contain_text("2 of 4")  # lessons
    expect(abe.locator("progress")).to_have_attribute("value", "2")
    expect(rows(page).filter(has_text="Tess Trainee")).to_contain_text("Not started")
    expect(page.get_by_role("main")).not_to_contain_text(people.other_trainee.display_name)

    form = page.get_by_role("search", name="Filter and sort trainees")
    form.get_by_label("Show").select_option(label="Stuck (1)")
    submit(page, form.get_by_role("button", name="Show", exact=True))
    expect(page).to_have_url(re.compile(r"status=stuck"))
    expect(rows(page)).to_have_count(1)
    zoe = rows(page).first
    expect(zoe).to_contain_text("Zoe Zed")
    expect(zoe).to_contain_text("Failed the same quiz twice or more without passing it")
    expect(page.get_by_role("status").filter(has_text="trainee shown")).to_contain_text("1 trainee shown (stuck)")
    expect(form.get_by_label("Show")).to_have_value("stuck")  # the form remembers the choice

    # the numbers at a glance lead to the same filters
    follow(page, page.get_by_role("link", name=re.compile(r"^1 not started$")))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Tess Trainee")

    # sorted by progress, most first
    visit(page, "/supervision")
    expect(page.get_by_role("heading", level=1)).to_have_text("Supervision")
    form.get_by_label("Sort by").select_option("progress")
    form.get_by_label("Order").select_option("desc")
    submit(page, form.get_by_role("button", name="Show", exact=True))
    expect(rows(page).first).to_contain_text("Abe Able")

    follow(page, page.get_by_role("link", name="Attempts of Zoe Zed"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Zoe Zed")


def test_admin_reads_the_reports_and_opens_a_supervisors_dashboard(page: Page, people: People, progress):
    log_in(page, people.admin.email, PASSWORD)
    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    funnel = page.get_by_role("region", name="Completion funnel")
    expect(funnel.get_by_role("row", name=re.compile(r"^Active trainees 4 "))).to_be_visible()
    by_course = page.get_by_role("region", name="Progress by course")
    expect(by_course.get_by_role("row", name=re.compile(r"^Course alpha 2 0 "))).to_be_visible()
    expect(page.get_by_role("link", name="Download “Progress by course” as CSV")).to_be_visible()

    follow(page, page.get_by_role("region", name="Progress by supervisor").get_by_role("link", name="Sam Supervisor"))
    expect(page.get_by_role("heading", level=2, name="Trainees of Sam Supervisor")).to_be_visible()
    expect(rows(page)).to_have_count(3)

    visit(page, "/supervision")  # no supervisor chosen yet
    page.get_by_label("Supervisor", exact=True).select_option(label=f"Sky Supervisor ({people.other_supervisor.email})")
    submit(page, page.get_by_role("button", name="Show their trainees"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text(people.other_trainee.display_name)


def test_the_dashboard_on_a_phone(pages, people: People, progress):
    phone = pages.new(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
                      has_touch=True)
    log_in(phone, people.supervisor.email, PASSWORD)
    expect(rows(phone)).to_have_count(3)
    # the table scrolls inside its region rather than widening the page
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
