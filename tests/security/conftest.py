"""Fixtures of the route-walking security tests: `world`, the objects every URL argument points at."""

from __future__ import annotations

import pytest

from tests.security.world import World, build_world


@pytest.fixture
def world(app, people, outbox, tmp_path) -> World:
    return build_world(app, people, outbox, tmp_path / "content")
