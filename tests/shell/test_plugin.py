"""The pytest plugin tested from the outside, as pytest tests its own plugins."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from tunegate.harness.record import SCHEMA_VERSION

pytest_plugins = ["pytester"]

SUITE_LINES = [
    {"id": f"q{i}", "messages": [{"role": "user", "content": f"Question number {i}: say something."}],
     "reference": "x", "tags": {"parity": "even" if i % 2 == 0 else "odd"}}
    for i in range(12)
]

TEST_FILE = '''
from pathlib import Path
import numpy as np
from tunegate.harness.data import load_suite
from tunegate.harness.metrics.base import MetricScores

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
    assert results["schema_version"] == SCHEMA_VERSION
    assert results["comparisons"][0]["metric"] == "length"
    assert len(results["items"]["toy"]) == 12
    assert set(results["items"]["toy"][0]["outputs"]) == {"base", tiny_adapter_dir.name}  # the adapter dir's name
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
        (["--alpha", "2"], "--alpha='2': alpha must be in (0, 0.5)"),
        (["--alpha", "0.5"], "--alpha='0.5': alpha must be in (0, 0.5)"),
        (["--coverage-floor", "0"], "--coverage-floor='0': the coverage floor must be in (0, 1]"),
        (["--quantization", "int8"], "--quantization='int8': unknown quantization"),
        (["--judge", "nobody"], "--judge='nobody': unknown judge provider; known:"),
        (["--judge-option", "timeout"], "--judge-option=['timeout']: 'timeout' is not KEY=VALUE"),
        (["--base", "/no/such/model"], "--base='/no/such/model': not found"),
        (["--train-data", "/no/such.jsonl"], "--train-data='/no/such.jsonl': no such file"),
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
    project.makefile(".toml", pyproject='[tool.tunegate]\ngates = ["x"]\n')
    res = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown key(s) in [tool.tunegate]: ['gates']" in res.stderr.str()


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
    assert set(results["items"]["toy"][0]["outputs"]) == {"base", tiny_adapter_dir.name}  # the adapter dir's name
    assert "tunegate: base vs candidate" in res.stdout.str()


# -- opt-in: a project that is not a tunegate project sees nothing of it ----------------------------
CLASH_CONFTEST = '''
import pytest

@pytest.fixture
def compare():
    return lambda a, b: a == b

@pytest.fixture
def judge():
    return "the project's own judge"

@pytest.fixture
def candidate():
    return "the project's own candidate"
'''


def _files(root: Path) -> set[str]:
    """Files a pytest run left, without pytester's own (its subprocess output) and bytecode."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if "__pycache__" not in p.parts and not p.name.startswith(("runpytest-", "stdout", "stderr"))
    }


def test_unrelated_project_with_clashing_fixtures_sees_nothing_of_tunegate(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "tunegate-cache"
    monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(cache))
    pytester.makeconftest(CLASH_CONFTEST)
    pytester.makepyfile(
        test_own="def test_own(compare, judge, candidate):\n"
        "    assert compare(1, 1) and judge.startswith('the project') and candidate.endswith('candidate')\n"
    )
    before = _files(pytester.path)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    assert res.ret == pytest.ExitCode.OK
    lines = res.stdout.lines + res.stderr.lines
    mentions = [line for line in lines if "tunegate" in line.lower() and not line.startswith(("plugins:", "rootdir:"))]
    assert mentions == []
    assert _files(pytester.path) == before
    assert not cache.exists()


