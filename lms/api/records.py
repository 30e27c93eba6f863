"""The transcript: the caller's own, and a trainee's for their supervisor or an administrator."""

from __future__ import annotations

from lms.accounts.models import User
from lms.api.core import ApiError, api_user, route
from lms.api.schemas import TranscriptAttempt, TranscriptCourse, TranscriptOut, TranscriptTotals
from lms.db import db
from lms.records import services
from lms.records.services import AttemptLine, CourseLine, Transcript

TAG = "Records"


def _attempt(a: AttemptLine) -> TranscriptAttempt:
    return TranscriptAttempt(id=a.id, quiz=a.quiz_slug, quiz_title=a.quiz_title, number=a.number,
                             status=a.status.value, started_at=a.started_at, closed_at=a.closed_at, score=a.score,
                             passed=a.passed, critical_failed=a.critical_failed, quiz_version=a.quiz_version,
                             quiz_version_changed=a.version_changed)


def _course(c: CourseLine) -> TranscriptCourse:
    return TranscriptCourse(slug=c.slug, title=c.title, required=c.required, retired=c.retired, state=c.state.value,
                            current_version=c.current_version, completed_at=c.completed_at,
                            completed_version=c.completed_version, version_changed=c.version_changed,
                            score=c.score, best_score=c.best_score, lessons_done=c.lessons_done,
                            lessons_total=c.lessons_total, quiz=c.quiz_slug,
                            attempts=[_attempt(a) for a in c.attempts])


def _out(t: Transcript) -> dict:
    totals = t.totals
    return TranscriptOut(
        user_id=t.trainee_id, display_name=t.name, certificate_name=t.certificate_name, email=t.email,
        supervisor=t.supervisor_name, generated_at=t.generated_at, program=t.program_title,
        program_version=t.program_version, required=[_course(c) for c in t.required],
        other=[_course(c) for c in t.other], other_attempts=[_attempt(a) for a in t.other_attempts],
        totals=TranscriptTotals(required_done=totals.required_done, required_total=totals.required_total,
                                courses_done=totals.courses_done, lessons_done=totals.lessons_done,
                                lessons_total=totals.lessons_total, attempts=totals.attempts,
                                attempts_passed=totals.attempts_passed),
    ).model_dump(mode="json")


@route("/me/record", "GET", summary="The caller's transcript: every course, completion and quiz attempt", tag=TAG,
       response=TranscriptOut, description=(
           "Courses in program order with their state, completion date, recorded score, the course version the "
           "completion was recorded on (and whether the course has changed since), lessons done, and every quiz "
           "attempt with the quiz version it was taken against."))
def get_my_record():
    return _out(services.transcript(api_user()))


@route("/users/<int:user_id>/record", "GET", summary="A trainee's transcript", tag=TAG, response=TranscriptOut,
       errors=(404,), description=(
           "For the trainee's supervisor or an administrator (and the trainee themselves). Anyone else gets 404, "
           "as for a user that does not exist."))
def get_user_record(user_id: int):
    trainee = db.session.get(User, user_id)
    if trainee is None or not services.may_view_record(api_user(), trainee):
        raise ApiError(404, f"No user {user_id} whose record you may see.")
    return _out(services.transcript(trainee))
