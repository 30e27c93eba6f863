"""The learning path pages: the trainee's dashboard, the course catalogue, course and lesson pages."""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from lms.accounts.forms import EmptyForm
from lms.content.markdown import render
from lms.db import db
from lms.errors import DomainError
from lms.learning import services
from lms.learning.models import Lesson

bp = Blueprint("learning", __name__)


@lru_cache(maxsize=512)
def _render_cached(version: str, body: str, resources: tuple[tuple[str, str], ...]) -> str:
    return render(body, dict(resources))


def lesson_html(version: str, body: str) -> str:
    """A lesson's Markdown as safe HTML, with this site's emergency numbers filled in (cached per version)."""
    return _render_cached(version, body, tuple(sorted(current_app.config["RESOURCES"].items())))


def dashboard():
    """The trainee's home: the program as a checklist, progress bars, and where to continue."""
    progress = services.progress_for(current_user)
    required = [p for p in progress if p.course.required]
    optional = [p for p in progress if not p.course.required]
    resume = max((p for p in progress if p.next_lesson and p.last_seen_at and not p.missing_prerequisites),
                 key=lambda p: p.last_seen_at, default=None)
    upcoming = next((p for p in required if not p.complete and not p.missing_prerequisites), None)
    return render_template("learning/dashboard.html", required=required, optional=optional, resume=resume,
                           upcoming=upcoming, done=sum(1 for p in required if p.complete))


@bp.get("/courses")
@login_required
def catalogue():
    return render_template("learning/catalogue.html", progress=services.progress_for(current_user))


@bp.get("/courses/<slug>")
@login_required
def course(slug: str):
    progress = services.progress_in(current_user, services.get_course(slug))
    return render_template("learning/course.html", p=progress)


def _lesson_or_404(slug: str, lesson_slug: str) -> Lesson:
    course = services.get_course(slug)  # NotFound becomes the 404 page (lms/__init__.py)
    lesson = services.get_active_lesson(course, lesson_slug)
    if lesson is None:
        abort(404)
    return lesson


@bp.get("/courses/<slug>/lessons/<lesson_slug>")
@login_required
def lesson(slug: str, lesson_slug: str):
    lesson = _lesson_or_404(slug, lesson_slug)
    progress = services.progress_in(current_user, lesson.course)
    if progress.missing_prerequisites:
        flash("This course opens once you have finished: "
              + ", ".join(c.title for c in progress.missing_prerequisites) + ".", "info")
        return redirect(url_for("learning.course", slug=slug))
    services.record_visit(current_user, lesson)
    db.session.commit()
    previous, following = services.neighbours(lesson, progress.lessons)
    return render_template("learning/lesson.html", lesson=lesson, p=progress, previous=previous,
                           following=following, html=lesson_html(lesson.version, lesson.body), form=EmptyForm(),
                           done=lesson.id in progress.completed)


@bp.post("/courses/<slug>/lessons/<lesson_slug>/complete")
@login_required
def complete(slug: str, lesson_slug: str):
    lesson = _lesson_or_404(slug, lesson_slug)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        _, new = services.complete_lesson(current_user, lesson)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.detail, "error")
        return redirect(url_for("learning.course", slug=slug))
    db.session.commit()
    _, following = services.neighbours(lesson)
    if following is not None:
        if new:
            flash(f"“{lesson.title}” is complete.", "success")
        return redirect(url_for("learning.lesson", slug=slug, lesson_slug=following.slug))
    progress = services.progress_in(current_user, lesson.course)
    if progress.complete:
        flash(f"You have completed “{lesson.course.title}”.", "success")
    elif progress.lessons_done and lesson.course.quiz_slug:
        flash("You have finished every lesson. Now the quiz: it completes the course.", "success")
        return redirect(url_for("quizzes.quiz", slug=lesson.course.quiz_slug))
    return redirect(url_for("learning.course", slug=slug))
