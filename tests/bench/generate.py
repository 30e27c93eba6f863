"""Build a realistic population of N trainees for the benchmark (issue 9), on SQLite or PostgreSQL.

    .venv/bin/python -m tests.bench.generate --trainees 10000 [--database-url URL] [--seed 9] [--reset]

DATABASE_URL (or --database-url) names the database; without either, a SQLite file under instance/bench/.
The database must be empty, or --reset drops everything in it first (PostgreSQL: the `public` schema, after
creating the database if it is missing; SQLite: the file). The schema is made with `lms.migrate.upgrade()`
and the repository's courses/ and quizzes/ are loaded with `sync_content`, as `lms load-content` does.
The rest is written with bulk inserts (explicit ids, batches of ~1000 rows, PostgreSQL sequences moved past
them at the end), shaped like what the services write: one open request per person, one certificate per
request, certificates in every status (valid, expiring, expired, revoked, superseded) with a small fixed PDF
and its SHA-256 instead of 10,000 renders.

Not a test (pytest collects only test_*.py). Every account's password is PASSWORD (hashed once, cheaply).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import shutil
import time as clock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, inspect, select, text, update
from werkzeug.security import generate_password_hash

from lms import audit, create_app
from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.certification.models import (
    Certificate,
    CertificateState,
    CertificationRequest,
    ConductAcknowledgement,
    EntryStatus,
    PracticumEntry,
    PracticumKind,
    RequestPath,
    RequestStatus,
)
from lms.db import db
from lms.groups.models import (
    Group,
    GroupMember,
    GroupRole,
    GroupSession,
    GroupStatus,
    SessionCoFacilitator,
    SessionStatus,
)
from lms.learning.models import (
    CodeOfConductVersion,
    Course,
    CourseActivity,
    CourseCompletion,
    LearningEvent,
    LessonCompletion,
    ProgramVersion,
    Verb,
)
from lms.models import Base
from lms.quizzes.models import Attempt, AttemptStatus, Quiz

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "bench-password-1234"  # noqa: S105 (a benchmark's shared password)
SECRET = "bench-secret-key-" + "x" * 32
BATCH = 1000
# A tiny but well-formed PDF: every certificate row carries these bytes and their SHA-256.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 842 595]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
PDF_SHA256 = hashlib.sha256(PDF).hexdigest()
ZONES = ("Europe/London", "America/New_York", "Australia/Sydney", "Europe/Berlin", "America/Los_Angeles")
FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Riley", "Zoë", "Chen", "Fatima", "Noah", "Aisha", "Lucas",
         "Mei", "Omar", "Sofia", "Kofi", "Ingrid", "Mateo", "Priya", "Yusuf")
LAST = ("Okafor", "Moreau", "Ångström", "Núñez", "Smith", "Wang", "Haddad", "Kowalski", "Jensen", "Silva",
        "Nakamura", "O'Brien", "Dubois", "Mensah", "Rossi", "Patel")


def bench_config(database_url: str, instance: Path, **extra: Any) -> dict[str, Any]:
    """The configuration of every app the benchmark makes (generator and runner alike)."""
    return {"LMS_ENV": "testing", "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
            "SECRET_KEY": SECRET, "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "CONTENT_DIR": str(ROOT), **extra}


def default_database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'bench' / 'bench.sqlite3'}"


def email_of(kind: str, i: int) -> str:
    return f"{kind}{i:05d}@bench.example"


# ---------------------------------------------------------------- an empty database, then the schema and content


def reset_database(url: str) -> None:
    """Drop everything: the PostgreSQL `public` schema (recreated empty), or the SQLite file."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        if path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:  # create the database itself when it is missing
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}):
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def prepare(url: str, instance: Path, *, reset: bool) -> Any:
    """An app on a fresh schema with the curriculum loaded."""
    if reset:
        reset_database(url)
    elif url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    if instance.exists():
        shutil.rmtree(instance / "outbox", ignore_errors=True)
    app = create_app(bench_config(url, instance))
    with app.app_context():
        existing = [t for t in inspect(db.engine).get_table_names() if t != "alembic_version"]
        if existing:
            raise SystemExit(f"The database is not empty ({len(existing)} tables); use --reset to start afresh.")
        from lms.content import load
        from lms.content_sync import sync_content
        from lms.migrate import upgrade

        upgrade()
        content = load(ROOT / "courses", ROOT / "quizzes")
        if content.problems:
            raise SystemExit("\n".join(str(p) for p in content.problems))
        sync_content(content, actor=None)
        db.session.commit()
    return app


