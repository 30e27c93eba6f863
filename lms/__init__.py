"""Project New Day facilitator training: the application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from lms import config as config_module
from lms import security
from lms.errors import DomainError
from lms.extensions import csrf, limiter, login_manager

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    settings = config_module.load(overrides=config)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], template_folder=str(ROOT / "templates"),
                static_folder="static")
    app.config.update(settings)
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("weasyprint", "fontTools"):  # they narrate every stylesheet and font at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)

    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)  # type: ignore[method-assign]

    from lms.db import db as database  # a local name: `lms.db` must stay the module

    database.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    security.init_app(app)

    from lms import api
    from lms.accounts.views import bp as accounts_bp
    from lms.admin.views import bp as admin_bp
    from lms.certification.views import bp as certification_bp
    from lms.groups.views import bp as groups_bp
    from lms.learning.views import bp as learning_bp
    from lms.main.views import bp as main_bp
    from lms.quizzes.views import bp as quizzes_bp
    from lms.records.report_views import bp as reports_bp
    from lms.records.views import bp as records_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(learning_bp)
    app.register_blueprint(quizzes_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(certification_bp)
    app.register_blueprint(groups_bp)
    app.register_blueprint(api.bp)
    _register_error_handlers(app)

    from lms.cli import register

    register(app)

    from lms.dates import long_date

    app.add_template_filter(long_date)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        from lms.accounts.models import Role

        return {"Role": Role}

    return app


def _wants_problem() -> bool:
    return request.path.startswith("/api/")


RETRY_AFTER_SECONDS = 30  # what a 503 suggests when the database is away


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached or used right now (a server that went away, refused or
    timed out a connection, a file that cannot be opened, a pool with no connection free), as opposed to a bug."""
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True
        # SQLite reports a mistake in the SQL (no such table, a syntax error) as an OperationalError too: a bug
        if getattr(exc.orig, "sqlite_errorname", None) == "SQLITE_ERROR":
            return False
        return isinstance(exc, sa.OperationalError | sa.InterfaceError)
    return False


def _register_error_handlers(app: Flask) -> None:
    from lms.api.core import ApiError, problem, problem_from_exception

    def render(status: int, title: str, detail: str):
        template = f"errors/{status}.html" if status in (403, 404) else "errors/error.html"
        return render_template(template, status=status, title=title, detail=detail), status

    def _unavailable(exc: BaseException):
        """503 while the database is away: a plain page (it asks nothing of the database, not even who is logged
        in) or problem+json, with Retry-After. The session is closed at once, its connection given back; the pool
        replaces dead connections on the next checkout (pool_pre_ping)."""
        from lms.db import db

        app.logger.error("database unavailable on %s %s: %s: %s", request.method, request.path,
                         type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        try:
            db.session.remove()
        except Exception:  # a connection that cannot even be given back is dropped by the pool
            app.logger.warning("could not close the database session", exc_info=True)
        detail = "The service is briefly unavailable. Nothing was saved; please try again in a minute."
        if _wants_problem():
            response = problem(503, detail, title="Service unavailable")
        else:
            # rendered without the context processors: Flask-Login's would load the user, from the database
            page = app.jinja_env.get_template("errors/unavailable.html").render(detail=detail)
            response = app.make_response((page, 503))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # an error raised after the view (a commit in after_request) reaches here as a 500 wrapping it
        if database_unavailable(getattr(exc, "original_exception", None)):
            return _unavailable(exc.original_exception)  # type: ignore[attr-defined]
        response = app.make_response(_http_page(exc))
        if getattr(exc, "valid_methods", None):  # a 405 names the methods that would work (RFC 9110)
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    def _http_page(exc: HTTPException):
        if _wants_problem():
            return problem_from_exception(exc)
        if isinstance(exc, CSRFError):
            return render(400, "The form expired", "The page was open too long or came from somewhere else. "
                          "Go back, reload the page and try again.")
        if exc.code == 429:
            return render(429, "Too many attempts", "Please wait a few minutes before trying again.")
        # werkzeug's stock descriptions talk to developers; our 403 and 404 pages say it plainly
        detail = "" if exc.code in (403, 404) else (exc.description or "")
        return render(exc.code or 500, exc.name, detail)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if _wants_problem():
            return problem_from_exception(exc)
        return render(exc.status, exc.title, exc.detail)

    @app.errorhandler(ApiError)
    def _api(exc: ApiError):
        return problem_from_exception(exc)

    @app.errorhandler(DBAPIError)
    @app.errorhandler(SQLAlchemyTimeoutError)
    def _database(exc: Exception):
        return _unavailable(exc) if database_unavailable(exc) else _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_problem():
            return problem_from_exception(exc)
        return render(500, InternalServerError.name, "Something went wrong on our side. It has been logged, "
                      "and nothing you did was half-saved. Please try again.")
