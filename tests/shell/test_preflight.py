"""Preflight asks the registries: a provider's or backend's traits decide what is checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tunegate.harness.errors import ConfigError
from tunegate.harness.models import BACKENDS, register_backend
from tunegate.harness.options import resolve_options
from tunegate.judges.providers import PROVIDERS, register_provider
from tunegate.shell.preflight import check_base, check_candidates, check_distinct_models, check_judge


@pytest.fixture
def traits_registered() -> Iterator[None]:
    """A provider needing a URL, a model and a key, and a server-side backend, registered for one test."""

    @register_provider("test-served", key_env="TEST_SERVED_KEY", needs_base_url=True, needs_model=True)
    def make(model: str | None = None, **options: Any) -> Any:
        raise AssertionError("preflight stops before building it")

    @register_backend("test-remote")
    def remote(spec: Any, *, cache_dir: str) -> Any:
        raise AssertionError("never built here")

    yield
    PROVIDERS.unregister("test-served")
    BACKENDS.unregister("test-remote")


@pytest.mark.usefixtures("traits_registered")
def test_the_judge_check_follows_the_providers_traits(monkeypatch: pytest.MonkeyPatch) -> None:
    options = resolve_options({"judge": "test-served"}, {}, {})
    with pytest.raises(ConfigError, match=r"--judge=test-served needs the server's URL: pass --judge-base-url"):
        check_judge(options, environ={})
    options = resolve_options({"judge": "test-served", "judge_base_url": "http://127.0.0.1:9/v1"}, {}, {})
    with pytest.raises(ConfigError, match=r"--judge=test-served needs --judge-model"):
        check_judge(options, environ={})
    options = resolve_options(
        {"judge": "test-served", "judge_base_url": "http://127.0.0.1:9/v1", "judge_model": "m"}, {}, {}
    )
    with pytest.raises(ConfigError, match=r"\$TEST_SERVED_KEY is not set; export TEST_SERVED_KEY=<your key>"):
        check_judge(options, environ={})


@pytest.mark.usefixtures("traits_registered")
def test_a_backend_without_local_weights_skips_the_file_checks(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    served = resolve_options({"backend": "test-remote", "base": missing, "candidate": [missing]}, {}, {})
    check_base(served)  # a served model's name: only the server knows it
    check_candidates(served)
    local = resolve_options({"backend": "hf", "base": missing, "candidate": [missing]}, {}, {})
    with pytest.raises(ConfigError, match="not found"):
        check_base(local)
    with pytest.raises(ConfigError, match="no such directory"):
        check_candidates(local)


def test_a_candidate_given_twice_or_as_the_reference_is_refused(tmp_path: Path) -> None:
    # it was gated twice (as 'adapter' and 'adapter-2'), or against itself, without a word
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    twice = resolve_options({"candidate": [str(adapter), f"{adapter}/"]}, {}, {})
    with pytest.raises(ConfigError, match=r"^--candidate='.*adapter/' is given twice \(also as --candidate='.*adapter'\); give each"):
        check_distinct_models(twice)
    itself = resolve_options({"candidate": [str(adapter)], "reference": str(tmp_path / "." / "adapter")}, {}, {})
    with pytest.raises(ConfigError, match=r"^--reference='.*adapter' is also --candidate='.*adapter': a candidate would be gated"):
        check_distinct_models(itself)
    check_distinct_models(resolve_options({"candidate": [str(adapter), "org/other-adapter"]}, {}, {}))
