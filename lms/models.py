"""Imports every model so that Base.metadata knows all tables (Alembic and tests use this)."""

from lms.accounts.models import AccountToken, ApiToken, LoginSession, Role, User
from lms.audit import AuditChainHead, AuditEvent
from lms.certification.models import (
    Certificate,
    CertificateNotice,
    CertificationRequest,
    ConductAcknowledgement,
    PracticumEntry,
)
from lms.db import Base
from lms.groups.models import (
    CalendarFeed,
    Group,
    GroupMember,
    GroupSession,
    SessionCoFacilitator,
)
from lms.learning.models import (
    CodeOfConductVersion,
    ContentSync,
    Course,
    CourseActivity,
    CourseCompletion,
    CourseVersion,
    LearningEvent,
    Lesson,
    LessonCompletion,
    LessonVersion,
    ProgramVersion,
)
from lms.quizzes.models import Attempt, AttemptAnswer, Quiz, QuizVersion
from lms.records.models import LrsCursor

__all__ = [
    "AccountToken", "ApiToken", "Attempt", "AttemptAnswer", "AuditChainHead", "AuditEvent", "Base", "CalendarFeed",
    "Certificate",
    "CertificateNotice", "Group", "GroupMember", "GroupSession", "SessionCoFacilitator",
    "CertificationRequest", "CodeOfConductVersion", "ConductAcknowledgement", "PracticumEntry",
    "ContentSync", "Course", "CourseActivity", "CourseCompletion", "CourseVersion", "LearningEvent", "Lesson",
    "LessonCompletion", "LessonVersion", "LoginSession", "LrsCursor", "ProgramVersion", "Quiz", "QuizVersion",
    "Role", "User",
]
