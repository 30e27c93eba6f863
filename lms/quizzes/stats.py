"""Question statistics for administrators: how often each question is answered correctly, and how well it
separates stronger from weaker attempts (the discrimination index), to find weak questions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from lms.db import db
from lms.quizzes.models import Attempt, AttemptStatus, Quiz

GROUP_SHARE = 0.27  # the classic upper and lower 27% of attempts by score


@dataclass
class QuestionStat:
    id: str
    text: str
    type: str
    critical: bool
    drawn: int  # attempts that included it
    facility: float | None  # share of full marks, 0-1
    discrimination: float | None  # upper-group facility minus lower-group facility, -1 to 1

    @property
    def flag(self) -> str | None:
        if self.drawn < 5:
            return "too few attempts to judge"
        if self.discrimination is not None and self.discrimination < 0.1:
            return "does not separate stronger from weaker attempts"
        if self.facility is not None and self.facility > 0.95:
            return "almost everyone gets it right"
        if self.facility is not None and self.facility < 0.3:
            return "most people get it wrong"
        return None


def _closed(quiz: Quiz):
    return select(Attempt).where(Attempt.quiz_id == quiz.id, Attempt.status != AttemptStatus.IN_PROGRESS)


def question_stats(quiz: Quiz) -> list[QuestionStat]:
    attempts = list(db.session.scalars(_closed(quiz).order_by(Attempt.score.desc(), Attempt.id)))
    n = len(attempts)
    k = max(1, round(n * GROUP_SHARE)) if n >= 2 else 0
    upper, lower = attempts[:k], attempts[n - k:] if k else []
    # every version's questions, newest wording last so it wins
    questions: dict[str, dict[str, Any]] = {}
    for version in quiz.versions:
        for q in version.questions:
            questions[q["id"]] = q
    rows = []
    for qid, q in questions.items():
        drawn = [a for a in attempts if qid in (a.results or {})]

        def facility(group: list[Attempt], qid: str = qid) -> float | None:
            scored = [a.results[qid] for a in group if qid in (a.results or {})]
            return sum(1 for f in scored if f >= 1.0) / len(scored) if scored else None

        fu, fl = facility(upper), facility(lower)
        rows.append(QuestionStat(id=qid, text=q["text"], type=q["type"], critical=bool(q.get("critical")),
                                 drawn=len(drawn), facility=facility(drawn),
                                 discrimination=None if fu is None or fl is None else round(fu - fl, 2)))
    return sorted(rows, key=lambda r: (r.discrimination if r.discrimination is not None else 2, r.id))


def overview() -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Quiz, func.count(Attempt.id), func.avg(Attempt.score),
               func.sum(case((Attempt.passed.is_(True), 1), else_=0)))
        .outerjoin(Attempt, (Attempt.quiz_id == Quiz.id) & (Attempt.status != AttemptStatus.IN_PROGRESS))
        .where(Quiz.active.is_(True)).group_by(Quiz.id).order_by(Quiz.slug)).all()
    return [{"quiz": quiz, "attempts": count, "average": round(avg, 1) if avg is not None else None,
             "passed": int(passed or 0)} for quiz, count, avg, passed in rows]
