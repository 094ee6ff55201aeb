"""Metrics specific to the support task: the style-guide rules code can check, as binary metrics.

The rules themselves live beside the data (``data/support/style_rules.py``), so the generator,
the tests and these metrics apply one definition.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from harness.data import EvalItem, Suite, load_suite
from harness.metrics import Metric, custom_metric, extract_json_object

DATA = Path(__file__).parent / "data"


def _style_rules() -> ModuleType:
    spec = importlib.util.spec_from_file_location("support_style_rules", DATA / "support" / "style_rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RULES = _style_rules()


def support_eval() -> Suite:
    # Replies are <= 60 words; the whole JSON answer fits in ~130 tokens.
    return load_suite(DATA / "support" / "eval.jsonl", name="support/eval", max_new_tokens=128)


def _reply(output: str) -> str | None:
    obj = extract_json_object(output)
    reply = obj.get("reply") if isinstance(obj, dict) else None
    return reply if isinstance(reply, str) else None


def _expected_greeting(item: EvalItem) -> str:
    ref = item.reference if isinstance(item.reference, dict) else {}
    return str(ref.get("reply", "")).split("\n", 1)[0]


def _greeting_ok(item: EvalItem, output: str) -> float:
    reply = _reply(output)
    return float(reply is not None and reply.split("\n", 1)[0] == _expected_greeting(item))


def _sign_off_ok(item: EvalItem, output: str) -> float:
    reply = _reply(output)
    return float(reply is not None and reply.rstrip().split("\n")[-1] == RULES.SIGN_OFF)


def _sentences_ok(item: EvalItem, output: str) -> float:
    reply = _reply(output)
    if reply is None:
        return 0.0
    n = len(RULES.split_sentences(RULES.reply_body(reply)))
    return float(RULES.MIN_SENTENCES <= n <= RULES.MAX_SENTENCES)


def _follows_guide(item: EvalItem, output: str) -> float:
    return float(not RULES.check_answer(output.strip(), _expected_greeting(item)))


def greeting() -> Metric:
    return custom_metric("style_greeting", _greeting_ok, kind="binary")


def sign_off() -> Metric:
    return custom_metric("style_sign_off", _sign_off_ok, kind="binary")


def sentence_count() -> Metric:
    return custom_metric("style_sentences", _sentences_ok, kind="binary")


def follows_guide() -> Metric:
    return custom_metric("style_all_rules", _follows_guide, kind="binary")
