"""The supervisor's dashboard lists what waits for their review: practicum entries and certification requests of
their own trainees, oldest first, with a count per trainee, in a number of statements that does not grow."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from lms.accounts.models import User
from lms.certification import services
from lms.certification.models import PracticumKind
from lms.db import db, utcnow
from tests.certification_support import REFLECTION, make_cert_tree, make_request


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


def log_entries(app, user_id: int, n: int, kind: PracticumKind = PracticumKind.OBSERVED) -> list[int]:
    with app.app_context():
        trainee = db.session.get(User, user_id)
        ids = [services.log_practicum(trainee, kind=kind, session_date=utcnow().date() - timedelta(days=2),
                                      group_name="Monday group", reflection=REFLECTION).id for _ in range(n)]
        db.session.commit()
        return ids


def pending_section(page: str) -> str:
    start = page.index('id="pending-h"')
    return page[start:page.index("</section>", start)]


def test_the_dashboard_lists_reviews_waiting_for_the_supervisor(app, people, tree, login_as):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    entry_id, = log_entries(app, people.trainee.id, 1, PracticumKind.LED_OBSERVED)
    log_entries(app, people.other_trainee.id, 2)

    page = login_as("supervisor").get("/").get_data(as_text=True)
    section = pending_section(page)
    assert "Waiting for your review" in section
    assert f'href="/certification/requests/{request_id}"' in section
    assert f'href="/practicum/{entry_id}/review"' in section
    assert "Led a session while observed" in section and "Tess Trainee" in section
    assert "Theo Trainee" not in section  # another supervisor's trainee
    # the request came first, so it is listed first
    assert section.index("Certification request") < section.index("Practicum entry")
    row = re.search(r'<th scope="row">Tess Trainee<br>.*?</tr>', page, re.S).group(0)
    assert re.findall(r"<td class=\"reviews-waiting\">(\d+)</td>", row) == ["2"]

    other = pending_section(login_as("other_supervisor").get("/supervision").get_data(as_text=True))
    assert other.count("Practicum entry") == 2 and "Tess Trainee" not in other


def test_an_admin_sees_the_chosen_supervisors_waiting_reviews(app, people, tree, login_as):
    log_entries(app, people.trainee.id, 1)
    page = login_as("admin").get(f"/supervision?supervisor={people.supervisor.id}").get_data(as_text=True)
    assert "Waiting for Sam Supervisor's review" in pending_section(page)


def test_nothing_waiting_says_so(app, people, tree, login_as):
    assert "Nothing is waiting for review." in login_as("supervisor").get("/").get_data(as_text=True)


def test_waiting_reviews_do_not_add_statements_per_entry(app, people, tree, login_as):
    sup = login_as("supervisor")

    def statements() -> int:
        seen: list[str] = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert sup.get("/supervision").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    log_entries(app, people.trainee.id, 1)
    few = statements()
    log_entries(app, people.trainee.id, 30)
    assert statements() == few