# ---------------------------------------------------------------- the writer: explicit ids, batched inserts


class Writer:
    """Rows collected per table and written in the metadata's dependency order whenever enough have piled up,
    so a row never arrives before the rows it points at."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.next_id: dict[str, int] = defaultdict(lambda: 1)
        self.pending = 0
        self.counts: dict[str, int] = defaultdict(int)
        self.updates: list[tuple[Any, list[dict[str, Any]]]] = []

    def start_ids(self, model: type[Base]) -> None:
        self.next_id[model.__tablename__] = (db.session.scalar(select(text("max(id)")).select_from(model)) or 0) + 1

    def add(self, model: type[Base], **row: Any) -> int:
        name = model.__tablename__
        if "id" not in row:
            row["id"] = self.next_id[name]
            self.next_id[name] += 1
        self.rows[name].append(row)
        self.pending += 1
        if self.pending >= 5 * BATCH:
            self.flush()
        return row["id"]

    def flush(self) -> None:
        for table in Base.metadata.sorted_tables:
            rows = self.rows.pop(table.name, None)
            if not rows:
                continue
            by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
            for row in rows:
                by_keys[tuple(sorted(row))].append(row)
            for group in by_keys.values():
                for start in range(0, len(group), BATCH):
                    db.session.execute(table.insert(), group[start:start + BATCH])
            self.counts[table.name] += len(rows)
        self.pending = 0

    def finish(self) -> None:
        self.flush()
        for stmt, params in self.updates:
            for start in range(0, len(params), BATCH):
                db.session.execute(stmt, params[start:start + BATCH])
        if db.engine.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                if "id" in table.c and self.counts.get(table.name):
                    # table names come from the metadata, not from input
                    sql = f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM \"{table.name}\"))"  # noqa: E501, S608
                    db.session.execute(text(sql))
        # the bulk-inserted audit entries take their places in the hash chain, as the app's commits do
        audit.seal_unsealed(db.session.connection())
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()


# ---------------------------------------------------------------- the population


@dataclass
class Curriculum:
    courses: list[dict[str, Any]]  # required courses in order, then the others
    required: set[str]
    program: ProgramVersion
    conduct: CodeOfConductVersion
    snapshot: dict[str, Any] = field(default_factory=dict)


def curriculum() -> Curriculum:
    program = db.session.scalar(select(ProgramVersion).where(ProgramVersion.current.is_(True)))
    conduct = db.session.scalar(select(CodeOfConductVersion).where(CodeOfConductVersion.current.is_(True)))
    assert program is not None and conduct is not None, "the content has no program or code of conduct"
    required = set(program.rules.get("required_courses") or [])
    quizzes = {q.slug: q for q in db.session.scalars(select(Quiz))}
    courses = []
    for course in db.session.scalars(select(Course).where(Course.active.is_(True)).order_by(Course.position)):
        quiz = quizzes.get(course.quiz_slug or "")
        version = quiz.current if quiz else None
        courses.append({"id": course.id, "slug": course.slug, "title": course.title, "version": course.version,
                        "lessons": [(lesson.id, lesson.title, lesson.version) for lesson in course.active_lessons],
                        "quiz": quiz and {"id": quiz.id, "slug": quiz.slug, "title": quiz.title,
                                          "version_id": version.id, "version": version.version,
                                          "settings": version.settings, "questions": version.questions}})
    courses.sort(key=lambda c: (c["slug"] not in required, 0))
    requirements = [{"key": f"course:{c['slug']}", "group": "courses", "title": c["title"], "met": True,
                     "progress": "Completed", "next_step": None, "action": None}
                    for c in courses if c["slug"] in required]
    requirements += [{"key": f"practicum:{k}", "group": "practicum", "title": k, "met": True, "progress": "Done",
                      "next_step": None, "action": None} for k in ("observe", "co_facilitate", "lead_observed",
                                                                    "crisis_roleplay")]
    requirements.append({"key": "code_of_conduct", "group": "conduct", "title": conduct.title, "met": True,
                         "progress": "Acknowledged", "next_step": None, "action": None})
    snapshot = {"eligible": True, "may_request": True, "blockers": [],
                "program": {"slug": program.slug, "title": program.title, "version": program.version},
                "requirements": requirements, "open_request": None, "certificate_serial": None, "path": "initial",
                "renews_serial": None, "renewal_opens": None, "renewal_closes": None}
    return Curriculum(courses, required, program, conduct, snapshot)


class Population:
    def __init__(self, n: int, seed: int, now: datetime) -> None:
        self.n, self.rng, self.now = n, random.Random(seed), now
        self.today = now.date()
        self.w = Writer()
        self.cur = curriculum()
        self.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        self.admin_id = 0
        self.supervisors: list[int] = []
        self.leads: list[int] = []  # holders of a certificate valid today
        self.certified_trainees: list[int] = []  # every trainee who finished the required courses
        self.supervisor_of: dict[int, int] = {}
        self.summary: dict[str, int] = defaultdict(int)

    # helpers
    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def audit(self, actor_id: int | None, actor_label: str, action: str, subject_type: str, subject_id: int,
              label: str | None, at: datetime, **data: Any) -> None:
        self.w.add(AuditEvent, occurred_at=at, actor_id=actor_id, actor_label=actor_label, action=action,
                   subject_type=subject_type, subject_id=str(subject_id), subject_label=label, data=data)

    def event(self, user_id: int, verb: Verb, object_type: str, object_id: str, title: str, course_id: int | None,
              version: str | None, at: datetime, result: dict[str, Any] | None = None) -> None:
        self.w.add(LearningEvent, user_id=user_id, verb=verb, object_type=object_type, object_id=object_id,
                   object_title=title, course_id=course_id, content_version=version, result=result or {},
                   occurred_at=at)

    def user(self, kind: str, i: int, role: Role, supervisor_id: int | None, created: datetime) -> int:
        name = self.name()
        return self.w.add(User, email=email_of(kind, i), display_name=name, certificate_name=name, role=role,
                          active=True, supervisor_id=supervisor_id, password_hash=self.password_hash,
                          password_changed_at=created, created_at=created, last_login_at=None,
                          accommodation_factor=1.5 if self.rng.random() < 0.03 else 1.0)

    # people
    def people(self) -> None:
        for model in (User, Attempt, LearningEvent, AuditEvent, PracticumEntry, CertificationRequest, Certificate,
                      Group, GroupSession):
            self.w.start_ids(model)
        self.admin_id = self.user("admin", 1, Role.ADMIN, None, self.ago(1200))
        for i in range(1, max(1, math.ceil(self.n / 25)) + 1):
            self.supervisors.append(self.user("supervisor", i, Role.SUPERVISOR, None, self.ago(1100)))
        for i in range(1, self.n + 1):
            supervisor = self.supervisors[(i - 1) * len(self.supervisors) // self.n]
            created = self.ago(self.rng.uniform(20, 1000))
            uid = self.user("trainee", i, Role.TRAINEE, supervisor, created)
            self.supervisor_of[uid] = supervisor
            self.trainee(uid, created)

    def trainee(self, uid: int, created: datetime) -> None:
        rng, required = self.rng, [c for c in self.cur.courses if c["slug"] in self.cur.required]
        r = rng.random()
        if r < 0.10:
            self.summary["fresh"] += 1
            return  # signed up, nothing done yet (the benchmark starts quizzes as these)
        done = len(required) if r >= 0.45 else rng.randrange(0, len(required))
        at = created + timedelta(days=rng.uniform(0.5, 5))
        for course in required[:done]:
            at = self.course(uid, course, at, finish=True)
        if done < len(required):
            self.summary["in_progress"] += 1
            self.course(uid, required[done], at, finish=False)
            return
        self.summary["courses_done"] += 1
        self.certified_trainees.append(uid)
        self.certification(uid, at)

    def course(self, uid: int, course: dict[str, Any], at: datetime, *, finish: bool) -> datetime:
        rng, lessons = self.rng, course["lessons"]
        started = at
        read = len(lessons) if finish else rng.randrange(0, len(lessons) + 1)
        last_lesson = None
        for lesson_id, title, version in lessons[:read]:
            at += timedelta(minutes=rng.uniform(10, 600))
            self.w.add(LessonCompletion, user_id=uid, lesson_id=lesson_id, lesson_version=version,
                       course_version=course["version"], completed_at=at)
            self.event(uid, Verb.COMPLETED, "lesson", str(lesson_id), title, course["id"], version, at)
            last_lesson = lesson_id
        quiz, attempt_id, score, passed_at = course["quiz"], None, None, None
        if quiz and (finish or (read == len(lessons) and rng.random() < 0.5)):
            tries = [False, True] if rng.random() < 0.3 else [True]
            if not finish:
                tries = [False]
            for number, passes in enumerate(tries, start=1):
                at += timedelta(hours=rng.uniform(1, 48))
                attempt_id, score, closed = self.attempt(uid, course, quiz, number, passes, at)
                at = closed
            if tries[-1]:
                passed_at = at
            else:
                attempt_id, score = None, None
        self.w.add(CourseActivity, user_id=uid, course_id=course["id"], started_at=started,
                   last_lesson_id=last_lesson or (lessons[0][0] if lessons else None), last_seen_at=at,
                   quiz_attempt_id=attempt_id, quiz_score=score, quiz_passed_at=passed_at)
        if finish:
            self.w.add(CourseCompletion, user_id=uid, course_id=course["id"], course_version=course["version"],
                       completed_at=at, score=score, attempt_id=attempt_id)
            self.event(uid, Verb.COMPLETED, "course", course["slug"], course["title"], course["id"],
                       course["version"], at, {"score": score} if score is not None else {})
            self.audit(uid, f"user{uid}", "course.completed", "courses", course["id"], course["title"], at,
                       version=course["version"], score=score)
        return at

    def attempt(self, uid: int, course: dict[str, Any], quiz: dict[str, Any], number: int, passes: bool,
                at: datetime) -> tuple[int, float, datetime]:
        rng, settings, questions = self.rng, quiz["settings"], quiz["questions"]
        count = min(settings.get("questions_per_attempt") or len(questions), len(questions))
        drawn = rng.sample(questions, count)
        orders = {q["id"]: rng.sample([o["id"] for o in q["options"]], len(q["options"]))
                  for q in drawn if settings.get("shuffle_options") and q.get("options")}
        wrong = rng.randrange(0, max(1, count // 6)) if passes else rng.randrange(max(1, count // 4), count // 2 + 2)
        wrong_ids = set(rng.sample([q["id"] for q in drawn], min(wrong, count)))
        results = {q["id"]: 0.0 if q["id"] in wrong_ids else 1.0 for q in drawn}
        score = round(100 * sum(results.values()) / count, 2)
        passed = passes and score >= (settings.get("pass_mark") or 80)
        closed = at + timedelta(minutes=rng.uniform(5, 25))
        limit = settings.get("time_limit_minutes")
        attempt_id = self.w.add(
            Attempt, user_id=uid, quiz_id=quiz["id"], quiz_version_id=quiz["version_id"], number=number,
            status=AttemptStatus.SUBMITTED, started_at=at, deadline=at + timedelta(minutes=limit) if limit else None,
            closed_at=closed, question_ids=[q["id"] for q in drawn], option_orders=orders, score=score,
            passed=passed, critical_failed=False, results=results)
        self.event(uid, Verb.ATTEMPTED, "quiz", quiz["slug"], quiz["title"], course["id"], quiz["version"], at,
                   {"attempt_id": attempt_id, "number": number})
        self.event(uid, Verb.PASSED if passed else Verb.FAILED, "quiz", quiz["slug"], quiz["title"], course["id"],
                   quiz["version"], closed, {"attempt_id": attempt_id, "score": score, "passed": passed,
                                             "critical_failed": False, "timed_out": False})
        self.summary["attempts_passed" if passed else "attempts_failed"] += 1
        return attempt_id, score, closed

    # practicum, conduct, requests, certificates
    def practicum(self, uid: int, at: datetime, *, all_confirmed: bool) -> datetime:
        rng, supervisor = self.rng, self.supervisor_of[uid]
        kinds = ([PracticumKind.OBSERVED] * 2 + [PracticumKind.CO_FACILITATED] * 4 + [PracticumKind.LED_OBSERVED] * 2
                 + [PracticumKind.CRISIS_ROLEPLAY])
        for kind in kinds:
            at += timedelta(days=rng.uniform(3, 10))
            pending = not all_confirmed and rng.random() < 0.35
            self.entry(uid, kind, at, reviewer=None if pending else supervisor, source="trainee")
        return at

    def entry(self, uid: int, kind: PracticumKind, at: datetime, *, reviewer: int | None, source: str,
              group_name: str | None = None) -> int:
        rubric = {c: self.rng.randint(3, 4) for c in ("opening", "safety", "inclusion", "time_keeping", "closing")}
        status = EntryStatus.PENDING if reviewer is None else EntryStatus.CONFIRMED
        self.summary[f"practicum_{status.value}"] += 1
        return self.w.add(
            PracticumEntry, user_id=uid, kind=kind, session_date=at.date(),
            group_name=group_name or f"Community group {self.rng.randint(1, 40)}",
            reflection="What went well, what I would do differently, and what I will ask my supervisor about.",
            source=source, status=status, created_at=at, reviewer_id=reviewer,
            reviewed_at=None if reviewer is None else at + timedelta(days=1), review_note=None,
            rubric_scores=rubric if kind.scored and reviewer else None,
            rubric_passed=True if kind.scored and reviewer else None)

    def certification(self, uid: int, at: datetime) -> None:
        rng = self.rng
        outcome = rng.choices(("none", "pending", "approved", "rejected", "withdrawn", "issued"),
                              (15, 10, 5, 5, 3, 62))[0]
        at = self.practicum(uid, at, all_confirmed=outcome != "none")
        if rng.random() < 0.8 or outcome != "none":
            at += timedelta(days=1)
            self.w.add(ConductAcknowledgement, user_id=uid, code_version_id=self.cur.conduct.id, acknowledged_at=at)
            self.event(uid, Verb.ACKNOWLEDGED, "code_of_conduct", self.cur.conduct.version, self.cur.conduct.title,
                       None, self.cur.conduct.digest, at)
        self.summary[f"request_{outcome}"] += 1
        if outcome == "none":
            return
        if outcome != "issued":
            status = RequestStatus(outcome)
            self.request(uid, status, self.ago(rng.uniform(1, 20)))
            return
        cert_status = rng.choices(("valid", "expiring", "expired", "revoked", "superseded"), (55, 12, 13, 8, 12))[0]
        self.summary[f"certificate_{cert_status}"] += 1
        if cert_status == "valid":
            until = self.today + timedelta(days=rng.randint(61, 700))
        elif cert_status == "expiring":
            until = self.today + timedelta(days=rng.randint(0, 60))
        elif cert_status == "expired":
            until = self.today - timedelta(days=rng.randint(1, 300))
        else:
            until = self.today + timedelta(days=rng.randint(-100, 600))
        if cert_status == "superseded":
            old_until = self.today + timedelta(days=rng.randint(1, 80))
            old = self.certificate(uid, old_until, CertificateState.SUPERSEDED)
            new = self.certificate(uid, old_until + timedelta(days=730), CertificateState.ACTIVE, renews=old)
            self.w.updates.append((_SUPERSEDE, [{"b_id": old, "b_by": new}]))
            self.leads.append(uid)
            return
        state = CertificateState.REVOKED if cert_status == "revoked" else CertificateState.ACTIVE
        self.certificate(uid, until, state)
        if cert_status in ("valid", "expiring"):
            self.leads.append(uid)

    def request(self, uid: int, status: RequestStatus, at: datetime, *, path: RequestPath = RequestPath.INITIAL,
                renews: int | None = None) -> int:
        decided = status in (RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.ISSUED)
        req = self.w.add(
            CertificationRequest, user_id=uid, program_version_id=self.cur.program.id, status=status,
            requested_at=at, message="I am ready to be reviewed.", eligibility=self.cur.snapshot,
            decided_by_id=self.supervisor_of[uid] if decided else None,
            decided_at=at + timedelta(days=2) if decided or status is RequestStatus.WITHDRAWN else None,
            decision_reason="Needs another observed session." if status is RequestStatus.REJECTED else None,
            path=path, renews_id=None)
        if renews is not None:
            self.w.updates.append((_RENEWS, [{"b_id": req, "b_renews": renews}]))
        self.audit(uid, f"user{uid}", "certification.requested", "certification_requests", req, None, at,
                   path=path.value)
        return req

    def certificate(self, uid: int, until: date, state: CertificateState, renews: int | None = None) -> int:
        valid_from = until - timedelta(days=729)
        issued = datetime.combine(valid_from, time(10, 0), tzinfo=UTC)
        req = self.request(uid, RequestStatus.ISSUED, issued - timedelta(days=5),
                           path=RequestPath.RENEWAL if renews else RequestPath.INITIAL, renews=renews)
        cert_id = self.w.next_id["certificates"]
        serial = f"PND-{valid_from.year}-{cert_id:06d}"
        revoked = state is CertificateState.REVOKED
        self.w.add(Certificate, id=cert_id, serial=serial,
                   verification_code=self.rng.randbytes(24).hex()[:32], request_id=req, user_id=uid,
                   holder_name=f"Holder {uid}", program_slug=self.cur.program.slug,
                   program_title=self.cur.program.title, program_version=self.cur.program.version, issued_at=issued,
                   valid_from=valid_from, valid_until=until, approved_by_id=self.supervisor_of[uid],
                   approver_name="Supervisor", issued_by_id=self.admin_id, issuer_name="Administrator", state=state,
                   revoked_at=self.ago(10) if revoked else None, revoked_by_id=self.admin_id if revoked else None,
                   revocation_reason="Breach of the code of conduct, after review." if revoked else None,
                   superseded_by_id=None, pdf_sha256=PDF_SHA256, pdf=PDF, subject_salt=self.rng.randbytes(16).hex())
        self.w.next_id["certificates"] = cert_id + 1
        self.event(uid, Verb.EARNED, "certificate", serial, self.cur.program.title, None, self.cur.program.version,
                   issued, {"valid_until": until.isoformat()})
        self.audit(self.admin_id, email_of("admin", 1), "certificate.issued", "certificates", cert_id, None, issued,
                   serial=serial)
        return cert_id

    # groups and their sessions
    def groups(self) -> None:
        rng = self.rng
        count = max(2, self.n // 40)
        leads = list(self.leads)
        rng.shuffle(leads)
        for g in range(1, count + 1):
            tz = ZONES[g % len(ZONES)]
            weekday, start = rng.randrange(7), time(rng.choice((10, 14, 18, 19)), rng.choice((0, 30)))
            name = f"Community group {g:04d}"
            gid = self.w.add(Group, name=name, description="Weekly PND community session.", weekday=weekday,
                             start_time=start, duration_minutes=90, timezone=tz,
                             meeting_url=f"https://zoom.example/j/{rng.randrange(10**9, 10**10)}", capacity=20,
                             status=GroupStatus.ACTIVE, created_at=self.ago(400), created_by_id=self.admin_id,
                             updated_at=self.ago(30))
            lead = leads.pop() if leads else None
            if lead is not None:
                self.w.add(GroupMember, group_id=gid, user_id=lead, role=GroupRole.LEAD, added_at=self.ago(300),
                           added_by_id=self.admin_id)
            cos = rng.sample(self.certified_trainees, min(2, len(self.certified_trainees)))
            cos = [c for c in cos if c != lead]
            for co in cos:
                self.w.add(GroupMember, group_id=gid, user_id=co, role=GroupRole.CO_FACILITATOR,
                           added_at=self.ago(200), added_by_id=self.admin_id)
            first = self.today - timedelta(weeks=8)
            first += timedelta(days=(weekday - first.weekday()) % 7)
            for week in range(8 + 16):
                day = first + timedelta(weeks=week)
                starts = datetime.combine(day, start, tzinfo=ZoneInfo(tz)).astimezone(UTC)
                past = starts < self.now
                status = SessionStatus.SCHEDULED
                if past and lead is not None:
                    status = rng.choices((SessionStatus.HELD, SessionStatus.CANCELLED, SessionStatus.SCHEDULED),
                                         (80, 10, 10))[0]
                held = status is SessionStatus.HELD
                entry = None
                if held:
                    entry = self.entry(lead, PracticumKind.LED, starts, reviewer=self.supervisor_of[lead],
                                       source="group", group_name=name)
                sid = self.w.add(GroupSession, group_id=gid, session_date=day, starts_at=starts, duration_minutes=90,
                                 lead_id=lead, status=status, held_minutes=90 if held else None,
                                 attendance_count=rng.randint(3, 18) if held else None,
                                 note="Good turnout." if held else None, recorded_by_id=lead if held else None,
                                 recorded_at=starts + timedelta(hours=2) if held else None, lead_entry_id=entry)
                self.summary[f"sessions_{status.value}"] += 1
                if held:
                    for co in cos:
                        self.w.add(SessionCoFacilitator, session_id=sid, user_id=co, practicum_entry_id=None)


_SUPERSEDE = (update(Certificate.__table__).where(Certificate.__table__.c.id == bindparam("b_id"))
              .values(superseded_by_id=bindparam("b_by")))
_RENEWS = (update(CertificationRequest.__table__).where(CertificationRequest.__table__.c.id == bindparam("b_id"))
           .values(renews_id=bindparam("b_renews")))


def populate(app: Any, n: int, seed: int = 9) -> dict[str, int]:
    """Write the population for `n` trainees into the app's (freshly prepared) database; return the counts."""
    with app.app_context():
        now = datetime.now(UTC).replace(microsecond=0)
        pop = Population(n, seed, now)
        pop.people()
        pop.w.flush()
        pop.groups()
        # merge the one-row updates into one executemany per statement
        merged: dict[int, tuple[Any, list[dict[str, Any]]]] = {}
        for stmt, params in pop.w.updates:
            merged.setdefault(id(stmt), (stmt, []))[1].extend(params)
        pop.w.updates = list(merged.values())
        pop.w.finish()
        return {**{f"rows:{k}": v for k, v in sorted(pop.w.counts.items())}, **dict(sorted(pop.summary.items()))}


