"""Server time and SQL statements per request of the key pages and API calls (issue 9), next to a floor.

    .venv/bin/python -m tests.bench.run [--database-url URL] [--trainees N --generate] [--runs R] [--json FILE]
    .venv/bin/python -m tests.bench.run --compare small.json large.json

"Server time" is the wall-clock time around one `app.test_client()` request: routing, authentication, the
view, its SQL and template rendering, in this process, without a network or a WSGI server in front. Each
endpoint is warmed up (3 requests) and then requested R times; the table shows the median and the p95
(nearest rank) of those R, and the ratio of the median to the floor's: `/healthz`, which runs one `SELECT 1`
through the same app, session and middleware. Statements are counted with a `before_cursor_execute` listener
on the app's engine (as tests/web/test_reports.py does); the number is the largest seen over the R requests.

People are logged in through the real login form (CSRF checks and rate limits are switched off in the
benchmark's configuration, and every account has generate.PASSWORD). The quiz calls (start, save, submit)
need a trainee who may start a quiz: each run takes the next trainee who has done nothing yet (or is part-way
through the courses) and starts the quiz of their next course; a run whose start answers 409 is skipped.

With --generate the database is emptied, migrated and filled with N trainees first (see generate.py).
Not a test (pytest collects only test_*.py).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from lms import create_app
from lms.accounts.models import Role, User
from lms.certification.models import Certificate, CertificateState
from lms.db import db
from lms.learning.models import Course, CourseCompletion, Lesson
from lms.quizzes.models import Attempt
from tests.bench.generate import PASSWORD, ROOT, bench_config, default_database_url, generate


@dataclass
class Row:
    endpoint: str
    statements: int
    median_ms: float
    p95_ms: float
    ratio: float = 0.0
    runs: int = 0


class Counter:
    """SQL statements sent on the app's engine."""

    def __init__(self, app: Flask) -> None:
        self.count = 0
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def login(app: Flask, email: str) -> FlaskClient:
    """A client logged in through the login form. API writes with a session cookie check the CSRF token even
    when forms do not (lms.api.core), so the token of the home page goes along as X-CSRFToken."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"login as {email} failed: {response.status_code}")
    match = CSRF_RE.search(client.get("/").get_data(as_text=True))
    if match:
        client.environ_base["HTTP_X_CSRFTOKEN"] = match.group(1)
    return client


def nearest_rank(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct * len(ordered)) - 1)]


def measure(name: str, counter: Counter, call: Callable[[], Any], runs: int, *, expect: int = 200,
            warmup: int = 3) -> Row:
    for _ in range(warmup):
        call()
    times, statements = [], []
    for _ in range(runs):
        before = counter.count
        start = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - start)
        statements.append(counter.count - before)
        if response.status_code != expect:
            raise SystemExit(f"{name}: {response.status_code} (expected {expect})\n"
                             f"{response.get_data(as_text=True)[:500]}")
    return Row(name, max(statements), statistics.median(times) * 1000, nearest_rank(times, 0.95) * 1000, runs=runs)


def pick(app: Flask) -> dict[str, Any]:
    """The people and objects the benchmark visits, found in the generated data."""
    with app.app_context():
        today = datetime.now(UTC).date()
        cert = db.session.scalar(select(Certificate).where(
            Certificate.state == CertificateState.ACTIVE, Certificate.valid_until > today).order_by(Certificate.id))
        if cert is None:
            raise SystemExit("no valid certificate in the database: generate a population first")
        holder = db.session.get(User, cert.user_id)
        supervisor = db.session.get(User, holder.supervisor_id)
        admin = db.session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id))
        course = db.session.scalar(select(Course).where(Course.active.is_(True)).order_by(Course.position))
        lesson = db.session.scalar(select(Lesson).where(Lesson.course_id == course.id, Lesson.active.is_(True))
                                   .order_by(Lesson.position))
        # quiz takers: trainees without any attempt (nothing done, or part-way through the courses)
        with_attempts = select(Attempt.user_id).distinct()
        takers = []
        done = dict(db.session.execute(select(CourseCompletion.user_id, func.count()).group_by(
            CourseCompletion.user_id)).all())
        courses = list(db.session.scalars(select(Course).where(Course.active.is_(True)).order_by(Course.position)))
        for user in db.session.scalars(select(User).where(User.role == Role.TRAINEE, User.id.not_in(with_attempts))
                                       .order_by(User.id)):
            nxt = courses[min(done.get(user.id, 0), len(courses) - 1)]
            if nxt.quiz_slug:
                takers.append((user.email, nxt.quiz_slug))
        return {"holder": holder.email, "holder_id": holder.id, "supervisor": supervisor.email,
                "admin": admin.email, "serial": cert.serial, "code": cert.verification_code,
                "lesson": f"/courses/{course.slug}/lessons/{lesson.slug}", "takers": takers}


def answer_for(question: dict[str, Any]) -> Any:
    kind = question["type"]
    if kind in ("single", "true_false"):
        return question["options"][0]["id"]
    if kind == "multiple":
        return [question["options"][0]["id"]]
    if kind == "ordering":
        return [item["id"] for item in question["items"]]
    if kind == "matching":
        return {p["id"]: question["choices"][0]["id"] for p in question["prompts"]}
    if kind == "numeric":
        return 1
    return "an answer"


def quiz_rows(app: Flask, counter: Counter, takers: list[tuple[str, str]], runs: int) -> list[Row]:
    """Start, save all answers, submit: once per quiz taker, up to `runs` takers."""
    samples: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in ("start", "save", "submit")}

    def timed(key: str, call: Callable[[], Any], expect: tuple[int, ...]) -> Any:
        before, start = counter.count, time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - start
        if response.status_code not in expect:
            return None
        samples[key][0].append(elapsed)
        samples[key][1].append(counter.count - before)
        return response

    for email, slug in takers:
        if len(samples["submit"][0]) >= runs:
            break
        client = login(app, email)
        started = timed("start", lambda c=client, s=slug: c.post(f"/api/v1/quizzes/{s}/attempts"), (201,))
        if started is None:
            continue
        attempt = started.get_json()
        answers = {q["id"]: answer_for(q) for q in attempt["questions"]}
        aid = attempt["id"]
        if timed("save", lambda c=client, a=aid, b=answers: c.put(f"/api/v1/attempts/{a}/answers",
                                                                  json={"answers": b}), (200,)) is None:
            raise SystemExit(f"saving answers failed for {email}")
        if timed("submit", lambda c=client, a=aid: c.post(f"/api/v1/attempts/{a}/submit", json={}), (200,)) is None:
            raise SystemExit(f"submitting failed for {email}")
    rows = []
    for key, label in (("start", "POST /api/v1/quizzes/<slug>/attempts"),
                       ("save", "PUT /api/v1/attempts/<id>/answers"),
                       ("submit", "POST /api/v1/attempts/<id>/submit")):
        times, statements = samples[key]
        if times:
            rows.append(Row(label, max(statements), statistics.median(times) * 1000,
                            nearest_rank(times, 0.95) * 1000, runs=len(times)))
    return rows


def uncached(app: Flask, call: Callable[[], Any]) -> Callable[[], Any]:
    """The call with the administrators' report cache switched off: the figures computed on every request."""
    def computed() -> Any:
        kept = app.config["REPORT_CACHE_SECONDS"]
        app.config["REPORT_CACHE_SECONDS"] = 0
        try:
            return call()
        finally:
            app.config["REPORT_CACHE_SECONDS"] = kept
    return computed


