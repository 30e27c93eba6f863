"""Open redirects: every place a request can steer a redirect (the login page's `next`, a Referer, the verification
code form, a query string passed on) refuses other sites in every disguise a browser would still follow, and a
sweep of every route of the URL map with the usual names of such parameters finds no redirect off the site."""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlencode, urljoin, urlsplit

from tests import factories
from tests.conftest import Browser
from tests.security.matrix import first_allowed, walk_order
from tests.security.routes import body_for, clients, routes, text, url_for_route

SITE = "http://localhost/login"  # where the test client's requests come from
PAYLOADS = (
    "https://evil.example", "http://evil.example/login", "HTTPS://EVIL.EXAMPLE", "//evil.example", "///evil.example",
    "////evil.example/", "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\\/evil.example",
    "https:evil.example", "https:/evil.example", "http:\\\\evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)", " javascript:alert(1)", "java\tscript:alert(1)", "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>", "%2F%2Fevil.example", "%2f%2fevil.example", "%5C%5Cevil.example",
    "/%5Cevil.example", "%252F%252Fevil.example", " //evil.example", "\t//evil.example", "/\t/evil.example",
    "/\n/evil.example", "/\r\n/evil.example", "\x00//evil.example", "//evil.example@localhost",
    "//localhost@evil.example", "http://localhost@evil.example", "https://localhost.evil.example",
    "https://evil.example#@localhost", "//evil。example", "／／evil.example", "/.//evil.example",
    "/%0d%0aSet-Cookie:%20planted=1", "/\r\nSet-Cookie: planted=1",
)
PARAMS = ("next", "return", "return_to", "returnTo", "redirect", "redirect_to", "redirect_uri", "url", "back", "to",
          "continue", "target", "goto", "dest", "destination", "came_from", "success_url", "lang", "language")
# url_for's own keywords: a view that passes the query string on to url_for must not let them through
URL_FOR_KEYWORDS = {"_external": "1", "_scheme": "https", "_anchor": "x"}


def lands_on_site(location: str) -> bool:
    """Where a browser goes with this Location (WHATWG URL parsing): leading and trailing controls and spaces are
    trimmed, tabs and newlines dropped, backslashes read as slashes, and any run of slashes at the start makes the
    rest a host; it must stay on this site, over http(s)."""
    loc = re.sub(r"[\t\n\r]", "", location.strip("".join(map(chr, range(0x21))))).replace("\\", "/")
    loc = re.sub(r"^/{2,}", "//", loc)
    parts = urlsplit(urljoin(SITE, loc))
    return parts.scheme in ("http", "https") and parts.hostname == "localhost" and not parts.username


def redirect_problem(response, what: str) -> str | None:
    if any("planted" in c for c in response.headers.getlist("Set-Cookie")):
        return f"{what}: a header was injected"
    if not 300 <= response.status_code < 400:
        return None
    location = response.headers.get("Location", "")
    return None if lands_on_site(location) else f"{what}: redirected to {location!r}"


def test_the_check_itself_tells_on_site_from_off_site():
    for on in ("/", "/transcript?format=pdf", "http://localhost/x", "/%2F%2Fevil.example", "/.//evil.example"):
        assert lands_on_site(on), on
    for off in PAYLOADS[:24] + ("//evil.example@localhost", "http://localhost@evil.example"):
        if not off.startswith(("%", "/%")):
            assert not lands_on_site(off), off


def test_login_next_never_leads_off_the_site(app, people):
    browser = Browser(app.test_client())
    # the control: a path on this site is followed, through the page and its hidden field, as a browser would
    r = browser.get("/settings")
    assert urlsplit(r.headers["Location"]).path == "/login"
    r = browser.client.get(r.headers["Location"])
    nxt = html.unescape(re.search(r'name="next" type="hidden" value="([^"]*)"', text(r)).group(1))
    assert nxt == "/settings"
    r = browser.submit("/login", data={"email": people.trainee.email, "password": factories.PASSWORD, "next": nxt})
    assert r.headers["Location"] == "/settings"
    failures = []
    for payload in PAYLOADS:
        through_page = Browser(app.test_client())
        page = text(through_page.get(f"/login?next={quote(payload, safe='')}"))
        shown = re.search(r'name="next" type="hidden" value="([^"]*)"', page)
        kept = html.unescape(shown.group(1)) if shown else ""
        for how, browser, value in (("through the page", through_page, kept),
                                    ("posted directly", Browser(app.test_client()), payload)):
            r = browser.submit("/login", data={"email": people.trainee.email, "password": factories.PASSWORD,
                                               "next": value})
            unsafe = not payload.startswith("/") or payload.startswith(("//", "/\\"))
            if r.status_code != 302:
                failures.append(f"{payload!r} {how}: login answered {r.status_code}")
            elif (problem := redirect_problem(r, f"next={payload!r} {how}")) is not None:
                failures.append(problem)
            elif unsafe and r.headers["Location"] != "/":
                failures.append(f"next={payload!r} {how}: went to {r.headers['Location']!r}, not home")
    assert not failures, "\n".join(failures)


