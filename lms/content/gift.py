"""Moodle GIFT files read into the quiz format of quizzes/<slug>.yaml (docs/authoring.md, "Quizzes").

Pure: no Flask, no database. `parse_gift(text, path)` returns a quiz dict (`title` and `questions`; the
caller adds the settings) and every problem found, each with its line. It never raises on bad input, and
nothing it cannot represent is dropped quietly: essays, descriptions, HTML text, extra matching choices
and the like are reported as problems, and a question with a problem is left out of the dict.

The GIFT rules followed are Moodle's (question/format/gift/format.php): questions are separated by blank
lines, `//` lines are comments, `\\~ \\= \\# \\{ \\} \\: \\\\` escape a character and `\\n` is a new line,
and the kind of question follows from its answer block:

    {}  essay (not supported)          {#...}  numeric             {... ~ ...}  choice
    {=a -> b ...}  matching            {T} {F} {TRUE} {FALSE}  true/false    {=a =b}  short answer

A choice block with an '=' answer is `single`, one without is `multiple` (each option then carries its
weight). Text after the answer block makes a "missing word" question: the block's place in the text
becomes `_____`."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lms.content.model import Problem
from lms.quizzes.grading import normalise_text

BLANK = "_____"
_ESCAPES = {"~": "~", "=": "=", "#": "#", "{": "{", "}": "}", ":": ":", "\\": "\\", "n": "\n"}
_FORMATS = ("markdown", "plain", "moodle", "html")
_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_CONTEXT = re.compile(r"\$\w*\$")  # $course$, $system$...: where a Moodle category lives, not its name
_ID_LENGTH = 60


def parse_gift(text: str, path: Path) -> tuple[dict[str, Any], list[Problem]]:
    """The quiz (`title`, `questions`) and the problems found, in file order."""
    parser = _Parser(path)
    questions = parser.parse(text)
    return {"title": _title_from(path), "questions": questions}, parser.problems


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits and single hyphens ('' when nothing is left)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:_ID_LENGTH].strip("-")


def _title_from(path: Path) -> str:
    words = re.sub(r"[-_\s]+", " ", Path(path).stem).strip()
    return words[:1].upper() + words[1:] if words else "Imported quiz"


def _clean(text: str) -> str:
    """Trailing spaces off every line, blank space off both ends."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _clip(text: str, size: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 3] + "..."


def _number(raw: str) -> int | float | None:
    raw = raw.strip()
    if not _NUMBER.fullmatch(raw):
        return None
    try:
        value: int | float = int(raw) if _INTEGER.fullmatch(raw) else float(raw)
    except ValueError:  # more digits than Python converts
        return None
    try:
        if not math.isfinite(float(value)):
            return None
    except OverflowError:  # an int too large for a float: grading could not compare an answer with it
        return None
    return value


