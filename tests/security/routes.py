"""Walking the URL map: every rule and method, a real URL for each from the world's objects, a logged-in client and
CSRF token per role, a snapshot of the whole database to show a refused request changed nothing, and the header
checks every response must pass."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import LargeBinary, Text, cast, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from lms.db import db
from lms.models import Base
from tests.conftest import Browser, csrf_from
from tests.groups_support import TODAY
from tests.security.world import ROLES, Objects, World

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ARG_RE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
API_PREFIX = "/api/"
# Columns a harmless request may touch: when a login was last seen, a token last used.
TOUCHED = frozenset({"last_seen_at", "last_used_at", "last_login_at"})


def text(response) -> str:
    return response.get_data(as_text=True)


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    endpoint: str
    args: tuple[str, ...]  # the names of the rule's arguments, in order

    @property
    def key(self) -> str:
        return f"{self.method} {self.rule}"

    @property
    def api(self) -> bool:
        return self.rule.startswith(API_PREFIX)

    @property
    def changes_state(self) -> bool:
        return self.method in STATE_CHANGING


def routes(app: Flask, methods: Iterable[str] = ("GET", *sorted(STATE_CHANGING))) -> list[Route]:
    """Every (method, rule) of the URL map answering one of `methods` (HEAD and OPTIONS are Flask's own), in the
    map's order."""
    wanted = set(methods)
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & wanted):
            found.append(Route(method, rule.rule, rule.endpoint, tuple(m.group(2) for m in ARG_RE.finditer(rule.rule))))
    return found


def fill(rule: str, values: dict[str, object]) -> str:
    """A URL for a rule: the given value for each argument (a KeyError names one nobody gave)."""
    return ARG_RE.sub(lambda m: str(values[m.group(2)]), rule)


# ---------------------------------------------------------------- the world's objects in URLs


# Administrators' changes land on people and a group nobody else depends on.
ADMIN_TARGETS = {"admin.deactivate": "invited", "admin.resend_invitation": "invited", "admin.change_role": "invited",
                 "admin.assign_supervisor": "invited", "admin.reactivate": "gone", "api.update_user": "invited",
                 "groups.remove_co_facilitator": "spare", "api.remove_group_co_facilitator": "spare2"}
SPARE_GROUP = {"groups.edit_group", "groups.change_status", "groups.assign_lead", "groups.remove_lead",
               "groups.add_co_facilitator", "groups.remove_co_facilitator", "api.update_group",
               "api.assign_group_lead", "api.remove_group_lead", "api.add_group_co_facilitator",
               "api.remove_group_co_facilitator"}
OPEN_ATTEMPT = {"quizzes.save", "quizzes.submit", "api.save_answers", "api.submit_attempt"}
SECRETS = {"accounts.reset_password": "reset", "accounts.accept_invitation": "invitation",
           "groups.calendar_feed": "feed"}


def url_values(route: Route, world: World, objects: Objects | None = None, *, spare: bool = True
               ) -> dict[str, object]:
    """A real object for each argument: one of `objects` (Tess Trainee's unless told) where it names one; with
    `spare`, the people and group set aside for administrators' changes where an administrator's change would
    otherwise spoil the world."""
    o = objects or world.mine
    e = route.endpoint if spare else ""
    people = {"invited": world.invited_id, "gone": world.gone_id, "spare": world.spare_ids[0],
              "spare2": world.spare_ids[1]}
    return {
        "user_id": people[ADMIN_TARGETS[e]] if e in ADMIN_TARGETS else o.user_id, "token_id": o.token_id,
        "token": getattr(world, SECRETS[route.endpoint]) if route.endpoint in SECRETS else "",
        "filename": "css/site.css",
        "request_id": o.request_id, "entry_id": o.entry_id,
        "attempt_id": world.open_attempt_id if e in OPEN_ATTEMPT and o is world.mine else o.attempt_id,
        "serial": o.serial, "code": world.code, "thumbprint": world.thumbprint,
        "slug": world.program if route.endpoint == "certification.badge_achievement" else world.course,
        "lesson_slug": world.lesson_slug, "lesson_id": world.lesson_id, "name": world.report,
        "group_id": world.spare_group_id if e in SPARE_GROUP else o.group_id,
        "day": world.cancel_day if e == "api.cancel_group_session" else world.held_day,
    }


def url_for_route(route: Route, world: World, objects: Objects | None = None, *, spare: bool = True) -> str:
    return fill(route.rule, url_values(route, world, objects, spare=spare))


# ---------------------------------------------------------------- bodies


FORGED = "Forged by a test"
REASON = "A reason long enough to pass the length check."


