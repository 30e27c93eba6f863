"""YAML mappings read with their line numbers, so every problem can say `path:line: message`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from lms.content.model import Problem

_MISSING = object()
_TYPE_NAMES = {str: "text", int: "a whole number", bool: "true or false", list: "a list", dict: "a mapping",
               date: "a date (YYYY-MM-DD)"}


def compose(path: Path, text: str, problems: list[Problem], line_offset: int = 0) -> yaml.Node | None:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            problems.append(Problem(path, 1 + line_offset, "the file is empty"))
        return node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None and mark.line >= len(text.splitlines()) and getattr(exc, "context_mark", None):
            mark = exc.context_mark  # an unclosed bracket or quote: point at where it opened, not at the end
        line = (mark.line + 1 if mark else 1) + line_offset
        problems.append(Problem(path, line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
        return None


def _construct(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


class Fields:
    """One YAML mapping. Reading a field checks its type; problems are collected, never raised."""

    def __init__(self, path: Path, node: yaml.Node | None, problems: list[Problem], *, what: str,
                 line_offset: int = 0) -> None:
        self.path, self.problems, self.what, self.offset = path, problems, what, line_offset
        self.start = (node.start_mark.line + 1 if node is not None else 1) + line_offset
        self.items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        self.valid = isinstance(node, yaml.MappingNode)
        if node is None or isinstance(node, yaml.ScalarNode) and node.value == "":
            self.problem(self.start, f"{what} is empty")
            self.valid = False
            return
        if not self.valid:
            self.problem(self.start, f"{what} must be a mapping of keys to values")
            return
        for key, value in node.value:
            name = str(key.value)
            if name in self.items:
                self.problem(self._line(key), f"key '{name}' appears twice")
            self.items[name] = (key, value)

    def _line(self, node: yaml.Node) -> int:
        return node.start_mark.line + 1 + self.offset

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def line(self, key: str | None = None) -> int:
        if key is not None and key in self.items:
            return self._line(self.items[key][0])
        return self.start

    def value_line(self, key: str, index: int | None = None) -> int:
        node = self.items[key][1]
        if index is not None and isinstance(node, yaml.SequenceNode) and index < len(node.value):
            node = node.value[index]
        return self._line(node)

    def node(self, key: str) -> yaml.Node | None:
        return self.items[key][1] if key in self.items else None

    def check_known(self, allowed: set[str] | frozenset[str]) -> None:
        for name, (key, _) in self.items.items():
            if name not in allowed:
                self.problem(self._line(key), f"unknown key '{name}' in {self.what} "
                                              f"(allowed: {', '.join(sorted(allowed))})")

    def get(self, key: str, kind: type, *, required: bool = True, default: Any = None, item: type | None = None,
            minimum: int | None = None, max_length: int | None = None) -> Any:
        if key not in self.items:
            if required and self.valid:
                self.problem(self.start, f"{self.what} is missing the required key '{key}'")
            return default
        key_node, value_node = self.items[key]
        value = _construct(value_node)
        line = self._line(value_node)
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is date and isinstance(value, str):
            ok = False
        if not ok:
            name = _TYPE_NAMES.get(kind) if not isinstance(kind, tuple) else "a number"
            self.problem(line, f"'{key}' must be {name or kind.__name__}")
            return default
        if kind is str and not value.strip():
            self.problem(line, f"'{key}' must not be empty")
            return default
        if kind is str and max_length is not None and len(value) > max_length:
            self.problem(line, f"'{key}' is {len(value)} characters long; at most {max_length} fit")
            return default
        if kind is int and minimum is not None and value < minimum:
            self.problem(line, f"'{key}' must be at least {minimum}")
            return default
        if kind is list and item is not None:
            bad = [i for i, v in enumerate(value) if not isinstance(v, item) or isinstance(v, bool) and item is int]
            for i in bad:
                self.problem(self.value_line(key, i), f"item {i + 1} of '{key}' must be "
                                                      f"{_TYPE_NAMES.get(item, item.__name__)}")
            if bad:
                return default
        return value

    def sub(self, key: str, what: str, *, required: bool = True) -> Fields | None:
        if key not in self.items:
            if required and self.valid:
                self.problem(self.start, f"{self.what} is missing the required key '{key}'")
            return None
        return Fields(self.path, self.items[key][1], self.problems, what=what, line_offset=self.offset)

    def sequence(self, key: str) -> list[yaml.Node]:
        node = self.node(key)
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(self._line(node), f"'{key}' must be a list")
            return []
        return list(node.value)