def test_module_importing_harness_activates_tunegate(
    pytester: pytest.Pytester, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """No option, no [tool.tunegate]: a suite module that imports harness is enough to activate."""
    pytester.makepyfile(
        test_suite=f'''
from tunegate.harness.data import load_suite

def test_options_seen(tunegate_run):
    assert tunegate_run.options.base == {str(tiny_model_dir)!r}
'''
    )
    pytester.makeini(f"[pytest]\ntunegate_cache_dir = {tmp_path / 'cache'}\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--base={tiny_model_dir}")
    res.assert_outcomes(passed=1)
    # the same module without the option and without the import: tunegate_run does not exist
    pytester.makepyfile(test_suite="def test_options_seen(tunegate_run):\n    pass\n")
    pytester.makeini("[pytest]\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(errors=1)
    assert "fixture 'tunegate_run' not found" in res.stdout.str()


def test_pyproject_of_a_candidate_elsewhere_is_not_applied(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    """`pytest mysuites --candidate /elsewhere/adapter`: /elsewhere's [tool.tunegate] never applies."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tiny_adapter_dir, elsewhere / "adapter")
    (elsewhere / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmarkers = ["x"]\n[tool.tunegate]\nsample = 3\nseed = 99\n'
    )
    pytester.makefile(".toml", pyproject=f'[tool.tunegate]\nbase = "{tiny_model_dir}"\nseed = 7\n')
    suites = pytester.mkdir("mysuites")
    (suites / "test_opts.py").write_text(
        "def test_options(tunegate_run):\n"
        "    o = tunegate_run.options\n"
        "    assert (o.seed, o.sample) == (7, 0), (o.seed, o.sample, o.sources)\n"
    )
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "mysuites", "--candidate", str(elsewhere / "adapter"),
        "--cache-dir", str(tmp_path / "cache"),
    )
    res.assert_outcomes(passed=1)
    out = res.stdout.str()
    print(next(line for line in res.stdout.lines if line.startswith("rootdir:")))
    if f"rootdir: {elsewhere}" in out:  # pytest chose the other project's rootdir: say so
        assert "TunegateConfigWarning" in out and "--candidate=DIR" in out


# -- configuration errors: found before any model loads, exit 4 -------------------------------------
def test_bad_report_path_fails_fast(project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for report in (blocker, blocker / "sub"):
        res = project.runpytest_subprocess(
            *_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir), "--report", str(report))
        )
        print(f"bad --report {report}: exit {res.ret} in {res.duration:.2f} s")
        assert res.ret == pytest.ExitCode.USAGE_ERROR
        err = res.stderr.str()
        assert f"--report={str(report)!r}" in err
        assert "Traceback" not in err and "Traceback" not in res.stdout.str()
        assert "passed" not in res.stdout.str()


def test_config_error_inside_a_test_stops_the_run_once(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    project.makepyfile(
        test_toy="""
from tunegate.harness.errors import ConfigError

def test_one(tunegate_run):
    raise ConfigError("the suite names a metric nobody registered")

def test_two(tunegate_run):
    raise ConfigError("the suite names a metric nobody registered")
"""
    )
    report = tmp_path / "report"
    res = project.runpytest_subprocess(
        *_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir), "--report", str(report))
    )
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    text = res.stdout.str() + res.stderr.str()
    assert text.count("test_toy.py::test_one (call): the suite names a metric nobody registered") == 1
    assert "test_two" not in text
    assert "Traceback" not in text and "During handling" not in text
    results = json.loads((report / "results.json").read_text())
    assert results["run"]["options"]["candidate"] == [str(tiny_adapter_dir)]


def test_judged_tests_need_credentials(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    project.makepyfile(test_judged="def test_judged(judge):\n    pass\n")
    res = project.runpytest_subprocess(
        *_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir), "--judge", "anthropic")
    )
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--judge=anthropic: judged tests were collected but $ANTHROPIC_API_KEY is not set" in res.stderr.str()
    res = project.runpytest_subprocess(
        *_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir), "--judge", "openai-compatible",
               "--judge-model", "m")
    )
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs the server's URL: pass --judge-base-url" in res.stderr.str()


def test_hub_id_not_cached_offline_is_a_usage_error(
    project: pytest.Pytester, tiny_adapter_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    res = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--base", "nobody/no-such-model", "--candidate", str(tiny_adapter_dir),
        "--cache-dir", str(tmp_path / "cache"),
    )
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--base='nobody/no-such-model': not in the local Hugging Face cache and HF_HUB_OFFLINE=1" in res.stderr.str()


def test_bad_gate_file_is_a_collection_error(project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path) -> None:
    project.makefile(
        ".yaml", tunegate_bad="suite: data/toy.jsonl\ngates:\n  - metric: no_such_metric\n    improves: {}\n"
    )
    res = project.runpytest_subprocess(*_args(tiny_model_dir, tmp_path / "cache", "--candidate", str(tiny_adapter_dir)))
    assert res.ret == pytest.ExitCode.INTERRUPTED  # 2: a collection error
    assert "unknown metric 'no_such_metric'" in res.stdout.str()


def test_suite_without_comparisons_still_writes_its_report(
    project: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    """A leakage-style run (no compare) keeps its report; secrets in options never reach it."""
    project.makepyfile(test_toy="def test_check(tunegate_run, candidate):\n    assert candidate.label == 'served-adapter'\n")
    report = tmp_path / "report"
    res = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend", "openai", "--base", "served-model",
        "--base-url", "http://user:S3cretPassw0rd@127.0.0.1:9/v1", "--candidate", "served-adapter",
        "--cache-dir", str(tmp_path / "cache"), "--report", str(report),
    )
    res.assert_outcomes(passed=1)
    stored = (report / "results.json").read_text()
    assert "S3cretPassw0rd" not in stored and "S3cretPassw0rd" not in res.stdout.str()
    results = json.loads(stored)
    assert results["run"]["options"]["base_url"] == "http://***@127.0.0.1:9/v1"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE((report / "results.json").stat().st_mode) == 0o666 & ~mask
