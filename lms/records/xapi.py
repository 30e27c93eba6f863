"""xAPI 1.0.3 statements built from the learning record: pure functions of plain values, no Flask, no database.

One LearningEvent becomes one statement. The statement id is derived from the site's base address and the
event id, so the same event always gives the same statement: an LRS receiving it twice keeps one copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

XAPI_VERSION = "1.0.3"  # of the API we speak: the X-Experience-API-Version header
# The statement's own "version" is that of the 1.0 data model: xAPI 1.0.3 (Data, 2.4.10) says a Learning Record
# Provider that sets it MUST set 1.0.0, since every 1.0.x statement conforms to the 1.0.0 data model.
STATEMENT_VERSION = "1.0.0"

# verb of the learning record -> (xAPI verb IRI, display). `acknowledged` (a trainee accepting the code of
# conduct) is forwarded as Activity Streams' "accept": the LRS is the organisation's record too, and what a
# facilitator agreed to, and which version, belongs in it.
VERBS: dict[str, tuple[str, str]] = {
    "completed": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
    "attempted": ("http://adlnet.gov/expapi/verbs/attempted", "attempted"),
    "passed": ("http://adlnet.gov/expapi/verbs/passed", "passed"),
    "failed": ("http://adlnet.gov/expapi/verbs/failed", "failed"),
    "acknowledged": ("http://activitystrea.ms/schema/1.0/accept", "accepted"),
    "earned": ("http://id.tincanapi.com/verb/earned", "earned"),
}

# object_type of the learning record -> xAPI activity type; other kinds (a program, the code of conduct) are
# sent without a type rather than with a made-up one.
ACTIVITY_TYPES: dict[str, str] = {
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "course": "http://adlnet.gov/expapi/activities/course",
    "quiz": "http://adlnet.gov/expapi/activities/assessment",
}


@dataclass(frozen=True)
class Site:
    """What a statement needs besides the event: this site's address and the certification program."""

    base_url: str
    program_slug: str | None = None
    program_title: str | None = None

    @property
    def namespace(self) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{self.base_url}/xapi/statements")

    def iri(self, *parts: str) -> str:
        return "/".join([self.base_url, "xapi", *(quote(p, safe="") for p in parts)])


@dataclass(frozen=True)
class Event:
    """The plain values of one LearningEvent row, with its course's slug and title (None outside a course)."""

    id: int
    user_id: int
    verb: str
    object_type: str
    object_id: str
    object_title: str
    occurred_at: datetime
    course_slug: str | None = None
    course_title: str | None = None
    content_version: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)


def statement_id(site: Site, event_id: int) -> str:
    return str(uuid.uuid5(site.namespace, str(event_id)))


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, the form every LRS accepts."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given for an xAPI timestamp")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def actor(site: Site, user_id: int) -> dict[str, Any]:
    # An account on this site, never the e-mail address: the LRS learns who did what only through us.
    return {"objectType": "Agent", "account": {"homePage": site.base_url, "name": str(user_id)}}


def activity(site: Site, object_type: str, object_id: str, title: str | None) -> dict[str, Any]:
    definition: dict[str, Any] = {}
    if title:
        definition["name"] = {"en": title}
    if object_type in ACTIVITY_TYPES:
        definition["type"] = ACTIVITY_TYPES[object_type]
    out: dict[str, Any] = {"objectType": "Activity", "id": site.iri("activities", object_type, object_id)}
    if definition:
        out["definition"] = definition
    return out


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= 100 else None  # scores are percentages; anything else is not sent


def result(site: Site, event: Event) -> dict[str, Any] | None:
    data = event.result or {}
    out: dict[str, Any] = {}
    score = _score(data.get("score"))
    if score is not None:
        out["score"] = {"scaled": round(score / 100, 4), "raw": score, "min": 0, "max": 100}
    if event.verb in ("passed", "failed"):
        out["success"] = event.verb == "passed"
        out["completion"] = True
    elif event.verb == "completed":
        out["completion"] = True
    extensions = {site.iri("extensions", name.replace("_", "-")): data[name]
                  for name in ("critical_failed", "timed_out") if isinstance(data.get(name), bool)}
    if extensions:
        out["extensions"] = extensions
    return out or None


def context(site: Site, event: Event) -> dict[str, Any] | None:
    program = (activity(site, "program", site.program_slug, site.program_title) if site.program_slug else None)
    activities: dict[str, list[dict[str, Any]]] = {}
    if event.object_type == "course":
        if program:
            activities["parent"] = [program]
    else:
        if event.course_slug:
            activities["parent"] = [activity(site, "course", event.course_slug, event.course_title)]
        if program:
            activities["grouping"] = [program]
    extensions: dict[str, Any] = {}
    if event.content_version:
        extensions[site.iri("extensions", "content-version")] = event.content_version
    attempt_id = (event.result or {}).get("attempt_id")
    if isinstance(attempt_id, int) and not isinstance(attempt_id, bool):
        # ties an "attempted" statement to the "passed"/"failed" of the same attempt
        extensions[site.iri("extensions", "attempt")] = site.iri("attempts", str(attempt_id))
    out: dict[str, Any] = {}
    if activities:
        out["contextActivities"] = activities
    if extensions:
        out["extensions"] = extensions
    return out or None


def statement(site: Site, event: Event) -> dict[str, Any]:
    """The xAPI statement of one event. Raises KeyError for a verb xAPI has no mapping for."""
    verb_id, display = VERBS[event.verb]
    out: dict[str, Any] = {
        "id": statement_id(site, event.id),
        "actor": actor(site, event.user_id),
        "verb": {"id": verb_id, "display": {"en": display}},
        "object": activity(site, event.object_type, event.object_id, event.object_title),
        "timestamp": timestamp(event.occurred_at),
        "version": STATEMENT_VERSION,
    }
    if (res := result(site, event)) is not None:
        out["result"] = res
    if (ctx := context(site, event)) is not None:
        out["context"] = ctx
    return out
