"""Logging in and out, password reset, invitations and each person's own settings, through the pages."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from lms.accounts import services
from lms.accounts.models import ApiToken, LoginSession, Role, User
from lms.audit import AuditEvent
from lms.db import db
from tests import factories
from tests.conftest import Browser

GENERIC_LOGIN_ERROR = "That e-mail and password do not match an active account."
FORGOT_MESSAGE = "If an account uses that address, we have sent it a link to reset the password."
NEW_PASSWORD = "a brand new passphrase for tests"
SECRET_RE = re.compile(r"pnd_[A-Za-z0-9_-]{20,}")

FLASH_RE = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)


# ---------------------------------------------------------------- helpers


def flashes(page: str) -> list[tuple[str, str]]:
    """(category, text) of each flashed message on the page."""
    return [(c, html.unescape(t).strip()) for c, t in FLASH_RE.findall(page)]


def text(response) -> str:
    return response.get_data(as_text=True)


def local(url: str) -> str:
    """The path (and query) of an absolute link from an e-mail."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def new_browser(app) -> Browser:
    return Browser(app.test_client())


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def load_user(app, user_id: int) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def session_cookie(browser: Browser) -> str:
    cookie = browser.client.get_cookie("lms_session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


# ---------------------------------------------------------------- logging in


def test_login_page_renders(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert 'name="csrf_token"' in text(r)
    assert 'name="email"' in text(r) and 'name="password"' in text(r)


@pytest.mark.parametrize("who", ["admin", "supervisor", "trainee"])
def test_login_success_redirects_home_for_each_role(app, web, people, who):
    user = getattr(people, who)
    assert is_sent_to_login(web.get("/"))
    r = web.login(user.email)
    assert r.status_code == 302
    assert r.headers["Location"] == "/"
    home = web.get("/")
    assert home.status_code == 200
    assert f"{user.display_name}" in text(home)
    assert user.role.label in text(home)
    with app.app_context():
        assert db.session.get(User, user.id).last_login_at is not None
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "user.login", AuditEvent.actor_id == user.id)) == 1


def test_login_email_is_case_and_space_insensitive(web, people):
    r = web.login("  TRAINEE@Example.org ")
    assert r.status_code == 302
    assert web.get("/").status_code == 200


def test_failed_login_says_the_same_for_wrong_password_and_unknown_email(app, people):
    with app.app_context():
        invited = services.create_user(actor=None, email="invited@example.org", display_name="Ivy Invited",
                                       role=Role.TRAINEE)
        gone = factories.make_user(Role.TRAINEE, email_address="gone@example.org")
        services.deactivate_user(db.session.get(User, gone.id), actor=None)
        db.session.commit()
        assert invited.password_hash is None

    attempts = {
        "wrong password": ("trainee@example.org", "not the password at all"),
        "unknown e-mail": ("nobody@example.org", factories.PASSWORD),
        "invited, no password yet": ("invited@example.org", factories.PASSWORD),
        "deactivated, right password": ("gone@example.org", factories.PASSWORD),
    }
    messages = {}
    for label, (email, password) in attempts.items():
        browser = new_browser(app)
        r = browser.login(email, password)
        assert r.status_code == 200, label
        page = text(r)
        messages[label] = flashes(page)
        assert "unknown" not in page.lower() and "no account" not in page.lower(), label
        assert "wrong password" not in page.lower() and "incorrect password" not in page.lower(), label
        assert "deactivated" not in page.lower(), label
        assert is_sent_to_login(browser.get("/")), label
    assert set(map(tuple, messages.values())) == {(("error", GENERIC_LOGIN_ERROR),)}, messages
    assert count(app, LoginSession) == 0


def test_failed_login_is_recorded_in_the_audit_trail(app, web, people):
    web.login(people.trainee.email, "not the password at all")
    assert count(app, AuditEvent, AuditEvent.action == "user.login_failed",
                 AuditEvent.subject_id == str(people.trainee.id)) == 1


