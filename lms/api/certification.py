"""Certification: the caller's checklist, the practicum log and its review, certification requests and their
decision, issued certificates (JSON and the PDF issued), and public verification by code. Every change is one
call of lms.certification.services, which checks who may do it; the blueprint commits when the answer is < 400."""

from __future__ import annotations

from flask import Response, current_app, request, url_for
from sqlalchemy.orm import selectinload

from lms.accounts.models import Role, User
from lms.api.core import ApiError, M, api_user, int_arg, parse_body, require_role, route
from lms.api.schemas import (
    ApproveIn,
    CertificateLinks,
    CertificateOut,
    CertificationRequestDetail,
    CertificationRequestIn,
    CertificationRequestOut,
    CertificationRequestPage,
    EligibilityOut,
    IssueIn,
    PersonRef,
    PracticumEntryOut,
    PracticumIn,
    PracticumList,
    PracticumReviewIn,
    RejectIn,
    RevokeIn,
    VerificationOut,
)
from lms.certification import eligibility, services
from lms.certification.models import Certificate, CertificationRequest, PracticumEntry, RequestStatus
from lms.extensions import client_address, limiter
from lms.pagination import paginate

TAG = "Certification"
NO_SUCH_CODE = "No certificate has this verification code."


# ---------------------------------------------------------------- shaping


def _person(user: User) -> PersonRef:
    return PersonRef(id=user.id, display_name=user.display_name)


def _entry(e: PracticumEntry) -> dict:
    return PracticumEntryOut(
        id=e.id, trainee=_person(e.user), kind=e.kind.value, session_date=e.session_date, group_name=e.group_name,
        reflection=e.reflection, source=e.source, status=e.status.value, created_at=e.created_at,
        reviewer=_person(e.reviewer) if e.reviewer else None, reviewed_at=e.reviewed_at, review_note=e.review_note,
        rubric_scores=e.rubric_scores, rubric_passed=e.rubric_passed, counts=e.counts,
    ).model_dump(mode="json")


def _request_fields(r: CertificationRequest) -> dict:
    return dict(id=r.id, trainee=_person(r.user), status=r.status.value, requested_at=r.requested_at,
                program_version=r.program_version.version, message=r.message,
                decided_by=_person(r.decided_by) if r.decided_by else None, decided_at=r.decided_at,
                decision_reason=r.decision_reason, certificate_serial=r.certificate.serial if r.certificate else None)


def _request(r: CertificationRequest) -> dict:
    return CertificationRequestDetail(**_request_fields(r),
                                      eligibility=EligibilityOut.model_validate(r.eligibility)).model_dump(mode="json")


def _certificate(c: Certificate) -> dict:
    return CertificateOut(
        serial=c.serial, status=services.status_of(c).value, holder=_person(c.user), holder_name=c.holder_name,
        credential=c.program_title, program_version=c.program_version, issued_at=c.issued_at, issued_on=c.valid_from,
        valid_until=c.valid_until, revoked_on=c.revoked_at.date() if c.revoked_at else None,
        revocation_reason=c.revocation_reason, request_id=c.request_id, approver_name=c.approver_name,
        issuer_name=c.issuer_name, pdf_sha256=c.pdf_sha256,
        verification_url=services.verification_url(c.verification_code),
        links=CertificateLinks(certificate=url_for("api.get_certificate", serial=c.serial),
                               pdf=url_for("api.get_certificate_pdf", serial=c.serial)),
    ).model_dump(mode="json")


def _optional_body(model: type[M]) -> M:
    """An optional body: none at all means the model's defaults; anything sent is validated as usual."""
    return parse_body(model) if request.get_data(cache=True) else model()


# ---------------------------------------------------------------- eligibility


@route("/me/eligibility", "GET", summary="The caller's certification checklist", tag=TAG, response=EligibilityOut,
       description=(
           "Every requirement of the program in force (courses, practicum, code of conduct), met or not, with "
           "progress and the next step; whether the caller may request certification now and, if not, why "
           "(`blockers`); their open request and their certificate valid today, if any."))
def get_my_eligibility():
    return EligibilityOut.model_validate(eligibility.evaluate(api_user()).as_dict()).model_dump(mode="json")


# ---------------------------------------------------------------- practicum


@route("/practicum", "POST", summary="Log a practicum session", tag=TAG, body=PracticumIn,
       response=PracticumEntryOut, status=201, errors=(400, 403, 415, 422), description=(
           "For trainees (403 for anyone else). "
           "The entry is the caller's and waits for their supervisor's review (status `pending`). Fields other "
           "than kind, session_date, group_name and reflection are rejected with 422, never applied. 422 also "
           "for a date in the future or more than two years ago, an empty group or a reflection under 20 "
           "characters, each named in `errors`."))
