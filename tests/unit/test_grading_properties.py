"""Properties of grading (lms/quizzes/grading.py), over question definitions and answers that hypothesis draws.

tests/unit/test_grading.py pins behaviour with tables of hand-picked cases; these check what must hold for every
definition that passes its check and every answer a browser or an API client could send: normalising either
gives a normal form or raises AnswerError (nothing else), normal forms are fixed points, a score is a fraction
from 0 to 1, the key earns full marks, the order of a multiple-answer selection does not matter, partial credit
moves the right way, numeric tolerances include their boundaries, short answers ignore case and punctuation,
and grade() keeps to its bounds, its pass mark and the critical-question rule.

Every test is bounded and repeatable: @settings(max_examples=..., deadline=None, derandomize=True, database=None)."""

from __future__ import annotations

import copy
import math
import re
import string
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lms.quizzes.grading import REGISTRY, AnswerError, grade, normalise_text
from tests.unit.test_grading import check, forbidden_keys


def bounded(examples: int) -> settings:
    # too_slow: drawing whole quizzes and files is slow by design, and a busy CI machine must not fail on timing.
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- definitions that pass their check

IDS = st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True)
TEXT = st.text(min_size=1, max_size=12).filter(lambda t: t.strip())
WEIGHT = st.one_of(st.integers(-100, 100), st.integers(-10000, 10000).map(lambda c: c / 100))  # 2 decimals


def unique_ids(n: int) -> st.SearchStrategy[list[str]]:
    return st.lists(IDS, min_size=n, max_size=n, unique=True)


def _common(draw, qtype: str) -> dict[str, Any]:
    q: dict[str, Any] = {"id": draw(IDS), "type": qtype, "text": draw(TEXT)}
    if draw(st.booleans()):
        q["points"] = draw(st.one_of(st.integers(1, 5), st.floats(0.25, 5)))
    if draw(st.booleans()):
        q["critical"] = draw(st.booleans())
    return q


@st.composite
def single_questions(draw) -> dict[str, Any]:
    q = _common(draw, "single")
    ids = draw(unique_ids(draw(st.integers(2, 6))))
    texts = [draw(TEXT) for _ in ids]
    if draw(st.booleans()):  # correct: true on one option
        right = draw(st.sampled_from(ids))
        q["options"] = [{"id": i, "text": t, **({"correct": True} if i == right else {})}
                        for i, t in zip(ids, texts, strict=True)]
    else:  # weights, one of them 100
        weights = [100] + [draw(WEIGHT) for _ in ids[1:]]
        weights = draw(st.permutations(weights))
        q["options"] = [{"id": i, "text": t, "weight": w} for i, t, w in zip(ids, texts, weights, strict=True)]
    return q


@st.composite
def multiple_questions(draw) -> dict[str, Any]:
    q = _common(draw, "multiple")
    if draw(st.booleans()):  # k right answers written as 100/k to two decimals: 33.33 x 3 adds up to 99.99
        k = draw(st.sampled_from([3, 9, 6, 7, 1, 2, 4, 5, 8]))  # the awkward ones first: 3 and 9 fall short
        positives: list[float] = [round(100 / k, 2)] * k
    else:
        positives = []
        while sum(positives) < 100:
            positives.append(draw(st.integers(10, 100)))
    others = draw(st.lists(st.integers(-100, 0), min_size=max(0, 2 - len(positives)), max_size=3))
    weights = draw(st.permutations(positives + others))
    ids = draw(unique_ids(len(weights)))
    q["options"] = [{"id": i, "text": draw(TEXT), "weight": w} for i, w in zip(ids, weights, strict=True)]
    return q


@st.composite
def true_false_questions(draw) -> dict[str, Any]:
    return _common(draw, "true_false") | {"answer": draw(st.booleans())}


ASCII_WORDS = st.text(string.ascii_letters + " ", min_size=1, max_size=12).filter(lambda t: t.strip())