def test_logout_takes_no_destination(app, people, login_as):
    failures = []
    for payload in PAYLOADS:
        browser = login_as("trainee")
        r = browser.submit("/settings", f"/logout?next={quote(payload, safe='')}", data={"next": payload})
        if r.status_code != 302 or r.headers["Location"] != "/login":
            failures.append(f"logout with next={payload!r}: {r.status_code} {r.headers.get('Location')!r}")
    assert not failures, "\n".join(failures)


def test_a_forged_referer_does_not_steer_the_bulk_assignment(app, people, login_as):
    admin = login_as("admin")
    failures = []
    for payload in (*PAYLOADS, "https://evil.example/admin/users?q=x", "//evil.example/admin/users",
                    "http://localhost/admin/users?q=x"):
        r = admin.submit("/admin/users", "/admin/users/assign", data={
            "supervisor": str(people.supervisor.id), "user_ids": [str(people.other_trainee.id)]},
            headers={"Referer": payload.replace("\n", "").replace("\r", "").replace("\x00", "")})
        if (problem := redirect_problem(r, f"Referer {payload!r}")) is not None:
            failures.append(problem)
        elif urlsplit(r.headers["Location"]).path != "/admin/users":
            failures.append(f"Referer {payload!r}: went to {r.headers['Location']!r}")
    assert not failures, "\n".join(failures)


def test_the_verification_form_redirects_only_to_its_own_pages(client):
    failures = []
    for payload in PAYLOADS:
        r = client.get(f"/verify?code={quote(payload, safe='')}")
        if (problem := redirect_problem(r, f"/verify?code={payload!r}")) is not None:
            failures.append(problem)
        elif r.status_code == 302 and not urlsplit(r.headers["Location"]).path.startswith("/verify/"):
            failures.append(f"/verify?code={payload!r}: went to {r.headers['Location']!r}")
    assert not failures, "\n".join(failures)


def test_the_query_passed_on_to_ones_own_transcript_cannot_make_it_absolute(people, login_as):
    trainee = login_as("trainee")
    r = trainee.get(f"/people/{people.trainee.id}/transcript?{urlencode(URL_FOR_KEYWORDS)}&format=pdf")
    assert r.status_code == 302
    assert r.headers["Location"] == "/transcript?format=pdf"


def test_no_route_redirects_off_the_site_whatever_the_query_and_form_say(app, world):
    """The sweep: every route of the URL map, every usual name of a destination parameter set to another site (in
    the query and, for changes, in the form too), as nobody and as a trainee for reads, as someone the authorization
    matrix lets through for changes."""
    browsers = clients(app, world)
    failures, redirects, checked = [], 0, 0
    kinds = ("https://evil.example/x", "//evil.example/x", "/\\evil.example/x")
    evil = {name: kinds[i % len(kinds)] for i, name in enumerate(PARAMS)}
    query = urlencode({**evil, **URL_FOR_KEYWORDS})
    for route in walk_order(routes(app)):
        if route.rule == "/logout":
            continue
        url = f"{url_for_route(route, world)}?{query}"
        whom = [first_allowed(route)] if route.changes_state else ["anon", "trainee", "supervisor"]
        for who in whom:
            body = body_for(route, world, who=who)
            if route.changes_state and not route.api:
                body = {**evil, **(body or {})}
            r = browsers[who].open(route.method, url, api=route.api, body=body)
            checked += 1
            redirects += 300 <= r.status_code < 400
            if (problem := redirect_problem(r, f"{route.key} as {who}")) is not None:
                failures.append(problem)
    assert not failures, "\n".join(failures)
    assert redirects > 25  # the sweep did meet redirects: each was checked
    print(f"\nredirect sweep: {checked} requests with {len(PARAMS)} destination parameters, {redirects} redirects")
