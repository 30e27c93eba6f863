"""Small helpers shared by the HTML views."""

from __future__ import annotations

from flask import flash, request
from flask_wtf import FlaskForm

from lms.errors import DomainError


def form_errors_from(form: FlaskForm, exc: DomainError, fields: dict[str, str] | None = None) -> None:
    """Show a service's validation errors next to the matching form fields, or as a message."""
    placed = False
    for name, messages in exc.errors.items():
        field = getattr(form, (fields or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
            placed = True
    if not placed:
        flash(exc.detail, "error")


def page_arg(name: str = "page") -> int:
    """A page number from the query string (`name`), 1 when missing or not a number."""
    try:
        return max(1, min(int(request.args.get(name, "1")), 100000))
    except ValueError:
        return 1
