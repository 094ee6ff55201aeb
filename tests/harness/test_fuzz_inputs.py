"""Property-based fuzzing: any suite file or gate YAML either loads or raises tunegate's own error."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunegate.harness.data import load_suite, parse_items
from tunegate.harness.errors import TunegateError
from tunegate.harness.gatefile import load_gatefile

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "robot", 3]), "content": json_value}
)
item = st.fixed_dictionaries(
    {"id": json_value, "messages": st.lists(message, max_size=3) | json_value},
    optional={
        "reference": json_value,
        "tags": json_value,
        "group": json_value,
        "meta": json_value,
        "extra": json_value,
    },
)
lexical = st.sampled_from(
    [b"NaN", b"-Infinity", b"1e999", b'"\\ud800"', b'"\\udc00\\ud800"', b"\xef\xbb\xbf", b"[" * 3000, b"1" * 5000,
     b"\xff", b"\xed\xa0\x80", b"\x00", b"\r", b"{", b"}", b'"', b",", b":", b"\n", b" "]
)  # fmt: skip


def _suite_bytes(rows: list[object], noise: list[bytes]) -> bytes:
    lines = [json.dumps(r, allow_nan=True).encode() for r in rows]
    for k, blob in enumerate(noise):
        pos = k % (len(lines) + 1)
        lines.insert(pos, blob if k % 2 else (lines[pos - 1][:7] + blob if pos and lines else blob))
    return b"\n".join(lines)


def _loads_or_own_error(data: bytes, tmp: Path) -> None:
    path = tmp / "suite.jsonl"
    path.write_bytes(data)
    try:
        suite = load_suite(path)
    except TunegateError as exc:
        assert str(exc)
        return
    for it in suite:  # a loaded suite is usable downstream: every string encodes, every id is text
        assert isinstance(it.id, str) and it.id
        it.prompt.encode("utf-8")
        it.reference_text().encode("utf-8")
        json.dumps(it.chat(), allow_nan=False)


@FUZZ
@given(rows=st.lists(item, max_size=5), noise=st.lists(lexical, max_size=4))
def test_suite_loader_never_raises_a_foreign_exception(rows: list[object], noise: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _loads_or_own_error(_suite_bytes(rows, noise), Path(tmp))


@FUZZ
@given(data=st.binary(max_size=400))
def test_suite_loader_on_random_bytes(data: bytes) -> None:
    try:
        items = parse_items(data, "fuzz.jsonl")
    except TunegateError as exc:
        assert "fuzz.jsonl:" in str(exc)
        return
    assert all(isinstance(it.id, str) and it.messages[-1].role == "user" for it in items)


yaml_scalar = st.one_of(
    st.sampled_from(
        ["true", "no", "~", ".inf", "-.nan", "0x1F", "1e999", "0.5", "-1", '"0.1"', "!!timestamp 2020-99-99",
         "!!binary ###", "!!python/object:os.system x", "&a [*a]", "*undefined", "{", "[", "'", "2001-12-14",
         "exact_match", "toy.jsonl", "missing.jsonl", "."]
    ),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=10).map(json.dumps),
)  # fmt: skip
gate_key = st.sampled_from(
    ["metric", "options", "name", "improves", "no_regression", "margin", "alpha", "min_delta", "field", "bogus"]
)


def _yaml_map(keys: list[str], values: list[str], indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}{k}: {v}\n" for k, v in zip(keys, values, strict=False))


gate_yaml = st.builds(
    lambda top_keys, top_vals, gates: (
        _yaml_map(top_keys, top_vals, 0)
        + "gates:\n"
        + "".join(
            "  - " + _yaml_map(g_keys, g_vals, 4).lstrip() + (f"    {nested}: {{{inner}: {inner_val}}}\n")
            for g_keys, g_vals, nested, inner, inner_val in gates
        )
    ),
    st.lists(st.sampled_from(["suite", "name", "max_new_tokens", "stop", "extra"]), max_size=4, unique=True),
    st.lists(yaml_scalar, min_size=4, max_size=4),
    st.lists(
        st.tuples(
            st.lists(gate_key, max_size=3, unique=True),
            st.lists(yaml_scalar, min_size=3, max_size=3),
            st.sampled_from(["improves", "no_regression", "options"]),
            gate_key,
            yaml_scalar,
        ),
        max_size=3,
    ),
)


@FUZZ
@given(body=gate_yaml | st.text(max_size=300))
def test_gate_yaml_parser_never_raises_a_foreign_exception(body: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "toy.jsonl").write_text('{"id": "a", "messages": [{"role": "user", "content": "x"}]}\n')
        path = folder / "tunegate_fuzz.yaml"
        try:
            path.write_text(body, encoding="utf-8")
        except UnicodeEncodeError:
            path.write_bytes(body.encode("utf-8", "surrogatepass"))
        try:
            spec = load_gatefile(path)
        except TunegateError as exc:
            assert str(exc).startswith(str(path))
            return
        assert spec.gates and (folder / spec.suite).is_file()


@pytest.mark.parametrize("body", [b"\xff\xfe", b"a: [" * 2000, b"- " * 5000 + b"x"])
def test_gate_yaml_pathological_files(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "tunegate_x.yaml"
    path.write_bytes(body)
    with pytest.raises(TunegateError):
        load_gatefile(path)
