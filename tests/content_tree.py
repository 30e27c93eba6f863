"""A small content tree for tests: courses alpha and beta (beta needs alpha), a program and a code."""

from __future__ import annotations

from pathlib import Path

COURSE = """\
title: Course {slug}
summary: A course called {slug}.
order: {order}
required: true
prerequisites: {prereqs}
estimated_minutes: 20
objectives:
  - Explain something.
lessons:
{lessons}
"""

LESSON = """\
---
title: {title}
minutes: 5
---
Some text for {title}. In an emergency call {{{{emergency_number}}}}.
"""

PROGRAM = """\
slug: prog
title: Program
version: "1"
description: A program.
required_courses: [alpha, beta]
pass_rules: {min_quiz_score: 80, critical_questions_must_be_correct: true}
practicum:
  observe: 2
  co_facilitate: 4
  lead_observed: 2
  crisis_roleplay: true
  rubric:
    scale: [1, 4]
    pass_score: 3
    criteria:
      - {id: opening, title: Opening}
code_of_conduct: code.md
validity_months: 24
renewal: {course: beta, min_sessions_led: 6, window_days_before: 90, grace_days_after: 90}
"""

CODE = """\
---
title: Code
version: "1.0"
effective: 2026-12-01
---
I will be kind.
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_course(root: Path, slug: str, order: int, prereqs: str = "[]", lessons: tuple[str, ...] = ("first", "second")
                 ) -> None:
    names = [f"{i:02d}-{name}.md" for i, name in enumerate(lessons, start=1)]
    write(root / "courses" / slug / "course.yaml",
          COURSE.format(slug=slug, order=order, prereqs=prereqs, lessons="\n".join(f"  - {n}" for n in names)))
    for name, lesson in zip(names, lessons, strict=True):
        path = root / "courses" / slug / "lessons" / name
        if not path.exists():
            write(path, LESSON.format(title=f"{slug} {lesson}"))


def make_tree(root: Path) -> Path:
    write_course(root, "alpha", 1)
    write_course(root, "beta", 2, "[alpha]")
    write(root / "courses" / "program.yaml", PROGRAM)
    write(root / "courses" / "code.md", CODE)
    (root / "quizzes").mkdir(exist_ok=True)
    return root


def load_into(app, root: Path) -> None:
    """Sync the tree into the app's database, as `lms load-content` would."""
    from lms.content import load
    from lms.content_sync import sync_content
    from lms.db import db

    with app.app_context():
        sync_content(load(root / "courses", root / "quizzes"), actor=None)
        db.session.commit()


QUIZ = """\
title: Alpha quiz
pass_mark: 75
time_limit_minutes: 10
cooldown_minutes: 5
max_attempts: 3
questions_per_attempt: 4
review: {show: answers, when: after_submit}
questions:
  - id: pick-a
    type: single
    text: Pick A.
    feedback: Because A.
    options:
      - {id: a, text: A, correct: true, feedback: Yes.}
      - {id: b, text: B, feedback: No.}
  - id: safe
    type: true_false
    critical: true
    text: Call the emergency number even if they wake up.
    answer: true
  - id: both
    type: multiple
    text: Pick both right ones.
    options:
      - {id: a, text: Right one, weight: 50}
      - {id: b, text: Right two, weight: 50}
      - {id: c, text: Harmful, weight: -100}
  - id: name-it
    type: short
    text: Name the medicine.
    answers: [naloxone, narcan]
"""


def add_quiz(root: Path, course: str = "alpha", text: str = QUIZ) -> None:
    """Give a course of the tree a quiz (quizzes/<course>.yaml) and name it in course.yaml."""
    write(root / "quizzes" / f"{course}.yaml", text)
    path = root / "courses" / course / "course.yaml"
    path.write_text(path.read_text() + f"quiz: {course}\n")


CORRECT = {"pick-a": "a", "safe": True, "both": ["a", "b"], "name-it": "Naloxone"}


def make_quiz_tree(app, root: Path) -> Path:
    """The small tree with a quiz on alpha, loaded into the app's database."""
    make_tree(root)
    add_quiz(root)
    load_into(app, root)
    return root


def finish_alpha(app, user_id: int, minutes_ago: int = 60):
    """The trainee reads both lessons of alpha and passes its quiz; returns (attempt, course) as they are then."""
    from datetime import timedelta

    from sqlalchemy import select

    from lms.accounts.models import User
    from lms.db import db, utcnow
    from lms.learning import services as learning
    from lms.learning.models import Lesson
    from lms.quizzes import services as quizzes

    with app.app_context():
        trainee = db.session.get(User, user_id)
        course = learning.get_course("alpha")
        for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id)):
            learning.complete_lesson(trainee, lesson)
        at = utcnow() - timedelta(minutes=minutes_ago)
        attempt, _ = quizzes.start_attempt(trainee, quizzes.get_quiz("alpha"), now=at)
        quizzes.submit_attempt(attempt, trainee, {q: CORRECT[q] for q in attempt.question_ids},
                               now=at + timedelta(minutes=2))
        db.session.commit()
        return attempt, course


def time_out(app, attempt_id: int, minutes: int = 20) -> None:
    """Move an attempt and its saved answers into the past, so its time limit and grace are long over."""
    from datetime import timedelta

    from lms.db import db
    from lms.quizzes.models import Attempt

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        shift = timedelta(minutes=minutes)
        attempt.started_at -= shift
        attempt.deadline -= shift
        for answer in attempt.answers:
            answer.saved_at -= shift
        db.session.commit()
