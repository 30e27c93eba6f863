"""Quiz attempts: start (drawn and stored on the server), save answers as the trainee goes, submit and grade,
close attempts whose time ran out, and decide what a review may show. The acting user is explicit."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lms import audit
from lms.accounts.models import Role, User
from lms.db import db, lock_row, utcnow
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.learning import services as learning
from lms.learning.models import Course, LearningEvent, Verb
from lms.quizzes.grading import AnswerError, grade, question_type
from lms.quizzes.models import Attempt, AttemptAnswer, AttemptStatus, Quiz

# Answers that arrive a little after the deadline still count (network delays, a slow click).
GRACE = timedelta(seconds=30)
ACCOMMODATION_MIN, ACCOMMODATION_MAX = 1.0, 4.0
_system_random = random.SystemRandom()


# ---------------------------------------------------------------- lookups


def get_quiz(slug: str) -> Quiz:
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug, Quiz.active.is_(True)))
    if quiz is None:
        raise NotFound(f"No quiz '{slug}'.")
    return quiz


def course_of(quiz: Quiz) -> Course | None:
    return db.session.scalar(select(Course).where(Course.quiz_slug == quiz.slug, Course.active.is_(True)))


def get_attempt(attempt_id: int, viewer: User) -> Attempt:
    """The attempt if the viewer may see it: its owner, the owner's supervisor, or an admin."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or not may_view(viewer, attempt.user):
        raise NotFound(f"No attempt {attempt_id}.")
    return attempt


def may_view(viewer: User, trainee: User) -> bool:
    return viewer.id == trainee.id or viewer.role is Role.ADMIN or (
        viewer.role is Role.SUPERVISOR and trainee.supervisor_id == viewer.id)


def attempts_of(user: User, quiz: Quiz | None = None) -> list[Attempt]:
    stmt = select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.started_at.desc(), Attempt.id.desc())
    if quiz is not None:
        stmt = stmt.where(Attempt.quiz_id == quiz.id)
    return list(db.session.scalars(stmt))


# ---------------------------------------------------------------- may I start?


@dataclass
class QuizStatus:
    quiz: Quiz
    attempts: list[Attempt]
    open_attempt: Attempt | None
    can_start: bool
    reason: str | None  # why not, in words for the trainee
    next_start_at: datetime | None
    passed: bool
    best: float | None

    @property
    def attempts_left(self) -> int | None:
        limit = self.quiz.current.settings["max_attempts"]
        return None if limit is None else max(0, limit - len(self.attempts))


def status(user: User, quiz: Quiz, *, now: datetime | None = None) -> QuizStatus:
    now = now or utcnow()
    attempts = attempts_of(user, quiz)
    for attempt in attempts:
        close_if_expired(attempt, now=now)
    settings = quiz.current.settings
    open_attempt = next((a for a in attempts if a.open), None)
    finished = [a for a in attempts if not a.open]
    reason, next_at = None, None
    course = course_of(quiz)
    if course is not None:
        progress = learning.progress_in(user, course)
        if progress.missing_prerequisites:
            reason = "This quiz opens once you have finished: " + ", ".join(
                c.title for c in progress.missing_prerequisites) + "."
    if reason is None and open_attempt is None:
        limit = settings["max_attempts"]
        if limit is not None and len(attempts) >= limit:
            reason = f"You have used all {limit} attempts at this quiz. Your supervisor can advise you."
        elif finished and settings["cooldown_minutes"]:
            last = max(a.closed_at or a.started_at for a in finished)
            next_at = last + timedelta(minutes=settings["cooldown_minutes"])
            if now < next_at:
                minutes = max(1, math.ceil((next_at - now).total_seconds() / 60))
                reason = f"You can start another attempt in about {minutes} minute(s): a pause to revisit the lessons."
    scores = [a.score for a in finished if a.score is not None]
    return QuizStatus(quiz=quiz, attempts=attempts, open_attempt=open_attempt,
                      can_start=reason is None, reason=reason, next_start_at=next_at,
                      passed=any(a.passed for a in finished), best=max(scores) if scores else None)


