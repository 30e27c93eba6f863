"""Login throttling with counters in Redis, as when several workers or hosts share them.

Runs when LMS_TEST_REDIS_URL is set (CI sets it; a laptop without Redis skips it)."""

import os
import secrets

import pytest

from tests.conftest import Browser

REDIS_URL = os.environ.get("LMS_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="LMS_TEST_REDIS_URL not set")


def test_two_app_instances_share_the_login_limit(app_factory, people):
    # Two separate apps stand for two gunicorn workers: the failures counted by one are seen by the other.
    prefix = f"lms-test-{secrets.token_hex(4)}"
    config = dict(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                  LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LIMIT_PER_ADDRESS="100 per minute")
    worker_a, worker_b = Browser(app_factory(**config).test_client()), Browser(app_factory(**config).test_client())
    for _ in range(2):
        assert worker_a.login(people.trainee.email, "wrong password 123").status_code == 200
    assert worker_b.login(people.trainee.email, "wrong password 123").status_code == 200
    assert worker_b.login(people.trainee.email, "wrong password 123").status_code == 429
    assert worker_a.login(people.trainee.email).status_code == 429  # even the right password waits
    # and the counters really are in Redis, where other hosts see them
    import redis

    keys = redis.Redis.from_url(REDIS_URL).keys(f"*{prefix}*")
    assert keys, "no rate-limit counters under our prefix in Redis"