def run(app: Flask, runs: int) -> list[Row]:
    counter = Counter(app)
    who = pick(app)
    anonymous = app.test_client()
    trainee = login(app, who["holder"])
    supervisor = login(app, who["supervisor"])
    admin = login(app, who["admin"])
    code, serial, holder_id = who["code"], who["serial"], who["holder_id"]
    plan: list[tuple[str, Callable[[], Any]]] = [
        ("GET /healthz (floor)", lambda: anonymous.get("/healthz")),
        ("GET / (trainee dashboard)", lambda: trainee.get("/")),
        ("GET lesson page", lambda: trainee.get(who["lesson"])),
        ("GET / (supervisor)", lambda: supervisor.get("/")),
        ("GET /supervision", lambda: supervisor.get("/supervision")),
        ("GET /admin/reports (computed)", uncached(app, lambda: admin.get("/admin/reports"))),
        ("GET /admin/reports (kept 120 s)", lambda: admin.get("/admin/reports")),
        ("GET /verify/<code>", lambda: anonymous.get(f"/verify/{code}")),
        ("GET /api/v1/verify/<code>", lambda: anonymous.get(f"/api/v1/verify/{code}")),
        ("GET /api/v1/me/eligibility", lambda: trainee.get("/api/v1/me/eligibility")),
        ("GET /api/v1/facilitators/<id>/eligibility",
         lambda: supervisor.get(f"/api/v1/facilitators/{holder_id}/eligibility")),
        ("GET /certificates/<serial>/pdf", lambda: trainee.get(f"/certificates/{serial}/pdf")),
    ]
    rows = [measure(name, counter, call, runs) for name, call in plan]
    rows += quiz_rows(app, counter, who["takers"], runs)
    floor = rows[0].median_ms
    for row in rows:
        row.ratio = row.median_ms / floor
    return rows