# ---------------------------------------------------------------- starting


def _draw(questions: list[dict[str, Any]], settings: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    pool = list(questions)
    if settings.get("draw"):
        chosen: list[dict[str, Any]] = []
        for tag, count in settings["draw"]:
            candidates = [q for q in pool if tag in q.get("tags", []) and q not in chosen]
            chosen += rng.sample(candidates, min(count, len(candidates)))
        drawn = [q for q in pool if q in chosen]  # pool order unless shuffled below
    else:
        n = min(settings["questions_per_attempt"] or len(pool), len(pool))
        picked = {id(q) for q in rng.sample(pool, n)}
        drawn = [q for q in pool if id(q) in picked]
    if settings["shuffle_questions"]:
        rng.shuffle(drawn)
    return drawn


def _option_order(q: dict[str, Any], settings: dict[str, Any], rng: random.Random) -> list[str] | None:
    ids = question_type(q).shuffled(q)
    if ids is None:
        return None
    if q["type"] == "ordering":  # shown in the right order it would give the answer away
        order = ids[:]
        for _ in range(10):
            rng.shuffle(order)
            if order != ids:
                break
        return order
    if settings["shuffle_options"]:
        order = ids[:]
        rng.shuffle(order)
        return order
    return ids


def start_attempt(user: User, quiz: Quiz, *, now: datetime | None = None,
                  rng: random.Random | None = None) -> tuple[Attempt, bool]:
    """Start an attempt, or return the one already open (False). Draws and stores everything the attempt needs."""
    now, rng = now or utcnow(), rng or _system_random
    st = status(user, quiz, now=now)
    if st.open_attempt is not None:
        return st.open_attempt, False
    if not st.can_start:
        raise Conflict(st.reason or "You cannot start this quiz now.")
    version = quiz.current
    settings = version.settings
    drawn = _draw(version.questions, settings, rng)
    orders = {q["id"]: order for q in drawn if (order := _option_order(q, settings, rng)) is not None}
    limit = settings.get("time_limit_minutes")
    deadline = now + timedelta(minutes=limit * user.accommodation_factor) if limit else None
    number = (db.session.scalar(select(func.max(Attempt.number)).where(Attempt.user_id == user.id,
                                                                       Attempt.quiz_id == quiz.id)) or 0) + 1
    attempt = Attempt(user_id=user.id, quiz_id=quiz.id, quiz_version_id=version.id, number=number,
                      status=AttemptStatus.IN_PROGRESS, started_at=now, deadline=deadline,
                      question_ids=[q["id"] for q in drawn], option_orders=orders)
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except IntegrityError:
        # A second start racing this one: the database allows one open attempt; return that one.
        existing = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id, Attempt.quiz_id == quiz.id,
                                                           Attempt.status == AttemptStatus.IN_PROGRESS))
        if existing is None:
            raise Conflict("Another attempt was being started at the same moment; please try again.") from None
        return existing, False
    course = course_of(quiz)
    if course is not None:
        learning.note_quiz_started(user, course, now=now)
    db.session.add(LearningEvent(user_id=user.id, verb=Verb.ATTEMPTED, object_type="quiz", object_id=quiz.slug,
                                 object_title=quiz.title, course_id=course.id if course else None,
                                 content_version=version.version, occurred_at=now,
                                 result={"attempt_id": attempt.id, "number": number}))
    audit.record(user, "attempt.started", attempt, quiz=quiz.slug, number=number,
                 deadline=deadline, questions=len(drawn))
    return attempt, True


# ---------------------------------------------------------------- answering


def saved_answers(attempt: Attempt) -> dict[str, Any]:
    return {a.question_id: a.answer for a in attempt.answers}


def _accepting(attempt: Attempt, now: datetime) -> bool:
    return attempt.deadline is None or now <= attempt.deadline + GRACE


