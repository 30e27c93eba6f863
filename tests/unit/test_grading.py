"""Question types and grade(): pure functions, tested as tables.

For every type in REGISTRY: raw answer -> normalised answer (or AnswerError), normalised answer -> score
fraction, what the trainee is shown (never the key), what review gets, per-answer feedback, and the
definition checks. Then grade(): percent with points, rounding, pass mark, critical questions."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from lms.quizzes.grading import REGISTRY, AnswerError, Matching, grade, normalise_text

# ---------------------------------------------------------------- sample definitions (each passes its check)

SINGLE = {"id": "single", "type": "single", "text": "They wake up and want to leave. What do you do?",
          "feedback": "Naloxone wears off.", "options": [
              {"id": "a", "text": "Stay on the call and keep help coming.", "correct": True, "feedback": "Right."},
              {"id": "b", "text": "Let them go.", "feedback": "It can come back."},
              {"id": "c", "text": "Ask them to call back later."},
          ]}
SINGLE_WEIGHTED = {"id": "single-w", "type": "single", "text": "Best first step?", "options": [
    {"id": "best", "text": "Call emergency services.", "weight": 100, "feedback": "Yes."},
    {"id": "half", "text": "Ask a co-host to call.", "weight": 50, "feedback": "Partly."},
    {"id": "zero", "text": "Wait and see.", "weight": 0},
    {"id": "harm", "text": "End the call.", "weight": -50, "feedback": "Never."},
]}
MULTIPLE = {"id": "multiple", "type": "multiple", "text": "Which are signs of an overdose?", "options": [
    {"id": "a", "text": "Slow breathing", "weight": 50, "feedback": "Yes, a."},
    {"id": "b", "text": "Blue lips", "weight": 50},
    {"id": "c", "text": "Talking quickly", "weight": -50, "feedback": "Not c."},
    {"id": "d", "text": "Wearing a hat", "weight": 0},
    {"id": "e", "text": "Laughing", "weight": -100},
]}
MULTIPLE_GENEROUS = {"id": "multiple-g", "type": "multiple", "text": "Any two of these.", "options": [
    {"id": "x", "text": "X", "weight": 60},
    {"id": "y", "text": "Y", "weight": 60},
    {"id": "z", "text": "Z", "weight": 0},
]}
TRUE_FALSE = {"id": "tf", "type": "true_false", "text": "Naloxone lasts longer than every opioid.",
              "answer": False, "feedback_true": "It can wear off first.", "feedback_false": "Right: it can wear off."}
TRUE_FALSE_YES = {"id": "tf-yes", "type": "true_false", "text": "Naloxone is safe to give.", "answer": True}
SHORT = {"id": "short", "type": "short", "text": "Which medicine reverses an opioid overdose?", "answers": [
    "naloxone",
    "Narcan",
    {"text": "an opioid antagonist", "weight": 50},
    {"text": "Naloxone hydrochloride", "weight": 100},
    {"text": "narcan", "weight": 25},  # a lower weight after a full one: the best match counts
    {"text": "antagonist", "weight": 30},
    {"text": "Antagonist.", "weight": 60},  # a higher weight after a lower one: still the best match
]}
NUMERIC = {"id": "numeric", "type": "numeric", "text": "How many minutes does naloxone last?", "answers": [
    {"value": 5, "tolerance": 2, "weight": 50, "feedback": "Close."},
    {"value": 5, "tolerance": 0.5, "feedback": "Right."},
    {"min": 10, "max": 20, "weight": 25},
    {"value": -3},
    {"value": 0.3, "tolerance": 0.1},  # 0.4 - 0.3 > 0.1 in floating point: the boundary must still count
]}
ORDERING = {"id": "ordering", "type": "ordering", "text": "Put the steps in order.", "items": [
    {"id": "a", "text": "Check for response"},
    {"id": "b", "text": "Call emergency services"},
    {"id": "c", "text": "Give naloxone"},
    {"id": "d", "text": "Stay with them"},
]}
MATCHING = {"id": "matching", "type": "matching", "text": "Match each to what it does.", "pairs": [
    {"id": "p1", "prompt": "Naloxone", "match": "Reverses an opioid overdose"},
    {"id": "p2", "prompt": "988", "match": "Crisis line"},
    {"id": "p3", "prompt": "Recovery position", "match": "Keeps the airway open"},
    {"id": "p4", "prompt": "Narcan", "match": "Reverses an opioid overdose"},  # same match as p1
]}

SAMPLES = {q["id"]: q for q in (SINGLE, SINGLE_WEIGHTED, MULTIPLE, MULTIPLE_GENEROUS, TRUE_FALSE, TRUE_FALSE_YES,
                                SHORT, NUMERIC, ORDERING, MATCHING)}
TYPES = ("single", "multiple", "true_false", "short", "numeric", "ordering", "matching")
FORBIDDEN = frozenset({"correct", "weight", "answer", "answers", "feedback", "match"})


def check(q: dict[str, Any]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    REGISTRY[q["type"]].check(q, lambda message, key: found.append((message, key)))
    return found


def forbidden_keys(value: Any, path: str = "") -> list[str]:
    """Every forbidden key anywhere in nested dicts and lists, with where it was found."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in FORBIDDEN:
                found.append(f"{path}/{k}")
            found += forbidden_keys(v, f"{path}/{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += forbidden_keys(v, f"{path}[{i}]")
    return found


def test_the_registry_has_exactly_the_documented_types_and_every_one_is_sampled():
    assert set(REGISTRY) == set(TYPES)
    assert {q["type"] for q in SAMPLES.values()} == set(TYPES)
    assert all(REGISTRY[name].name == name for name in REGISTRY)


@pytest.mark.parametrize("qid", list(SAMPLES))
def test_every_sample_definition_passes_its_check(qid):
    assert check(SAMPLES[qid]) == []


# ---------------------------------------------------------------- normalise_text


@pytest.mark.parametrize(("given", "expected"), [
    ("Naloxone", "naloxone"),
    ("NALOXONE", "naloxone"),
    ("Naloxóne", "naloxone"),
    ("naloxöne", "naloxone"),
    ("  naloxone  ", "naloxone"),
    ("opioid   \t antagonist", "opioid antagonist"),
    ("naloxone.", "naloxone"),
    ("naloxone?!", "naloxone"),
    ("naloxone ;:,", "naloxone"),
    ('"naloxone"', "naloxone"),
    ("'naloxone'", "naloxone"),
    ("“Naloxone”", "naloxone"),
    ("‘naloxone’", "naloxone"),
    ('"naloxone."', "naloxone"),
    ("Straße", "strasse"),
    ("co-host", "co-host"),  # inner punctuation is kept
    ("e.g. naloxone", "e.g. naloxone"),
    ("?!", ""),
])
def test_normalise_text(given, expected):
    assert normalise_text(given) == expected


def test_normalise_text_quote_then_full_stop():
    assert normalise_text('"Naloxone".') == "naloxone"


def test_normalise_text_spaces_inside_quotes():
    assert normalise_text('" naloxone "') == "naloxone"


# ---------------------------------------------------------------- normalise: raw answer -> normal form

NORMALISE = [
    # single
    (SINGLE, "a", "a"),
    (SINGLE, "c", "c"),
    (SINGLE, None, None),
    (SINGLE, "", None),
    (SINGLE, "z", AnswerError),
    (SINGLE, "A", AnswerError),
    (SINGLE, ["a"], AnswerError),
    (SINGLE, 1, AnswerError),
    (SINGLE, {"a": 1}, AnswerError),
    (SINGLE_WEIGHTED, "half", "half"),
    (SINGLE_WEIGHTED, "Stay", AnswerError),
    # multiple
    (MULTIPLE, ["a", "b"], ["a", "b"]),
    (MULTIPLE, ["c", "a"], ["a", "c"]),  # definition order
    (MULTIPLE, ["b", "a", "b"], ["a", "b"]),  # duplicates once
    (MULTIPLE, "d", ["d"]),  # one checkbox may arrive as a plain string
    (MULTIPLE, [], []),
    (MULTIPLE, None, []),
    (MULTIPLE, "", []),
    (MULTIPLE, ["a", "zz"], AnswerError),
    (MULTIPLE, "zz", AnswerError),
    (MULTIPLE, [1], AnswerError),
    (MULTIPLE, {"a": True}, AnswerError),
    (MULTIPLE, [["a"]], AnswerError),
    # true_false
    (TRUE_FALSE, True, True),
    (TRUE_FALSE, False, False),
    (TRUE_FALSE, "true", True),
    (TRUE_FALSE, "false", False),
    (TRUE_FALSE, "True", True),
    (TRUE_FALSE, "FALSE", False),
    (TRUE_FALSE, None, None),
    (TRUE_FALSE, "", None),
    (TRUE_FALSE, "yes", AnswerError),
    (TRUE_FALSE, 1, AnswerError),
    (TRUE_FALSE, 0, AnswerError),
    (TRUE_FALSE, ["true"], AnswerError),
    # short
    (SHORT, "naloxone", "naloxone"),
    (SHORT, "  Naloxóne  ", "Naloxóne"),
    (SHORT, "   ", None),
    (SHORT, "", None),
    (SHORT, None, None),
    (SHORT, "x" * 500, "x" * 500),
    (SHORT, "x" * 501, AnswerError),
    (SHORT, 42, AnswerError),
    (SHORT, ["naloxone"], AnswerError),
    # numeric
    (NUMERIC, "3.5", 3.5),
    (NUMERIC, " 3.5 ", 3.5),
    (NUMERIC, "3,5", 3.5),
    (NUMERIC, "-2", -2.0),
    (NUMERIC, "1 000", 1000.0),
    (NUMERIC, "1e3", 1000.0),
    (NUMERIC, 7, 7.0),
    (NUMERIC, 2.5, 2.5),
    (NUMERIC, None, None),
    (NUMERIC, "", None),
    (NUMERIC, "   ", None),
    (NUMERIC, "abc", AnswerError),
    (NUMERIC, "nan", AnswerError),
    (NUMERIC, "NaN", AnswerError),
    (NUMERIC, "inf", AnswerError),
    (NUMERIC, "-Infinity", AnswerError),
    (NUMERIC, "1e400", AnswerError),  # overflows to infinity
    (NUMERIC, float("nan"), AnswerError),
    (NUMERIC, float("inf"), AnswerError),
    (NUMERIC, True, AnswerError),
    (NUMERIC, False, AnswerError),
    (NUMERIC, "3,5,1", AnswerError),
    (NUMERIC, "1,000.5", 1000.5),  # thousands separators
    (NUMERIC, "0x10", AnswerError),
    (NUMERIC, [3], AnswerError),
    # ordering: a list of ids, or {id: position} as the no-script form sends it
    (ORDERING, ["a", "b", "c", "d"], ["a", "b", "c", "d"]),
    (ORDERING, ["d", "c", "b", "a"], ["d", "c", "b", "a"]),
    (ORDERING, {"a": "1", "b": "2", "c": "3", "d": "4"}, ["a", "b", "c", "d"]),
    (ORDERING, {"a": "4", "b": "3", "c": "2", "d": "1"}, ["d", "c", "b", "a"]),
    (ORDERING, {"c": "1", "a": " 2 ", "d": 3, "b": "4"}, ["c", "a", "d", "b"]),
    (ORDERING, {"a": "", "b": "", "c": "", "d": ""}, None),
    (ORDERING, {}, None),
    (ORDERING, [], None),
    (ORDERING, None, None),
    (ORDERING, "", None),
    (ORDERING, {"a": "1", "b": "2"}, AnswerError),  # partial positions
    (ORDERING, {"a": "1", "b": "2", "c": "3", "d": ""}, AnswerError),  # one left blank
    (ORDERING, {"a": "1", "b": "1", "c": "2", "d": "3"}, AnswerError),  # duplicate position
    (ORDERING, {"a": "1", "b": "2", "c": "3", "d": "5"}, AnswerError),  # out of range
    (ORDERING, {"a": "0", "b": "1", "c": "2", "d": "3"}, AnswerError),
    (ORDERING, {"a": "1", "b": "2", "c": "3", "z": "4"}, AnswerError),  # unknown id
    (ORDERING, {"a": "first", "b": "2", "c": "3", "d": "4"}, AnswerError),
    (ORDERING, {"a": "1.5", "b": "2", "c": "3", "d": "4"}, AnswerError),
    (ORDERING, ["a", "b", "c"], AnswerError),  # one missing
    (ORDERING, ["a", "b", "c", "d", "d"], AnswerError),
    (ORDERING, ["a", "a", "b", "c"], AnswerError),  # duplicate, one missing
    (ORDERING, ["a", "b", "c", "z"], AnswerError),  # wrong id
    (ORDERING, [1, 2, 3, 4], AnswerError),
    (ORDERING, "abcd", AnswerError),
    # matching: {prompt id: choice id}; blanks are dropped
    (MATCHING, {"p1": "m1", "p2": "m2", "p3": "m3", "p4": "m1"}, {"p1": "m1", "p2": "m2", "p3": "m3", "p4": "m1"}),
    (MATCHING, {"p1": "m2"}, {"p1": "m2"}),
    (MATCHING, {"p1": "m1", "p2": "", "p3": None}, {"p1": "m1"}),
    (MATCHING, {"p1": "", "p2": None}, None),
    (MATCHING, {}, None),
    (MATCHING, None, None),
    (MATCHING, "", None),
    (MATCHING, {"p9": "m1"}, AnswerError),  # unknown prompt
    (MATCHING, {"p1": "m9"}, AnswerError),  # unknown choice
    (MATCHING, {"p1": "m4"}, AnswerError),  # four prompts but only three distinct choices
    (MATCHING, {"p1": "Reverses an opioid overdose"}, AnswerError),  # the text, not the choice id
    (MATCHING, ["m1", "m2"], AnswerError),
    (MATCHING, "m1", AnswerError),
]


def _id(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@pytest.mark.parametrize(("q", "raw", "expected"), NORMALISE,
                         ids=[f"{q['id']}:{_id(raw)}" for q, raw, _ in NORMALISE])
def test_normalise(q, raw, expected):
    before = copy.deepcopy(q)
    qtype = REGISTRY[q["type"]]
    if expected is AnswerError:
        with pytest.raises(AnswerError) as info:
            qtype.normalise(q, raw)
        assert str(info.value)  # a message the trainee can act on
    else:
        result = qtype.normalise(q, raw)
        assert result == expected
        assert type(result) is type(expected)
    assert q == before  # the definition is never changed


@pytest.mark.parametrize("raw", [{"p1": ["m1"]}, {"p1": {"id": "m1"}}])
def test_matching_rejects_unhashable_choice_values(raw):
    with pytest.raises(AnswerError):
        REGISTRY["matching"].normalise(MATCHING, raw)


# ---------------------------------------------------------------- score: normal form -> fraction 0..1

SCORE = [
    # single: correct: true
    (SINGLE, "a", 1.0),
    (SINGLE, "b", 0.0),
    (SINGLE, "c", 0.0),
    (SINGLE, None, 0.0),
    # single with weights: partial credit; negative weights floored at 0
    (SINGLE_WEIGHTED, "best", 1.0),
    (SINGLE_WEIGHTED, "half", 0.5),
    (SINGLE_WEIGHTED, "zero", 0.0),
    (SINGLE_WEIGHTED, "harm", 0.0),
    (SINGLE_WEIGHTED, None, 0.0),
    # multiple: sum of weights, floored at 0, capped at 1
    (MULTIPLE, ["a", "b"], 1.0),
    (MULTIPLE, ["a"], 0.5),
    (MULTIPLE, ["b"], 0.5),
    (MULTIPLE, ["a", "b", "d"], 1.0),
    (MULTIPLE, ["a", "b", "c"], 0.5),
    (MULTIPLE, ["a", "c"], 0.0),
    (MULTIPLE, ["c"], 0.0),  # -0.5 floored
    (MULTIPLE, ["a", "b", "c", "e"], 0.0),  # -0.5 floored
    (MULTIPLE, ["a", "b", "c", "d", "e"], 0.0),
    (MULTIPLE, ["d"], 0.0),
    (MULTIPLE, [], 0.0),
    (MULTIPLE, None, 0.0),
    (MULTIPLE_GENEROUS, ["x", "y"], 1.0),  # 1.2 capped
    (MULTIPLE_GENEROUS, ["x"], 0.6),
    (MULTIPLE_GENEROUS, ["x", "z"], 0.6),
    # true_false: all or nothing
    (TRUE_FALSE, False, 1.0),
    (TRUE_FALSE, True, 0.0),
    (TRUE_FALSE, None, 0.0),
    (TRUE_FALSE_YES, True, 1.0),
    (TRUE_FALSE_YES, False, 0.0),
    (TRUE_FALSE_YES, None, 0.0),
    # short: the best-matching accepted answer, after normalisation
    (SHORT, "naloxone", 1.0),
    (SHORT, "Naloxóne", 1.0),
    (SHORT, "NALOXONE.", 1.0),
    (SHORT, '"naloxone"', 1.0),
    (SHORT, "“Naloxone”", 1.0),
    (SHORT, "Naloxone   hydrochloride!", 1.0),
    (SHORT, "narcan", 1.0),  # also listed at 25: the best counts
    (SHORT, "An opioid antagonist", 0.5),
    (SHORT, "antagonist", 0.6),  # listed at 30 then at 60
    (SHORT, "naloxone hydrochloride solution", 0.0),
    (SHORT, "nalox", 0.0),
    (SHORT, "", 0.0),
    (SHORT, None, 0.0),
    # numeric: value ± tolerance and min..max, boundaries inclusive, best weight
    (NUMERIC, 5.0, 1.0),
    (NUMERIC, 5.5, 1.0),
    (NUMERIC, 4.5, 1.0),
    (NUMERIC, 5.51, 0.5),
    (NUMERIC, 7.0, 0.5),
    (NUMERIC, 3.0, 0.5),
    (NUMERIC, 7.01, 0.0),
    (NUMERIC, 2.99, 0.0),
    (NUMERIC, 10.0, 0.25),
    (NUMERIC, 15.0, 0.25),
    (NUMERIC, 20.0, 0.25),
    (NUMERIC, 20.01, 0.0),
    (NUMERIC, 9.99, 0.0),
    (NUMERIC, -3.0, 1.0),
    (NUMERIC, -3.001, 0.0),
    (NUMERIC, 0.4, 1.0),  # 0.4 - 0.3 is 0.10000000000000003
    (NUMERIC, 0.2, 1.0),
    (NUMERIC, 0.41, 0.0),
    (NUMERIC, None, 0.0),
    # ordering: share of items in their correct position
    (ORDERING, ["a", "b", "c", "d"], 1.0),
    (ORDERING, ["b", "a", "c", "d"], 0.5),
    (ORDERING, ["a", "b", "d", "c"], 0.5),
    (ORDERING, ["a", "d", "c", "b"], 0.5),
    (ORDERING, ["a", "c", "d", "b"], 0.25),
    (ORDERING, ["b", "c", "d", "a"], 0.0),  # everything one place off
    (ORDERING, ["d", "c", "b", "a"], 0.0),
    (ORDERING, None, 0.0),
    # matching: share of prompts matched correctly
    (MATCHING, {"p1": "m1", "p2": "m2", "p3": "m3", "p4": "m1"}, 1.0),
    (MATCHING, {"p1": "m1", "p2": "m2", "p3": "m3", "p4": "m2"}, 0.75),
    (MATCHING, {"p1": "m1", "p4": "m1"}, 0.5),
    (MATCHING, {"p1": "m1"}, 0.25),
    (MATCHING, {"p1": "m2", "p2": "m1", "p3": "m1", "p4": "m3"}, 0.0),
    (MATCHING, None, 0.0),
]


@pytest.mark.parametrize(("q", "answer", "expected"), SCORE,
                         ids=[f"{q['id']}:{_id(answer)}" for q, answer, _ in SCORE])
def test_score(q, answer, expected):
    result = REGISTRY[q["type"]].score(q, answer)
    assert result == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= result <= 1.0


@pytest.mark.parametrize(("q", "raw", "expected"), [
    (SHORT, "  Naloxóne. ", 1.0),
    (NUMERIC, "5,5", 1.0),
    (NUMERIC, "0,4", 1.0),
    (ORDERING, {"a": "2", "b": "1", "c": "3", "d": "4"}, 0.5),
    (MATCHING, {"p1": "m1", "p2": "", "p3": "m3", "p4": ""}, 0.5),
    (TRUE_FALSE, "false", 1.0),
    (MULTIPLE, "a", 0.5),
])
def test_normalise_then_score(q, raw, expected):
    qtype = REGISTRY[q["type"]]
    assert qtype.score(q, qtype.normalise(q, raw)) == pytest.approx(expected)


def test_matching_choices_deduplicate_identical_match_texts():
    assert Matching.choices(MATCHING) == {"m1": "Reverses an opioid overdose", "m2": "Crisis line",
                                          "m3": "Keeps the airway open"}
    pairs = [{"id": pid, "prompt": pid.upper(), "match": m}
             for pid, m in (("x", "1"), ("y", "2"), ("z", "1"), ("w", "3"))]
    distinct = {**MATCHING, "pairs": pairs}
    assert Matching.choices(distinct) == {"m1": "1", "m2": "2", "m3": "3"}
    assert REGISTRY["matching"].key(distinct) == {"matches": {"x": "m1", "y": "m2", "z": "m1", "w": "m3"}}


# ---------------------------------------------------------------- present: never the key, in the given order


def test_the_forbidden_key_finder_finds_nested_keys():
    assert forbidden_keys({"options": [{"id": "a", "text": "A"}, {"id": "b", "x": {"correct": True}}]}) == [
        "/options[1]/x/correct"]
    assert forbidden_keys({"items": [{"id": "a", "text": "A"}]}) == []


@pytest.mark.parametrize("qid", list(SAMPLES))
@pytest.mark.parametrize("reverse", [False, True], ids=["default-order", "given-order"])
def test_present_never_contains_the_key(qid, reverse):
    q = SAMPLES[qid]
    qtype = REGISTRY[q["type"]]
    order = qtype.shuffled(q)
    shown = qtype.present(q, list(reversed(order)) if reverse and order else None)
    assert forbidden_keys(shown) == []
    assert "feedback" not in repr(shown)
    # no feedback text and no key value leaks either
    texts = [o.get("feedback") for o in q.get("options", []) if o.get("feedback")]
    texts += [q[k] for k in ("feedback", "feedback_true", "feedback_false") if q.get(k)]
    assert not any(t in repr(shown) for t in texts)


@pytest.mark.parametrize(("q", "order", "expected"), [
    (SINGLE, None, {"options": [{"id": "a", "text": "Stay on the call and keep help coming."},
                                {"id": "b", "text": "Let them go."},
                                {"id": "c", "text": "Ask them to call back later."}]}),
    (SINGLE, ["c", "a", "b"], {"options": [{"id": "c", "text": "Ask them to call back later."},
                                           {"id": "a", "text": "Stay on the call and keep help coming."},
                                           {"id": "b", "text": "Let them go."}]}),
    (MULTIPLE, ["e", "d", "c", "b", "a"], {"options": [
        {"id": "e", "text": "Laughing"}, {"id": "d", "text": "Wearing a hat"}, {"id": "c", "text": "Talking quickly"},
        {"id": "b", "text": "Blue lips"}, {"id": "a", "text": "Slow breathing"}]}),
    (TRUE_FALSE, None, {"options": [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}]}),
    (SHORT, None, {}),
    (NUMERIC, None, {}),
    (ORDERING, ["c", "a", "d", "b"], {"items": [{"id": "c", "text": "Give naloxone"},
                                                {"id": "a", "text": "Check for response"},
                                                {"id": "d", "text": "Stay with them"},
                                                {"id": "b", "text": "Call emergency services"}]}),
    (ORDERING, None, {"items": [{"id": "a", "text": "Check for response"},
                                {"id": "b", "text": "Call emergency services"},
                                {"id": "c", "text": "Give naloxone"},
                                {"id": "d", "text": "Stay with them"}]}),
    (MATCHING, ["m3", "m1", "m2"], {
        "prompts": [{"id": "p1", "text": "Naloxone"}, {"id": "p2", "text": "988"},
                    {"id": "p3", "text": "Recovery position"}, {"id": "p4", "text": "Narcan"}],
        "choices": [{"id": "m3", "text": "Keeps the airway open"},
                    {"id": "m1", "text": "Reverses an opioid overdose"},
                    {"id": "m2", "text": "Crisis line"}]}),
], ids=["single", "single-order", "multiple-order", "true_false", "short", "numeric", "ordering-order", "ordering",
        "matching-order"])
def test_present(q, order, expected):
    assert REGISTRY[q["type"]].present(q, order) == expected


@pytest.mark.parametrize(("q", "expected"), [
    (SINGLE, ["a", "b", "c"]),
    (MULTIPLE, ["a", "b", "c", "d", "e"]),
    (TRUE_FALSE, None),
    (SHORT, None),
    (NUMERIC, None),
    (ORDERING, ["a", "b", "c", "d"]),
    (MATCHING, ["m1", "m2", "m3"]),
], ids=lambda v: v["type"] if isinstance(v, dict) else None)
def test_shuffled_ids(q, expected):
    assert REGISTRY[q["type"]].shuffled(q) == expected


# ---------------------------------------------------------------- key and feedback: what review needs


@pytest.mark.parametrize(("q", "expected"), [
    (SINGLE, {"correct": ["a"], "options": [{"id": "a", "weight": 100, "feedback": "Right."},
                                            {"id": "b", "weight": 0, "feedback": "It can come back."},
                                            {"id": "c", "weight": 0, "feedback": None}]}),
    (SINGLE_WEIGHTED, {"correct": ["best"], "options": [{"id": "best", "weight": 100, "feedback": "Yes."},
                                                        {"id": "half", "weight": 50, "feedback": "Partly."},
                                                        {"id": "zero", "weight": 0, "feedback": None},
                                                        {"id": "harm", "weight": -50, "feedback": "Never."}]}),
    (MULTIPLE, {"correct": ["a", "b"], "options": [{"id": "a", "weight": 50, "feedback": "Yes, a."},
                                                   {"id": "b", "weight": 50, "feedback": None},
                                                   {"id": "c", "weight": -50, "feedback": "Not c."},
                                                   {"id": "d", "weight": 0, "feedback": None},
                                                   {"id": "e", "weight": -100, "feedback": None}]}),
    (TRUE_FALSE, {"correct": False, "feedback_true": "It can wear off first.",
                  "feedback_false": "Right: it can wear off."}),
    (TRUE_FALSE_YES, {"correct": True, "feedback_true": None, "feedback_false": None}),
    (SHORT, {"accepted": ["naloxone", "Narcan", "Naloxone hydrochloride"]}),
    (NUMERIC, {"accepted": [{"value": 5, "tolerance": 0.5, "feedback": "Right."}, {"value": -3},
                            {"value": 0.3, "tolerance": 0.1}]}),
    (ORDERING, {"order": ["a", "b", "c", "d"]}),
    (MATCHING, {"matches": {"p1": "m1", "p2": "m2", "p3": "m3", "p4": "m1"}}),
], ids=lambda v: v["id"] if isinstance(v, dict) and "id" in v else None)
def test_key(q, expected):
    assert REGISTRY[q["type"]].key(q) == expected


@pytest.mark.parametrize(("q", "answer", "expected"), [
    (SINGLE, "a", ["Right."]),
    (SINGLE, "b", ["It can come back."]),
    (SINGLE, "c", []),
    (SINGLE, None, []),
    (SINGLE_WEIGHTED, "half", ["Partly."]),
    (MULTIPLE, ["a", "c"], ["Yes, a.", "Not c."]),
    (MULTIPLE, ["b", "d"], []),
    (MULTIPLE, [], []),
    (MULTIPLE, None, []),
    (TRUE_FALSE, True, ["It can wear off first."]),
    (TRUE_FALSE, False, ["Right: it can wear off."]),
    (TRUE_FALSE, None, []),
    (TRUE_FALSE_YES, True, []),
    (NUMERIC, 6.0, ["Close."]),
    (NUMERIC, 15.0, []),
    (NUMERIC, 100.0, []),
    (NUMERIC, None, []),
    (SHORT, "naloxone", []),
    (ORDERING, ["a", "b", "c", "d"], []),
    (MATCHING, {"p1": "m1"}, []),
], ids=lambda v: v["id"] if isinstance(v, dict) and "id" in v else None)
def test_feedback_for(q, answer, expected):
    assert REGISTRY[q["type"]].feedback_for(q, answer) == expected


def test_numeric_feedback_comes_from_the_answer_that_scored():
    assert REGISTRY["numeric"].score(NUMERIC, 5.0) == 1.0
    assert REGISTRY["numeric"].feedback_for(NUMERIC, 5.0) == ["Right."]


# ---------------------------------------------------------------- check: malformed definitions


def opts(*options: dict[str, Any]) -> list[dict[str, Any]]:
    return list(options)


BAD = [
    # single
    ("single", {}, "needs 'options': a list of at least 2", "options"),
    ("single", {"options": "a, b"}, "needs 'options': a list of at least 2", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": True})}, "at least 2", "options"),
    ("single", {"options": ["A", {"id": "b", "text": "B", "correct": True}]}, "option 1 needs 'text'", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "  "})},
     "option 2 needs 'text'", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B", "colour": 1})},
     "option 2 has unknown key(s): colour", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": True}, {"text": "B"})},
     "option 2 needs an 'id'", "options"),
    ("single", {"options": opts({"id": "a b", "text": "A", "correct": True}, {"id": "b", "text": "B"})},
     "option 1 needs an 'id'", "options"),
    ("single", {"options": opts({"id": 1, "text": "A", "correct": True}, {"id": "b", "text": "B"})},
     "option 1 needs an 'id'", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": True}, {"id": "a", "text": "B"})},
     "option id 'a' is used twice", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "weight": 100}, {"id": "b", "text": "B", "weight": 150})},
     "option 2: 'weight' must be a number from -100 to 100", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "weight": 100}, {"id": "b", "text": "B", "weight": -101})},
     "option 2: 'weight' must be a number from -100 to 100", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "weight": 100}, {"id": "b", "text": "B", "weight": True})},
     "option 2: 'weight' must be a number", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "weight": 100}, {"id": "b", "text": "B", "weight": "50"})},
     "option 2: 'weight' must be a number", "options"),
    ("single", {"options": opts({"id": "a", "text": "A"}, {"id": "b", "text": "B"})},
     "exactly one option with 'correct: true' (found 0)", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B", "correct": True})},
     "exactly one option with 'correct: true' (found 2)", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": "yes"}, {"id": "b", "text": "B"})},
     "(found 0)", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B", "weight": 50})},
     "either 'correct: true' or weights", "options"),
    ("single", {"options": opts({"id": "a", "text": "A", "weight": 90}, {"id": "b", "text": "B", "weight": 50})},
     "one option must have weight 100", "options"),
    # multiple
    ("multiple", {"options": opts({"id": "a", "text": "A", "weight": 100})}, "at least 2", "options"),
    ("multiple", {"options": opts({"id": "a", "text": "A", "correct": True, "weight": 100},
                                  {"id": "b", "text": "B", "weight": 0})}, "not 'correct'", "options"),
    ("multiple", {"options": opts({"id": "a", "text": "A", "weight": 100}, {"id": "b", "text": "B"})},
     "every option of a multiple-answer question needs a 'weight'", "options"),
    ("multiple", {"options": opts({"id": "a", "text": "A", "weight": 50}, {"id": "b", "text": "B", "weight": 40},
                                  {"id": "c", "text": "C", "weight": -100})},
     "the positive weights must add up to at least 100", "options"),
    ("multiple", {"options": opts({"id": "a", "text": "A", "weight": 100}, {"id": "b", "text": "B", "weight": -150})},
     "option 2: 'weight' must be a number from -100 to 100", "options"),
    # true_false
    ("true_false", {}, "needs 'answer: true' or 'answer: false'", "answer"),
    ("true_false", {"answer": "true"}, "needs 'answer: true' or 'answer: false'", "answer"),
    ("true_false", {"answer": 1}, "needs 'answer: true' or 'answer: false'", "answer"),
    ("true_false", {"answer": None}, "needs 'answer: true' or 'answer: false'", "answer"),
    # short
    ("short", {}, "needs 'answers': a list of accepted texts", "answers"),
    ("short", {"answers": []}, "needs 'answers': a list of accepted texts", "answers"),
    ("short", {"answers": "naloxone"}, "needs 'answers': a list of accepted texts", "answers"),
    ("short", {"answers": ["naloxone", "  "]}, "accepted answer 2 needs text", "answers"),
    ("short", {"answers": ["naloxone", "?!"]}, "accepted answer 2 needs text", "answers"),
    ("short", {"answers": ["naloxone", 42]}, "accepted answer 2 needs text", "answers"),
    ("short", {"answers": ["naloxone", {"weight": 50}]}, "accepted answer 2 needs text", "answers"),
    ("short", {"answers": ["naloxone", {"text": "x", "weight": 150}]}, "accepted answer 2: 'weight' must be 0 to 100",
     "answers"),
    ("short", {"answers": ["naloxone", {"text": "x", "weight": -10}]}, "accepted answer 2: 'weight' must be 0 to 100",
     "answers"),
    ("short", {"answers": ["naloxone", {"text": "x", "weight": True}]}, "accepted answer 2: 'weight' must be",
     "answers"),
    ("short", {"answers": [{"text": "x", "weight": 50}, {"text": "y", "weight": 90}]},
     "at least one accepted answer must be worth 100", "answers"),
    # numeric
    ("numeric", {}, "needs 'answers': a list of {value, tolerance} or {min, max}", "answers"),
    ("numeric", {"answers": []}, "needs 'answers'", "answers"),
    ("numeric", {"answers": [5]}, "answer 1 must be a mapping", "answers"),
    ("numeric", {"answers": [{"value": 5}, {"value": "5"}]}, "answer 2: value, tolerance, min and max must be numbers",
     "answers"),
    ("numeric", {"answers": [{"value": 5, "tolerance": True}]}, "must be numbers", "answers"),
    ("numeric", {"answers": [{"min": None, "max": 3}]}, "must be numbers", "answers"),
    ("numeric", {"answers": [{"value": 5, "min": 1, "max": 9}]}, "give either value (with tolerance) or min and max",
     "answers"),
    ("numeric", {"answers": [{"min": 1}]}, "needs 'value' or both 'min' and 'max'", "answers"),
    ("numeric", {"answers": [{"tolerance": 1}]}, "needs 'value' or both 'min' and 'max'", "answers"),
    ("numeric", {"answers": [{"min": 5, "max": 1}]}, "answer 1: min is above max", "answers"),
    ("numeric", {"answers": [{"value": 5, "tolerance": -1}]}, "answer 1: tolerance cannot be negative", "answers"),
    ("numeric", {"answers": [{"value": 5, "unit": "mg"}]}, "answer 1 has unknown key(s): unit", "answers"),
    # ordering
    ("ordering", {}, "needs 'items': at least 2", "items"),
    ("ordering", {"items": [{"id": "a", "text": "A"}]}, "needs 'items': at least 2", "items"),
    ("ordering", {"items": "a, b"}, "needs 'items': at least 2", "items"),
    ("ordering", {"items": [{"id": "a", "text": "A"}, {"text": "B"}]}, "every item needs a unique 'id' and a 'text'",
     "items"),
    ("ordering", {"items": [{"id": "a", "text": "A"}, {"id": "a", "text": "B"}]}, "unique 'id'", "items"),
    ("ordering", {"items": [{"id": "a", "text": "A"}, {"id": "", "text": "B"}]}, "unique 'id'", "items"),
    ("ordering", {"items": [{"id": "a", "text": "A"}, {"id": "b"}]}, "and a 'text'", "items"),
    ("ordering", {"items": [{"id": "a", "text": "A"}, "B"]}, "and a 'text'", "items"),
    # matching
    ("matching", {}, "needs 'pairs': at least 2", "pairs"),
    ("matching", {"pairs": [{"id": "p1", "prompt": "P", "match": "M"}]}, "needs 'pairs': at least 2", "pairs"),
    ("matching", {"pairs": [{"id": "p1", "prompt": "P", "match": "M"}, {"id": "p2", "prompt": "Q"}]},
     "pair 2 needs 'id', 'prompt' and 'match'", "pairs"),
    ("matching", {"pairs": [{"id": "p1", "prompt": " ", "match": "M"}, {"id": "p2", "prompt": "Q", "match": "N"}]},
     "pair 1 needs 'id', 'prompt' and 'match'", "pairs"),
    ("matching", {"pairs": [{"id": "p1", "prompt": "P", "match": 1}, {"id": "p2", "prompt": "Q", "match": "N"}]},
     "pair 1 needs", "pairs"),
    ("matching", {"pairs": ["P = M", {"id": "p2", "prompt": "Q", "match": "N"}]}, "pair 1 needs", "pairs"),
    ("matching", {"pairs": [{"id": "p1", "prompt": "P", "match": "M"}, {"id": "p1", "prompt": "Q", "match": "N"}]},
     "pair id 'p1' is used twice", "pairs"),
]


