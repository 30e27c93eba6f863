"""Courses, lessons and the caller's progress."""

from __future__ import annotations

from lms.api.core import ApiError, api_user, route
from lms.api.schemas import (
    CourseDetail,
    CourseList,
    CourseSummary,
    LessonCompletionOut,
    LessonDetail,
    LessonSummary,
    Progress,
)
from lms.learning import services
from lms.learning.services import CourseProgress

TAG = "Learning"


def _summary(p: CourseProgress) -> dict:
    c = p.course
    return dict(slug=c.slug, title=c.title, summary=c.summary, position=c.position, required=c.required,
                estimated_minutes=c.estimated_minutes, prerequisites=list(c.prerequisites), version=c.version,
                state=p.state.value, lessons_done=p.done_count, lessons_total=p.total, percent=p.percent,
                missing_prerequisites=[m.slug for m in p.missing_prerequisites])


def _lesson(lesson, p: CourseProgress) -> dict:
    done = p.completed.get(lesson.id)
    return dict(id=lesson.id, slug=lesson.slug, position=lesson.position, title=lesson.title, minutes=lesson.minutes,
                version=lesson.version, completed=done is not None, completed_at=done.completed_at if done else None,
                completed_version=done.lesson_version if done else None)


@route("/courses", "GET", summary="The courses, in program order, with the caller's progress", tag=TAG,
       response=CourseList)
def list_courses():
    return CourseList(items=[CourseSummary(**_summary(p)) for p in services.progress_for(api_user())]
                      ).model_dump(mode="json")


@route("/courses/<slug>", "GET", summary="One course with its lessons and the caller's completion of each",
       tag=TAG, response=CourseDetail, errors=(404,))
def get_course(slug: str):
    p = services.progress_in(api_user(), services.get_course(slug))
    return CourseDetail(**_summary(p), objectives=list(p.course.objectives), quiz=p.course.quiz_slug,
                        lessons=[LessonSummary(**_lesson(x, p)) for x in p.lessons]).model_dump(mode="json")


@route("/lessons/<int:lesson_id>", "GET", summary="One lesson, rendered", tag=TAG, response=LessonDetail,
       errors=(404, 409))
def get_lesson(lesson_id: int):
    from lms.learning.views import lesson_html

    lesson = services.get_lesson(lesson_id)
    p = services.progress_in(api_user(), lesson.course)
    if p.missing_prerequisites:
        raise ApiError(409, "This lesson's course opens after: " + ", ".join(c.slug for c in p.missing_prerequisites),
                       title="Course locked")
    return LessonDetail(**_lesson(lesson, p), course=lesson.course.slug,
                        html=lesson_html(lesson.version, lesson.body)).model_dump(mode="json")


@route("/lessons/<int:lesson_id>/complete", "POST", summary="Mark a lesson complete (idempotent)", tag=TAG,
       response=LessonCompletionOut, status=201, also=(200,), errors=(400, 404, 409),
       description="Answers 201 the first time and 200 with `new: false` after that; nothing changes then.")
def complete_lesson(lesson_id: int):
    lesson = services.get_lesson(lesson_id)
    completion, new = services.complete_lesson(api_user(), lesson)
    body = LessonCompletionOut(lesson_id=lesson.id, completed_at=completion.completed_at,
                               lesson_version=completion.lesson_version, course_version=completion.course_version,
                               new=new).model_dump(mode="json")
    return body, 201 if new else 200


@route("/me/progress", "GET", summary="The caller's progress through the program", tag=TAG, response=Progress)
def my_progress():
    user = api_user()
    progress = services.progress_for(user)
    required = [p for p in progress if p.course.required]
    return Progress(user_id=user.id, required_done=sum(1 for p in required if p.complete),
                    required_total=len(required), courses=[CourseSummary(**_summary(p)) for p in progress]
                    ).model_dump(mode="json")
