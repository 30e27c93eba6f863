"""Forms of the certificate pages: revoking a certificate, and the public verification page (enter a code, check a
PDF). Length rules mirror the services, which check them again."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from lms.certification.services import REASON_MAX, REASON_MIN

PDF_MAX_BYTES = 5 * 1024 * 1024  # a certificate is a few hundred kilobytes; 5 MB is plenty
PDF_MAX_LABEL = "5 MB"


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        "Reason for revoking", description=(
            f"{REASON_MIN} to {REASON_MAX} characters. It is kept in the record, and the holder and their "
            "supervisor read it in the e-mail telling them. The public verification page shows only that the "
            "certificate is revoked, and since when."),
        validators=[DataRequired(message="Give the reason for revoking."),
                    Length(min=REASON_MIN, max=REASON_MAX,
                           message=f"Give a reason of {REASON_MIN} to {REASON_MAX} characters.")],
        render_kw={"rows": 4})
    confirm = BooleanField(
        "I understand that revoking cannot be undone",
        description="From now on the certificate shows as revoked to anyone who checks it.",
        validators=[DataRequired(message="Tick the box to confirm that you mean to revoke the certificate.")])
    submit = SubmitField("Revoke certificate")


class VerifyCodeForm(FlaskForm):
    """The code typed on /verify. A GET form: it reads nothing secret and changes nothing, so no CSRF token."""

    class Meta:
        csrf = False

    code = StringField("Verification code", description=(
        "The code at the end of the verification link printed on the certificate, or the whole link."),
        validators=[DataRequired(message="Enter the verification code."), Length(max=2000)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"})


class CheckPdfForm(FlaskForm):
    """A PDF someone was given, compared byte for byte with the one issued. The bytes are read here (at most
    PDF_MAX_BYTES + 1 of them) and kept in `data` for the view."""

    pdf = FileField("Certificate PDF", description=(
        f"The PDF file you were given, up to {PDF_MAX_LABEL}. It is compared with the certificate issued and not "
        "kept."), render_kw={"accept": ".pdf,application/pdf"})
    submit = SubmitField("Check this PDF")

    data_bytes: bytes = b""

    def validate_pdf(self, field: FileField) -> None:
        upload = field.data
        if upload is None or not hasattr(upload, "stream"):
            raise ValidationError("Choose the PDF file to check.")
        data = upload.stream.read(PDF_MAX_BYTES + 1)
        if len(data) > PDF_MAX_BYTES:
            raise ValidationError(f"This file is larger than {PDF_MAX_LABEL}, so it is not a certificate issued "
                                  "here. Nothing was checked.")
        if not data:
            raise ValidationError("This file is empty. Choose the certificate PDF.")
        if not data.startswith(b"%PDF-"):
            raise ValidationError("This file is not a PDF, so it cannot be the certificate issued. Choose the "
                                  "certificate's PDF file.")
        self.data_bytes = data
