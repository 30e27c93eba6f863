"""Quiz pages: the quiz's front page, an attempt (works without JavaScript; with it, autosave and a
countdown), the result with the review the policy allows, attempt histories and question statistics."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from lms.accounts.forms import EmptyForm
from lms.accounts.models import Role, User
from lms.db import db
from lms.errors import DomainError
from lms.learning import services as learning
from lms.learning.views import lesson_html
from lms.quizzes import services, stats
from lms.quizzes.forms import AccommodationForm, answers_from_form, field_name
from lms.security import role_required
from lms.web import form_errors_from

bp = Blueprint("quizzes", __name__)


@bp.get("/quizzes/<slug>")
@login_required
def quiz(slug: str):
    quiz = services.get_quiz(slug)  # NotFound becomes the 404 page (lms/__init__.py)
    st = services.status(current_user, quiz)
    db.session.commit()  # attempts whose time ran out were closed just now
    course = services.course_of(quiz)
    progress = learning.progress_in(current_user, course) if course else None
    return render_template("quizzes/quiz.html", st=st, settings=quiz.current.settings, course=course,
                           progress=progress, form=EmptyForm())


@bp.post("/quizzes/<slug>/attempts")
@login_required
def start(slug: str):
    quiz = services.get_quiz(slug)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        attempt, new = services.start_attempt(current_user, quiz)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.detail, "error")
        return redirect(url_for("quizzes.quiz", slug=slug))
    db.session.commit()
    if not new:
        flash("You already have this attempt open; carry on where you left off.", "info")
    return redirect(url_for("quizzes.attempt", attempt_id=attempt.id))


def _render_markdown(text: str) -> str:
    return lesson_html("question", text)  # the cache is keyed on the text itself


@bp.get("/attempts/<int:attempt_id>")
@login_required
def attempt(attempt_id: int):
    attempt = services.get_attempt(attempt_id, current_user)
    closed = services.close_if_expired(attempt)
    db.session.commit()
    if closed:
        flash("Time ran out, so the attempt was closed and graded with the answers saved in time.", "info")
    if not attempt.open or attempt.user_id != current_user.id:
        return redirect(url_for("quizzes.result", attempt_id=attempt.id))
    questions = [services.present_question(attempt, q) for q in attempt.questions()]
    return render_template("quizzes/attempt.html", attempt=attempt, questions=questions,
                           saved=services.saved_answers(attempt), form=EmptyForm(), field_name=field_name,
                           markdown=_render_markdown, settings=attempt.quiz_version.settings)


def _own_attempt(attempt_id: int):
    """An attempt to answer: 404 for those who may not see it, 403 for those who may see it but not answer it (its
    trainee's supervisor, administrators), as in the API."""
    attempt = services.get_attempt(attempt_id, current_user)
    if attempt.user_id != current_user.id:
        abort(403)
    return attempt


def _answers_from_request(attempt):
    questions = [services.present_question(attempt, q) for q in attempt.questions()]
    return answers_from_form(questions, request.form)


@bp.post("/attempts/<int:attempt_id>/save")
@login_required
def save(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.save_answers(attempt, current_user, _answers_from_request(attempt))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.detail if not exc.errors else "Some answers could not be saved: "
              + "; ".join(f"{m[0]}" for m in exc.errors.values()), "error")
    else:
        db.session.commit()
        flash("Your answers are saved. You can come back to this attempt at any time before it closes.", "success")
    return redirect(url_for("quizzes.attempt", attempt_id=attempt_id))


@bp.post("/attempts/<int:attempt_id>/submit")
@login_required
def submit(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        _, graded = services.submit_attempt(attempt, current_user, _answers_from_request(attempt))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.detail, "error")
        return redirect(url_for("quizzes.attempt", attempt_id=attempt_id))
    db.session.commit()
    if not graded and attempt.status.value == "timed_out":
        flash("Time ran out before you submitted, so only the answers saved in time were graded.", "info")
    return redirect(url_for("quizzes.result", attempt_id=attempt_id))


@bp.get("/attempts/<int:attempt_id>/result")
@login_required
def result(attempt_id: int):
    attempt = services.get_attempt(attempt_id, current_user)
    services.close_if_expired(attempt)
    db.session.commit()
    if attempt.open:
        if attempt.user_id == current_user.id:
            return redirect(url_for("quizzes.attempt", attempt_id=attempt_id))
        # Staff cannot open the attempt page (it is for answering), so back to the trainee's attempts, not a loop.
        flash(f"{attempt.user.display_name}'s attempt is still in progress; its result shows once it is closed.",
              "info")
        return redirect(url_for("quizzes.history", user_id=attempt.user_id))
    policy = services.review_policy(attempt, current_user)
    saved = services.saved_answers(attempt)
    items = [(services.present_question(attempt, q), saved.get(q["id"]), services.review_question(attempt, q, policy))
             for q in attempt.questions()]
    st = services.status(attempt.user, attempt.quiz) if attempt.user_id == current_user.id else None
    course = services.course_of(attempt.quiz)
    next_course = None
    if attempt.passed and attempt.user_id == current_user.id:
        next_course = next((p.course for p in learning.progress_for(current_user)
                            if p.course.required and not p.complete and not p.missing_prerequisites), None)
    progress = learning.progress_in(attempt.user, course) if course else None
    return render_template("quizzes/result.html", attempt=attempt, policy=policy, items=items, st=st, course=course,
                           progress=progress, next_course=next_course, markdown=_render_markdown, form=EmptyForm())


@bp.route("/people/<int:user_id>/attempts", methods=["GET", "POST"])
@role_required(Role.ADMIN, Role.SUPERVISOR)
def history(user_id: int):
    trainee = db.session.get(User, user_id)
    if trainee is None or not services.may_view(current_user, trainee) or trainee.id == current_user.id:
        abort(404)
    form = AccommodationForm()
    if request.method == "GET":
        form.factor.data = Decimal(str(trainee.accommodation_factor))
    if form.validate_on_submit():
        try:
            services.set_accommodation(trainee, float(form.factor.data), actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            form_errors_from(form, exc)
        else:
            db.session.commit()
            flash(f"{trainee.display_name} now has a time factor of {trainee.accommodation_factor:g}.", "success")
            return redirect(url_for("quizzes.history", user_id=user_id))
    attempts = services.attempts_of(trainee)
    return render_template("quizzes/history.html", trainee=trainee, attempts=attempts, form=form), (
        422 if request.method == "POST" else 200)


@bp.get("/admin/quizzes")
@role_required(Role.ADMIN)
def stats_overview():
    return render_template("quizzes/stats_overview.html", quizzes=stats.overview())


@bp.get("/admin/quizzes/<slug>")
@role_required(Role.ADMIN)
def question_stats(slug: str):
    quiz = services.get_quiz(slug)
    return render_template("quizzes/question_stats.html", quiz=quiz, rows=stats.question_stats(quiz),
                           markdown=_render_markdown)



