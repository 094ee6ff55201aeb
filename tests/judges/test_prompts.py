from __future__ import annotations

import json

import pytest

from tunegate.harness.data import Message
from tunegate.judges.prompts import (
    PROMPT_VERSION,
    VerdictError,
    check_verdict,
    judged_text,
    pair_prompt,
    parse_json_object,
    single_prompt,
)
from tunegate.judges.rubric import load_rubric


@pytest.fixture(scope="module")
def prompt():
    return single_prompt(load_rubric("support_style"), context=[Message("user", "hi")], response="Hello,")


def test_parser_accepts_one_json_object_and_a_json_code_fence(prompt) -> None:
    assert check_verdict(prompt, parse_json_object('{"reasoning": "ok", "score": 4}'), "") == 4.0
    fenced = '```json\n{"reasoning": "ok", "score": 2}\n```'
    assert check_verdict(prompt, parse_json_object(fenced), fenced) == 2.0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Score: 4", "not a JSON object"),
        ('The verdict is {"score": 4}', "not a JSON object"),
        ("[4]", "expected a JSON object, got list"),
        ('{"reasoning": "ok"}', "has no 'score'"),
        ('{"score": 7}', r"outside the scale 1-5"),
        ('{"score": "4"}', "must be a number"),
        ('{"score": true}', "must be a number"),
        ('{"score": 3.5}', "must be an integer"),
        ('{"score": 4, "confidence": 0.9}', r"unexpected key\(s\) \['confidence'\]"),
    ],
)
def test_parser_is_strict(prompt, raw: str, reason: str) -> None:
    with pytest.raises(VerdictError, match=reason) as exc:
        check_verdict(prompt, parse_json_object(raw), raw)
    assert exc.value.raw == raw


def test_weighted_scores_may_be_fractional(prompt) -> None:
    assert check_verdict(prompt, {"score": 3.25}, "", weighted=True) == 3.25


def test_pair_verdicts() -> None:
    p = pair_prompt(load_rubric("support_style"), context=[Message("user", "hi")], first="a", second="b")
    assert check_verdict(p, {"reasoning": "", "winner": "tie"}, "") == "tie"
    with pytest.raises(VerdictError, match="winner must be one of"):
        check_verdict(p, {"winner": "a"}, "")
    assert p.schema["properties"]["winner"]["enum"] == ["A", "B", "tie"]


def test_judged_text_takes_the_field_of_a_json_output() -> None:
    out = json.dumps({"category": "refund_request", "priority": "low", "reply": "Hello,\n\nDone."})
    assert judged_text(out, "reply") == "Hello,\n\nDone."
    assert judged_text("not json", "reply") == "not json"  # graded as written, never dropped
    assert judged_text('{"reply": 3}', "reply") == '{"reply": 3}'
    assert judged_text(out, None) == out


def test_reference_only_when_the_rubric_shows_it() -> None:
    r = load_rubric("support_style")
    p = single_prompt(r, context=[Message("user", "hi")], response="x", reference="the gold reply")
    assert "the gold reply" not in p.user  # support_style has show_reference: false
    shown = r.__class__(r.spec.model_copy(update={"show_reference": True}), r.instructions, r.path, r.hash)
    p2 = single_prompt(shown, context=[Message("user", "hi")], response="x", reference="the gold reply")
    assert "REFERENCE" in p2.user and "the gold reply" in p2.user
    assert p2.schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert PROMPT_VERSION
