"""The authorization matrix: for every rule and method of the URL map, what each of the six people of the world gets.
It is the specification the walk in test_authorization_matrix.py checks; the CSRF walk reads it to know who may
make each change."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.security.routes import Route
from tests.security.world import ROLES

MATRIX_FILE = "tests/security/matrix.py"

# What each role gets: a status code; `login` a redirect to the login page (a refusal); `302` a redirect elsewhere;
# `>/path` a redirect to that path (`>/login` too, where it is not a refusal); `a|b` either. API answers of 400
# and more must be problem+json (401 with WWW-Authenticate).
MATRIX = """
#      rule                                                        anon    trainee other_t superv  other_s admin
# ---- pages and API reads. The world is as built: Tess Trainee's objects, seen by her supervisor and admins.
GET    /static/<path:filename>                                     200     200     200     200     200     200
GET    /                                                           login   200     200     200     200     200
GET    /healthz                                                    200     200     200     200     200     200
GET    /login                                                      200     >/      >/      >/      >/      >/
GET    /password/forgot                                            200     200     200     200     200     200
GET    /invitation/<token>                                         200     200     200     200     200     200
GET    /password/reset/<token>                                     200     200     200     200     200     200
GET    /settings                                                   login   200     200     200     200     200
GET    /admin/users                                                login   403     403     403     403     200
GET    /admin/users/new                                            login   403     403     403     403     200
GET    /admin/users/<int:user_id>                                  login   403     403     403     403     200
GET    /admin/audit                                                login   403     403     403     403     200
GET    /admin/content                                              login   403     403     403     403     200
GET    /admin/content/lessons/<int:lesson_id>                      login   403     403     403     403     200
GET    /courses                                                    login   200     200     200     200     200
GET    /courses/<slug>                                             login   200     200     200     200     200
GET    /courses/<slug>/lessons/<lesson_slug>                       login   200     200     200     200     200
GET    /quizzes/<slug>                                             login   200     200     200     200     200
GET    /attempts/<int:attempt_id>                                  login   302     404     302     404     302
GET    /attempts/<int:attempt_id>/result                           login   200     404     200     404     200
GET    /people/<int:user_id>/attempts                              login   403     403     200     404     200
GET    /admin/quizzes                                              login   403     403     403     403     200
GET    /admin/quizzes/<slug>                                       login   403     403     403     403     200
GET    /supervision                                                login   403     403     200     200     200
GET    /admin/reports                                              login   403     403     403     403     200
GET    /admin/reports/<name>.csv                                   login   403     403     403     403     200
GET    /transcript                                                 login   200     200     200     200     200
GET    /people/<int:user_id>/transcript                            login   >/transcript 404     200     404     200
GET    /certification                                              login   200     200     >/reviews >/reviews >/reviews
GET    /certification/code-of-conduct                              login   200     200     200     200     200
GET    /practicum                                                  login   200     200     >/reviews >/reviews >/reviews
GET    /practicum/<int:entry_id>/review                            login   200     404     200     404     200
GET    /reviews                                                    login   403     403     200     200     200
GET    /certification/requests/<int:request_id>                    login   200     404     200     404     200
GET    /badges/issuer                                              200     200     200     200     200     200
GET    /badges/jwks.json                                           200     200     200     200     200     200
GET    /badges/keys/<thumbprint>                                   200     200     200     200     200     200
GET    /badges/achievements/<slug>                                 200     200     200     200     200     200
GET    /badges/status/revocation                                   200     200     200     200     200     200
GET    /certificates/<serial>/credential                           login   200     404     200     404     200
GET    /certificate                                                login   200     200     200     200     200
GET    /certificates                                               login   403     403     200     200     200
GET    /certificates/<serial>                                      login   200     404     200     404     200
GET    /certificates/<serial>/pdf                                  login   200     404     200     404     200
GET    /verify                                                     200     200     200     200     200     200
GET    /verify/<path:code>                                         200     200     200     200     200     200
GET    /calendar/<token>.ics                                       200     200     200     200     200     200
GET    /groups                                                     login   >/lead  >/lead  403     403     200
GET    /groups/new                                                 login   403     403     403     403     200
GET    /groups/<int:group_id>/edit                                 login   403     403     403     403     200
GET    /groups/<int:group_id>                                      login   200     404     200     404     200
GET    /lead                                                       login   200     200     403     403     403
GET    /calendar                                                   login   200     200     403     403     403
GET    /api/v1/certificates/<serial>/credential                    401     200     404     200     404     200
GET    /api/v1/badges/jwks                                         200     200     200     200     200     200
GET    /api/v1/me/eligibility                                      401     200     200     200     200     200
GET    /api/v1/practicum                                           401     200     200     200     200     200
GET    /api/v1/practicum/<int:entry_id>                            401     200     404     200     404     200
GET    /api/v1/certification-requests                              401     200     200     200     200     200
GET    /api/v1/certification-requests/<int:request_id>             401     200     404     200     404     200
GET    /api/v1/certificates/<serial>                               401     200     404     200     404     200
GET    /api/v1/certificates/<serial>/pdf                           401     200     404     200     404     200
GET    /api/v1/verify/<path:code>                                  200     200     200     200     200     200
GET    /api/v1/facilitators/<int:user_id>/eligibility              401     200     404     200     404     200
GET    /api/v1/groups                                              401     200     200     403     403     200
GET    /api/v1/groups/<int:group_id>                               401     200     404     200     404     200
GET    /api/v1/groups/<int:group_id>/sessions                      401     200     404     200     404     200
GET    /api/v1/courses                                             401     200     200     200     200     200
GET    /api/v1/courses/<slug>                                      401     200     200     200     200     200
GET    /api/v1/lessons/<int:lesson_id>                             401     200     200     200     200     200
GET    /api/v1/me/progress                                         401     200     200     200     200     200
GET    /api/v1/openapi.json                                        200     200     200     200     200     200
GET    /api/v1/attempts/<int:attempt_id>                           401     200     404     200     404     200
GET    /api/v1/me/attempts                                         401     200     200     200     200     200
GET    /api/v1/me/record                                           401     200     200     200     200     200
GET    /api/v1/users/<int:user_id>/record                          401     200     404     200     404     200
GET    /api/v1/records/export                                      401     403     403     403     403     200
GET    /api/v1/me                                                  401     200     200     200     200     200
GET    /api/v1/users                                               401     403     403     200     200     200
GET    /api/v1/users/<int:user_id>                                 401     200     404     200     404     200
# ---- changes, after every read. Refusals come first for each route and must leave the database as it was;
# then the others, whose bodies either fail validation or meet a state the world is in (the request is
# issued, the entry confirmed: 409 shows the permission check was passed). Their order matters where one
# change follows another (HTML submit closes the open attempt before the API answers and restarts it).
POST   /login                                                      200     200     200     200     200     200
POST   /password/forgot                                            200     200     200     200     200     200
POST   /invitation/<token>                                         422     422     422     422     422     422
POST   /password/reset/<token>                                     422     422     422     422     422     422
POST   /settings/profile                                           login   422     422     422     422     422
POST   /settings/password                                          login   422     422     422     422     422
POST   /settings/tokens                                            login   422     422     422     422     422
POST   /settings/tokens/<int:token_id>/revoke                      login   >/settings 404     404     404     404
POST   /admin/users/assign                                         login   403     403     403     403     >/admin/users
POST   /admin/users/new                                            login   403     403     403     403     422
POST   /admin/users/<int:user_id>/role                             login   403     403     403     403     302
POST   /admin/users/<int:user_id>/supervisor                       login   403     403     403     403     302
POST   /admin/users/<int:user_id>/deactivate                       login   403     403     403     403     302
POST   /admin/users/<int:user_id>/reactivate                       login   403     403     403     403     302
POST   /admin/users/<int:user_id>/invite                           login   403     403     403     403     302
POST   /courses/<slug>/lessons/<lesson_slug>/complete              login   302     302     302     302     302
POST   /quizzes/<slug>/attempts                                    login   302     302     302     302     302
POST   /attempts/<int:attempt_id>/save                             login   302     404     403     404     403
POST   /attempts/<int:attempt_id>/submit                           login   302     404     403     404     403
POST   /people/<int:user_id>/attempts                              login   403     403     422     404     422
POST   /certification/request                                      login   409     409     403     403     403
POST   /certification/requests/<int:request_id>/withdraw           login   302     404     403     404     403
POST   /certification/code-of-conduct                              login   422     422     422     422     422
POST   /practicum                                                  login   422     422     403     403     403
POST   /practicum/<int:entry_id>/review                            login   403     404     409     404     409
POST   /certification/requests/issue                               login   403     403     403     403     >/reviews
POST   /certification/requests/<int:request_id>/approve            login   403     404     409     404     409
POST   /certification/requests/<int:request_id>/reject             login   403     404     409     404     409
POST   /certification/requests/<int:request_id>/issue              login   403     403     403     403     302
POST   /certificates/<serial>/revoke                               login   403     404     403     404     422
POST   /verify/<path:code>                                         422     422     422     422     422     422
POST   /groups/new                                                 login   403     403     403     403     422
POST   /groups/<int:group_id>/edit                                 login   403     403     403     403     422
POST   /groups/<int:group_id>/status                               login   403     403     403     403     422
POST   /groups/<int:group_id>/lead                                 login   403     403     403     403     422
POST   /groups/<int:group_id>/lead/remove                          login   403     403     403     403     302
POST   /groups/<int:group_id>/co-facilitators                      login   403     403     403     403     422
POST   /groups/<int:group_id>/co-facilitators/<int:user_id>/remove login   403     403     403     403     302
POST   /groups/<int:group_id>/sessions/<day>/held                  login   409     404     403     404     409
POST   /calendar                                                   login   200     200     403     403     403
# ---- API changes: cookie sessions with the X-CSRFToken header; anonymous callers get 401 problem+json.
POST   /api/v1/practicum                                           401     201     201     403     403     403
POST   /api/v1/practicum/<int:entry_id>/confirm                    401     403     404     409     404     409
POST   /api/v1/certification-requests                              401     409     409     403     403     403
POST   /api/v1/certification-requests/<int:request_id>/approve     401     403     404     409     404     409
POST   /api/v1/certification-requests/<int:request_id>/reject      401     403     404     409     404     409
POST   /api/v1/certificates                                        401     403     403     403     403     409
POST   /api/v1/certificates/<serial>/revoke                        401     403     403     403     403     422
POST   /api/v1/groups                                              401     403     403     403     403     422
PATCH  /api/v1/groups/<int:group_id>                               401     403     403     403     403     200
PUT    /api/v1/groups/<int:group_id>/lead                          401     403     403     403     403     409
DELETE /api/v1/groups/<int:group_id>/lead                          401     403     403     403     403     409
POST   /api/v1/groups/<int:group_id>/co-facilitators               401     403     403     403     403     422
DELETE /api/v1/groups/<int:group_id>/co-facilitators/<int:user_id> 401     403     403     403     403     200
POST   /api/v1/groups/<int:group_id>/sessions/<day>/held           401     409     404     403     404     409
POST   /api/v1/groups/<int:group_id>/sessions/<day>/cancel         401     200     404     403     404     409
POST   /api/v1/me/calendar-feed                                    401     201     201     201     201     201
DELETE /api/v1/me/calendar-feed                                    401     204     204     204     204     204
POST   /api/v1/lessons/<int:lesson_id>/complete                    401     200     200     200     200     200
POST   /api/v1/quizzes/<slug>/attempts                             401     409     200     200     200     200
PUT    /api/v1/attempts/<int:attempt_id>/answers                   401     409     404     403     404     403
POST   /api/v1/attempts/<int:attempt_id>/submit                    401     200     404     403     404     403
POST   /api/v1/users                                               401     403     403     403     403     422
PATCH  /api/v1/users/<int:user_id>                                 401     403     403     403     403     200
# ---- last: it ends the session of whoever asks.
POST   /logout                                                     >/login >/login >/login >/login >/login >/login
"""

REFUSALS = frozenset({"login", "401", "403", "404", "405"})


def parse(table: str) -> dict[str, dict[str, tuple[str, ...]]]:
    rows: dict[str, dict[str, tuple[str, ...]]] = {}
    for line in table.strip().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        method, rule, *cells = line.split()
        assert len(cells) == len(ROLES), f"{line!r}: one cell for each of {ROLES}"
        key = f"{method} {rule}"
        assert key not in rows, f"{key} is in the matrix twice"
        rows[key] = dict(zip(ROLES, (tuple(c.split("|")) for c in cells), strict=True))
    return rows


EXPECTED = parse(MATRIX)


def coverage_problems(found: list[Route], expected: dict) -> list[str]:
    keys = {r.key for r in found}
    missing = [f"{r.key} ({r.endpoint}) is not in the authorization matrix: add a line for it to MATRIX in "
               f"{MATRIX_FILE} with what each of {', '.join(ROLES)} must get" for r in found if r.key not in expected]
    stale = [f"{key} is in the authorization matrix but not in the URL map: remove its line from {MATRIX_FILE}"
             for key in expected if key not in keys]
    return missing + stale


def outcome(response) -> set[str]:
    """The words of the matrix that describe a response."""
    words = {str(response.status_code)}
    if 300 <= response.status_code < 400:
        path = urlsplit(response.headers["Location"]).path
        words |= {"login" if path == "/login" else "302", f">{path}"}
    return words


def refused(expected: tuple[str, ...]) -> bool:
    return set(expected) <= REFUSALS


def problem_issues(route: Route, response) -> list[str]:
    if not route.api or response.status_code < 400:
        return []
    issues = []
    if response.mimetype != "application/problem+json":
        issues.append(f"answers {response.mimetype}, not application/problem+json")
    elif (response.get_json(silent=True) or {}).get("status") != response.status_code:
        issues.append("problem body's status differs from the response's")
    if response.status_code == 401 and not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
        issues.append("401 without WWW-Authenticate: Bearer")
    return issues


def walk_order(found: list[Route]) -> list[Route]:
    """Reads first, on the world as built; then changes, in the URL map's order; logging out last."""
    return sorted(found, key=lambda r: (r.changes_state, r.rule == "/logout"))


def first_allowed(route: Route) -> str:
    """The first of ROLES the matrix lets through this route."""
    return next(who for who in ROLES if not refused(EXPECTED[route.key][who]))
