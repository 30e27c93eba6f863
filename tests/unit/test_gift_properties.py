"""Properties of the Moodle GIFT parser (lms/content/gift.py), over files that hypothesis writes.

tests/unit/test_gift.py pins each construct and each problem with hand-written cases, checks that random text
never makes the parser raise, and that escaped text comes back in a question and an option. Here hypothesis
writes whole GIFT files: questions of every kind, drawn as the dict the parser should give back and rendered to
GIFT by `to_gift` below (the application has no GIFT writer; this is the one the round trip needs), on one line
or several, with comments, categories, titles, feedback and missing words, and text full of the characters
GIFT escapes (~ = # { } : and the backslash). Parsing must give back exactly the questions drawn. Then the same
files broken: a question made an essay is reported on its own line and only it is left out, and files cut and
spliced at random never make the parser raise, report lines inside the file, and whatever questions come out
load as a quiz without problems (the contract with the quiz loader, lms/content/quizzes.py).

Every test is bounded and repeatable: @settings(max_examples=..., deadline=None, derandomize=True, database=None)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.content.gift import BLANK, parse_gift
from lms.content.model import Problem
from lms.content.quizzes import load_quiz
from lms.quizzes.grading import grade, normalise_text
from tests.unit.test_gift import GIFT_CHARS, PATH, escape
from tests.unit.test_grading_properties import key_answer


def bounded(examples: int) -> settings:
    # too_slow: drawing whole quizzes and files is slow by design, and a busy CI machine must not fail on timing.
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- text, with what GIFT escapes

# No control characters or line separators (a line break is GIFT's \n escape), no '%' (a weight mark that
# has no escape); plenty of the characters that have one.
TEXT = st.text(st.one_of(st.sampled_from(list("~=#{}:\\")),
                         st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="%")),
               min_size=1, max_size=16).filter(lambda s: s.strip())
NO_ARROW = TEXT.filter(lambda s: "->" not in s)  # '->' has no escape: it would split a matching pair or a short answer
TITLES = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)  # each its own slug, so it is the question's id
NUMBER = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False))
ANSWERS = NO_ARROW.filter(normalise_text)  # an accepted answer is compared with its punctuation and case ignored
# What an author may also write, and the parser must either refuse on its line or hand on in a form that loads and
# grades: an answer of punctuation only, a number too large for a float.
ANY_ANSWERS = st.one_of(NO_ARROW, st.sampled_from(["?!", '"..."', "“”", ".", "' '"]))
ANY_NUMBERS = st.one_of(NUMBER, st.sampled_from([10**400, -(10**309), 2**1024, 10**308]))


@dataclass
class Drawn:
    """One question: its answer block's parts (each an answer, or the true/false word) and what it parses to."""

    parts: list[str]
    body: dict[str, Any]
    numeric: bool = False


def _feedback(draw) -> tuple[str, str | None]:
    """'#feedback' in GIFT and what it parses to; or nothing."""
    if draw(st.booleans()):
        return "", None
    text = draw(TEXT)
    return "#" + escape(text), text.strip()


def _tidy(weight: int | float) -> int | float:
    return int(weight) if float(weight).is_integer() else weight


@st.composite
def single_choice(draw) -> Drawn:
    texts = draw(st.lists(TEXT, min_size=2, max_size=5))
    right = draw(st.integers(0, len(texts) - 1))
    weighted = draw(st.booleans())
    parts, options = [], []
    for n, text in enumerate(texts):
        mark, weight = ("=", 100) if n == right else ("~", 0)
        prefix = ""
        if weighted and n != right and draw(st.booleans()):
            weight = _tidy(draw(st.integers(-10000, 9900)) / 100)
            prefix = f"%{weight}%"
        gift_feedback, feedback = _feedback(draw)
        parts.append(f"{mark}{prefix}{escape(text)}{gift_feedback}")
        option: dict[str, Any] = {"id": "abcde"[n], "text": text.strip()}
        option |= {"weight": weight} if weighted else ({"correct": True} if n == right else {})
        options.append(option | ({"feedback": feedback} if feedback else {}))
    if weighted and not any("%" in p for p in parts):  # weighted means at least one option says its weight
        parts[right] = "=%100%" + parts[right][1:]
    return Drawn(parts, {"type": "single", "options": options})


