"""Third-party extensions register through the ``tunegate.plugins`` entry-point group, as built-ins do.

A separate distribution (a module plus its ``*.dist-info`` with ``entry_points.txt``, on the path
the way an installed package is) adds a backend and a judge provider; a pytest run then uses both
by name, end to end: preflight, generation, judging, gates, results.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.projects import faq_project, faq_rows

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
"""A tunegate plugin: the ``canned`` backend and the ``canned-judge`` provider."""

from __future__ import annotations

import hashlib
from typing import Any

from tunegate.harness.models import Completion, ModelSpec, register_backend
from tunegate.judges.providers import ProviderReply, register_provider

RIGHT, WRONG = "ACCURATE-ANSWER", "no idea"


class CannedBackend:
    """The base answers WRONG, a candidate (any adapter) RIGHT."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"canned:{self.spec.base}:{self.spec.adapter}".encode()).hexdigest()

    def render(self, messages: Any) -> str:
        return "\\n".join(m.content for m in messages)

    def generate(self, requests: Any) -> list[Completion]:
        text = RIGHT if self.spec.adapter else WRONG
        return [Completion(text, n_tokens=1) for _ in requests]

    def describe(self) -> dict[str, Any]:
        return {"backend": "canned", "base": self.spec.base, "adapter": self.spec.adapter}


@register_backend("canned")
def make_backend(spec: ModelSpec, *, cache_dir: str) -> CannedBackend:
    return CannedBackend(spec)


class CannedJudge:
    name = "canned-judge"
    output = "json"
    max_batch = 1
    default_concurrency = 2
    deterministic = True

    def __init__(self, model: str | None = None, *, endpoint: str = "") -> None:
        self.model = model or "canned-1"

    def classify(self, exc: BaseException) -> None:
        return None

    async def complete(self, prompts: Any) -> list[ProviderReply]:
        out = []
        for p in prompts:
            verdict = {"reasoning": "canned", "score": 5 if RIGHT in p.user else 1}
            out.append(ProviderReply(str(verdict), verdict))
        return out

    async def aclose(self) -> None:
        return None

    def settings_key(self) -> str:
        return f"canned-judge:{self.model}"

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model}


@register_provider("canned-judge", key_env="CANNED_JUDGE_KEY", free=True)
def make_judge(model: str | None = None, **options: Any) -> CannedJudge:
    return CannedJudge(model, **options)
'''

ROWS = faq_rows(30, reference="ACCURATE-ANSWER")


def install_plugin(site: Path) -> Path:
    """Lay out ``tg_canned`` as pip would: the module and its dist-info with the entry point."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "tg_canned.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    info = site / "tg_canned-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tg-canned\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[tunegate.plugins]\ncanned = tg_canned\n", encoding="utf-8")
    return site


def _env(site: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def test_a_plugin_distribution_registers_like_a_builtin(tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site")
    code = (
        "from tunegate.harness.models import BACKENDS; from tunegate.judges import PROVIDERS, Budget;"
        "b, j = BACKENDS.get('canned'), PROVIDERS.get('canned-judge');"
        "print(BACKENDS.origin('canned'), PROVIDERS.origin('canned-judge'), BACKENDS.origin('hf'));"
        "print(b.local_weights, sorted(b.capabilities), j.key_env, j.free, Budget().price('canned-judge', 'x'))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_env(site), capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["tg-canned (canned) tg-canned (canned) tunegate", "False [] CANNED_JUDGE_KEY True (0.0, 0.0)"]
    listing = subprocess.run(
        [sys.executable, "-m", "tunegate.shell.cli", "plugins"], env=_env(site), capture_output=True, text=True, check=True
    ).stdout
    assert "canned  (tg-canned (canned))" in listing and "canned-judge  (tg-canned (canned))" in listing, listing


def test_a_broken_plugin_is_one_message_naming_it(tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site")
    (site / "tg_canned.py").write_text("raise RuntimeError('half installed')\n", encoding="utf-8")
    code = "from tunegate.harness.models import BACKENDS; BACKENDS.get('hf')"
    out = subprocess.run([sys.executable, "-c", code], env=_env(site), capture_output=True, text=True)
    assert out.returncode != 0
    assert (
        "tunegate plugin 'canned' from tg-canned (tg_canned) failed to load: RuntimeError: half installed; "
        "fix it, or uninstall it with: pip uninstall tg-canned"
    ) in out.stderr


def test_a_run_uses_the_plugins_backend_and_judge(pytester: pytest.Pytester, tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site")
    faq_project(pytester, ROWS, max_new_tokens=4)
    report = tmp_path / "report"
    args = ["-p", "no:cacheprovider", "--backend=canned", "--base=canned-base", "--candidate=canned-v2",
            "--judge=canned-judge", f"--cache-dir={tmp_path / 'cache'}", f"--report={report}"]

    os.environ.pop("CANNED_JUDGE_KEY", None)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", _env(site)["PYTHONPATH"])
        # the provider's declared key variable is checked before anything runs
        missing = pytester.runpytest_subprocess(*args)
        assert missing.ret == pytest.ExitCode.USAGE_ERROR
        assert "$CANNED_JUDGE_KEY is not set" in missing.stderr.str()
        mp.setenv("CANNED_JUDGE_KEY", "not-a-real-key")
        res = pytester.runpytest_subprocess(*args, "--allow-advisory")
    res.assert_outcomes(passed=2)
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    verdicts = {c["metric"]: c["verdict"] for c in results["comparisons"]}
    assert len(verdicts) == 2 and set(verdicts.values()) == {"IMPROVED"}, verdicts
    assert [(j["provider"], j["model"]) for j in results["judges"]] == [("canned-judge", "canned-1")]
    models = [results["models"]["base"], *results["models"]["candidates"]]
    assert [m["spec"]["backend"] for m in models] == ["canned", "canned"]
