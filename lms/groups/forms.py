"""Forms of the group pages. Their checks mirror the services (and use the services' own pure checks for the time
zone and the meeting link), so every mistake shows at once next to its field; the services check everything
again and alone decide what a form cannot know: a name another group has, whether a facilitator may lead today,
whether a session can be recorded."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from lms.groups import schedule, services

# Offered as suggestions (a <datalist>) in the time zone field; any IANA key is accepted.
COMMON_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Halifax", "America/St_Johns", "America/Toronto",
    "America/Vancouver", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
    "Europe/Amsterdam", "Europe/Madrid", "Europe/Rome", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens",
    "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
    "Australia/Perth", "Australia/Adelaide", "Australia/Brisbane", "Australia/Sydney", "Australia/Melbourne",
    "Pacific/Auckland", "UTC",
)


def optional_int(value: Any) -> int | None:
    """For selects with a "Choose …" option: "" is no choice, anything else a whole number."""
    if value in (None, ""):
        return None
    return int(value)


def _timezone_known(form: FlaskForm, field: StringField) -> None:
    if field.data and not schedule.is_timezone(field.data.strip()):
        raise ValidationError("Give an IANA time zone exactly as written in the list, such as Europe/London or "
                              "America/New_York.")


def _meeting_link_ok(form: FlaskForm, field: StringField) -> None:
    if field.data:
        problem = services.meeting_url_problem(field.data.strip())
        if problem:
            raise ValidationError(problem[:1].upper() + problem[1:] + ".")


class WholeNumberField(IntegerField):
    """A whole number in a text box (styled like the others; phones show a number pad)."""

    widget = TextInput()

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "autocomplete": "off"})
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError("Give a whole number, in figures (for example 12).") from None


def _whole(lo: int, hi: int, what: str) -> list:
    return [InputRequired(message=f"Give {what}."),
            NumberRange(min=lo, max=hi, message=f"Give a whole number from {lo} to {hi}.")]


class GroupForm(FlaskForm):
    """Create or edit a group. Field names are the service's, so its messages land on the right field."""

    name = StringField("Name of the group", description=(
        "How facilitators and administrators know it, for example “Tuesday evening group”. It also names the group "
        "in practicum records."),
        validators=[DataRequired(message="Give the group a name."),
                    Length(max=services.NAME_MAX, message=f"At most {services.NAME_MAX} characters.")])
    description = TextAreaField("Description (optional)", description=(
        "A few words for the facilitators: who the group is for, anything special about it. No participant names."),
        validators=[Optional(), Length(max=services.DESCRIPTION_MAX,
                                       message=f"At most {services.DESCRIPTION_MAX} characters.")],
        render_kw={"rows": 3})
    weekday = SelectField("Day of the week", coerce=int,
                          choices=[SelectChoice(i, name) for i, name in enumerate(schedule.WEEKDAYS)],
                          validators=[InputRequired(message="Choose the day the group meets.")])
    start_time = TimeField("Start time (local)", format=["%H:%M", "%H:%M:%S"], description=(
        "On the 24-hour clock, for example 19:00, in the group's own time zone."),
        validators=[InputRequired(message="Give the start time, for example 19:00.")])
    duration_minutes = WholeNumberField("Length in minutes", description=(
        f"How long a session is planned to run: {services.DURATION_MIN} to {services.DURATION_MAX} minutes."),
        validators=_whole(services.DURATION_MIN, services.DURATION_MAX, "the length in minutes"))
    timezone = StringField("Time zone", description=(
        "The group meets at the same local time all year, through daylight saving. Give an IANA time zone such as "
        "America/New_York or Europe/London; common ones are suggested as you type."),
        validators=[DataRequired(message="Give the group's time zone."), Length(max=64), _timezone_known],
        render_kw={"list": "timezone-options", "autocomplete": "off", "spellcheck": "false"})
    meeting_url = StringField("Zoom meeting link", description=(
        "The https://…zoom.us/… link of the group's meeting. Only the group's facilitators and administrators "
        "see it; it is never put in calendar feeds."),
        validators=[DataRequired(message="Give the Zoom meeting link."), _meeting_link_ok],
        render_kw={"inputmode": "url", "spellcheck": "false", "autocomplete": "off"})
    capacity = WholeNumberField("Places", description=(
        f"How many participants the group has room for ({services.CAPACITY_MIN} to {services.CAPACITY_MAX})."),
        validators=_whole(services.CAPACITY_MIN, services.CAPACITY_MAX, "the number of places"))

    def values(self) -> dict[str, Any]:
        """The fields as the services take them."""
        out = {name: getattr(self, name).data for name in services.GROUP_FIELDS}
        out["description"] = out["description"] or ""
        return out


class LeadForm(FlaskForm):
    user_id = SelectField("Lead facilitator", coerce=optional_int, description=(
        "Only a facilitator with a certificate valid today can lead. Those who may lead today are listed first."),
        validators=[InputRequired(message="Choose a facilitator.")])


class CoFacilitatorForm(FlaskForm):
    user_id = SelectField("Co-facilitator", coerce=optional_int, description=(
        "Certified facilitators, and trainees gaining practicum: a session they co-facilitate is logged for their "
        "supervisor to confirm."),
        validators=[InputRequired(message="Choose a person to add.")])


STATUS_HELP = {  # after the status's name: "Paused: not meeting for now. …"
    "active": "meets every week again; its sessions are planned ahead.",
    "paused": "not meeting for now. Sessions ahead are taken off the calendar; resume whenever you are ready.",
    "closed": "stops for good. This cannot be undone; its records stay.",
}


class StatusForm(FlaskForm):
    status = RadioField("Change the group's status to", validators=[InputRequired(message="Choose a status.")])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class HeldForm(FlaskForm):
    """Record that a session took place. One per session on a page: made with a prefix naming the group and day."""

    duration_minutes = WholeNumberField("How long it ran (minutes)",
                                    validators=_whole(services.HELD_MINUTES_MIN, services.HELD_MINUTES_MAX,
                                                      "how long the session ran"))
    co_facilitator_ids = MultiCheckboxField("Co-facilitators who were there", coerce=int, description=(
        "Tick each co-facilitator who took part. Those still training get the session in their practicum log, for "
        "their supervisor to confirm."))
    attendance_count = WholeNumberField("How many people took part", description=(
        "A number only. Never names."),
        validators=[InputRequired(message="Give how many people took part (0 if nobody came)."),
                    NumberRange(min=0, message="Give a whole number, 0 or more.")])
    note = TextAreaField("Note (optional)", description=(
        "Do not name participants, or write anything that could identify someone: the site cannot detect names, so "
        "please read it over before saving. What the session covered, anything the supervisor should know; at most "
        f"{services.NOTE_MAX} characters."),
                         validators=[Optional(), Length(max=services.NOTE_MAX,
                                                        message=f"At most {services.NOTE_MAX} characters.")],
                         render_kw={"rows": 3})
    back = HiddenField(validators=[AnyOf(["lead", "group"])], default="group")


class CalendarForm(FlaskForm):
    """The calendar page's buttons: each sends its own value as `action`."""

    action = StringField(validators=[AnyOf(["rotate", "stop"])])
