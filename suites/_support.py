"""The support task's metrics, in one importable place: suites and tests import them from here.

Task-defined checks come from the style guide's code (``data/support/style_rules.py``, imported
as the module ``style_rules`` from its folder, the one way the generator, the tests and these
metrics load it); the reply's wording is compared with the reference reply by BLEU and chrF
(corpus-level, sacrebleu), ROUGE-L and BERTScore F1 (the offline MiniLM).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tunegate import EvalItem, Metric, Suite, custom_metric, extract_json_object, load_suite, metrics

DATA = Path(__file__).parent / "data"
SUPPORT_DATA = DATA / "support"
if str(SUPPORT_DATA) not in sys.path:
    sys.path.insert(0, str(SUPPORT_DATA))

import style_rules as RULES  # noqa: E402

MAX_NEW_TOKENS = 128
"""Replies are <= 60 words; the whole JSON answer fits in ~130 tokens."""


def support_eval() -> Suite:
    return load_suite(SUPPORT_DATA / "eval.jsonl", name="support/eval", max_new_tokens=MAX_NEW_TOKENS)


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


# -- labels and format ---------------------------------------------------------------------------


def category() -> Metric:
    return metrics.exact_match(field="category")


def priority() -> Metric:
    return metrics.exact_match(field="priority")


def valid_json() -> Metric:
    return metrics.json_valid(strict=True)


# -- the style guide's code-checkable rules --------------------------------------------------------


def greeting() -> Metric:
    return custom_metric("style_greeting", _greeting_ok, kind="binary")


def sign_off() -> Metric:
    return custom_metric("style_sign_off", _sign_off_ok, kind="binary")


def sentence_count() -> Metric:
    return custom_metric("style_sentences", _sentences_ok, kind="binary")


def follows_guide() -> Metric:
    return custom_metric("style_all_rules", _follows_guide, kind="binary")


# -- the reply's wording against the reference reply ----------------------------------------------
# An output without a JSON "reply" scores as empty text (0 on every one of these).


def reply_bleu() -> Metric:
    """Corpus BLEU (0-100, sacrebleu defaults) of the reply; paired bootstrap over items."""
    return metrics.bleu(field="reply")


def reply_chrf() -> Metric:
    """Corpus chrF (0-100) of the reply; paired bootstrap over items."""
    return metrics.chrf(field="reply")


def reply_rouge_l() -> Metric:
    return metrics.rouge_l(field="reply")


def reply_bertscore() -> Metric:
    """BERTScore F1 (0-1) of the reply with the offline all-MiniLM-L6-v2."""
    return metrics.bertscore_f1(field="reply")
