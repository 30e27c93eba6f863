"""Report pages: who may see the supervision dashboard and the administrators' reports, what they show, the
filter/sort/search form, the CSV downloads, and a page whose statements do not grow with the trainees."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from lms.accounts.models import Role, User
from lms.db import db, utcnow
from lms.learning import services as learning
from lms.learning.models import Course, Lesson
from lms.quizzes import services as quizzes
from lms.records import reports
from lms.records.report_views import TRANSCRIPT_ENDPOINT
from tests import factories
from tests.conftest import Browser
from tests.content_tree import CORRECT, make_quiz_tree


def text(response) -> str:
    return response.get_data(as_text=True)


def row_names(page: str) -> list[str]:
    """The trainees' names in the progress table, in order."""
    body = page[page.find("<tbody>"):page.find("</tbody>")]
    return [html.unescape(n) for n in re.findall(r'<th scope="row">([^<]*)<br>', body)]


@pytest.fixture
def content(app, tmp_path):
    return make_quiz_tree(app, tmp_path / "content")


@pytest.fixture
def trainees(app, people, content) -> dict[str, int]:
    """Sam Supervisor's trainees: Tess (nothing yet), Abe (alpha's lessons read), Zoe (failed the quiz twice)."""
    with app.app_context():
        sup = db.session.get(User, people.supervisor.id)
        abe = factories.make_user(Role.TRAINEE, name="Abe Able", supervisor=sup)
        zoe = factories.make_user(Role.TRAINEE, name="Zoe Zed", supervisor=sup)
        alpha = list(db.session.scalars(select(Lesson).join(Course).where(Course.slug == "alpha")))
        for lesson in alpha:
            learning.complete_lesson(abe, lesson)
        quiz = quizzes.get_quiz("alpha")
        t0 = utcnow() - timedelta(hours=1)
        for start in (t0, t0 + timedelta(minutes=10)):
            attempt, _ = quizzes.start_attempt(zoe, quiz, now=start)
            quizzes.submit_attempt(attempt, zoe, {"safe": not CORRECT["safe"]}, now=start + timedelta(minutes=1))
        db.session.commit()
        return {"Tess Trainee": people.trainee.id, "Abe Able": abe.id, "Zoe Zed": zoe.id}


# ---------------------------------------------------------------- who may see what


def test_anonymous_is_sent_to_login(client):
    for url in ("/supervision", "/admin/reports", "/admin/reports/courses.csv"):
        r = client.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url


@pytest.mark.parametrize("who, url, status", [
    ("trainee", "/supervision", 403),
    ("trainee", "/admin/reports", 403),
    ("trainee", "/admin/reports/courses.csv", 403),
    ("supervisor", "/admin/reports", 403),
    ("supervisor", "/admin/reports/funnel.csv", 403),
    ("supervisor", "/supervision", 200),
    ("admin", "/supervision", 200),
    ("admin", "/admin/reports", 200),
])
def test_permissions(login_as, who, url, status):
    assert login_as(who).get(url).status_code == status


def test_a_supervisor_sees_only_their_own_trainees(login_as, people, trainees):
    sup = login_as("supervisor")
    for url in ("/supervision", "/"):
        page = text(sup.get(url))
        assert row_names(page) == ["Abe Able", "Tess Trainee", "Zoe Zed"], url
        assert people.other_trainee.display_name not in page
    home = text(sup.get("/"))
    assert f"<h1>Hello, {people.supervisor.display_name}</h1>" in home
    assert re.search(r"<h2[^>]*>Your trainees</h2>", home)
    for name, user_id in trainees.items():
        assert f'href="/people/{user_id}/attempts"' in home, name
    # another supervisor's trainees are out of reach, even by asking for them
    assert sup.get(f"/supervision?supervisor={people.other_supervisor.id}").status_code == 403
    assert sup.get(f"/supervision?supervisor={people.supervisor.id}").status_code == 200
    other = text(login_as("other_supervisor").get("/supervision"))
    assert row_names(other) == [people.other_trainee.display_name]