def _check_case(qtype: str, fields: dict[str, Any], fragment: str, key: str) -> None:
    found = check({"id": "q", "type": qtype, "text": "?", **fields})
    assert any(fragment in message for message, _ in found), found
    assert {k for _, k in found} == {key}


@pytest.mark.parametrize(("qtype", "fields", "fragment", "key"), BAD,
                         ids=[f"{t}:{fragment}" for t, _, fragment, _ in BAD])
def test_check_rejects_malformed_definitions(qtype, fields, fragment, key):
    _check_case(qtype, fields, fragment, key)


BAD_ONCE_ACCEPTED = [
    pytest.param("numeric", {"answers": [{"value": 5, "weight": 150}]}, "weight", "answers",
                 id="numeric-weight-above-100"),
    pytest.param("numeric", {"answers": [{"value": 5}, {"value": 7, "weight": -50}]}, "weight", "answers",
                 id="numeric-negative-weight"),
    pytest.param("numeric", {"answers": [{"value": 5}, {"value": 7, "weight": "half"}]}, "weight", "answers",
                 id="numeric-weight-not-a-number"),
    pytest.param("numeric", {"answers": [{"value": 5, "weight": 50}]}, "100", "answers",
                 id="numeric-no-answer-worth-100"),
    pytest.param("short", {"answers": ["naloxone", {"text": "an antagonist", "wieght": 50}]}, "unknown key",
                 "answers", id="short-unknown-key"),
    pytest.param("ordering", {"items": [{"id": "a", "text": "A"}, {"id": "b", "text": ""}]}, "'text'", "items",
                 id="ordering-blank-text"),
]


