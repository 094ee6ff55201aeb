"""The pytest plugin tested from the outside, as pytest tests its own plugins."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE_LINES = [
    {"id": f"q{i}", "messages": [{"role": "user", "content": f"Question number {i}: say something."}],
     "reference": "x", "tags": {"parity": "even" if i % 2 == 0 else "odd"}}
    for i in range(12)
]

TEST_FILE = '''
from pathlib import Path
import numpy as np
from harness.data import load_suite
from harness.metrics.base import MetricScores

SUITE = load_suite(Path(__file__).parent / "data" / "toy.jsonl", max_new_tokens=6)

class LengthMetric:
    name = "length"
    kind = "continuous"
    higher_is_better = True
    def score(self, items, outputs):
        return MetricScores(values=np.array([float(len(o)) for o in outputs]))
    def describe(self):
        return {"what": "characters"}

def test_lengths(compare):
    result = compare(SUITE, LengthMetric())
    assert result.n == 12
'''


@pytest.fixture
def project(pytester: pytest.Pytester, tmp_path: Path) -> pytest.Pytester:
    data = pytester.path / "data"
    data.mkdir()
    (data / "toy.jsonl").write_text("\n".join(json.dumps(x) for x in SUITE_LINES) + "\n")
    pytester.makepyfile(test_toy=TEST_FILE)
    return pytester


def _args(tiny_model_dir: Path, cache: Path, *extra: str) -> list[str]:
    return ["-p", "no:cacheprovider", "--base", str(tiny_model_dir), "--dtype", "fp32", "--cache-dir", str(cache), *extra]


def test_suite_runs_and_prints_summary(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    res = project.runpytest_subprocess(
        *_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir), "--report", str(report))
    )
    res.assert_outcomes(passed=1)
    out = res.stdout.str()
    assert "tunegate: base vs candidate" in out
    assert "length" in out and "NOT_GATED" in out
    assert "24 new" in out and "0 from cache" in out
    results = json.loads((report / "results.json").read_text())
    assert results["schema_version"] == 1
    assert results["comparisons"][0]["metric"] == "length"
    assert len(results["items"]["toy"]) == 12
    assert set(results["items"]["toy"][0]["outputs"]) == {"base", "candidate"}
    # second identical run: nothing generated
    res2 = project.runpytest_subprocess(*_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir)))
    res2.assert_outcomes(passed=1)
    assert "0 new" in res2.stdout.str() and "24 from cache (hit rate 100%)" in res2.stdout.str()


def test_two_candidates_share_one_base_pass(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    second = tmp_path / "second"
    shutil.copytree(tiny_adapter_dir, second)
    res = project.runpytest_subprocess(
        *_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir), "--candidate", str(second), "-v")
    )
    res.assert_outcomes(passed=2)
    out = res.stdout.str()
    assert "test_lengths[" in out
    # 12 base + 12 per candidate; the second candidate has identical weights -> same fingerprint -> cached
    assert "24 new" in out and "12 from cache" in out


def test_zero_adapter_is_reported_loudly(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_zero_adapter_dir: Path, tmp_path: Path
) -> None:
    res = project.runpytest_subprocess(*_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_zero_adapter_dir)))
    assert "ADAPTER HAS NO EFFECT" in res.stdout.str()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--alpha", "2"], "--alpha='2': alpha must be in (0, 0.5]"),
        (["--alpha", "abc"], "--alpha='abc': not a number"),
        (["--dtype", "fp8"], "--dtype='fp8': unknown dtype"),
        (["--backend", "nope"], "--backend='nope': unknown backend; known:"),
        (["--sample", "-3"], "--sample='-3': must be >= 0"),
        (["--candidate", "/no/such/dir"], "--candidate='/no/such/dir': no such directory"),
    ],
)
def test_bad_options_fail_fast_without_traceback(
    project: pytest.Pytester, tiny_model_dir: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    res = project.runpytest(*_args(tiny_model_dir, tmp_path / "cache", *extra))
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert message in err
    assert "Traceback" not in err and "Traceback" not in res.stdout.str()


def test_pickle_adapter_is_a_usage_error(project: pytest.Pytester, tiny_model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bin-adapter"
    bad.mkdir()
    (bad / "adapter_config.json").write_text("{}")
    (bad / "adapter_model.bin").write_bytes(b"\x80\x04")
    res = project.runpytest(*_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(bad)))
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "ships pickle weights (adapter_model.bin)" in res.stderr.str()
    assert "Traceback" not in res.stderr.str()


def test_missing_candidate_is_a_usage_error(project: pytest.Pytester, tiny_model_dir: Path, tmp_path: Path) -> None:
    res = project.runpytest(*_args(tiny_model_dir, tmp_path / "cache"))
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "no candidate was given: pass --candidate ADAPTER_DIR" in res.stderr.str()


def test_options_from_pyproject(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    project.makefile(
        ".toml",
        pyproject=f'[tool.tunegate]\nbase = "{tiny_model_dir}"\ncandidate = ["{tiny_adapter_dir}"]\n'
        f'dtype = "fp32"\ncache_dir = "{tmp_path / "cache"}"\n',
    )
    res = project.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    project.makefile(".toml", pyproject='[tool.tunegate]\nbasse = "x"\n')
    res = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown key(s) in [tool.tunegate]: ['basse']" in res.stderr.str()


def test_xdist_workers_share_cache_and_one_report(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("xdist")
    project.makepyfile(
        test_more=TEST_FILE.replace("def test_lengths", "def test_lengths_again").replace(
            "LengthMetric()", "LengthMetric()"
        )
    )
    report = tmp_path / "report"
    res = project.runpytest_subprocess(
        *_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir), "--report", str(report), "-n", "2")
    )
    res.assert_outcomes(passed=2)
    results = json.loads((report / "results.json").read_text())
    assert len(results["comparisons"]) == 2
    assert {c["nodeid"].split("::")[0].rsplit("/", 1)[-1] for c in results["comparisons"]} == {"test_toy.py", "test_more.py"}
    assert set(results["items"]["toy"][0]["outputs"]) == {"base", "candidate"}
    assert "tunegate: base vs candidate" in res.stdout.str()