def log_practicum():
    body = parse_body(PracticumIn)
    entry = services.log_practicum(api_user(), kind=body.kind, session_date=body.session_date,
                                   group_name=body.group_name, reflection=body.reflection)
    return _entry(entry), 201, {"Location": url_for("api.get_practicum_entry", entry_id=entry.id)}


@route("/practicum", "GET", summary="The caller's practicum log, newest session first", tag=TAG,
       response=PracticumList)
def list_my_practicum():
    return PracticumList(items=[_entry(e) for e in services.practicum_of(api_user())]).model_dump(mode="json")


@route("/practicum/<int:entry_id>", "GET", summary="One practicum entry (its trainee, their supervisor, admins)",
       tag=TAG, response=PracticumEntryOut, errors=(404,))
def get_practicum_entry(entry_id: int):
    return _entry(services.get_entry(entry_id, api_user()))


@route("/practicum/<int:entry_id>/confirm", "POST", summary="Review a practicum entry: confirm (default) or not",
       tag=TAG, body=PracticumReviewIn, response=PracticumEntryOut, errors=(400, 403, 404, 409, 415, 422),
       description=(
           "For the trainee's supervisor or an administrator; nobody reviews their own entry (403), and anyone "
           "who may not see the entry gets 404. A led session is confirmed with a whole score on every rubric "
           "criterion (`scores`); it counts only when each reaches the program's pass score. Not confirming "
           "(`confirm: false`) needs a `note`. 409 once the entry has been reviewed."))
def confirm_practicum_entry(entry_id: int):
    viewer = api_user()
    entry = services.get_entry(entry_id, viewer)
    body = parse_body(PracticumReviewIn)
    services.review_entry(entry, reviewer=viewer, confirm=body.confirm, note=body.note, scores=body.scores)
    return _entry(entry)


# ---------------------------------------------------------------- certification requests


@route("/certification-requests", "POST", summary="Request certification", tag=TAG, body=CertificationRequestIn,
       body_required=False, response=CertificationRequestDetail, status=201, errors=(400, 403, 409, 415, 422),
       description=(
           "For trainees who meet every requirement (see `GET /me/eligibility`). The body may be empty or carry "
           "a `message` to the reviewer. 409, with the reasons in `detail` and `errors.eligibility`, when a "
           "requirement is not met, a "
           "request is already open or a valid certificate is held; 403 for supervisors and administrators."))
def create_certification_request():
    body = _optional_body(CertificationRequestIn)
    req = services.request_certification(api_user(), message=body.message)
    return _request(req), 201, {"Location": url_for("api.get_certification_request", request_id=req.id)}


@route("/certification-requests", "GET", summary="Certification requests you may see, oldest first", tag=TAG,
       response=CertificationRequestPage, errors=(400,), description=(
           "Administrators see every request, supervisors their trainees', trainees their own."),
       query={"status": {"type": "string", "enum": [s.value for s in RequestStatus]},
              "page": {"type": "integer", "minimum": 1},
              "per_page": {"type": "integer", "minimum": 1, "maximum": 100}})
def list_certification_requests():
    raw = request.args.get("status", "")
    try:
        status = RequestStatus(raw) if raw else None
    except ValueError:
        raise ApiError(400, "Query parameter status must be one of "
                            f"{', '.join(s.value for s in RequestStatus)}.") from None
    stmt = services.requests_for(api_user(), status=status).options(
        *(selectinload(rel) for rel in (CertificationRequest.user, CertificationRequest.decided_by,
                                        CertificationRequest.program_version, CertificationRequest.certificate)))
    page = paginate(stmt, int_arg("page", 1, 1, 100000), int_arg("per_page", 25, 1, 100))
    return CertificationRequestPage(
        items=[CertificationRequestOut(**_request_fields(r)) for r in page.items], total=page.total, page=page.page,
        per_page=page.per_page, pages=page.pages).model_dump(mode="json")


@route("/certification-requests/<int:request_id>", "GET", summary="One certification request, with the checklist "
       "as it stood when it was made", tag=TAG, response=CertificationRequestDetail, errors=(404,))
def get_certification_request(request_id: int):
    return _request(services.get_request(request_id, api_user()))


@route("/certification-requests/<int:request_id>/approve", "POST", summary="Approve a certification request",
       tag=TAG, body=ApproveIn, body_required=False, response=CertificationRequestDetail,
       errors=(400, 403, 404, 409, 415, 422),
       description=(
           "For the trainee's supervisor or an administrator; the body is optional. The requirements are checked "
           "again (409 if one is no longer met, or the request is not pending). Nobody approves their own "
           "request (403); anyone who may not see it gets 404."))
