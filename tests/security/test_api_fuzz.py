"""Fuzzing the JSON API from its own OpenAPI document, in-process, with a bounded number of examples.

schemathesis loads /api/v1/openapi.json from the app (WSGI, no server) and, for every operation, draws requests
with hypothesis: valid ones (positive mode) and ones with an invalid parameter or body (negative mode). Each is
sent with a trainee's, a supervisor's or an administrator's bearer token, and its answer checked: never a 5xx, a
status code the document lists for that operation, a documented content type, and a body that matches the
documented schema (problem+json for errors).

The database holds real objects so that ids hit something: a certified trainee who leads a group that has met
before, a trainee with a pending request and an entry to review, another with an approved request, quiz attempts
(one still open). Ids in the path and in bodies are drawn partly from those, partly as schemathesis makes them.
Examples change the data (approve, issue, close a group...): every one must still answer as documented in
whatever state the earlier ones left.

Bounded (MAX_EXAMPLES per operation and mode) and repeatable (derandomized, no example database written). Each run
prints, per operation, the examples sent and the status codes they got (`pytest -s` shows it), and checks that
every operation was called and the token worked throughout.

schemathesis.pytest.from_fixture would be the usual way in, but schemathesis 4.32.5 sets `request.node._nodeid`,
which pytest 9.2 no longer has; this file drives the documented `APIOperation.as_strategy()` and
`Case.call_and_validate()` itself, with pytest's subtests reporting each operation and mode separately."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.db import db, utcnow
from tests.certification_support import make_approved, make_cert_tree, make_certificate, make_request
from tests.factories import make_user
from tests.groups_support import T0, make_group

ROLES = ("trainee", "supervisor", "admin")
BODY_IDS = {"supervisor_id": "user_id"}  # body fields that hold another kind of id than their name says
MAX_EXAMPLES = 8  # per operation, role and mode (positive, negative); constant requests are sent once
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


# ---------------------------------------------------------------- the world the fuzzer runs in


@pytest.fixture
def app(app_factory):
    """The app without rate limits: a fuzz run sends more than 600 calls a minute on one token, and a 429 for
    every later example would test nothing (the limits have their own tests)."""
    return app_factory(RATELIMIT_ENABLED=False)


def _known_values(app) -> dict[str, list]:
    """The ids and keys of what exists, by the name of the path parameter (or body field) that holds them."""
    from lms.certification.models import Certificate, CertificationRequest, PracticumEntry
    from lms.groups.models import Group, GroupSession
    from lms.learning.models import Course, Lesson
    from lms.quizzes.models import Attempt, Quiz

    def ids(column) -> list:
        return sorted(set(db.session.scalars(select(column))))

    with app.app_context():
        today = utcnow().date()
        days = [d for d in ids(GroupSession.session_date) if abs((d - today).days) <= 14]
        return {
            "user_id": ids(User.id), "attempt_id": ids(Attempt.id), "entry_id": ids(PracticumEntry.id),
            "request_id": ids(CertificationRequest.id), "group_id": ids(Group.id), "lesson_id": ids(Lesson.id),
            "serial": ids(Certificate.serial), "code": ids(Certificate.verification_code),
            "slug": ids(Course.slug) + ids(Quiz.slug),
            "day": [d.isoformat() for d in days] + [(today - timedelta(days=1)).isoformat()],  # no session then
        }


def _build_world(app, people, root) -> None:
    """A certified trainee (people.trainee) leading a group with a co-facilitator, a trainee of the same
    supervisor with a pending request, another with an approved one, an open quiz attempt, a pending entry."""
    from lms.certification import services as certification
    from lms.groups import services as groups
    from lms.groups.models import Group
    from lms.quizzes import services as quizzes

    make_cert_tree(app, root)
    sup, admin = people.supervisor.id, people.admin.id
    make_certificate(app, people.trainee.id, sup, admin)
    with app.app_context():
        supervisor = db.session.get(User, sup)
        pending = make_user(Role.TRAINEE, name="Pat Pending", supervisor=supervisor).id
        approved = make_user(Role.TRAINEE, name="Avery Approved", supervisor=supervisor).id
    make_request(app, pending, sup)
    make_approved(app, approved, sup)
    # The group started meeting two weeks ago with the certified trainee as lead, so past sessions can be recorded.
    weeks_ago = T0 - timedelta(days=14)
    group_id = make_group(app, admin, now=weeks_ago, co_ids=(pending,))
    with app.app_context():
        groups.assign_lead(db.session.get(Group, group_id), db.session.get(User, people.trainee.id),
                           actor=db.session.get(User, admin), today=utcnow().date(), now=weeks_ago)
        trainee = db.session.get(User, pending)
        certification.log_practicum(trainee, kind="observed", session_date=utcnow().date() - timedelta(days=1),
                                    group_name="Thursday group", reflection="I watched how the check-in went.")
        quizzes.start_attempt(db.session.get(User, people.trainee.id), quizzes.get_quiz("alpha"))
        db.session.commit()


def _token(app, user_id: int) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        secret = accounts.create_api_token(user, actor=user, name="fuzz").secret
        db.session.commit()
    return secret


def _load_schema(app, known: dict[str, list]):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # The caller's bearer token is sent with every example; generated Authorization headers and session cookies
    # would only be replaced by it, so negative examples are invalid in what the operation itself takes.
    schema.config.generation.update(with_security_parameters=False)

    def or_known(name: str, value: Any) -> st.SearchStrategy:
        """The generated value, or (as often) one that exists; a value of another type than the parameter's (a
        negative example) is left as it is."""
        values = known.get(name)
        if name.endswith("_ids") and isinstance(value, list):
            return st.lists(st.sampled_from(known["user_id"]), max_size=2) | st.just(value)
        if values and isinstance(value, type(values[0])) and not isinstance(value, bool):
            return st.sampled_from([value, *values])
        return st.just(value)

    @schema.hook("flatmap_path_parameters")
    def real_path_ids(context, path_parameters: dict | None) -> st.SearchStrategy:
        if not path_parameters:
            return st.just(path_parameters)
        return st.fixed_dictionaries({name: or_known(name, value) for name, value in path_parameters.items()})

    @schema.hook("flatmap_body")
    def real_body_ids(context, body: Any) -> st.SearchStrategy:
        """user_id, supervisor_id, request_id and co_facilitator_ids in a JSON body, likewise."""
        if not isinstance(body, dict):
            return st.just(body)
        return st.fixed_dictionaries({name: or_known(BODY_IDS.get(name, name), value) for name, value in body.items()})

    return schema


# Repeatable (the seed comes from the test, not the clock), no example database, bounded. Sharing the
# function-scoped app and database across examples is the point (each example meets the state the earlier ones
# left), so the function_scoped_fixture health check is off; the inner tests are not pytest items, so it would
# not fire today, but it would if `fuzz` became the test itself. Negative generation filters by design (an
# operation with nothing to make invalid filters out everything): filter_too_much is expected.
BOUNDED = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(app, people, tmp_path, role, subtests):
    _build_world(app, people, tmp_path / "content")
    schema = _load_schema(app, _known_values(app))
    headers = {"Authorization": f"Bearer {_token(app, getattr(people, role).id)}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    sent: Counter[str] = Counter()
    answered: Counter[tuple[str, int]] = Counter()
    nothing_to_negate: list[str] = []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @BOUNDED
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                sent[case.operation.label] += 1
                answered[case.operation.label, response.status_code] += 1

            with subtests.test(msg=f"{mode.value} {operation.label}"):
                try:
                    fuzz()
                except Unsatisfiable:
                    # Nothing to make invalid: no parameters and no body, or only strings in the path.
                    if mode is GenerationMode.POSITIVE:
                        raise
                    nothing_to_negate.append(operation.label)

    succeeded = {label for (label, code), _ in answered.items() if code < 300}
    print(f"\nfuzzed as {role}: {len(sent)} of {len(operations)} operations, {sum(sent.values())} examples, "
          f"{sum(k for (_, code), k in answered.items() if code < 300)} answered 2xx in {len(succeeded)} operations; "
          f"nothing to make invalid in {len(nothing_to_negate)}: {', '.join(nothing_to_negate)}")
    for label, n in sorted(sent.items()):
        codes = sorted((code, k) for (lbl, code), k in answered.items() if lbl == label)
        print(f"  {n:4d}  {label}  " + " ".join(f"{code}x{k}" for code, k in codes))
    # Not vacuous: every operation was called, with a token that worked every time, and reached real objects.
    assert len(operations) >= 49, "the OpenAPI document lost operations"
    assert sorted(sent) == sorted(op.label for op in operations), "some operation was never called"
    assert not [label for (label, code) in answered if code == 401], "the caller's token stopped working"
    assert {"GET /me", "GET /attempts/{attempt_id}", "GET /certificates/{serial}", "GET /groups/{group_id}",
            "GET /certification-requests/{request_id}", "GET /practicum/{entry_id}"} <= succeeded
