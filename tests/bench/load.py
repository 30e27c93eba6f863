"""Requests per second under gunicorn (2 workers) for the verification API and the trainee dashboard (issue 9).

    .venv/bin/python -m tests.bench.load [--database-url URL] [--duration 15] [--connections 16] [--threads 2]

Starts `gunicorn --workers 2 tests.bench.wsgi_load:app` (the benchmark's configuration, rate limits off) on a
free port of 127.0.0.1, waits until /healthz answers, logs a trainee holding a valid certificate in through the
server's /login form (urllib with a cookie jar) and checks each URL answers 200 with that cookie; then, for each
endpoint, wrk (apt-get install wrk) runs a 3 s warm-up and a measured run:
`wrk -t2 -c16 -d15s --latency [-H "Cookie: lms_session=..."] URL`. The table shows wrk's Requests/sec, mean
latency and latency percentiles, and the count of non-2xx/3xx answers (which must be 0). Load generator,
gunicorn and PostgreSQL share the machine. gunicorn is stopped (SIGTERM to its master) at the end.
Not a test (pytest collects only test_*.py).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from lms import create_app
from lms.accounts.models import User
from lms.certification.models import Certificate, CertificateState
from lms.db import db
from tests.bench.generate import PASSWORD, ROOT, bench_config, default_database_url

GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass
class Result:
    endpoint: str
    rps: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick(url: str) -> tuple[str, str]:
    """A trainee holding a valid certificate, and its verification code."""
    app = create_app(bench_config(url, ROOT / "instance" / "bench"))
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(
            Certificate.state == CertificateState.ACTIVE, Certificate.valid_until > datetime.now(UTC).date())
            .order_by(Certificate.id))
        if cert is None:
            raise SystemExit("no valid certificate in the database: generate a population first")
        email = db.session.get(User, cert.user_id).email
        code = cert.verification_code
        db.engine.dispose()
    return email, code


def wait_until_up(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:  # noqa: S310 (our own server)
                if r.status == 200:
                    return
        except OSError:  # refused, reset or timed out while the workers boot (URLError is an OSError)
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer /healthz in time")


def session_cookie(base: str, email: str) -> str:
    """Log in through the running server's form and return the Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = urllib.parse.urlencode({"email": email, "password": PASSWORD}).encode()
    with opener.open(base + "/login", data=body, timeout=10) as r:
        r.read()
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "lms_session=" not in cookies:
        raise SystemExit(f"login as {email} set no session cookie")
    return cookies


def check(url: str, cookie: str | None) -> None:
    """The URL answers 200 itself (a redirect, e.g. to /login, raises HTTPError)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as r:
        r.read()
        if r.status != 200:
            raise SystemExit(f"{url}: {r.status}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None  # a redirect (to /login) is an error here, not something to follow


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def wrk(url: str, cookie: str | None, *, threads: int, connections: int, seconds: int) -> str:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    done = subprocess.run([*args, url], capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout


def parse(name: str, out: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    mean = ms(re.search(r"Latency\s+(\S+)", out).group(1))
    pct = {p: ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.MULTILINE)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Result(name, rps, mean, pct["50"], pct["90"], pct["99"], requests, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=default_database_url(), help="default: $DATABASE_URL or SQLite")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each measured wrk run (default 15)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    email, code = pick(args.database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "gunicorn.log"
        env = {**os.environ, "BENCH_DATABASE_URL": args.database_url}
        proc = subprocess.Popen(  # noqa: S603
            [str(GUNICORN), "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}", "--error-logfile",
             str(log), "--log-level", "warning", "tests.bench.wsgi_load:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_up(base, proc)
            cookie = session_cookie(base, email)
            plan = [("GET /healthz (floor)", f"{base}/healthz", None),
                    ("GET /api/v1/verify/<code>", f"{base}/api/v1/verify/{code}", None),
                    ("GET / (trainee dashboard)", f"{base}/", cookie)]
            results = []
            for name, url, ck in plan:
                check(url, ck)  # 200, not a redirect to /login
                wrk(url, ck, threads=args.threads, connections=args.connections, seconds=3)  # warm-up
                results.append(parse(name, wrk(url, ck, threads=args.threads, connections=args.connections,
                                               seconds=args.duration)))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(f"\nLoad: gunicorn {args.workers} sync workers on {args.database_url.split('@')[-1]}, "
          f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s on the same machine ({os.cpu_count()} CPUs)")
    print(f"{'endpoint':<30} {'req/s':>8} {'mean ms':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
          f"{'requests':>9} {'errors':>7}")
    for r in results:
        print(f"{r.endpoint:<30} {r.rps:>8.1f} {r.mean_ms:>8.1f} {r.p50_ms:>7.1f} {r.p90_ms:>7.1f} {r.p99_ms:>7.1f} "
              f"{r.requests:>9} {r.errors:>7}")


if __name__ == "__main__":
    main()
