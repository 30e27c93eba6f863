"""Forms of the certification pages. Length rules mirror the services, which check them again (and alone decide
what cannot be read from a form: dates in the future, rubric scores, eligibility)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from lms.certification.models import PracticumKind
from lms.certification.services import GROUP_NAME_MAX, REASON_MAX, REASON_MIN, REFLECTION_MAX, Rubric

# The program file's rubric scale, in words (courses/program.yaml: "1 not yet, 2 developing, 3 competent, 4 strong").
SCALE_WORDS = {1: "not yet", 2: "developing", 3: "competent", 4: "strong"}


def at_most(n: int) -> Length:
    return Length(max=n, message=f"At most {n} characters.")


def score_label(value: int, rubric: Rubric) -> str:
    """“3 competent” on the program's 1-4 scale; the bare number on any other scale."""
    word = SCALE_WORDS.get(value) if (rubric.low, rubric.high) == (1, 4) else None
    return f"{value} {word}" if word else str(value)


class RequestForm(FlaskForm):
    message = TextAreaField("A note for your reviewer (optional)", description=(
        "Anything you would like your supervisor to know. Please do not name participants."),
        validators=[Optional(), at_most(REASON_MAX)],
        render_kw={"rows": 3})
    submit = SubmitField("Request certification")


class ConductForm(FlaskForm):
    agree = BooleanField("I have read the code of conduct and agree to follow it", validators=[
        DataRequired(message="Tick the box to confirm that you have read the code and agree to follow it.")])
    version = HiddenField()
    submit = SubmitField("Accept the code of conduct")


class PracticumForm(FlaskForm):
    kind = RadioField("What did you do?", choices=[SelectChoice(k.value, k.label) for k in PracticumKind],
                      validators=[InputRequired(message="Choose what kind of session it was.")])
    session_date = DateField("Date of the session", description="The day it took place, for example 2026-03-14.",
                             validators=[InputRequired(message="Give the date of the session.")])
    group_name = StringField("Group or session", description=(
        "For example “Tuesday evening online group”. The group's name only, never a participant's."),
        validators=[DataRequired(message="Name the group or session."), at_most(GROUP_NAME_MAX)])
    reflection = TextAreaField("Your reflection", description=(
        "Describe what you did and learned. Do not name participants or include anything that could "
        "identify them."), validators=[DataRequired(message="Write a short reflection."),
                                       Length(min=20, max=REFLECTION_MAX, message=(
                                           f"Write at least 20 characters (at most {REFLECTION_MAX})."))],
        render_kw={"rows": 6})
    submit = SubmitField("Log this session")


class ReviewForm(FlaskForm):
    """Confirm or do not confirm a practicum entry; the rubric's radio groups are added per program (see
    `review_form`). Which button was pressed is the decision."""

    note = TextAreaField("Note to the trainee", description=(
        "Required when you do not confirm the entry: say what is missing or what to do next. "
        "The trainee reads it."), validators=[Optional(), at_most(REASON_MAX)],
        render_kw={"rows": 4})
    confirm = SubmitField("Confirm this entry")
    reject = SubmitField("Do not confirm")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not (self.confirm.data or self.reject.data):
            self.note.errors = [*self.note.errors, "Choose “Confirm this entry” or “Do not confirm”."]
            ok = False
        elif self.reject.data and not (self.note.data or "").strip():
            self.note.errors = [*self.note.errors, "Say why the entry is not confirmed, so the trainee knows "
                                                   "what to do next."]
            ok = False
        return ok

    def scores(self) -> dict[str, str | None]:
        return {name.removeprefix("score_"): field.data for name, field in self._fields.items()
                if name.startswith("score_")}


def score_field(criterion_id: str) -> str:
    return f"score_{criterion_id}"


def review_form(rubric: Rubric | None, **kwargs) -> ReviewForm:
    """A review form with one radio group per rubric criterion (for led sessions), or without (the others)."""
    if rubric is None or not rubric.criteria:
        return ReviewForm(**kwargs)
    scale = [SelectChoice(str(v), score_label(v, rubric)) for v in rubric.scale]
    fields = {score_field(c["id"]): RadioField(c["title"], description=c.get("description") or None, choices=scale,
                                               validate_choice=False)
              for c in rubric.criteria}
    return type("RubricReviewForm", (ReviewForm,), fields)(**kwargs)


class ApproveForm(FlaskForm):
    note = TextAreaField("Note (optional)", description="The trainee reads it with the approval.",
                         validators=[Optional(), at_most(REASON_MAX)],
                         render_kw={"rows": 3})
    submit = SubmitField("Approve certification")


class RejectForm(FlaskForm):
    reason = TextAreaField("Reason", description=(
        f"The trainee reads it. Say what to work on before they ask again ({REASON_MIN} characters or more)."),
        validators=[DataRequired(message="Give the trainee a reason."),
                    Length(min=REASON_MIN, max=REASON_MAX,
                           message=f"Write {REASON_MIN} to {REASON_MAX} characters.")], render_kw={"rows": 4})
    submit = SubmitField("Do not approve")


class IssueSelectedForm(FlaskForm):
    request_ids = SelectMultipleField("Requests to issue", coerce=int, validate_choice=False,
                                      validators=[DataRequired(message="Select at least one request.")])
    submit = SubmitField("Issue selected certificates")
