"""The quiz loader: a valid quiz loads with its defaults, each kind of broken quiz file is reported as
path:line: message on the right line, and the repository's own quizzes are valid and well-formed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lms.content.loader import sha256
from lms.content.model import Problem, Quiz
from lms.content.quizzes import load_quizzes
from lms.quizzes.grading import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
REAL_QUIZZES = sorted((ROOT / "quizzes").glob("*.yaml"))
MARK = "# <-"  # marks the line a problem must be reported on

HEAD = """\
title: Test quiz
pass_mark: 80
"""
Q1 = """\
  - id: q1
    type: single
    text: Pick a.
    options:
      - {id: a, text: A, correct: true}
      - {id: b, text: B}
"""
Q2 = """\
  - id: q2
    type: true_false
    tags: [crisis]
    text: Is this true?
    answer: true
"""
QUESTIONS = "questions:\n" + Q1 + Q2
VALID = HEAD + QUESTIONS


def load(tmp_path: Path, text: str, name: str = "quiz.yaml") -> tuple[list[Quiz], list[Problem]]:
    folder = tmp_path / "quizzes"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    problems: list[Problem] = []
    quizzes = load_quizzes(folder, problems, rel=lambda p: p.relative_to(tmp_path))
    return quizzes, problems


def marked_line(text: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if MARK in line]
    assert len(lines) == 1, "a case marks exactly one line"
    return lines[0]


# ---------------------------------------------------------------- valid quizzes


def test_a_valid_quiz_loads_with_defaults(tmp_path):
    quizzes, problems = load(tmp_path, VALID)
    assert problems == []
    [quiz] = quizzes
    assert quiz.slug == "quiz"
    assert quiz.title == "Test quiz"
    assert quiz.pass_mark == 80
    assert quiz.time_limit_minutes is None
    assert quiz.max_attempts is None
    assert quiz.cooldown_minutes == 0
    assert quiz.questions_per_attempt == 2  # the whole pool
    assert quiz.draw == []
    assert quiz.shuffle_questions is True
    assert quiz.shuffle_options is True
    assert (quiz.review_show, quiz.review_when) == ("score", "after_submit")
    assert quiz.path == Path("quizzes/quiz.yaml")
    assert quiz.version == sha256((tmp_path / "quizzes/quiz.yaml").read_bytes())
    assert quiz.questions == [
        {"id": "q1", "type": "single", "text": "Pick a.", "points": 1, "critical": False, "tags": [],
         "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}]},
        {"id": "q2", "type": "true_false", "text": "Is this true?", "points": 1, "critical": False,
         "tags": ["crisis"], "answer": True},
    ]


def test_a_review_without_when_defaults_to_after_submit(tmp_path):
    quizzes, problems = load(tmp_path, HEAD + "review:\n  show: wrong\n" + QUESTIONS)
    assert problems == []
    assert (quizzes[0].review_show, quizzes[0].review_when) == ("wrong", "after_submit")


def test_every_setting_is_read(tmp_path):
    text = ("title: Every setting\npass_mark: 100\ntime_limit_minutes: 30\nmax_attempts: 3\ncooldown_minutes: 60\n"
            "questions_per_attempt: 1\nshuffle_questions: false\nshuffle_options: false\n"
            "review:\n  show: answers\n  when: after_last_attempt\n" + QUESTIONS)
    quizzes, problems = load(tmp_path, text)
    assert problems == []
    assert quizzes[0].settings() == {
        "title": "Every setting", "pass_mark": 100, "time_limit_minutes": 30, "max_attempts": 3,
        "cooldown_minutes": 60, "questions_per_attempt": 1, "draw": [], "shuffle_questions": False,
        "shuffle_options": False, "review_show": "answers", "review_when": "after_last_attempt"}


def test_a_draw_sets_the_number_of_questions_per_attempt(tmp_path):
    text = HEAD + "draw:\n  - {tag: crisis, count: 1}\n  - {tag: other, count: 1}\n" + QUESTIONS + (
        "  - id: q3\n    type: true_false\n    tags: [other]\n    text: And this?\n    answer: false\n")
    quizzes, problems = load(tmp_path, text)
    assert problems == []
    assert quizzes[0].draw == [("crisis", 1), ("other", 1)]
    assert quizzes[0].questions_per_attempt == 2
    assert len(quizzes[0].questions) == 3


ALL_TYPES = HEAD + """\
questions:
  - id: single-one
    type: single
    critical: true
    points: 2
    tags: [overdose, crisis]
    feedback: Why.
    text: |
      Which one?
    options:
      - {id: a, text: A, weight: 100, feedback: Yes.}
      - {id: b, text: B, weight: 50}
  - id: multi
    type: multiple
    text: Which ones?
    options:
      - {id: a, text: A, weight: 50}
      - {id: b, text: B, weight: 50}
      - {id: c, text: C, weight: -100}
  - id: tf
    type: true_false
    text: True?
    answer: false
    feedback_true: No.
    feedback_false: Right.
  - id: short
    type: short
    text: Name it.
    answers: [naloxone, {text: an antagonist, weight: 50}]
  - id: numeric
    type: numeric
    points: 0.5
    text: How many?
    answers:
      - {value: 30, tolerance: 5}
      - {min: 20, max: 90, weight: 50, feedback: Roughly.}
  - id: order
    type: ordering
    text: In order.
    items:
      - {id: first, text: First}
      - {id: second, text: Second}
  - id: match
    type: matching
    text: Match them.
    pairs:
      - {id: p1, prompt: Naloxone, match: Reverses an overdose}
      - {id: p2, prompt: "988", match: Crisis line}
