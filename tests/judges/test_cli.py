"""``tunegate judge ...`` / ``python -m tunegate.judges ...``: calibrate, validate, rubrics, providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.judges.conftest import ScriptedProvider, oracle_script
from tunegate.judges.cli import main
from tunegate.judges.providers import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]


def _oracle(model: str | None = None, **options: Any) -> ScriptedProvider:
    return ScriptedProvider(model or "oracle", script=oracle_script(), **options)


def _always_three(model: str | None = None, **options: Any) -> ScriptedProvider:
    def script(p: Any, n: int) -> dict[str, Any]:
        return {"reasoning": "", "score": 3} if p.mode == "single" else {"reasoning": "", "winner": "B"}

    return ScriptedProvider(model or "three", script=script, **options)


PROVIDERS.register("test-oracle", _oracle, replace=True)
PROVIDERS.register("test-three", _always_three, replace=True)


def test_calibrate_prints_kappa_confusion_and_position_consistency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", "--provider", "test-oracle", "--cache-dir", str(tmp_path), "--pairs", "6"]) == 0
    out = capsys.readouterr().out
    assert "judge calibration: script-double oracle, rubric support_style" in out
    assert "Cohen's kappa (quadratic weights): 1.000   [needs >= 0.60: reliable]" in out
    assert "confusion matrix (rows: gold score, columns: judge score, rounded)" in out
    assert "position consistency 1.000" in out
    assert f"saved to {tmp_path}" in out


def test_calibrate_json_and_require_reliable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "calibrate",
            "--provider",
            "test-three",
            "--cache-dir",
            str(tmp_path),
            "--pairs",
            "4",
            "--json",
            "--require-reliable",
        ]
    )
    record = json.loads(capsys.readouterr().out)
    assert code == 1  # a judge that always says 3 agrees no better than chance: kappa 0, unreliable
    assert (
        record["kappa"] == pytest.approx(0.0) and record["n"] == 80 and record["position_consistency"] == 0.0
    )
    assert Path(record["record_path"]).exists()


def test_cli_errors_are_one_line_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["calibrate", "--provider", "nope", "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown judge provider 'nope'; known providers: anthropic, local, openai")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["calibrate", "--provider", "anthropic", "--cache-dir", str(tmp_path)]) == 2
    assert "environment variable ANTHROPIC_API_KEY, which is not set" in capsys.readouterr().err
    assert (
        main(["calibrate", "--provider", "test-oracle", "--rubric", "nope", "--cache-dir", str(tmp_path)])
        == 2
    )
    assert "unknown rubric 'nope'; known rubrics: support_style" in capsys.readouterr().err


def test_a_calibration_where_every_judgment_failed_says_why_and_keeps_the_old_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it printed '80 items, 80 failed' and kappa n/a without a reason, and its record replaced the
    # judge's earlier (reliable) calibration
    args = ["calibrate", "--provider", "test-oracle", "--cache-dir", str(tmp_path), "--pairs", "2"]
    assert main(args) == 0
    saved = {p: p.read_bytes() for p in (tmp_path / "judges" / "calibration").iterdir()}
    capsys.readouterr()
    assert main([*args, "--max-tokens-total", "0", "--no-cache"]) == 2
    err = capsys.readouterr().err
    # a progress line may come first (a slow machine passes its heartbeat); the error is the last line
    assert err.splitlines()[-1].startswith("error: calibration: all 80 judgments failed (the first: budget exhausted: "), err
    assert "max_tokens_total=0 reached" in err and "nothing was saved" in err
    assert {p: p.read_bytes() for p in (tmp_path / "judges" / "calibration").iterdir()} == saved


def test_failed_judgments_are_counted_with_the_first_reason() -> None:
    from tunegate.judges.calibrate import format_record
    from tunegate.judges.health import CalibrationRecord

    record = CalibrationRecord(
        provider="p", model="m", settings="s", rubric="r", rubric_hash="h" * 12, prompt_version="v", n=80,
        n_failed=3, kappa=0.7, exact_agreement=None, within_one=None, mean_abs_error=None, labels=[1, 2],
        confusion=[[0, 0], [0, 0]], failure="unparseable reply",
    )  # fmt: skip
    assert "80 items, 3 failed (the first: unparseable reply)" in format_record(record, 0.6)


def test_validate_reports_good_and_bad_rubrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\nname: bad\ncriterias: []\n---\nx\n", encoding="utf-8")
    assert main(["validate", "support_style", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "ok  " in captured.out and "rubric 'support_style', scale 1-5, 7 criteria, hash" in captured.out
    assert f"{bad}:3: criterias: unknown key" in captured.err
    assert main(["rubrics"]) == 0
    assert capsys.readouterr().out.startswith("support_style\t")


def test_option_values_are_typed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["calibrate", "--provider", "local", "--option", "batchsize=4", "--cache-dir", str(tmp_path)])
    assert code == 2
    assert "invalid options for the local judge: batchsize: unknown option" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["calibrate", "--option", "no-equals-sign"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["calibrate", "--option", "=4"])
    assert "argument --option: '=4' has no KEY before '='" in capsys.readouterr().err
    twice = ["--option", "batch_size=4", "--option", "batch_size=8", "--cache-dir", str(tmp_path)]
    assert main(["calibrate", "--provider", "local", *twice]) == 2
    assert "error: --option batch_size is given twice (4 and 8); keep one" in capsys.readouterr().err


def test_python_dash_m_judges_runs() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tunegate.judges", "providers"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["anthropic", "local", "openai", "openai-compatible", "scripted"]


def test_the_calibrate_command_an_uncalibrated_judge_recommends_calibrates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The advice in JudgeHealth.reason is run as written, and the same judge is then calibrated."""
    import shlex

    from tunegate.judges import Judge

    cache = tmp_path / "cache dir"
    judge = Judge("test-oracle", cache_dir=cache, options={"max_tokens": 40})
    before = judge.health("support_style")
    assert not before.reliable and before.reason.startswith("never calibrated")
    command = before.reason.split("`")[1]
    argv = shlex.split(command)
    assert argv[:3] == ["tunegate", "judge", "calibrate"]
    assert main([*argv[2:], "--pairs", "0"]) == 0
    assert f"saved to {cache}" in capsys.readouterr().out
    after = judge.health("support_style")
    assert after.reliable and after.kappa == 1.0, after.reason


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-kappa", "7"], "argument --min-kappa: Cohen's kappa lies in [-1, 1], got '7'"),
        (["--min-kappa", "nan"], "argument --min-kappa: Cohen's kappa lies in [-1, 1], got 'nan'"),
        (["--concurrency", "0"], "argument --concurrency: must be >= 1, got 0"),
        (["--pairs", "-5"], "argument --pairs: must be >= 0, got -5"),
        (["--pairs", "many"], "argument --pairs: expected a whole number, got 'many'"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--provider", "scripted", "--cache-dir", str(tmp_path), *args])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_prices_that_are_not_numbers_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("judge-model: [cheap, 2]\n")
    with pytest.raises(SystemExit):
        main(["calibrate", "--prices", str(prices), "--cache-dir", str(tmp_path)])
    assert f"{prices}: the prices of 'judge-model' must be two numbers, got ['cheap', 2]" in capsys.readouterr().err
