"""Quiz pages without JavaScript: start, save, reload, submit, result; locked, limits; staff pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from lms.db import db
from lms.quizzes.models import Attempt
from tests.content_tree import QUIZ, add_quiz, load_into, make_quiz_tree, make_tree


@pytest.fixture
def content(app, tmp_path):
    return make_quiz_tree(app, tmp_path / "content")


def start(trainee):
    r = trainee.submit("/quizzes/alpha", "/quizzes/alpha/attempts")
    assert r.status_code == 302, r.get_data(as_text=True)
    return int(re.search(r"/attempts/(\d+)", r.headers["Location"]).group(1))


FORM_RIGHT = {"q-pick-a": "a", "q-safe": "true", "q-both--shown": "1", "q-both": ["a", "b"], "q-name-it": "naloxone"}


def test_quiz_page_explains_the_rules(login_as, content):
    html = login_as("trainee").get("/quizzes/alpha").get_data(as_text=True)
    assert "4 questions, drawn at random" in html and "75% or more" in html and "safety-critical" in html
    assert "Time limit: 10 minutes" in html and "Attempts allowed: 3" in html


def test_no_script_journey_save_reload_submit(login_as, content, app):
    trainee = login_as("trainee")
    aid = start(trainee)
    page = trainee.get(f"/attempts/{aid}").get_data(as_text=True)
    assert "Pick A." in page and 'name="q-pick-a"' in page
    # the answer key is nowhere on the page
    assert "correct" not in page.lower().replace("not correct", "") and "weight" not in page
    r = trainee.submit(f"/attempts/{aid}", f"/attempts/{aid}/save", data={"q-pick-a": "a", "q-name-it": "narcan"})
    assert r.status_code == 302
    page = trainee.get(f"/attempts/{aid}").get_data(as_text=True)
    assert re.search(r'value="a" checked', page) and 'value="narcan"' in page  # kept across a reload
    r = trainee.submit(f"/attempts/{aid}", f"/attempts/{aid}/submit", data=FORM_RIGHT)
    assert r.headers["Location"].endswith(f"/attempts/{aid}/result")
    result = trainee.get(f"/attempts/{aid}/result").get_data(as_text=True)
    assert "Passed" in result and "100%" in result and "Because A." in result and "right answer" in result
    # the attempt page now leads to the result; saving again is refused
    assert trainee.get(f"/attempts/{aid}").status_code == 302
    r = trainee.submit(f"/attempts/{aid}/result", f"/attempts/{aid}/save", data={"q-pick-a": "b"})
    with app.app_context():
        assert db.session.get(Attempt, aid).score == 100.0


def test_critical_miss_is_explained(login_as, content):
    trainee = login_as("trainee")
    aid = start(trainee)
    trainee.submit(f"/attempts/{aid}", f"/attempts/{aid}/submit", data={**FORM_RIGHT, "q-safe": "false"})
    html = trainee.get(f"/attempts/{aid}/result").get_data(as_text=True)
    assert "Not passed yet" in html and "safety-critical question was not answered correctly" in html


def test_time_out_closes_on_next_visit(login_as, content, app):
    trainee = login_as("trainee")
    aid = start(trainee)
    trainee.submit(f"/attempts/{aid}", f"/attempts/{aid}/save", data=FORM_RIGHT)
    with app.app_context():
        attempt = db.session.get(Attempt, aid)
        attempt.deadline = attempt.deadline - timedelta(minutes=20)
        db.session.commit()
    r = trainee.get(f"/attempts/{aid}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/result")
    html = trainee.get(f"/attempts/{aid}/result").get_data(as_text=True)
    assert "Closed when time ran out" in html


def test_other_people_cannot_open_an_attempt(login_as, content):
    aid = start(login_as("trainee"))
    for who in ("other_trainee", "other_supervisor"):
        assert login_as(who).get(f"/attempts/{aid}").status_code == 404
    # the trainee's supervisor may look at the result once it is closed, not answer it
    assert login_as("supervisor").get(f"/attempts/{aid}").status_code == 302


def test_supervisor_sees_history_and_sets_extra_time(login_as, content, people, app):
    start(login_as("trainee"))
    sup = login_as("supervisor")
    page = f"/people/{people.trainee.id}/attempts"
    assert "Alpha quiz" in sup.get(page).get_data(as_text=True)
    r = sup.submit(page, data={"factor": "1.5"})
    assert r.status_code == 302
    with app.app_context():
        from lms.accounts.models import User

        assert db.session.get(User, people.trainee.id).accommodation_factor == 1.5
    assert sup.submit(page, data={"factor": "9"}).status_code == 422
    assert login_as("other_supervisor").get(page).status_code == 404
    assert login_as("trainee").get(page).status_code == 403


def test_admin_question_statistics(login_as, content):
    trainee = login_as("trainee")
    aid = start(trainee)
    trainee.submit(f"/attempts/{aid}", f"/attempts/{aid}/submit", data=FORM_RIGHT)
    admin = login_as("admin")
    assert "Alpha quiz" in admin.get("/admin/quizzes").get_data(as_text=True)
    html = admin.get("/admin/quizzes/alpha").get_data(as_text=True)
    assert "pick-a" in html and "too few attempts to judge" in html


def test_locked_course_quiz_cannot_start(login_as, app, tmp_path):
    root = make_tree(tmp_path / "c2")
    add_quiz(root, course="beta", text=QUIZ)
    load_into(app, root)
    trainee = login_as("trainee")
    assert "opens once you have finished" in trainee.get("/quizzes/beta").get_data(as_text=True)
    r = trainee.submit("/quizzes/beta", "/quizzes/beta/attempts")
    assert r.status_code == 302 and r.headers["Location"].endswith("/quizzes/beta")
    with app.app_context():
        assert db.session.scalars(select(Attempt)).all() == []