@st.composite
def short_questions(draw, texts: st.SearchStrategy[str] = TEXT) -> dict[str, Any]:
    q = _common(draw, "short")
    texts = texts.filter(lambda t: normalise_text(t))
    answers: list[Any] = [draw(texts)]
    for _ in range(draw(st.integers(0, 3))):
        answers.append({"text": draw(texts), "weight": draw(st.integers(0, 100))})
    q["answers"] = draw(st.permutations(answers))
    return q


NUMBER = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def numeric_answers(draw, weight: int | None = None) -> dict[str, Any]:
    w = draw(st.integers(0, 100)) if weight is None else weight
    if draw(st.booleans()):
        a: dict[str, Any] = {"value": draw(NUMBER)}
        if draw(st.booleans()):
            a["tolerance"] = draw(st.one_of(st.integers(0, 10), st.floats(0, 10)))
    else:
        lo, hi = sorted((draw(NUMBER), draw(NUMBER)))
        a = {"min": lo, "max": hi}
    return a | ({"weight": w} if w != 100 or draw(st.booleans()) else {})


@st.composite
def numeric_questions(draw) -> dict[str, Any]:
    answers = [draw(numeric_answers(weight=100))] + draw(st.lists(numeric_answers(), max_size=3))
    return _common(draw, "numeric") | {"answers": draw(st.permutations(answers))}


@st.composite
def ordering_questions(draw) -> dict[str, Any]:
    ids = draw(unique_ids(draw(st.integers(2, 7))))
    return _common(draw, "ordering") | {"items": [{"id": i, "text": draw(TEXT)} for i in ids]}


@st.composite
def matching_questions(draw) -> dict[str, Any]:
    ids = draw(unique_ids(draw(st.integers(2, 6))))
    matches = draw(st.lists(TEXT, min_size=1, max_size=len(ids)))  # fewer matches than prompts: some repeat
    return _common(draw, "matching") | {
        "pairs": [{"id": i, "prompt": draw(TEXT), "match": draw(st.sampled_from(matches))} for i in ids]}


QUESTIONS = {"single": single_questions(), "multiple": multiple_questions(), "true_false": true_false_questions(),
             "short": short_questions(), "numeric": numeric_questions(), "ordering": ordering_questions(),
             "matching": matching_questions()}
ANY_QUESTION = st.one_of(*QUESTIONS.values())


def ids_of(q: dict[str, Any]) -> list[str]:
    """The ids an answer to q is made of."""
    if q["type"] in ("single", "multiple"):
        return [o["id"] for o in q["options"]]
    if q["type"] == "ordering":
        return [i["id"] for i in q["items"]]
    if q["type"] == "matching":
        return [p["id"] for p in q["pairs"]] + list(REGISTRY["matching"].choices(q))
    return ["true", "false"]


def key_answer(q: dict[str, Any]) -> Any:
    """The answer that review shows as correct, in normal form, read from the type's key()."""
    key = REGISTRY[q["type"]].key(q)
    match q["type"]:
        case "single":
            return key["correct"][0]
        case "multiple":
            return key["correct"]
        case "true_false":
            return key["correct"]
        case "short":
            return key["accepted"][0]
        case "numeric":
            best = key["accepted"][0]
            return float(best["value"] if "value" in best else best["min"])
        case "ordering":
            return key["order"]
        case "matching":
            return key["matches"]
    raise AssertionError(q["type"])


# Anything a JSON body or a form could carry, with the question's own ids mixed in so some of it is valid.
SPECIAL_NUMBERS = st.sampled_from([math.inf, -math.inf, math.nan, -0.0, 1e308, 5e-324, 10**400, -(10**400), 2**63])
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), SPECIAL_NUMBERS, st.floats(), st.text(max_size=8),
                        st.sampled_from(["", " ", "1e400", "nan", "3,5", "1,000"]))
JSON = st.recursive(JSON_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=4), inner, max_size=4)),
                    max_leaves=8)


def raw_answers(q: dict[str, Any]) -> st.SearchStrategy[Any]:
    ids = st.sampled_from(ids_of(q))
    positions = st.one_of(st.integers(-1, 8), st.integers(1, 8).map(str), st.just(""), JSON_LEAVES)
    return st.one_of(JSON, ids, st.lists(ids, max_size=8), st.permutations(ids_of(q)),
                     st.dictionaries(ids, st.one_of(ids, positions), max_size=8), st.just(key_answer(q)))


