"""Reading a quiz page's answers from a plain HTML form (the page works without JavaScript)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import DecimalField, SubmitField
from wtforms.validators import DataRequired, NumberRange


def field_name(qid: str, part: str | None = None) -> str:
    return f"q-{qid}" + (f"--{part}" if part else "")


def answers_from_form(questions: list[dict[str, Any]], form: MultiDict) -> dict[str, Any]:
    """Raw answers (question id -> value) for the questions the form carries; the service normalises them.
    A question the form does not mention at all is left out, so saving never erases an earlier answer."""
    raw: dict[str, Any] = {}
    present = {key.split("--")[0] for key in form}
    for q in questions:
        name = field_name(q["id"])
        if q["type"] == "multiple":
            if f"{name}--shown" in form or name in form:
                raw[q["id"]] = form.getlist(name)
        elif q["type"] == "ordering":
            if name in present:
                raw[q["id"]] = {i["id"]: form.get(field_name(q["id"], i["id"]), "") for i in q["items"]}
        elif q["type"] == "matching":
            if name in present:
                raw[q["id"]] = {p["id"]: form.get(field_name(q["id"], p["id"]), "") for p in q["prompts"]}
        elif name in form:
            raw[q["id"]] = form.get(name)
    return raw


class AccommodationForm(FlaskForm):
    factor = DecimalField("Time factor for timed quizzes", places=2, description=(
        "1 is the normal time limit; 1.5 gives half as long again; at most 4."),
        validators=[DataRequired(), NumberRange(min=1, max=4)])
    submit = SubmitField("Save extra time")
