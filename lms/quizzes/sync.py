"""Bring the quiz tables in line with the quiz files. Every version is kept; attempts keep theirs."""

from __future__ import annotations

from sqlalchemy import select

from lms.content import Content
from lms.db import db, utcnow
from lms.quizzes.models import Quiz, QuizVersion


def sync_quizzes(content: Content, changes: list[str]) -> None:
    existing = {q.slug: q for q in db.session.scalars(select(Quiz))}
    for src in content.quizzes:
        quiz = existing.get(src.slug)
        if quiz is None:
            quiz = Quiz(slug=src.slug, title=src.title, version=src.version, active=True)
            db.session.add(quiz)
            db.session.flush()
            changes.append(f"quiz {src.slug}: added ({len(src.questions)} questions, version {src.version[:12]})")
        else:
            if not quiz.active:
                quiz.active = True
                changes.append(f"quiz {src.slug}: back in the files, active again")
            if quiz.version != src.version:
                changes.append(f"quiz {src.slug}: new version {src.version[:12]} (was {quiz.version[:12]})")
                quiz.version, quiz.title, quiz.updated_at = src.version, src.title, utcnow()
        if not db.session.scalar(select(QuizVersion.id).where(QuizVersion.quiz_id == quiz.id,
                                                              QuizVersion.version == src.version)):
            db.session.add(QuizVersion(quiz_id=quiz.id, version=src.version, settings=src.settings(),
                                       questions=src.questions))
    listed = {q.slug for q in content.quizzes}
    for slug, quiz in sorted(existing.items()):
        if slug not in listed and quiz.active:
            quiz.active = False
            changes.append(f"quiz {slug}: retired (attempts at it are kept)")