def normal_forms(q: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Answers in normal form: whatever normalise() lets through."""
    qtype = REGISTRY[q["type"]]

    def normalised(raw: Any) -> Any:
        try:
            return qtype.normalise(q, raw)
        except AnswerError:
            return None  # unanswered

    if q["type"] == "numeric":
        return st.one_of(st.none(), NUMBER.map(float))
    if q["type"] == "short":
        return st.one_of(st.none(), st.text(max_size=20).map(lambda t: normalised(t)))
    return raw_answers(q).map(normalised)


# ---------------------------------------------------------------- definitions, normalise, score


@bounded(100)
@given(ANY_QUESTION)
def test_every_drawn_definition_passes_its_check(q):
    assert check(q) == []


@bounded(200)
@given(st.data(), ANY_QUESTION)
def test_normalise_gives_a_normal_form_or_answer_error_and_nothing_else(data, q):
    qtype = REGISTRY[q["type"]]
    raw = data.draw(raw_answers(q), label="raw")
    before, raw_before = copy.deepcopy(q), repr(raw)
    try:
        answer = qtype.normalise(q, raw)
    except AnswerError as exc:
        answer = exc
    assert q == before and repr(raw) == raw_before  # neither the definition nor the answer is changed
    if isinstance(answer, AnswerError):
        assert str(answer)  # a message the trainee can act on
        return
    assert qtype.normalise(q, answer) == answer  # a normal form is a fixed point: saving twice changes nothing
    assert 0.0 <= qtype.score(q, answer) <= 1.0


NUMBERS_OF_ANY_SIZE = st.one_of(SPECIAL_NUMBERS, st.integers(), st.integers(2**1023, 10**400).map(lambda n: -n),
                                st.floats(),
                                st.decimals(allow_nan=True).map(str), st.text(string.digits + ".,-+e ", max_size=12))


@bounded(200)
@given(numeric_questions(), st.one_of(NUMBERS_OF_ANY_SIZE, JSON))
def test_numeric_takes_any_number_or_text_and_keeps_only_finite_numbers(q, raw):
    try:
        answer = REGISTRY["numeric"].normalise(q, raw)
    except AnswerError:
        return
    assert answer is None or (type(answer) is float and math.isfinite(answer))


@bounded(150)
@given(ordering_questions(), st.data())
def test_ordering_positions_of_any_kind_are_a_normal_form_or_answer_error(q, data):
    ids = [i["id"] for i in q["items"]]
    positions = data.draw(st.dictionaries(st.sampled_from(ids), st.one_of(NUMBERS_OF_ANY_SIZE, JSON_LEAVES),
                                          min_size=1), label="positions")
    try:
        answer = REGISTRY["ordering"].normalise(q, positions)
    except AnswerError:
        return
    assert answer is None or sorted(answer) == sorted(ids)


@bounded(100)
@given(st.data(), ANY_QUESTION)
def test_a_score_is_a_fraction_and_scoring_twice_gives_the_same(data, q):
    qtype = REGISTRY[q["type"]]
    answer = data.draw(normal_forms(q), label="answer")
    first = qtype.score(q, answer)
    assert 0.0 <= first <= 1.0
    assert qtype.score(q, copy.deepcopy(answer)) == first


@bounded(150)
@given(ANY_QUESTION)
def test_the_key_earns_full_marks(q):
    qtype = REGISTRY[q["type"]]
    answer = qtype.normalise(q, key_answer(q))
    assert math.isclose(qtype.score(q, answer), 1.0, abs_tol=1e-9)
    result = grade([q], {q["id"]: answer}, pass_mark=100)
    assert result.score == 100.0 and result.passed and not result.critical_failed
    assert result.results[0].correct


@bounded(150)
@given(st.data(), ANY_QUESTION)
def test_present_never_shows_the_key(data, q):
    qtype = REGISTRY[q["type"]]
    order = qtype.shuffled(q)
    shown = qtype.present(q, data.draw(st.permutations(order)) if order else None)
    assert forbidden_keys(shown) == []
    if order:  # every option, item or choice is shown once, in the order given
        listed = shown.get("options") or shown.get("items") or shown.get("choices")
        assert sorted(x["id"] for x in listed) == sorted(order)


# ---------------------------------------------------------------- multiple answers


@bounded(150)
@given(st.data(), multiple_questions())
def test_the_order_and_repetition_of_a_selection_do_not_matter(data, q):
    qtype = REGISTRY["multiple"]
    ids = [o["id"] for o in q["options"]]
    chosen = data.draw(st.lists(st.sampled_from(ids), max_size=len(ids) + 2), label="chosen")
    shuffled = data.draw(st.permutations(chosen + chosen), label="shuffled")  # every one twice, in any order
    assert qtype.normalise(q, shuffled) == qtype.normalise(q, chosen)
    assert qtype.score(q, qtype.normalise(q, shuffled)) == qtype.score(q, qtype.normalise(q, chosen))


@bounded(150)
@given(st.data(), multiple_questions())
def test_ticking_one_more_option_moves_the_score_the_way_of_its_weight(data, q):
    qtype = REGISTRY["multiple"]
    weights = {o["id"]: o["weight"] for o in q["options"]}
    chosen = data.draw(st.lists(st.sampled_from(list(weights)), unique=True), label="chosen")
    extra = data.draw(st.sampled_from([i for i in weights if i not in chosen] or [None]), label="extra")
    assume(extra is not None)
    before = qtype.score(q, qtype.normalise(q, chosen))
    after = qtype.score(q, qtype.normalise(q, [*chosen, extra]))
    if weights[extra] >= 0:
        assert after >= before - 1e-12
    else:
        assert after <= before + 1e-12
    if weights[extra] == 0:
        assert after == before


@bounded(100)
@given(multiple_questions())
def test_all_the_right_options_and_nothing_harmful_is_full_marks_and_the_harmful_alone_is_zero(q):
    qtype = REGISTRY["multiple"]
    right = [o["id"] for o in q["options"] if o["weight"] > 0]
    neutral = [o["id"] for o in q["options"] if o["weight"] == 0]
    harmful = [o["id"] for o in q["options"] if o["weight"] < 0]
    assert math.isclose(qtype.score(q, qtype.normalise(q, right + neutral)), 1.0, abs_tol=1e-9)
    assert qtype.score(q, qtype.normalise(q, harmful + neutral)) == 0.0
    for one in right:  # partial credit: each right option alone earns its share, no more than its weight allows
        alone = qtype.score(q, [one])
        share = next(o["weight"] for o in q["options"] if o["id"] == one) / 100
        assert share - 1e-9 <= alone <= min(1.0, share / 0.995) + 1e-9


# ---------------------------------------------------------------- single, true/false, ordering, matching


@bounded(100)
@given(single_questions())
def test_single_choice_scores_each_option_by_its_weight_floored_at_zero(q):
    qtype = REGISTRY["single"]
    for o in q["options"]:
        expected = (1.0 if o.get("correct") else 0.0) if "weight" not in o else max(0.0, o["weight"] / 100)
        assert qtype.score(q, qtype.normalise(q, o["id"])) == expected


@bounded(50)
@given(true_false_questions(), st.sampled_from([True, False, "true", "false", "TRUE", "False"]))
def test_true_false_is_all_or_nothing_whichever_way_it_is_sent(q, raw):
    qtype = REGISTRY["true_false"]
    answer = qtype.normalise(q, raw)
    assert answer is (str(raw).lower() == "true")
    assert qtype.score(q, answer) == (1.0 if answer == q["answer"] else 0.0)


@bounded(150)
@given(st.data(), ordering_questions())
def test_ordering_earns_the_share_of_steps_in_their_place(data, q):
    qtype = REGISTRY["ordering"]
    ids = [i["id"] for i in q["items"]]
    order = data.draw(st.permutations(ids), label="order")
    in_place = sum(a == b for a, b in zip(order, ids, strict=True))
    assert qtype.score(q, qtype.normalise(q, order)) == in_place / len(ids)
    # the no-script form sends {id: position}, in whatever order: the same order, the same score
    positions = data.draw(st.permutations([(step, str(n)) for n, step in enumerate(order, start=1)]), label="form")
    assert qtype.normalise(q, dict(positions)) == order


@bounded(150)
@given(st.data(), matching_questions())
def test_matching_earns_the_share_of_prompts_matched(data, q):
    qtype = REGISTRY["matching"]
    right = qtype.key(q)["matches"]
    choices = list(qtype.choices(q))
    answer = data.draw(st.fixed_dictionaries({}, optional={p: st.sampled_from(choices) for p in right}), label="a")
    hits = sum(answer.get(p) == c for p, c in right.items())
    assert qtype.score(q, qtype.normalise(q, answer)) == hits / len(right)


# ---------------------------------------------------------------- numeric tolerance


@bounded(200)
@given(numeric_answers(weight=100), st.data())
def test_a_numeric_answer_counts_up_to_its_boundaries_and_not_beyond(spec, data):
    q = {"id": "n", "type": "numeric", "text": "?", "answers": [spec]}
    assert check(q) == []
    qtype = REGISTRY["numeric"]
    if "value" in spec:
        lo = spec["value"] - spec.get("tolerance", 0)
        hi = spec["value"] + spec.get("tolerance", 0)
        assert qtype.score(q, float(spec["value"])) == 1.0
    else:
        lo, hi = spec["min"], spec["max"]
    assert qtype.score(q, float(lo)) == 1.0  # boundaries are inclusive, floating point or not
    assert qtype.score(q, float(hi)) == 1.0
    inside = data.draw(st.floats(lo, hi) if lo < hi else st.just(float(hi)), label="inside")
    assert qtype.score(q, inside) == 1.0
    margin = data.draw(st.floats(1e-3, 1e6), label="margin")
    assert qtype.score(q, hi + max(margin, abs(hi) * 1e-6)) == 0.0
    assert qtype.score(q, lo - max(margin, abs(lo) * 1e-6)) == 0.0


@bounded(200)
@given(st.one_of(st.integers(-10**9, 10**9), st.floats(-1e12, 1e12, allow_nan=False)))
def test_a_number_typed_as_text_reads_as_the_same_number(x):
    qtype, q = REGISTRY["numeric"], {"id": "n", "type": "numeric", "answers": [{"value": 0}]}
    assert qtype.normalise(q, x) == float(x)
    assert qtype.normalise(q, repr(x)) == float(x)
    assert qtype.normalise(q, f"  {x!r} ") == float(x)
    comma = repr(x).replace(".", ",")
    # a decimal comma, unless it reads as a thousands separator (1,125 is 1125: the separator wins)
    if isinstance(x, float) and "e" not in comma and not re.fullmatch(r"-?\d{1,3},\d{3}", comma):
        assert qtype.normalise(q, comma) == x


@bounded(150)
@given(numeric_questions(), st.data())
def test_numeric_scores_the_best_weight_among_the_answers_that_match(q, data):
    qtype = REGISTRY["numeric"]
    near = data.draw(st.sampled_from(q["answers"]), label="near")
    centre = near.get("value", near.get("min"))
    x = data.draw(st.one_of(st.just(float(centre)), st.floats(-1e7, 1e7),
                            st.floats(-20, 20).map(lambda d: centre + d)), label="x")

    def matches(a: dict[str, Any]) -> bool:  # the answer alone, worth 100, scores 1
        return qtype.score({**q, "answers": [{k: v for k, v in a.items() if k != "weight"}]}, x) == 1.0

    best = max((a.get("weight", 100) / 100 for a in q["answers"] if matches(a)), default=0.0)
    assert qtype.score(q, x) == best


# ---------------------------------------------------------------- short answers


@bounded(150)
@given(short_questions(texts=ASCII_WORDS), st.data())
def test_short_answers_ignore_case_spacing_and_trailing_punctuation(q, data):
    qtype = REGISTRY["short"]
    accepted = [a if isinstance(a, str) else a["text"] for a in q["answers"]]
    text = data.draw(st.sampled_from(accepted), label="text")
    variant = "  " + text.upper().replace(" ", "   ") + data.draw(st.sampled_from([".", "?!", " ;", ""]))
    # the best weight among the accepted answers that read the same
    best = max((100 if isinstance(a, str) else a["weight"]) for a in q["answers"]
               if normalise_text(a if isinstance(a, str) else a["text"]) == normalise_text(text)) / 100
    assert qtype.score(q, qtype.normalise(q, text)) == best
    assert qtype.score(q, qtype.normalise(q, variant)) == best


# ---------------------------------------------------------------- grade()


@st.composite
def quizzes(draw) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A few questions with distinct ids, and normal-form answers to some of them."""
    questions = draw(st.lists(ANY_QUESTION, min_size=1, max_size=4, unique_by=lambda q: q["id"]))
    answers = {}
    for q in questions:
        if draw(st.booleans()):
            answers[q["id"]] = draw(normal_forms(q))
    return questions, answers


@bounded(100)
@given(quizzes(), st.floats(0, 100))
def test_grade_keeps_to_its_bounds_its_pass_mark_and_the_critical_rule(quiz, pass_mark):
    questions, answers = quiz
    before = copy.deepcopy((questions, answers))
    result = grade(questions, answers, pass_mark)
    assert copy.deepcopy((questions, answers)) == before  # grading changes nothing it is given
    assert 0.0 <= result.score <= 100.0
    assert result.score == round(result.score, 2)
    assert [r.id for r in result.results] == [q["id"] for q in questions]
    assert all(0.0 <= r.fraction <= 1.0 for r in result.results)
    critical_wrong = [r.id for r in result.results if r.critical and not r.correct]
    assert result.critical_failed is bool(critical_wrong)
    if result.passed:
        assert not critical_wrong and result.score >= pass_mark - 0.01
    elif not critical_wrong:
        assert result.score <= pass_mark + 0.01
    if critical_wrong:  # whatever the score and the pass mark
        assert not grade(questions, answers, 0).passed
    assert grade(questions, answers, pass_mark) == result  # grading again gives the same grade


@bounded(60)
@given(quizzes(), st.floats(0, 100), st.floats(0, 100))
def test_a_lower_pass_mark_never_fails_an_attempt_that_passed(quiz, mark, lower_by):
    questions, answers = quiz
    if grade(questions, answers, mark).passed:
        assert grade(questions, answers, max(0.0, mark - lower_by)).passed


@bounded(60)
@given(quizzes(), st.randoms(use_true_random=False), st.sampled_from([0.5, 2, 3, 10]))
def test_question_order_and_the_scale_of_points_do_not_change_the_score(quiz, rnd, factor):
    questions, answers = quiz
    score = grade(questions, answers, 50).score
    shuffled = questions[:]
    rnd.shuffle(shuffled)
    assert math.isclose(grade(shuffled, answers, 50).score, score, abs_tol=0.01)
    scaled = [q | {"points": q.get("points", 1) * factor} for q in questions]
    assert math.isclose(grade(scaled, answers, 50).score, score, abs_tol=0.01)


@bounded(60)
@given(st.lists(ANY_QUESTION, min_size=1, max_size=4, unique_by=lambda q: q["id"]), st.floats(0, 100))
def test_the_key_to_every_question_passes_at_any_pass_mark(questions, pass_mark):
    result = grade(questions, {q["id"]: key_answer(q) for q in questions}, pass_mark)
    assert result.score == 100.0 and result.passed and not result.critical_failed


@bounded(60)
@given(quizzes())
def test_answering_a_question_right_never_lowers_the_score(quiz):
    questions, answers = quiz
    for q in questions:
        better = answers | {q["id"]: key_answer(q)}
        assert grade(questions, better, 0).score >= grade(questions, answers, 0).score - 0.01