@st.composite
def multiple_choice(draw) -> Drawn:
    positives: list[int] = []
    while sum(positives) < 100:
        positives.append(draw(st.integers(10, 100)))
    others = draw(st.lists(st.integers(-100, 0), min_size=max(0, 2 - len(positives)), max_size=3))
    weights = draw(st.permutations(positives + others))
    parts, options = [], []
    for n, weight in enumerate(weights):
        text = draw(TEXT)
        gift_feedback, feedback = _feedback(draw)
        prefix = "" if weight == 0 and draw(st.booleans()) else f"%{weight}%"
        parts.append(f"~{prefix}{escape(text)}{gift_feedback}")
        option = {"id": "abcdefghijklmnop"[n], "text": text.strip(), "weight": weight}
        options.append(option | ({"feedback": feedback} if feedback else {}))
    return Drawn(parts, {"type": "multiple", "options": options})


@st.composite
def true_false(draw) -> Drawn:
    word = draw(st.sampled_from(["T", "TRUE", "F", "FALSE", "t", "true"]))
    answer = word.upper().startswith("T")
    wrong, right = draw(st.one_of(st.none(), TEXT)), draw(st.one_of(st.none(), TEXT))
    gift = word + (f"#{escape(wrong or '')}" if wrong or right else "") + (f"#{escape(right)}" if right else "")
    wrong, right = (wrong or "").strip(), (right or "").strip()
    body: dict[str, Any] = {"type": "true_false", "answer": answer}
    feedback_true, feedback_false = (right, wrong) if answer else (wrong, right)  # the first # is for a wrong answer
    body |= {"feedback_true": feedback_true} if feedback_true else {}
    body |= {"feedback_false": feedback_false} if feedback_false else {}
    return Drawn([gift], body)


@st.composite
def short_answer(draw, answers: st.SearchStrategy[str] = ANSWERS) -> Drawn:
    texts = draw(st.lists(answers, min_size=1, max_size=4))
    weights = [100] + [draw(st.integers(0, 100)) for _ in texts[1:]]
    weights = draw(st.permutations(weights))
    parts = [f"={f'%{w}%' if w != 100 or draw(st.booleans()) else ''}{escape(t)}" for t, w in zip(texts, weights,
                                                                                                     strict=True)]
    if all(w == 100 for w in weights):
        return Drawn(parts, {"type": "short", "answers": [t.strip() for t in texts]})
    return Drawn(parts, {"type": "short", "answers": [{"text": t.strip(), "weight": w}
                                                      for t, w in zip(texts, weights, strict=True)]})


@st.composite
def numeric(draw, numbers: st.SearchStrategy[int | float] = NUMBER) -> Drawn:
    count = draw(st.integers(1, 3))
    weights = draw(st.permutations([100] + [draw(st.integers(0, 100)) for _ in range(count - 1)]))
    parts, answers = [], []
    for weight in weights:
        if draw(st.booleans()):
            low, high = sorted((draw(numbers), draw(numbers)))
            gift, answer = f"{low!r}..{high!r}", {"min": low, "max": high}
        else:
            value, tolerance = draw(numbers), draw(st.one_of(st.just(0), st.integers(0, 50), st.floats(0, 50)))
            gift = f"{value!r}" + (f":{tolerance!r}" if tolerance or draw(st.booleans()) else "")
            answer = {"value": value, "tolerance": tolerance}
        gift_feedback, feedback = _feedback(draw) if count > 1 else ("", None)
        prefix = f"%{weight}%" if weight != 100 or draw(st.booleans()) else ""
        parts.append(f"={prefix}{gift}{gift_feedback}" if count > 1 or prefix else gift)
        answers.append(answer | ({"weight": weight} if weight != 100 else {}) | ({"feedback": feedback}
                                                                                 if feedback else {}))
    return Drawn(parts, {"type": "numeric", "answers": answers}, numeric=True)


@st.composite
def matching(draw) -> Drawn:
    prompts = draw(st.lists(NO_ARROW, min_size=2, max_size=5))
    matches = draw(st.lists(TEXT, min_size=1, max_size=len(prompts)))
    chosen = [draw(st.sampled_from(matches)) for _ in prompts]
    parts = [f"={escape(p)} -> {escape(m)}" for p, m in zip(prompts, chosen, strict=True)]
    return Drawn(parts, {"type": "matching", "pairs": [{"id": f"p{n}", "prompt": p.strip(), "match": m.strip()}
                                                       for n, (p, m) in enumerate(zip(prompts, chosen,
                                                                                      strict=True), start=1)]})


