"""Request and response bodies of the API. They double as the OpenAPI components."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from lms.accounts.models import User
from lms.db import MAX_ID

RoleName = Literal["trainee", "supervisor", "admin"]

# Ids in bodies are bounded by MAX_ID (lms.db); ids in the path are answered 404 (lms.api.core).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
StrictId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    # Unknown keys are an error that names them, not silently dropped.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonRef(BaseModel):
    id: int
    display_name: str


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str
    certificate_name: str
    role: RoleName
    status: Literal["active", "invited", "deactivated"]
    supervisor: PersonRef | None
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        sup = user.supervisor
        return cls(id=user.id, email=user.email, display_name=user.display_name,
                   certificate_name=user.certificate_name, role=user.role.value, status=user.status,
                   supervisor=PersonRef(id=sup.id, display_name=sup.display_name) if sup else None,
                   created_at=user.created_at, last_login_at=user.last_login_at)


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    page: int
    per_page: int
    pages: int


class UserCreate(Strict):
    email: str = Field(max_length=254)
    display_name: str = Field(min_length=1, max_length=120)
    certificate_name: str | None = Field(default=None, max_length=120)
    role: RoleName = "trainee"
    supervisor_id: Id | None = None
    invite: bool = Field(default=True, description="E-mail an invitation to set a password.")


class UserUpdate(Strict):
    display_name: str | None = Field(default=None, min_length=1, max_length=120)
    certificate_name: str | None = Field(default=None, min_length=1, max_length=120)
    role: RoleName | None = None
    supervisor_id: Id | None = Field(default=None, description="A supervisor's id; null to unassign.")
    active: bool | None = None


class Health(BaseModel):
    status: Literal["ok"]


class LessonSummary(BaseModel):
    id: int
    slug: str
    position: int
    title: str
    minutes: int
    version: str
    completed: bool
    completed_at: datetime | None
    completed_version: str | None = Field(description="the lesson version the caller completed, if any")


class CourseSummary(BaseModel):
    slug: str
    title: str
    summary: str
    position: int
    required: bool
    estimated_minutes: int
    prerequisites: list[str]
    version: str
    state: Literal["locked", "not_started", "in_progress", "done"]
    lessons_done: int
    lessons_total: int
    percent: int
    missing_prerequisites: list[str]


class CourseDetail(CourseSummary):
    objectives: list[str]
    quiz: str | None
    lessons: list[LessonSummary]


class CourseList(BaseModel):
    items: list[CourseSummary]


class LessonDetail(LessonSummary):
    course: str
    html: str = Field(description="the lesson rendered to sanitised HTML, with this site's emergency numbers")


class LessonCompletionOut(BaseModel):
    lesson_id: int
    completed_at: datetime
    lesson_version: str
    course_version: str
    new: bool = Field(description="false when the lesson had been completed before (the call changes nothing)")


class Progress(BaseModel):
    user_id: int
    required_done: int
    required_total: int
    courses: list[CourseSummary]


class Choice(BaseModel):
    id: str
    text: str


class QuestionOut(BaseModel):
    """A question as the trainee sees it: never its key."""

    id: str
    type: Literal["single", "multiple", "true_false", "short", "numeric", "ordering", "matching"]
    text: str = Field(description="Markdown")
    points: float
    options: list[Choice] | None = Field(default=None, description="single, multiple, true_false")
    items: list[Choice] | None = Field(default=None, description="ordering: the steps, shuffled")
    prompts: list[Choice] | None = Field(default=None, description="matching: the things to match")
    choices: list[Choice] | None = Field(default=None, description="matching: what they can be matched with")


class QuestionReview(BaseModel):
    id: str
    correct: bool | None = None
    fraction: float | None = None
    key: dict[str, Any] | None = Field(default=None, description="the correct answer, when the policy allows")
    feedback: list[str] | None = None


class AttemptSummary(BaseModel):
    id: int
    quiz: str
    number: int
    status: Literal["in_progress", "submitted", "timed_out"]
    started_at: datetime
    deadline: datetime | None
    closed_at: datetime | None
    score: float | None
    passed: bool | None
    critical_failed: bool | None


class AttemptOut(AttemptSummary):
    questions: list[QuestionOut]
    answers: dict[str, Any] = Field(description="the saved answers, by question id")
    review: list[QuestionReview] | None = Field(
        default=None, description="present only once the quiz's review policy allows it")
    review_note: str | None = None


class AttemptList(BaseModel):
    items: list[AttemptSummary]


class AnswersIn(Strict):
    answers: dict[str, Any] = Field(description=(
        "question id -> answer: an option id (single, true/false as 'true'/'false'), a list of option ids "
        "(multiple), text (short), a number (numeric), a list of item ids in order (ordering), or "
        "{prompt id: choice id} (matching). Questions left out keep their saved answer."))


class SubmitIn(BaseModel):
    """Optional last answers. Anything else sent, such as a score or a pass flag, is ignored: only the server
    grades."""

    model_config = ConfigDict(extra="ignore")
    answers: dict[str, Any] | None = None


# ---------------------------------------------------------------- the transcript (lms/api/records.py)


class TranscriptAttempt(BaseModel):
    id: int
    quiz: str
    quiz_title: str
    number: int
    status: Literal["in_progress", "submitted", "timed_out"]
    started_at: datetime
    closed_at: datetime | None
    score: float | None
    passed: bool | None
    critical_failed: bool | None
    quiz_version: str = Field(description="the quiz version the attempt was taken against")
    quiz_version_changed: bool = Field(description="true when the quiz has had a new version since")


class TranscriptCourse(BaseModel):
    slug: str
    title: str
    required: bool
    retired: bool = Field(description="no longer offered; what was earned on it is kept")
    state: Literal["locked", "not_started", "in_progress", "done"]
    current_version: str
    completed_at: datetime | None
    completed_version: str | None = Field(description="the course version the completion was recorded on")
    version_changed: bool = Field(description="completed on a version the course has since moved on from")
    score: float | None = Field(description="the quiz score recorded with the completion")
    best_score: float | None = Field(description="the best quiz score so far, completed or not")
    lessons_done: int
    lessons_total: int
    quiz: str | None
    attempts: list[TranscriptAttempt]


class TranscriptTotals(BaseModel):
    required_done: int
    required_total: int
    courses_done: int
    lessons_done: int
    lessons_total: int
    attempts: int
    attempts_passed: int


class TranscriptOut(BaseModel):
    user_id: int
    display_name: str
    certificate_name: str
    email: str
    supervisor: str | None = Field(description="the supervisor's name")
    generated_at: datetime
    program: str | None
    program_version: str | None
    required: list[TranscriptCourse] = Field(description="the program's required courses, in program order")
    other: list[TranscriptCourse]
    other_attempts: list[TranscriptAttempt] = Field(description="attempts at quizzes no course names any more")
    totals: TranscriptTotals


# ---------------------------------------------------------------- certification (lms/api/certification.py)

PracticumKindName = Literal["observed", "co_facilitated", "led_observed", "crisis_roleplay"]
RequestStatusName = Literal["pending", "approved", "rejected", "withdrawn", "issued"]
CertificateStatusName = Literal["valid", "expired", "revoked", "superseded"]


class RequirementOut(BaseModel):
    key: str = Field(description="`course:<slug>`, `practicum:<kind>` or `code_of_conduct`")
    group: Literal["courses", "practicum", "conduct"]
    title: str
    met: bool
    progress: str = Field(description="where the caller stands, in words")
    next_step: str | None = Field(description="what to do next, while not met")
    action: str | None = Field(description="where to go next: `course:<slug>`, `practicum` or `code_of_conduct`")


class ProgramRef(BaseModel):
    slug: str
    title: str
    version: str


class OpenRequestRef(BaseModel):
    id: int
    status: Literal["pending", "approved"]


class EligibilityOut(BaseModel):
    eligible: bool = Field(description="every requirement of the program in force is met")
    may_request: bool = Field(description="eligible, no request open and no valid certificate held")
    blockers: list[str] = Field(description="why a request cannot be made now; empty when it can")
    program: ProgramRef | None = Field(description="the program in force; null when none is loaded")
    requirements: list[RequirementOut]
    open_request: OpenRequestRef | None
    certificate_serial: str | None = Field(description="the caller's certificate valid today, if any")


class PracticumIn(Strict):
    """A practicum session the caller took part in. The entry always starts as pending and belongs to the caller:
    status, reviewer, scores or another person's id cannot be sent (unknown fields are rejected)."""

    kind: PracticumKindName
    session_date: date = Field(description="YYYY-MM-DD; not in the future, at most two years ago")
    group_name: str = Field(description="the group or session, at most 120 characters; no participant names")
    reflection: str = Field(description="the caller's own reflection, 20 to 2000 characters")


