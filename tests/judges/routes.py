"""Judge answers for tests/fakeserver.py: the Anthropic and OpenAI wire formats, verdicts included.

The fake judge reads the fenced response(s) out of the prompt and answers a pure function of
them, so a run with faults and a run without must give identical verdicts. Requests are checked
for the structured-output parts each provider must send (tool_choice + tool schema; a strict
json_schema response_format), so a provider that stops sending them fails the tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.fakeserver import Reply

FENCE = re.compile(r"<<<BEGIN (RESPONSE(?: [AB])?) ([0-9A-F]{10})>>>\n(.*?)\n<<<END \1 \2>>>", re.S)
GARBLE = "PLEASE-GARBLE"  # a response containing this gets an answer that is no verdict


def fenced(prompt: str) -> dict[str, str]:
    return {m.group(1): m.group(3) for m in FENCE.finditer(prompt)}


def hash_score(text: str) -> int:
    return 1 + int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 5


def verdict_for(prompt: str) -> dict[str, Any] | None:
    """The fake judge: a score from the response's hash; pairwise: the higher hash score wins."""
    texts = fenced(prompt)
    if any(GARBLE in t for t in texts.values()):
        return None
    if "RESPONSE" in texts:
        return {"reasoning": "scored by hash", "score": hash_score(texts["RESPONSE"])}
    a, b = hash_score(texts.get("RESPONSE A", "")), hash_score(texts.get("RESPONSE B", ""))
    return {"reasoning": "compared by hash", "winner": "A" if a > b else "B" if b > a else "tie"}


def _user_text(req: dict[str, Any]) -> str:
    for m in reversed(req.get("messages") or []):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
            return str(content)
    return ""


def _bad_request(message: str) -> Reply:
    return Reply({"type": "error", "error": {"type": "invalid_request_error", "message": message}}, 400)


def anthropic_judge(verdict: Callable[[str], dict[str, Any] | None] = verdict_for) -> Callable[[Any], Any]:
    """``POST /v1/messages`` answering with a ``tool_use`` block, as the Messages API does."""

    def route(req: Any) -> Any:
        tools = req.get("tools") or []
        choice = req.get("tool_choice") or {}
        if choice.get("type") != "tool" or not tools or tools[0].get("name") != choice.get("name"):
            return _bad_request("expected a forced tool call (tool_choice type=tool naming the tool)")
        if "input_schema" not in tools[0] or not req.get("system"):
            return _bad_request("expected a tool input_schema and a system prompt")
        v = verdict(_user_text(req))
        usage = {
            "input_tokens": len(_user_text(req).split()) + len(str(req["system"]).split()),
            "output_tokens": 20,
        }
        content: list[dict[str, Any]]
        if v is None:
            content = [{"type": "text", "text": "I think this reply is quite good overall."}]
            stop = "end_turn"
        else:
            content = [
                {
                    "type": "tool_use",
                    "id": "toolu_" + hashlib.sha256(json.dumps(v).encode()).hexdigest()[:12],
                    "name": choice["name"],
                    "input": v,
                }
            ]
            stop = "tool_use"
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": req.get("model", ""),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }

    return route


def openai_judge(
    verdict: Callable[[str], dict[str, Any] | None] = verdict_for, *, expect: str | None = "json_schema"
) -> Callable[[Any], Any]:
    """``POST /v1/chat/completions`` answering with the verdict as JSON message content."""

    def route(req: Any) -> Any:
        fmt = req.get("response_format")
        if expect == "json_schema":
            if not fmt or fmt.get("type") != "json_schema" or not fmt["json_schema"].get("strict"):
                return Reply(
                    {
                        "error": {
                            "message": "expected a strict json_schema response_format",
                            "type": "invalid",
                        }
                    },
                    400,
                )
        elif expect == "json_object" and (not fmt or fmt.get("type") != "json_object"):
            return Reply({"error": {"message": "expected JSON mode", "type": "invalid"}}, 400)
        v = verdict(_user_text(req))
        text = "I think this reply is quite good overall." if v is None else json.dumps(v)
        n_in = sum(len(str(m.get("content", "")).split()) for m in req.get("messages") or [])
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": req.get("model", ""),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": n_in, "completion_tokens": 20, "total_tokens": n_in + 20},
        }

    return route


def flaky_verdicts(bad_first: int) -> Callable[[str], dict[str, Any] | None]:
    """A judge whose first ``bad_first`` answers to each prompt are no verdict, then good ones."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def verdict(prompt: str) -> dict[str, Any] | None:
        with lock:  # the server answers from several threads
            seen[prompt] += 1
            n = seen[prompt]
        return None if n <= bad_first else verdict_for(prompt)

    return verdict
