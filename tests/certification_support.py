"""Test data for certification: a small program (course alpha with its quiz, one session of each practicum kind,
a code of conduct), and helpers that bring a trainee to eligible, to a request, an approval and a certificate,
through the same services the application uses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from lms.accounts.models import User
from lms.db import db, utcnow
from tests.content_tree import add_quiz, finish_alpha, load_into, make_tree, write

PROGRAM = """\
slug: pnd-facilitator
title: PND Community Session Facilitator
version: "2026.1"
description: A program.
required_courses: [alpha]
pass_rules: {min_quiz_score: 80, critical_questions_must_be_correct: true}
practicum:
  observe: 1
  co_facilitate: 1
  lead_observed: 1
  crisis_roleplay: true
  rubric:
    scale: [1, 4]
    pass_score: 3
    criteria:
      - {id: opening, title: Opening statement and confidentiality}
      - {id: safety, title: Safety}
code_of_conduct: code.md
validity_months: 24
renewal: {course: alpha, min_sessions_led: 6, window_days_before: 90, grace_days_after: 90}
"""

GOOD_SCORES = {"opening": 3, "safety": 4}
REFLECTION = "I noticed how the opening statement set a calm tone for everyone."


def make_cert_tree(app, root: Path) -> Path:
    """Courses alpha (required, with a quiz) and beta (optional), the program above, the code of conduct; loaded
    into the database."""
    make_tree(root)
    write(root / "courses" / "program.yaml", PROGRAM)
    beta = root / "courses" / "beta" / "course.yaml"
    beta.write_text(beta.read_text().replace("required: true", "required: false"))
    add_quiz(root)
    load_into(app, root)
    return root


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def log_and_confirm_practicum(app, trainee_id: int, reviewer_id: int, *, scores: dict | None = None) -> None:
    """One entry of each practicum kind of the first certification, confirmed by the reviewer (led sessions
    scored with `scores`)."""
    from lms.certification import services
    from lms.certification.models import PracticumKind

    with app.app_context():
        trainee, reviewer = _user(trainee_id), _user(reviewer_id)
        day = utcnow().date() - timedelta(days=3)
        for kind in PracticumKind:
            if kind is PracticumKind.LED:  # for certified facilitators, toward renewal
                continue
            entry = services.log_practicum(trainee, kind=kind, session_date=day, group_name="Tuesday evening group",
                                           reflection=REFLECTION)
            services.review_entry(entry, reviewer=reviewer, confirm=True,
                                  scores=(scores or GOOD_SCORES) if kind.scored else None)
        db.session.commit()


def acknowledge(app, trainee_id: int) -> None:
    from lms.certification import services

    with app.app_context():
        services.acknowledge_code(_user(trainee_id))
        db.session.commit()


def make_eligible(app, trainee_id: int, reviewer_id: int) -> None:
    """Course alpha done with its quiz passed, the practicum confirmed, the code of conduct accepted."""
    finish_alpha(app, trainee_id)
    log_and_confirm_practicum(app, trainee_id, reviewer_id)
    acknowledge(app, trainee_id)


def make_request(app, trainee_id: int, reviewer_id: int) -> int:
    """An eligible trainee's open request; returns its id."""
    from lms.certification import services

    make_eligible(app, trainee_id, reviewer_id)
    with app.app_context():
        req = services.request_certification(_user(trainee_id))
        db.session.commit()
        return req.id


def make_approved(app, trainee_id: int, reviewer_id: int) -> int:
    from lms.certification import services

    request_id = make_request(app, trainee_id, reviewer_id)
    with app.app_context():
        services.approve_request(services.get_request(request_id, _user(reviewer_id)), approver=_user(reviewer_id))
        db.session.commit()
    return request_id


def make_certificate(app, trainee_id: int, reviewer_id: int, admin_id: int) -> str:
    """A trainee certified all the way through; returns the certificate's serial."""
    from lms.certification import services
    from lms.certification.models import CertificationRequest

    request_id = make_approved(app, trainee_id, reviewer_id)
    with app.app_context():
        cert = services.issue_certificate(db.session.get(CertificationRequest, request_id), issuer=_user(admin_id))
        db.session.commit()
        return cert.serial
