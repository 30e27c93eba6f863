"""The authorization matrix walked: every rule and method of the URL map, as nobody, as Tess Trainee (who owns the
world's objects), as another trainee, as Tess's supervisor, as another supervisor and as an administrator, each
answer compared with tests/security/matrix.py. A route the matrix does not know fails, so a new route cannot be
forgotten; a refused change must leave the database as it was."""

from __future__ import annotations

from tests.conftest import Browser
from tests.security.matrix import (
    EXPECTED,
    MATRIX_FILE,
    coverage_problems,
    outcome,
    problem_issues,
    refused,
    walk_order,
)
from tests.security.routes import Route, body_for, changed_tables, clients, fill, routes, snapshot, url_for_route
from tests.security.world import ROLES

# ---------------------------------------------------------------- the table and the URL map agree


def test_every_route_is_in_the_matrix(app):
    problems = coverage_problems(routes(app), EXPECTED)
    assert not problems, "\n".join(problems)


def test_a_route_the_matrix_does_not_know_fails_with_what_to_do(app):
    app.add_url_rule("/new/<int:thing_id>", "new_thing", lambda thing_id: "", methods=["GET", "POST"])
    problems = coverage_problems(routes(app), EXPECTED)
    assert problems == [f"{m} /new/<int:thing_id> (new_thing) is not in the authorization matrix: add a line for it "
                        f"to MATRIX in {MATRIX_FILE} with what each of {', '.join(ROLES)} must get"
                        for m in ("GET", "POST")]
    gone = coverage_problems([r for r in routes(app) if r.rule not in ("/healthz", "/new/<int:thing_id>")], EXPECTED)
    assert gone == [f"GET /healthz is in the authorization matrix but not in the URL map: remove its line from "
                    f"{MATRIX_FILE}"]


# ---------------------------------------------------------------- the walk


def test_each_role_gets_what_the_matrix_says_on_every_route(app, world):
    found = routes(app)
    assert not coverage_problems(found, EXPECTED), "see test_every_route_is_in_the_matrix"
    browsers = clients(app, world)
    failures: list[str] = []
    checked = 0
    for route in walk_order(found):
        expected = EXPECTED[route.key]
        url = url_for_route(route, world)
        refusing = [who for who in ROLES if refused(expected[who])]
        allowed = [who for who in ROLES if who not in refusing]
        before = snapshot(app) if route.changes_state and refusing else None
        for i, who in enumerate(refusing + allowed):
            if before is not None and i == len(refusing) and (changed := changed_tables(before, snapshot(app))):
                failures.append(f"{route.key}: refused requests of {refusing} changed {changed}")
            r = browsers[who].open(route.method, url, api=route.api, body=body_for(route, world, who=who))
            checked += 1
            got = outcome(r)
            if not got & set(expected[who]):
                failures.append(f"{route.key} as {who}: got {'/'.join(sorted(got))}, the matrix says "
                                f"{'|'.join(expected[who])}")
            failures += [f"{route.key} as {who}: {issue}" for issue in problem_issues(route, r)]
        if before is not None and not allowed and (changed := changed_tables(before, snapshot(app))):
            failures.append(f"{route.key}: refused requests changed {changed}")
    assert checked == len(found) * len(ROLES)
    assert not failures, f"{len(failures)} of {checked} answers differ:\n" + "\n".join(failures)


def test_a_method_no_rule_of_an_address_answers_is_405(app, people, login_as):
    """For each address of the URL map, a method none of its rules answers: 405 with the methods that would work
    (problem+json under /api/), for nobody and for an administrator alike, before any other check (so the
    arguments need not name anything)."""
    by_rule: dict[str, list[Route]] = {}
    for route in routes(app):
        by_rule.setdefault(route.rule, []).append(route)
    browsers = {"anon": Browser(app.test_client()), "admin": login_as("admin")}
    failures = []
    for rule, found in by_rule.items():
        methods = {r.method for r in found}
        wrong = next(m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m not in methods)
        url = fill(rule, dict.fromkeys(found[0].args, 1))
        for who, browser in browsers.items():
            r = browser.client.open(url, method=wrong)
            allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
            if r.status_code != 405 or not methods <= allow or wrong in allow:
                failures.append(f"{wrong} {rule} as {who}: {r.status_code}, Allow {sorted(allow)}")
            failures += [f"{wrong} {rule} as {who}: {issue}" for issue in problem_issues(found[0], r)]
    assert not failures, "\n".join(failures)
    assert len(by_rule) > 100


def test_staff_looking_at_an_attempt_in_progress_end_on_a_page_and_cannot_answer_it(app, world):
    """The walk reads closed attempts; an open one sends its trainee to answer it, and the staff who may see it to
    the trainee's attempts (not round between the attempt and its result), and refuses their answers (403)."""
    browsers = clients(app, world, ("trainee", "supervisor", "admin"))
    attempt = world.open_attempt_id
    for who, page in (("trainee", f"/attempts/{attempt}"),
                      ("supervisor", f"/people/{world.mine.user_id}/attempts"),
                      ("admin", f"/people/{world.mine.user_id}/attempts")):
        r = browsers[who].browser.get(f"/attempts/{attempt}", follow_redirects=True)
        assert r.status_code == 200 and r.request.path == page, (who, r.request.path)
        assert len(r.history) == (0 if who == "trainee" else 2)
        for action in ("save", "submit"):
            if who != "trainee":
                r = browsers[who].open("POST", f"/attempts/{attempt}/{action}", api=False, body={})
                assert r.status_code == 403, (who, action)
