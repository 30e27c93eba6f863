"""Exports of the learning record: CSV columns exactly as documented, the --since filter, xAPI statements that
validate, streaming in bounded memory, and the `lms export-records` command."""

from __future__ import annotations

import csv
import inspect
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, insert, select, update

from lms.accounts.models import Role
from lms.audit import AuditEvent
from lms.db import db, utcnow
from lms.learning import services as learning
from lms.learning.models import CourseCompletion, LearningEvent, Lesson
from lms.quizzes import services as quizzes
from lms.records import export
from tests import factories
from tests.content_tree import CORRECT, add_quiz, load_into, make_tree

SCHEMA = json.loads((Path(__file__).parent.parent / "fixtures" / "xapi-statement.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
# As documented in docs/api.md and docs/operations.md, word for word.
COMPLETIONS_HEADER = ("completion_id,user_id,email,display_name,course,course_title,course_version,completed_at,"
                      "score,attempt_id")
ATTEMPTS_HEADER = ("attempt_id,user_id,email,display_name,quiz,quiz_title,quiz_version,number,status,started_at,"
                   "closed_at,score,passed,critical_failed")
LONG_AGO = utcnow() - timedelta(days=30)


@pytest.fixture
def record(app, app_ctx, tmp_path):
    """Tess completes course alpha (lessons, then a failed and a passed quiz attempt a month ago); Theo starts
    the quiz today and leaves it open."""
    root = make_tree(tmp_path / "content")
    add_quiz(root)
    load_into(app, root)
    tess = factories.make_user(Role.TRAINEE, email_address="tess@example.org", name="Tess Trainee")
    theo = factories.make_user(Role.TRAINEE, email_address="theo@example.org", name="=HYPERLINK(\"x\")")
    quiz = quizzes.get_quiz("alpha")
    course = learning.get_course("alpha")
    for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)):
        learning.complete_lesson(tess, lesson)
    failed, _ = quizzes.start_attempt(tess, quiz, now=LONG_AGO)
    quizzes.submit_attempt(failed, tess, {"pick-a": "b"}, now=LONG_AGO + timedelta(minutes=2))
    passed, _ = quizzes.start_attempt(tess, quiz, now=LONG_AGO + timedelta(minutes=10))
    quizzes.submit_attempt(passed, tess, CORRECT, now=LONG_AGO + timedelta(minutes=12))
    db.session.execute(update(CourseCompletion).values(completed_at=LONG_AGO + timedelta(minutes=12)))
    open_attempt, _ = quizzes.start_attempt(theo, quiz)
    db.session.commit()
    return dict(tess=tess, theo=theo, quiz=quiz, course=course, failed=failed, passed=passed, open=open_attempt)


def rows(chunks) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(chunks))))


def test_completions_csv_has_the_documented_columns_and_one_row_per_completion(record):
    text = "".join(export.csv_completions())
    assert text.splitlines()[0] == COMPLETIONS_HEADER == ",".join(export.COMPLETION_COLUMNS)
    assert text.endswith("\r\n")
    header, *body = rows([text])
    completion = db.session.scalar(select(CourseCompletion))
    assert body == [[str(completion.id), str(record["tess"].id), "tess@example.org", "Tess Trainee", "alpha",
                     "Course alpha", record["course"].version, completion.completed_at.isoformat(), "100.0",
                     str(record["passed"].id)]]


def test_attempts_csv_has_the_documented_columns_and_every_attempt(record):
    header, *body = rows(export.csv_attempts())
    assert ",".join(header) == ATTEMPTS_HEADER == ",".join(export.ATTEMPT_COLUMNS)
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in body}
    assert list(by_id) == sorted(by_id) and len(by_id) == 3
    failed = by_id[record["failed"].id]
    assert failed | {"started_at": "", "closed_at": ""} == {
        "attempt_id": str(record["failed"].id), "user_id": str(record["tess"].id), "email": "tess@example.org",
        "display_name": "Tess Trainee", "quiz": "alpha", "quiz_title": "Alpha quiz",
        "quiz_version": record["quiz"].version, "number": "1", "status": "submitted", "started_at": "",
        "closed_at": "", "score": "0.0", "passed": "false", "critical_failed": "true"}
    assert failed["started_at"] == LONG_AGO.isoformat()
    assert by_id[record["passed"].id]["passed"] == "true"
    still_open = by_id[record["open"].id]
    assert (still_open["status"], still_open["closed_at"], still_open["score"]) == ("in_progress", "", "")
    # a display name that a spreadsheet would run as a formula is defused
    assert still_open["display_name"] == "'=HYPERLINK(\"x\")"


