"""A local HTTP server that speaks the wire formats of chat APIs, with seeded fault injection.

Real SDK clients (openai, anthropic) are pointed at it, so a test exercises the SDK's parsing and
our retry loop end to end, offline, in milliseconds. A route is a function
``request_json -> response_json``; ``openai_chat`` and ``anthropic_messages`` are provided, and
answers are a pure function of the request, so runs can be compared::

    with FakeServer(faults=Faults(rate=0.3, seed=1)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        ...
        server.counts["/v1/chat/completions"]  # requests received, faults included

A fault is decided from the seed, the request body and how many times that same body has been
seen, so the faults a request meets do not depend on thread timing: a rerun meets the same ones.
The server runs in daemon threads, stops when its ``with`` block (or the ``fake_server``
fixture) ends, and stops by itself after ``max_lifetime_s`` in any case.
"""

from __future__ import annotations

import hashlib
import json
import random
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Route = Callable[[Any], Any]
"""A handler: the parsed request JSON in, the response JSON out (a dict or list)."""

FAULT_KINDS = ("429", "500", "timeout", "malformed", "disconnect")


@dataclass(frozen=True)
class Reply:
    """A handler may return this instead of plain JSON to set the status or headers."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    """Sent as the content-type; a ``bytes`` body is sent as-is (an HTML error page, plain text)."""
    drip_s: float = 0.0
    """When > 0, the body is sent one byte every ``drip_s`` seconds (headers at once): a server
    that keeps a client's read timeout from ever firing."""


@dataclass(frozen=True)
class Seen:
    """A request that reached a route (faults other than 'timeout'/'malformed' never do)."""

    path: str
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Faults:
    """Which faults to inject and how often.

    ``rate``: probability that a request gets a fault; ``kinds``: relative weights of the fault
    kinds (``"429"`` with ``retry-after``, ``"500"``, ``"timeout"`` = hold the request until the
    client gives up and disconnects (at most ``timeout_s``, then answer), ``"malformed"`` = a 200
    whose body is truncated JSON, ``"disconnect"`` = close the socket without a reply).
    ``latency_s`` (plus a seeded draw of up to ``jitter_s``) delays every answer.
    """

    rate: float = 0.0
    kinds: Mapping[str, float] = field(
        default_factory=lambda: {"429": 1.0, "500": 1.0, "timeout": 1.0, "malformed": 1.0}
    )
    seed: int = 0
    retry_after: float = 0.01
    timeout_s: float = 5.0
    latency_s: float = 0.0
    jitter_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be in [0, 1], got {self.rate}")
        unknown = sorted(set(self.kinds) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {list(FAULT_KINDS)}")

    def pick(self, body: bytes, seen: int) -> str | None:
        """The fault for the ``seen``-th arrival (0-based) of this exact body, or None."""
        if self.rate <= 0.0 or not self.kinds:
            return None
        digest = hashlib.sha256(body).hexdigest()[:16]
        rng = random.Random(f"{self.seed}:{digest}:{seen}")
        if rng.random() >= self.rate:
            return None
        names = sorted(self.kinds)
        return rng.choices(names, weights=[self.kinds[n] for n in names])[0]


# --- answers --------------------------------------------------------------------------------


def answer_text(model: str, messages: list[dict[str, Any]]) -> str:
    """The deterministic 'model output': a function of the model name and the last user turn."""
    last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    if isinstance(last, list):  # Anthropic/OpenAI content blocks
        last = " ".join(str(b.get("text", "")) for b in last if isinstance(b, dict))
    tag = hashlib.sha256(f"{model}\n{last}".encode()).hexdigest()[:8]
    return f"{model} says {tag}: {' '.join(reversed(str(last).split()))}"


def _truncate(text: str, max_tokens: int | None, stop: list[str]) -> tuple[str, str, int]:
    """(text, finish reason, n tokens) with whitespace-separated words as 'tokens'."""
    for s in stop:
        if s and s in text:
            text = text[: text.index(s)]
            words = text.split()
            return text, "stop", len(words)
    words = text.split()
    if max_tokens is not None and len(words) > max_tokens:
        return " ".join(words[:max_tokens]), "length", max_tokens
    return text, "stop", len(words)


def _stops(raw: Any) -> list[str]:
    if raw is None:
        return []
    return [raw] if isinstance(raw, str) else [str(s) for s in raw]


def openai_chat(req: Any) -> Any:
    """``POST /v1/chat/completions``: an OpenAI ChatCompletion for the request."""
    model = str(req.get("model", ""))
    messages = req.get("messages") or []
    if not messages:
        return Reply(
            {"error": {"message": "messages must not be empty", "type": "invalid_request_error"}}, 400
        )
    max_tokens = req.get("max_tokens", req.get("max_completion_tokens"))
    text, finish, n = _truncate(answer_text(model, messages), max_tokens, _stops(req.get("stop")))
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    return {
        "id": "chatcmpl-" + hashlib.sha256(json.dumps(req, sort_keys=True).encode()).hexdigest()[:12],
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n},
    }