def test_an_admin_chooses_a_supervisor(login_as, people, trainees):
    admin = login_as("admin")
    page = text(admin.get("/supervision"))
    assert "Choose a supervisor" in page and "<tbody>" not in page
    page = text(admin.get(f"/supervision?supervisor={people.supervisor.id}"))
    assert f"Trainees of {people.supervisor.display_name}" in page
    assert row_names(page) == ["Abe Able", "Tess Trainee", "Zoe Zed"]
    assert f'name="supervisor" value="{people.supervisor.id}"' in page  # kept by the filter form
    for wrong in (people.trainee.id, 99999, "abc"):
        assert admin.get(f"/supervision?supervisor={wrong}").status_code == 404


def test_the_page_shows_progress_and_why_someone_is_stuck(login_as, trainees):
    page = text(login_as("supervisor").get("/supervision"))
    abe = page[page.find("Abe Able"):]
    abe = abe[:abe.find("</tr>")]
    assert "0 of 2" in abe and "2 of 4" in abe and "Active" in abe
    zoe = page[page.find("Zoe Zed"):]
    zoe = zoe[:zoe.find("</tr>")]
    assert "Stuck" in zoe and "Failed the same quiz twice or more without passing it" in zoe
    assert "latest attempt at a quiz failed" in zoe
    assert re.search(r"<td>2<br>", zoe)  # two failed attempts


# ---------------------------------------------------------------- filters, sorting, search, paging


@pytest.mark.parametrize("query, names", [
    ("", ["Abe Able", "Tess Trainee", "Zoe Zed"]),
    ("?sort=name&order=desc", ["Zoe Zed", "Tess Trainee", "Abe Able"]),
    ("?sort=progress&order=desc", ["Abe Able", "Tess Trainee", "Zoe Zed"]),
    ("?sort=activity&order=asc", ["Tess Trainee", "Zoe Zed", "Abe Able"]),
    ("?status=stuck", ["Zoe Zed"]),
    ("?status=not_started", ["Tess Trainee"]),
    ("?status=active&sort=name&order=desc", ["Abe Able"]),
    ("?status=completed", []),
    ("?q=zed", ["Zoe Zed"]),
])
def test_filters_and_sorting_change_the_rows(login_as, trainees, query, names):
    page = text(login_as("supervisor").get(f"/supervision{query}"))
    assert row_names(page) == names
    if not names:
        assert "Nobody matches these filters." in page


def test_the_form_keeps_its_choices_and_counts(login_as, trainees):
    page = text(login_as("supervisor").get("/supervision?status=stuck&sort=activity&order=desc&q=z"))
    assert '<option value="stuck" selected>Stuck (1)</option>' in page
    assert '<option value="activity" selected>' in page and '<option value="desc" selected>' in page
    assert 'value="z"' in page
    for label in ("Name or e-mail", "Show", "Sort by", "Order"):
        assert f">{label}</label>" in page


@pytest.mark.parametrize("query", ["?status=bogus", "?sort=bogus", "?order=sideways"])
def test_unknown_choices_are_refused(login_as, query):
    assert login_as("supervisor").get(f"/supervision{query}").status_code == 400


def test_paging_keeps_the_filters(app, login_as, people):
    with app.app_context():
        sup = db.session.get(User, people.supervisor.id)
        for i in range(30):
            factories.make_user(Role.TRAINEE, name=f"Page Person {i:02d}", supervisor=sup)
    sup = login_as("supervisor")
    first = text(sup.get("/supervision?sort=name&order=desc"))
    assert len(row_names(first)) == 25 and "Page 1 of 2" in first
    assert 'href="/supervision?sort=name&amp;order=desc&amp;page=2"' in first
    second = text(sup.get("/supervision?sort=name&order=desc&page=2"))
    assert row_names(second)[-1] == "Page Person 00" and len(row_names(second)) == 6  # 31 with Tess


# ---------------------------------------------------------------- the transcript link


def test_transcript_links_appear_once_the_transcript_page_exists(app_factory, people, trainees):
    without = app_factory()
    if TRANSCRIPT_ENDPOINT not in without.view_functions:
        browser = _logged_in(without, people.supervisor.email)
        assert "/transcript" not in text(browser.get("/supervision"))
    with_transcripts = app_factory()
    if TRANSCRIPT_ENDPOINT not in with_transcripts.view_functions:
        with_transcripts.add_url_rule("/people/<int:user_id>/transcript", endpoint=TRANSCRIPT_ENDPOINT,
                                      view_func=lambda user_id: "transcript")
    page = text(_logged_in(with_transcripts, people.supervisor.email).get("/supervision"))
    for user_id in trainees.values():
        assert f'href="/people/{user_id}/transcript"' in page