def test_since_keeps_records_from_that_date_on(record):
    today = export.parse_since(utcnow().date().isoformat())
    assert rows(export.csv_completions(today))[1:] == []
    assert len(rows(export.csv_completions(export.parse_since(LONG_AGO.date().isoformat())))) == 2
    assert [int(r[0]) for r in rows(export.csv_attempts(today))[1:]] == [record["open"].id]
    statements = json.loads("".join(export.xapi_statements(today)))
    recent = db.session.scalar(select(func.count()).select_from(LearningEvent)
                               .where(LearningEvent.occurred_at >= today))
    assert len(statements) == recent > 0
    assert all(s["timestamp"] >= utcnow().date().isoformat() for s in statements)


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-03-01T12:30:00", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
    ("2026-03-01T12:30:00+02:00", datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),
    ("2026-03-01T12:30:00Z", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
    ("", None), (None, None),
])
def test_since_parses_dates_and_datetimes(text, expected):
    assert export.parse_since(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-02-30", "01/03/2026", "2026-3-1"])
def test_since_refuses_what_is_not_a_date(text):
    with pytest.raises(export.ExportError, match="since must be a date like"):
        export.parse_since(text)


def test_xapi_export_is_one_json_array_of_valid_statements(record):
    statements = json.loads("".join(export.xapi_statements()))
    events = db.session.scalars(select(LearningEvent).order_by(LearningEvent.id)).all()
    # 2 lessons completed, 3 attempts started, 1 failed, 1 passed, the course completed
    assert len(statements) == len(events) == 8
    assert [s["verb"]["id"].rsplit("/", 1)[1] for s in statements] == [e.verb.value for e in events]
    assert len({s["id"] for s in statements}) == len(statements)
    for s in statements:
        assert [e.message for e in VALIDATOR.iter_errors(s)] == []
    assert "@" not in json.dumps(statements)  # no e-mail address leaves in a statement
    passed = next(s for s in statements if s["verb"]["id"].endswith("/passed"))
    assert passed["result"]["score"]["scaled"] == 1.0
    assert passed["context"]["contextActivities"]["grouping"][0]["id"].endswith("/xapi/activities/program/prog")
    assert passed["context"]["contextActivities"]["parent"][0]["id"].endswith("/xapi/activities/course/alpha")


def test_an_empty_record_exports_headers_and_an_empty_array(app_ctx):
    assert "".join(export.csv_completions()) == COMPLETIONS_HEADER + "\r\n"
    assert json.loads("".join(export.xapi_statements())) == []


def _synthetic_events(n: int) -> None:
    user = factories.make_user(Role.TRAINEE)
    start = utcnow() - timedelta(days=1)
    db.session.execute(insert(LearningEvent), [
        dict(user_id=user.id, verb="completed", object_type="lesson", object_id=str(i % 50),
             object_title=f"Lesson number {i} with a title of some length", course_id=None,
             content_version="f" * 64, result={}, occurred_at=start + timedelta(seconds=i)) for i in range(n)])
    db.session.commit()


def test_exports_stream_in_batches(app_ctx):
    _synthetic_events(export.BATCH + 1)
    chunks = export.xapi_statements()
    assert inspect.isgenerator(chunks)
    parts = list(chunks)
    assert len(parts) == 4  # "[", a full batch, the one left over, "]"
    assert len(json.loads("".join(parts))) == export.BATCH + 1
    for make in (export.csv_completions, export.csv_attempts):
        assert inspect.isgenerator(make())


def test_exporting_5000_events_takes_little_memory(app_ctx):
    _synthetic_events(5000)
    db.session.expunge_all()
    size = 0
    tracemalloc.start()
    try:
        for chunk in export.xapi_statements():
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 3_000_000  # the whole export is larger than ...
    assert peak < 3_000_000, f"peak {peak / 1e6:.1f} MB"  # ... what was ever held at once


# ---------------------------------------------------------------- lms export-records


def test_cli_exports_csv_to_stdout_and_records_it(app, record):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["export-records", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == COMPLETIONS_HEADER and len(result.stdout.splitlines()) == 2
    result = app.test_cli_runner().invoke(args=["export-records", "--kind", "attempts", "--since",
                                                utcnow().date().isoformat()])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ATTEMPTS_HEADER and len(result.stdout.splitlines()) == 2
    db.session.rollback()
    entries = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "records.exported")
                                 .order_by(AuditEvent.id)).all()
    assert [(e.actor_label, e.data["format"], e.data["kind"]) for e in entries] == [
        ("system", "csv", "completions"), ("system", "csv", "attempts")]


def test_cli_exports_xapi_to_a_file(app, record, tmp_path):
    target = tmp_path / "out" / "statements.json"
    target.parent.mkdir()
    result = app.test_cli_runner().invoke(args=["export-records", "--format", "xapi", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}." in result.stderr and result.stdout == ""
    statements = json.loads(target.read_text())
    assert len(statements) == 8 and not (tmp_path / "out" / "statements.json.partial").exists()


@pytest.mark.parametrize("args, message", [
    (["--since", "31/01/2026"], "since must be a date like 2026-01-31"),
    (["--since", "2026-02-30"], "since must be a date like"),
    (["--format", "pdf"], "'pdf' is not one of 'csv', 'xapi'"),
    (["--kind", "lessons"], "'lessons' is not one of 'completions', 'attempts'"),
    (["--format", "xapi", "--kind", "attempts"], "kind applies to format=csv only"),
])
def test_cli_refuses_bad_options_plainly(app, args, message):
    result = app.test_cli_runner().invoke(args=["export-records", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
