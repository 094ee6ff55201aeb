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
        ("suite: toy.jsonl\ngatez: []\n", "gatez: unknown key"),
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


# -- load-time validation (no model needed) ----------------------------------------------------------
def _gatefile(tmp_path: Path, body: str, suite_rows: int = 3) -> Path:
    if suite_rows:
        rows = [{"id": f"q{i}", "messages": [{"role": "user", "content": "hi"}]} for i in range(suite_rows)]
        (tmp_path / "toy.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    path = tmp_path / "tunegate_toy.yaml"
    path.write_text(body)
    return path


GOOD = "suite: toy.jsonl\ngates:\n  - metric: exact_match\n    no_regression: {margin: 0.1}\n"


def test_a_valid_gate_file_loads(tmp_path: Path) -> None:
    from tunegate.harness.gatefile import load_gatefile

    spec = load_gatefile(_gatefile(tmp_path, GOOD))
    assert spec.gates[0].no_regression is not None and spec.gates[0].no_regression.margin == 0.1
    int_margin = load_gatefile(_gatefile(tmp_path, GOOD.replace("0.1", "1")))
    assert int_margin.gates[0].no_regression is not None and int_margin.gates[0].no_regression.margin == 1.0
    relative = load_gatefile(_gatefile(tmp_path, GOOD.replace("0.1", "10%")))
    assert relative.gates[0].no_regression is not None and relative.gates[0].no_regression.margin == "10%"


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ("  - metric: exact_match\n    improves: {}\n", ["exact_match[no_regression]", "exact_match[improves]"]),
        (
            "  - metric: exact_match\n    against: reference\n    no_regression: {margin: 0.2}\n",
            ["exact_match[vs the run default]", "exact_match[vs reference]"],
        ),
        ("  - metric: exact_match\n    options: {field: x}\n    improves: {}\n", ["exact_match", "exact_match[field=x]"]),
    ],
)
def test_unnamed_gates_of_one_metric_are_told_apart_by_what_differs(
    tmp_path: Path, extra: str, names: list[str]
) -> None:
    from tunegate.harness.gatefile import load_gatefile

    spec = load_gatefile(_gatefile(tmp_path, GOOD + extra), check_metrics=False)
    assert [g.test_name() for g in spec.gates] == names


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (GOOD.replace("0.1", "true"), "margin: must be a number, got bool True"),
        (GOOD.replace("0.1", '"0.1"'), "margin: must be a number, got str '0.1'"),
        (GOOD.replace("0.1", ".inf"), "must be a finite number, got inf"),
        (GOOD.replace("0.1", "0%"), "margin: must be a number, got str '0%' (a margin relative to the base's mean"),
        (GOOD.replace("0.1", ".nan"), "must be a finite number, got nan"),
        (GOOD.replace("margin: 0.1", "margin: 0.1, alpha: 0.5"), "alpha: alpha must be in (0, 0.5), got 0.5"),
        (GOOD.replace("no_regression: {margin: 0.1}", "improves: {min_delta: yes}"), "min_delta: must be"),
        (
            GOOD.replace("no_regression: {margin: 0.1}", "improves: {min_delta: -0.1}"),
            "gates.0.improves.min_delta: must be >= 0, got -0.1; for 'not worse by more than x' write no_regression",
        ),
        ("max_new_tokens: true\n" + GOOD, "max_new_tokens: must be an integer, got bool True"),
        (GOOD.replace("exact_match", "exact_matc"), "gates.0.metric: unknown metric 'exact_matc'; known: "),
        (
            GOOD.replace("metric: exact_match", "metric: exact_match\n    options: {feild: category}"),
            "gates.0.options: metric 'exact_match' got an unexpected keyword argument 'feild'",
        ),
        (GOOD.replace("toy.jsonl", "missing.jsonl"), "suite 'missing.jsonl': "),
        (
            GOOD + "  - metric: exact_match\n    no_regression: {margin: 0.2}\n",
            "gates.1: its test name 'exact_match' is gates.0's too; give one of them a `name:`",
        ),
        (
            GOOD + "  - metric: exact_match\n    name: exact_match\n    improves: {}\n",
            "gates.1: its test name 'exact_match' is gates.0's too; give one of them a `name:`",
        ),
        ("name: ''\n" + GOOD, "name: String should have at least 1 character"),
        (GOOD.replace("- metric: exact_match", "- metric: exact_match\n    name: ''"), "gates.0.name: String should"),
        (GOOD.replace("toy.jsonl", "."), "is a directory"),
        ("suite: toy.jsonl\ngates: !!timestamp 2020-99-99\n", "invalid YAML value"),
        (GOOD + "gates: []\n", "tunegate_toy.yaml:5: invalid YAML: key 'gates' is given twice (first on line 2); keep one"),
        (GOOD.replace("{margin: 0.1}", "{margin: 0.1, margin: 0.5}"), "key 'margin' is given twice"),
    ],
)
def test_setup_mistakes_are_found_at_load_time(tmp_path: Path, body: str, message: str) -> None:
    from tunegate.harness.errors import ConfigError
    from tunegate.harness.gatefile import load_gatefile

    path = _gatefile(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_gatefile(path)
    text = str(err.value)
    assert text.startswith(f"{path}"), text
    assert message in text, text
    assert "\n" not in text


def test_a_broken_suite_is_reported_with_its_lines(tmp_path: Path) -> None:
    from tunegate.harness.errors import ConfigError
    from tunegate.harness.gatefile import load_gatefile

    path = _gatefile(tmp_path, GOOD, suite_rows=0)
    (tmp_path / "toy.jsonl").write_text('{"id": "a", "messages": [{"role": "user", "content": "x"}], "reference": NaN}\n')
    with pytest.raises(ConfigError, match=r"suite 'toy.jsonl': .*toy.jsonl:1: invalid JSON: NaN is not a JSON number"):
        load_gatefile(path)
    assert load_gatefile(path, check_suite=False).suite == "toy.jsonl"


def test_unknown_metric_is_a_collection_error_before_any_model_loads(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    project.makefile(".yaml", tunegate_bad="suite: toy.jsonl\ngates:\n  - metric: nope\n    improves: {}\n")
    res = project.runpytest(
        "-p", "no:cacheprovider", "--base", str(tiny_model_dir), "--candidate", str(tiny_adapter_dir),
        "--collect-only",
    )  # fmt: skip
    out = res.stdout.str()
    assert res.ret == pytest.ExitCode.INTERRUPTED  # a collection error: nothing ran
    assert "unknown metric 'nope'" in out and "tunegate_bad.yaml" in out
    assert "Traceback" not in out