def anthropic_messages(req: Any) -> Any:
    """``POST /v1/messages``: an Anthropic Message for the request."""
    model = str(req.get("model", ""))
    messages = req.get("messages") or []
    text, finish, n = _truncate(
        answer_text(model, messages), req.get("max_tokens"), _stops(req.get("stop_sequences"))
    )
    return {
        "id": "msg_" + hashlib.sha256(json.dumps(req, sort_keys=True).encode()).hexdigest()[:12],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "max_tokens" if finish == "length" else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": sum(len(str(m.get("content", "")).split()) for m in messages),
            "output_tokens": n,
        },
    }


def openai_models(names: list[str]) -> Route:
    """``GET /v1/models`` listing ``names`` (what ``vllm serve`` answers)."""

    def route(_: Any) -> Any:
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "fake"} for n in names]}

    return route


# --- the server -----------------------------------------------------------------------------


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (a free port). Use as a context manager."""

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        faults: Faults | None = None,
        max_lifetime_s: float = 120.0,
    ) -> None:
        self.routes: dict[str, Route] = dict(
            routes
            if routes is not None
            else {"/v1/chat/completions": openai_chat, "/v1/messages": anthropic_messages}
        )
        self.faults = faults or Faults()
        self.max_lifetime_s = max_lifetime_s
        self.counts: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.peak_in_flight: Counter[str] = Counter()
        self.requests: list[Seen] = []
        self._in_flight: Counter[str] = Counter()
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._stopped = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Timer | None = None

    # lifecycle
    def start(self) -> FakeServer:
        handler = _make_handler(self)
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._watchdog = threading.Timer(self.max_lifetime_s, self.stop)
        self._watchdog.daemon = True
        self._watchdog.start()
        return self

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()  # wakes handlers sleeping in a 'timeout' fault
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeServer is not started; use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, path: str, handler: Route) -> None:
        self.routes[path] = handler

    # bookkeeping used by the handler
    def _enter(self, path: str, body: bytes) -> str | None:
        """Count the request and decide its fault (under the lock, so arrivals are numbered once)."""
        key = path + "\0" + hashlib.sha256(body).hexdigest()
        with self._lock:
            self.counts[path] += 1
            self._in_flight[path] += 1
            self.peak_in_flight[path] = max(self.peak_in_flight[path], self._in_flight[path])
            seen = self._seen[key]
            self._seen[key] += 1
        fault = self.faults.pick(path.encode() + b"\0" + body, seen)
        if fault is not None:
            with self._lock:
                self.faults_injected[fault] += 1
        return fault

    def _leave(self, path: str) -> None:
        with self._lock:
            self._in_flight[path] -= 1

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopped.wait(seconds)

    def _latency(self) -> float:
        f = self.faults
        if not f.jitter_s:
            return f.latency_s
        with self._lock:
            return f.latency_s + self._rng.random() * f.jitter_s

    def _hold_until_client_leaves(self, conn: socket.socket, limit_s: float) -> bool:
        """Park a 'timeout' request until the client closes the socket; True if it did.

        Waking on the close (rather than sleeping a fixed time) keeps ``peak_in_flight`` honest:
        a request stops counting as soon as its client stops waiting for it.
        """
        deadline = time.monotonic() + limit_s
        while not self._stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([conn], [], [], min(left, 0.05))
            if readable:
                try:
                    if not conn.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
                time.sleep(0.001)  # pipelined bytes (unexpected): keep holding
        return True


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when a client opens many at once, and a
    # dropped SYN costs a one-second retransmit: a "timeout" nobody injected.
    request_queue_size = 256
    daemon_threads = True


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # an idle keep-alive connection never pins a thread for long

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logs
            return

        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self._serve(self.rfile.read(length) if length else b"")

        def _serve(self, body: bytes) -> None:
            path = self.path.split("?", 1)[0]
            fault = server._enter(path, body)
            try:
                self._answer(path, body, fault)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout fault): nothing to answer
            finally:
                server._leave(path)

        def _answer(self, path: str, body: bytes, fault: str | None) -> None:
            f = server.faults
            server._sleep(server._latency())
            handler = server.routes.get(path)
            if handler is None:
                self._send(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
                return
            if fault == "429":
                self._send(
                    429,
                    {"error": {"message": "rate limited", "type": "rate_limit"}},
                    {"retry-after": f"{f.retry_after:g}"},
                )
                return
            if fault == "500":
                self._send(500, {"error": {"message": "injected server error", "type": "server_error"}})
                return
            if fault == "disconnect":
                self.close_connection = True
                self.connection.close()
                return
            if fault == "timeout" and server._hold_until_client_leaves(self.connection, f.timeout_s):
                self.close_connection = True
                return
            try:
                req = json.loads(body) if body else {}
            except ValueError:
                self._send(
                    400, {"error": {"message": "request body is not JSON", "type": "invalid_request_error"}}
                )
                return
            seen = Seen(path, req, {k.lower(): v for k, v in self.headers.items()})
            with server._lock:
                server.requests.append(seen)
            result = handler(req)
            reply = result if isinstance(result, Reply) else Reply(result)
            if fault == "malformed" and reply.status == 200:
                raw = json.dumps(reply.body).encode()
                self._send_raw(200, raw[: max(1, len(raw) // 2)], reply.headers)
                return
            if isinstance(reply.body, bytes):
                self._send_raw(reply.status, reply.body, reply.headers, reply.content_type, reply.drip_s)
                return
            self._send_raw(reply.status, json.dumps(reply.body).encode(), reply.headers, drip_s=reply.drip_s)

        def _send(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
            self._send_raw(status, json.dumps(obj).encode(), headers)

        def _send_raw(
            self,
            status: int,
            raw: bytes,
            headers: Mapping[str, str] | None = None,
            content_type: str = "application/json",
            drip_s: float = 0.0,
        ) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if drip_s <= 0:
                self.wfile.write(raw)
                self.wfile.flush()
                return
            self.wfile.flush()
            for i in range(len(raw)):
                if server._stopped.wait(drip_s):
                    return
                self.wfile.write(raw[i : i + 1])
                self.wfile.flush()

    return Handler


@pytest.fixture(name="fake_server")
def fake_server_fixture() -> Iterator[Callable[..., FakeServer]]:
    """A factory fixture: ``fake_server(routes=None, faults=Faults(...))`` starts a server that
    stops at teardown. Make it available with ``from tests.fakeserver import fake_server_fixture``
    in a test module (or a conftest), then ask for ``fake_server``."""
    started: list[FakeServer] = []

    def start(routes: Mapping[str, Route] | None = None, **kwargs: Any) -> FakeServer:
        server = FakeServer(routes, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
