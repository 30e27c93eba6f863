"""The parsed content: plain dataclasses, ready for the database sync and for rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

# The longest titles and versions the application stores (its database columns); longer ones are problems.
TITLE_MAX = 200
VERSION_MAX = 40


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Lesson:
    slug: str
    position: int
    title: str
    minutes: int
    body: str  # Markdown without the front matter
    version: str  # sha256 of the file
    path: Path


@dataclass
class Course:
    slug: str
    title: str
    summary: str
    order: int
    required: bool
    prerequisites: list[str]
    estimated_minutes: int
    objectives: list[str]
    lessons: list[Lesson]
    quiz: str | None
    version: str  # sha256 over course.yaml and the lessons' versions, in order
    path: Path


@dataclass
class RubricCriterion:
    id: str
    title: str
    description: str


@dataclass
class CodeOfConduct:
    title: str
    version: str
    effective: date
    body: str
    digest: str
    path: Path


@dataclass
class Program:
    slug: str
    title: str
    version: str
    description: str
    required_courses: list[str]
    min_quiz_score: int
    critical_questions_must_be_correct: bool
    practicum: dict[str, int]
    crisis_roleplay_required: bool
    rubric: list[RubricCriterion]
    rubric_scale: tuple[int, int]
    rubric_pass_score: int
    code_of_conduct: CodeOfConduct | None
    validity_months: int
    reminder_days: list[int]
    renewal: dict[str, object]
    path: Path


@dataclass
class Content:
    courses: list[Course] = field(default_factory=list)
    program: Program | None = None
    quizzes: list[Quiz] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def quiz(self, slug: str) -> Quiz | None:
        return next((q for q in self.quizzes if q.slug == slug), None)

    @property
    def ok(self) -> bool:
        return not self.problems

    def course(self, slug: str) -> Course | None:
        return next((c for c in self.courses if c.slug == slug), None)


@dataclass
class Quiz:
    slug: str
    title: str
    pass_mark: int
    time_limit_minutes: int | None
    max_attempts: int | None
    cooldown_minutes: int
    questions_per_attempt: int  # how many an attempt draws (the whole pool unless set)
    draw: list[tuple[str, int]]  # per-tag counts, when the draw is by tag
    shuffle_questions: bool
    shuffle_options: bool
    review_show: str  # score | wrong | answers
    review_when: str  # after_submit | after_pass | after_last_attempt
    questions: list[dict]  # normalised definitions, see lms.quizzes.grading
    version: str
    path: Path

    def settings(self) -> dict:
        return {k: getattr(self, k) for k in (
            "title", "pass_mark", "time_limit_minutes", "max_attempts", "cooldown_minutes", "questions_per_attempt",
            "draw", "shuffle_questions", "shuffle_options", "review_show", "review_when")}
