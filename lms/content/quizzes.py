"""Load and check quiz files: quizzes/<slug>.yaml, or Moodle GIFT quizzes/<slug>.gift (settings default)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lms.content.fields import Fields, compose
from lms.content.model import TITLE_MAX, Problem, Quiz
from lms.quizzes.grading import COMMON_FIELDS, REGISTRY

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
QUESTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
QUIZ_KEYS = frozenset({"title", "pass_mark", "time_limit_minutes", "max_attempts", "cooldown_minutes",
                       "questions_per_attempt", "draw", "shuffle_questions", "shuffle_options", "review", "questions"})
REVIEW_SHOW = ("score", "wrong", "answers")
REVIEW_WHEN = ("after_submit", "after_pass", "after_last_attempt")
GIFT_DEFAULTS = {"pass_mark": 80, "shuffle_questions": True, "shuffle_options": True,
                 "review": {"show": "answers", "when": "after_submit"}}


def load_quizzes(quizzes_dir: Path, problems: list[Problem], rel) -> list[Quiz]:
    if not quizzes_dir.is_dir():
        return []
    quizzes: list[Quiz] = []
    seen: dict[str, Path] = {}
    for path in sorted(quizzes_dir.iterdir()):
        if path.suffix not in (".yaml", ".gift") or not path.is_file():
            continue
        slug = path.stem
        if not SLUG.match(slug):
            problems.append(Problem(rel(path), 1, f"quiz file name '{path.name}' is not a slug"))
            continue
        if slug in seen:
            problems.append(Problem(rel(path), 1, f"quiz '{slug}' is defined twice ({rel(seen[slug])})"))
            continue
        seen[slug] = path
        quiz = load_quiz(path, problems, rel)
        if quiz is not None:
            quizzes.append(quiz)
    return quizzes


def load_quiz(path: Path, problems: list[Problem], rel) -> Quiz | None:
    from lms.content.loader import sha256

    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".gift":
        from lms.content.gift import parse_gift

        data, gift_problems = parse_gift(text, rel(path))
        problems.extend(gift_problems)
        if gift_problems:
            return None
        data = {**GIFT_DEFAULTS, "title": data.get("title") or path.stem.replace("-", " ").capitalize(), **data}
        node = yaml.compose(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), Loader=yaml.SafeLoader)
        # line numbers of a GIFT quiz refer to the converted form; the parser has reported its own already
    else:
        node = compose(rel(path), text, problems)
        if node is None:
            return None
    f = Fields(rel(path), node, problems, what="the quiz file")
    if not f.valid:
        return None
    f.check_known(QUIZ_KEYS)
    before = len(problems)
    title = f.get("title", str, default=path.stem, max_length=TITLE_MAX)
    pass_mark = f.get("pass_mark", int, default=80, minimum=0)
    if pass_mark > 100:
        f.problem(f.value_line("pass_mark"), "'pass_mark' is a percentage: at most 100")
    time_limit = f.get("time_limit_minutes", int, required=False, minimum=1)
    max_attempts = f.get("max_attempts", int, required=False, minimum=1)
    cooldown = f.get("cooldown_minutes", int, required=False, default=0, minimum=0)
    per_attempt = f.get("questions_per_attempt", int, required=False, minimum=1)
    shuffle_q = f.get("shuffle_questions", bool, required=False, default=True)
    shuffle_o = f.get("shuffle_options", bool, required=False, default=True)
    show, when = "score", "after_submit"
    review = f.sub("review", "review", required=False)
    if review is not None and review.valid:
        review.check_known(frozenset({"show", "when"}))
        show = review.get("show", str, default="score")
        when = review.get("when", str, required=False, default="after_submit")
        if show not in REVIEW_SHOW:
            review.problem(review.value_line("show"), f"review 'show' must be one of {', '.join(REVIEW_SHOW)}")
        if when not in REVIEW_WHEN:
            review.problem(review.value_line("when"), f"review 'when' must be one of {', '.join(REVIEW_WHEN)}")

    questions = _questions(f, problems)
    draw: list[tuple[str, int]] = []
    for node in f.sequence("draw"):
        d = Fields(f.path, node, problems, what="a draw rule", line_offset=f.offset)
        if d.valid:
            d.check_known(frozenset({"tag", "count"}))
            tag, count = d.get("tag", str), d.get("count", int, minimum=1)
            if tag and count:
                available = sum(1 for q in questions if tag in q.get("tags", []))
                if available < count:
                    d.problem(d.line(), f"draw asks for {count} questions tagged '{tag}' but the pool has {available}")
                draw.append((tag, count))
    drawn_tags = {tag for tag, _ in draw}
    for q in questions:
        overlap = sorted(drawn_tags & set(q.get("tags", [])))
        if len(overlap) > 1:
            f.problem(f.line("draw"), f"question '{q['id']}' carries more than one drawn tag ({', '.join(overlap)}); "
                                      "with a draw by tag each question belongs to one group")
    if draw and per_attempt is not None:
        f.problem(f.line("draw"), "give either 'draw' or 'questions_per_attempt', not both")
    if per_attempt is not None and questions and per_attempt > len(questions):
        f.problem(f.value_line("questions_per_attempt"),
                  f"'questions_per_attempt' is {per_attempt} but the pool has only {len(questions)} questions")
    if "questions" in f.items and not questions and len(problems) == before:
        f.problem(f.line("questions"), "the quiz has no questions")
    if len(problems) > before:
        return None
    total = sum(c for _, c in draw) if draw else (per_attempt or len(questions))
    return Quiz(slug=path.stem, title=title, pass_mark=pass_mark, time_limit_minutes=time_limit,
                max_attempts=max_attempts, cooldown_minutes=cooldown or 0, questions_per_attempt=total, draw=draw,
                shuffle_questions=shuffle_q, shuffle_options=shuffle_o, review_show=show, review_when=when,
                questions=questions, version=sha256(raw), path=rel(path))


def _questions(f: Fields, problems: list[Problem]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    ids: set[str] = set()
    nodes = f.sequence("questions")
    if "questions" not in f.items and f.valid:
        f.problem(f.start, "the quiz file is missing the required key 'questions'")
    for index, node in enumerate(nodes, start=1):
        q = Fields(f.path, node, problems, what=f"question {index}", line_offset=f.offset)
        if not q.valid:
            continue
        before = len(problems)
        qid = q.get("id", str)
        qtype = q.get("type", str)
        text = q.get("text", str)
        if qid is not None and not QUESTION_ID.match(qid):
            q.problem(q.value_line("id"), f"question id '{qid}' must be lower-case letters, digits, - or _")
        elif qid in ids:
            q.problem(q.value_line("id"), f"question id '{qid}' is used twice")
        if qid:
            ids.add(qid)
        if qtype is not None and qtype not in REGISTRY:
            q.problem(q.value_line("type"), f"unknown question type '{qtype}' (known: {', '.join(REGISTRY)})")
            continue
        if qtype is None or qid is None or text is None:
            continue
        kind = REGISTRY[qtype]
        q.check_known(COMMON_FIELDS | kind.fields)
        points = q.get("points", (int, float), required=False, default=1)
        if isinstance(points, (int, float)) and not isinstance(points, bool) and points <= 0:
            q.problem(q.value_line("points"), "'points' must be above 0")
        critical = q.get("critical", bool, required=False, default=False)
        tags = q.get("tags", list, required=False, default=[], item=str)
        feedback = q.get("feedback", str, required=False)
        data = {"id": qid, "type": qtype, "text": text, "points": points, "critical": critical, "tags": tags}
        if feedback:
            data["feedback"] = feedback
        for key in kind.fields:
            if key in q.items:
                data[key] = _plain(q.node(key))

        def report(message: str, key: str | None, q: Fields = q, qid: str = qid) -> None:
            q.problem(q.value_line(key) if key and key in q.items else q.line(), f"question '{qid}': {message}")

        kind.check(data, report)
        if len(problems) == before:
            result.append(data)
    return result


def _plain(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
