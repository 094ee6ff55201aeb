"""Backend capabilities are runtime-checkable protocols; an unsupported one is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.models.test_vllm import _fresh_engines, stand_in  # noqa: F401  (fixtures)
from tunegate.harness.errors import ConfigError
from tunegate.harness.models.base import CAPABILITIES, SupportsAdapterProbe, SupportsDrift, require, supports
from tunegate.harness.models.hf import HFBackend
from tunegate.harness.models.openai_compat import OpenAICompatBackend
from tunegate.harness.models.vllm import VLLMBackend

EXPECTED = {
    HFBackend: {"drift": True, "adapter_probe": True},
    VLLMBackend: {"drift": False, "adapter_probe": False},
    OpenAICompatBackend: {"drift": False, "adapter_probe": False},
}


@pytest.mark.parametrize("backend", list(EXPECTED), ids=lambda b: b.__name__)
@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_each_backend_declares_what_it_supports(backend: type, capability: str) -> None:
    method = {"drift": "scoring_model", "adapter_probe": "adapter_effect"}[capability]
    assert method in {"drift": SupportsDrift, "adapter_probe": SupportsAdapterProbe}[capability].__dict__
    has = callable(getattr(backend, method, None))
    assert has == EXPECTED[backend][capability]


def test_require_names_backend_and_feature() -> None:
    class Plain:
        pass

    assert not supports(Plain(), "drift")
    with pytest.raises(ConfigError, match=r"the 'vllm' backend does not support KL drift .* --backend hf"):
        require(Plain(), "drift", "vllm")


def test_kl_drift_under_vllm_is_one_clear_error(
    stand_in: object, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    from tunegate.harness.options import RunOptions
    from tunegate.harness.session import RunState

    run = RunState(
        RunOptions(base=str(tiny_model_dir), candidate=(str(tiny_adapter_dir),), backend="vllm", dtype="fp32",
                   cache_dir=str(tmp_path / "cache"))
    )
    with pytest.raises(ConfigError, match=r"^the 'vllm' backend does not support KL drift"):
        run.drift(run.candidates[0], ["Some general text about the weather today."])
