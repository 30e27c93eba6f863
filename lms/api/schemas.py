"""Request and response bodies of the API. They double as the OpenAPI components."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lms.accounts.models import User

RoleName = Literal["trainee", "supervisor", "admin"]


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
    supervisor_id: int | None = None
    invite: bool = Field(default=True, description="E-mail an invitation to set a password.")


class UserUpdate(Strict):
    display_name: str | None = Field(default=None, min_length=1, max_length=120)
    certificate_name: str | None = Field(default=None, min_length=1, max_length=120)
    role: RoleName | None = None
    supervisor_id: int | None = Field(default=None, description="A supervisor's id; null to unassign.")
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
