"""Quiz attempts: start, read, save answers, submit; and the caller's attempts."""

from __future__ import annotations

from flask import request, url_for

from lms.api.core import ApiError, api_user, parse_body, route
from lms.api.schemas import AnswersIn, AttemptList, AttemptOut, AttemptSummary, QuestionReview, SubmitIn
from lms.errors import NotFound
from lms.quizzes import services
from lms.quizzes.models import Attempt

TAG = "Quizzes"


def _summary(a: Attempt) -> dict:
    return dict(id=a.id, quiz=a.quiz.slug, number=a.number, status=a.status.value, started_at=a.started_at,
                deadline=a.deadline, closed_at=a.closed_at, score=a.score, passed=a.passed,
                critical_failed=a.critical_failed)


def _full(a: Attempt) -> dict:
    viewer = api_user()
    policy = services.review_policy(a, viewer)
    review = None
    if not a.open and (policy.show_wrong or policy.show_answers):
        review = [QuestionReview(id=q["id"], **services.review_question(a, q, policy)) for q in a.questions()]
    return AttemptOut(**_summary(a), questions=[services.present_question(a, q) for q in a.questions()],
                      answers=services.saved_answers(a), review=review,
                      review_note=policy.waiting_for if not a.open else None).model_dump(mode="json")


def _attempt(attempt_id: int) -> Attempt:
    try:
        attempt = services.get_attempt(attempt_id, api_user())
    except NotFound:
        raise ApiError(404, f"No attempt {attempt_id} that you may see.") from None
    services.close_if_expired(attempt)
    return attempt


def _own(attempt: Attempt) -> Attempt:
    if attempt.user_id != api_user().id:
        raise ApiError(403, "Only the person taking the attempt can change it.")
    return attempt


@route("/quizzes/<slug>/attempts", "POST", summary="Start an attempt (or get the one already open)", tag=TAG,
       response=AttemptOut, status=201, also=(200,), errors=(404, 409), description=(
           "The server draws the questions and their order and sets the deadline. Answers 201 for a new attempt "
           "and 200 with the open attempt if there is one. 409 when attempts are used up, in a cooldown, or the "
           "course is locked."))
def start_attempt(slug: str):
    attempt, new = services.start_attempt(api_user(), services.get_quiz(slug))
    return _full(attempt), 201 if new else 200, {"Location": url_for("api.get_attempt", attempt_id=attempt.id)}


@route("/attempts/<int:attempt_id>", "GET", summary="An attempt: its questions (no keys), saved answers, and "
       "the result and review once closed", tag=TAG, response=AttemptOut, errors=(404,))
def get_attempt(attempt_id: int):
    return _full(_attempt(attempt_id))


@route("/attempts/<int:attempt_id>/answers", "PUT", summary="Save answers to some questions (partial update)",
       tag=TAG, body=AnswersIn, response=AttemptOut, errors=(400, 403, 404, 409, 415, 422),
       description="409 once the attempt is closed (submitted, or its time and grace period ran out).")
def save_answers(attempt_id: int):
    attempt = _own(_attempt(attempt_id))
    body = parse_body(AnswersIn)
    services.save_answers(attempt, api_user(), body.answers)
    return _full(attempt)


@route("/attempts/<int:attempt_id>/submit", "POST", summary="Submit for grading (idempotent)", tag=TAG,
       body=SubmitIn, response=AttemptOut, errors=(400, 403, 404, 415, 422), description=(
           "Grades on the server and closes the attempt; a second submit returns the same grade. Answers sent "
           "after the deadline and grace period do not count. Any score or pass flag in the body is ignored."))
def submit_attempt(attempt_id: int):
    attempt = _own(_attempt(attempt_id))
    body = parse_body(SubmitIn) if request.content_length else SubmitIn()
    services.submit_attempt(attempt, api_user(), body.answers)
    return _full(attempt)


@route("/me/attempts", "GET", summary="The caller's quiz attempts, newest first", tag=TAG, response=AttemptList)
def my_attempts():
    attempts = services.attempts_of(api_user())
    for a in attempts:
        services.close_if_expired(a)
    return AttemptList(items=[AttemptSummary(**_summary(a)) for a in attempts]).model_dump(mode="json")
