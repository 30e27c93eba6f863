"""The content loader: the repository's own content is valid, and each kind of broken file is reported
as path:line: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from lms.content import load
from lms.content.loader import sha256
from tests.content_tree import COURSE, LESSON, make_tree, write

ROOT = Path(__file__).resolve().parents[2]

@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path)


def problems(root: Path) -> list[str]:
    return [str(p) for p in load(root / "courses", root / "quizzes").problems]


def test_the_repositorys_content_is_valid():
    content = load(ROOT / "courses", ROOT / "quizzes")
    assert [str(p) for p in content.problems] == []
    assert content.program is not None and content.program.code_of_conduct is not None
    assert len([c for c in content.courses if c.required]) >= 6


def test_valid_tree_loads_in_order(tree):
    content = load(tree / "courses", tree / "quizzes")
    assert content.problems == []
    assert [c.slug for c in content.courses] == ["alpha", "beta"]
    beta = content.course("beta")
    assert beta.prerequisites == ["alpha"]
    assert [(lesson.slug, lesson.position, lesson.title, lesson.minutes) for lesson in beta.lessons] == [
        ("first", 1, "beta first", 5), ("second", 2, "beta second", 5)]
    assert content.program.required_courses == ["alpha", "beta"]
    assert content.program.rubric[0].id == "opening"
    assert content.program.code_of_conduct.version == "1.0"


def test_versions_are_content_hashes(tree):
    before = load(tree / "courses", tree / "quizzes").course("alpha")
    again = load(tree / "courses", tree / "quizzes").course("alpha")
    assert before.version == again.version and len(before.version) == 64
    lesson = tree / "courses/alpha/lessons/02-second.md"
    lesson.write_text(lesson.read_text() + "\nOne more sentence.\n")
    after = load(tree / "courses", tree / "quizzes").course("alpha")
    assert after.lessons[0].version == before.lessons[0].version
    assert after.lessons[1].version != before.lessons[1].version
    assert after.version != before.version
    assert after.lessons[1].version == sha256(lesson.read_bytes())


@pytest.mark.parametrize(("path", "edit", "expected"), [
    ("courses/alpha/course.yaml", lambda s: s + "colour: blue\n", "courses/alpha/course.yaml:12: unknown key 'colour'"),
    ("courses/alpha/course.yaml", lambda s: s.replace("title: Course alpha\n", ""),
     "courses/alpha/course.yaml:1: course.yaml is missing the required key 'title'"),
    ("courses/alpha/course.yaml", lambda s: s.replace("order: 1", "order: first"),
     "courses/alpha/course.yaml:3: 'order' must be a whole number"),
    ("courses/alpha/course.yaml", lambda s: s.replace("02-second.md", "02-missing.md"),
     "courses/alpha/course.yaml:11: lesson file lessons/02-missing.md does not exist"),
    ("courses/alpha/course.yaml", lambda s: s.replace("02-second.md", "01-first.md"),
     "courses/alpha/course.yaml:11: lesson '01-first.md' is listed twice"),
    ("courses/alpha/course.yaml", lambda s: s.replace("02-second.md", "02-first.md"),
     "courses/alpha/course.yaml:11: duplicate lesson slug 'first' (also item 1)"),
    ("courses/alpha/course.yaml", lambda s: s.replace("02-second.md", "Second Lesson.md"),
     "courses/alpha/course.yaml:11: lesson file name 'Second Lesson.md' must look like NN-some-slug.md"),
    ("courses/alpha/course.yaml", lambda s: s.replace("prerequisites: []", "prerequisites: [beta]"),
     "prerequisite cycle: alpha -> beta -> alpha"),
    ("courses/alpha/course.yaml", lambda s: s.replace("prerequisites: []", "prerequisites: [gamma]"),
     "courses/alpha/course.yaml:5: unknown prerequisite course 'gamma'"),
    ("courses/alpha/course.yaml", lambda s: s + "quiz: no-such-quiz\n",
     "courses/alpha/course.yaml:12: unknown quiz 'no-such-quiz'"),
    ("courses/alpha/course.yaml", lambda s: s.replace("order: 1", "order: 2"),
     "order 2 is also used by course"),
    ("courses/alpha/course.yaml", lambda s: s.replace("summary: A course called alpha.", "summary: [unclosed"),
     "courses/alpha/course.yaml:3: not valid YAML"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("minutes: 5", "minutes: five"),
     "courses/alpha/lessons/01-first.md:3: 'minutes' must be a whole number"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("minutes: 5", "author: me"),
     "courses/alpha/lessons/01-first.md:3: unknown key 'author' in the front matter"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("---\nSome", "Some"),
     "courses/alpha/lessons/01-first.md:1: front matter starts with '---' but has no closing '---' line"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("title: alpha first", "title: [oops"),
     "courses/alpha/lessons/01-first.md:3: not valid YAML"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("emergency_number", "ambulance"),
     "courses/alpha/lessons/01-first.md:5: unknown placeholder '{{ambulance}}'"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("title: alpha first\n", ""),
     "courses/alpha/lessons/01-first.md:1: lesson has no title"),
    ("courses/alpha/course.yaml", lambda s: s.replace("title: Course alpha", "title: " + "A" * 201),
     "courses/alpha/course.yaml:1: 'title' is 201 characters long; at most 200 fit"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("title: alpha first", "title: " + "L" * 250),
     "courses/alpha/lessons/01-first.md:2: 'title' is 250 characters long; at most 200 fit"),
    ("courses/alpha/lessons/01-first.md", lambda s: s.replace("title: alpha first\n", "").replace(
        "Some text", "# " + "H" * 201 + "\n\nSome text"),
     "courses/alpha/lessons/01-first.md:4: the heading is 201 characters long; a lesson title fits 200"),
    ("courses/program.yaml", lambda s: s.replace('version: "1"', 'version: "' + "9" * 41 + '"'),
     "courses/program.yaml:3: 'version' is 41 characters long; at most 40 fit"),
    ("courses/code.md", lambda s: s.replace('version: "1.0"', 'version: "' + "1." * 30 + '"'),
     "courses/code.md:3: 'version' is 60 characters long; at most 40 fit"),
    ("courses/program.yaml", lambda s: s.replace("[alpha, beta]", "[alpha, beta, gamma]"),
     "courses/program.yaml:5: 'required_courses' names unknown course 'gamma'"),
    ("courses/program.yaml", lambda s: s.replace("course: beta", "course: refresh"),
     "'course' names unknown course 'refresh'"),
    ("courses/program.yaml", lambda s: s.replace("code.md", "missing.md"),
     "courses/program.yaml:17: code of conduct file 'missing.md' does not exist"),
    ("courses/program.yaml", lambda s: s.replace("pass_score: 3", "pass_score: 9"),
     "courses/program.yaml:14: 'pass_score' must lie on the scale 1-4"),
    ("courses/program.yaml", lambda s: s + "fees: 10\n", "courses/program.yaml:20: unknown key 'fees'"),
    ("courses/code.md", lambda s: s.replace('version: "1.0"\n', ""),
     "courses/code.md:2: the front matter is missing the required key 'version'"),
])
def test_each_kind_of_problem_is_reported_with_its_line(tree, path, edit, expected):
    target = tree / path
    target.write_text(edit(target.read_text()))
    found = problems(tree)
    assert any(expected in p for p in found), found


def test_unlisted_lesson_file_and_missing_course_yaml(tree):
    write(tree / "courses/alpha/lessons/03-extra.md", LESSON.format(title="extra"))
    (tree / "courses/gamma").mkdir()
    found = problems(tree)
    assert "courses/alpha/lessons/03-extra.md:1: lesson file is not listed in course.yaml 'lessons'" in found
    assert "courses/gamma/course.yaml:1: course.yaml is missing" in found


def test_every_problem_is_listed_not_only_the_first(tree):
    (tree / "courses/alpha/course.yaml").write_text(
        COURSE.format(slug="alpha", order=1, prereqs="[zeta]", lessons="  - 01-first.md") + "colour: red\n")
    (tree / "courses/beta/lessons/01-first.md").write_text("---\nminutes: x\n---\ntext\n")
    assert len(problems(tree)) >= 4
