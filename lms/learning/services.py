"""The learning path: which courses a person may take, how far they are, and marking lessons complete."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from lms import audit
from lms.accounts.models import User
from lms.db import db, utcnow
from lms.errors import Conflict, NotFound
from lms.learning.models import (
    Course,
    CourseActivity,
    CourseCompletion,
    LearningEvent,
    Lesson,
    LessonCompletion,
    Verb,
)


class CourseState(enum.StrEnum):
    LOCKED = "locked"
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"

    @property
    def label(self) -> str:
        return {"locked": "Locked", "not_started": "Not started", "in_progress": "In progress",
                "done": "Done"}[self.value]


@dataclass
class CourseProgress:
    course: Course
    lessons: list[Lesson]
    completed: dict[int, LessonCompletion]  # lesson id -> completion
    last_lesson_id: int | None
    last_seen_at: datetime | None
    completion: CourseCompletion | None = None
    quiz_passed: bool = False
    missing_prerequisites: list[Course] = field(default_factory=list)

    @property
    def done_count(self) -> int:
        return sum(1 for lesson in self.lessons if lesson.id in self.completed)

    @property
    def total(self) -> int:
        return len(self.lessons)

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / self.total) if self.total else 0

    @property
    def lessons_done(self) -> bool:
        return self.total > 0 and self.done_count == self.total

    @property
    def complete(self) -> bool:
        """Recorded once (all lessons done and the quiz passed) and kept whatever the content does later."""
        return self.completion is not None

    @property
    def state(self) -> CourseState:
        if self.missing_prerequisites:
            return CourseState.LOCKED
        if self.complete:
            return CourseState.DONE
        if self.done_count or self.last_seen_at is not None:  # a lesson opened or the quiz tried
            return CourseState.IN_PROGRESS
        return CourseState.NOT_STARTED

    @property
    def next_lesson(self) -> Lesson | None:
        """Where to continue: the first unfinished lesson after the last one opened, else the first unfinished."""
        if not self.lessons:
            return None
        unfinished = [lesson for lesson in self.lessons if lesson.id not in self.completed]
        if not unfinished:
            return None
        if self.last_lesson_id is not None:
            ids = [lesson.id for lesson in self.lessons]
            if self.last_lesson_id in ids:
                start = ids.index(self.last_lesson_id)
                for lesson in self.lessons[start:]:
                    if lesson.id not in self.completed:
                        return lesson
        return unfinished[0]


def active_courses() -> list[Course]:
    return list(db.session.scalars(select(Course).where(Course.active.is_(True)).order_by(Course.position,
                                                                                           Course.slug)))


def progress_for(user: User, courses: list[Course] | None = None) -> list[CourseProgress]:
    """Progress in every active course, in program order, with three queries whatever the number of courses."""
    courses = active_courses() if courses is None else courses
    course_ids = [c.id for c in courses]
    # the lessons' Markdown (200 kB for the whole curriculum) stays in the database until a page reads it
    lessons = list(db.session.scalars(select(Lesson).options(defer(Lesson.body))
                                      .where(Lesson.course_id.in_(course_ids), Lesson.active.is_(True))
                                      .order_by(Lesson.position)))
    completions = {c.lesson_id: c for c in db.session.scalars(
        select(LessonCompletion).where(LessonCompletion.user_id == user.id))}
    activity = {a.course_id: a for a in db.session.scalars(
        select(CourseActivity).where(CourseActivity.user_id == user.id))}
    completions_by_course = {c.course_id: c for c in db.session.scalars(
        select(CourseCompletion).where(CourseCompletion.user_id == user.id))}
    by_course: dict[int, list[Lesson]] = {cid: [] for cid in course_ids}
    for lesson in lessons:
        by_course[lesson.course_id].append(lesson)
    result = []
    for course in courses:
        course_lessons = by_course[course.id]
        act = activity.get(course.id)
        result.append(CourseProgress(
            course=course, lessons=course_lessons,
            completed={lesson.id: completions[lesson.id] for lesson in course_lessons if lesson.id in completions},
            last_lesson_id=act.last_lesson_id if act else None, last_seen_at=act.last_seen_at if act else None,
            completion=completions_by_course.get(course.id), quiz_passed=bool(act and act.quiz_passed_at)))
    by_slug = {p.course.slug: p for p in result}
    for p in result:
        p.missing_prerequisites = [by_slug[s].course for s in p.course.prerequisites
                                   if s in by_slug and not by_slug[s].complete]
    return result


def progress_in(user: User, course: Course) -> CourseProgress:
    """One course's progress (prerequisites are judged against the whole program)."""
    for p in progress_for(user):
        if p.course.id == course.id:
            return p
    raise NotFound(f"The course {course.slug} is not available.")


def get_course(slug: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug, Course.active.is_(True)))
    if course is None:
        raise NotFound(f"No course '{slug}'.")
    return course


def get_lesson(lesson_id: int) -> Lesson:
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None or not lesson.active or not lesson.course.active:
        raise NotFound(f"No lesson {lesson_id}.")
    return lesson