KINDS = st.one_of(single_choice(), multiple_choice(), true_false(), short_answer(), numeric(), matching())
ANY_KINDS = st.one_of(true_false(), short_answer(ANY_ANSWERS), numeric(ANY_NUMBERS), single_choice(), matching())


@dataclass
class Question:
    gift: list[str]  # its lines
    expected: dict[str, Any]


@st.composite
def questions(draw, title: str, kinds: st.SearchStrategy[Drawn] = KINDS) -> Question:
    drawn = draw(kinds)
    text = draw(TEXT)
    body = dict(drawn.body)
    general = draw(st.one_of(st.none(), TEXT))
    closing = [f"####{escape(general)}"] if general else []
    tail = draw(st.one_of(st.none(), TEXT)) if not drawn.numeric else None  # a missing-word question
    head = f"::{title}::{escape(text)}"
    if draw(st.booleans()):  # on one line
        opening = "{#" if drawn.numeric else "{"
        lines = [f"{head} {opening}{' '.join(drawn.parts + closing)}}}" + (f" {escape(tail)}" if tail else "")]
        shown = f"{text} {BLANK} {tail}".strip() if tail else text.strip()
    else:  # the block over several lines, with a comment line in it
        inner = [f"\t{p}" for p in drawn.parts + closing]
        inner.insert(draw(st.integers(0, len(inner))), "\t// a comment line inside the answer block")
        lines = [head, "{#" if drawn.numeric else "{", *inner, "}"]
        shown = text.strip()
    expected = {"id": title, **body, "text": shown}
    if general:
        expected["feedback"] = general.strip()
    return Question(lines, expected)


CATEGORIES = st.from_regex(r"[A-Z][a-z]{1,6}( [A-Z][a-z]{1,6})?", fullmatch=True)


@st.composite
def gift_files(draw, kinds: st.SearchStrategy[Drawn] = KINDS) -> tuple[list[Question], list[int], str]:
    """Questions (their expected dicts carry the tags of the category they are in), the line each starts on,
    and the file."""
    titles = draw(st.lists(TITLES, min_size=1, max_size=5, unique=True))
    lines: list[str] = ["// drawn by hypothesis"]
    starts: list[int] = []
    result: list[Question] = []
    tags: list[str] = []
    for title in titles:
        lines += draw(st.sampled_from([[""], ["", ""], ["   "], ["", "// between questions", ""]]))
        category = draw(st.one_of(st.none(), st.just("top"), CATEGORIES))
        if category is not None:
            lines += ["$CATEGORY: $course$/top" + ("" if category == "top" else f"/{category}"), ""]
            tags = [] if category == "top" else [category.lower().replace(" ", "-")]
        question = draw(questions(title, kinds))
        if tags:
            question.expected["tags"] = list(tags)
        starts.append(len(lines) + 1)
        lines += question.gift
        result.append(question)
    return result, starts, "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


