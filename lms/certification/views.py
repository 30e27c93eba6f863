"""Certification pages for trainees, supervisors and admins: the checklist, code of conduct, practicum log and
its review, certification requests and their review and issue. Certificate and verification pages are in
lms/certification/certificate_views.py, on the same blueprint."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from lms.accounts.forms import EmptyForm
from lms.accounts.models import Role
from lms.certification import eligibility, services
from lms.certification.eligibility import Requirement
from lms.certification.forms import (
    ApproveForm,
    ConductForm,
    IssueSelectedForm,
    PracticumForm,
    RejectForm,
    RequestForm,
    ReviewForm,
    review_form,
    score_field,
    score_label,
)
from lms.certification.models import CertificationRequest, PracticumKind, RequestStatus
from lms.db import db
from lms.errors import Conflict, ValidationFailed
from lms.learning.views import lesson_html
from lms.pagination import paginate
from lms.records import services as records
from lms.security import role_required
from lms.web import form_errors_from, page_arg

bp = Blueprint("certification", __name__)

PER_PAGE = 25
STATUS_FILTERS = ("pending", "approved", "rejected", "issued", "withdrawn", "all")


# ---------------------------------------------------------------- helpers


def action_link(action: str | None) -> tuple[str, str] | None:
    """Where a checklist line's `action` leads, and the words of the link."""
    if not action:
        return None
    if action.startswith("course:"):
        return url_for("learning.course", slug=action.removeprefix("course:")), "Go to the course"
    if action == "practicum":
        return url_for("certification.practicum"), "Open your practicum log"
    if action == "code_of_conduct":
        return url_for("certification.code_of_conduct"), "Read the code of conduct"
    return None


def groups_at_request(req: CertificationRequest) -> list[tuple[str, list[Requirement]]]:
    """The checklist kept with the request, grouped like the live one."""
    return eligibility.group_requirements(eligibility.requirements_from(req.eligibility))


def _post_status(default: int = 422) -> int:
    return default if request.method == "POST" else 200


# ---------------------------------------------------------------- the trainee's checklist and requests


def _render_status(form: RequestForm, code: int = 200):
    return render_template("certification/status.html", e=eligibility.evaluate(current_user), form=form,
                           requests=services.requests_of(current_user), action_link=action_link), code


@bp.get("/certification")
@login_required
def status():
    if current_user.role is not Role.TRAINEE:
        return redirect(url_for("certification.reviews"))
    return _render_status(RequestForm(formdata=None))


@bp.post("/certification/request")
@role_required(Role.TRAINEE)
def request_certification():
    form = RequestForm()
    if not form.validate_on_submit():
        return _render_status(form, 422)
    try:
        services.request_certification(current_user, message=form.message.data)
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        form_errors_from(form, exc)
        return _render_status(form, exc.status)
    db.session.commit()
    flash("Your request is sent. Your supervisor will look at your record and let you know by e-mail.", "success")
    return redirect(url_for("certification.status"))


@bp.post("/certification/requests/<int:request_id>/withdraw")
@login_required
def withdraw(request_id: int):
    req = services.get_request(request_id, current_user)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw_request(req, user=current_user)  # only its trainee: PermissionDenied otherwise
    except Conflict as exc:
        db.session.rollback()
        flash(exc.detail, "error")
    else:
        db.session.commit()
        flash("Your request is withdrawn. You can ask again whenever you are ready.", "success")
    return redirect(url_for("certification.status"))


# ---------------------------------------------------------------- code of conduct