def test_anonymous_page_visit_sends_to_login_with_next(web, people):
    r = web.get("/settings")
    assert is_sent_to_login(r)
    assert urlsplit(r.headers["Location"]).query == "next=%2Fsettings"
    page = text(web.get(local(r.headers["Location"])))
    assert 'value="/settings"' in page


def _login_with_next(web: Browser, email: str, target: str):
    from urllib.parse import quote

    return web.submit(f"/login?next={quote(target, safe='')}", "/login",
                      data={"email": email, "password": factories.PASSWORD, "next": target})


def test_login_honours_a_local_next(web, people):
    r = _login_with_next(web, people.trainee.email, "/settings")
    assert r.status_code == 302
    assert r.headers["Location"] == "/settings"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example",
                                    "http://localhost/settings", "javascript:alert(1)", "///evil.example",
                                    "/\tevil.example"])
def test_login_ignores_a_foreign_next(web, people, target):
    r = _login_with_next(web, people.trainee.email, target)
    assert r.status_code == 302
    assert r.headers["Location"] == "/"


def test_logged_in_visit_to_login_page_goes_home(login_as):
    trainee = login_as("trainee")
    r = trainee.get("/login")
    assert r.status_code == 302
    assert r.headers["Location"] == "/"


# ---------------------------------------------------------------- logging out


def test_logout_by_get_is_not_allowed_and_changes_nothing(app, login_as, people):
    trainee = login_as("trainee")
    sessions = count(app, LoginSession)
    events = count(app, AuditEvent)
    r = trainee.get("/logout")
    assert r.status_code == 405
    assert "POST" in r.headers.get("Allow", "")
    assert count(app, LoginSession) == sessions == 1
    assert count(app, AuditEvent) == events
    assert trainee.get("/").status_code == 200


def test_logout_by_post(app, login_as, people):
    trainee = login_as("trainee")
    r = trainee.submit("/settings", "/logout")
    assert is_sent_to_login(r)
    assert ("info", "You are logged out.") in flashes(text(trainee.get("/login")))
    assert is_sent_to_login(trainee.get("/"))
    assert is_sent_to_login(trainee.get("/settings"))
    assert count(app, LoginSession, LoginSession.user_id == people.trainee.id) == 0
    assert count(app, AuditEvent, AuditEvent.action == "user.logout", AuditEvent.actor_id == people.trainee.id) == 1


def test_logout_ends_only_this_login(app, login_as, people):
    first = login_as("trainee")
    second = login_as("trainee")
    first.submit("/settings", "/logout")
    assert is_sent_to_login(first.get("/"))
    assert second.get("/").status_code == 200


# ---------------------------------------------------------------- forgotten password


def test_forgot_password_page(client):
    r = client.get("/password/forgot")
    assert r.status_code == 200
    assert 'name="email"' in text(r)


def test_forgot_password_says_the_same_and_mails_only_active_accounts(app, people, outbox):
    with app.app_context():
        gone = factories.make_user(Role.TRAINEE, email_address="gone@example.org")
        services.deactivate_user(db.session.get(User, gone.id), actor=None)
        db.session.commit()

    answers = []
    for email in ["trainee@example.org", "nobody@example.org", "gone@example.org", "not even an address"]:
        browser = new_browser(app)
        r = browser.submit("/password/forgot", data={"email": email})
        assert r.status_code == 302, email
        assert r.headers["Location"] == "/login", email
        answers.append(flashes(text(browser.get("/login"))))
    assert len(answers[0]) == 1 and answers[0][0][1].startswith(FORGOT_MESSAGE)
    assert all(a == answers[0] for a in answers), answers

    messages = outbox.messages()
    assert [m["To"] for m in messages] == ["trainee@example.org"]
    assert "/password/reset/" in outbox.body(messages[0])


def _request_reset(app, email: str, outbox) -> str:
    browser = new_browser(app)
    browser.submit("/password/forgot", data={"email": email})
    return local(outbox.link_in_last_to(email))