def parse(text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    data, problems = parse_gift(text, PATH)
    return data["questions"], problems


# ---------------------------------------------------------------- round trips


@bounded(150)
@given(gift_files())
def test_questions_written_to_gift_parse_back_to_what_was_drawn(drawn):
    qs, _, text = drawn
    parsed, problems = parse(text)
    assert [str(p) for p in problems] == []
    assert parsed == [q.expected for q in qs]


@bounded(60)
@given(gift_files(), st.sampled_from(["\r\n", "\r"]), st.booleans())
def test_windows_and_old_mac_line_ends_and_a_byte_order_mark_change_nothing(drawn, newline, bom):
    qs, _, text = drawn
    parsed, problems = parse(("\ufeff" if bom else "") + text.replace("\n", newline))
    assert problems == [] and parsed == [q.expected for q in qs]


@bounded(100)
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_every_escaped_character_survives_in_every_place_text_goes(texts):
    """The same texts as question, option, feedback, general feedback, accepted answer, prompt and match."""
    a, b, c, d, e, f = (t.strip() for t in (texts * 6)[:6])
    e = e.replace("->", "- >")  # '->' has no escape: it ends a matching prompt
    gift = (f"::q1::{escape(a)} {{={escape(b)}#{escape(c)} ~{escape(d)} ####{escape(f)}}}\n\n"
            f"::q2::{escape(b)} {{={escape(e)} -> {escape(a)} ={escape(e)}x -> {escape(b)}}}\n\n"
            f"::q3::{escape(c)} {{T#{escape(d)}#{escape(f)}}}")
    parsed, problems = parse(gift)
    assert problems == []
    q1, q2, q3 = parsed
    assert (q1["text"], q1["options"][0]["text"], q1["options"][0]["feedback"], q1["options"][1]["text"],
            q1["feedback"]) == (a, b, c, d, f)
    assert [(p["prompt"], p["match"]) for p in q2["pairs"]] == [(e, a), (e + "x", b)]
    assert (q3["text"], q3["feedback_false"], q3["feedback_true"]) == (c, d, f)


# ---------------------------------------------------------------- broken files


@bounded(100)
@given(gift_files(), st.data())
def test_a_broken_question_is_reported_on_its_line_and_only_it_is_left_out(drawn, data):
    qs, starts, text = drawn
    broken = data.draw(st.integers(0, len(qs) - 1), label="broken")
    lines = text.split("\n")
    start, size = starts[broken], len(qs[broken].gift)
    title = qs[broken].expected["id"]
    lines[start - 1:start - 1 + size] = [f"::{title}::Describe what you would do. {{}}"]  # an essay
    parsed, problems = parse("\n".join(lines))
    assert [(p.line, p.path) for p in problems] == [(start, PATH)]
    assert "essay" in problems[0].message
    assert parsed == [q.expected for n, q in enumerate(qs) if n != broken]


@st.composite
def damaged(draw, text: str) -> str:
    """The text with a few characters inserted, a few deleted, or a piece repeated."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(["insert", "delete", "duplicate"])):
            case "insert":
                text = text[:at] + draw(st.lists(GIFT_CHARS, min_size=1, max_size=3).map("".join)) + text[at:]
            case "delete":
                text = text[:at] + text[at + draw(st.integers(1, 12)):]
            case "duplicate":
                end = at + draw(st.integers(1, 30))
                text = text[:end] + text[at:end] + text[end:]
    return text


@bounded(120)
@given(gift_files(), st.data())
def test_a_damaged_file_never_raises_and_what_it_gives_loads_as_a_quiz(drawn, data):
    _, _, text = drawn
    broken = data.draw(damaged(text), label="damaged")
    parsed, problems = parse(broken)
    lines = broken.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    assert all(isinstance(p, Problem) and p.path == PATH and 1 <= p.line <= lines and p.message for p in problems)
    ids = [q["id"] for q in parsed]
    assert len(ids) == len(set(ids))
    if problems or not parsed:
        return
    # The questions of a file without problems load as a quiz (quizzes/<slug>.gift): the quiz loader's own
    # checks (lms.quizzes.grading) find nothing the parser missed.
    quiz, found = load(broken)
    assert [str(p) for p in found] == []
    assert quiz is not None and [q["id"] for q in quiz.questions] == ids


def load(text: str) -> tuple[Any, list[Problem]]:
    """The file as quizzes/drawn.gift through the quiz loader."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "drawn.gift"
        path.write_text(text, encoding="utf-8")
        found: list[Problem] = []
        return load_quiz(path, found, lambda p: Path("quizzes") / Path(p).name), found


@bounded(100)
@given(gift_files(ANY_KINDS))
def test_what_the_parser_accepts_loads_as_a_quiz_and_its_key_earns_full_marks(drawn):
    _, _, text = drawn
    parsed, problems = parse(text)
    if problems:  # refused, on a line of the file
        assert all(1 <= p.line <= text.count("\n") + 1 for p in problems)
        return
    quiz, found = load(text)
    assert [str(p) for p in found] == []  # nothing the parser let through is refused by the quiz's own checks
    assert [q["id"] for q in quiz.questions] == [q["id"] for q in parsed]
    for q in quiz.questions:  # and it grades
        assert grade([q], {q["id"]: key_answer(q)}, pass_mark=100).score == 100.0
