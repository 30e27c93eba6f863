"""The Moodle GIFT parser: each construct to its question dict, each unsupported or broken one to a problem
on the right line, a fixture that uses every construct, and a parser that never raises."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms.content.gift import parse_gift, slugify
from lms.content.model import Problem

PATH = Path("quizzes/q.gift")
FIXTURE = Path(__file__).parent.parent / "fixtures" / "every-construct.gift"


def parse(text: str) -> tuple[list[dict], list[Problem]]:
    data, problems = parse_gift(text, PATH)
    return data["questions"], problems


def only(text: str) -> dict:
    questions, problems = parse(text)
    assert problems == []
    assert len(questions) == 1
    return questions[0]


def sha_id(text: str) -> str:
    return "q-" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8]


CONSTRUCTS = {
    "single choice": (
        "::q::Who? {=Grant ~Jefferson ~Lincoln}",
        {"id": "q", "type": "single", "text": "Who?",
         "options": [{"id": "a", "text": "Grant", "correct": True}, {"id": "b", "text": "Jefferson"},
                     {"id": "c", "text": "Lincoln"}]},
    ),
    "single choice, right answer not first, option and general feedback": (
        "::q::Who? {~Grant#No. =no one#Yes. ####Nobody is buried there.}",
        {"id": "q", "type": "single", "text": "Who?", "feedback": "Nobody is buried there.",
         "options": [{"id": "a", "text": "Grant", "feedback": "No."},
                     {"id": "b", "text": "no one", "correct": True, "feedback": "Yes."}]},
    ),
    "single choice with partial weights": (
        "::q::First? {=call ~%50%check breathing#Half. ~wait}",
        {"id": "q", "type": "single", "text": "First?",
         "options": [{"id": "a", "text": "call", "weight": 100},
                     {"id": "b", "text": "check breathing", "weight": 50, "feedback": "Half."},
                     {"id": "c", "text": "wait", "weight": 0}]},
    ),
    "multiple answers with weights": (
        "::q::Signs? {~%50%slow breathing ~%50%blue lips ~%-100%talking#They are breathing.}",
        {"id": "q", "type": "multiple", "text": "Signs?",
         "options": [{"id": "a", "text": "slow breathing", "weight": 50},
                     {"id": "b", "text": "blue lips", "weight": 50},
                     {"id": "c", "text": "talking", "weight": -100, "feedback": "They are breathing."}]},
    ),
    "multiple answers in thirds": (
        "::q::Three? {~%33.33333%a ~%33.33333%b ~%33.33333%c ~%-100%d}",
        {"id": "q", "type": "multiple", "text": "Three?",
         "options": [{"id": "a", "text": "a", "weight": 33.33333}, {"id": "b", "text": "b", "weight": 33.33333},
                     {"id": "c", "text": "c", "weight": 33.33333}, {"id": "d", "text": "d", "weight": -100}]},
    ),
    "true": ("::q::The sky is blue. {T}", {"id": "q", "type": "true_false", "text": "The sky is blue.",
                                           "answer": True}),
    "TRUE": ("::q::The sky is blue. {TRUE}", {"id": "q", "type": "true_false", "text": "The sky is blue.",
                                              "answer": True}),
    "false": ("::q::Grass is red. {F}", {"id": "q", "type": "true_false", "text": "Grass is red.",
                                         "answer": False}),
    "FALSE": ("::q::Grass is red. {FALSE}", {"id": "q", "type": "true_false", "text": "Grass is red.",
                                             "answer": False}),
    # GIFT: the first #feedback is shown for a wrong answer, the second for a right one.
    "true with both feedbacks": (
        "::q::Naloxone is harmless. {T#You answered false: it is harmless.#Right: it is harmless.}",
        {"id": "q", "type": "true_false", "text": "Naloxone is harmless.", "answer": True,
         "feedback_true": "Right: it is harmless.", "feedback_false": "You answered false: it is harmless."},
    ),
    "false with both feedbacks": (
        "::q::Naloxone lasts forever. {FALSE#You answered true: it wears off.#Right: it wears off.}",
        {"id": "q", "type": "true_false", "text": "Naloxone lasts forever.", "answer": False,
         "feedback_true": "You answered true: it wears off.", "feedback_false": "Right: it wears off."},
    ),
    "true with only the wrong-answer feedback": (
        "::q::Yes? {TRUE#Wrong.}",
        {"id": "q", "type": "true_false", "text": "Yes?", "answer": True, "feedback_false": "Wrong."},
    ),
    "false with only the right-answer feedback, and general feedback": (
        "::q::No? {F##Right.####Because.}",
        {"id": "q", "type": "true_false", "text": "No?", "feedback": "Because.", "answer": False,
         "feedback_false": "Right."},
    ),
    "short answer": (
        "::q::Who is buried in Grant's tomb? {=no one =nobody}",
        {"id": "q", "type": "short", "text": "Who is buried in Grant's tomb?", "answers": ["no one", "nobody"]},
    ),
    "short answer with weights": (
        "::q::Two plus two? {=four =4 =%50%for}",
        {"id": "q", "type": "short", "text": "Two plus two?",
         "answers": [{"text": "four", "weight": 100}, {"text": "4", "weight": 100}, {"text": "for", "weight": 50}]},
    ),
    "short answer as Moodle exports it (weights and empty feedback)": (
        "::q::Crisis line? {\n\t=%100%988#\n\t=%100%nine eight eight#\n}",
        {"id": "q", "type": "short", "text": "Crisis line?", "answers": ["988", "nine eight eight"]},
    ),
    "matching": (
        "::q::Match. {=cat -> cat food =dog -> dog food =bird -> seeds}",
        {"id": "q", "type": "matching", "text": "Match.",
         "pairs": [{"id": "p1", "prompt": "cat", "match": "cat food"},
                   {"id": "p2", "prompt": "dog", "match": "dog food"},
                   {"id": "p3", "prompt": "bird", "match": "seeds"}]},
    ),
    "numeric with tolerance": (
        "::q::Pi? {#3.14:0.01}",
        {"id": "q", "type": "numeric", "text": "Pi?", "answers": [{"value": 3.14, "tolerance": 0.01}]},
    ),
    "numeric without tolerance": (
        "::q::Minutes? {#-30}",
        {"id": "q", "type": "numeric", "text": "Minutes?", "answers": [{"value": -30, "tolerance": 0}]},
    ),
    "numeric range": (
        "::q::From 1 to 5? {#1..5}",
        {"id": "q", "type": "numeric", "text": "From 1 to 5?", "answers": [{"min": 1, "max": 5}]},
    ),
    "numeric, several answers with weights and feedback": (
        "::q::Grant born? {#\n  =%100%1822:0#Exactly.\n  =%50%1822:2#Close.\n  ####1822.\n}",
        {"id": "q", "type": "numeric", "text": "Grant born?", "feedback": "1822.",
         "answers": [{"value": 1822, "tolerance": 0, "feedback": "Exactly."},
                     {"value": 1822, "tolerance": 2, "weight": 50, "feedback": "Close."}]},
    ),
    "numeric, empty catch-all feedback as Moodle exports it": (
        "::q::N? {#\n\t=%100%2:0#\n\t~#\n}",
        {"id": "q", "type": "numeric", "text": "N?", "answers": [{"value": 2, "tolerance": 0}]},
    ),
    "missing word": (
        "::q::Grant is {~buried =entombed ~living} in Grant's tomb.",
        {"id": "q", "type": "single", "text": "Grant is _____ in Grant's tomb.",
         "options": [{"id": "a", "text": "buried"}, {"id": "b", "text": "entombed", "correct": True},
                     {"id": "c", "text": "living"}]},
    ),
    "missing word, short answer at the start": (
        "::q::{=Two =2} plus two equals four.",
        {"id": "q", "type": "short", "text": "_____ plus two equals four.", "answers": ["Two", "2"]},
    ),
    "escapes": (
        "::a\\:b::Text \\~ \\= \\# \\{ \\} \\: \\\\ end\\nnext \\x {=\\{x\\}#\\#1 ~y\\~z}",
        {"id": "a-b", "type": "single", "text": "Text ~ = # { } : \\ end\nnext \\x",
         "options": [{"id": "a", "text": "{x}", "correct": True, "feedback": "#1"}, {"id": "b", "text": "y~z"}]},
    ),
    "multi-line question with comments inside": (
        "::q::\nFirst line\n// a comment\nsecond line?\n{\n  =yes\n  // another\n  ~no\n}",
        {"id": "q", "type": "single", "text": "First line\nsecond line?",
         "options": [{"id": "a", "text": "yes", "correct": True}, {"id": "b", "text": "no"}]},
    ),
    "[markdown] prefix": (
        "::q::[markdown]Is **this** bold? {T}",
        {"id": "q", "type": "true_false", "text": "Is **this** bold?", "answer": True},
    ),
    "[plain] prefix on text and options": (
        "::q::[plain]Pick. {=[plain]a ~[moodle]b}",
        {"id": "q", "type": "single", "text": "Pick.",
         "options": [{"id": "a", "text": "a", "correct": True}, {"id": "b", "text": "b"}]},
    ),
    "[moodle] prefix": (
        "::q::[moodle] Auto-format. {F}",
        {"id": "q", "type": "true_false", "text": "Auto-format.", "answer": False},
    ),
    "other bracketed text stays": (
        "::q::[See this](https://example.org) first? {T}",
        {"id": "q", "type": "true_false", "text": "[See this](https://example.org) first?", "answer": True},
    ),
}


@pytest.mark.parametrize(("gift", "expected"), CONSTRUCTS.values(), ids=CONSTRUCTS.keys())
def test_construct(gift, expected):
    assert only(gift) == expected


PROBLEMS = {
    "essay": ("Q1 {T}\n\nDescribe your favourite film.\n{}", 4, "essay questions ({}) are not supported"),
    "essay with general feedback": ("Describe it. {####Anything goes.}", 1, "essay questions"),
    "description": ("Q1 {T}\n\n::Intro::In this quiz\nyou may not look outside.", 3,
                    "descriptions are not supported"),
    "html question": ("Q {T}\n\n::Q2::[html]<p>Is it?</p>{T}", 3, "HTML-format questions are not supported"),
    "html option": ("Q {\n=[html]<b>a</b>\n~b}", 2, "HTML-format text is not supported"),
    "unclosed brace": ("Q1 {T}\n\nQuestion\n{=a\n~b", 4, "the answer block '{' is never closed with '}'"),
    "closing brace without opening": ("Q1 a} {=a ~b}", 1, "'}' without an opening '{'"),
    "brace inside an answer block": ("Q1 {\n=a {b}\n~c\n}", 2, "'{' before the answer block opened on line 1"),
    "two answer blocks": ("Q1 {=a ~b} and\n{=c ~d}", 2, "a second answer block"),
    "stray closing brace after the block": ("Q1 {=a ~b} x }", 1, "'}' without an opening '{'"),
    "unclosed title": ("::Title without end\nQ {T}", 1, "the question title has no closing '::'"),
    "no question text": ("::Title:: {T}", 1, "the question has no text"),
    "no right answer in a choice": ("Q\n{\n~a\n~b\n}", 2, "no right answer: mark the right option with '='"),
    "two right answers in single choice": ("Q {=a =b ~c}", 1, "exactly one right answer ('='), not 2"),
    "weighted single choice without 100": ("Q {\n=%50%a\n~b}", 1, "no option is fully right"),
    "one option only": ("Q {~%100%a}", 1, "a choice question needs at least two options"),
    "empty option": ("Q {=a ~ ~c}", 1, "option 2 has no text"),
    "text before the first answer": ("Q {\nsomething\n=a ~b}", 2, "'something' comes before the first answer"),
    "weights of multiple answers short of 100": ("Q {~%50%a ~%25%b ~c}", 1, "the positive weights add up to 75%"),
    "weight above 100": ("Q {\n=a\n~%150%b\n}", 3, "the weight 150% is outside -100..100"),
    "weight below -100": ("Q {~%100%a ~%-200%b}", 1, "the weight -200% is outside -100..100"),
    "weight that is not a number": ("Q {=a ~%half%b}", 1, "'%half%' is not a weight"),
    "negative short-answer weight": ("Q {=a =%-50%b}", 1, "the weight -50% is outside 0..100"),
    "short answer with no full answer": ("Q {=%50%a =%20%b}", 1, "no accepted answer is fully right"),
    "short answer feedback": ("Q {\n=a#Good\n=b}", 2, "feedback on a short answer's accepted answers"),
    "unrecognised block": ("Q {blue}", 1, "cannot tell what kind of question '{blue}' is"),
    "matching with one pair": ("Q {=a -> 1}", 1, "a matching question needs at least two pairs"),
    "matching pair without arrow": ("Q {\n=a -> 1\n=b 2\n}", 3, "pair 2 has no '->'"),
    "matching distractor": ("Q {=a -> 1 =b -> 2 = -> 3}", 1, "extra choices are not supported"),
    "matching without a match": ("Q {=a -> 1 =b ->}", 1, "pair 2 has nothing after '->'"),
    "matching feedback": ("Q {=a -> 1#yes =b -> 2}", 1, "feedback is not supported on matching pairs"),
    "numeric not a number": ("Q\n{#\n=abc:1\n}", 3, "'abc' is not a number"),
    "numeric bad tolerance": ("Q {#3:x}", 1, "'x' is not a number"),
    "numeric comma decimal": ("Q {#3,5}", 1, "'3,5' is not a number"),
    "numeric empty": ("Q {#}", 1, "the numeric answer block has no number"),
    "numeric empty answer": ("Q {#=%50%}", 1, "a numeric answer is missing a number"),
    "numeric empty range": ("Q {#5..1}", 1, "the range 5..1 is empty"),
    "numeric negative tolerance": ("Q {#5:-1}", 1, "the tolerance -1 is negative"),
    "numeric infinite": ("Q {#1e999}", 1, "'1e999' is not a number"),
    "numeric weight above 100": ("Q {#=%120%5 =6}", 1, "the weight 120% is outside 0..100"),
    "numeric without a full answer": ("Q {#=%50%5}", 1, "no numeric answer is fully right"),
    "numeric catch-all feedback": ("Q {#\n=5\n~#Try again}", 3, "feedback for any other number (~#...)"),
    "empty category": ("$CATEGORY:\n\nQ {T}", 1, "$CATEGORY: without a category name"),
    "category without letters": ("$CATEGORY: $course$/top/???\n\nQ {T}", 1, "has no letters or digits"),
}


@pytest.mark.parametrize(("gift", "line", "message"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_problem(gift, line, message):
    questions, problems = parse(gift)
    assert [p.line for p in problems if message in p.message] == [line], [str(p) for p in problems]
    assert all(isinstance(p, Problem) and p.path == PATH for p in problems)


def test_a_question_with_a_problem_is_left_out_and_the_others_are_kept():
    questions, problems = parse("::a::A {T}\n\n::b::B {=x ~%500%y}\n\n::c::C {F}")
    assert [q["id"] for q in questions] == ["a", "c"]
    assert [str(p) for p in problems] == ["quizzes/q.gift:3: the weight 500% is outside -100..100"]


def test_every_problem_of_a_file_is_reported_in_order():
    gift = "Essay {}\n\nDescription only\n\n::t::[html]<b>x</b> {T}\n\nQ {#abc}\n\nQ {=a -> 1}\n"
    _, problems = parse(gift)
    assert [p.line for p in problems] == [1, 3, 5, 7, 9]


def test_id_is_the_slug_of_the_title_or_a_hash_of_the_text():
    questions, problems = parse("::Ça va? Oui — très bien!::A {T}\n\nWhat is 2 + 2?\n{#4}\n\n::!!!::B {T}")
    assert problems == []
    assert [q["id"] for q in questions] == ["ca-va-oui-tres-bien", sha_id("What is 2 + 2?"), sha_id("B")]


def test_missing_word_id_hashes_the_text_with_its_blank():
    assert only("Grant is {=entombed ~alive} in his tomb.")["id"] == sha_id("Grant is _____ in his tomb.")


def test_clashing_ids_get_a_number_and_no_problem():
    gift = "::Same::A {T}\n\n::Same::B {T}\n\n::same!::C {T}\n\n::Same 2::D {T}\n\nE {T}\n\nE {F}"
    questions, problems = parse(gift)
    assert problems == []
    assert [q["id"] for q in questions] == ["same", "same-2", "same-3", "same-2-2", sha_id("E"), sha_id("E") + "-2"]


def test_long_titles_make_ids_of_at_most_60_characters():
    qid = only("::" + "word " * 30 + "::A {T}")["id"]
    assert len(qid) <= 60 and not qid.endswith("-") and qid.startswith("word-word")


def test_slugify():
    assert slugify("  Overdose: Response (Part 2) ") == "overdose-response-part-2"
    assert slugify("Über naïve") == "uber-naive"
    assert slugify("???") == ""


def test_categories_tag_the_questions_after_them():
    gift = """\
