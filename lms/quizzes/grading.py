"""Question types and grading: pure functions, no Flask, no database.

Each question type is a small class in REGISTRY. It checks a question's definition, shows the question
without its key, turns a submitted answer into a normal form, scores it (a fraction from 0 to 1), and
describes the correct answer for review. Grading only ever happens on the server."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

Report = Callable[[str, str | None], None]  # (message, key the message is about)


class AnswerError(ValueError):
    """A submitted answer has the wrong shape for its question (a bad option id, not a number...)."""


def _weight(value: Any) -> float:
    return float(value) / 100.0


def _finite(value: Any) -> bool:
    """A number that grading can compare with a float: not a bool, not infinite, not too large for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond the largest float
        return False


def normalise_text(text: str) -> str:
    """Case, accents, spaces and trailing punctuation do not matter when matching short answers."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \"'“”‘’`").rstrip(" .!?,;:\"'“”‘’`").lstrip(" \"'“”‘’`")


class QuestionType:
    name: ClassVar[str]
    fields: ClassVar[frozenset[str]]  # type-specific keys of the definition

    def check(self, q: dict[str, Any], report: Report) -> None:
        raise NotImplementedError

    def shuffled(self, q: dict[str, Any]) -> list[str] | None:
        """Ids whose order an attempt draws at random and stores (None: nothing to shuffle)."""
        return None

    def present(self, q: dict[str, Any], order: list[str] | None) -> dict[str, Any]:
        """What the trainee sees: never the key, never per-option feedback."""
        raise NotImplementedError

    def normalise(self, q: dict[str, Any], raw: Any) -> Any:
        raise NotImplementedError

    def score(self, q: dict[str, Any], answer: Any) -> float:
        raise NotImplementedError

    def key(self, q: dict[str, Any]) -> dict[str, Any]:
        """The correct answer and the feedback, for review once the policy allows it."""
        raise NotImplementedError

    def feedback_for(self, q: dict[str, Any], answer: Any) -> list[str]:
        return []


def _options_check(q: dict[str, Any], report: Report, *, minimum: int = 2) -> list[dict[str, Any]]:
    options = q.get("options")
    if not isinstance(options, list) or len(options) < minimum:
        report(f"needs 'options': a list of at least {minimum}", "options")
        return []
    ids = set()
    for i, option in enumerate(options, start=1):
        if not isinstance(option, dict) or not isinstance(option.get("text"), str) or not option["text"].strip():
            report(f"option {i} needs 'text'", "options")
            continue
        unknown = set(option) - {"id", "text", "correct", "weight", "feedback"}
        if unknown:
            report(f"option {i} has unknown key(s): {', '.join(sorted(unknown))}", "options")
        oid = option.get("id")
        if not isinstance(oid, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", oid):
            report(f"option {i} needs an 'id' of letters, digits, - or _", "options")
        elif oid in ids:
            report(f"option id '{oid}' is used twice", "options")
        ids.add(oid)
        weight = option.get("weight")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float))
                                   or not -100 <= weight <= 100):
            report(f"option {i}: 'weight' must be a number from -100 to 100", "options")
    return options


class Single(QuestionType):
    name = "single"
    fields = frozenset({"options"})

    def check(self, q, report):
        options = _options_check(q, report)
        correct = [o for o in options if isinstance(o, dict) and o.get("correct") is True]
        weighted = [o for o in options if isinstance(o, dict) and o.get("weight") is not None]
        if weighted and correct:
            report("use either 'correct: true' or weights on the options, not both", "options")
        elif weighted:
            if not any(o["weight"] == 100 for o in weighted if isinstance(o.get("weight"), (int, float))):
                report("one option must have weight 100", "options")
        elif len(correct) != 1:
            report(f"a single-choice question needs exactly one option with 'correct: true' (found {len(correct)})",
                   "options")

    def _weights(self, q):
        return {o["id"]: _weight(o["weight"]) if o.get("weight") is not None else (1.0 if o.get("correct") else 0.0)
                for o in q["options"]}

    def shuffled(self, q):
        return [o["id"] for o in q["options"]]

    def present(self, q, order):
        by_id = {o["id"]: o for o in q["options"]}
        return {"options": [{"id": i, "text": by_id[i]["text"]} for i in (order or by_id)]}

    def normalise(self, q, raw):
        if raw in (None, ""):
            return None
        if not isinstance(raw, str) or raw not in {o["id"] for o in q["options"]}:
            raise AnswerError("choose one of the options")
        return raw

    def score(self, q, answer):
        return 0.0 if answer is None else max(0.0, min(1.0, self._weights(q)[answer]))

    def key(self, q):
        weights = self._weights(q)
        return {"correct": [i for i, w in weights.items() if w >= 1.0],
                "options": [{"id": o["id"], "weight": round(weights[o["id"]] * 100),
                             "feedback": o.get("feedback")} for o in q["options"]]}

    def feedback_for(self, q, answer):
        return [o["feedback"] for o in q["options"] if o["id"] == answer and o.get("feedback")]


class Multiple(Single):
    name = "multiple"

    def check(self, q, report):
        options = _options_check(q, report)
        if any(isinstance(o, dict) and "correct" in o for o in options):
            report("a multiple-answer question gives each option a 'weight' (percent), not 'correct'", "options")
        weights = [o.get("weight") for o in options if isinstance(o, dict)]
        if any(w is None for w in weights):
            report("every option of a multiple-answer question needs a 'weight' (0 for a plain wrong answer)",
                   "options")
        elif sum(w for w in weights if isinstance(w, (int, float)) and w > 0) < 99.5:
            report("the positive weights must add up to at least 100", "options")

    def _weights(self, q):
        return {o["id"]: _weight(o["weight"]) for o in q["options"]}

    def normalise(self, q, raw):
        if raw in (None, "", []):
            return []
        if isinstance(raw, str):
            raw = [raw]
        ids = {o["id"] for o in q["options"]}
        if not isinstance(raw, list) or not all(isinstance(x, str) and x in ids for x in raw):
            raise AnswerError("choose among the options")
        return sorted(set(raw), key=[o["id"] for o in q["options"]].index)

    def score(self, q, answer):
        weights = self._weights(q)
        # The check lets the positive weights add up to a little under 100 (three options of 33.33 each): the
        # key still earns full marks, and every other answer its share in proportion.
        full = min(1.0, sum(w for w in weights.values() if w > 0)) or 1.0
        return max(0.0, min(1.0, sum(weights[a] for a in answer or []) / full))

    def key(self, q):
        weights = self._weights(q)
        return {"correct": [i for i, w in weights.items() if w > 0],
                "options": [{"id": o["id"], "weight": round(weights[o["id"]] * 100),
                             "feedback": o.get("feedback")} for o in q["options"]]}

    def feedback_for(self, q, answer):
        return [o["feedback"] for o in q["options"] if o["id"] in (answer or []) and o.get("feedback")]


class TrueFalse(QuestionType):
    name = "true_false"
    fields = frozenset({"answer", "feedback_true", "feedback_false"})

    def check(self, q, report):
        if not isinstance(q.get("answer"), bool):
            report("a true/false question needs 'answer: true' or 'answer: false'", "answer")

    def present(self, q, order):
        return {"options": [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}]}

    def normalise(self, q, raw):
        if raw in (None, ""):
            return None
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise AnswerError("answer true or false")

    def score(self, q, answer):
        return 1.0 if answer is not None and answer == q["answer"] else 0.0

    def key(self, q):
        return {"correct": q["answer"], "feedback_true": q.get("feedback_true"),
                "feedback_false": q.get("feedback_false")}

    def feedback_for(self, q, answer):
        text = q.get("feedback_true") if answer is True else q.get("feedback_false") if answer is False else None
        return [text] if text else []


def _weighted_list(q: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [a if isinstance(a, dict) else {"text": a} for a in q.get(key) or []]


class Short(QuestionType):
    name = "short"
    fields = frozenset({"answers"})

    def check(self, q, report):
        answers = q.get("answers")
        if not isinstance(answers, list) or not answers:
            report("a short-answer question needs 'answers': a list of accepted texts", "answers")
            return
        for i, a in enumerate(_weighted_list(q, "answers"), start=1):
            if not isinstance(a.get("text"), str) or not normalise_text(a["text"]):
                report(f"accepted answer {i} needs text", "answers")
            unknown = set(a) - {"text", "weight"}
            if unknown:
                report(f"accepted answer {i} has unknown key(s): {', '.join(sorted(unknown))}", "answers")
            w = a.get("weight", 100)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 100:
                report(f"accepted answer {i}: 'weight' must be 0 to 100", "answers")
        if not any(a.get("weight", 100) == 100 for a in _weighted_list(q, "answers")):
            report("at least one accepted answer must be worth 100", "answers")

    def present(self, q, order):
        return {}

    def normalise(self, q, raw):
        if raw is None:
            return None
        if not isinstance(raw, str) or len(raw) > 500:
            raise AnswerError("type a short answer (at most 500 characters)")
        return raw.strip() or None

    def score(self, q, answer):
        if not answer:
            return 0.0
        given = normalise_text(answer)
        return max((_weight(a.get("weight", 100)) for a in _weighted_list(q, "answers")
                    if normalise_text(a["text"]) == given), default=0.0)

    def key(self, q):
        return {"accepted": [a["text"] for a in _weighted_list(q, "answers") if a.get("weight", 100) == 100]}


class Numeric(QuestionType):
    name = "numeric"
    fields = frozenset({"answers"})

    def check(self, q, report):
        answers = q.get("answers")
        if not isinstance(answers, list) or not answers:
            report("a numeric question needs 'answers': a list of {value, tolerance} or {min, max}", "answers")
            return
        for i, a in enumerate(answers, start=1):
            if not isinstance(a, dict):
                report(f"answer {i} must be a mapping", "answers")
                continue
            nums = {k: v for k, v in a.items() if k in ("value", "tolerance", "min", "max")}
            if not all(_finite(v) for v in nums.values()):
                report(f"answer {i}: value, tolerance, min and max must be numbers", "answers")
            elif "value" in a and ("min" in a or "max" in a):
                report(f"answer {i}: give either value (with tolerance) or min and max", "answers")
            elif "value" not in a and not ("min" in a and "max" in a):
                report(f"answer {i}: needs 'value' or both 'min' and 'max'", "answers")
            elif "min" in a and a["min"] > a["max"]:
                report(f"answer {i}: min is above max", "answers")
            elif a.get("tolerance", 0) < 0:
                report(f"answer {i}: tolerance cannot be negative", "answers")
            unknown = set(a) - {"value", "tolerance", "min", "max", "weight", "feedback"}
            if unknown:
                report(f"answer {i} has unknown key(s): {', '.join(sorted(unknown))}", "answers")
            w = a.get("weight", 100)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 100:
                report(f"answer {i}: 'weight' must be 0 to 100", "answers")
        if all(isinstance(a, dict) for a in answers) and not any(a.get("weight", 100) == 100 for a in answers):
            report("at least one answer must be worth 100", "answers")

    def present(self, q, order):
        return {}

    def normalise(self, q, raw):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            raise AnswerError("enter a number")
        if isinstance(raw, (int, float)):
            try:
                value = float(raw)
            except OverflowError:  # an int too large for a float (JSON allows any number of digits)
                raise AnswerError("enter a number") from None
        else:
            text = str(raw).strip().replace(" ", "")
            if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", text):
                text = text.replace(",", "")  # thousands separators: 1,000
            elif "," in text and "." not in text:
                text = text.replace(",", ".")  # a decimal comma: 3,5
            try:
                value = float(Decimal(text))
            except (InvalidOperation, ValueError):
                raise AnswerError("enter a number") from None
        if not math.isfinite(value):
            raise AnswerError("enter a number")
        return value

    @staticmethod
    def _matches(a: Mapping[str, Any], x: float) -> bool:
        eps = 1e-9
        if "value" in a:
            return abs(x - a["value"]) <= a.get("tolerance", 0) + eps
        return a["min"] - eps <= x <= a["max"] + eps

    def score(self, q, answer):
        if answer is None:
            return 0.0
        return max((_weight(a.get("weight", 100)) for a in q["answers"] if self._matches(a, answer)), default=0.0)

    def key(self, q):
        return {"accepted": [a for a in q["answers"] if a.get("weight", 100) == 100]}

    def feedback_for(self, q, answer):
        if answer is None:
            return []
        matching = [a for a in q["answers"] if self._matches(a, answer)]
        best = max(matching, key=lambda a: a.get("weight", 100), default=None)  # the one that was scored
        return [best["feedback"]] if best and best.get("feedback") else []


class Ordering(QuestionType):
    name = "ordering"
    fields = frozenset({"items"})

    def check(self, q, report):
        items = q.get("items")
        if not isinstance(items, list) or len(items) < 2:
            report("an ordering question needs 'items': at least 2, listed in the correct order", "items")
            return
        ids = [i.get("id") for i in items if isinstance(i, dict)]
        if len(ids) != len(items) or not all(isinstance(i, str) and i for i in ids) or len(set(ids)) != len(ids):
            report("every item needs a unique 'id' and a 'text'", "items")
        if not all(isinstance(i, dict) and isinstance(i.get("text"), str) and i["text"].strip() for i in items):
            report("every item needs a unique 'id' and a 'text'", "items")

    def shuffled(self, q):
        return [i["id"] for i in q["items"]]

    def present(self, q, order):
        by_id = {i["id"]: i for i in q["items"]}
        return {"items": [{"id": i, "text": by_id[i]["text"]} for i in (order or by_id)]}

    def normalise(self, q, raw):
        ids = [i["id"] for i in q["items"]]
        if raw in (None, "", [], {}):
            return None
        if isinstance(raw, dict):  # {item id: position}, as the no-script form sends it
            try:
                positions = {k: int(v) for k, v in raw.items() if str(v).strip()}
            except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
                raise AnswerError("give each step a position number") from None
            if not positions:
                return None
            if set(positions) - set(ids) or sorted(positions.values()) != list(range(1, len(positions) + 1)):
                raise AnswerError("give each step a different position, 1 to " + str(len(ids)))
            raw = sorted(positions, key=positions.__getitem__)
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw) or sorted(raw) != sorted(ids):
            raise AnswerError("put every step in order, each once")
        return raw

    def score(self, q, answer):
        if not answer:
            return 0.0
        ids = [i["id"] for i in q["items"]]
        return sum(1 for a, b in zip(answer, ids, strict=True) if a == b) / len(ids)

    def key(self, q):
        return {"order": [i["id"] for i in q["items"]]}


class Matching(QuestionType):
    name = "matching"
    fields = frozenset({"pairs"})

    def check(self, q, report):
        pairs = q.get("pairs")
        if not isinstance(pairs, list) or len(pairs) < 2:
            report("a matching question needs 'pairs': at least 2, each with id, prompt and match", "pairs")
            return
        ids = set()
        for i, p in enumerate(pairs, start=1):
            if not isinstance(p, dict) or not all(isinstance(p.get(k), str) and p[k].strip()
                                                  for k in ("id", "prompt", "match")):
                report(f"pair {i} needs 'id', 'prompt' and 'match'", "pairs")
                continue
            if p["id"] in ids:
                report(f"pair id '{p['id']}' is used twice", "pairs")
            ids.add(p["id"])

    @staticmethod
    def choices(q: dict[str, Any]) -> dict[str, str]:
        """The distinct match texts, with ids m1, m2... in order of first appearance."""
        seen: dict[str, str] = {}
        for p in q["pairs"]:
            seen.setdefault(p["match"], f"m{len(seen) + 1}")
        return {cid: text for text, cid in seen.items()}

    def _correct(self, q) -> dict[str, str]:
        by_text = {text: cid for cid, text in self.choices(q).items()}
        return {p["id"]: by_text[p["match"]] for p in q["pairs"]}

    def shuffled(self, q):
        return list(self.choices(q))

    def present(self, q, order):
        choices = self.choices(q)
        return {"prompts": [{"id": p["id"], "text": p["prompt"]} for p in q["pairs"]],
                "choices": [{"id": c, "text": choices[c]} for c in (order or choices)]}

    def normalise(self, q, raw):
        if raw in (None, "", {}):
            return None
        prompts, choices = {p["id"] for p in q["pairs"]}, set(self.choices(q))
        if not isinstance(raw, dict) or not all(
                isinstance(k, str) and k in prompts and (v is None or isinstance(v, str) and (v in choices or v == ""))
                for k, v in raw.items()):
            raise AnswerError("match each item with one of the choices")
        answer = {k: v for k, v in raw.items() if v}
        return answer or None

    def score(self, q, answer):
        if not answer:
            return 0.0
        correct = self._correct(q)
        return sum(1 for pid, cid in correct.items() if answer.get(pid) == cid) / len(correct)

    def key(self, q):
        return {"matches": self._correct(q)}


REGISTRY: dict[str, QuestionType] = {t.name: t for t in (Single(), Multiple(), TrueFalse(), Short(), Numeric(),
                                                           Ordering(), Matching())}
COMMON_FIELDS = frozenset({"id", "type", "text", "points", "critical", "tags", "feedback"})


def question_type(q: Mapping[str, Any]) -> QuestionType:
    return REGISTRY[q["type"]]


@dataclass
class QuestionResult:
    id: str
    fraction: float
    points: float
    critical: bool

    @property
    def earned(self) -> float:
        return self.fraction * self.points

    @property
    def correct(self) -> bool:
        return self.fraction >= 1.0 - 1e-9


@dataclass
class Grade:
    score: float  # percent, two decimals
    passed: bool
    critical_failed: bool
    results: list[QuestionResult] = field(default_factory=list)


def grade(questions: list[dict[str, Any]], answers: Mapping[str, Any], pass_mark: float) -> Grade:
    """Grade normalised answers (question id -> answer; missing means unanswered) against the questions drawn."""
    results = []
    for q in questions:
        qtype = question_type(q)
        fraction = qtype.score(q, answers.get(q["id"]))
        results.append(QuestionResult(id=q["id"], fraction=fraction, points=float(q.get("points", 1)),
                                      critical=bool(q.get("critical"))))
    total = sum(r.points for r in results)
    exact = 100.0 * sum(r.earned for r in results) / total if total else 0.0
    critical_failed = any(r.critical and not r.correct for r in results)
    return Grade(score=round(exact, 2), passed=exact >= pass_mark - 1e-9 and not critical_failed,
                 critical_failed=critical_failed, results=results)
