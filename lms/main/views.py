"""The home page for each role and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select, text

from lms import audit
from lms.accounts.models import Role, User
from lms.db import db
from lms.extensions import csrf

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def home():
    if current_user.role is Role.ADMIN:
        counts = dict(db.session.execute(
            select(User.role, func.count()).where(User.active.is_(True)).group_by(User.role)).all())
        unassigned = db.session.scalar(select(func.count()).select_from(User).where(
            User.role == Role.TRAINEE, User.active.is_(True), User.supervisor_id.is_(None)))
        recent = list(db.session.scalars(audit.query_events().limit(8)))
        from lms.groups.services import groups_needing_lead  # the home page gathers every feature's news

        return render_template("main/home_admin.html", counts=counts, unassigned=unassigned, recent=recent,
                               leaderless=groups_needing_lead())
    if current_user.role is Role.SUPERVISOR:
        from lms.records.report_views import supervisor_home

        return supervisor_home()
    from lms.learning.views import dashboard

    return dashboard()


@bp.get("/healthz")
@csrf.exempt
def healthz():
    """200 when the database answers and holds the schema, else 503 (with Retry-After), quickly either way: a load
    balancer takes the instance out of rotation while the database is away and back when it returns. Reading the
    schema's revision, not just `SELECT 1`, also catches an empty database (a SQLite file removed and made anew
    by the next connection, or a URL pointing at the wrong database)."""
    from lms import RETRY_AFTER_SECONDS

    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    try:
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:
        db.session.remove()  # the failed session and its connection go now, not at the end of the request
        state = "no schema" if "alembic_version" in str(exc) else "unreachable"
        return jsonify(status="unavailable", database=state), 503, retry
    if revision is None:
        return jsonify(status="unavailable", database="no schema"), 503, retry
    return jsonify(status="ok", database="ok")
