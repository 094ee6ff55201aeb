"""Gates written as YAML are collected and run like Python suites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    rows = [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"Item {i}?"}], "reference": "x"} for i in range(10)
    ]
    (pytester.path / "toy.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return pytester


def test_yaml_gates_run(project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path) -> None:
    project.makefile(
        ".yaml",
        tunegate_toy="suite: toy.jsonl\nmax_new_tokens: 4\ngates:\n"
        "  - metric: exact_match\n    no_regression: {margin: 0.5}\n"
        "  - metric: contains\n    options: {text: x}\n    improves: {min_delta: 0.0}\n",
    )
    res = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--base", str(tiny_model_dir), "--dtype", "fp32",
        "--candidate", str(tiny_adapter_dir), "--cache-dir", str(tmp_path / "c"), "-v",
    )
    out = res.stdout.str()
    assert "tunegate_toy.yaml::exact_match" in out
    assert "tunegate_toy.yaml::contains[text=x]" in out
    assert "tunegate: base vs candidate" in out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("suite: toy.jsonl\ngates:\n  - metric: exact_match\n", "give exactly one of 'improves' or 'no_regression'"),
        ("suite: toy.jsonl\ngatez: []\n", "gatez: Extra inputs are not permitted"),
        ("suite: toy.jsonl\ngates:\n  - metric: exact_match\n    no_regression: {margin: -1}\n", "margin: Input should be greater than 0"),
        ("suite: [unclosed\n", "tunegate_bad.yaml:1: invalid YAML"),
    ],
)
def test_invalid_gate_file_is_one_clear_message(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, body: str, message: str
) -> None:
    project.makefile(".yaml", tunegate_bad=body)
    res = project.runpytest("-p", "no:cacheprovider", "--base", str(tiny_model_dir), "--candidate", str(tiny_adapter_dir))
    out = res.stdout.str()
    assert message in out
    assert "Traceback" not in out
