"""Load and check every content file. Problems are collected (with file and line), never raised, so
`lms check-content` can list them all at once."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lms.content.fields import Fields, compose
from lms.content.markdown import unknown_placeholders, word_count
from lms.content.model import (
    TITLE_MAX,
    VERSION_MAX,
    CodeOfConduct,
    Content,
    Course,
    Lesson,
    Problem,
    Program,
    RubricCriterion,
)
from lms.content.quizzes import load_quizzes

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LESSON_FILE = re.compile(r"^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md$")
COURSE_KEYS = frozenset({"title", "summary", "order", "required", "prerequisites", "estimated_minutes",
                         "objectives", "lessons", "quiz"})
FRONT_MATTER_KEYS = frozenset({"title", "minutes"})
CODE_KEYS = frozenset({"title", "version", "effective"})
PROGRAM_FILE = "program.yaml"
WORDS_PER_MINUTE = 200


def sha256(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def load(courses_dir: Path, quizzes_dir: Path) -> Content:
    courses_dir, quizzes_dir = Path(courses_dir), Path(quizzes_dir)
    base = courses_dir.parent
    content = Content()
    problems = content.problems

    def rel(p: Path) -> Path:
        try:
            return p.relative_to(base)
        except ValueError:
            return p

    if not courses_dir.is_dir():
        problems.append(Problem(rel(courses_dir), 1, "the courses folder does not exist"))
        return content

    content.quizzes = load_quizzes(quizzes_dir, problems, rel)
    lines: dict[str, _Lines] = {}
    for folder in sorted(p for p in courses_dir.iterdir() if p.is_dir()):
        loaded = _load_course(folder, quizzes_dir, problems, rel)
        if loaded is not None:
            content.courses.append(loaded[0])
            lines[loaded[0].slug] = loaded[1]

    _check_courses(content, lines, problems)
    program_path = courses_dir / PROGRAM_FILE
    if program_path.exists():
        content.program = _load_program(program_path, content, problems, rel)
    else:
        problems.append(Problem(rel(program_path), 1, "the certification program file is missing"))
    content.courses.sort(key=lambda c: (c.order, c.slug))
    return content


# ---------------------------------------------------------------- front matter


def split_front_matter(path: Path, text: str, problems: list[Problem], rel) -> tuple[Fields | None, str, int]:
    """(front matter fields or None, body, line number where the body starts)."""
    if not text.startswith("---\n") and not text.startswith("---\r\n"):
        return None, text, 1
    lines = text.splitlines(keepends=True)
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n") == "---":
            yaml_text = "".join(lines[1:i])
            node = compose(rel(path), yaml_text, problems, line_offset=1)
            fields = Fields(rel(path), node, problems, what="the front matter", line_offset=1) if node else None
            return fields, "".join(lines[i + 1:]), i + 2
    problems.append(Problem(rel(path), 1, "front matter starts with '---' but has no closing '---' line"))
    return None, text, 1


# ---------------------------------------------------------------- courses


@dataclass
class _Lines:
    """Where things stand in a course.yaml, for messages about relations between courses."""

    order: int
    prerequisites: dict[str, int]


def _load_course(folder: Path, quizzes_dir: Path, problems: list[Problem], rel) -> tuple[Course, _Lines] | None:
    slug = folder.name
    yaml_path = folder / "course.yaml"
    if not SLUG.match(slug):
        problems.append(Problem(rel(folder), 1, f"course folder name '{slug}' is not a slug "
                                                "(lower-case letters, digits and single hyphens)"))
    if not yaml_path.exists():
        problems.append(Problem(rel(yaml_path), 1, "course.yaml is missing"))
        return None
    raw = yaml_path.read_bytes()
    node = compose(rel(yaml_path), raw.decode("utf-8", errors="replace"), problems)
    if node is None:
        return None
    f = Fields(rel(yaml_path), node, problems, what="course.yaml")
    if not f.valid:
        return None
    f.check_known(COURSE_KEYS)
    title = f.get("title", str, default=slug, max_length=TITLE_MAX)
    summary = f.get("summary", str, default="")
    order = f.get("order", int, default=999, minimum=0)
    required = f.get("required", bool, default=True)
    prerequisites = f.get("prerequisites", list, required=False, default=[], item=str)
    minutes = f.get("estimated_minutes", int, required=False, default=None, minimum=1)
    objectives = f.get("objectives", list, default=[], item=str)
    lesson_names = f.get("lessons", list, default=[], item=str)
    quiz = f.get("quiz", str, required=False, default=None)
    if "objectives" in f.items and not objectives and isinstance(objectives, list):
        f.problem(f.value_line("objectives"), "'objectives' must list at least one learning objective")
    if "lessons" in f.items and not lesson_names and isinstance(lesson_names, list):
        f.problem(f.value_line("lessons"), "'lessons' must list at least one lesson file")

    lessons: list[Lesson] = []
    seen_files: set[str] = set()
    seen_slugs: dict[str, int] = {}
    for i, name in enumerate(lesson_names):
        line = f.value_line("lessons", i)
        if name in seen_files:
            f.problem(line, f"lesson '{name}' is listed twice")
            continue
        seen_files.add(name)
        m = LESSON_FILE.match(name)
        if not m:
            f.problem(line, f"lesson file name '{name}' must look like NN-some-slug.md")
            continue
        lesson_slug = m.group(2)
        if lesson_slug in seen_slugs:
            f.problem(line, f"duplicate lesson slug '{lesson_slug}' (also item {seen_slugs[lesson_slug]})")
            continue
        seen_slugs[lesson_slug] = i + 1
        path = folder / "lessons" / name
        if not path.exists():
            f.problem(line, f"lesson file lessons/{name} does not exist")
            continue
        lesson = _load_lesson(path, lesson_slug, len(lessons) + 1, problems, rel)
        if lesson is not None:
            lessons.append(lesson)
    lesson_dir = folder / "lessons"
    if lesson_dir.is_dir():
        for path in sorted(lesson_dir.glob("*.md")):
            if path.name not in seen_files:
                problems.append(Problem(rel(path), 1, "lesson file is not listed in course.yaml 'lessons'"))

    if quiz is not None:
        if not SLUG.match(quiz):
            f.problem(f.value_line("quiz"), f"quiz '{quiz}' is not a slug")
        elif not any((quizzes_dir / f"{quiz}{ext}").exists() for ext in (".yaml", ".gift")):
            f.problem(f.value_line("quiz"), f"unknown quiz '{quiz}': no quizzes/{quiz}.yaml or quizzes/{quiz}.gift")
    version = sha256(raw, *(lesson.version.encode() for lesson in lessons))
    course = Course(slug=slug, title=title, summary=summary, order=order, required=required,
                    prerequisites=list(prerequisites), estimated_minutes=minutes or sum(x.minutes for x in lessons),
                    objectives=list(objectives), lessons=lessons, quiz=quiz, version=version, path=rel(yaml_path))
    where = _Lines(order=f.value_line("order") if "order" in f.items else 1,
                   prerequisites={p: f.value_line("prerequisites", i) for i, p in enumerate(prerequisites)})
    return course, where


def _load_lesson(path: Path, slug: str, position: int, problems: list[Problem], rel) -> Lesson | None:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel(path), 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return None
    fm, body, body_line = split_front_matter(path, text, problems, rel)
    title = minutes = None
    if fm is not None and fm.valid:
        fm.check_known(FRONT_MATTER_KEYS)
        title = fm.get("title", str, required=False, max_length=TITLE_MAX)
        minutes = fm.get("minutes", int, required=False, minimum=1)
    if title is None:
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
        if heading and len(heading.group(1)) > TITLE_MAX:
            problems.append(Problem(rel(path), body_line + body[:heading.start()].count("\n"),
                                    f"the heading is {len(heading.group(1))} characters long; a lesson title "
                                    f"fits {TITLE_MAX}: add a shorter 'title:' front matter"))
            title = slug
        elif heading:
            title = heading.group(1)
        else:
            problems.append(Problem(rel(path), 1, "lesson has no title: add 'title:' front matter or a '# ' heading"))
            title = slug
    if not body.strip():
        problems.append(Problem(rel(path), body_line, "lesson has no text"))
    for line, name in unknown_placeholders(body):
        problems.append(Problem(rel(path), body_line + line - 1, f"unknown placeholder '{{{{{name}}}}}' "
                                "(known: crisis_line, drug_helpline, emergency_number)"))
    if minutes is None:
        minutes = max(1, math.ceil(word_count(body) / WORDS_PER_MINUTE))
    return Lesson(slug=slug, position=position, title=title, minutes=minutes, body=body, version=sha256(raw),
                  path=rel(path))


def _check_courses(content: Content, lines: dict[str, _Lines], problems: list[Problem]) -> None:
    slugs = {c.slug for c in content.courses}
    orders: dict[int, str] = {}
    for course in content.courses:
        if course.order in orders:
            problems.append(Problem(course.path, lines[course.slug].order,
                                    f"order {course.order} is also used by course '{orders[course.order]}'"))
        orders.setdefault(course.order, course.slug)
        for p in course.prerequisites:
            line = lines[course.slug].prerequisites[p]
            if p == course.slug:
                problems.append(Problem(course.path, line, "a course cannot be its own prerequisite"))
            elif p not in slugs:
                problems.append(Problem(course.path, line, f"unknown prerequisite course '{p}'"))
    # Cycles: depth-first search, reporting each cycle once at the course where it closes.
    graph = {c.slug: [p for p in c.prerequisites if p in slugs and p != c.slug] for c in content.courses}
    by_slug = {c.slug: c for c in content.courses}
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(slug: str, trail: list[str]) -> None:
        state[slug] = 1
        for nxt in graph[slug]:
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [slug, nxt] if nxt in trail else [slug, nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    course = by_slug[slug]
                    problems.append(Problem(course.path, lines[slug].prerequisites[nxt],
                                            "prerequisite cycle: " + " -> ".join(cycle)))
            elif state.get(nxt) is None:
                visit(nxt, trail + [slug])
        state[slug] = 2

    for slug in sorted(graph):
        if slug not in state:
            visit(slug, [])


# ---------------------------------------------------------------- program


PROGRAM_KEYS = frozenset({"slug", "title", "version", "description", "required_courses", "pass_rules", "practicum",
                          "code_of_conduct", "validity_months", "reminder_days", "renewal"})
PASS_KEYS = frozenset({"min_quiz_score", "critical_questions_must_be_correct"})
PRACTICUM_KEYS = frozenset({"observe", "co_facilitate", "lead_observed", "crisis_roleplay", "rubric"})
RUBRIC_KEYS = frozenset({"scale", "pass_score", "criteria"})
CRITERION_KEYS = frozenset({"id", "title", "description"})
RENEWAL_KEYS = frozenset({"course", "min_sessions_led", "window_days_before", "grace_days_after",
                          "supervisor_approval"})


def _load_program(path: Path, content: Content, problems: list[Problem], rel) -> Program | None:
    node = compose(rel(path), path.read_text(encoding="utf-8"), problems)
    if node is None:
        return None
    f = Fields(rel(path), node, problems, what="the program file")
    if not f.valid:
        return None
    f.check_known(PROGRAM_KEYS)
    slugs = {c.slug for c in content.courses}

    def course_ref(fields: Fields, key: str, slug: str, index: int | None = None) -> None:
        if slug not in slugs:
            fields.problem(fields.value_line(key, index), f"'{key}' names unknown course '{slug}'")

    required = f.get("required_courses", list, default=[], item=str)
    for i, slug in enumerate(required):
        course_ref(f, "required_courses", slug, i)
    for course in content.courses:
        if course.required and course.slug not in required and "required_courses" in f.items:
            f.problem(f.value_line("required_courses"), f"course '{course.slug}' says required: true "
                                                        "but is not in required_courses")

    rules = f.sub("pass_rules", "pass_rules")
    min_score, critical = 80, True
    if rules and rules.valid:
        rules.check_known(PASS_KEYS)
        min_score = rules.get("min_quiz_score", int, default=80, minimum=0)
        if min_score > 100:
            rules.problem(rules.value_line("min_quiz_score"), "'min_quiz_score' is a percentage: at most 100")
        critical = rules.get("critical_questions_must_be_correct", bool, default=True)

    practicum: dict[str, int] = {}
    roleplay, criteria, scale, pass_score = True, [], (1, 4), 3
    p = f.sub("practicum", "practicum")
    if p and p.valid:
        p.check_known(PRACTICUM_KEYS)
        for key in ("observe", "co_facilitate", "lead_observed"):
            practicum[key] = p.get(key, int, default=0, minimum=0)
        roleplay = p.get("crisis_roleplay", bool, default=True)
        r = p.sub("rubric", "the rubric")
        if r and r.valid:
            r.check_known(RUBRIC_KEYS)
            s = r.get("scale", list, default=[1, 4], item=int)
            if isinstance(s, list) and (len(s) != 2 or s[0] >= s[1]):
                r.problem(r.value_line("scale"), "'scale' must be [lowest, highest], lowest below highest")
            else:
                scale = (s[0], s[1])
            pass_score = r.get("pass_score", int, default=scale[1])
            if not scale[0] <= pass_score <= scale[1]:
                r.problem(r.value_line("pass_score"), f"'pass_score' must lie on the scale {scale[0]}-{scale[1]}")
            ids: set[str] = set()
            for node in r.sequence("criteria"):
                c = Fields(r.path, node, problems, what="a rubric criterion", line_offset=r.offset)
                if not c.valid:
                    continue
                c.check_known(CRITERION_KEYS)
                cid, title = c.get("id", str), c.get("title", str)
                desc = c.get("description", str, required=False, default="")
                if cid and not re.match(r"^[a-z0-9_]+$", cid):
                    c.problem(c.value_line("id"), f"criterion id '{cid}' must be lower-case letters, digits, _")
                elif cid in ids:
                    c.problem(c.value_line("id"), f"criterion id '{cid}' is used twice")
                elif cid and title:
                    ids.add(cid)
                    criteria.append(RubricCriterion(id=cid, title=title, description=desc))
            if not r.sequence("criteria") and "criteria" in r.items:
                r.problem(r.value_line("criteria"), "the rubric needs at least one criterion")

    code = None
    code_name = f.get("code_of_conduct", str)
    if code_name:
        code_path = path.parent / code_name
        if not code_path.exists():
            f.problem(f.value_line("code_of_conduct"), f"code of conduct file '{code_name}' does not exist")
        else:
            code = _load_code(code_path, problems, rel)

    renewal: dict[str, object] = {}
    rn = f.sub("renewal", "renewal")
    if rn and rn.valid:
        rn.check_known(RENEWAL_KEYS)
        course = rn.get("course", str)
        if course:
            course_ref(rn, "course", course)
        renewal = {"course": course, "min_sessions_led": rn.get("min_sessions_led", int, default=0, minimum=0),
                   "window_days_before": rn.get("window_days_before", int, default=90, minimum=0),
                   "grace_days_after": rn.get("grace_days_after", int, default=90, minimum=0),
                   "supervisor_approval": rn.get("supervisor_approval", bool, required=False, default=True)}
    reminders = f.get("reminder_days", list, required=False, default=[60, 30, 7], item=int)
    return Program(
        slug=f.get("slug", str, default="program"), title=f.get("title", str, default="", max_length=TITLE_MAX),
        version=f.get("version", str, default="", max_length=VERSION_MAX),
        description=f.get("description", str, default=""),
        required_courses=list(required), min_quiz_score=min_score, critical_questions_must_be_correct=critical,
        practicum=practicum, crisis_roleplay_required=roleplay, rubric=criteria, rubric_scale=scale,
        rubric_pass_score=pass_score, code_of_conduct=code,
        validity_months=f.get("validity_months", int, default=24, minimum=1),
        reminder_days=sorted(set(reminders), reverse=True), renewal=renewal, path=rel(path))


def _load_code(path: Path, problems: list[Problem], rel) -> CodeOfConduct | None:
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    fm, body, body_line = split_front_matter(path, text, problems, rel)
    if fm is None:
        problems.append(Problem(rel(path), 1, "the code of conduct needs front matter with title, version "
                                              "and effective date"))
        return None
    if not fm.valid:
        return None
    fm.check_known(CODE_KEYS)
    title, version = fm.get("title", str, max_length=TITLE_MAX), fm.get("version", str, max_length=VERSION_MAX)
    effective = fm.get("effective", date)
    if not body.strip():
        problems.append(Problem(rel(path), body_line, "the code of conduct has no text"))
    if not (title and version and effective):
        return None
    return CodeOfConduct(title=title, version=version, effective=effective, body=body, digest=sha256(raw),
                         path=rel(path))
