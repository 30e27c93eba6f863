"""Time and peak memory of exporting every record, as `lms export-records` does (issue 9).

    .venv/bin/python -m tests.bench.exports [--database-url URL]

Each export runs in a fresh subprocess (`python -m tests.bench.exports --child FORMAT`) that makes the app
with the benchmark's configuration and writes lms.records.export.stream(fmt, kind, None) -- the generator
behind the CLI command -- to /dev/null, through a text file opened as the command's --output opens it. The
audit note the command adds afterwards is left out, so the bench database is not changed. A baseline child
does the same imports, makes the app and runs `SELECT 1` (so the driver and a connection are loaded) but
exports nothing. Peak memory is the child's maximum resident set size from os.wait4 (the same kernel counter
as getrusage(RUSAGE_CHILDREN).ru_maxrss, kB on Linux, but for that one child, so the order of the children
does not matter); the growth is the export's peak minus the baseline's. Target at N=10,000: growth < 100 MB.
Not a test (pytest collects only test_*.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from tests.bench.generate import ROOT, default_database_url

EXPORTS = (("baseline (imports, app, SELECT 1)", "none", None), ("CSV completions (default kind)", "csv", None),
           ("CSV attempts", "csv", "attempts"), ("xAPI statements (all learning events)", "xapi", None))
LIMIT_MB = 100


def child(url: str, fmt: str, kind: str | None) -> None:
    """Runs in the subprocess: one export to /dev/null; prints its figures as JSON."""
    from sqlalchemy import func, select, text

    from lms import create_app
    from lms.accounts.models import Role, User
    from lms.db import db
    from lms.records import export
    from tests.bench.generate import bench_config

    app = create_app(bench_config(url, ROOT / "instance" / "bench"))
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        result: dict[str, float | int] = {"chunks": 0, "chars": 0, "seconds": 0.0}
        if fmt != "none":
            result["trainees"] = db.session.scalar(select(func.count()).select_from(User)
                                                   .where(User.role == Role.TRAINEE))
            fmt, kind = export.check_params(fmt, kind)
            start = time.perf_counter()
            with open(os.devnull, "w", encoding="utf-8", newline="") as fh:  # noqa: PTH123
                for chunk in export.stream(fmt, kind, None):
                    fh.write(chunk)
                    result["chunks"] += 1
                    result["chars"] += len(chunk)
            result["seconds"] = time.perf_counter() - start
            db.session.rollback()
    print(json.dumps(result))


def spawn(url: str, fmt: str, kind: str | None) -> dict[str, float | int]:
    args = [sys.executable, "-m", "tests.bench.exports", "--database-url", url, "--child", fmt]
    if kind:
        args += ["--kind", kind]
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # noqa: S603
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the {fmt} {kind or ''} export failed (exit {proc.returncode})")
    return {**json.loads(out.decode().strip().splitlines()[-1]), "maxrss_kb": usage.ru_maxrss, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=default_database_url(), help="default: $DATABASE_URL or SQLite")
    parser.add_argument("--child", choices=("none", "csv", "xapi"), help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database_url, args.child, args.kind)
        return
    results = [(label, spawn(args.database_url, fmt, kind)) for label, fmt, kind in EXPORTS]
    base = results[0][1]["maxrss_kb"]
    trainees = results[1][1].get("trainees", "?")
    print(f"\nExports of every record, N={trainees} trainees, {args.database_url.split('@')[-1]}; "
          f"each in its own process, to /dev/null")
    print(f"{'export':<40} {'M chars':>8} {'export s':>9} {'process s':>10} {'peak RSS MB':>12} "
          f"{'growth MB':>10}  verdict")
    for label, r in results:
        growth = (r["maxrss_kb"] - base) / 1024
        verdict = "" if r is results[0][1] else ("ok" if growth < LIMIT_MB else f"MISSES < {LIMIT_MB} MB")
        print(f"{label:<40} {r['chars'] / 1e6:>8.1f} {r['seconds']:>9.1f} {r['wall']:>10.1f} "
              f"{r['maxrss_kb'] / 1024:>12.1f} {growth:>10.1f}  {verdict}")


if __name__ == "__main__":
    main()
