from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tunegate.harness.cache import ResponseCache
from tunegate.harness.data import Message
from tunegate.harness.errors import DataError, ModelLoadError, UnsafeAdapterError
from tunegate.harness.generation import GenerationStats, generate_cached
from tunegate.harness.models.base import GenerationParams, GenerationRequest, ModelSpec
from tunegate.harness.models.hf import HFBackend, classify_adapter, clear_engines

PROMPTS = ["What is the capital of France?", "Add 2 and 3.", "Say hi.", "Name a colour.", "Count to three."]


def _reqs(n_tokens: int = 8, stop: tuple[str, ...] = ()) -> list[GenerationRequest]:
    params = GenerationParams(max_new_tokens=n_tokens, stop=stop)
    return [GenerationRequest(str(i), (Message("user", p),), params) for i, p in enumerate(PROMPTS)]


@pytest.fixture(autouse=True)
def _fresh_engines() -> None:
    clear_engines()


def test_base_generates_deterministically(tiny_model_dir: Path, tmp_path: Path) -> None:
    b = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    out1 = b.generate(_reqs())
    out2 = b.generate(list(reversed(_reqs())))
    assert [c.text for c in out1] == [c.text for c in reversed(out2)]
    assert all(0 < c.n_tokens <= 8 for c in out1)
    assert b.describe()["dtype"] == "fp32"
    assert b.render([Message("user", "hi")]).endswith("<|im_start|>assistant\n")


def test_adapter_changes_outputs_and_fingerprint(
    tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    base = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    cand = HFBackend(
        ModelSpec(str(tiny_model_dir), str(tiny_adapter_dir), dtype="fp32"), cache_dir=str(tmp_path)
    )
    assert base.engine is cand.engine  # one loaded base for both
    assert base.fingerprint != cand.fingerprint
    effect = cand.adapter_effect([(Message("user", p),) for p in PROMPTS[:2]])
    assert effect["checked"] and not effect["no_effect"] and effect["max_abs_logit_diff"] > 0
    # base outputs through the peft model (adapter disabled) equal a plain base model's
    plain = [c.text for c in base.generate(_reqs())]
    clear_engines()
    fresh = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    assert [c.text for c in fresh.generate(_reqs())] == plain


def test_zero_adapter_is_reported_as_no_effect(
    tiny_model_dir: Path, tiny_zero_adapter_dir: Path, tmp_path: Path
) -> None:
    cand = HFBackend(
        ModelSpec(str(tiny_model_dir), str(tiny_zero_adapter_dir), dtype="fp32"), cache_dir=str(tmp_path)
    )
    effect = cand.adapter_effect([(Message("user", p),) for p in PROMPTS])
    assert effect["no_effect"] is True
    assert effect["max_abs_logit_diff"] == 0.0


def test_pickle_adapter_is_refused(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad-adapter"
    bad.mkdir()
    shutil.copy(tiny_adapter_dir / "adapter_config.json", bad / "adapter_config.json")
    (bad / "adapter_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(
        UnsafeAdapterError, match=r"ships pickle weights \(adapter_model.bin\).*safetensors only"
    ):
        classify_adapter(bad)
    with pytest.raises(ModelLoadError, match="neither a peft adapter"):
        classify_adapter(tmp_path)


def test_full_model_dir_as_candidate(tiny_model_dir: Path) -> None:
    assert classify_adapter(tiny_model_dir) == "full"


def test_cache_serves_second_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    b = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    cache = ResponseCache(tmp_path)
    stats = GenerationStats()
    first = generate_cached(b, _reqs(), cache, stats=stats)
    assert stats.generated == len(PROMPTS) and stats.hits == 0
    second = generate_cached(b, _reqs(), cache, stats=stats)
    assert stats.hits == len(PROMPTS) and stats.generated == len(PROMPTS)
    assert [c.text for c in first] == [c.text for c in second]
    assert all(c.cached for c in second)


def test_stop_strings_cut_output(tiny_model_dir: Path, tmp_path: Path) -> None:
    b = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    free = b.generate(_reqs(n_tokens=12))
    text = next(c.text for c in free if len(c.text) > 3)
    stop = text[2:4]
    cut = b.generate(_reqs(n_tokens=12, stop=(stop,)))
    assert all(stop not in c.text for c in cut)


def test_fast_loop_matches_transformers_generate(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunegate.harness.models.chat import render_prompt
    from tunegate.harness.models.decode import greedy_generate

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    prompts = [render_prompt(tok, [{"role": "user", "content": p * (k + 1)}]) for k, p in enumerate(PROMPTS)]
    ref = greedy_generate(model, tok, prompts, max_new_tokens=10, batch_size=3, loop="generate")
    fast = greedy_generate(model, tok, prompts, max_new_tokens=10, batch_size=3, loop="fast")
    assert [c.text for c in fast] == [c.text for c in ref]
    assert [c.n_tokens for c in fast] == [c.n_tokens for c in ref]


STRICT_TEMPLATE = (
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def test_a_chat_the_template_refuses_names_every_such_item_before_generating(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A template that raises (roles must alternate) is one DataError listing each refused item,
    not a jinja traceback mid-run; the chats it accepts are not generated either."""
    strict = tmp_path / "strict"
    shutil.copytree(tiny_model_dir, strict)
    (strict / "chat_template.jinja").write_text(STRICT_TEMPLATE)
    b = HFBackend(ModelSpec(str(strict), dtype="fp32"), cache_dir=str(tmp_path))
    params = GenerationParams(max_new_tokens=4)
    reqs = [
        GenerationRequest("ok", (Message("user", "hi"),), params),
        GenerationRequest("two-users", (Message("user", "hi"), Message("user", "there")), params),
        GenerationRequest("assistant-first", (Message("assistant", "hello"), Message("user", "q")), params),
    ]
    stats = GenerationStats()
    with pytest.raises(DataError) as err:
        generate_cached(b, reqs, ResponseCache(tmp_path), stats=stats)
    text = str(err.value)
    assert "2 problem(s)" in text and "'ok'" not in text
    assert (
        "item 'two-users': the model's chat template refuses turns (user, user): Conversation roles must alternate"
        in text
    )
    assert "item 'assistant-first'" in text and "(assistant, user)" in text
    assert stats.generated == 0
    assert [c.text for c in generate_cached(b, reqs[:1], ResponseCache(tmp_path))][0] is not None
