"""lms.security.is_safe_next: only a path on this site may be the target of a redirect after login."""

from __future__ import annotations

import pytest

from lms.security import is_safe_next

SAFE = [
    "/",
    "/admin/users?q=a",
    "/admin/users?q=a&role=trainee#top",
    "/settings",
    "/?next=//evil.example",  # a query string is not a host
    "/%2F%2Fevil.example",  # an encoded slash stays part of the path
    "/courses/caf%C3%A9",
    "/" + "a" * 1999,  # exactly the limit
]

UNSAFE = [
    None,
    "",
    "http://evil.example",
    "https://evil.example/admin",
    "HTTP://evil.example",
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil",
    "/\\/evil.example",
    "\\\\evil",
    "\\/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https:evil",
    "http:/evil.example",
    "mailto:someone@example.org",
    "evil.example",
    "admin/users",  # relative: not a site path
    "?q=a",
    "#top",
    " /admin",  # leading space
    "/admin\nLocation: http://evil.example",
    "/admin\r\nSet-Cookie: x=1",
    "/\t/evil.example",
    "\t//evil.example",
    "/admin\x00",
    "\x01//evil.example",
    "/" + "a" * 2999,
    "/" + "a" * 2000,  # one over the limit
]


@pytest.mark.parametrize("target", SAFE)
def test_site_paths_are_safe(target):
    assert is_safe_next(target) is True


@pytest.mark.parametrize("target", UNSAFE)
def test_anything_else_is_refused(target):
    assert is_safe_next(target) is False