def test_reset_link_sets_a_new_password_and_logs_in(app, people, outbox):
    link = _request_reset(app, people.trainee.email, outbox)
    assert link.startswith("/password/reset/")
    other_login = Browser(app.test_client())
    other_login.login(people.trainee.email)

    browser = new_browser(app)
    page = browser.get(link)
    assert page.status_code == 200
    assert 'name="password"' in text(page)
    r = browser.submit(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert r.headers["Location"] == "/"
    home = browser.get("/")
    assert home.status_code == 200
    assert people.trainee.display_name in text(home)

    # the other login ended, the old password no longer works and the new one does
    assert is_sent_to_login(other_login.get("/"))
    assert new_browser(app).login(people.trainee.email).status_code == 200
    assert new_browser(app).login(people.trainee.email, NEW_PASSWORD).status_code == 302


def test_reset_with_mismatched_or_short_password_shows_errors(app, people, outbox):
    link = _request_reset(app, people.trainee.email, outbox)
    browser = new_browser(app)
    r = browser.submit(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert r.status_code == 422
    assert "The two passwords do not match." in text(r)
    r = browser.submit(link, data={"password": "short", "confirm": "short"})
    assert r.status_code == 422
    assert "Field must be between 12 and 256 characters long." in text(r)
    assert is_sent_to_login(browser.get("/"))
    # the link still works after the mistakes
    r = browser.submit(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302


def test_reset_link_works_once(app, people, outbox):
    link = _request_reset(app, people.trainee.email, outbox)
    browser = new_browser(app)
    assert browser.submit(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302

    again = new_browser(app)
    r = again.get(link)
    assert r.status_code == 410
    assert "This link no longer works" in text(r)
    assert 'href="/password/forgot"' in text(r)
    # posting to a spent link changes nothing
    token = browser_csrf(again)
    r = again.client.post(link, data={"csrf_token": token, "password": "another password 123",
                                      "confirm": "another password 123"})
    assert r.status_code == 410
    assert new_browser(app).login(people.trainee.email, NEW_PASSWORD).status_code == 302


def browser_csrf(browser: Browser) -> str:
    from tests.conftest import csrf_from

    return csrf_from(text(browser.get("/password/forgot")))


def test_only_the_newest_reset_link_works(app, people, outbox):
    first = _request_reset(app, people.trainee.email, outbox)
    second = _request_reset(app, people.trainee.email, outbox)
    assert first != second
    assert new_browser(app).get(first).status_code == 410
    assert new_browser(app).get(second).status_code == 200


@pytest.mark.parametrize("link", ["/password/reset/not-a-real-token", "/password/reset/" + "x" * 300,
                                  "/invitation/not-a-real-token"])
def test_invalid_account_link_gives_410(client, people, link):
    r = client.get(link)
    assert r.status_code == 410
    assert "This link no longer works" in text(r)
    assert 'class="skip-link"' in text(r)


def test_reset_link_of_a_deactivated_account_no_longer_works(app, people, outbox):
    link = _request_reset(app, people.trainee.email, outbox)
    with app.app_context():
        services.deactivate_user(db.session.get(User, people.trainee.id), actor=None)
        db.session.commit()
    assert new_browser(app).get(link).status_code == 410


# ---------------------------------------------------------------- invitations


def test_invitation_flow_from_admin_form_to_logged_in(app, login_as, people, outbox):
    admin = login_as("admin")
    r = admin.submit("/admin/users/new", data={
        "email": "Newcomer@Example.org", "display_name": "Nia Newcomer", "certificate_name": "",
        "role": "trainee", "supervisor": str(people.supervisor.id), "send_invitation": "y"})
    assert r.status_code == 302, text(r)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "newcomer@example.org"))
        assert user is not None and user.password_hash is None and user.supervisor_id == people.supervisor.id
        assert user.certificate_name == "Nia Newcomer"
        user_id = user.id
    assert r.headers["Location"] == f"/admin/users/{user_id}"

    mail = outbox.last_to("newcomer@example.org")
    assert "invited" in mail["Subject"].lower()
    link = local(outbox.link_in_last_to("newcomer@example.org"))
    assert link.startswith("/invitation/")

    invitee = new_browser(app)
    assert new_browser(app).login("newcomer@example.org", NEW_PASSWORD).status_code == 200  # no password yet
    page = invitee.get(link)
    assert page.status_code == 200
    assert "Welcome, Nia Newcomer" in text(page)
    r = invitee.submit(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert r.headers["Location"] == "/"
    home = invitee.get("/")
    assert home.status_code == 200
    assert "Nia Newcomer" in text(home)
    assert "Sam Supervisor" in text(home)
    assert load_user(app, user_id).status == "active"
    assert count(app, AuditEvent, AuditEvent.action == "user.invitation_accepted") == 1

    assert new_browser(app).get(link).status_code == 410
    assert new_browser(app).login("newcomer@example.org", NEW_PASSWORD).status_code == 302


def test_resent_invitation_spends_the_old_link(app, login_as, people, outbox):
    admin = login_as("admin")
    admin.submit("/admin/users/new", data={"email": "nia@example.org", "display_name": "Nia", "role": "trainee",
                                           "supervisor": "", "send_invitation": "y"})
    first = local(outbox.link_in_last_to("nia@example.org"))
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "nia@example.org"))
    r = admin.submit(f"/admin/users/{user_id}", f"/admin/users/{user_id}/invite")
    assert r.status_code == 302
    second = local(outbox.link_in_last_to("nia@example.org"))
    assert first != second
    assert new_browser(app).get(first).status_code == 410
    assert new_browser(app).get(second).status_code == 200


# ---------------------------------------------------------------- settings


def test_settings_needs_login(client, people):
    assert is_sent_to_login(client.get("/settings"))


def test_profile_update(app, login_as, people):
    trainee = login_as("trainee")
    r = trainee.submit("/settings", "/settings/profile",
                       data={"display_name": "  Tessa   T. ", "certificate_name": "Tessa Maria Trainee"})
    assert r.status_code == 302
    assert r.headers["Location"] == "/settings"
    page = text(trainee.get("/settings"))
    assert ("success", "Profile saved.") in flashes(page)
    assert 'value="Tessa T."' in page and 'value="Tessa Maria Trainee"' in page
    user = load_user(app, people.trainee.id)
    assert (user.display_name, user.certificate_name) == ("Tessa T.", "Tessa Maria Trainee")
    assert count(app, AuditEvent, AuditEvent.action == "user.profile_updated") == 1


def test_profile_update_rejects_empty_name(app, login_as, people):
    trainee = login_as("trainee")
    r = trainee.submit("/settings", "/settings/profile", data={"display_name": "", "certificate_name": "X"})
    assert r.status_code == 422
    assert "Please correct the following" in text(r)
    assert load_user(app, people.trainee.id).display_name == "Tess Trainee"


def test_password_change_with_wrong_current_password(app, login_as, people):
    trainee = login_as("trainee")
    r = trainee.submit("/settings", "/settings/password", data={
        "current_password": "not my password at all", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 422
    assert "Not correct." in text(r)
    assert trainee.get("/").status_code == 200
    assert new_browser(app).login(people.trainee.email).status_code == 302
    assert new_browser(app).login(people.trainee.email, NEW_PASSWORD).status_code == 200


def test_password_change_rejects_mismatch_and_weak_password(app, login_as, people):
    trainee = login_as("trainee")
    r = trainee.submit("/settings", "/settings/password", data={
        "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm": "something else"})
    assert r.status_code == 422
    assert "The two passwords do not match." in text(r)
    r = trainee.submit("/settings", "/settings/password", data={
        "current_password": factories.PASSWORD, "new_password": "ab" * 8, "confirm": "ab" * 8})
    assert r.status_code == 422
    assert "one or two characters repeated" in text(r)
    assert new_browser(app).login(people.trainee.email).status_code == 302


def test_password_change_keeps_you_logged_in_and_ends_other_logins(app, login_as, people):
    trainee = login_as("trainee")
    elsewhere = login_as("trainee")
    old_cookie = session_cookie(elsewhere)
    own_old_cookie = session_cookie(trainee)

    r = trainee.submit("/settings", "/settings/password", data={
        "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert r.headers["Location"] == "/settings"
    page = trainee.get("/settings")
    assert page.status_code == 200
    assert ("success", "Password changed. Your other logins have been ended.") in flashes(text(page))
    assert session_cookie(trainee) != own_old_cookie

    assert is_sent_to_login(elsewhere.get("/"))
    for cookie in (old_cookie, own_old_cookie):
        replay = app.test_client()
        replay.set_cookie("lms_session", cookie)
        assert is_sent_to_login(replay.get("/"))
    assert count(app, LoginSession, LoginSession.user_id == people.trainee.id) == 1
    assert new_browser(app).login(people.trainee.email).status_code == 200
    assert new_browser(app).login(people.trainee.email, NEW_PASSWORD).status_code == 302


def _token_secret(page: str) -> str:
    m = SECRET_RE.search(page)
    assert m, "no token secret on the page"
    return m.group(0)


def test_api_token_secret_is_shown_once(app, login_as, people):
    trainee = login_as("trainee")
    r = trainee.submit("/settings", "/settings/tokens", data={"name": "reporting script"})
    assert r.status_code == 200
    page = text(r)
    secret = _token_secret(page)
    assert len(SECRET_RE.findall(page)) == 1
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == people.trainee.id))
        assert token.name == "reporting script"
        assert token.token_hash != secret and secret not in token.token_hash
        assert secret.startswith(token.prefix)

    later = text(trainee.get("/settings"))
    assert secret not in later
    assert SECRET_RE.search(later.replace(f"{token.prefix}…", "")) is None
    assert "reporting script" in later
    assert f"{token.prefix}…" in later

    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == people.trainee.email


def test_api_token_needs_a_name(app, login_as, people):
    trainee = login_as("trainee")
    r = trainee.submit("/settings", "/settings/tokens", data={"name": ""})
    assert r.status_code == 422
    assert SECRET_RE.search(text(r)) is None
    assert count(app, ApiToken) == 0


def _create_token(app, user_id: int, name: str = "script") -> tuple[int, str]:
    with app.app_context():
        user = db.session.get(User, user_id)
        new = services.create_api_token(user, actor=user, name=name)
        db.session.commit()
        return new.token.id, new.secret


def test_revoke_token(app, login_as, people):
    token_id, secret = _create_token(app, people.trainee.id, "old laptop")
    trainee = login_as("trainee")
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    r = trainee.submit("/settings", f"/settings/tokens/{token_id}/revoke")
    assert r.status_code == 302
    assert r.headers["Location"] == "/settings"
    page = text(trainee.get("/settings"))
    assert ("success", "Token “old laptop” revoked.") in flashes(page)
    assert "Revoked" in page
    assert f"/settings/tokens/{token_id}/revoke" not in page
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401

    again = trainee.submit("/settings", f"/settings/tokens/{token_id}/revoke")
    assert again.status_code == 302
    assert ("error", "This token is already revoked.") in flashes(text(trainee.get("/settings")))


@pytest.mark.parametrize("whose", ["other_trainee", "admin", None])
def test_revoking_someone_elses_or_unknown_token_is_404(app, login_as, people, whose):
    if whose is None:
        token_id, secret = 987654, None
    else:
        token_id, secret = _create_token(app, getattr(people, whose).id)
    trainee = login_as("trainee")
    r = trainee.submit("/settings", f"/settings/tokens/{token_id}/revoke")
    assert r.status_code == 404
    assert "Page not found" in text(r)
    if secret:
        with app.app_context():
            assert db.session.get(ApiToken, token_id).revoked_at is None
        ok = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200
    assert count(app, AuditEvent, AuditEvent.action == "api_token.revoked") == 0
