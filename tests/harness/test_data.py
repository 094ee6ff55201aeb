from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tunegate.harness.data import load_suite
from tunegate.harness.errors import DataError


def _write(tmp_path: Path, lines: list[str] | bytes, name: str = "suite.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
    return p


def _item(i: int, **over: object) -> str:
    obj = {"id": f"q{i}", "messages": [{"role": "user", "content": f"question {i}"}], "reference": str(i)}
    obj.update(over)
    return json.dumps(obj)


def test_loads_valid_suite(tmp_path: Path) -> None:
    p = _write(tmp_path, [_item(i, tags={"category": "a" if i % 2 else "b"}, group=f"g{i // 2}") for i in range(5)])
    suite = load_suite(p)
    assert len(suite) == 5
    assert suite.ids == [f"q{i}" for i in range(5)]
    assert suite.items[1].tags == {"category": "a"}
    assert suite.items[3].group == "g1"
    assert suite.items[0].prompt == "question 0"
    assert len(suite.version) == 64


def test_reports_every_problem_with_line_numbers(tmp_path: Path) -> None:
    lines = [
        _item(0),
        "{not json",
        json.dumps({"id": "q2", "messages": []}),
        json.dumps({"id": "q3", "messages": [{"role": "robot", "content": "x"}]}),
        json.dumps({"id": "q4", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}),
        _item(0),
        json.dumps({"id": "q6", "messages": [{"role": "user", "content": 7}]}),
        json.dumps({"messages": [{"role": "user", "content": "x"}]}),
    ]
    p = _write(tmp_path, lines)
    with pytest.raises(DataError) as err:
        load_suite(p)
    problems = err.value.problems
    text = str(err.value)
    assert f"{p}:2: invalid JSON" in text
    assert f"{p}:3: missing or empty \"messages\"" in text
    assert f"{p}:4: messages[0] has unknown role 'robot'" in text
    assert f"{p}:5: the last message must be from the user" in text
    assert f'{p}:6: duplicate id "q0" (first on line 1)' in text
    assert f"{p}:7: messages[0].content must be a string, got int" in text
    assert f'{p}:8: missing or empty "id"' in text
    assert len(problems) == 7


def test_non_utf8_and_empty_file(tmp_path: Path) -> None:
    p = _write(tmp_path, _item(0).encode() + b"\n" + b'{"id": "q1", "messages": [{"role": "user", "content": "caf\xe9"}]}\n')
    with pytest.raises(DataError, match=r"suite.jsonl:2: not valid UTF-8 \(byte 0xe9"):
        load_suite(p)
    empty = _write(tmp_path, b"\n\n", name="empty.jsonl")
    with pytest.raises(DataError, match=r"empty.jsonl:1: the file is empty"):
        load_suite(empty)


def test_wrong_id_type_is_echoed_and_an_empty_prompt_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, [_item(0, id=1.5), _item(1, id=True), _item(2, messages=[{"role": "user", "content": " "}])])
    with pytest.raises(DataError) as err:
        load_suite(p)
    assert err.value.problems == [
        f'{p}:1: "id" must be a string (or a whole number), got float 1.5; write it as "id": "q-17"',
        f'{p}:2: "id" must be a string (or a whole number), got bool True; write it as "id": "q-17"',
        f"{p}:3: messages[0].content, the prompt the model answers, is empty; write the question or drop the item",
    ]


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_suite(tmp_path / "nope.jsonl")


def test_sample_is_seeded_random_not_first_n(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, [_item(i) for i in range(100)]))
    a = suite.sample(10, seed=1)
    b = suite.sample(10, seed=1)
    c = suite.sample(10, seed=2)
    assert a.ids == b.ids
    assert a.ids != c.ids
    assert a.ids != suite.ids[:10]
    assert len(a) == 10 and set(a.ids) <= set(suite.ids)
    assert suite.sample(1000, seed=1) is suite


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    p = _write(tmp_path, b"\xef\xbb\xbf" + (_item(0) + "\n" + _item(1) + "\n").encode())
    suite = load_suite(p)
    assert suite.ids == ["q0", "q1"]
    assert len(suite.version) == 64


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "q1", "messages": [{"role": "user", "content": "x"}], "reference": NaN}', "NaN is not a JSON number"),
        ('{"id": "q1", "messages": [{"role": "user", "content": "x"}], "meta": {"w": -Infinity}}', "-Infinity is not"),
        ('{"id": "q1", "messages": [{"role": "user", "content": "x"}], "reference": 1e999}', "out of range"),
        ('{"id": "q1", "messages": [{"role": "user", "content": "x\\ud800"}]}', "unpaired surrogate"),
        ('{"id": "q1", "messages": [{"role": "user", "content": "x"}], "tags": {"\\udfff": "a"}}', "unpaired surrogate"),
        ('{"id": 1' + "0" * 5000 + ', "messages": []}', "invalid JSON"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON"),
    ],
)
def test_non_finite_numbers_and_lone_surrogates_fail_at_load_with_the_line(
    tmp_path: Path, line: str, message: str
) -> None:
    p = _write(tmp_path, [_item(0), line])
    with pytest.raises(DataError) as err:
        load_suite(p)
    assert err.value.problems[0].startswith(f"{p}:2: ")
    assert message in err.value.problems[0]


def test_valid_surrogate_pairs_still_load(tmp_path: Path) -> None:
    p = _write(tmp_path, [_item(0, reference="smile \U0001f600")])  # json.dumps writes a surrogate pair
    assert load_suite(p).items[0].reference == "smile \U0001f600"
    p2 = _write(tmp_path, ['{"id": "a", "messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}'], name="s2.jsonl")
    assert load_suite(p2).items[0].prompt == "\U0001f600"


def test_directory_and_unreadable_paths_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r":0: is a directory; pass a suite .jsonl file inside it"):
        load_suite(tmp_path)
    with pytest.raises(DataError, match="not a usable file name"):
        load_suite("bad\x00name.jsonl")
    locked = _write(tmp_path, [_item(0)], name="locked.jsonl")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: nothing to check here
            pytest.skip("running as root")
        with pytest.raises(DataError, match=r"locked.jsonl:0: cannot read the suite file \(Permission denied\)"):
            load_suite(locked)
    finally:
        locked.chmod(0o644)
