"""The security requirements that are not route walks, a test for each: sessions that end, login rate limits,
cookie flags and HSTS, no stack traces, error pages in the site layout, and a new session at login. CSRF on every
state change, the security headers on every page, the authorization matrix, IDOR and open redirects walk the URL map
in tests/security/."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from lms.accounts import services
from lms.accounts.models import User
from lms.db import db
from tests import factories
from tests.conftest import Browser
from tests.security.routes import header_problems, is_sent_to_login, text

NEW_PASSWORD = "a brand new passphrase for tests"


# ---------------------------------------------------------------- helpers


def session_cookie(browser: Browser) -> str:
    cookie = browser.client.get_cookie("lms_session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def replay(app, cookie: str):
    """A fresh client that presents a copied session cookie and asks for the home page."""
    other = app.test_client()
    other.set_cookie("lms_session", cookie)
    return other.get("/")


# ---------------------------------------------------------------- (1) replayed session cookies


def test_session_cookie_replayed_after_logout_is_refused(app, login_as):
    trainee = login_as("trainee")
    cookie = session_cookie(trainee)
    assert replay(app, cookie).status_code == 200  # the copy works while the login lasts
    r = trainee.submit("/settings", "/logout")
    assert is_sent_to_login(r)
    r = replay(app, cookie)
    assert is_sent_to_login(r)
    assert urlsplit(r.headers["Location"]).path == "/login"


def test_session_cookie_replayed_after_password_change_is_refused(app, login_as):
    trainee = login_as("trainee")
    cookie = session_cookie(trainee)
    elsewhere = session_cookie(login_as("trainee"))
    assert replay(app, cookie).status_code == 200
    r = trainee.submit("/settings", "/settings/password", data={
        "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert trainee.get("/").status_code == 200
    assert is_sent_to_login(replay(app, cookie))
    assert is_sent_to_login(replay(app, elsewhere))
    assert replay(app, session_cookie(trainee)).status_code == 200


def test_session_cookie_replayed_after_deactivation_is_refused(app, people, login_as):
    cookie = session_cookie(login_as("trainee"))
    with app.app_context():
        services.deactivate_user(db.session.get(User, people.trainee.id), actor=None)
        db.session.commit()
    assert is_sent_to_login(replay(app, cookie))


def test_a_forged_session_cookie_is_refused(app, people):
    assert is_sent_to_login(replay(app, "eyJfdXNlcl9pZCI6IjEifQ.forged.signature"))


def test_session_is_renewed_at_login(app, people):
    browser = Browser(app.test_client())
    browser.get("/login")
    with browser.client.session_transaction() as s:
        s["planted"] = "by an attacker"
        s["sid"] = "guessed"
    before = session_cookie(browser)
    r = browser.login(people.trainee.email)
    assert r.status_code == 302
    after = session_cookie(browser)
    assert after != before
    with browser.client.session_transaction() as s:
        assert "planted" not in s
        assert s["sid"] != "guessed"
    assert browser.get("/").status_code == 200


# ---------------------------------------------------------------- (2) login rate limits


@pytest.fixture
def limited(app_factory, people):
    return app_factory(LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LIMIT_PER_ADDRESS="5 per minute")


def from_address(app, address: str) -> Browser:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Browser(client)


def test_wrong_passwords_for_one_account_end_in_429(limited, people):
    for i in range(3):
        r = from_address(limited, f"10.0.1.{i}").login(people.trainee.email, "wrong password number x")
        assert r.status_code == 200, i
    r = from_address(limited, "10.0.1.9").login(people.trainee.email, "wrong password number x")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "Too many attempts" in text(r)
    assert 'class="skip-link"' in text(r)
    # the right password does not get past the limit either, from any address, nor with the e-mail in capitals
    assert from_address(limited, "10.0.1.10").login(people.trainee.email).status_code == 429
    assert from_address(limited, "10.0.1.11").login("TRAINEE@example.org").status_code == 429
    # other accounts are not locked out
    assert from_address(limited, "10.0.1.9").login(people.supervisor.email).status_code == 302


def test_wrong_passwords_from_one_address_end_in_429(limited, people):
    for i in range(5):
        r = from_address(limited, "10.0.2.1").login(f"nobody{i}@example.org", "wrong password number x")
        assert r.status_code == 200, i
    r = from_address(limited, "10.0.2.1").login("nobody9@example.org", "wrong password number x")
    assert r.status_code == 429
    assert from_address(limited, "10.0.2.1").login(people.admin.email).status_code == 429
    assert from_address(limited, "10.0.2.2").login(people.admin.email).status_code == 302


def test_correct_login_before_the_limit_works(limited, people):
    browser = from_address(limited, "10.0.3.1")
    for _ in range(2):
        assert browser.login(people.trainee.email, "wrong password number x").status_code == 200
    r = browser.login(people.trainee.email)
    assert r.status_code == 302
    assert browser.get("/").status_code == 200
    # successful logins do not count towards the limit
    for i in range(4):
        assert from_address(limited, f"10.0.3.{10 + i}").login(people.supervisor.email).status_code == 302


def test_login_page_itself_is_not_limited(limited, people):
    browser = from_address(limited, "10.0.4.1")
    for i in range(6):
        browser.login(f"nobody{i}@example.org", "wrong password number x")
    assert browser.get("/login").status_code == 200


# ---------------------------------------------------------------- (3) cookies and HSTS


def set_cookie_header(response, name: str = "lms_session") -> str:
    found = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert found, f"no {name} cookie set"
    return found[-1]


def cookie_flags(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_session_cookie_flags(app, people):
    browser = Browser(app.test_client())
    page_cookie = set_cookie_header(browser.get("/login"))
    login_cookie = set_cookie_header(browser.login(people.trainee.email))
    for header in (page_cookie, login_cookie):
        assert "httponly" in cookie_flags(header)
        assert "SameSite=Lax" in header
        assert "secure" not in cookie_flags(header)  # the test site's base URL is plain http


def test_session_cookie_is_secure_when_configured(app_factory, people):
    secure = app_factory(SESSION_COOKIE_SECURE=True)
    r = secure.test_client().get("/login", base_url="https://localhost")
    header = set_cookie_header(r)
    assert {"secure", "httponly"} <= cookie_flags(header)
    assert "SameSite=Lax" in header


def test_https_requests_get_hsts(app):
    r = app.test_client().get("/login", base_url="https://localhost")
    assert "max-age=" in r.headers.get("Strict-Transport-Security", "")
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers


# ---------------------------------------------------------------- (4) no stack traces


class Boom(RuntimeError):
    pass


SECRET_DETAIL = "database password is hunter2 in /srv/secret/path.py"


@pytest.fixture
def exploding(app_factory, people):
    app = app_factory()

    def explode():
        raise Boom(SECRET_DETAIL)

    app.add_url_rule("/boom", "boom", explode)
    app.add_url_rule("/api/v1/boom", "api_boom", explode)
    return app


def no_leak(body: str) -> None:
    assert "Traceback" not in body
    assert SECRET_DETAIL not in body and "hunter2" not in body
    assert "Boom" not in body and "test_security.py" not in body


def test_forced_error_gives_a_plain_500_page(exploding, people):
    admin = Browser(exploding.test_client())
    assert admin.login(people.admin.email).status_code == 302
    for client in (exploding.test_client(), admin.client):
        r = client.get("/boom")
        assert r.status_code == 500
        body = text(r)
        no_leak(body)
        assert r.mimetype == "text/html"
        assert 'class="skip-link"' in body and "site-header" in body
        assert "Something went wrong on our side" in body
        assert not header_problems(r)


def test_forced_api_error_gives_problem_json(exploding):
    r = exploding.test_client().get("/api/v1/boom")
    assert r.status_code == 500
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["status"] == 500 and body["title"]
    assert body["instance"] == "/api/v1/boom"
    no_leak(text(r))
    assert not header_problems(r)


def test_forced_error_is_logged_for_the_operator(exploding, caplog):
    exploding.test_client().get("/boom")
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


# ---------------------------------------------------------------- (5) error pages in the site layout


def test_404_page_is_in_the_site_layout(client, login_as):
    for c in (client, login_as("trainee").client):
        r = c.get("/no/such/page")
        assert r.status_code == 404
        body = text(r)
        assert 'class="skip-link"' in body and 'href="#main"' in body and 'id="main"' in body
        assert "Page not found" in body
        assert "<title>Page not found" in body
        assert "The requested URL was not found on the server" not in body  # werkzeug's developer text


@pytest.mark.parametrize("who", ["trainee", "supervisor"])
def test_403_page_is_in_the_site_layout(login_as, who):
    r = login_as(who).get("/admin/audit")
    assert r.status_code == 403
    body = text(r)
    assert 'class="skip-link"' in body and 'id="main"' in body
    assert "You do not have access to this page" in body
    assert "Log out" in body  # the header of a logged-in person, so they can find their way on


def test_405_and_400_pages_are_in_the_site_layout(client, login_as):
    r = client.get("/logout")
    assert r.status_code == 405 and 'class="skip-link"' in text(r)
    r = login_as("trainee").client.post("/settings/profile", data={"display_name": "x"})
    assert r.status_code == 400
    assert 'class="skip-link"' in text(r) and "The form expired" in text(r)


@pytest.mark.parametrize("address", ["/certification/requests/{n}", "/practicum/{n}/review",
                                     "/people/{n}/transcript"])
@pytest.mark.parametrize("n", [2**31, 2**63, 10**30])
def test_an_id_beyond_the_database_range_is_not_found(app, login_as, address, n):
    response = login_as("admin").get(address.format(n=n))
    assert response.status_code == 404
    assert "Traceback" not in text(response)
