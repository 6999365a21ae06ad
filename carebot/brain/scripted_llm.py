"""A scripted OpenAI-compatible chat-completions server (real HTTP, in a thread).

A stand-in for DeepSeek's cloud API, which cannot be reached from CI: it answers
``POST /v1/chat/completions`` in DeepSeek's response format (tool calls with JSON
argument strings, ``finish_reason: tool_calls``, DeepSeek's usage fields) and plays
what a real endpoint does on a bad day: slow answers past the client's timeout,
429 with Retry-After, 5xx, malformed tool calls, empty messages, non-JSON bodies.
Each request takes the next step of the script (the last step repeats), or a
``responder(request_json) -> Step`` decides. Requests are recorded for assertions.

A request with ``"stream": true`` is answered as DeepSeek streams: server-sent events
(``data: {chat.completion.chunk}``, then ``data: [DONE]``), the reply cut into pieces
of ``chunk_chars`` characters ``chunk_delay_s`` apart; a step's ``reasoning`` comes
first as ``reasoning_content`` deltas (deepseek-reasoner), tool calls as DeepSeek
streams them (name first, then argument fragments). ``broken`` ends the stream after
that many chunks without ``[DONE]`` (a dropped connection).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Step:
    """One scripted answer. kind: tool_calls | text | status | timeout | malformed | empty | garbage."""

    kind: str = "text"
    calls: list = field(default_factory=list)      # [(name, arguments dict or raw string)]
    content: str = ""
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0
    reasoning: str = ""            # deepseek-reasoner's reasoning_content (never to be spoken)
    chunk_chars: int = 4           # streaming: characters per content / argument chunk
    chunk_delay_s: float = 0.0     # streaming: pause between chunks (a model writing)
    broken: int = 0                # streaming: drop the connection after this many chunks (0: never)


def tool_calls(*calls, content: str = "") -> Step:
    return Step("tool_calls", list(calls), content)


def text(content: str) -> Step:
    return Step("text", content=content)


def status(code: int, retry_after: float | None = None) -> Step:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Step("status", status=code, headers=headers)


def timeout(delay_s: float) -> Step:
    return Step("timeout", delay_s=delay_s)


def deepseek_completion(step: Step, model: str = "deepseek-chat") -> dict:
    """A chat.completion body in DeepSeek's format for a tool_calls/text/malformed/empty step."""
    message: dict = {"role": "assistant", "content": step.content}
    finish = "stop"
    if step.kind in ("tool_calls", "malformed"):
        entries = []
        for i, (name, arguments) in enumerate(step.calls):
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            entries.append({"index": i, "id": f"call_{i}_{uuid.uuid4().hex[:8]}", "type": "function",
                            "function": {"name": name, "arguments": raw}})
        message["tool_calls"] = entries
        finish = "tool_calls"
    if step.kind == "empty":
        message["content"] = ""
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:10]}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_scripted",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                      "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 100}}


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i:i + size] for i in range(0, len(text), size)]


def deepseek_chunks(step: Step, model: str = "deepseek-chat") -> list[dict]:
    """The chat.completion.chunk objects of a step, in DeepSeek's streaming format."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:10]}", int(time.time())

    def chunk(delta: dict, finish=None, usage=None) -> dict:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_scripted",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if usage is not None:
            body["usage"] = usage
        return body

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": None, "reasoning_content": piece}) for piece in _pieces(step.reasoning, step.chunk_chars)]
    content = "" if step.kind == "empty" else step.content
    out += [chunk({"content": piece}) for piece in _pieces(content, step.chunk_chars)]
    finish = "stop"
    if step.kind in ("tool_calls", "malformed"):
        for i, (name, arguments) in enumerate(step.calls):
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            out.append(chunk({"tool_calls": [{"index": i, "id": f"call_{i}_{uuid.uuid4().hex[:8]}", "type": "function",
                                              "function": {"name": name, "arguments": ""}}]}))
            out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                    for piece in _pieces(raw, step.chunk_chars)]
        finish = "tool_calls"
    out.append(chunk({"content": ""}, finish, {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}))
    return out


class ScriptedLLMServer:
    """``with ScriptedLLMServer([steps]) as server: server.url`` -> http://127.0.0.1:PORT/v1"""

    def __init__(self, steps: list[Step] | None = None, responder: Callable[[dict], Step] | None = None):
        self.steps = list(steps or [text("OK.")])
        self.responder = responder
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._index = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def _next(self, request: dict) -> Step:
        if self.responder is not None:
            return self.responder(request)
        with self._lock:
            step = self.steps[min(self._index, len(self.steps) - 1)]
            self._index += 1
            return step

    def start(self) -> "ScriptedLLMServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, code: int, body: bytes, headers: dict | None = None, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, step: Step, model: str):
                """Server-sent events, one chunk at a time (HTTP/1.0: the body ends when the connection closes)."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    for n, body in enumerate(deepseek_chunks(step, model)):
                        if step.broken and n >= step.broken:
                            return                       # the connection drops mid-reply
                        if n and step.chunk_delay_s:
                            time.sleep(step.chunk_delay_s)
                        self.wfile.write(b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n")
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "deepseek-chat",
                                                "object": "model", "owned_by": "scripted"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, b'{"error": {"message": "bad json"}}')
                    return
                with server._lock:
                    server.requests.append(request)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                step = server._next(request)
                if step.delay_s:
                    time.sleep(step.delay_s)
                if step.kind == "status":
                    body = json.dumps({"error": {"message": f"scripted status {step.status}",
                                                 "type": "scripted", "code": step.status}}).encode()
                    self._send(step.status, body, step.headers)
                elif step.kind == "garbage":
                    self._send(200, b"<html>gateway says hello</html>", ctype="text/html")
                elif request.get("stream"):
                    self._stream(step, request.get("model", "deepseek-chat"))
                else:
                    self._send(200, json.dumps(deepseek_completion(step, request.get("model", "deepseek-chat")),
                                               ensure_ascii=False).encode())

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ScriptedLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
