"""The security requirements, a test for each: CSRF on every state change, sessions that end, login rate limits,
security headers everywhere, no stack traces, error pages in the site layout, and a new session at login."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from lms.accounts import services
from lms.accounts.models import AccountToken, ApiToken, Role, User
from lms.db import db
from lms.models import Base
from tests import factories
from tests.conftest import Browser, csrf_from

NEW_PASSWORD = "a brand new passphrase for tests"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
ARG_RE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


# ---------------------------------------------------------------- helpers


def text(response) -> str:
    return response.get_data(as_text=True)


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def session_cookie(browser: Browser) -> str:
    cookie = browser.client.get_cookie("lms_session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def replay(app, cookie: str):
    """A fresh client that presents a copied session cookie and asks for the home page."""
    other = app.test_client()
    other.set_cookie("lms_session", cookie)
    return other.get("/")


def snapshot(app) -> dict:
    """Row counts of every table, and the parts of people and credentials a forged request could change."""
    with app.app_context():
        s = db.session
        return {
            "counts": {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables},
            "users": s.execute(select(User.id, User.email, User.display_name, User.certificate_name, User.role,
                                      User.active, User.supervisor_id, User.password_hash).order_by(User.id)).all(),
            "api_tokens": s.execute(select(ApiToken.id, ApiToken.revoked_at).order_by(ApiToken.id)).all(),
            "account_tokens": s.execute(select(AccountToken.id, AccountToken.used_at).order_by(AccountToken.id)).all(),
        }


def fill(rule: str, values: dict[str, object]) -> str:
    """A URL for a rule: the given value for each argument; 1 for another number, "x" for other text."""
    def one(m: re.Match) -> str:
        if m.group(2) in values:
            return str(values[m.group(2)])
        return "1" if m.group(1) == "int" else "x"

    return ARG_RE.sub(one, rule)


@pytest.fixture
def objects(app, people, outbox) -> dict:
    """Real objects for the URL arguments: an invited trainee with a live invitation, a deactivated trainee,
    the trainee's live password-reset link and one of the admin's API tokens."""
    with app.app_context():
        invited = services.create_user(actor=None, email="invited@example.org", display_name="Ivy Invited",
                                       role=Role.TRAINEE)
        invitation = services.send_invitation(invited, actor=None)
        gone = factories.make_user(Role.TRAINEE, email_address="gone@example.org", name="Gus Gone")
        services.deactivate_user(db.session.get(User, gone.id), actor=None)
        services.request_password_reset(people.trainee.email)
        admin = db.session.get(User, people.admin.id)
        token = services.create_api_token(admin, actor=admin, name="admin script")
        db.session.commit()
    reset = urlsplit(outbox.link_in_last_to(people.trainee.email)).path.rsplit("/", 1)[1]
    return {"invited": invited, "gone": gone, "invitation": invitation, "reset": reset,
            "token_id": token.token.id, "secret": token.secret}


def url_values(endpoint: str, people, objects) -> dict[str, object]:
    user = objects["gone"] if endpoint.endswith("reactivate") else objects["invited"]
    return {"user_id": user.id, "token_id": objects["token_id"], "filename": "css/site.css",
            "token": objects["reset"] if endpoint.endswith("reset_password") else objects["invitation"]}


def routes(app, methods: set[str]) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of every rule in the URL map that answers one of `methods`."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & methods):
            found.append((method, rule.rule, rule.endpoint))
    return found


# ---------------------------------------------------------------- (1) CSRF on every state change


def form_data(endpoint: str, people) -> dict:
    """Form data that would change something if the CSRF check let it through."""
    data = {"email": people.admin.email, "password": factories.PASSWORD, "current_password": factories.PASSWORD,
            "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "display_name": "Forged Name",
            "certificate_name": "Forged Name", "role": "supervisor", "supervisor": str(people.supervisor.id),
            "user_ids": [str(people.other_trainee.id)], "name": "forged token"}
    if endpoint.endswith("create_user"):
        data.update(email="forged@example.org", send_invitation="y")
        del data["password"]
    elif endpoint.endswith(("accept_invitation", "reset_password")):
        data.update(password=NEW_PASSWORD)
    return data


def api_body(method: str) -> dict:
    if method == "POST":
        return {"email": "forged@example.org", "display_name": "Forged", "role": "admin", "invite": True}
    return {"role": "supervisor", "display_name": "Forged Name"}


def test_every_state_changing_route_needs_a_csrf_token(app, people, objects, login_as, outbox):
    admin = login_as("admin")
    before = snapshot(app)
    mails = len(outbox.messages())
    found = routes(app, STATE_CHANGING)
    assert {("POST", "/logout"), ("POST", "/login"), ("POST", "/admin/users/<int:user_id>/role"),
            ("POST", "/api/v1/users"), ("PATCH", "/api/v1/users/<int:user_id>")} <= {(m, r) for m, r, _ in found}

    failures = []
    for method, rule, endpoint in found:
        url = fill(rule, url_values(endpoint, people, objects))
        if rule.startswith("/api/"):
            r = admin.client.open(url, method=method, json=api_body(method))
            ok = r.status_code == 400 and r.mimetype == "application/problem+json"
        else:
            r = admin.client.open(url, method=method, data=form_data(endpoint, people))
            ok = r.status_code == 400 and "The form expired" in text(r)
        if not ok:
            failures.append(f"{method} {url}: {r.status_code}")
        if snapshot(app) != before:
            failures.append(f"{method} {url}: changed the database")
            before = snapshot(app)
    assert not failures, "\n".join(failures)
    assert len(outbox.messages()) == mails
    assert admin.get("/").status_code == 200  # the forged logout did not log out


def test_a_wrong_csrf_token_is_refused_too(app, people, login_as):
    admin = login_as("admin")
    other = login_as("supervisor")  # a real token, but from someone else's session
    token = csrf_from(text(other.get("/settings")))
    before = snapshot(app)
    url = f"/admin/users/{people.trainee.id}/role"
    r = admin.client.post(url, data={"csrf_token": "forged", "role": "admin"})
    assert r.status_code == 400
    r = admin.client.post(url, data={"csrf_token": token, "role": "admin"})
    assert r.status_code == 400
    assert snapshot(app) == before


def test_csrf_token_lets_the_same_post_through(app, people, login_as):
    """The control for the test above: with the token, the same request does change the role."""
    admin = login_as("admin")
    url = f"/admin/users/{people.trainee.id}/role"
    r = admin.submit("/settings", url, data={"role": "supervisor"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(User, people.trainee.id).role is Role.SUPERVISOR


# ---------------------------------------------------------------- (2) replayed session cookies


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


# ---------------------------------------------------------------- (3) login rate limits


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


# ---------------------------------------------------------------- (4) security headers and cookies


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def header_problems(response) -> list[str]:
    h = response.headers
    problems = []
    csp = h.get("Content-Security-Policy")
    if not csp:
        problems.append("no Content-Security-Policy")
    else:
        d = csp_directives(csp)
        script = d.get("script-src", d.get("default-src"))
        if script is None:
            problems.append("CSP does not restrict scripts")
        elif "'unsafe-inline'" in script or "*" in script:
            problems.append(f"CSP script-src allows {script}")
        if d.get("frame-ancestors") != ["'none'"]:
            problems.append(f"CSP frame-ancestors is {d.get('frame-ancestors')}")
    if h.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"X-Content-Type-Options is {h.get('X-Content-Type-Options')}")
    if h.get("Referrer-Policy") not in ("no-referrer", "same-origin", "strict-origin",
                                        "strict-origin-when-cross-origin"):
        problems.append(f"Referrer-Policy is {h.get('Referrer-Policy')}")
    return problems


@pytest.mark.parametrize("who", [None, "admin", "trainee"])
def test_security_headers_on_every_page(app, people, objects, login_as, who):
    client = login_as(who).client if who else app.test_client()
    found = routes(app, {"GET"})
    assert {"/", "/login", "/admin/users", "/api/v1/me", "/healthz", "/static/<path:filename>"} <= {
        r for _, r, _ in found}
    failures = []
    for _, rule, endpoint in found:
        url = fill(rule, url_values(endpoint, people, objects))
        r = client.get(url)
        if r.status_code >= 500:
            failures.append(f"{url}: {r.status_code}")
        failures += [f"{url} ({r.status_code}): {p}" for p in header_problems(r)]
    assert not failures, "\n".join(failures)


def test_security_headers_on_errors_and_api_responses(app, people, login_as):
    admin = login_as("admin")
    secret = None
    with app.app_context():
        user = db.session.get(User, people.admin.id)
        secret = services.create_api_token(user, actor=user, name="t").secret
        db.session.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    responses = {
        "404": app.test_client().get("/no/such/page"),
        "404 logged in": admin.get("/no/such/page"),
        "405": admin.get("/logout"),
        "403": login_as("trainee").get("/admin/users"),
        "400 csrf": admin.client.post("/settings/profile", data={}),
        "api 401": app.test_client().get("/api/v1/me"),
        "api 404": app.test_client().get("/api/v1/nope"),
        "api 200": app.test_client().get("/api/v1/me", headers=bearer),
        "api 201": app.test_client().post("/api/v1/users", headers=bearer,
                                          json={"email": "h@example.org", "display_name": "H"}),
        "api 422": app.test_client().post("/api/v1/users", headers=bearer, json={"nope": 1}),
        "openapi": app.test_client().get("/api/v1/openapi.json"),
        "redirect": app.test_client().get("/"),
    }
    assert responses["api 201"].status_code == 201
    failures = [f"{name}: {p}" for name, r in responses.items() for p in header_problems(r)]
    assert not failures, "\n".join(failures)
    assert responses["api 200"].headers.get("Cache-Control") == "no-store"


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


# ---------------------------------------------------------------- (5) no stack traces


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


# ---------------------------------------------------------------- (6) error pages in the site layout


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
