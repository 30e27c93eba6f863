"""Project New Day facilitator training: the application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
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


def _register_error_handlers(app: Flask) -> None:
    from lms.api.core import ApiError, problem_from_exception

    def render(status: int, title: str, detail: str):
        template = f"errors/{status}.html" if status in (403, 404) else "errors/error.html"
        return render_template(template, status=status, title=title, detail=detail), status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_problem():
            return problem_from_exception(exc)
        return render(500, InternalServerError.name, "Something went wrong on our side. It has been logged, "
                      "and nothing you did was half-saved. Please try again.")