@pytest.mark.parametrize(("qtype", "fields", "fragment", "key"), BAD_ONCE_ACCEPTED)
def test_check_should_reject(qtype, fields, fragment, key):
    _check_case(qtype, fields, fragment, key)


@pytest.mark.parametrize("answer", [{"value": 5, "weight": 150}, {"value": 5, "weight": -50}])
def test_a_numeric_definition_that_check_accepts_scores_between_0_and_1(answer):
    q = {"id": "q", "type": "numeric", "text": "?", "answers": [answer]}
    if check(q) == []:
        assert 0.0 <= REGISTRY["numeric"].score(q, 5.0) <= 1.0


# ---------------------------------------------------------------- grade()


def tf(qid: str, *, answer: bool = True, points: float = 1, critical: bool = False) -> dict[str, Any]:
    return {"id": qid, "type": "true_false", "text": qid, "answer": answer, "points": points, "critical": critical}


def test_grade_weights_points_and_keeps_per_question_results():
    questions = [tf("big", points=3), tf("small", points=1), copy.deepcopy(MULTIPLE) | {"points": 2}]
    result = grade(questions, {"big": True, "small": False, "multiple": ["a"]}, pass_mark=60)
    assert result.score == 66.67  # (3 + 0 + 2 * 0.5) / 6
    assert result.passed is True
    assert result.critical_failed is False
    assert [(r.id, r.fraction, r.points, r.critical) for r in result.results] == [
        ("big", 1.0, 3.0, False), ("small", 0.0, 1.0, False), ("multiple", 0.5, 2.0, False)]
    assert [r.earned for r in result.results] == [3.0, 0.0, 1.0]
    assert [r.correct for r in result.results] == [True, False, False]