class PracticumReviewIn(Strict):
    confirm: bool = Field(default=True, description="true to confirm, false to not confirm (then `note` is needed)")
    note: str | None = Field(default=None, description="to the trainee; required when not confirming")
    scores: dict[str, StrictInt] | None = Field(default=None, description=(
        "led sessions: rubric criterion id -> whole score on the program's scale, one for every criterion"))


class PracticumEntryOut(BaseModel):
    id: int
    trainee: PersonRef
    kind: PracticumKindName
    session_date: date
    group_name: str
    reflection: str
    source: str = Field(description="`trainee` (logged by them) or `group`")
    status: Literal["pending", "confirmed", "rejected"]
    created_at: datetime
    reviewer: PersonRef | None
    reviewed_at: datetime | None
    review_note: str | None
    rubric_scores: dict[str, int] | None = Field(description="led sessions: criterion id -> score")
    rubric_passed: bool | None
    counts: bool = Field(description="counts toward eligibility: confirmed, and for a led session passed")


class PracticumList(BaseModel):
    items: list[PracticumEntryOut]


class CertificationRequestIn(Strict):
    message: str | None = Field(default=None, description="a note to the reviewer, at most 2000 characters")


class CertificationRequestOut(BaseModel):
    id: int
    trainee: PersonRef
    status: RequestStatusName
    requested_at: datetime
    program_version: str
    message: str | None = Field(description="the trainee's note to the reviewer")
    decided_by: PersonRef | None
    decided_at: datetime | None
    decision_reason: str | None = Field(description="the reason given when rejected, or the approver's note")
    certificate_serial: str | None = Field(description="once issued")


