"""Markdown to safe HTML: markdown-it-py (CommonMark plus tables) with raw HTML off, then nh3 removes
anything executable that got through. Used for lessons and for anything people type."""

from __future__ import annotations

import re
from collections.abc import Mapping

import nh3
from markdown_it import MarkdownIt

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# The resources a lesson may name; their text comes from configuration (see lms.config RESOURCES).
RESOURCE_NAMES = frozenset({"emergency_number", "crisis_line", "drug_helpline"})

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True}).enable("table")

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "img",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}


def substitute(text: str, resources: Mapping[str, str]) -> str:
    """Put the configured resources in place of {{name}}; unknown names are left visible, not dropped."""
    return PLACEHOLDER.sub(lambda m: resources.get(m.group(1), m.group(0)), text)


def sanitise(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def render(text: str, resources: Mapping[str, str] | None = None) -> str:
    return sanitise(_md.render(substitute(text, resources or {})))


def unknown_placeholders(text: str) -> list[tuple[int, str]]:
    """(line within text, name) of each {{name}} that is not a known resource."""
    found = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for m in PLACEHOLDER.finditer(line):
            if m.group(1) not in RESOURCE_NAMES:
                found.append((lineno, m.group(1)))
    return found


def word_count(text: str) -> int:
    return len(re.findall(r"\w+", text))