def approve_certification_request(request_id: int):
    viewer = api_user()
    req = services.get_request(request_id, viewer)
    body = _optional_body(ApproveIn)
    services.approve_request(req, approver=viewer, note=body.note)
    return _request(req)


@route("/certification-requests/<int:request_id>/reject", "POST", summary="Reject a certification request, with a "
       "reason", tag=TAG, body=RejectIn, response=CertificationRequestDetail, errors=(400, 403, 404, 409, 415, 422),
       description=(
           "For the trainee's supervisor or an administrator. `reason` (10 to 2000 characters) is shown to the "
           "trainee, who may request again later. 409 unless the request is pending."))
def reject_certification_request(request_id: int):
    viewer = api_user()
    req = services.get_request(request_id, viewer)
    body = parse_body(RejectIn)
    services.reject_request(req, approver=viewer, reason=body.reason)
    return _request(req)


# ---------------------------------------------------------------- certificates


@route("/certificates", "POST", summary="Issue the certificate of an approved request (administrators)", tag=TAG,
       body=IssueIn, response=CertificateOut, status=201, errors=(400, 403, 404, 409, 415, 422), description=(
           "Renders the PDF once and keeps its bytes and SHA-256; the holder (and their supervisor) are e-mailed. "
           "409 when the request is not approved or its certificate was already issued. To issue several at once, "
           "use the administration page."))
def issue_certificate():
    admin = require_role(Role.ADMIN)
    body = parse_body(IssueIn)
    cert = services.issue_certificate(services.get_request(body.request_id, admin), issuer=admin)
    return _certificate(cert), 201, {"Location": url_for("api.get_certificate", serial=cert.serial)}


@route("/certificates/<serial>", "GET", summary="A certificate (its holder, their supervisor, administrators)",
       tag=TAG, response=CertificateOut, errors=(404,))
def get_certificate(serial: str):
    return _certificate(services.get_certificate(serial, api_user()))


@route("/certificates/<serial>/pdf", "GET", summary="Download the certificate's PDF, exactly as issued", tag=TAG,
       response=None, errors=(404, 409, 410), media_types=("application/pdf",), description=(
           "Answers `application/pdf` with `Content-Disposition: attachment; filename=\"<serial>.pdf\"`: the bytes "
           "rendered at issue, every time (their SHA-256 is the certificate's `pdf_sha256`). For the holder, "
           "their supervisor and administrators; anyone else gets 404. Once revoked, 410 for the holder (their "
           "supervisor and administrators keep it on record). 409 if the stored file no longer matches its "
           "fingerprint."))
def get_certificate_pdf(serial: str):
    viewer = api_user()
    cert = services.get_certificate(serial, viewer)
    data = services.certificate_pdf(cert, viewer)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{cert.serial}.pdf"', "ETag": f'"{cert.pdf_sha256}"'})


@route("/certificates/<serial>/revoke", "POST", summary="Revoke a certificate, with a reason (administrators)",
       tag=TAG, body=RevokeIn, response=CertificateOut, errors=(400, 403, 404, 409, 415, 422), description=(
           "From then on verification shows it as revoked. `reason` (10 to 2000 characters) is kept in the record "
           "and e-mailed to the holder. 409 if it is already revoked."))
def revoke_certificate(serial: str):
    admin = require_role(Role.ADMIN)
    cert = services.get_certificate(serial, admin)
    body = parse_body(RevokeIn)
    services.revoke_certificate(cert, actor=admin, reason=body.reason)
    return _certificate(cert)


@route("/verify/<path:code>", "GET", summary="Verify a certificate by the code printed on it (public)", tag=TAG,
       response=VerificationOut, errors=(404,), public=True, description=(
           "No authentication. Answers only what the certificate itself shows: status today (`valid`, `expired`, "
           "`revoked`, `superseded`), holder name, credential, program version, serial, dates and the PDF's "
           "SHA-256. An unknown or malformed code gets the same 404. Rate limited per address (30 per minute by "
           "default, with the verification pages)."))
@limiter.limit(lambda: current_app.config["VERIFY_LIMIT_PER_ADDRESS"],
               key_func=lambda: "verify:" + client_address())
def verify_certificate(code: str):
    cert = services.find_by_code(code)
    if cert is None:
        raise ApiError(404, NO_SUCH_CODE)
    return VerificationOut.model_validate(services.public_view(cert)).model_dump(mode="json")
