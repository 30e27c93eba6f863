"""Group pages (to come) and each facilitator's calendar feed: GET /calendar/<secret>.ics, public by its secret."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from lms.groups import services

bp = Blueprint("groups", __name__)


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    """No login: calendar apps cannot log in. The secret in the address is the credential; an unknown, rotated
    or deactivated one is a plain 404. Never cached by shared caches."""
    body = services.calendar_for_token(token)
    if body is None:
        abort(404)
    return Response(body, mimetype="text/calendar", headers={
        "Cache-Control": "private, no-store",
        "Content-Disposition": 'inline; filename="pnd-sessions.ics"',
        "X-Robots-Tag": "noindex",
    })


from lms.groups import pages  # noqa: E402,F401  (the group pages, on the same blueprint)
