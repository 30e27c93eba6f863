"""Logging in and out, invitations, password reset, and each person's own settings."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from lms.accounts import services
from lms.accounts.forms import (
    ApiTokenForm,
    ChangePasswordForm,
    EmptyForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    SetPasswordForm,
)
from lms.accounts.models import ApiToken, TokenPurpose
from lms.db import db
from lms.errors import DomainError
from lms.extensions import limiter, login_manager
from lms.security import is_safe_next
from lms.web import form_errors_from

bp = Blueprint("accounts", __name__)

SESSION_KEY = "sid"


@login_manager.user_loader
def _load_user(user_id: str):
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    idle = timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    return services.check_login_session(uid, session.get(SESSION_KEY), idle=idle)


def _begin_session(user) -> None:
    raw = services.start_login_session(user)
    session.clear()  # a new session at login: nothing from before carries over (session fixation)
    session.permanent = True
    session[SESSION_KEY] = raw
    login_user(user)


def _failed(response) -> bool:
    return response.status_code != 302


def _account_key() -> str:
    return "login-account:" + (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=_failed)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_account_key, methods=["POST"],
               deduct_when=_failed)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("main.home"))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            db.session.commit()  # keep the audit entry of a failed attempt
            flash("That e-mail and password do not match an active account.", "error")
        else:
            _begin_session(user)
            db.session.commit()
            target = form.next.data if is_safe_next(form.next.data) else url_for("main.home")
            return redirect(target)
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        user = current_user._get_current_object() if current_user.is_authenticated else None
        services.end_login_session(user, session.get(SESSION_KEY))
        db.session.commit()
        logout_user()
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash("If an account uses that address, we have sent it a link to reset the password. "
              "The link works for one hour.", "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


def _token_page(purpose: TokenPurpose, template: str, done_message: str):
    raw = request.view_args["token"]
    token = services.find_account_token(raw, purpose)
    if token is None:
        return render_template("accounts/token_invalid.html", purpose=purpose), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = services.redeem_account_token(raw, purpose, form.password.data)
        except DomainError as exc:
            db.session.rollback()
            form_errors_from(form, exc, fields={"password": "password"})
        else:
            _begin_session(user)
            db.session.commit()
            flash(done_message, "success")
            return redirect(url_for("main.home"))
    return render_template(template, form=form, user=token.user), 422 if request.method == "POST" else 200


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _token_page(TokenPurpose.INVITATION, "accounts/accept_invitation.html",
                       "Welcome! Your password is set and you are logged in.")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _token_page(TokenPurpose.PASSWORD_RESET, "accounts/reset_password.html",
                       "Your password is changed. Any other logins of yours have been ended.")


@bp.get("/settings")
@login_required
def settings():
    profile = ProfileForm(obj=current_user)
    return _render_settings(profile=profile)


def _render_settings(*, profile=None, password=None, token_form=None, new_secret=None, status=200):
    return render_template(
        "accounts/settings.html",
        profile_form=profile or ProfileForm(obj=current_user),
        password_form=password or ChangePasswordForm(),
        token_form=token_form or ApiTokenForm(formdata=None),
        revoke_form=EmptyForm(),
        tokens=services.list_api_tokens(current_user),
        new_secret=new_secret,
    ), status


@bp.post("/settings/profile")
@login_required
def update_profile():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, actor=current_user, display_name=form.display_name.data,
                                    certificate_name=form.certificate_name.data)
        except DomainError as exc:
            db.session.rollback()
            form_errors_from(form, exc)
        else:
            db.session.commit()
            flash("Profile saved.", "success")
            return redirect(url_for("accounts.settings"))
    return _render_settings(profile=form, status=422)


@bp.post("/settings/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            raw = services.change_password(current_user, current_password=form.current_password.data,
                                           new_password=form.new_password.data)
        except DomainError as exc:
            db.session.rollback()
            form_errors_from(form, exc)
        else:
            db.session.commit()
            session.clear()
            session.permanent = True
            session[SESSION_KEY] = raw
            login_user(current_user._get_current_object())
            flash("Password changed. Your other logins have been ended.", "success")
            return redirect(url_for("accounts.settings"))
    return _render_settings(password=form, status=422)


@bp.post("/settings/tokens")
@login_required
def create_token():
    form = ApiTokenForm()
    if form.validate_on_submit():
        try:
            new = services.create_api_token(current_user, actor=current_user, name=form.name.data)
        except DomainError as exc:
            db.session.rollback()
            form_errors_from(form, exc)
        else:
            db.session.commit()
            # Rendered, not redirected: the secret exists only in this response and is never stored.
            return _render_settings(new_secret=new.secret)
    return _render_settings(token_form=form, status=422)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    form = EmptyForm()
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        return render_template("errors/404.html"), 404
    if form.validate_on_submit():
        try:
            services.revoke_api_token(token, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.detail, "error")
        else:
            db.session.commit()
            flash(f"Token “{token.name}” revoked.", "success")
    return redirect(url_for("accounts.settings"))
