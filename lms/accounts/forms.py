"""Forms of the accounts area. Length rules mirror the services, which check them again."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from lms.accounts.models import Role
from lms.accounts.services import NAME_MAX_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

_PW_HELP = f"At least {PASSWORD_MIN_LENGTH} characters. A few unrelated words make a strong, memorable password."


def _new_password(label: str = "New password") -> PasswordField:
    return PasswordField(label, description=_PW_HELP, validators=[
        DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"})


def _confirm(field: str) -> PasswordField:
    return PasswordField("Repeat the new password", validators=[
        DataRequired(), EqualTo(field, message="The two passwords do not match.")],
        render_kw={"autocomplete": "new-password"})


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()
    submit = SubmitField("Log in")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)], render_kw={"autocomplete": "email"})
    submit = SubmitField("Send me a reset link")


class SetPasswordForm(FlaskForm):
    password = _new_password()
    confirm = _confirm("password")
    submit = SubmitField("Set password")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = _new_password()
    confirm = _confirm("new_password")
    submit = SubmitField("Change password")


class ProfileForm(FlaskForm):
    display_name = StringField("Display name", description="How you appear to others in the training.",
                               validators=[DataRequired(), Length(max=NAME_MAX_LENGTH)])
    certificate_name = StringField("Name on certificates",
                                   description="Printed on your certificate exactly as you type it here.",
                                   validators=[DataRequired(), Length(max=NAME_MAX_LENGTH)])
    submit = SubmitField("Save profile")


class ApiTokenForm(FlaskForm):
    name = StringField("Token name", description="What will use it, for example “reporting script”.",
                       validators=[DataRequired(), Length(max=80)])
    submit = SubmitField("Create token")


class EmptyForm(FlaskForm):
    """A form with only the CSRF token: for buttons that change state."""


ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in Role]


class UserCreateForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=NAME_MAX_LENGTH)])
    certificate_name = StringField("Name on certificates", description="Leave empty to use the display name.",
                                   validators=[Optional(), Length(max=NAME_MAX_LENGTH)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.TRAINEE.value)
    supervisor = SelectField("Supervisor", description="For trainees only.", coerce=str, validate_choice=True)
    send_invitation = BooleanField("E-mail an invitation to set a password", default=True)
    password = PasswordField("Initial password", description="Only when not sending an invitation. " + _PW_HELP,
                             validators=[Optional(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH)],
                             render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Add user")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.send_invitation.data and self.password.data:
            self.password.errors = [*self.password.errors,
                                    "Either send an invitation or set an initial password, not both."]
            ok = False
        elif not self.send_invitation.data and not self.password.data:
            self.password.errors = [*self.password.errors,
                                    "Set an initial password, or send an invitation instead."]
            ok = False
        return ok


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Change role")


class SupervisorForm(FlaskForm):
    supervisor = SelectField("Supervisor", coerce=str, validate_choice=True)
    submit = SubmitField("Assign supervisor")


class BulkAssignForm(FlaskForm):
    supervisor = SelectField("Assign the selected trainees to", coerce=str, validate_choice=True)
    submit = SubmitField("Assign")