def _tidy(value: int | float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


@dataclass(frozen=True)
class _Text:
    """Text with GIFT escapes resolved, remembering which characters were escaped and each one's line."""

    chars: str
    escaped: tuple[bool, ...]
    lines: tuple[int, ...]
    end_line: int  # the line just past the last character

    @classmethod
    def from_lines(cls, numbered: list[tuple[int, str]]) -> _Text:
        chars: list[str] = []
        escaped: list[bool] = []
        lines: list[int] = []
        for k, (number, raw) in enumerate(numbered):
            i = 0
            while i < len(raw):
                if raw[i] == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
                    chars.append(_ESCAPES[raw[i + 1]])
                    escaped.append(True)
                    i += 2
                else:
                    chars.append(raw[i])
                    escaped.append(False)
                    i += 1
                lines.append(number)
            if k < len(numbered) - 1:
                chars.append("\n")
                escaped.append(False)
                lines.append(number)
        end = numbered[-1][0] if numbered else 1
        return cls("".join(chars), tuple(escaped), tuple(lines), end)

    def __len__(self) -> int:
        return len(self.chars)

    def __str__(self) -> str:
        return self.chars

    def __getitem__(self, part: slice) -> _Text:
        start, stop, _ = part.indices(len(self.chars))
        stop = max(start, stop)
        return _Text(self.chars[start:stop], self.escaped[start:stop], self.lines[start:stop], self.line_at(stop))

    def line_at(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.end_line

    @property
    def line(self) -> int:
        return self.line_at(0)

    def _plain(self, at: int, size: int) -> bool:
        return not any(self.escaped[at:at + size])

    def find(self, sub: str, start: int = 0) -> int:
        """The first occurrence of `sub` with none of its characters escaped, or -1."""
        at = self.chars.find(sub, start)
        while at >= 0 and not self._plain(at, len(sub)):
            at = self.chars.find(sub, at + 1)
        return at

    def rfind(self, sub: str) -> int:
        at = self.chars.rfind(sub)
        while at >= 0 and not self._plain(at, len(sub)):
            at = self.chars.rfind(sub, 0, at + len(sub) - 1)
        return at

    def startswith(self, prefix: str) -> bool:
        return self.chars.startswith(prefix) and self._plain(0, len(prefix))

    def positions(self, marks: str) -> list[int]:
        return [i for i, c in enumerate(self.chars) if c in marks and not self.escaped[i]]

    def strip(self) -> _Text:
        start, stop = 0, len(self.chars)
        while start < stop and self.chars[start].isspace():
            start += 1
        while stop > start and self.chars[stop - 1].isspace():
            stop -= 1
        return self[start:stop]


@dataclass
class _Answer:
    mark: str  # '=', '~', or '' for text before the first mark
    body: _Text
    line: int


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.tags: list[str] = []
        self.ids: set[str] = set()

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    # --- the file: blocks, comments, categories -------------------------------------------------------------

    def parse(self, text: str) -> list[dict[str, Any]]:
        text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        questions: list[dict[str, Any]] = []
        for item in self._blocks(text.split("\n")):
            if isinstance(item, tuple):
                self._category(*item)
            else:
                question = self._question(item)
                if question is not None:
                    questions.append(question)
        return questions

    def _blocks(self, lines: list[str]) -> Iterator[list[tuple[int, str]] | tuple[str, int]]:
        """Questions (their numbered lines) and categories ((name, line)), in file order."""
        block: list[tuple[int, str]] = []
        for number, raw in enumerate(lines, start=1):
            stripped = raw.strip()
            if stripped.startswith("//"):
                continue  # a comment line, even inside a question: Moodle ignores it the same way
            if not stripped or stripped.startswith("$CATEGORY:"):
                if block:
                    yield block
                block = []
                if stripped:
                    yield stripped.removeprefix("$CATEGORY:"), number
            else:
                block.append((number, raw))
        if block:
            yield block

    def _category(self, name: str, line: int) -> None:
        """`$CATEGORY: a/b/c`: the questions after it are tagged with the last part, as a slug."""
        full = str(_Text.from_lines([(line, name)])).strip()
        parts = [p.replace("//", "/").strip() for p in re.split(r"(?<!/)/(?!/)", full)]
        parts = [p for p in parts if p]
        if not parts:
            self.problem(line, "$CATEGORY: without a category name")
            return
        last = parts[-1]
        if last.lower() == "top" or _CONTEXT.fullmatch(last):
            self.tags = []  # Moodle's top category of a context: no name to tag with
            return
        tag = slugify(last)
        if not tag:
            self.problem(line, f"the category '{_clip(last)}' has no letters or digits to make a tag from")
            return
        self.tags = [tag]

    # --- one question ---------------------------------------------------------------------------------------

    def _question(self, block: list[tuple[int, str]]) -> dict[str, Any] | None:
        before = len(self.problems)
        t = _Text.from_lines(block).strip()
        start = t.line
        title = None
        if t.startswith("::"):
            end = t.find("::", 2)
            if end < 0:
                self.problem(start, "the question title has no closing '::' (write \\: for a literal colon)")
                return None
            title = _clean(str(t[2:end]))
            t = t[end + 2:].strip()
        if t.startswith("["):
            t = self._format(t, "HTML-format questions are not supported")

        opening, closing = t.find("{"), t.find("}")
        if opening < 0 and closing < 0:
            self.problem(start, "text with no answer block: descriptions are not supported "
                                "(make it a // comment, or give it an answer block in { })")
            return None
        if closing >= 0 and (opening < 0 or closing < opening):
            self.problem(t.line_at(closing), "'}' without an opening '{' (write \\} for a literal brace)")
            return None
        if closing < 0:
            self.problem(t.line_at(opening), "the answer block '{' is never closed with '}'")
            return None
        inner_open = t.find("{", opening + 1)
        if 0 <= inner_open < closing:
            self.problem(t.line_at(inner_open), "'{' before the answer block opened on line "
                                                f"{t.line_at(opening)} was closed (write \\{{ for a literal brace)")
            return None
        tail = t[closing + 1:]
        again = min((i for i in (tail.find("{"), tail.find("}")) if i >= 0), default=-1)
        if again >= 0:
            if tail.chars[again] == "{":
                self.problem(tail.line_at(again), "a second answer block: a question may have only one")
            else:
                self.problem(tail.line_at(again), "'}' without an opening '{' (write \\} for a literal brace)")
            return None

        head, inner, line = t[:opening], t[opening + 1:closing], t.line_at(opening)
        text = _clean(str(head) + (BLANK + str(tail) if str(tail).strip() else ""))
        if not text:
            self.problem(start, "the question has no text")

        feedback = ""
        general = inner.rfind("####")
        if general >= 0:
            feedback = self._string(inner[general + 4:])
            inner = inner[:general]
        inner = inner.strip()

        body = self._answer_block(inner, line)
        if body is None or len(self.problems) > before:
            return None
        question: dict[str, Any] = {"id": self._id(title, text), "type": body.pop("type")}
        if self.tags:
            question["tags"] = list(self.tags)
        question["text"] = text
        if feedback:
            question["feedback"] = feedback
        question.update(body)
        return question

    def _id(self, title: str | None, text: str) -> str:
        base = slugify(title or "")
        if not base:
            base = "q-" + hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
        qid, n = base, 2
        while qid in self.ids:
            qid, n = f"{base}-{n}", n + 1
        self.ids.add(qid)
        return qid

    def _format(self, t: _Text, html_message: str) -> _Text:
        """Drop a leading [markdown], [plain] or [moodle]; report [html]. Other [text] is left alone."""
        end = t.find("]")
        name = str(t[1:end]).strip().lower() if end > 0 else ""
        if name not in _FORMATS:
            return t
        if name == "html":
            self.problem(t.line, html_message)
        return t[end + 1:]

    def _string(self, t: _Text) -> str:
        """A piece of text (an option, a feedback): format prefix checked, escapes resolved, trimmed."""
        t = t.strip()
        if t.startswith("["):
            t = self._format(t, "HTML-format text is not supported")
        return _clean(str(t))

    # --- answer blocks --------------------------------------------------------------------------------------

    def _answer_block(self, inner: _Text, line: int) -> dict[str, Any] | None:
        if not inner:
            self.problem(line, "essay questions ({}) are not supported")
            return None
        if inner.startswith("#"):
            return self._numeric(inner[1:], line)
        if inner.find("~") >= 0:
            return self._choice(inner, line)
        if inner.find("=") >= 0 and inner.find("->") >= 0:
            return self._matching(inner, line)
        hash_at = inner.find("#")
        word = str(inner[:hash_at] if hash_at >= 0 else inner).strip().upper()
        if word in _TRUE_FALSE:
            return self._true_false(inner, _TRUE_FALSE[word])
        if inner.find("=") >= 0:
            return self._short(inner, line)
        self.problem(line, f"cannot tell what kind of question '{{{_clip(str(inner))}}}' is: start each answer "
                           "with '=' (right) or '~' (wrong), or write T, F or #number")
        return None

    def _split(self, inner: _Text, marks: str) -> list[_Answer]:
        """The answers, cut at each unescaped mark; text before the first mark is an answer with mark ''."""
        cuts = inner.positions(marks)
        bounds = [*cuts, len(inner)]
        answers = [_Answer(inner.chars[i], inner[i + 1:j], inner.line_at(i))
                   for i, j in zip(bounds, bounds[1:], strict=False)]
        lead = inner[:bounds[0]].strip()
        if lead:
            answers.insert(0, _Answer("", lead, lead.line))
        return answers

    def _no_lead(self, answers: list[_Answer]) -> list[_Answer]:
        if answers and not answers[0].mark:
            self.problem(answers[0].line, f"'{_clip(str(answers[0].body))}' comes before the first answer: "
                                          "start every answer with '=' (right) or '~' (wrong)")
            return answers[1:]
        return answers

    def _weight(self, answer: _Answer, low: int = -100) -> tuple[int | float | None, _Text]:
        """A leading %weight%, checked against low..100, and the rest of the answer."""
        body = answer.body.strip()
        if not body.startswith("%"):
            return None, body
        end = body.find("%", 1)
        if end < 0:
            return None, body  # a lone % is text
        raw = str(body[1:end]).strip()
        value = _number(raw)
        if value is None:
            self.problem(answer.line, f"'%{raw}%' is not a weight: write a percentage such as %50% or %-25%")
            return None, body[end + 1:]
        value = _tidy(value)
        if not low <= value <= 100:
            self.problem(answer.line, f"the weight {raw}% is outside {low}..100")
        return value, body[end + 1:]

    def _text_and_feedback(self, body: _Text) -> tuple[_Text, str]:
        at = body.find("#")
        if at < 0:
            return body, ""
        return body[:at], self._string(body[at + 1:])

    def _choice(self, inner: _Text, line: int) -> dict[str, Any]:
        answers = self._no_lead(self._split(inner, "=~"))
        single = any(a.mark == "=" for a in answers)
        options: list[dict[str, Any]] = []
        weights: list[int | float] = []
        weighted = False
        for n, answer in enumerate(answers, start=1):
            weight, rest = self._weight(answer)
            text_part, feedback = self._text_and_feedback(rest)
            text = self._string(text_part)
            if not text:
                self.problem(answer.line, f"option {n} has no text")
            weighted = weighted or weight is not None
            weights.append(weight if weight is not None else 100 if answer.mark == "=" else 0)
            option: dict[str, Any] = {"id": _option_id(n - 1), "text": text}
            if answer.mark == "=":
                option["correct"] = True
            if feedback:
                option["feedback"] = feedback
            options.append(option)
        if len(options) < 2:
            self.problem(line, "a choice question needs at least two options")
        if single and not weighted:
            right = sum(1 for a in answers if a.mark == "=")
            if right != 1:
                self.problem(line, f"a single-choice question needs exactly one right answer ('='), not {right}")
            return {"type": "single", "options": options}
        for option, weight in zip(options, weights, strict=True):
            option.pop("correct", None)
            option["weight"] = weight
            if "feedback" in option:
                option["feedback"] = option.pop("feedback")  # keep id, text, weight, feedback in that order
        if single:
            if not any(w == 100 for w in weights):
                self.problem(line, "no option is fully right: one needs '=' or a weight of 100%")
            return {"type": "single", "options": options}
        positive = sum(w for w in weights if w > 0)
        if positive == 0:
            self.problem(line, "no right answer: mark the right option with '=', or give the right options of a "
                               "multiple-answer question positive weights such as ~%50%")
        elif positive < 99.5:
            self.problem(line, f"the positive weights add up to {_tidy(round(positive, 3))}%: they must add up to "
                               "100% so that choosing every right option scores full marks")
        return {"type": "multiple", "options": options}

    def _short(self, inner: _Text, line: int) -> dict[str, Any]:
        answers = self._no_lead(self._split(inner, "="))
        accepted: list[tuple[str, int | float]] = []
        for n, answer in enumerate(answers, start=1):
            weight, rest = self._weight(answer, low=0)
            text_part, feedback = self._text_and_feedback(rest)
            text = self._string(text_part)
            if not text:
                self.problem(answer.line, f"accepted answer {n} is empty")
            elif not normalise_text(text):  # what grading compares: the quiz would refuse it, on no line of this file
                self.problem(answer.line, f"accepted answer {n} ('{_clip(text)}') is only punctuation or quotes, "
                                          "which are ignored when answers are compared")
            if feedback:
                self.problem(answer.line, "feedback on a short answer's accepted answers is not supported: "
                                          "put it in the question's general feedback (####)")
            accepted.append((text, 100 if weight is None else weight))
        if accepted and not any(w == 100 for _, w in accepted):
            self.problem(line, "no accepted answer is fully right: at least one needs a weight of 100% (or none)")
        if all(w == 100 for _, w in accepted):
            return {"type": "short", "answers": [text for text, _ in accepted]}
        return {"type": "short", "answers": [{"text": text, "weight": w} for text, w in accepted]}

    def _true_false(self, inner: _Text, answer: bool) -> dict[str, Any]:
        # GIFT: {T#shown for a wrong answer#shown for a right answer}. For {T} a wrong answer is "false";
        # for {F} it is "true".
        first = inner.find("#")
        second = inner.find("#", first + 1) if first >= 0 else -1
        wrong = self._string(inner[first + 1:second] if second >= 0 else inner[first + 1:]) if first >= 0 else ""
        right = self._string(inner[second + 1:]) if second >= 0 else ""
        feedback_true, feedback_false = (right, wrong) if answer else (wrong, right)
        body: dict[str, Any] = {"type": "true_false", "answer": answer}
        if feedback_true:
            body["feedback_true"] = feedback_true
        if feedback_false:
            body["feedback_false"] = feedback_false
        return body

    def _matching(self, inner: _Text, line: int) -> dict[str, Any]:
        answers = self._no_lead(self._split(inner, "="))
        pairs: list[dict[str, Any]] = []
        for n, answer in enumerate(answers, start=1):
            arrow = answer.body.find("->")
            if arrow < 0:
                self.problem(answer.line, f"pair {n} has no '->': write =prompt -> match")
                continue
            if answer.body.find("#") >= 0:
                self.problem(answer.line, "feedback is not supported on matching pairs (write \\# for a literal #)")
            prompt, match = self._string(answer.body[:arrow]), self._string(answer.body[arrow + 2:])
            if not prompt:
                self.problem(answer.line, "a match without a prompt (= -> ...) is an extra wrong choice: "
                                          "extra choices are not supported")
            elif not match:
                self.problem(answer.line, f"pair {n} has nothing after '->'")
            pairs.append({"id": f"p{len(pairs) + 1}", "prompt": prompt, "match": match})
        if len(answers) < 2:
            self.problem(line, "a matching question needs at least two pairs")
        return {"type": "matching", "pairs": pairs}

    def _numeric(self, inner: _Text, line: int) -> dict[str, Any]:
        other = inner.find("~")
        if other >= 0:  # {#... ~#feedback for any other number}
            rest = inner[other + 1:].strip()
            if rest.startswith("#"):
                rest = rest[1:]
            if str(rest).strip():
                self.problem(inner.line_at(other), "feedback for any other number (~#...) is not supported: "
                                                   "put it in the question's general feedback (####)")
            inner = inner[:other]
        answers = self._split(inner, "=")
        if not answers:
            self.problem(line, "the numeric answer block has no number")
        result: list[dict[str, Any]] = []
        for answer in answers:
            weight, rest = self._weight(answer, low=0)
            value_part, feedback = self._text_and_feedback(rest)
            accepted = self._number_answer(value_part.strip(), answer.line)
            if accepted is None:
                continue
            if weight is not None and weight != 100:
                accepted["weight"] = weight
            if feedback:
                accepted["feedback"] = feedback
            result.append(accepted)
        if result and not any(a.get("weight", 100) == 100 for a in result):
            self.problem(line, "no numeric answer is fully right: at least one needs a weight of 100% (or none)")
        return {"type": "numeric", "answers": result}

    def _number_answer(self, value: _Text, line: int) -> dict[str, Any] | None:
        dots, colon = value.find(".."), value.find(":")
        if dots > 0:
            low_raw, high_raw = str(value[:dots]).strip(), str(value[dots + 2:]).strip()
            low, high = self._parse_number(low_raw, line), self._parse_number(high_raw, line)
            if low is None or high is None:
                return None
            if low > high:
                self.problem(line, f"the range {low_raw}..{high_raw} is empty: write the lower number first")
                return None
            return {"min": low, "max": high}
        number_raw, tolerance_raw = (str(value[:colon]), str(value[colon + 1:])) if colon > 0 else (str(value), "0")
        number = self._parse_number(number_raw.strip(), line)
        tolerance = self._parse_number(tolerance_raw.strip(), line)
        if number is None or tolerance is None:
            return None
        if tolerance < 0:
            self.problem(line, f"the tolerance {tolerance_raw.strip()} is negative")
            return None
        return {"value": number, "tolerance": tolerance}

    def _parse_number(self, raw: str, line: int) -> int | float | None:
        value = _number(raw)
        if value is None:
            self.problem(line, f"'{_clip(raw)}' is not a number" if raw else "a numeric answer is missing a number")
        return value


def _option_id(index: int) -> str:
    """a, b, ... z, aa, ab, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters
