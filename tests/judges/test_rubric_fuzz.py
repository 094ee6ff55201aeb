"""Property: any rubric text (or file bytes) either loads or raises JudgeError, never another exception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunegate.harness.errors import JudgeError
from tunegate.judges.rubric import RUBRIC_DIR, Rubric, load_rubric, parse_rubric

VALID = (RUBRIC_DIR / "support_style.md").read_text(encoding="utf-8")
FRONT, BODY = VALID.split("\n---\n", 1)[0].removeprefix("---\n"), VALID.split("\n---\n", 1)[1]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-20, 20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
keys = st.sampled_from(
    [
        "name",
        "description",
        "criteria",
        "scale",
        "min",
        "max",
        "anchors",
        "score",
        "example",
        "field",
        "show_reference",
        "extra",
    ]
) | st.text(max_size=6)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def outcome(text: str) -> Rubric | None:
    try:
        return parse_rubric(text, "fuzz.md")
    except JudgeError as exc:
        assert str(exc).startswith("invalid rubric fuzz.md:")
        return None


@SETTINGS
@given(st.text(max_size=400))
def test_any_text_loads_or_raises_judge_error(text: str) -> None:
    outcome(text)


@SETTINGS
@given(yaml_values, st.text(max_size=40))
def test_any_front_matter_loads_or_raises_judge_error(front: Any, body: str) -> None:
    dumped = yaml.safe_dump(front, allow_unicode=True)
    outcome(f"---\n{dumped}---\n{body}")


@SETTINGS
@given(st.data())
def test_mutations_of_a_valid_rubric_load_or_raise_judge_error(data: st.DataObject) -> None:
    lines = VALID.split("\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    action = data.draw(st.sampled_from(["drop", "replace", "insert", "truncate"]))
    junk = data.draw(st.text(max_size=30))
    if action == "drop":
        del lines[i]
    elif action == "replace":
        lines[i] = junk
    elif action == "insert":
        lines.insert(i, junk)
    else:
        lines[i] = lines[i][: data.draw(st.integers(0, max(0, len(lines[i]))))]
    outcome("\n".join(lines))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_file_bytes_load_or_raise_judge_error(tmp_path_factory: Any, raw: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("rubric")) / "r.md"
    path.write_bytes(raw)
    try:
        rubric = load_rubric(path)
    except JudgeError as exc:
        assert str(path) in str(exc)  # the message names the file
    else:
        assert rubric.path == str(path) and len(rubric.hash) == 64


def test_the_shipped_rubric_is_valid() -> None:
    rubric = outcome(VALID)
    assert rubric is not None and rubric.name == "support_style" and FRONT and BODY
