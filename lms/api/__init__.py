"""The JSON API under /api/v1: a thin face over the same services as the pages."""

from lms.api import (  # noqa: F401  (routes)
    badges,
    certification,
    groups,
    learning,
    openapi,
    quizzes,
    records,
    records_export,
    users,
)
from lms.api.core import bp

__all__ = ["bp"]
