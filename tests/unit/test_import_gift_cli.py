"""`lms import-gift FILE --quiz SLUG`: a GIFT file becomes quizzes/<slug>.yaml, or nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lms.content.gift import parse_gift

FIXTURE = Path(__file__).parent.parent / "fixtures" / "every-construct.gift"


@pytest.fixture
def cli(app_factory, tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    app = app_factory(CONTENT_DIR=str(content))
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["import-gift", *map(str, args)]), content


def test_import_writes_a_yaml_quiz_that_round_trips(cli):
    run, content = cli
    result = run(FIXTURE, "--quiz", "crisis-overdose")
    assert result.exit_code == 0, result.output
    assert result.output == "Wrote quizzes/crisis-overdose.yaml: 14 questions.\n"
    written = yaml.safe_load((content / "quizzes/crisis-overdose.yaml").read_text(encoding="utf-8"))
    data, problems = parse_gift(FIXTURE.read_text(encoding="utf-8"), FIXTURE)
    assert problems == []
    assert written == {"title": "Every construct", "pass_mark": 80, "shuffle_questions": True,
                       "shuffle_options": True, "review": {"show": "answers", "when": "after_submit"},
                       "questions": data["questions"]}
    assert list(written) == ["title", "pass_mark", "shuffle_questions", "shuffle_options", "review", "questions"]


def test_title_option_and_unicode_are_kept(cli, tmp_path):
    run, content = cli
    gift = tmp_path / "q.gift"
    gift.write_text("::Café::Is naloxone safe — for everyone? {T}\n", encoding="utf-8")
    result = run(gift, "--quiz", "q", "--title", "Naloxone: quiz")
    assert result.exit_code == 0, result.output
    assert "Wrote quizzes/q.yaml: 1 question." in result.output
    text = (content / "quizzes/q.yaml").read_text(encoding="utf-8")
    assert "—" in text  # allow_unicode: written as is, not as an escape
    written = yaml.safe_load(text)
    assert written["title"] == "Naloxone: quiz"
    assert written["questions"] == [{"id": "cafe", "type": "true_false",
                                     "text": "Is naloxone safe — for everyone?", "answer": True}]


def test_problems_are_listed_and_nothing_is_written(cli, tmp_path):
    run, content = cli
    gift = tmp_path / "broken.gift"
    gift.write_text("Fine {T}\n\nDescribe it.\n{}\n\nQ {=a ~%150%b}\n", encoding="utf-8")
    result = run(gift, "--quiz", "broken")
    assert result.exit_code == 1
    assert f"{gift}:4: essay questions ({{}}) are not supported" in result.output
    assert f"{gift}:6: the weight 150% is outside -100..100" in result.output
    assert "2 problem(s)" in result.output and "nothing was written" in result.output
    assert not (content / "quizzes").exists()


def test_an_existing_quiz_is_only_replaced_with_force(cli):
    run, content = cli
    target = content / "quizzes/crisis.yaml"
    target.parent.mkdir()
    target.write_text("title: Hand-written\n", encoding="utf-8")
    result = run(FIXTURE, "--quiz", "crisis")
    assert result.exit_code == 1
    assert "quizzes/crisis.yaml already exists; use --force to replace it" in result.output
    assert target.read_text(encoding="utf-8") == "title: Hand-written\n"
    forced = run(FIXTURE, "--quiz", "crisis", "--force")
    assert forced.exit_code == 0, forced.output
    assert len(yaml.safe_load(target.read_text(encoding="utf-8"))["questions"]) == 14


@pytest.mark.parametrize("slug", ["../escape", "Crisis", "two--hyphens", "-x", ""])
def test_the_quiz_slug_must_be_a_slug(cli, slug):
    run, content = cli
    result = run(FIXTURE, "--quiz", slug)
    assert result.exit_code == 1
    assert "is not a slug" in result.output
    assert not (content / "quizzes").exists()


def test_a_file_without_questions_or_not_utf8_writes_nothing(cli, tmp_path):
    run, content = cli
    empty = tmp_path / "empty.gift"
    empty.write_text("// only a comment\n\n$CATEGORY: x\n", encoding="utf-8")
    result = run(empty, "--quiz", "empty")
    assert result.exit_code == 1 and "has no questions" in result.output
    latin = tmp_path / "latin.gift"
    latin.write_bytes("Caf\u00e9? {T}".encode("latin-1"))
    result = run(latin, "--quiz", "latin")
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output
    assert not (content / "quizzes").exists()


def test_a_missing_file_is_an_error(cli, tmp_path):
    run, _ = cli
    result = run(tmp_path / "nope.gift", "--quiz", "nope")
    assert result.exit_code == 2
    assert "does not exist" in result.output