def save_answers(attempt: Attempt, user: User, raw: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Save (or replace) answers to some questions of an open attempt. Returns every saved answer."""
    now = now or utcnow()
    if attempt.user_id != user.id:
        raise PermissionDenied("Only the person taking the attempt can answer it.")
    _lock(attempt)
    close_if_expired(attempt, now=now)
    if not attempt.open:
        raise Conflict("This attempt is closed; answers can no longer be changed.")
    questions = {q["id"]: q for q in attempt.questions()}
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for qid, value in raw.items():
        q = questions.get(qid)
        if q is None:
            errors[qid] = ["not a question of this attempt"]
            continue
        try:
            clean[qid] = question_type(q).normalise(q, value)
        except AnswerError as exc:
            errors[qid] = [str(exc)]
    if errors:
        raise ValidationFailed("Some answers could not be saved: " + ", ".join(sorted(errors)) + ".", errors=errors)
    existing = {a.question_id: a for a in attempt.answers}
    for qid, value in clean.items():
        row = existing.get(qid)
        if row is None:
            db.session.add(AttemptAnswer(attempt=attempt, question_id=qid, answer=value, saved_at=now))
        else:
            row.answer, row.saved_at = value, now
    db.session.flush()
    return saved_answers(attempt)


def _lock(attempt: Attempt) -> None:
    """Lock the attempt and re-read its status: otherwise two simultaneous submits would both read 'open' and
    both grade."""
    lock_row(attempt, "status", "score", "passed", "closed_at")


# ---------------------------------------------------------------- grading


def submit_attempt(attempt: Attempt, user: User, raw: dict[str, Any] | None = None, *,
                   now: datetime | None = None) -> tuple[Attempt, bool]:
    """Grade the attempt. Idempotent: a second submit returns the first grade (False). Late answers don't count."""
    now = now or utcnow()
    if attempt.user_id != user.id:
        raise PermissionDenied("Only the person taking the attempt can submit it.")
    _lock(attempt)
    if not attempt.open:
        return attempt, False
    if raw and _accepting(attempt, now):
        save_answers(attempt, user, raw, now=now)
    if not _accepting(attempt, now):
        _close(attempt, AttemptStatus.TIMED_OUT, now)
        return attempt, False
    _close(attempt, AttemptStatus.SUBMITTED, now)
    return attempt, True


def close_if_expired(attempt: Attempt, *, now: datetime | None = None) -> bool:
    """Close and grade an open attempt whose time (and grace) ran out. True if it did."""
    now = now or utcnow()
    if attempt.open and not _accepting(attempt, now):
        _lock(attempt)  # two requests reading it at the same moment must not both close and grade it
        if attempt.open:
            _close(attempt, AttemptStatus.TIMED_OUT, now)
            return True
    return False


def close_expired_attempts(*, now: datetime | None = None) -> int:
    """For `lms run-maintenance`: close every open attempt past its deadline."""
    now = now or utcnow()
    count = 0
    for attempt in db.session.scalars(select(Attempt).where(Attempt.status == AttemptStatus.IN_PROGRESS,
                                                            Attempt.deadline.is_not(None),
                                                            Attempt.deadline < now - GRACE)):
        _lock(attempt)
        if close_if_expired(attempt, now=now):
            count += 1
    return count


def _close(attempt: Attempt, final: AttemptStatus, now: datetime) -> None:
    settings = attempt.quiz_version.settings
    cutoff = attempt.deadline + GRACE if attempt.deadline else None
    answers = {a.question_id: a.answer for a in attempt.answers if cutoff is None or a.saved_at <= cutoff}
    result = grade(attempt.questions(), answers, settings["pass_mark"])
    attempt.status = final
    attempt.closed_at = now if final is AttemptStatus.SUBMITTED or attempt.deadline is None else min(
        now, attempt.deadline + GRACE)
    attempt.score, attempt.passed, attempt.critical_failed = result.score, result.passed, result.critical_failed
    attempt.results = {r.id: round(r.fraction, 4) for r in result.results}
    course = course_of(attempt.quiz)
    verb = Verb.PASSED if result.passed else Verb.FAILED
    db.session.add(LearningEvent(
        user_id=attempt.user_id, verb=verb, object_type="quiz", object_id=attempt.quiz.slug,
        object_title=attempt.quiz.title, course_id=course.id if course else None,
        content_version=attempt.quiz_version.version, occurred_at=attempt.closed_at,
        result={"attempt_id": attempt.id, "score": result.score, "passed": result.passed,
                "critical_failed": result.critical_failed, "timed_out": final is AttemptStatus.TIMED_OUT}))
    audit.record(attempt.user if final is AttemptStatus.SUBMITTED else None,
                 "attempt.submitted" if final is AttemptStatus.SUBMITTED else "attempt.timed_out", attempt,
                 quiz=attempt.quiz.slug, score=result.score, passed=result.passed,
                 critical_failed=result.critical_failed)
    db.session.flush()
    if result.passed and course is not None:
        learning.note_quiz_passed(attempt.user, course, attempt_id=attempt.id, score=result.score)


# ---------------------------------------------------------------- review


@dataclass
class Review:
    show_wrong: bool  # which questions were not fully right
    show_answers: bool  # the correct answers and feedback
    waiting_for: str | None  # why more is not shown yet


def review_policy(attempt: Attempt, viewer: User) -> Review:
    """What the result page may show. Nothing beyond the score while an attempt is open."""
    if attempt.open:
        return Review(False, False, "The attempt is still open.")
    settings = attempt.quiz_version.settings
    show, when = settings["review_show"], settings["review_when"]
    if viewer.id != attempt.user_id and viewer.role in (Role.ADMIN, Role.SUPERVISOR):
        return Review(True, True, None)  # staff reviewing a closed attempt see everything
    waiting = None
    if when == "after_pass" and not _has_passed(attempt):
        waiting = "The answers are shown once you have passed this quiz."
    elif when == "after_last_attempt" and not _has_passed(attempt):
        limit = settings["max_attempts"]
        used = db.session.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.user_id == attempt.user_id, Attempt.quiz_id == attempt.quiz_id))
        if limit is None or used < limit:
            waiting = "The answers are shown once you have passed or used your last attempt."
    if waiting:
        return Review(False, False, waiting)
    return Review(show in ("wrong", "answers"), show == "answers", None)