def body_for(route: Route, world: World, objects: Objects | None = None, who: str = "anon") -> dict | None:
    """What a state-changing request sends: what would change something if the checks let it through, except
    where an administrator's change would spoil the world for the routes after it (then a body the form refuses).
    None for requests without a body."""
    o = objects or world.mine
    e = route.endpoint
    held = {"duration_minutes": 90, "attendance_count": 5}
    forms = {
        "accounts.login": {"email": f"{who}@nowhere.example", "password": "not the password"},  # a limit each
        "admin.change_role": {"role": "supervisor"},
        "admin.assign_supervisor": {"supervisor": str(world.people.supervisor.id)},
        "admin.bulk_assign": {"supervisor": str(world.people.supervisor.id)},  # and nobody chosen
        "quizzes.history": {"factor": "not a number"},
        "certification.review_entry": {"confirm": "Confirm this entry", "note": FORGED},
        "certification.issue_selected": {"request_ids": [str(o.request_id)]},
        "certification.reject": {"reason": REASON},
        "groups.record_held": {f"held-{o.group_id}-{world.held_day}-{k}": v for k, v in
                               {**held, "back": "group"}.items()},
        "groups.calendar": {"action": "rotate"},
    }
    bodies = {
        "api.log_practicum": {"kind": "observed", "session_date": (TODAY - timedelta(days=1)).isoformat(),
                              "group_name": FORGED, "reflection": "A reflection that is long enough to count."},
        "api.confirm_practicum_entry": {"confirm": True},
        "api.reject_certification_request": {"reason": REASON},
        "api.issue_certificate": {"request_id": o.request_id},
        "api.assign_group_lead": {"user_id": world.spare_ids[0]},  # not certified: the gate refuses
        "api.record_session_held": held,
        "api.save_answers": {"answers": {}},
        "api.update_user": {"display_name": FORGED},
    }
    if route.method == "GET":
        return None
    if route.api:
        return bodies.get(e, None if route.method == "DELETE" else {})
    return forms.get(e, {})


# ---------------------------------------------------------------- clients


@dataclass
class Client:
    """A browser of one role, with the CSRF token of its session."""

    who: str
    browser: Browser
    token: str

    def open(self, method: str, url: str, *, api: bool, body: dict | None = None, csrf: bool | str = True,
             headers: dict | None = None):
        """A request as a browser (or an API client) of this session sends it: a change carries the session's CSRF
        token (form field, or X-CSRFToken header for the API), none with `csrf=False`, or the token given."""
        headers = dict(headers or {})
        token = csrf if isinstance(csrf, str) else self.token if csrf else None
        if method == "GET":
            return self.browser.client.open(url, method=method, headers=headers)
        if api:
            if token:
                headers["X-CSRFToken"] = token
            return self.browser.client.open(url, method=method, json=body, headers=headers)
        data = dict(body or {})
        if token:
            data["csrf_token"] = token
        return self.browser.client.open(url, method=method, data=data, headers=headers)


def client_for(app: Flask, world: World, who: str) -> Client:
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = f"10.9.0.{ROLES.index(who) + 1}"  # rate limits: one address each
    if who != "anon":
        r = browser.login(world.user(who).email)
        assert r.status_code == 302, f"{who} could not log in"
    page = "/login" if who == "anon" else "/settings"
    return Client(who, browser, csrf_from(text(browser.get(page))))


def clients(app: Flask, world: World, roles: Iterable[str] = ROLES) -> dict[str, Client]:
    return {who: client_for(app, world, who) for who in roles}


# ---------------------------------------------------------------- the database, before and after


def _rows(table, dialect: str):
    """All rows of a table as one text, in primary-key order: a scalar subquery, so that one statement reads every
    table (a snapshot is taken hundreds of times per walk)."""
    cols = [c for c in table.columns if c.name not in TOUCHED and not isinstance(c.type, LargeBinary)]
    key = list(table.primary_key.columns)
    if dialect == "postgresql":
        rows = func.json_agg(aggregate_order_by(func.json_build_array(*cols), *key))
        return select(cast(rows, Text)).scalar_subquery()
    ordered = select(func.json_array(*cols).label("row")).order_by(*key).subquery()
    return select(func.group_concat(ordered.c.row, "\n")).scalar_subquery()


def snapshot(app: Flask) -> dict[str, str | None]:
    """Every row of every table (binary columns and last-seen times left out)."""
    tables = Base.metadata.sorted_tables
    with app.app_context():
        dialect = db.engine.dialect.name
        values = db.session.execute(select(*[_rows(t, dialect).label(t.name) for t in tables])).one()
    return dict(zip([t.name for t in tables], values, strict=True))


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


# ---------------------------------------------------------------- headers


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
        elif "'unsafe-inline'" in script or "'unsafe-eval'" in script or "*" in script:
            problems.append(f"CSP script-src allows {script}")
        if d.get("frame-ancestors") != ["'none'"]:
            problems.append(f"CSP frame-ancestors is {d.get('frame-ancestors')}")
        if d.get("object-src") != ["'none'"]:
            problems.append(f"CSP object-src is {d.get('object-src')}")
        if d.get("base-uri") not in (["'none'"], ["'self'"]):
            problems.append(f"CSP base-uri is {d.get('base-uri')}")
    if h.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"X-Content-Type-Options is {h.get('X-Content-Type-Options')}")
    if h.get("X-Frame-Options") != "DENY":
        problems.append(f"X-Frame-Options is {h.get('X-Frame-Options')}")
    if h.get("Referrer-Policy") not in ("no-referrer", "same-origin", "strict-origin",
                                        "strict-origin-when-cross-origin"):
        problems.append(f"Referrer-Policy is {h.get('Referrer-Policy')}")
    return problems
