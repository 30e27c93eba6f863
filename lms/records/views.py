"""Transcript pages: one's own, and a trainee's for their supervisor or an administrator; as a printable page or,
with ?format=pdf, as a PDF download."""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from lms.accounts.models import User
from lms.db import db
from lms.records import services
from lms.records.pdf import html_to_pdf
from lms.records.services import Transcript

bp = Blueprint("records", __name__)

FORMATS = ("html", "pdf")


def name_slug(name: str) -> str:
    """A file-name-safe version of a person's name: ASCII letters and digits joined by hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")


def pdf_filename(record: Transcript) -> str:
    slug = name_slug(record.name) or f"user-{record.trainee_id}"
    return f"transcript-{slug}-{record.generated_at.date().isoformat()}.pdf"


def _format() -> str:
    fmt = request.args.get("format", "html")
    if fmt not in FORMATS:
        abort(400)
    return fmt


def _respond(trainee: User, *, own: bool):
    fmt = _format()
    record = services.transcript(trainee)
    if fmt == "pdf":
        pdf = html_to_pdf(render_template("records/transcript_pdf.html", t=record))
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{pdf_filename(record)}"'})
    return render_template("records/transcript.html", t=record, own=own, trainee=trainee)


@bp.get("/transcript")
@login_required
def my_transcript():
    return _respond(current_user, own=True)


@bp.get("/people/<int:user_id>/transcript")
@login_required
def trainee_transcript(user_id: int):
    trainee = db.session.get(User, user_id)
    if trainee is not None and trainee.id == current_user.id:
        # only the format is carried over: the rest of the query must not reach url_for as its own keywords
        # (_external, _scheme, _anchor)
        return redirect(url_for("records.my_transcript", format=request.args.get("format")))
    if trainee is None or not services.may_view_record(current_user, trainee):
        abort(404)
    return _respond(trainee, own=False)
