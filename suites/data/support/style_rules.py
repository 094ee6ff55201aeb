"""The checkable rules of STYLE_GUIDE.md and of the answer format, as plain functions.

``check_reply`` returns the list of broken rules (empty when the reply follows the guide);
``check_answer`` does the same for a whole model answer (the JSON object). The generator runs
both on every item it writes, so the shipped data follows its own guide by construction.

Sentence counting (the rule STYLE_GUIDE.md documents): the body is split after every ``.``,
``?`` or ``!`` that is followed by whitespace or ends the body; each non-empty piece is one
sentence. "USD 12.50" is one token (the ``.`` is followed by a digit), which is why the guide
forbids abbreviations with a full stop ("e.g.", "approx.") in replies.
"""

from __future__ import annotations

import json
import re
from typing import Any

CATEGORIES = (
    "double_charge",
    "refund_request",
    "failed_payment",
    "plan_change",
    "invoice_request",
    "cancellation",
    "tax_vat_question",
    "promo_code",
)
PRIORITIES = ("low", "normal", "high", "urgent")
ANSWER_KEYS = ("category", "priority", "reply")

SIGN_OFF = "— The Billing Team"
NO_NAME_GREETING = "Hello,"
MIN_SENTENCES = 2
MAX_SENTENCES = 4
MAX_BODY_WORDS = 60
# The last sentence of the body is the next step: what the customer does or what happens next.
NEXT_STEP_OPENERS = ("Please ", "You will ", "You can ", "We will ")
CURRENCY_SYMBOLS = "$€£¥₹"

_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_GREETING = re.compile(r"^Hi (\S+),$")


def greeting_for(first_name: str | None) -> str:
    """The greeting line a reply must open with: "Hi Amara," or, without a name, "Hello,"."""
    return f"Hi {first_name}," if first_name else NO_NAME_GREETING


def split_sentences(body: str) -> list[str]:
    """The body's sentences by the guide's rule (see the module docstring)."""
    return [s for s in _SENTENCE_END.split(body.strip()) if s]


def reply_body(reply: str) -> str:
    """The text between the greeting and the sign-off (empty when the layout is wrong)."""
    lines = reply.split("\n")
    if len(lines) < 5:
        return ""
    return "\n".join(lines[2:-2]).strip()


def check_reply(reply: str, expected_greeting: str | None = None) -> list[str]:
    """Every style rule ``reply`` breaks, as short messages; ``[]`` means it follows the guide.

    >>> check_reply("Hi Amara,\\n\\nI have refunded it. You will see it in 5 days.\\n\\n— The Billing Team")
    []
    """
    problems: list[str] = []
    lines = reply.split("\n")
    if len(lines) < 5 or lines[1] != "" or lines[-2] != "":
        return [
            "layout must be: greeting line, blank line, body, blank line, sign-off line "
            f"(got {len(lines)} line(s))"
        ]
    greeting = lines[0]
    if expected_greeting is not None and greeting != expected_greeting:
        problems.append(f"greeting {greeting!r} should be {expected_greeting!r}")
    elif greeting != NO_NAME_GREETING and not _GREETING.match(greeting):
        problems.append(f'greeting {greeting!r} is neither "Hi <first name>," nor {NO_NAME_GREETING!r}')
    if lines[-1] != SIGN_OFF:
        problems.append(f"last line {lines[-1]!r} should be the sign-off {SIGN_OFF!r}")
    body = reply_body(reply)
    if "\n" in body:
        problems.append("the body must be one paragraph (no line breaks)")
    if "!" in reply:
        problems.append("no exclamation marks")
    sentences = split_sentences(body)
    if not MIN_SENTENCES <= len(sentences) <= MAX_SENTENCES:
        problems.append(f"body has {len(sentences)} sentence(s); use {MIN_SENTENCES} to {MAX_SENTENCES}")
    n_words = len(body.split())
    if n_words > MAX_BODY_WORDS:
        problems.append(f"body has {n_words} words; at most {MAX_BODY_WORDS}")
    if sentences and not sentences[-1].startswith(NEXT_STEP_OPENERS):
        problems.append(
            f"the last sentence must state the next step, starting with one of {list(NEXT_STEP_OPENERS)}"
        )
    if body and body[-1] not in ".?":
        problems.append("the body must end with a full stop or a question mark")
    used = sorted({c for c in body if c in CURRENCY_SYMBOLS})
    if used:
        problems.append(f"write money as an ISO code and amount (USD 12.00), not the symbol(s) {used}")
    return problems


def parse_answer(text: str) -> dict[str, Any] | None:
    """The answer's JSON object, or None when ``text`` is not exactly one JSON object."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def check_answer(text: str, expected_greeting: str | None = None) -> list[str]:
    """Every rule a whole answer breaks: the JSON shape, the label values and the reply's style."""
    obj = parse_answer(text)
    if obj is None:
        return ["the answer is not one JSON object"]
    problems: list[str] = []
    if tuple(obj) != ANSWER_KEYS:
        problems.append(f"keys must be {list(ANSWER_KEYS)} in this order, got {list(obj)}")
    if obj.get("category") not in CATEGORIES:
        problems.append(f"category {obj.get('category')!r} is not one of {list(CATEGORIES)}")
    if obj.get("priority") not in PRIORITIES:
        problems.append(f"priority {obj.get('priority')!r} is not one of {list(PRIORITIES)}")
    reply = obj.get("reply")
    if not isinstance(reply, str):
        problems.append("reply must be a string")
    else:
        problems.extend(check_reply(reply, expected_greeting))
    return problems


def dump_answer(category: str, priority: str, reply: str) -> str:
    """The one serialisation of an answer: fixed key order, json.dumps defaults, no ASCII escaping."""
    return json.dumps({"category": category, "priority": priority, "reply": reply}, ensure_ascii=False)
