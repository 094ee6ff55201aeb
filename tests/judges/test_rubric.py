from __future__ import annotations

from pathlib import Path

import pytest

from tunegate.harness.errors import JudgeError
from tunegate.judges.rubric import RUBRIC_DIR, known_rubrics, load_rubric, parse_rubric, rubric_hash

GOOD = """---
name: tiny
criteria:
  - name: clarity
    description: Clear.
scale:
  min: 1
  max: 3
  anchors:
    - score: 1
      description: Unclear.
      example: "?"
    - score: 2
      description: Mostly clear.
      example: "Mostly."
    - score: 3
      description: Clear.
      example: "Clear."
---
Grade clarity.
"""


def write(tmp_path: Path, text: str, name: str = "r.md") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_builtin_support_style_rubric_loads_with_anchors_for_every_score() -> None:
    r = load_rubric("support_style")
    assert r.name == "support_style"
    assert r.scale.scores == [1, 2, 3, 4, 5]
    assert sorted(a.score for a in r.scale.anchors) == [1, 2, 3, 4, 5]
    assert r.spec.field == "reply" and r.spec.show_reference is False
    assert {c.name for c in r.spec.criteria} >= {
        "greeting",
        "length",
        "next_step",
        "sign_off",
        "no_exclamation",
        "tone",
    }
    assert "— The Billing Team" in r.instructions or any(
        "— The Billing Team" in c.description for c in r.spec.criteria
    )
    assert "support_style" in known_rubrics()


def test_hash_ignores_line_endings_and_trailing_spaces_but_not_words(tmp_path: Path) -> None:
    base = parse_rubric(GOOD, "a.md")
    crlf = parse_rubric(GOOD.replace("\n", "  \r\n"), "b.md")
    edited = parse_rubric(GOOD.replace("Grade clarity.", "Grade clarity strictly."), "c.md")
    assert base.hash == crlf.hash == rubric_hash(GOOD)
    assert edited.hash != base.hash
    assert load_rubric(write(tmp_path, GOOD)).hash == base.hash


def test_unknown_key_names_file_line_and_allowed_keys(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("name: tiny\n", "name: tiny\nshow_refrence: true\n"))
    with pytest.raises(JudgeError, match=rf"invalid rubric {p}: 1 problem") as exc:
        load_rubric(p)
    msg = str(exc.value)
    assert f"{p}:3: show_refrence: unknown key" in msg
    assert "show_reference" in msg  # the allowed keys are listed
    assert "tunegate judge validate" in msg


def test_wrong_type_points_at_the_line_and_echoes_the_value(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("max: 3", "max: three"))
    with pytest.raises(JudgeError, match=rf"{p}:8: scale.max: .*integer.*'three'"):
        load_rubric(p)


def test_missing_anchor_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace('    - score: 2\n      description: Mostly clear.\n      example: "Mostly."\n', "")
    p = write(tmp_path, text)
    with pytest.raises(
        JudgeError, match=r"anchors must hold exactly one entry per score \[1, 2, 3\], got scores \[1, 3\]"
    ):
        load_rubric(p)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = (
        GOOD.replace("name: tiny", "name: Tiny Rubric")
        .replace("show", "x")
        .replace("min: 1", "min: 1\n  steps: 2")
    )
    p = write(tmp_path, text)
    with pytest.raises(JudgeError) as exc:
        load_rubric(p)
    msg = str(exc.value)
    assert "2 problem(s)" in msg
    assert f"{p}:2: name:" in msg and "'Tiny Rubric'" in msg
    assert "scale.steps: unknown key" in msg


def test_yaml_syntax_error_gives_file_line(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("  - name: clarity", "  - name: [clarity"))
    with pytest.raises(JudgeError, match=rf"{p}:\d+: invalid YAML in the front matter"):
        load_rubric(p)


def test_missing_front_matter_and_empty_instructions(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match=r"r.md:1: a rubric file starts with a '---' line"):
        load_rubric(write(tmp_path, "Grade it.\n"))
    with pytest.raises(JudgeError, match=r"never closed"):
        load_rubric(write(tmp_path, "---\nname: x\n"))
    with pytest.raises(JudgeError, match=r"r.md:20: the instructions are empty"):
        load_rubric(write(tmp_path, GOOD.replace("Grade clarity.\n", "")))


def test_unknown_rubric_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match=r"unknown rubric 'nope'; known rubrics: .*support_style"):
        load_rubric("nope")
    write(tmp_path, GOOD.replace("name: tiny", "name: mine"), "mine.md")
    assert load_rubric("mine", [tmp_path]).name == "mine"
    assert RUBRIC_DIR.is_dir()
    with pytest.raises(
        JudgeError, match=r"is a directory; pass a rubric .md file inside it, or a rubric name"
    ):
        load_rubric(str(tmp_path))