@pytest.mark.parametrize(("right", "total", "expected"), [
    (1, 3, 33.33),
    (2, 3, 66.67),
    (1, 7, 14.29),
    (5, 6, 83.33),
    (3, 3, 100.0),
    (0, 3, 0.0),
])
def test_grade_rounds_to_two_decimals(right, total, expected):
    questions = [tf(f"q{i}") for i in range(total)]
    result = grade(questions, {f"q{i}": True for i in range(right)}, pass_mark=50)
    assert result.score == expected
    assert result.passed is (expected >= 50)


def test_grade_points_default_to_one():
    questions = [{k: v for k, v in tf("a").items() if k != "points"}, tf("b", points=3)]
    assert grade(questions, {"a": True}, 80).score == 25.0
    assert grade(questions, {"b": True}, 80).score == 75.0


def test_unanswered_questions_count_zero():
    questions = [tf("a"), tf("b"), copy.deepcopy(SHORT), copy.deepcopy(ORDERING)]
    result = grade(questions, {"a": True}, pass_mark=80)
    assert result.score == 25.0
    assert [r.fraction for r in result.results] == [1.0, 0.0, 0.0, 0.0]
    assert result.passed is False


def test_answers_to_questions_not_drawn_are_ignored():
    result = grade([tf("a"), tf("b")], {"a": True, "b": True, "not-drawn": True}, pass_mark=100)
    assert result.score == 100.0 and result.passed is True
    assert [r.id for r in result.results] == ["a", "b"]


