"""People: who am I, and (for admins and supervisors) the users they may see."""

from __future__ import annotations

from flask import request, url_for

from lms.accounts import services
from lms.accounts.models import Role, User
from lms.api.core import ApiError, api_user, int_arg, parse_body, require_role, route
from lms.api.schemas import UserCreate, UserOut, UserPage, UserUpdate
from lms.db import db

TAG = "People"


def _visible(user: User, viewer: User) -> bool:
    return viewer.role is Role.ADMIN or viewer.id == user.id or (
        viewer.role is Role.SUPERVISOR and user.supervisor_id == viewer.id)


@route("/me", "GET", summary="The account the request is authenticated as", tag=TAG, response=UserOut)
def me():
    return UserOut.of(api_user()).model_dump(mode="json")


@route("/users", "GET", summary="List users (admins: everyone; supervisors: their trainees)", tag=TAG,
       response=UserPage, errors=(400, 403), query={
           "q": {"type": "string", "description": "part of the e-mail or display name"},
           "role": {"type": "string", "enum": [r.value for r in Role]},
           "status": {"type": "string", "enum": ["active", "invited", "deactivated"]},
           "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1, "maximum": 100}})
def list_users():
    viewer = require_role(Role.ADMIN, Role.SUPERVISOR)
    role, status = request.args.get("role", ""), request.args.get("status", "")
    if role not in ("", *[r.value for r in Role]):
        raise ApiError(400, "Query parameter role must be trainee, supervisor or admin.")
    if status not in ("", "active", "invited", "deactivated"):
        raise ApiError(400, "Query parameter status must be active, invited or deactivated.")
    page = services.search_users(
        q=request.args.get("q", "")[:100], role=role, status=status, page=int_arg("page", 1, 1, 100000),
        per_page=int_arg("per_page", 25, 1, 100),
        supervisor_id=viewer.id if viewer.role is Role.SUPERVISOR else None)
    return UserPage(items=[UserOut.of(u) for u in page.items], total=page.total, page=page.page,
                    per_page=page.per_page, pages=page.pages).model_dump(mode="json")


@route("/users", "POST", summary="Add a user (admins), inviting them by e-mail by default", tag=TAG,
       body=UserCreate, response=UserOut, status=201, errors=(400, 403, 409, 415, 422))
def create_user():
    admin = require_role(Role.ADMIN)
    body = parse_body(UserCreate)
    supervisor = _supervisor(body.supervisor_id)
    kwargs = dict(actor=admin, email=body.email, display_name=body.display_name,
                  certificate_name=body.certificate_name, role=body.role, supervisor=supervisor)
    user = services.invite_user(**kwargs) if body.invite else services.create_user(**kwargs)
    return UserOut.of(user).model_dump(mode="json"), 201, {"Location": url_for("api.get_user", user_id=user.id)}


def _supervisor(user_id: int | None) -> User | None:
    """The person a body names as supervisor: an id that is nobody is a mistake in the body (422), not a missing
    resource (404)."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(422, "No such person.", title="Unprocessable content",
                       errors={"supervisor_id": ["no such person"]})
    return user


def _load(user_id: int, viewer: User) -> User:
    user = db.session.get(User, user_id)
    if user is None or not _visible(user, viewer):
        raise ApiError(404, f"No user {user_id} that you may see.")
    return user


@route("/users/<int:user_id>", "GET", summary="One user (admins; supervisors for their trainees; yourself)",
       tag=TAG, response=UserOut, errors=(404,))
def get_user(user_id: int):
    return UserOut.of(_load(user_id, api_user())).model_dump(mode="json")


@route("/users/<int:user_id>", "PATCH", summary="Change a user's names, role, supervisor or active flag (admins)",
       tag=TAG, body=UserUpdate, response=UserOut, errors=(400, 403, 404, 409, 415, 422))
def update_user(user_id: int):
    admin = require_role(Role.ADMIN)
    user = _load(user_id, admin)
    body = parse_body(UserUpdate)
    given = body.model_fields_set
    if "display_name" in given or "certificate_name" in given:
        services.update_profile(user, actor=admin, display_name=body.display_name or user.display_name,
                                certificate_name=body.certificate_name or user.certificate_name)
    if "role" in given and body.role is not None:
        services.change_role(user, body.role, actor=admin)
    if "supervisor_id" in given:
        services.assign_supervisor(user, _supervisor(body.supervisor_id), actor=admin)
    if "active" in given and body.active is not None and body.active != user.active:
        (services.reactivate_user if body.active else services.deactivate_user)(user, actor=admin)
    return UserOut.of(user).model_dump(mode="json")
