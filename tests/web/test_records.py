"""Transcript pages: one's own, a supervisor's trainee, an admin's anyone, 404 for everyone else; the PDF."""

from __future__ import annotations

import re

import pytest

from lms.accounts.models import User
from lms.db import db
from tests.content_tree import finish_alpha, make_quiz_tree


@pytest.fixture
def content(app, tmp_path):
    return make_quiz_tree(app, tmp_path / "content")


@pytest.fixture
def record(app, people, content):
    """The trainee has finished alpha: both lessons and a passed quiz."""
    return finish_alpha(app, people.trainee.id)[0].id


def test_own_transcript(login_as, record):
    r = login_as("trainee").get("/transcript")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<h1>Your transcript</h1>" in html
    assert re.search(r'href="/transcript" aria-current="page">Transcript</a>', html)  # in the trainee's menu
    assert "Course alpha" in html and "Course beta" in html and "Alpha quiz" in html
    assert "1 of 2</strong> required courses done" in html and "100%" in html
    assert f'href="/attempts/{record}/result"' in html
    assert "Print command" in html and 'href="/transcript?format=pdf"' in html
    assert "<script" not in html.split("<main", 1)[1]  # printable without any script


def test_supervisor_sees_their_trainee_from_the_home_page(login_as, people, record):
    sup = login_as("supervisor")
    home = sup.get("/").get_data(as_text=True)
    link = f"/people/{people.trainee.id}/transcript"
    assert f'href="{link}"' in home
    html = sup.get(link).get_data(as_text=True)
    assert "Transcript of Tess Trainee" in html and "Sam Supervisor" in html and "Alpha quiz" in html
    assert f'href="{link}?format=pdf"' in html
    assert 'href="/transcript"' not in html  # no "Transcript" entry in a supervisor's own menu


@pytest.mark.parametrize("who", ["other_supervisor", "other_trainee"])
def test_others_get_404(login_as, people, record, who):
    browser = login_as(who)
    for path in (f"/people/{people.trainee.id}/transcript", f"/people/{people.trainee.id}/transcript?format=pdf"):
        assert browser.get(path).status_code == 404


def test_admin_sees_anyone_and_links_from_the_user_page(login_as, people, record):
    admin = login_as("admin")
    for person in (people.trainee, people.other_trainee):
        r = admin.get(f"/people/{person.id}/transcript")
        assert r.status_code == 200 and f"Transcript of {person.display_name}" in r.get_data(as_text=True)
    user_page = admin.get(f"/admin/users/{people.trainee.id}").get_data(as_text=True)
    assert f'href="/people/{people.trainee.id}/transcript"' in user_page
    assert admin.get("/people/999999/transcript").status_code == 404


def test_own_id_leads_to_own_transcript_and_login_is_required(login_as, client, people, content):
    r = login_as("trainee").get(f"/people/{people.trainee.id}/transcript?format=pdf")
    assert r.status_code == 302 and r.headers["Location"].endswith("/transcript?format=pdf")
    for path in ("/transcript", f"/people/{people.trainee.id}/transcript"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_pdf_download(login_as, people, record):
    for who, path in (("trainee", "/transcript?format=pdf"),
                      ("supervisor", f"/people/{people.trainee.id}/transcript?format=pdf")):
        r = login_as(who).get(path)
        assert r.status_code == 200, who
        assert r.headers["Content-Type"] == "application/pdf"
        assert r.data.startswith(b"%PDF-")
        assert re.fullmatch(r'attachment; filename="transcript-tess-trainee-\d{4}-\d{2}-\d{2}\.pdf"',
                            r.headers["Content-Disposition"])
        assert r.headers["Cache-Control"] == "no-store"


def test_unknown_format_is_a_bad_request(login_as, content):
    assert login_as("trainee").get("/transcript?format=xml").status_code == 400


def test_names_are_escaped_on_the_page(app, login_as, people, content):
    with app.app_context():
        trainee = db.session.get(User, people.trainee.id)
        trainee.display_name = '<img src="file:///etc/passwd">'
        db.session.commit()
    html = login_as("supervisor").get(f"/people/{people.trainee.id}/transcript").get_data(as_text=True)
    assert '<img src="file:///etc/passwd">' not in html and "&lt;img src=" in html