def print_table(rows: list[Row], title: str) -> None:
    print(f"\n{title}")
    print(f"{'endpoint':<44} {'stmts':>5} {'median ms':>10} {'p95 ms':>8} {'x floor':>8} {'runs':>5}")
    for r in rows:
        print(f"{r.endpoint:<44} {r.statements:>5} {r.median_ms:>10.1f} {r.p95_ms:>8.1f} {r.ratio:>8.1f} {r.runs:>5}")


def compare(small_file: Path, large_file: Path) -> None:
    small, large = (json.loads(Path(f).read_text()) for f in (small_file, large_file))
    before = {r["endpoint"]: r for r in small["rows"]}
    print(f"\nStatements per request, N={small['trainees']} against N={large['trainees']} "
          f"({small['database']} / {large['database']}); targets at the larger N: statements not growing, "
          "median < 50 ms, median < 10x floor")
    print(f"{'endpoint':<44} {'stmts':>6} {'stmts':>6} {'median':>8} {'median':>8}  verdict")
    for r in large["rows"]:
        b = before.get(r["endpoint"])
        if b is None:
            continue
        problems = []
        if r["statements"] > b["statements"]:
            problems.append("statements grow")
        if r["median_ms"] >= 50:
            problems.append(">= 50 ms")
        if r["ratio"] >= 10 and "floor" not in r["endpoint"]:
            problems.append(">= 10x floor")
        print(f"{r['endpoint']:<44} {b['statements']:>6} {r['statements']:>6} {b['median_ms']:>8.1f} "
              f"{r['median_ms']:>8.1f}  {'ok' if not problems else ', '.join(problems)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=default_database_url(), help="default: $DATABASE_URL or SQLite")
    parser.add_argument("--trainees", type=int, default=100, help="N for --generate (default 100)")
    parser.add_argument("--generate", action="store_true", help="empty the database and generate N trainees first")
    parser.add_argument("--runs", type=int, default=30, help="requests per endpoint (default 30)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--json", type=Path, help="also write the table to this file")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("SMALL", "LARGE"),
                        help="compare two --json files and exit")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.generate:
        app = generate(args.database_url, args.trainees, seed=args.seed, reset=True)
    else:
        app = create_app(bench_config(args.database_url, ROOT / "instance" / "bench"))
    with app.app_context():
        trainees = db.session.scalar(select(func.count()).select_from(User).where(User.role == Role.TRAINEE))
        database = db.engine.dialect.name
    if not trainees:
        raise SystemExit("the database has no trainees: run with --generate")
    rows = run(app, args.runs)
    print_table(rows, f"N={trainees} trainees on {database}, {args.runs} runs per endpoint")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"trainees": trainees, "database": database, "runs": args.runs,
                                         "rows": [asdict(r) for r in rows]}, indent=1))


if __name__ == "__main__":
    main()