@bp.route("/certification/code-of-conduct", methods=["GET", "POST"])
@login_required
def code_of_conduct():
    code = services.current_code()
    form = ConductForm()
    if code is not None and request.method == "GET":
        form.version.data = code.version
    code_status = _post_status()
    if form.validate_on_submit():
        try:
            _, new = services.acknowledge_code(current_user, version=form.version.data or None)
        except Conflict as exc:  # the page read was an older version: show the one in force
            db.session.rollback()
            flash(exc.detail, "error")
            form.agree.data, form.version.data, code_status = False, code.version if code else "", exc.status
        else:
            db.session.commit()
            flash(f"Thank you. You accepted version {form.version.data} of the code of conduct." if new
                  else "You had already accepted this version of the code of conduct.", "success")
            return redirect(url_for("certification.code_of_conduct"))
    body = lesson_html(f"code-{code.digest}", code.body) if code else None
    return render_template("certification/code_of_conduct.html", code=code, body=body, form=form,
                           accepted=services.acknowledged_at(current_user, code)), code_status


# ---------------------------------------------------------------- practicum


@bp.route("/practicum", methods=["GET", "POST"])
@login_required
def practicum():
    if current_user.role is not Role.TRAINEE:  # staff review entries; they log none
        if request.method == "POST":
            abort(403)
        return redirect(url_for("certification.reviews"))
    form = PracticumForm()
    if eligibility.latest_certificate(current_user) is None:  # sessions led alone count once certified
        form.kind.choices = [c for c in form.kind.choices if c.value != PracticumKind.LED.value]
    if form.validate_on_submit():
        try:
            services.log_practicum(current_user, kind=form.kind.data, session_date=form.session_date.data,
                                   group_name=form.group_name.data, reflection=form.reflection.data)
        except ValidationFailed as exc:
            db.session.rollback()
            form_errors_from(form, exc)
        else:
            db.session.commit()
            who = "Your supervisor" if current_user.supervisor else "An administrator"
            flash(f"Session logged. {who} has been asked to review it.", "success")
            return redirect(url_for("certification.practicum"))
    needs = [r for r in eligibility.evaluate(current_user).requirements if r.group == "practicum"]
    return render_template("certification/practicum.html", form=form, needs=needs,
                           entries=services.practicum_of(current_user), rubric=services.rubric(),
                           score_label=score_label), _post_status()


def _render_entry(entry, form: ReviewForm, code: int = 200):
    return render_template("certification/review_entry.html", entry=entry, form=form,
                           reviewer=services.is_reviewer_of(current_user, entry.user), rubric=services.rubric(),
                           score_field=score_field, score_label=score_label), code


@bp.route("/practicum/<int:entry_id>/review", methods=["GET", "POST"])
@login_required
def review_entry(entry_id: int):
    entry = services.get_entry(entry_id, current_user)  # its trainee, their supervisor or an admin; else 404
    rubric = services.rubric() if entry.kind.scored else None
    form = review_form(rubric)
    if request.method == "POST" and not services.is_reviewer_of(current_user, entry.user):
        abort(403)  # the trainee sees their entry, read-only
    if not form.validate_on_submit():
        return _render_entry(entry, form, _post_status())
    confirm = bool(form.confirm.data)
    try:
        services.review_entry(entry, reviewer=current_user, confirm=confirm, note=form.note.data,
                              scores=form.scores() if confirm and rubric else None)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        form_errors_from(form, exc, {f"scores.{c['id']}": score_field(c["id"]) for c in (rubric.criteria if rubric
                                                                                          else ())})
        return _render_entry(entry, form, exc.status)
    db.session.commit()
    flash(f"Entry {'confirmed' if confirm else 'not confirmed'}. {entry.user.display_name} has been told by e-mail.",
          "success")
    return redirect(url_for("certification.reviews"))


# ---------------------------------------------------------------- reviews


@bp.get("/reviews")
@role_required(Role.SUPERVISOR, Role.ADMIN)
def reviews():
    chosen = request.args.get("status", "") or "pending"
    if chosen not in STATUS_FILTERS:
        abort(400)
    status = None if chosen == "all" else RequestStatus(chosen)
    entries = paginate(services.entries_to_review(current_user), page_arg("entries_page"), PER_PAGE)
    reqs = paginate(services.requests_for(current_user, status=status), page_arg(), PER_PAGE)
    bulk = chosen == "approved" and current_user.role is Role.ADMIN and reqs.total > 0
    return render_template("certification/reviews.html", entries=entries, requests=reqs, chosen=chosen,
                           filters=STATUS_FILTERS, labels={s.value: s.label for s in RequestStatus},
                           issue_form=IssueSelectedForm(formdata=None) if bulk else None)