def _logged_in(app, email):
    browser = Browser(app.test_client())
    assert browser.login(email).status_code == 302
    return browser


# ---------------------------------------------------------------- administrators' reports


def test_admin_reports_page(login_as, people, trainees):
    page = text(login_as("admin").get("/admin/reports"))
    for heading in ("Completion funnel", "Progress by course", "Progress by supervisor", "The CSV columns"):
        assert heading in page
    assert 'href="/admin/reports/courses.csv"' in page and 'href="/admin/reports/funnel.csv"' in page
    assert f'href="/supervision?supervisor={people.supervisor.id}"' in page
    assert ">Reports</a>" in page  # in the main navigation


@pytest.mark.parametrize("name", sorted(reports.CSV_REPORTS))
def test_csv_downloads(login_as, trainees, name):
    r = login_as("admin").get(f"/admin/reports/{name}.csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(rf'attachment; filename="{reports.CSV_REPORTS[name].filename}-\d{{4}}-\d\d-\d\d\.csv"',
                        r.headers["Content-Disposition"])
    rows = list(csv.reader(io.StringIO(text(r))))
    assert rows[0] == [header for header, _ in reports.CSV_REPORTS[name].columns]
    assert len(rows) > 1


def test_csv_content(login_as, people, trainees):
    admin = login_as("admin")
    sheet = text(admin.get("/admin/reports/supervisors.csv"))
    by_sup = {r["supervisor"]: r for r in csv.DictReader(io.StringIO(sheet))}
    assert by_sup[people.supervisor.display_name]["trainees"] == "3"
    assert by_sup[people.supervisor.display_name]["trainees_stuck"] == "1"
    assert by_sup[people.other_supervisor.display_name]["trainees"] == "1"
    courses = list(csv.DictReader(io.StringIO(text(admin.get("/admin/reports/courses.csv")))))
    assert [(c["course"], c["trainees_started"], c["trainees_completed"]) for c in courses] == [
        ("alpha", "2", "0"), ("beta", "0", "0")]  # Abe read lessons, Zoe tried the quiz
    assert admin.get("/admin/reports/nope.csv").status_code == 404


# ---------------------------------------------------------------- no per-row queries


def test_the_dashboard_runs_as_many_statements_for_60_trainees_as_for_5(app, people, login_as):
    sup = login_as("supervisor")

    def add(n):
        with app.app_context():
            s = db.session.get(User, people.supervisor.id)
            for _ in range(n):
                factories.make_user(Role.TRAINEE, supervisor=s)

    def statements(url):
        seen = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert sup.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    add(4)  # with Tess: 5
    few = statements("/supervision"), statements("/")
    add(55)
    assert (statements("/supervision"), statements("/")) == few


def test_admin_reports_page_offers_record_exports_that_download(login_as):
    admin = login_as("admin")
    html = admin.get("/admin/reports").get_data(as_text=True)
    assert "Export the learning record" in html and 'name="format" value="xapi"' in html
    # what the two forms send, with the browser's session cookie
    csv = admin.get("/api/v1/records/export?format=csv&kind=attempts&since=")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).startswith("attempt_id,user_id,")
    xapi = admin.get("/api/v1/records/export?format=xapi&since=")
    assert xapi.status_code == 200 and xapi.get_json() is not None


def test_admin_figures_are_kept_for_a_while_and_say_when_they_were_computed(app_factory, people):
    def trainees_in_funnel(browser) -> str:
        page = browser.get("/admin/reports").get_data(as_text=True)
        assert "Figures as of" in page
        return re.search(r'<th scope="row">[^<]*</th><td>(\d+)</td>', page).group(1)

    for seconds, changes in ((120, False), (0, True)):
        app = app_factory(REPORT_CACHE_SECONDS=seconds)
        admin = Browser(app.test_client())
        assert admin.login("admin@example.org").status_code == 302
        before = trainees_in_funnel(admin)
        with app.app_context():
            factories.make_user(Role.TRAINEE)
        assert (trainees_in_funnel(admin) != before) is changes