@pytest.mark.parametrize(("pass_mark", "passed"), [(74, True), (75, True), (75.0, True), (76, False), (75.01, False)])
def test_pass_at_exactly_the_pass_mark(pass_mark, passed):
    questions = [tf(f"q{i}") for i in range(4)]
    result = grade(questions, {"q0": True, "q1": True, "q2": True, "q3": False}, pass_mark=pass_mark)
    assert result.score == 75.0
    assert result.passed is passed


def test_a_wrong_critical_question_fails_whatever_the_score():
    questions = [tf(f"q{i}") for i in range(9)] + [tf("crit", critical=True)]
    answers = {f"q{i}": True for i in range(9)} | {"crit": False}
    result = grade(questions, answers, pass_mark=80)
    assert result.score == 90.0
    assert result.critical_failed is True
    assert result.passed is False
    assert [r.id for r in result.results if r.critical] == ["crit"]
    # even with no pass mark at all
    assert grade(questions, answers, pass_mark=0).passed is False


def test_an_unanswered_critical_question_fails():
    questions = [tf("a"), tf("crit", critical=True)]
    result = grade(questions, {"a": True}, pass_mark=0)
    assert result.critical_failed is True and result.passed is False


def test_a_partially_correct_critical_multiple_counts_as_wrong():
    questions = [tf(f"q{i}", points=10) for i in range(5)] + [copy.deepcopy(MULTIPLE) | {"critical": True}]
    result = grade(questions, {f"q{i}": True for i in range(5)} | {"multiple": ["a"]}, pass_mark=50)
    assert result.results[-1].fraction == 0.5
    assert result.score == pytest.approx(100 * 50.5 / 51, abs=0.005)
    assert result.critical_failed is True
    assert result.passed is False