Untagged {T}

$CATEGORY: $course$/top/Default for Safety/Overdose Response
First {T}

Second {F}
$CATEGORY: tom/dick//harry

Third {T}

$CATEGORY: $course$/top

Fourth {T}
"""
    questions, problems = parse(gift)
    assert problems == []
    assert [q.get("tags") for q in questions] == [None, ["overdose-response"], ["overdose-response"],
                                                  ["dick-harry"], None]


def test_blank_lines_separate_questions_and_comment_lines_do_not():
    questions, problems = parse("// header\n\n\nOne {T}\n\n  \n// between\nTwo\n// inside\nlines {F}\n\n// end\n")
    assert problems == []
    assert [q["text"] for q in questions] == ["One", "Two\nlines"]


def test_text_after_the_block_on_a_later_line_is_a_missing_word():
    assert only("One {T}\n// a comment\nstill one")["text"] == "One _____\nstill one"


def test_windows_line_ends_and_a_byte_order_mark_keep_line_numbers():
    questions, problems = parse("\ufeff// c\r\nQ {T}\r\n\r\nR {\r\n=a\r\n~%300%b\r\n}\r\n")
    assert [q["text"] for q in questions] == ["Q"]
    assert [str(p) for p in problems] == ["quizzes/q.gift:6: the weight 300% is outside -100..100"]


def test_quiz_title_comes_from_the_file_name():
    data, _ = parse_gift("Q {T}", Path("somewhere/crisis_and-overdose.gift"))
    assert data == {"title": "Crisis and overdose", "questions": data["questions"]}
    assert set(data) == {"title", "questions"}


def test_the_fixture_uses_every_construct_and_has_no_problems():
    text = FIXTURE.read_text(encoding="utf-8")
    data, problems = parse_gift(text, FIXTURE)
    assert problems == []
    questions = data["questions"]
    assert Counter(q["type"] for q in questions) == {"single": 3, "multiple": 1, "true_false": 4, "short": 2,
                                                     "matching": 1, "numeric": 3}
    by_id = {q["id"]: q for q in questions}
    assert len(by_id) == len(questions) == 14
    # titles, a clash, and hashed ids
    assert {"naloxone-wakes", "crisis-line", "crisis-line-2", "match-the-step"} <= set(by_id)
    assert sum(1 for q in questions if q["id"].startswith("q-")) == 6
    # categories
    assert by_id["naloxone-wakes"]["tags"] == ["overdose-response"]
    assert by_id["crisis-line"]["tags"] == ["crisis-referral"]
    assert "tags" not in questions[-1]
    # feedback of every kind
    wakes = by_id["naloxone-wakes"]
    assert wakes["feedback"].startswith("Naloxone wears off") and len(wakes["options"]) == 3
    assert all(o.get("feedback") for o in wakes["options"])
    assert by_id["naloxone-harmless"]["feedback_true"] == "Yes: it only acts on opioids."
    assert by_id["naloxone-permanent"]["feedback_false"] == "Right."
    # weights, partial credit, ranges
    assert [o["weight"] for o in by_id["overdose-signs"]["options"]] == [50, 50, -100]
    assert [o["weight"] for o in by_id["first-step"]["options"]] == [100, 50, 0]
    assert by_id["first-step"]["options"][0]["text"] == "Call {{emergency_number}}: say someone is not breathing."
    assert by_id["crisis-line-2"]["answers"][1] == {"text": "list", "weight": 50}
    numeric = [q["answers"] for q in questions if q["type"] == "numeric"]
    assert numeric[1] == [{"min": 30, "max": 90}] and numeric[2][1]["weight"] == 50
    # missing word, markdown, multi-line text and escapes
    assert by_id["crisis-line"]["text"] == "The number of the crisis line is **_____**, free, 24/7."
    assert "\n" in wakes["text"]
    assert questions[-1]["text"] == "Which is written with the escapes ~ = # { } : and \\?\nPick one."
    assert questions[-1]["options"][1]["text"] == "a ~tilde~ and a = sign"


GIFT_CHARS = st.sampled_from(list("~=#{}:\\%->.[]$/ \n\tTFab19") + ["::", "->", "//", "####", "$CATEGORY:",
                                                                     "[html]", "[markdown]", "\r\n", "\n\n"])


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.lists(GIFT_CHARS, max_size=60).map("".join)))
def test_the_parser_never_raises_on_arbitrary_text(text):
    data, problems = parse_gift(text, PATH)
    assert set(data) == {"title", "questions"}
    lines = max(1, text.count("\n") + text.count("\r") + 1)
    assert all(isinstance(p, Problem) and 1 <= p.line <= lines for p in problems)
    ids = [q["id"] for q in data["questions"]]
    assert len(ids) == len(set(ids))
    assert all(q["type"] in {"single", "multiple", "true_false", "short", "numeric", "matching"} and q["text"]
               for q in data["questions"])


def escape(text: str) -> str:
    out = text.replace("\\", "\\\\")
    for char in "~=#{}:":
        out = out.replace(char, "\\" + char)
    return out


PLAIN_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="[/%"),
                     min_size=1, max_size=40).filter(lambda s: s.strip())


@settings(max_examples=200, deadline=None)
@given(PLAIN_TEXT, PLAIN_TEXT)
def test_escaped_text_comes_back_unchanged(question, option):
    q = only(f"{escape(question)} {{={escape(option)} ~other}}")
    assert q["text"] == question.strip()
    assert q["options"][0]["text"] == option.strip()
