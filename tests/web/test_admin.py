"""The administration pages: who may see them, the list of people, adding people, roles, deactivation,
bulk supervisor assignment and the audit trail."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from lms.accounts import services
from lms.accounts.models import LoginSession, Role, User
from lms.audit import AuditEvent
from lms.db import db
from tests import factories
from tests.conftest import Browser, csrf_from

NEW_PASSWORD = "a brand new passphrase for tests"

FLASH_RE = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)


# ---------------------------------------------------------------- helpers


def text(response) -> str:
    return response.get_data(as_text=True)


def flashes(page: str) -> list[tuple[str, str]]:
    """(category, text) of each flashed message on the page."""
    return [(c, html.unescape(t).strip()) for c, t in FLASH_RE.findall(page)]


def listed_names(page: str) -> list[str]:
    """Display names in the people table, in order."""
    body = page[page.find("<tbody>"):page.find("</tbody>")]
    return [html.unescape(n) for n in re.findall(r'<td><a href="/admin/users/\d+">([^<]*)</a></td>', body)]


def audit_rows(page: str) -> list[tuple[str, str]]:
    """(actor, action) of each row in the audit table."""
    body = page[page.find("<tbody>"):page.find("</tbody>")]
    return [(html.unescape(who), action)
            for who, action in re.findall(r"<td>([^<]*)</td>\s*<td><code>([^<]*)</code></td>", body)]


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def load_user(app, user_id: int) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def post_with_token(browser: Browser, action: str, data: dict | None = None, page: str = "/settings"):
    """POST with a valid CSRF token taken from a page the browser may see."""
    return browser.submit(page, action, data)


# ---------------------------------------------------------------- access


ARG_RE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def fill(rule: str, ids: dict[str, int]) -> str:
    """A URL for a rule: known ids for known arguments, 1 for other numbers, "x" for other text."""
    return ARG_RE.sub(lambda m: str(ids.get(m.group(2), 1)) if m.group(1) == "int" else "x", rule)


def admin_routes(app, people) -> list[tuple[str, str, dict]]:
    """(method, url, form data) for every rule under /admin, discovered from the URL map."""
    sup, tid = str(people.other_supervisor.id), str(people.trainee.id)
    data = {
        "admin.create_user": {"email": "x@example.org", "display_name": "X", "role": "admin", "supervisor": "",
                              "send_invitation": "y"},
        "admin.bulk_assign": {"user_ids": tid, "supervisor": sup},
        "admin.change_role": {"role": "admin"},
        "admin.assign_supervisor": {"supervisor": sup},
    }
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        url = fill(rule.rule, {"user_id": people.trainee.id})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, url, data.get(rule.endpoint, {}) if method == "POST" else {}))
    return routes


def test_route_discovery_finds_the_admin_routes(app, people):
    found = {(m, u) for m, u, _ in admin_routes(app, people)}
    tid = people.trainee.id
    assert {("GET", "/admin/users"), ("GET", "/admin/users/new"), ("POST", "/admin/users/new"),
            ("GET", f"/admin/users/{tid}"), ("POST", f"/admin/users/{tid}/role"), ("GET", "/admin/audit"),
            ("POST", f"/admin/users/{tid}/deactivate"), ("POST", "/admin/users/assign")} <= found
    assert len(found) >= 12


@pytest.mark.parametrize("who", ["trainee", "supervisor"])
def test_admin_pages_are_forbidden_to_other_roles(app, login_as, people, who):
    browser = login_as(who)
    users, events = count(app, User), count(app, AuditEvent)
    for method, url, data in admin_routes(app, people):
        if method == "GET":
            r = browser.get(url)
            assert "You do not have access to this page" in text(r), url
        else:  # with a valid CSRF token, so that only the role stops it
            r = post_with_token(browser, url, data)
        assert r.status_code == 403, (method, url)
    assert browser.get("/admin/users?q=tess").status_code == 403
    assert (count(app, User), count(app, AuditEvent)) == (users, events)
    trainee = load_user(app, people.trainee.id)
    assert (trainee.role, trainee.active, trainee.supervisor_id) == (Role.TRAINEE, True, people.supervisor.id)


def test_admin_pages_send_anonymous_visitors_to_login(app, client, people):
    users, events = count(app, User), count(app, AuditEvent)
    for method, url, data in admin_routes(app, people):
        if method == "GET":
            r = client.get(url)
            assert is_sent_to_login(r), url
            assert parse_qs(urlsplit(r.headers["Location"]).query)["next"] == [url]
        else:
            token = csrf_from(text(client.get("/login")))
            r = client.post(url, data={"csrf_token": token, **data})
            assert is_sent_to_login(r), url
    r = client.get("/admin/users?q=tess")
    assert parse_qs(urlsplit(r.headers["Location"]).query)["next"] == ["/admin/users?q=tess"]
    assert (count(app, User), count(app, AuditEvent)) == (users, events)


def test_admin_pages_open_for_admins(app, login_as, people):
    admin = login_as("admin")
    for url in ["/admin/users", "/admin/users?q=tess", "/admin/users/new", f"/admin/users/{people.trainee.id}",
                "/admin/audit"]:
        assert admin.get(url).status_code == 200, url


# ---------------------------------------------------------------- the list of people


@pytest.fixture
def crowd(app, people):
    """30 more trainees, Pager Person 01 to 30: 01 and 02 invited, 03 deactivated."""
    with app.app_context():
        for i in range(1, 31):
            factories.make_user(Role.TRAINEE, email_address=f"pager{i:02d}@example.org", name=f"Pager Person {i:02d}",
                                password=None if i in (1, 2) else factories.PASSWORD)
        gone = db.session.scalar(select(User).where(User.email == "pager03@example.org"))
        services.deactivate_user(gone, actor=None)
        db.session.commit()
    return [f"Pager Person {i:02d}" for i in range(1, 31)]


def test_user_list_paginates(login_as, people, crowd):
    admin = login_as("admin")
    first = text(admin.get("/admin/users"))
    assert "35 people found." in first
    assert "Page 1 of 2" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    names1 = listed_names(first)
    assert len(names1) == 25
    assert names1 == sorted(names1)

    second = text(admin.get("/admin/users?page=2"))
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    names2 = listed_names(second)
    assert len(names2) == 10
    everyone = set(crowd) | {"Ada Admin", "Sam Supervisor", "Sky Supervisor", "Tess Trainee", "Theo Trainee"}
    assert set(names1) | set(names2) == everyone
    assert not set(names1) & set(names2)

    # a page beyond the end is empty, and a nonsense page number is the first page
    assert listed_names(text(admin.get("/admin/users?page=9"))) == []
    assert listed_names(text(admin.get("/admin/users?page=abc"))) == names1


def test_user_list_search(login_as, people, crowd):
    admin = login_as("admin")
    page = text(admin.get("/admin/users?q=PAGER+person+1"))
    assert listed_names(page) == [f"Pager Person {i}" for i in range(10, 20)]
    assert "10 people found." in page
    assert 'value="PAGER person 1"' in page
    assert listed_names(text(admin.get("/admin/users?q=pager07%40"))) == ["Pager Person 07"]
    assert listed_names(text(admin.get("/admin/users?q=trainee"))) == ["Tess Trainee", "Theo Trainee"]
    assert "0 people found." in text(admin.get("/admin/users?q=nobody-at-all"))
    # LIKE wildcards are text here, not patterns
    assert listed_names(text(admin.get("/admin/users?q=%25"))) == []


def test_user_list_filters(login_as, people, crowd):
    admin = login_as("admin")
    assert listed_names(text(admin.get("/admin/users?role=supervisor"))) == ["Sam Supervisor", "Sky Supervisor"]
    assert listed_names(text(admin.get("/admin/users?role=admin"))) == ["Ada Admin"]
    assert listed_names(text(admin.get("/admin/users?status=invited"))) == ["Pager Person 01", "Pager Person 02"]
    assert listed_names(text(admin.get("/admin/users?status=deactivated"))) == ["Pager Person 03"]
    active = text(admin.get("/admin/users?status=active&role=trainee"))
    assert "29 people found." in active  # 27 pager people and Tess and Theo
    assert "Pager Person 03" not in active
    assert admin.get("/admin/users?role=wizard").status_code == 400
    assert admin.get("/admin/users?status=sleeping").status_code == 400


def test_user_list_pager_keeps_the_filters(login_as, people, crowd):
    admin = login_as("admin")
    page = text(admin.get("/admin/users?q=pager&role=trainee"))
    assert "30 people found." in page
    nxt = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', page).group(1))
    assert parse_qs(urlsplit(nxt).query) == {"q": ["pager"], "role": ["trainee"], "page": ["2"]}
    assert listed_names(text(admin.get(nxt))) == [f"Pager Person {i}" for i in range(26, 31)]


# ---------------------------------------------------------------- adding people


NEW_PERSON = {"email": "new.person@example.org", "display_name": "Nadia New", "certificate_name": "Nadia A. New",
              "role": "trainee", "supervisor": ""}


def test_create_with_invitation(app, login_as, people, outbox):
    admin = login_as("admin")
    r = admin.submit("/admin/users/new", data={**NEW_PERSON, "supervisor": str(people.supervisor.id),
                                               "send_invitation": "y"})
    assert r.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new.person@example.org"))
        assert (user.display_name, user.certificate_name, user.role) == ("Nadia New", "Nadia A. New", Role.TRAINEE)
        assert user.supervisor_id == people.supervisor.id
        assert user.password_hash is None
    assert r.headers["Location"] == f"/admin/users/{user.id}"
    page = text(admin.get(r.headers["Location"]))
    assert ("success", "Invitation sent to new.person@example.org.") in flashes(page)
    assert "Invited" in page
    assert [m["To"] for m in outbox.messages()] == ["new.person@example.org"]
    assert "/invitation/" in outbox.body(outbox.messages()[0])
    assert count(app, AuditEvent, AuditEvent.action == "user.invited", AuditEvent.actor_id == people.admin.id) == 1


def test_create_with_initial_password(app, login_as, people, outbox):
    admin = login_as("admin")
    r = admin.submit("/admin/users/new", data={**NEW_PERSON, "role": "supervisor", "password": NEW_PASSWORD})
    assert r.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new.person@example.org"))
        assert user.role is Role.SUPERVISOR and user.password_hash is not None
    assert outbox.messages() == []
    page = text(admin.get(r.headers["Location"]))
    assert any("Account created for new.person@example.org" in m for _, m in flashes(page))
    newcomer = Browser(app.test_client())
    assert newcomer.login("new.person@example.org", NEW_PASSWORD).status_code == 302
    assert "Your trainees" in text(newcomer.get("/"))


@pytest.mark.parametrize("extra, message", [
    ({"send_invitation": "y", "password": NEW_PASSWORD},
     "Either send an invitation or set an initial password, not both."),
    ({}, "Set an initial password, or send an invitation instead."),
])
def test_create_needs_invitation_or_password_but_not_both(app, login_as, people, outbox, extra, message):
    admin = login_as("admin")
    users, events = count(app, User), count(app, AuditEvent)
    r = admin.submit("/admin/users/new", data={**NEW_PERSON, **extra})
    assert r.status_code == 422
    assert message in text(r)
    assert 'value="new.person@example.org"' in text(r)  # what was typed is kept
    assert (count(app, User), count(app, AuditEvent)) == (users, events)
    assert outbox.messages() == []


@pytest.mark.parametrize("email", ["trainee@example.org", "  Trainee@EXAMPLE.org "])
def test_create_with_duplicate_email_shows_error_and_creates_nothing(app, login_as, people, outbox, email):
    admin = login_as("admin")
    users, events = count(app, User), count(app, AuditEvent)
    r = admin.submit("/admin/users/new", data={**NEW_PERSON, "email": email, "send_invitation": "y"})
    assert r.status_code == 422
    page = text(r)
    assert "Already in use." in page
    assert re.search(r'<p class="error" id="email-error">\s*Already in use\.', page)
    assert (count(app, User), count(app, AuditEvent)) == (users, events)
    assert outbox.messages() == []
    assert load_user(app, people.trainee.id).display_name == "Tess Trainee"


def test_create_rejects_supervisor_for_non_trainee(app, login_as, people):
    admin = login_as("admin")
    users = count(app, User)
    r = admin.submit("/admin/users/new", data={**NEW_PERSON, "role": "admin", "supervisor": str(people.supervisor.id),
                                               "send_invitation": "y"})
    assert r.status_code == 422
    assert "Only trainees have a supervisor." in text(r)
    assert count(app, User) == users


# ---------------------------------------------------------------- roles, supervisors, deactivation


def test_change_role(app, login_as, people):
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}"
    r = admin.submit(url, f"{url}/role", data={"role": "supervisor"})
    assert r.status_code == 302
    assert r.headers["Location"] == url
    assert ("success", "Tess Trainee's role is changed.") in flashes(text(admin.get(url)))
    user = load_user(app, people.trainee.id)
    assert user.role is Role.SUPERVISOR
    assert user.supervisor_id is None  # only trainees have a supervisor
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.role_changed"))
        assert event.actor_id == people.admin.id and event.subject_id == str(people.trainee.id)
        assert event.data == {"from": "trainee", "to": "supervisor"}


def test_change_role_to_unknown_value_changes_nothing(app, login_as, people):
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}"
    r = admin.submit(url, f"{url}/role", data={"role": "wizard"})
    assert r.status_code == 302
    assert ("error", "The form was not valid; nothing was changed.") in flashes(text(admin.get(url)))
    assert load_user(app, people.trainee.id).role is Role.TRAINEE


def test_cannot_change_own_role(app, login_as, people):
    admin = login_as("admin")
    url = f"/admin/users/{people.admin.id}"
    page = text(admin.get(url))
    assert f'action="{url}/role"' not in page
    assert f'action="{url}/deactivate"' not in page
    events = count(app, AuditEvent)
    r = admin.submit(url, f"{url}/role", data={"role": "trainee"})
    assert r.status_code == 302
    messages = flashes(text(admin.get(url)))
    assert ("error", "You cannot change your own role; ask another administrator.") in messages
    assert load_user(app, people.admin.id).role is Role.ADMIN
    assert count(app, AuditEvent, AuditEvent.action == "user.role_changed") == 0
    assert count(app, AuditEvent) == events


def test_role_form_is_shown_for_others(login_as, people):
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}"
    assert f'action="{url}/role"' in text(admin.get(url))


def test_assign_supervisor(app, login_as, people):
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}"
    r = admin.submit(url, f"{url}/supervisor", data={"supervisor": str(people.other_supervisor.id)})
    assert r.status_code == 302
    assert load_user(app, people.trainee.id).supervisor_id == people.other_supervisor.id
    admin.submit(url, f"{url}/supervisor", data={"supervisor": ""})
    assert load_user(app, people.trainee.id).supervisor_id is None


def test_unknown_user_page_is_404(login_as, people):
    admin = login_as("admin")
    assert admin.get("/admin/users/987654").status_code == 404
    assert admin.submit("/admin/users", "/admin/users/987654/deactivate").status_code == 404


def test_deactivate_ends_the_persons_sessions(app, login_as, people):
    trainee = login_as("trainee")
    other_device = login_as("trainee")
    assert trainee.get("/").status_code == 200
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}"
    r = admin.submit(url, f"{url}/deactivate")
    assert r.status_code == 302
    page = text(admin.get(url))
    assert ("success", "Tess Trainee is deactivated and logged out everywhere.") in flashes(page)
    assert "Deactivated" in page

    assert is_sent_to_login(trainee.get("/"))
    assert is_sent_to_login(other_device.get("/settings"))
    assert count(app, LoginSession, LoginSession.user_id == people.trainee.id) == 0
    assert Browser(app.test_client()).login(people.trainee.email).status_code == 200  # refused
    assert admin.get("/").status_code == 200

    r = admin.submit(url, f"{url}/reactivate")
    assert r.status_code == 302
    assert load_user(app, people.trainee.id).active
    assert Browser(app.test_client()).login(people.trainee.email).status_code == 302


def test_deactivating_a_supervisor_unassigns_their_trainees(app, login_as, people):
    admin = login_as("admin")
    url = f"/admin/users/{people.supervisor.id}"
    assert "Tess Trainee" in text(admin.get(url))
    admin.submit(url, f"{url}/deactivate")
    assert load_user(app, people.trainee.id).supervisor_id is None


# ---------------------------------------------------------------- bulk assignment


def _bulk(admin: Browser, ids: list[int], supervisor_id: int | str):
    return admin.submit("/admin/users", "/admin/users/assign",
                        data={"user_ids": [str(i) for i in ids], "supervisor": str(supervisor_id)})


def supervisors_of(app, *ids: int) -> list[int | None]:
    with app.app_context():
        return [db.session.get(User, i).supervisor_id for i in ids]


def test_bulk_assign(app, login_as, people):
    with app.app_context():
        extra = factories.make_user(Role.TRAINEE, name="Una Unassigned")
    admin = login_as("admin")
    ids = [people.trainee.id, people.other_trainee.id, extra.id]
    r = _bulk(admin, ids, people.other_supervisor.id)
    assert r.status_code == 302
    messages = flashes(text(admin.get("/admin/users")))
    assert ("success", "3 trainee(s) now assigned to Sky Supervisor.") in messages
    assert supervisors_of(app, *ids) == [people.other_supervisor.id] * 3
    # both trainees that changed are in the audit trail; the one already assigned there is not
    assert count(app, AuditEvent, AuditEvent.action == "user.supervisor_assigned") == 2


@pytest.mark.parametrize("intruder", ["supervisor", "admin", "missing"])
def test_bulk_assign_is_all_or_nothing(app, login_as, people, intruder):
    admin = login_as("admin")
    bad = 987654 if intruder == "missing" else getattr(people, intruder).id
    ids = [people.trainee.id, people.other_trainee.id, bad]  # the bad one last: the others were already changed
    events = count(app, AuditEvent)
    r = _bulk(admin, ids, people.other_supervisor.id)
    assert r.status_code == 302
    messages = flashes(text(admin.get("/admin/users")))
    assert any(c == "error" and m.startswith("Nothing was changed: ") for c, m in messages), messages
    assert supervisors_of(app, people.trainee.id, people.other_trainee.id) == [
        people.supervisor.id, people.other_supervisor.id]
    assert count(app, AuditEvent) == events


def test_bulk_assign_needs_a_selection(app, login_as, people):
    admin = login_as("admin")
    r = admin.submit("/admin/users", "/admin/users/assign", data={"supervisor": str(people.other_supervisor.id)})
    assert r.status_code == 302
    assert ("error", "Choose at least one trainee and a supervisor.") in flashes(text(admin.get("/admin/users")))


def test_bulk_assign_rejects_an_inactive_supervisor(app, login_as, people):
    with app.app_context():
        services.deactivate_user(db.session.get(User, people.other_supervisor.id), actor=None)
        db.session.commit()
    admin = login_as("admin")
    r = _bulk(admin, [people.trainee.id], people.other_supervisor.id)
    assert r.status_code == 302
    assert supervisors_of(app, people.trainee.id) == [people.supervisor.id]


def test_bulk_assign_returns_to_the_filtered_list(login_as, people):
    admin = login_as("admin")
    page = "/admin/users?role=trainee&q=t"
    token = csrf_from(text(admin.get(page)))
    r = admin.client.post("/admin/users/assign", headers={"Referer": f"http://localhost{page}"},
                          data={"csrf_token": token, "user_ids": [str(people.trainee.id)],
                                "supervisor": str(people.other_supervisor.id)})
    assert r.status_code == 302
    assert r.headers["Location"] == page
    r = admin.client.post("/admin/users/assign", headers={"Referer": "https://evil.example/admin/users"},
                          data={"csrf_token": token, "user_ids": [str(people.trainee.id)],
                                "supervisor": str(people.supervisor.id)})
    assert r.status_code == 302
    assert r.headers["Location"] == "/admin/users"


# ---------------------------------------------------------------- the audit trail


def test_audit_trail_lists_and_filters(app, login_as, people):
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}"
    admin.submit(url, f"{url}/role", data={"role": "supervisor"})
    login_as("trainee")

    page = text(admin.get("/admin/audit"))
    rows = audit_rows(page)
    total = count(app, AuditEvent)
    assert f"{total} entries." in page
    assert len(rows) == total  # fewer than a page
    actions = [a for _, a in rows]
    assert actions[0] == "user.login"  # newest first
    assert {"user.created", "user.login", "user.role_changed"} <= set(actions)
    assert ("admin@example.org", "user.role_changed") in rows

    by_action = audit_rows(text(admin.get("/admin/audit?action=user.role_changed")))
    assert by_action == [("admin@example.org", "user.role_changed")]
    prefix = audit_rows(text(admin.get("/admin/audit?action=user.log")))
    assert prefix and {a for _, a in prefix} == {"user.login"}
    assert len(prefix) == count(app, AuditEvent, AuditEvent.action == "user.login")

    by_actor = audit_rows(text(admin.get("/admin/audit?actor=trainee%40example.org")))
    assert by_actor == [("trainee@example.org", "user.login")]
    by_admin = audit_rows(text(admin.get("/admin/audit?actor=ADMIN%40example.org")))
    assert {w for w, _ in by_admin} == {"admin@example.org"}
    assert len(by_admin) == count(app, AuditEvent, AuditEvent.actor_id == people.admin.id)

    both = audit_rows(text(admin.get("/admin/audit?actor=admin%40example.org&action=user.login")))
    assert both == [("admin@example.org", "user.login")]

    unknown = text(admin.get("/admin/audit?actor=nobody%40example.org"))
    assert "0 entries." in unknown and audit_rows(unknown) == []
    assert ("error", "No user has the e-mail nobody@example.org.") in flashes(unknown)

    subject = audit_rows(text(admin.get(f"/admin/audit?subject_type=users&subject_id={people.trainee.id}")))
    assert {a for _, a in subject} == {"user.created", "user.role_changed", "user.login"}


def test_audit_trail_paginates(app, login_as, people):
    with app.app_context():
        for i in range(50):
            factories.make_user(Role.TRAINEE, email_address=f"bulk{i}@example.org", password=None)
    admin = login_as("admin")
    total = count(app, AuditEvent)
    assert total > 50
    first = text(admin.get("/admin/audit"))
    second = text(admin.get("/admin/audit?page=2"))
    assert len(audit_rows(first)) == 50
    assert len(audit_rows(second)) == total - 50
    assert "Page 1 of 2" in first and 'rel="next"' in first
