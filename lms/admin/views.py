"""Administration: people (list, add, roles, supervisors, deactivation) and the audit trail."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from lms import audit
from lms.accounts import services
from lms.accounts.forms import BulkAssignForm, EmptyForm, RoleForm, SupervisorForm, UserCreateForm
from lms.accounts.models import Role, User
from lms.db import db
from lms.errors import DomainError
from lms.pagination import paginate
from lms.security import is_safe_next, role_required
from lms.web import form_errors_from, page_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")

NO_SUPERVISOR = ""


@bp.before_request
@role_required(Role.ADMIN)
def _admins_only():
    return None


def _supervisor_choices(blank: str = "No supervisor") -> list[SelectChoice]:
    return [SelectChoice(NO_SUPERVISOR, blank)] + [SelectChoice(str(s.id), f"{s.display_name} ({s.email})")
                                                   for s in services.active_supervisors()]


def _supervisor_from(value: str) -> User | None:
    return services.get_user(int(value)) if value else None


@bp.get("/users")
def users():
    q = request.args.get("q", "").strip()[:100]
    role = request.args.get("role", "")
    status = request.args.get("status", "")
    if role not in ("", *[r.value for r in Role]) or status not in ("", "active", "invited", "deactivated"):
        abort(400)
    page = services.search_users(q=q, role=role, status=status, page=page_arg())
    bulk = BulkAssignForm()
    bulk.supervisor.choices = _supervisor_choices()
    return render_template("admin/users.html", page=page, q=q, role=role, status=status, roles=list(Role),
                           bulk_form=bulk)


@bp.post("/users/assign")
def bulk_assign():
    form = BulkAssignForm()
    form.supervisor.choices = _supervisor_choices()
    ids = request.form.getlist("user_ids", type=int)
    if not form.validate_on_submit() or not ids:
        flash("Choose at least one trainee and a supervisor.", "error")
        return redirect(url_for("admin.users"))
    try:
        supervisor = _supervisor_from(form.supervisor.data)
        for user_id in ids:
            services.assign_supervisor(services.get_user(user_id), supervisor, actor=current_user)
    except DomainError as exc:
        db.session.rollback()  # all or nothing
        flash(f"Nothing was changed: {exc.detail}", "error")
    else:
        db.session.commit()
        who = supervisor.display_name if supervisor else "no supervisor"
        flash(f"{len(ids)} trainee(s) now assigned to {who}.", "success")
    # back to the list as it was filtered; only its path and query, never another site from a forged Referer
    back = urlsplit(request.referrer or "")
    target = f"{back.path}?{back.query}" if back.query else back.path
    return redirect(target if back.path == url_for("admin.users") and is_safe_next(target)
                    else url_for("admin.users"))


@bp.route("/users/new", methods=["GET", "POST"])
def create_user():
    form = UserCreateForm()
    form.supervisor.choices = _supervisor_choices()
    if form.validate_on_submit():
        kwargs = dict(actor=current_user, email=form.email.data, display_name=form.display_name.data,
                      certificate_name=form.certificate_name.data or None, role=form.role.data)
        try:
            kwargs["supervisor"] = _supervisor_from(form.supervisor.data)
            if form.send_invitation.data:
                user = services.invite_user(**kwargs)
                message = f"Invitation sent to {user.email}."
            else:
                user = services.create_user(password=form.password.data, **kwargs)
                message = f"Account created for {user.email}. Give them the password by a safe route."
        except DomainError as exc:
            db.session.rollback()
            form_errors_from(form, exc)
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("admin.user", user_id=user.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form), status


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    person = db.session.get(User, user_id) or abort(404)
    role_form = RoleForm(formdata=None, role=person.role.value)
    sup_form = SupervisorForm(formdata=None, supervisor=str(person.supervisor_id or ""))
    sup_form.supervisor.choices = _supervisor_choices()
    events = list(db.session.scalars(
        audit.query_events(subject_type="users", subject_id=str(person.id)).limit(20)))
    return render_template("admin/user.html", person=person, role_form=role_form, sup_form=sup_form,
                           action_form=EmptyForm(), events=events, trainees=sorted(
                               person.trainees, key=lambda t: t.display_name))


def _act(user_id: int, form, action, success: str):
    person = db.session.get(User, user_id) or abort(404)
    if form.validate_on_submit():
        try:
            action(person)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.detail, "error")
        else:
            db.session.commit()
            flash(success.format(name=person.display_name), "success")
    else:
        flash("The form was not valid; nothing was changed.", "error")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int):
    form = RoleForm()
    return _act(user_id, form, lambda p: services.change_role(p, form.role.data, actor=current_user),
                "{name}'s role is changed.")


@bp.post("/users/<int:user_id>/supervisor")
def assign_supervisor(user_id: int):
    form = SupervisorForm()
    form.supervisor.choices = _supervisor_choices()
    return _act(user_id, form, lambda p: services.assign_supervisor(
        p, _supervisor_from(form.supervisor.data), actor=current_user), "{name}'s supervisor is updated.")


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int):
    return _act(user_id, EmptyForm(), lambda p: services.deactivate_user(p, actor=current_user),
                "{name} is deactivated and logged out everywhere.")


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int):
    return _act(user_id, EmptyForm(), lambda p: services.reactivate_user(p, actor=current_user),
                "{name} is active again.")


@bp.post("/users/<int:user_id>/invite")
def resend_invitation(user_id: int):
    return _act(user_id, EmptyForm(), lambda p: services.send_invitation(p, actor=current_user),
                "A new invitation is on its way to {name}; older links no longer work.")


@bp.get("/audit")
def audit_log():
    action = request.args.get("action", "").strip()[:64]
    actor = request.args.get("actor", "").strip()[:254]
    subject_type = request.args.get("subject_type", "").strip()[:40]
    subject_id = request.args.get("subject_id", "").strip()[:64]
    actor_user = services.find_user_by_email(actor) if actor else None
    if actor and actor_user is None:
        flash(f"No user has the e-mail {actor}.", "error")
    stmt = audit.query_events(action=action or None, actor_id=actor_user.id if actor_user else None,
                              subject_type=subject_type or None, subject_id=subject_id or None)
    if actor and actor_user is None:
        stmt = stmt.where(False)
    page = paginate(stmt, page_arg(), 50)
    return render_template("admin/audit.html", page=page, action=action, actor=actor,
                           subject_type=subject_type, subject_id=subject_id)


@bp.get("/content")
def content():
    from sqlalchemy import select

    from lms.learning.models import CodeOfConductVersion, ContentSync, Course, ProgramVersion

    courses = list(db.session.scalars(select(Course).order_by(Course.active.desc(), Course.position)))
    syncs = list(db.session.scalars(select(ContentSync).order_by(ContentSync.id.desc()).limit(10)))
    program = db.session.scalar(select(ProgramVersion).where(ProgramVersion.current.is_(True)))
    code = db.session.scalar(select(CodeOfConductVersion).where(CodeOfConductVersion.current.is_(True)))
    return render_template("admin/content.html", courses=courses, syncs=syncs, program=program, code=code)


@bp.get("/content/lessons/<int:lesson_id>")
def preview_lesson(lesson_id: int):
    from sqlalchemy import select

    from lms.learning.models import Lesson, LessonVersion
    from lms.learning.views import lesson_html

    lesson = db.session.get(Lesson, lesson_id) or abort(404)
    versions = list(db.session.scalars(select(LessonVersion).where(LessonVersion.lesson_id == lesson.id)
                                       .order_by(LessonVersion.id.desc())))
    wanted = request.args.get("version", lesson.version)
    shown = next((v for v in versions if v.version == wanted), None) or abort(404)
    return render_template("admin/lesson_preview.html", lesson=lesson, versions=versions, shown=shown,
                           html=lesson_html(shown.version, shown.body))
