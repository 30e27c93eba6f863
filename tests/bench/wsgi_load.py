"""The WSGI app that tests/bench/load.py serves with gunicorn: the benchmark's configuration (generate.bench_config:
rate limits off, so one address may call /api/v1/verify/<code> thousands of times a second) on the database named
by BENCH_DATABASE_URL (default: $DATABASE_URL or the benchmark's SQLite file).

    gunicorn --workers 2 --bind 127.0.0.1:8000 tests.bench.wsgi_load:app
"""

from __future__ import annotations

import os

from lms import create_app
from tests.bench.generate import ROOT, bench_config, default_database_url

app = create_app(bench_config(os.environ.get("BENCH_DATABASE_URL") or default_database_url(),
                              ROOT / "instance" / "bench"))
