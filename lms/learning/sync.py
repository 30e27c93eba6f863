"""Bring the course tables in line with the content files (lms.content_sync orchestrates). Nothing is
deleted; what left the files is retired."""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy import select, update

from lms.content import Content
from lms.content import Course as CourseFile
from lms.content.loader import sha256
from lms.db import db, utcnow
from lms.errors import Conflict
from lms.learning.models import (
    CodeOfConductVersion,
    Course,
    CourseVersion,
    Lesson,
    LessonVersion,
    ProgramVersion,
)


def sync_courses(content: Content, changes: list[str]) -> None:
    """Courses, lessons, the program and the code of conduct; appends a line per change."""
    existing = {c.slug: c for c in db.session.scalars(select(Course))}
    for course_file in content.courses:
        _sync_course(course_file, existing.get(course_file.slug), changes)
    listed = {c.slug for c in content.courses}
    for slug, course in sorted(existing.items()):
        if slug not in listed and course.active:
            course.active = False
            changes.append(f"course {slug}: retired (no longer in the files; its history is kept)")
    if content.program is not None:
        _sync_program(content, changes)


def _short(version: str) -> str:
    return version[:12]


def _sync_course(src: CourseFile, course: Course | None, changes: list[str]) -> None:
    fields = dict(title=src.title, summary=src.summary, position=src.order, required=src.required,
                  estimated_minutes=src.estimated_minutes, objectives=list(src.objectives),
                  prerequisites=list(src.prerequisites), quiz_slug=src.quiz)
    if course is None:
        course = Course(slug=src.slug, version=src.version, active=True, **fields)
        db.session.add(course)
        db.session.flush()
        changes.append(f"course {src.slug}: added (version {_short(src.version)})")
    else:
        changed = [k for k, v in fields.items() if getattr(course, k) != v]
        for k in changed:
            setattr(course, k, fields[k])
        if not course.active:
            course.active = True
            changes.append(f"course {src.slug}: back in the files, active again")
        if course.version != src.version:
            changes.append(f"course {src.slug}: new version {_short(src.version)} (was {_short(course.version)})")
            course.version = src.version
        elif changed:
            changes.append(f"course {src.slug}: {', '.join(changed)} changed")
        course.updated_at = utcnow()
    if not db.session.scalar(select(CourseVersion.id).where(CourseVersion.course_id == course.id,
                                                            CourseVersion.version == src.version)):
        db.session.add(CourseVersion(course_id=course.id, version=src.version, title=src.title,
                                     lesson_versions=[lesson.version for lesson in src.lessons]))
    _sync_lessons(src, course, changes)


def _sync_lessons(src: CourseFile, course: Course, changes: list[str]) -> None:
    existing = {lesson.slug: lesson
                for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id))}
    listed = {lesson.slug for lesson in src.lessons}
    for lesson_file in src.lessons:
        lesson = existing.get(lesson_file.slug)
        fields = dict(position=lesson_file.position, title=lesson_file.title, minutes=lesson_file.minutes)
        where = f"lesson {src.slug}/{lesson_file.slug}"
        if lesson is None:
            lesson = Lesson(course_id=course.id, slug=lesson_file.slug, body=lesson_file.body,
                            version=lesson_file.version, active=True, **fields)
            db.session.add(lesson)
            db.session.flush()
            changes.append(f"{where}: added")
        else:
            moved = [k for k, v in fields.items() if getattr(lesson, k) != v]
            for k in moved:
                setattr(lesson, k, fields[k])
            if not lesson.active:
                lesson.active = True
                changes.append(f"{where}: back in the files, active again")
            if lesson.version != lesson_file.version:
                lesson.version, lesson.body = lesson_file.version, lesson_file.body
                changes.append(f"{where}: new version {_short(lesson_file.version)}")
            elif moved:
                changes.append(f"{where}: {', '.join(moved)} changed")
        if not db.session.scalar(select(LessonVersion.id).where(LessonVersion.lesson_id == lesson.id,
                                                                LessonVersion.version == lesson_file.version)):
            db.session.add(LessonVersion(lesson_id=lesson.id, version=lesson_file.version, title=lesson_file.title,
                                         body=lesson_file.body))
    for slug, lesson in sorted(existing.items()):
        if slug not in listed and lesson.active:
            lesson.active = False
            changes.append(f"lesson {src.slug}/{slug}: retired (completions of it are kept)")


def _sync_program(content: Content, changes: list[str]) -> None:
    program = content.program
    assert program is not None
    rules = asdict(program)
    rules.pop("path")
    code = rules.pop("code_of_conduct")
    if code is not None:
        rules["code_of_conduct_version"] = code["version"]
    rules = json.loads(json.dumps(rules, default=str))
    digest = sha256(json.dumps(rules, sort_keys=True).encode())
    current = db.session.scalar(select(ProgramVersion).where(ProgramVersion.slug == program.slug,
                                                             ProgramVersion.current.is_(True)))
    if current is None or current.digest != digest:
        same = db.session.scalar(select(ProgramVersion).where(ProgramVersion.slug == program.slug,
                                                              ProgramVersion.digest == digest))
        db.session.execute(update(ProgramVersion).where(ProgramVersion.slug == program.slug)
                           .values(current=False))
        if same is not None:
            same.current = True
        else:
            db.session.add(ProgramVersion(slug=program.slug, version=program.version, title=program.title,
                                          digest=digest, rules=rules, current=True))
        changes.append(f"program {program.slug}: rules version {program.version} now in force")
    if program.code_of_conduct is not None:
        _sync_code(program.code_of_conduct, changes)


def _sync_code(code, changes: list[str]) -> None:
    row = db.session.scalar(select(CodeOfConductVersion).where(CodeOfConductVersion.version == code.version))
    if row is not None and row.digest != code.digest:
        raise Conflict(f"{code.path}: the code of conduct's text changed but its version is still {code.version}; "
                       "give it a new version, since people acknowledge a version")
    if row is not None and row.current:
        return
    db.session.execute(update(CodeOfConductVersion).values(current=False))
    if row is None:
        db.session.add(CodeOfConductVersion(version=code.version, title=code.title,
                                            effective=code.effective.isoformat(), body=code.body,
                                            digest=code.digest, current=True))
    else:
        row.current = True
    changes.append(f"code of conduct: version {code.version} now in force")