def _activity(user: User, course: Course, now: datetime | None = None) -> CourseActivity:
    act = db.session.scalar(select(CourseActivity).where(CourseActivity.user_id == user.id,
                                                         CourseActivity.course_id == course.id))
    if act is None:
        now = now or utcnow()
        act = CourseActivity(user_id=user.id, course_id=course.id, started_at=now, last_seen_at=now)
        db.session.add(act)
    return act


def record_visit(user: User, lesson: Lesson) -> None:
    """Remember the lesson opened last, for "continue where you left off". Not an audited decision."""
    act = _activity(user, lesson.course)
    act.last_lesson_id, act.last_seen_at = lesson.id, utcnow()
    db.session.flush()


def note_quiz_started(user: User, course: Course, *, now: datetime) -> None:
    """The quiz engine says the course's quiz was started: the course is under way."""
    act = _activity(user, course, now)
    act.last_seen_at = max(act.last_seen_at, now)  # never back in time (a start dated earlier)
    db.session.flush()


def note_quiz_passed(user: User, course: Course, *, attempt_id: int, score: float) -> CourseCompletion | None:
    """The quiz engine says the course's quiz was passed; the course completes if its lessons are done too."""
    act = _activity(user, course)
    if act.quiz_passed_at is None or (act.quiz_score or 0) < score:
        act.quiz_attempt_id, act.quiz_score, act.quiz_passed_at = attempt_id, score, utcnow()
    db.session.flush()
    return complete_course_if_due(user, course)


def complete_course_if_due(user: User, course: Course) -> CourseCompletion | None:
    """Record the course's completion once its rule holds: every lesson done, and its quiz (if any) passed."""
    progress = progress_in(user, course)
    if progress.completion is not None:
        return progress.completion
    act = _activity(user, course)
    if not progress.lessons_done or (course.quiz_slug and act.quiz_passed_at is None):
        return None
    completion = CourseCompletion(user_id=user.id, course_id=course.id, course_version=course.version,
                                  score=act.quiz_score if course.quiz_slug else None,
                                  attempt_id=act.quiz_attempt_id if course.quiz_slug else None)
    try:
        with db.session.begin_nested():
            db.session.add(completion)
    except IntegrityError:  # recorded a moment ago by a concurrent request
        return db.session.scalar(select(CourseCompletion).where(CourseCompletion.user_id == user.id,
                                                                CourseCompletion.course_id == course.id))
    db.session.add(LearningEvent(user_id=user.id, verb=Verb.COMPLETED, object_type="course",
                                 object_id=course.slug, object_title=course.title, course_id=course.id,
                                 content_version=course.version, occurred_at=completion.completed_at,
                                 result={"score": completion.score} if completion.score is not None else {}))
    audit.record(user, "course.completed", course, version=course.version, score=completion.score)
    return completion


def complete_lesson(user: User, lesson: Lesson) -> tuple[LessonCompletion, bool]:
    """Mark a lesson complete. Idempotent: a second call returns the first completion and False."""
    progress = progress_in(user, lesson.course)
    if progress.missing_prerequisites:
        names = ", ".join(c.title for c in progress.missing_prerequisites)
        raise Conflict(f"Finish the prerequisite course(s) first: {names}.")
    existing = progress.completed.get(lesson.id)
    if existing is not None:
        return existing, False
    completion = LessonCompletion(user_id=user.id, lesson_id=lesson.id, lesson_version=lesson.version,
                                  course_version=lesson.course.version)
    try:
        with db.session.begin_nested():  # a double click racing itself meets the unique constraint
            db.session.add(completion)
    except IntegrityError:
        found = db.session.scalar(select(LessonCompletion).where(LessonCompletion.user_id == user.id,
                                                                 LessonCompletion.lesson_id == lesson.id))
        assert found is not None
        return found, False
    db.session.add(LearningEvent(user_id=user.id, verb=Verb.COMPLETED, object_type="lesson",
                                 object_id=str(lesson.id), object_title=lesson.title, course_id=lesson.course_id,
                                 content_version=lesson.version, occurred_at=completion.completed_at))
    record_visit(user, lesson)
    audit.record(user, "lesson.completed", lesson, course=lesson.course.slug, version=lesson.version)
    complete_course_if_due(user, lesson.course)
    return completion, True


def get_active_lesson(course: Course, slug: str) -> Lesson | None:
    return db.session.scalar(select(Lesson).where(Lesson.course_id == course.id, Lesson.slug == slug,
                                                  Lesson.active.is_(True)))


def neighbours(lesson: Lesson, lessons: list[Lesson] | None = None) -> tuple[Lesson | None, Lesson | None]:
    """The lessons before and after, among `lessons` (the course's active lessons in order, loaded if not given)."""
    lessons = lesson.course.active_lessons if lessons is None else lessons
    i = next(i for i, x in enumerate(lessons) if x.id == lesson.id)
    return (lessons[i - 1] if i > 0 else None, lessons[i + 1] if i + 1 < len(lessons) else None)