def _has_passed(attempt: Attempt) -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.user_id == attempt.user_id, Attempt.quiz_id == attempt.quiz_id, Attempt.passed.is_(True))))


def present_question(attempt: Attempt, q: dict[str, Any]) -> dict[str, Any]:
    """A question as the trainee sees it: text, type, points and choices in the attempt's order. No key."""
    return {"id": q["id"], "type": q["type"], "text": q["text"], "points": q.get("points", 1),
            **question_type(q).present(q, attempt.option_orders.get(q["id"]))}


def review_question(attempt: Attempt, q: dict[str, Any], policy: Review) -> dict[str, Any]:
    """What a review may say about one question under the policy."""
    out: dict[str, Any] = {}
    if policy.show_wrong:
        fraction = (attempt.results or {}).get(q["id"], 0.0)
        out["correct"] = fraction >= 1.0
        out["fraction"] = fraction
    if policy.show_answers:
        qtype = question_type(q)
        out["key"] = qtype.key(q)
        out["feedback"] = [t for t in [q.get("feedback"), *qtype.feedback_for(q, saved_answers(attempt).get(q["id"]))]
                           if t]
    return out


# ---------------------------------------------------------------- accommodation


def set_accommodation(trainee: User, factor: float, *, actor: User) -> None:
    """Extra time on every timed quiz: a supervisor for their own trainees, or an admin."""
    if not (actor.role is Role.ADMIN or (actor.role is Role.SUPERVISOR and trainee.supervisor_id == actor.id)):
        raise PermissionDenied("Only the trainee's supervisor or an administrator can set extra time.")
    if not ACCOMMODATION_MIN <= factor <= ACCOMMODATION_MAX:
        msg = f"The time factor must be between {ACCOMMODATION_MIN:g} and {ACCOMMODATION_MAX:g}."
        raise ValidationFailed(msg, errors={"factor": [msg]})
    if trainee.accommodation_factor == factor:
        return
    previous = trainee.accommodation_factor
    trainee.accommodation_factor = factor
    audit.record(actor, "user.accommodation_set", trainee, factor=factor, previous=previous)
