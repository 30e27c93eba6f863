"""Report pages: the supervisor's dashboard of their trainees (also their home page), and the administrators'
progress reports with CSV downloads. Thin handlers over lms/records/reports.py."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.db import db, utcnow
from lms.records import reports
from lms.records.reports import SortKey, StatusFilter
from lms.security import role_required
from lms.web import page_arg

bp = Blueprint("reports", __name__)

PER_PAGE = 25
TRANSCRIPT_ENDPOINT = "records.trainee_transcript"


def transcript_url(user_id: int) -> str | None:
    """The trainee's transcript, once the transcript pages exist in this application."""
    if TRANSCRIPT_ENDPOINT not in current_app.view_functions:
        return None
    try:
        return url_for(TRANSCRIPT_ENDPOINT, user_id=user_id)
    except BuildError:  # the view names its argument otherwise; the address itself is agreed
        return f"/people/{user_id}/transcript"


def _choice(name: str, enum_cls: type, default: str):
    value = request.args.get(name, "") or default
    try:
        return enum_cls(value)
    except ValueError:
        abort(400)


def _dashboard(supervisor: User | None, *, endpoint: str, at_home: bool = False):
    q = request.args.get("q", "").strip()[:100]
    status = _choice("status", StatusFilter, StatusFilter.ALL)
    sort = _choice("sort", SortKey, SortKey.NAME)
    order = request.args.get("order", "") or "asc"
    if order not in ("asc", "desc"):
        abort(400)
    page = summary = None
    pending: list[reports.PendingReview] = []
    if supervisor is not None:
        pending = reports.pending_reviews(supervisor)
        page = reports.supervisor_overview(supervisor, q=q, status=status, sort=sort, descending=order == "desc",
                                           page=page_arg(), per_page=PER_PAGE)
        summary = reports.supervisor_summary(supervisor)
    supervisors = accounts.active_supervisors() if current_user.role is Role.ADMIN else []
    return render_template("reports/supervision.html", supervisor=supervisor, page=page, summary=summary, q=q,
                           status=status, sort=sort, order=order, statuses=list(StatusFilter),
                           sorts=list(SortKey), endpoint=endpoint, at_home=at_home, supervisors=supervisors,
                           stale_days=reports.STALE_DAYS, transcript_url=transcript_url, pending=pending,
                           pending_by_trainee=Counter(item.trainee_id for item in pending))


def supervisor_home():
    """A supervisor's home page: their dashboard under a greeting."""
    return _dashboard(current_user, endpoint="main.home", at_home=True)


@bp.get("/supervision")
@role_required(Role.SUPERVISOR, Role.ADMIN)
def supervision():
    chosen = request.args.get("supervisor", "")
    if current_user.role is Role.SUPERVISOR:
        if chosen and chosen != str(current_user.id):
            abort(403)  # a supervisor sees their own trainees only
        return _dashboard(current_user, endpoint="reports.supervision")
    supervisor = None
    if chosen:
        supervisor = db.session.get(User, int(chosen)) if chosen.isdigit() else None
        if supervisor is None or supervisor.role is not Role.SUPERVISOR:
            abort(404)
    return _dashboard(supervisor, endpoint="reports.supervision")


REPORT_CACHE = "lms.admin_reports"


def _admin_figures() -> tuple[datetime, dict]:
    """The three aggregate reports and when they were computed. With thousands of trainees they take seconds,
    so each worker keeps them for REPORT_CACHE_SECONDS; the page shows their time, so nobody is misled."""
    ttl = current_app.config.get("REPORT_CACHE_SECONDS", 0)
    cache = current_app.extensions.setdefault(REPORT_CACHE, {})
    now = utcnow()
    kept = cache.get("figures")
    if ttl and kept is not None and (now - kept[0]).total_seconds() < ttl:
        return kept
    figures = (now, reports.admin_figures(now=now))
    if ttl:
        cache["figures"] = figures
    return figures


@bp.get("/admin/reports")
@role_required(Role.ADMIN)
def admin_reports():
    computed_at, figures = _admin_figures()
    return render_template("reports/admin.html", **figures, computed_at=computed_at,
                           cache_minutes=current_app.config.get("REPORT_CACHE_SECONDS", 0) // 60,
                           csv_reports=reports.CSV_REPORTS, stale_days=reports.STALE_DAYS)


@bp.get("/admin/reports/<name>.csv")
@role_required(Role.ADMIN)
def report_csv(name: str):
    report = reports.CSV_REPORTS.get(name) or abort(404)
    filename = f"{report.filename}-{date.today().isoformat()}.csv"
    return Response(reports.report_csv(name), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