def generate(url: str, n: int, *, seed: int = 9, reset: bool = False, quiet: bool = False) -> Any:
    """Prepare a fresh schema on `url`, load the curriculum and write N trainees; return the app."""
    instance = ROOT / "instance" / "bench"
    start = clock.perf_counter()
    app = prepare(url, instance, reset=reset)
    prepared = clock.perf_counter()
    counts = populate(app, n, seed)
    done = clock.perf_counter()
    if not quiet:
        total = sum(v for k, v in counts.items() if k.startswith("rows:"))
        print(f"generated N={n} on {app.config['DATABASE_URL'].split('@')[-1]}: {total:,} rows in "
              f"{done - start:.1f} s (schema and content {prepared - start:.1f} s, population {done - prepared:.1f} s)")
        print("  " + ", ".join(f"{k.removeprefix('rows:')} {v:,}" for k, v in counts.items() if k.startswith("rows:")))
        print("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if not k.startswith("rows:")))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=default_database_url(), help="default: $DATABASE_URL or SQLite")
    parser.add_argument("--trainees", type=int, default=100, help="N, the number of trainees (default 100)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--reset", action="store_true", help="drop everything in the database first")
    args = parser.parse_args()
    if args.trainees < 1:
        parser.error("--trainees must be at least 1")
    generate(args.database_url, args.trainees, seed=args.seed, reset=args.reset)


if __name__ == "__main__":
    main()