"""


def test_a_quiz_with_every_question_type_loads(tmp_path):
    quizzes, problems = load(tmp_path, ALL_TYPES)
    assert problems == []
    questions = {q["id"]: q for q in quizzes[0].questions}
    assert [q["type"] for q in questions.values()] == list(REGISTRY)
    assert questions["single-one"] | {"options": None} == {
        "id": "single-one", "type": "single", "text": "Which one?\n", "points": 2, "critical": True,
        "tags": ["overdose", "crisis"], "feedback": "Why.", "options": None}
    assert questions["single-one"]["options"][0] == {"id": "a", "text": "A", "weight": 100, "feedback": "Yes."}
    assert questions["tf"]["feedback_false"] == "Right."
    assert questions["short"]["answers"] == ["naloxone", {"text": "an antagonist", "weight": 50}]
    assert questions["numeric"]["points"] == 0.5
    assert questions["match"]["pairs"][1]["prompt"] == "988"
    assert "feedback" not in questions["multi"]


# ---------------------------------------------------------------- each problem on its line

PROBLEMS = [
    ("unknown top-level key", HEAD + "colour: blue  # <-\n" + QUESTIONS, "unknown key 'colour' in the quiz file"),
    ("key twice", HEAD + "pass_mark: 70  # <-\n" + QUESTIONS, "key 'pass_mark' appears twice"),
    ("pass_mark above 100", "title: T\npass_mark: 101  # <-\n" + QUESTIONS,
     "'pass_mark' is a percentage: at most 100"),
    ("pass_mark negative", "title: T\npass_mark: -1  # <-\n" + QUESTIONS, "'pass_mark' must be at least 0"),
    ("pass_mark not a number", "title: T\npass_mark: eighty  # <-\n" + QUESTIONS,
     "'pass_mark' must be a whole number"),
    ("pass_mark missing", "# A quiz.\ntitle: T  # <-\n" + QUESTIONS,
     "the quiz file is missing the required key 'pass_mark'"),
    ("time limit zero", HEAD + "time_limit_minutes: 0  # <-\n" + QUESTIONS,
     "'time_limit_minutes' must be at least 1"),
    ("shuffle not a bool", HEAD + "shuffle_options: sometimes  # <-\n" + QUESTIONS,
     "'shuffle_options' must be true or false"),
    ("review show", HEAD + "review:\n  show: everything  # <-\n  when: after_submit\n" + QUESTIONS,
     "review 'show' must be one of score, wrong, answers"),
    ("review when", HEAD + "review:\n  show: answers\n  when: never  # <-\n" + QUESTIONS,
     "review 'when' must be one of after_submit, after_pass, after_last_attempt"),
    ("review unknown key", HEAD + "review:\n  show: answers\n  colour: red  # <-\n" + QUESTIONS,
     "unknown key 'colour' in review"),
    ("review not a mapping", HEAD + "review: answers  # <-\n" + QUESTIONS, "review must be a mapping"),
    ("duplicate question id",
     VALID + "  - id: q1  # <-\n    type: true_false\n    text: Again?\n    answer: false\n",
     "question id 'q1' is used twice"),
    ("bad question id", HEAD + "questions:\n" + Q1.replace("id: q1", "id: Q 1  # <-") + Q2,
     "question id 'Q 1' must be lower-case letters, digits, - or _"),
    ("unknown question type", HEAD + "questions:\n" + Q1 + Q2.replace("type: true_false", "type: essay  # <-"),
     "unknown question type 'essay' (known: single, multiple, true_false, short, numeric, ordering, matching)"),
    ("unknown key in a question", HEAD + "questions:\n" + Q1 + Q2 + "    hint: think  # <-\n",
     "unknown key 'hint' in question 2"),
    ("key of another type", HEAD + "questions:\n" + Q1 + Q2 + "    options: []  # <-\n",
     "unknown key 'options' in question 2"),
    ("question missing its text", HEAD + "questions:\n" + Q1 + Q2.replace("  - id: q2", "  - id: q2  # <-")
     .replace("    text: Is this true?\n", ""), "question 2 is missing the required key 'text'"),
    ("question not a mapping", VALID + "  - Just a question?  # <-\n", "question 3 must be a mapping"),
    ("points zero", HEAD + "questions:\n" + Q1 + "    points: 0  # <-\n" + Q2, "'points' must be above 0"),
    ("critical not a bool", HEAD + "questions:\n" + Q1 + "    critical: very  # <-\n" + Q2,
     "'critical' must be true or false"),
    ("tag not text", HEAD + "questions:\n" + Q1 + Q2.replace("tags: [crisis]", "tags: [crisis, 5]  # <-"),
     "item 2 of 'tags' must be text"),
    # a type-specific problem is reported where the key's value starts: for a block list, its first item
    ("single with two correct options",
     HEAD + "questions:\n" + Q1.replace("{id: a, text: A, correct: true}", "{id: a, text: A, correct: true}  # <-")
     .replace("{id: b, text: B}", "{id: b, text: B, correct: true}") + Q2,
     "question 'q1': a single-choice question needs exactly one option with 'correct: true' (found 2)"),
    ("numeric answer problem",
     VALID + "  - id: q3\n    type: numeric\n    text: How many?\n    answers: [{value: 5, tolerance: -1}]  # <-\n",
     "question 'q3': answer 1: tolerance cannot be negative"),
    # a type-specific problem about a missing key is reported on the question's first line
    ("true_false without answer", HEAD + "questions:\n" + Q1 + Q2.replace("  - id: q2", "  - id: q2  # <-")
     .replace("    answer: true\n", ""), "question 'q2': a true/false question needs 'answer: true'"),
    ("questions_per_attempt above the pool", HEAD + "questions_per_attempt: 5  # <-\n" + QUESTIONS,
     "'questions_per_attempt' is 5 but the pool has only 2 questions"),
    ("questions_per_attempt zero", HEAD + "questions_per_attempt: 0  # <-\n" + QUESTIONS,
     "'questions_per_attempt' must be at least 1"),
    ("draw more of a tag than exist", HEAD + "draw:\n  - {tag: crisis, count: 2}  # <-\n" + QUESTIONS,
     "draw asks for 2 questions tagged 'crisis' but the pool has 1"),
    ("draw a tag nobody has", HEAD + "draw:\n  - {tag: crisis, count: 1}\n  - {tag: nothing, count: 1}  # <-\n"
     + QUESTIONS, "draw asks for 1 questions tagged 'nothing' but the pool has 0"),
    ("draw rule unknown key", HEAD + "draw:\n  - {tag: crisis, count: 1, weight: 2}  # <-\n" + QUESTIONS,
     "unknown key 'weight' in a draw rule"),
    ("draw rule not a mapping", HEAD + "draw:\n  - crisis  # <-\n" + QUESTIONS, "a draw rule must be a mapping"),
    ("draw together with questions_per_attempt",
     HEAD + "questions_per_attempt: 1\ndraw:  # <-\n  - {tag: crisis, count: 1}\n" + QUESTIONS,
     "give either 'draw' or 'questions_per_attempt', not both"),
    ("missing questions", "# A quiz without questions.\n\ntitle: T  # <-\npass_mark: 80\n",
     "the quiz file is missing the required key 'questions'"),
    ("no questions", HEAD + "questions: []  # <-\n", "the quiz has no questions"),
    ("questions not a list", HEAD + "questions: many  # <-\n", "'questions' must be a list"),
    ("invalid YAML", HEAD + "questions:\n" + Q1.replace("text: Pick a.", "text: Pick: a or b?  # <-") + Q2,
     "not valid YAML"),
    ("not a mapping", "- title: T  # <-\n- pass_mark: 80\n", "the quiz file must be a mapping"),
]


@pytest.mark.parametrize(("text", "fragment"), [case[1:] for case in PROBLEMS], ids=[case[0] for case in PROBLEMS])
def test_each_problem_is_reported_on_its_line(tmp_path, text, fragment):
    quizzes, problems = load(tmp_path, text)
    assert len(problems) == 1, [str(p) for p in problems]
    [problem] = problems
    assert problem.path == Path("quizzes/quiz.yaml")
    assert fragment in problem.message
    assert str(problem) == f"quizzes/quiz.yaml:{marked_line(text)}: {problem.message}"


@pytest.mark.parametrize(("text", "fragment"), [case[1:] for case in PROBLEMS if case[0] != "unknown top-level key"
                                                and case[0] != "key twice"],
                         ids=[case[0] for case in PROBLEMS if case[0] not in ("unknown top-level key", "key twice")])
def test_a_quiz_with_a_problem_is_not_loaded(tmp_path, text, fragment):
    quizzes, problems = load(tmp_path, text)
    assert problems and quizzes == []


def test_the_problems_of_several_questions_are_all_reported(tmp_path):
    text = HEAD + "questions:\n" + Q1.replace("type: single", "type: essay") + Q2.replace("answer: true", "answer: 1")
    quizzes, problems = load(tmp_path, text)
    assert quizzes == []
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (5, "unknown question type 'essay' (known"), (14, "question 'q2'")]


def test_a_quiz_file_name_must_be_a_slug(tmp_path):
    quizzes, problems = load(tmp_path, VALID, name="Crisis_Quiz.yaml")
    assert quizzes == []
    assert [str(p) for p in problems] == ["quizzes/Crisis_Quiz.yaml:1: quiz file name 'Crisis_Quiz.yaml' is not a slug"]


def test_other_files_are_ignored_and_a_missing_folder_is_no_quizzes(tmp_path):
    quizzes, problems = load(tmp_path, "not: [valid", name="notes.txt")
    assert (quizzes, problems) == ([], [])
    problems = []
    assert load_quizzes(tmp_path / "nowhere", problems, rel=lambda p: p) == [] and problems == []


@pytest.mark.parametrize("text", ["", "# to be written\n", "\n  \n"], ids=["empty", "only a comment", "blank"])
def test_an_empty_quiz_file_is_reported(tmp_path, text):
    quizzes, problems = load(tmp_path, text)
    assert quizzes == []
    assert [str(p) for p in problems] == ["quizzes/quiz.yaml:1: the file is empty"]


def test_a_draw_the_pool_cannot_fill_with_distinct_questions_is_reported(tmp_path):
    text = HEAD + "draw:\n  - {tag: a, count: 2}\n  - {tag: b, count: 1}\nquestions:\n" + "".join(
        f"  - id: q{i}\n    type: true_false\n    tags: [a, b]\n    text: Q{i}?\n    answer: true\n" for i in (1, 2))
    quizzes, problems = load(tmp_path, text)
    assert problems, f"loaded with questions_per_attempt={quizzes[0].questions_per_attempt} " \
                     f"from a pool of {len(quizzes[0].questions)}"


# ---------------------------------------------------------------- the repository's quizzes


def _real() -> dict[str, Quiz]:
    problems: list[Problem] = []
    quizzes = load_quizzes(ROOT / "quizzes", problems, rel=lambda p: p.relative_to(ROOT))
    assert [str(p) for p in problems] == []
    return {q.slug: q for q in quizzes}


def test_the_repositorys_quizzes_all_load_without_problems():
    assert REAL_QUIZZES, "the repository has quiz files"
    quizzes = _real()
    assert set(quizzes) >= {p.stem for p in REAL_QUIZZES}


@pytest.mark.parametrize("path", REAL_QUIZZES, ids=[p.stem for p in REAL_QUIZZES])
def test_a_real_quiz_has_a_pool_larger_than_an_attempt(path):
    quiz = _real()[path.stem]
    assert len(quiz.questions) > quiz.questions_per_attempt >= 1


@pytest.mark.parametrize("path", REAL_QUIZZES, ids=[p.stem for p in REAL_QUIZZES])
def test_every_real_question_has_feedback_and_a_valid_definition(path):
    quiz = _real()[path.stem]
    assert [q["id"] for q in quiz.questions if not (q.get("feedback") or "").strip()] == []
    for q in quiz.questions:
        found: list[str] = []
        REGISTRY[q["type"]].check(q, lambda message, key, found=found: found.append(message))
        assert found == [], q["id"]


def test_the_crisis_quiz_has_a_critical_question():
    if not (ROOT / "quizzes/crisis-overdose-referral.yaml").exists():
        pytest.skip("quizzes/crisis-overdose-referral.yaml does not exist yet")
    quiz = _real()["crisis-overdose-referral"]
    assert any(q["critical"] for q in quiz.questions)