@pytest.mark.parametrize(("qdef", "answer"), [
    (SINGLE_WEIGHTED, "half"),
    (ORDERING, ["a", "b", "d", "c"]),
    (MATCHING, {"p1": "m1", "p2": "m2", "p3": "m3"}),
    (SHORT, "an opioid antagonist"),
    (NUMERIC, 6.0),
], ids=lambda v: v["type"] if isinstance(v, dict) and "type" in v else None)
def test_partial_credit_on_any_critical_type_counts_as_wrong(qdef, answer):
    q = copy.deepcopy(qdef) | {"critical": True}
    result = grade([q], {q["id"]: answer}, pass_mark=0)
    assert 0.0 < result.results[0].fraction < 1.0
    assert result.critical_failed is True and result.passed is False


def test_a_right_critical_question_does_not_fail_the_attempt():
    questions = [tf("a"), tf("b"), tf("crit", answer=False, critical=True),
                 copy.deepcopy(MULTIPLE) | {"critical": True}]
    answers = {"a": True, "b": False, "crit": False, "multiple": ["b", "a"]}
    result = grade(questions, answers, pass_mark=75)
    assert result.critical_failed is False
    assert result.score == 75.0
    assert result.passed is True
    assert grade(questions, answers, pass_mark=76).passed is False


