"""Downloading the learning record (administrators): CSV of completions or attempts, or xAPI statements."""

from __future__ import annotations

from flask import Response, current_app, request

from lms.accounts.models import Role
from lms.api.core import ApiError, require_role, route
from lms.db import utcnow
from lms.records import export

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xapi": "application/json"}
XAPI_STATEMENTS = {"type": "array", "items": {"type": "object"}, "description": "xAPI 1.0.3 statements"}


@route("/records/export", "GET", summary="Download the learning record (administrators)", tag="Records",
       response=None, errors=(400, 403), media_types=("text/csv", ("application/json", XAPI_STATEMENTS)),
       description="Streams the whole record, oldest first, however large. `format=csv` answers `text/csv` "
                   "with a header row: `kind=completions` (default) has the columns " +
                   ", ".join(f"`{c}`" for c in export.COMPLETION_COLUMNS) + "; `kind=attempts` has " +
                   ", ".join(f"`{c}`" for c in export.ATTEMPT_COLUMNS) + ". `format=xapi` answers "
                   "`application/json`: one array of xAPI 1.0.3 statements, one per learning event, people "
                   "named only by their account id. `since` keeps records from that date (UTC) on. Every "
                   "download is recorded in the audit trail.",
       query={"format": {"type": "string", "enum": list(export.FORMATS), "default": "csv"},
              "kind": {"type": "string", "enum": list(export.KINDS), "description": "format=csv only"},
              "since": {"type": "string", "format": "date", "description": "YYYY-MM-DD, UTC"}})
def export_records():
    admin = require_role(Role.ADMIN)
    try:
        since = export.parse_since(request.args.get("since"))
        fmt, kind = export.check_params(request.args.get("format"), request.args.get("kind"))
    except export.ExportError as exc:
        raise ApiError(400, str(exc)) from None
    export.note_export(admin, fmt, kind, since)  # committed with the response, before the first row
    name = export.filename(fmt, kind, utcnow().date())
    app = current_app._get_current_object()

    def body():
        # The rows are read while the server sends them, after this request has ended, in an app context (and
        # database session) of its own. Not stream_with_context: that keeps this request's context, login and
        # session included, pushed inside the generator, and a response left unread breaks the next request
        # handled on the same thread.
        with app.app_context():
            yield from export.stream(fmt, kind, since)

    return Response(body(), content_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
