"""`lms load-content`: bring the database in line with the content files, atomically (the caller commits
once) and idempotently (an unchanged tree changes nothing)."""

from __future__ import annotations

from lms import audit
from lms.accounts.models import User
from lms.content import Content
from lms.db import db
from lms.errors import ValidationFailed
from lms.learning.models import ContentSync
from lms.learning.sync import sync_courses
from lms.quizzes.sync import sync_quizzes


def sync_content(content: Content, *, actor: User | None) -> list[str]:
    """Apply the content; return a line per change (empty when nothing changed)."""
    if content.problems:
        raise ValidationFailed(f"the content has {len(content.problems)} problem(s); run `lms check-content`")
    changes: list[str] = []
    sync_courses(content, changes)
    sync_quizzes(content, changes)
    if changes:
        db.session.add(ContentSync(changes=changes))
        audit.record(actor, "content.loaded", None, changes=len(changes),
                     courses=[c.slug for c in content.courses], quizzes=[q.slug for q in content.quizzes])
    db.session.flush()
    return changes