def test_a_capped_multiple_is_fully_correct_for_a_critical_question():
    q = copy.deepcopy(MULTIPLE_GENEROUS) | {"critical": True}
    result = grade([q], {q["id"]: ["x", "y"]}, pass_mark=100)
    assert result.score == 100.0 and result.critical_failed is False and result.passed is True


def test_grading_an_empty_question_list():
    result = grade([], {}, pass_mark=80)
    assert result.score == 0.0
    assert result.results == []
    assert result.critical_failed is False
    assert result.passed is False


def test_grade_handles_every_type_together():
    questions = [copy.deepcopy(q) for q in SAMPLES.values()]
    full = {"single": "a", "single-w": "best", "multiple": ["a", "b"], "multiple-g": ["x", "y"], "tf": False,
            "tf-yes": True, "short": "Naloxone.", "numeric": 5.0, "ordering": ["a", "b", "c", "d"],
            "matching": {"p1": "m1", "p2": "m2", "p3": "m3", "p4": "m1"}}
    assert set(full) == set(SAMPLES)
    result = grade(questions, full, pass_mark=100)
    assert result.score == 100.0 and result.passed is True
    assert all(math.isclose(r.fraction, 1.0) for r in result.results)
    half = dict(full, single="b", tf=True, short="wrong", numeric=100.0, ordering=["d", "c", "b", "a"])
    assert grade(questions, half, pass_mark=50).score == 50.0
