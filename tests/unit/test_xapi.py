"""xAPI statements from learning events: every verb validates against the statement schema in
tests/fixtures/xapi-statement.schema.json, ids are stable, and people appear only as an account."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from lms.records import xapi
from lms.records.xapi import Event, Site

SCHEMA = json.loads((Path(__file__).parent.parent / "fixtures" / "xapi-statement.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
SITE = Site("https://training.example", "pnd-facilitator", "PND facilitator certification")
WHEN = datetime(2026, 11, 24, 13, 30, 5, 123456, tzinfo=UTC)
ADL = "http://adlnet.gov/expapi"


def event(verb: str = "completed", object_type: str = "lesson", **kw) -> Event:
    values = dict(id=42, user_id=7, verb=verb, object_type=object_type, object_id="12",
                  object_title="Recovery position", occurred_at=WHEN, course_slug="overdose-response",
                  course_title="Overdose response", content_version="abc123", result={})
    values.update(kw)
    return Event(**values)


EVENTS = {
    "lesson completed": event(),
    "course completed": event(object_type="course", object_id="overdose-response", object_title="Overdose response",
                              result={"score": 87.5}),
    "quiz attempted": event("attempted", "quiz", object_id="overdose-quiz", object_title="Overdose quiz",
                            result={"attempt_id": 3, "number": 1}),
    "quiz passed": event("passed", "quiz", object_id="overdose-quiz", object_title="Overdose quiz",
                         result={"attempt_id": 3, "score": 100.0, "passed": True, "critical_failed": False,
                                 "timed_out": False}),
    "quiz failed": event("failed", "quiz", object_id="overdose-quiz", object_title="Overdose quiz",
                         result={"attempt_id": 4, "score": 0, "passed": False, "critical_failed": True,
                                 "timed_out": True}),
    "code acknowledged": event("acknowledged", "code_of_conduct", object_id="1.0", object_title="Code of conduct",
                               course_slug=None, course_title=None, content_version="1.0"),
    "certificate earned": event("earned", "certificate", object_id="PND-2026-000007",
                                object_title="PND Community Session Facilitator", course_slug=None, course_title=None,
                                content_version="2026.1", result={"valid_until": "2028-11-23"}),
}


def errors(statement: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(statement)]


def test_the_schema_itself_is_a_valid_json_schema():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", EVENTS)
def test_every_verb_gives_a_valid_statement(name):
    statement = xapi.statement(SITE, EVENTS[name])
    assert errors(statement) == []
    assert statement["version"] == "1.0.0"  # xAPI 1.0.3, Data 2.4.10: a provider that sets it MUST set 1.0.0
    assert "mbox" not in json.dumps(statement) and "@" not in json.dumps(statement)


def test_verbs_and_activity_types():
    got = {name: (xapi.statement(SITE, e)["verb"]["id"], xapi.statement(SITE, e)["object"].get("definition", {})
                  .get("type")) for name, e in EVENTS.items()}
    assert got == {
        "lesson completed": (f"{ADL}/verbs/completed", f"{ADL}/activities/lesson"),
        "course completed": (f"{ADL}/verbs/completed", f"{ADL}/activities/course"),
        "quiz attempted": (f"{ADL}/verbs/attempted", f"{ADL}/activities/assessment"),
        "quiz passed": (f"{ADL}/verbs/passed", f"{ADL}/activities/assessment"),
        "quiz failed": (f"{ADL}/verbs/failed", f"{ADL}/activities/assessment"),
        "code acknowledged": ("http://activitystrea.ms/schema/1.0/accept", None),
        "certificate earned": ("http://id.tincanapi.com/verb/earned", None),
    }
    assert xapi.statement(SITE, EVENTS["code acknowledged"])["verb"]["display"] == {"en": "accepted"}


def test_the_id_is_a_stable_uuid5_of_the_site_and_the_event():
    first = xapi.statement(SITE, event())
    again = xapi.statement(SITE, event(object_title="Renamed later"))
    assert first["id"] == again["id"]
    assert uuid.UUID(first["id"]).version == 5
    assert first["id"] == str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "https://training.example/xapi/statements"),
                                         "42"))
    assert xapi.statement(SITE, event(id=43))["id"] != first["id"]
    assert xapi.statement(Site("https://other.example"), event())["id"] != first["id"]


def test_the_actor_is_an_account_on_this_site_never_an_email():
    statement = xapi.statement(SITE, event())
    assert statement["actor"] == {"objectType": "Agent",
                                  "account": {"homePage": "https://training.example", "name": "7"}}


def test_object_context_and_timestamp_of_a_lesson():
    statement = xapi.statement(SITE, event())
    assert statement["object"] == {
        "objectType": "Activity", "id": "https://training.example/xapi/activities/lesson/12",
        "definition": {"name": {"en": "Recovery position"}, "type": f"{ADL}/activities/lesson"}}
    assert statement["context"] == {
        "contextActivities": {
            "parent": [{"objectType": "Activity", "id": "https://training.example/xapi/activities/course/overdose-response",
                        "definition": {"name": {"en": "Overdose response"}, "type": f"{ADL}/activities/course"}}],
            "grouping": [{"objectType": "Activity",
                          "id": "https://training.example/xapi/activities/program/pnd-facilitator",
                          "definition": {"name": {"en": "PND facilitator certification"}}}]},
        "extensions": {"https://training.example/xapi/extensions/content-version": "abc123"}}
    assert statement["timestamp"] == "2026-11-24T13:30:05.123Z"
    assert statement["result"] == {"completion": True}


def test_a_course_sits_in_the_program():
    context = xapi.statement(SITE, EVENTS["course completed"])["context"]["contextActivities"]
    assert [a["id"] for a in context["parent"]] == ["https://training.example/xapi/activities/program/pnd-facilitator"]
    assert "grouping" not in context


def test_results_of_passed_and_failed_quizzes():
    passed = xapi.statement(SITE, EVENTS["quiz passed"])
    assert passed["result"]["score"] == {"scaled": 1.0, "raw": 100.0, "min": 0, "max": 100}
    assert (passed["result"]["success"], passed["result"]["completion"]) == (True, True)
    failed = xapi.statement(SITE, EVENTS["quiz failed"])
    assert failed["result"]["score"]["scaled"] == 0.0 and failed["result"]["success"] is False
    assert failed["result"]["extensions"] == {"https://training.example/xapi/extensions/critical-failed": True,
                                              "https://training.example/xapi/extensions/timed-out": True}
    # the attempt ties "attempted" to its grade
    attempted = xapi.statement(SITE, EVENTS["quiz attempted"])
    key = "https://training.example/xapi/extensions/attempt"
    assert attempted["context"]["extensions"][key] == "https://training.example/xapi/attempts/3"
    assert "result" not in attempted
    assert xapi.statement(SITE, EVENTS["course completed"])["result"]["score"]["scaled"] == 0.875


@pytest.mark.parametrize("score", [150, -3, "90", True, None])
def test_scores_that_are_not_percentages_are_left_out(score):
    statement = xapi.statement(SITE, event("passed", "quiz", result={"score": score}))
    assert "score" not in statement["result"] and errors(statement) == []


def test_without_a_program_or_course_the_context_shrinks():
    bare = xapi.statement(Site("http://127.0.0.1:5000"), event(course_slug=None, course_title=None,
                                                               content_version=None))
    assert "context" not in bare and errors(bare) == []


def test_timestamps_are_utc_and_naive_ones_are_refused():
    other_zone = WHEN.astimezone(timezone(timedelta(hours=-5)))
    assert xapi.timestamp(other_zone) == "2026-11-24T13:30:05.123Z"
    with pytest.raises(ValueError, match="naive"):
        xapi.timestamp(datetime(2026, 1, 1))


def test_object_ids_are_escaped_into_the_iri():
    statement = xapi.statement(SITE, event(object_type="quiz", object_id="a b/c"))
    assert statement["object"]["id"] == "https://training.example/xapi/activities/quiz/a%20b%2Fc"
    assert errors(statement) == []


@pytest.mark.parametrize("break_it, message", [
    (lambda s: s["actor"].update(mbox="mailto:tess@example.org"), "mbox"),
    (lambda s: s["context"]["contextActivities"]["parent"][0].update(mbox_sha1sum="ab"), "mbox_sha1sum"),
    (lambda s: s["actor"]["account"].update(homePage="mailto:x@example.org"), "mailto"),
    # extensions may hold anything, so only the "no e-mail anywhere" rule catches these
    (lambda s: s["result"]["extensions"].update({"https://x.example/who": {"mbox": "mailto:t@example.org"}}), "mbox"),
    (lambda s: s["result"]["extensions"].update({"https://x.example/who": ["mailto:t@example.org"]}), "mailto"),
    (lambda s: s["result"]["score"].update(scaled=1.5), "1.5"),
    (lambda s: s["verb"].pop("display"), "display"),
    (lambda s: s["verb"].update(id="completed"), "completed"),
    (lambda s: s.update(timestamp="24/11/2026 13:30"), "timestamp"),
    (lambda s: s.update(timestamp="2026-11-24T13:30:05"), "timestamp"),
    (lambda s: s.pop("object"), "object"),
    (lambda s: s.update(id="42"), "42"),
    (lambda s: s.update(version="1.0.3"), "1.0.0"),
])
def test_the_schema_refuses_what_it_should(break_it, message):
    statement = copy.deepcopy(xapi.statement(SITE, EVENTS["quiz passed"]))
    break_it(statement)
    found = " ".join(errors(statement))
    assert message in found, f"schema accepted a statement with a broken {message}: {found}"
