"""Certificate pages: the holder's own, the registry for supervisors and admins, PDF download, revocation, and
public verification by code."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from lms.accounts.models import Role
from lms.certification import services
from lms.certification.certificate_forms import (
    PDF_MAX_BYTES,
    PDF_MAX_LABEL,
    CheckPdfForm,
    RevokeForm,
    VerifyCodeForm,
)
from lms.certification.models import Certificate, CertificateState, CertificateStatus
from lms.certification.views import bp
from lms.db import db
from lms.errors import DomainError
from lms.extensions import csrf, limiter
from lms.pagination import paginate
from lms.security import role_required
from lms.web import form_errors_from, page_arg

REGISTRY_STATUSES = ("all", *(s.value for s in CertificateStatus))
# The upload is cut off at this many bytes of request body: the PDF's limit plus room for the multipart framing
# and the CSRF token. A bigger body is refused before it is read (413).
CHECK_BODY_MAX = PDF_MAX_BYTES + 64 * 1024


def _verify_limit() -> str:
    return current_app.config["VERIFY_LIMIT_PER_ADDRESS"]


def _public(response: Any, status: int = 200) -> Response:
    """A verification response: never cached, never indexed."""
    resp = current_app.make_response((response, status))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    return resp


# ---------------------------------------------------------------- the holder


@bp.get("/certificate")
@login_required
def my_certificate():
    certs = services.certificates_of(current_user)
    statuses = {c.id: services.status_of(c) for c in certs}
    current = next((c for c in certs if statuses[c.id] is CertificateStatus.VALID), None)
    history = [c for c in certs if c is not current]
    return render_template("certificates/mine.html", current=current, history=history, statuses=statuses,
                           verification_url=services.verification_url)


# ---------------------------------------------------------------- supervisors and admins


@bp.get("/certificates")
@role_required(Role.SUPERVISOR, Role.ADMIN)
def registry():
    q = " ".join(request.args.get("q", "").split())[:120]
    status = request.args.get("status", "all") or "all"
    if status not in REGISTRY_STATUSES:
        abort(400)
    stmt = services.registry(current_user, search=q, status=None if status == "all" else CertificateStatus(status))
    page = paginate(stmt, page_arg(), current_app.config["PAGE_SIZE"])
    statuses = {c.id: services.status_of(c) for c in page.items}
    return render_template("certificates/registry.html", page=page, q=q, status=status, statuses=statuses,
                           choices=REGISTRY_STATUSES)


def _render_detail(cert: Certificate, form: RevokeForm | None, status: int = 200):
    may_revoke = current_user.role is Role.ADMIN and cert.state is not CertificateState.REVOKED
    form = (form or RevokeForm(formdata=None)) if may_revoke else None
    return render_template("certificates/detail.html", cert=cert, cert_status=services.status_of(cert),
                           form=form, revoked_by=cert.revoked_by, superseded_by=cert.superseded_by,
                           own=cert.user_id == current_user.id,
                           verify_link=services.verification_url(cert.verification_code)), status


@bp.get("/certificates/<serial>")
@login_required
def certificate_detail(serial: str):
    # holder, their supervisor or an admin; for anyone else NotFound becomes the 404 page (lms/__init__.py)
    return _render_detail(services.get_certificate(serial, current_user), None)


@bp.get("/certificates/<serial>/pdf")
@login_required
def certificate_pdf(serial: str):
    cert = services.get_certificate(serial, current_user)
    data = services.certificate_pdf(cert, current_user)  # a revoked one is gone for its holder (410)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{cert.serial}.pdf"'})


@bp.post("/certificates/<serial>/revoke")
@login_required
def revoke_certificate(serial: str):
    cert = services.get_certificate(serial, current_user)
    if current_user.role is not Role.ADMIN:
        abort(403)
    form = RevokeForm()
    if not form.validate_on_submit():
        return _render_detail(cert, form, 422)
    try:
        services.revoke_certificate(cert, actor=current_user, reason=form.reason.data)
    except DomainError as exc:
        db.session.rollback()
        form_errors_from(form, exc)
        return _render_detail(cert, form, exc.status)
    db.session.commit()
    flash(f"Certificate {cert.serial} is revoked. {cert.holder_name} has been told by e-mail.", "success")
    return redirect(url_for("certification.certificate_detail", serial=cert.serial))


# ---------------------------------------------------------------- public verification


@bp.get("/verify")
def verify():
    form = VerifyCodeForm(request.args)
    if "code" in request.args and form.validate():
        code = "".join(form.code.data.split())  # pasted codes bring spaces and line breaks along
        if "/" in code:  # the whole link was pasted: keep what follows the last slash
            code = code.rstrip("/").rsplit("/", 1)[-1]
        if code:
            return redirect(url_for("certification.verify_code", code=code[:200]))
        form.code.errors = ["Enter the verification code."]
    return _public(render_template("certificates/verify.html", form=form))


@bp.route("/verify/<path:code>", methods=["GET", "POST"])
@csrf.exempt  # checked below, after the body size is capped (CSRFProtect would read the whole upload first)
@limiter.limit(_verify_limit)
def verify_code(code: str):
    too_large = False
    if request.method == "POST":
        # The CSRF check comes first, as on every POST, but only once the body is capped: an oversized upload is
        # refused (413) before it is read, instead of being spooled to disk by the form parser.
        request.max_content_length = CHECK_BODY_MAX
        try:
            csrf.protect()
        except RequestEntityTooLarge:
            too_large = True
    cert = services.find_by_code(code)
    if cert is None:
        # One page for unknown and malformed codes alike; the code is not echoed.
        return _public(render_template("certificates/verify_not_found.html"), 404)
    form, result, status = CheckPdfForm(formdata=None), None, 200
    if too_large:
        form.pdf.errors = [f"This file is larger than {PDF_MAX_LABEL}, so it is not a certificate issued here. "
                           "Nothing was checked."]
        status = 413
    elif request.method == "POST":
        form = CheckPdfForm()
        if form.validate_on_submit():
            result = services.pdf_matches(cert, form.data_bytes)
        else:
            status = 422
    view = services.public_view(cert)
    dates = {key: date.fromisoformat(view[key]) if view[key] else None
             for key in ("issued_on", "valid_from", "valid_until", "revoked_on")}
    return _public(render_template("certificates/verify_result.html", view=view, dates=dates,
                                   code=cert.verification_code, form=form, result=result), status)
