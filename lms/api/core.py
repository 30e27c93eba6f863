"""The API's plumbing: the blueprint, authentication (bearer token or session cookie), problem+json errors,
JSON body parsing with pydantic, and a route decorator that also records the OpenAPI operation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.db import MAX_ID, db
from lms.errors import DomainError
from lms.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token calls need no CSRF token; cookie calls are checked in _authenticate below

M = TypeVar("M", bound=BaseModel)
PROBLEM_TYPE = "application/problem+json"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class ApiError(Exception):
    def __init__(self, status: int, detail: str, *, title: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.title, self.extra = status, detail, title, extra


def problem(status: int, detail: str, *, title: str | None = None, **extra: Any) -> Response:
    from http import HTTPStatus

    body = {"type": "about:blank", "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail, "instance": request.path, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def problem_from_exception(exc: BaseException) -> Response:
    """Every error under /api/ answers as problem+json (RFC 9457), never an HTML page."""
    if isinstance(exc, ApiError):
        return problem(exc.status, exc.detail, title=exc.title, **exc.extra)
    if isinstance(exc, DomainError):
        extra = {"errors": exc.errors} if exc.errors else {}
        return problem(exc.status, exc.detail, title=exc.title, **extra)
    if isinstance(exc, CSRFError):
        return problem(400, "A cookie-authenticated change needs the X-CSRFToken header; or use a bearer token.",
                       title="CSRF token missing or invalid")
    if isinstance(exc, HTTPException):
        detail = exc.description or exc.name
        if exc.code == 429:
            detail = f"Too many requests: the limit is {exc.description}. Try again later."
        return problem(exc.code or 500, detail)
    current_app.logger.exception("unhandled error in API", exc_info=exc)
    return problem(500, "Something went wrong on our side. It has been logged.")


def _api_rate_key() -> str:
    header = request.headers.get("Authorization", "")
    return "api:" + (header[-16:] if header else (request.remote_addr or ""))


limiter.limit("600 per minute", key_func=_api_rate_key)(bp)


@bp.before_request
def _authenticate() -> None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        token = accounts.api_token_for_secret(secret.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise ApiError(401, "The bearer token is missing, malformed, revoked, or its account is inactive.")
        g.api_user, g.api_auth, g.api_scopes = token.user, "token", token.scope_set
        if g.api_scopes and request.endpoint not in PUBLIC_ENDPOINTS and not any(
                request.endpoint in SCOPED_ENDPOINTS.get(scope, ()) for scope in g.api_scopes):
            raise ApiError(403, "This integration token may call only the endpoints of its scopes: "
                                f"{', '.join(sorted(g.api_scopes))}.")
        return
    if request.endpoint in PUBLIC_ENDPOINTS:
        g.api_user, g.api_auth = None, None
        return
    if not current_user.is_authenticated:
        raise ApiError(401, "Send a personal API token as 'Authorization: Bearer <token>', or log in.")
    g.api_user, g.api_auth = current_user._get_current_object(), "session"
    if request.method not in SAFE_METHODS:
        csrf.protect()


@bp.before_request
def _ids_in_range() -> None:
    """Runs after _authenticate: an id in the path that no row can have is not found (and never reaches the
    database, where SQLite cannot compare with a number beyond 64 bits)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            raise ApiError(404, f"Nothing has the {name} {value}.")


@bp.after_request
def _commit(response: Response) -> Response:
    """The request commits once when it succeeded; on an error the teardown rolls back."""
    if response.status_code < 400:
        db.session.commit()
    return response


def api_user() -> User:
    return g.api_user


def token_scopes() -> frozenset[str]:
    """The scopes of the integration token the call came with; empty for personal tokens and the browser."""
    return g.get("api_scopes", frozenset())


def require_role(*roles: Role) -> User:
    user = api_user()
    if user.role not in roles:
        raise ApiError(403, f"This needs the role {' or '.join(r.value for r in roles)}.")
    return user


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter within [lo, hi]; a 400 naming it otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter {name} must be a whole number.") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"Query parameter {name} must be between {lo} and {hi}.")
    return value


def parse_body(model: type[M]) -> M:
    if not request.is_json:
        # request.data is empty for a form post (werkzeug parses it), so look at what was declared
        sent = bool(request.content_length or request.mimetype)
        raise ApiError(415 if sent else 400, "Send a JSON object with Content-Type: application/json.",
                       title="Unsupported media type" if sent else "Bad request")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "The body is not a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "body"
            errors.setdefault(field, []).append(err["msg"])
        names = ", ".join(sorted(errors))
        raise ApiError(422, f"The body is not valid: {names}.", title="Unprocessable content", errors=errors) from exc


# ---------------------------------------------------------------- OpenAPI registry

OPERATIONS: list[dict[str, Any]] = []
MODELS: dict[str, type[BaseModel]] = {}
PUBLIC_ENDPOINTS: set[str] = set()
SCOPED_ENDPOINTS: dict[str, set[str]] = {}  # scope -> the endpoints a token with that scope may call
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def route(rule: str, method: str, *, summary: str, tag: str, response: type[BaseModel] | None = None,
          body: type[BaseModel] | None = None, status: int = 200, errors: tuple[int, ...] = (),
          public: bool = False, description: str = "", query: dict[str, dict] | None = None,
          media_types: tuple[str | tuple[str, dict[str, Any]], ...] = (), body_required: bool = True,
          scopes: tuple[str, ...] = (), also: tuple[int, ...] = (),
          ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler on the API blueprint and describe it in the OpenAPI document. `media_types` names what a
    success answers with other than a `response` model (a PDF, a CSV), each a media type or a pair of a media type
    and the JSON schema of its body (a string otherwise); `body_required=False` marks a JSON body that may be left out;
    `scopes` lets integration tokens with one of those scopes call it (the handler decides what the scope
    grants, with `token_scopes()`); `also` lists other success statuses answered with the same body (201 for
    something new, 200 when it was there already)."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        bp.add_url_rule(rule, endpoint=func.__name__, view_func=func, methods=[method])
        if public:
            PUBLIC_ENDPOINTS.add(f"{bp.name}.{func.__name__}")
        for scope in scopes:
            SCOPED_ENDPOINTS.setdefault(scope, set()).add(f"{bp.name}.{func.__name__}")
        for model in (response, body):
            if model is not None:
                MODELS[model.__name__] = model
        OPERATIONS.append(dict(rule=rule, method=method.lower(), summary=summary, tag=tag, response=response,
                               body=body, status=status, errors=errors, public=public,
                               description=description, query=query or {}, operation_id=func.__name__,
                               media_types=media_types, body_required=body_required, scopes=scopes,
                               also=also))
        return func

    return decorator


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for conv, name in _CONVERTER.findall(rule):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer"} if conv == "int" else {"type": "string"}})
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule), params