class CertificationRequestDetail(CertificationRequestOut):
    eligibility: EligibilityOut = Field(description="the checklist as it stood when the request was made")


class CertificationRequestPage(BaseModel):
    items: list[CertificationRequestOut]
    total: int
    page: int
    per_page: int
    pages: int


class ApproveIn(Strict):
    note: str | None = Field(default=None, description="an optional note, kept with the decision")


class RejectIn(Strict):
    reason: str = Field(description="why, for the trainee to read: 10 to 2000 characters")


class IssueIn(Strict):
    request_id: Id = Field(description="an approved certification request")


class RevokeIn(Strict):
    reason: str = Field(description="kept in the record and sent to the holder: 10 to 2000 characters")


class CertificateLinks(BaseModel):
    certificate: str = Field(description="this certificate in the API")
    pdf: str = Field(description="the PDF issued (application/pdf)")


class CertificateOut(BaseModel):
    serial: str
    status: CertificateStatusName = Field(description="today's status: the state with expiry applied")
    holder: PersonRef
    holder_name: str = Field(description="the name printed on the certificate")
    credential: str
    program_version: str
    issued_at: datetime
    issued_on: date
    valid_until: date = Field(description="the last day on which it is valid")
    revoked_on: date | None
    revocation_reason: str | None
    request_id: int
    approver_name: str
    issuer_name: str
    pdf_sha256: str = Field(description="SHA-256 of the PDF issued; every download returns exactly these bytes")
    verification_url: str = Field(description="the public verification page, as printed on the certificate")
    links: CertificateLinks


class SupersededBy(BaseModel):
    serial: str
    status: CertificateStatusName
    verification_url: str


class VerificationOut(BaseModel):
    """What anyone may learn from a verification code, and nothing more."""

    status: CertificateStatusName
    holder_name: str
    credential: str
    program_version: str
    serial: str
    issued_on: date
    valid_from: date
    valid_until: date  # the last day on which it is valid
    expiring_soon: bool  # valid, with fewer days left than the first reminder before expiry (60 by default)
    revoked_on: date | None
    superseded_by: SupersededBy | None  # the current certificate that replaced this one
    pdf_sha256: str
