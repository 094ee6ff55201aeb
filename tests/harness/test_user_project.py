"""A small user project run end to end: quiet (no third-party warnings), readable labels and node
ids; and a misspelt ``[tool.tunegate]`` table is reported instead of ignored."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from tunegate.harness import tooltable
from tunegate.harness.models.quiet import QUIET_LOGGERS, quiet

pytest_plugins = ["pytester"]

ROWS = [
    {"id": f"q{i}", "messages": [{"role": "user", "content": f"Say the number {i}."}], "reference": str(i)}
    for i in range(8)
]

SUITE = """
from pathlib import Path

from tunegate import Compare, load_suite, metrics

FAQ = load_suite(Path(__file__).parent / "faq.jsonl", name="{name}", max_new_tokens=6)


def test_answers_do_not_regress(compare: Compare) -> None:
    compare(FAQ, metrics.make_metric("exact_match")).assert_no_regression(margin=0.5)
"""


def test_small_suite_run_is_quiet_and_readable(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    lines = "\n".join(json.dumps(r) for r in ROWS) + "\n"
    (pytester.path / "faq.jsonl").write_text(lines)
    pytester.makepyfile(test_faq=SUITE.replace("{name}", "faq"))
    shared = tmp_path / "shared"  # a suite file outside the rootdir
    shared.mkdir()
    (shared / "faq.jsonl").write_text(lines)
    (shared / "test_shared.py").write_text(SUITE.replace("{name}", "shared"))
    adapter = tmp_path / "support-v2"
    adapter.symlink_to(tiny_adapter_dir, target_is_directory=True)
    pytester.makefile(
        ".toml",
        pyproject=f'[tool.tunegate]\nbase = "{tiny_model_dir}"\ndtype = "fp32"\ncache_dir = "{tmp_path / "cache"}"\n'
        f'report = "{tmp_path / "report"}"\n',
    )
    # -W default: every warning pytest would hide by default is shown too.
    res = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-W",
        "default",
        ".",
        str(shared / "test_shared.py"),
        f"--candidate={adapter}",
    )
    out = res.stdout.str() + res.stderr.str()
    res.assert_outcomes(passed=2)
    assert "warnings summary" not in out and "Warning:" not in out and "gemm_4bit" not in out, out[-3000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert {c["candidate"] for c in results["comparisons"]} == {
        "support-v2"
    }  # the adapter dir, not "candidate"
    outside = Path(
        os.path.relpath(shared / "test_shared.py", pytester.path)
    ).as_posix()  # ../…/shared/test_shared.py
    assert outside.startswith("../")
    assert sorted(c["nodeid"] for c in results["comparisons"]) == sorted(
        [f"{outside}::test_answers_do_not_regress", "test_faq.py::test_answers_do_not_regress"]
    )


def test_quiet_hides_only_the_listed_noise(caplog: pytest.LogCaptureFixture) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet():
            warnings.warn(
                "`torch.jit.script_method` is deprecated. Please switch", DeprecationWarning, stacklevel=1
            )
            warnings.warn("the user's own deprecation", DeprecationWarning, stacklevel=1)
            logging.getLogger(QUIET_LOGGERS[0]).warning(
                "Failed to load CPU gemm_4bit_forward from kernels-community"
            )
        warnings.warn(
            "`torch.jit.script_method` is deprecated. Please switch", DeprecationWarning, stacklevel=1
        )
    assert [str(w.message)[:26] for w in seen] == ["the user's own deprecation", "`torch.jit.script_method` "]
    assert "gemm_4bit" not in caplog.text
    assert logging.getLogger(QUIET_LOGGERS[0]).level == logging.NOTSET  # restored


@pytest.mark.parametrize(
    ("table", "flagged"),
    [
        ("tunegat", True),
        ("tune-gate", True),
        ("TuneGate", True),
        ("tungeate", True),
        ("tunegate", False),
        ("ruff", False),
        ("pytest", False),
    ],
)
def test_lookalike_tool_tables(tmp_path: Path, table: str, flagged: bool) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[tool.{table}]\nbase = "x"\n\n[tool.mypy]\nstrict = true\n')
    assert tooltable.lookalikes(path) == ([table] if flagged else [])


def test_misspelt_table_is_reported_not_ignored(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject='[tool.tunegat]\nbase = "smollm2-135m-instruct"\n')
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    assert "[tool.tunegat] looks like a misspelt [tool.tunegate]" in res.stdout.str()


def test_full_model_dir_as_candidate_runs_with_the_default_quantization(
    pytester: pytest.Pytester, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A fully fine-tuned model directory as --candidate is loaded unquantized under the default
    ``--quantization auto`` (it used to reach the loader as 'auto' and stop the run)."""
    (pytester.path / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    pytester.makepyfile(test_faq=SUITE.replace("{name}", "faq"))
    res = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--base={tiny_model_dir}",
        f"--candidate={tiny_model_dir}",
        "--dtype=fp32",
        f"--cache-dir={tmp_path / 'cache'}",
        f"--report={tmp_path / 'report'}",
    )
    out = res.stdout.str() + res.stderr.str()
    assert "unknown quantization" not in out, out[-2000:]
    res.assert_outcomes(passed=1)
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    (comparison,) = results["comparisons"]
    assert comparison["verdict"] == "NON_INFERIOR"  # the same weights: every delta is 0