@bp.post("/certification/requests/issue")
@role_required(Role.ADMIN)
def issue_selected():
    form = IssueSelectedForm()
    if not form.validate_on_submit():
        flash("Select at least one approved request to issue.", "error")
        return redirect(url_for("certification.reviews", status="approved"))
    results = services.issue_certificates(form.request_ids.data, issuer=current_user)
    db.session.commit()
    issued = [f"{r.certificate.serial} for {r.certificate.holder_name}" for r in results if r.certificate]
    failed = [f"request {r.request_id}: {r.error}" for r in results if not r.certificate]
    if issued:
        flash(f"Issued {len(issued)} {'certificate' if len(issued) == 1 else 'certificates'}: "
              + "; ".join(issued) + ".", "success")
    if failed:
        flash(f"Not issued ({len(failed)}): " + " ".join(failed), "error")
    return redirect(url_for("certification.reviews", status="approved"))


# ---------------------------------------------------------------- one request: evidence and decision


def _render_request(req: CertificationRequest, *, approve_form: ApproveForm | None = None,
                    reject_form: RejectForm | None = None, code: int = 200):
    reviewer = services.is_reviewer_of(current_user, req.user)
    evidence = {}
    if reviewer:
        evidence = dict(now=eligibility.evaluate(req.user), then=groups_at_request(req),
                        t=records.transcript(req.user), entries=services.practicum_of(req.user),
                        rubric=services.rubric(), score_label=score_label)
    return render_template("certification/request.html", req=req, reviewer=reviewer,
                           approve_form=approve_form or ApproveForm(formdata=None),
                           reject_form=reject_form or RejectForm(formdata=None), **evidence), code


@bp.get("/certification/requests/<int:request_id>")
@login_required
def request_detail(request_id: int):
    return _render_request(services.get_request(request_id, current_user))


@bp.post("/certification/requests/<int:request_id>/approve")
@login_required
def approve(request_id: int):
    req = services.get_request(request_id, current_user)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _render_request(req, approve_form=form, code=422)
    try:
        services.approve_request(req, approver=current_user, note=form.note.data)  # refuses one's own
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        form_errors_from(form, exc)
        return _render_request(req, approve_form=form, code=exc.status)
    db.session.commit()
    flash(f"Approved. {req.user.display_name} has been told; an administrator issues the certificate.", "success")
    return redirect(url_for("certification.request_detail", request_id=req.id))


@bp.post("/certification/requests/<int:request_id>/reject")
@login_required
def reject(request_id: int):
    req = services.get_request(request_id, current_user)
    form = RejectForm()
    if not form.validate_on_submit():
        return _render_request(req, reject_form=form, code=422)
    try:
        services.reject_request(req, approver=current_user, reason=form.reason.data)
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        form_errors_from(form, exc)
        return _render_request(req, reject_form=form, code=exc.status)
    db.session.commit()
    flash(f"Not approved. {req.user.display_name} has been sent your reason.", "success")
    return redirect(url_for("certification.request_detail", request_id=req.id))


@bp.post("/certification/requests/<int:request_id>/issue")
@role_required(Role.ADMIN)
def issue(request_id: int):
    req = services.get_request(request_id, current_user)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        cert = services.issue_certificate(req, issuer=current_user)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.detail, "error")
        return redirect(url_for("certification.request_detail", request_id=request_id))
    serial, holder = cert.serial, cert.holder_name
    db.session.commit()
    flash(f"Certificate {serial} issued to {holder}. They have been sent it by e-mail.", "success")
    return redirect(url_for("certification.certificate_detail", serial=serial))


from lms.certification import badge_views, certificate_views  # noqa: E402,F401  (routes on the same blueprint)
