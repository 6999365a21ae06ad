"""The robot actions the brain may take, as LLM tools, and their validator.

The tool list is fixed here in code: no transcript, knowledge text or model
output can add a tool or widen an allow-list. Every call - from the LLM or from
the deterministic layers - passes ``ToolValidator.validate_plan`` before anything
moves: schema (known tool, known arguments, types), allow-listed places and
gestures, numeric and length bounds, and per-tool rate limits. A plan is checked
whole: one bad call rejects the plan, so nothing half-executes, and the
rejection carries a sentence the robot can say to the person.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Iterable, Mapping

from carebot.brain.reminders import parse_time_expression


class ToolName(str, Enum):
    """Actions the brain can plan. STOP (safety layer) and FETCH (a rule-planned
    errand: go to a place, come back to the person, hand over) are internal: never
    offered to the LLM and refused when it names them."""

    SPEAK = "speak"
    NAVIGATE_TO = "navigate_to"
    GESTURE = "gesture"
    LOOK_AT = "look_at"
    CALL_STAFF = "call_staff"
    SET_REMINDER = "set_reminder"
    ANSWER = "answer"
    STOP = "stop"
    FETCH = "fetch"


INTERNAL_TOOLS = (ToolName.STOP.value, ToolName.FETCH.value)
MAX_ITEM_CHARS = 60
LLM_TOOLS = (ToolName.SPEAK, ToolName.NAVIGATE_TO, ToolName.GESTURE, ToolName.LOOK_AT,
             ToolName.CALL_STAFF, ToolName.SET_REMINDER, ToolName.ANSWER)
GESTURES = ("wave", "point", "nod", "handover")
URGENCIES = ("low", "normal", "high", "critical")
LANGUAGES = ("", "en", "zh")

MAX_SPEAK_CHARS = 400
MAX_ANSWER_CHARS = 600
MAX_REASON_CHARS = 200
MAX_REMINDER_TEXT_CHARS = 200
MAX_RESIDENT_CHARS = 64
MAX_LOOK_DURATION_S = 30.0
MAX_ACTIONS_PER_PLAN = 4

# Default rate limits: (calls, window in s). Generous for talking, tight for moving.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    ToolName.SPEAK.value: (30, 60.0),
    ToolName.ANSWER.value: (30, 60.0),
    ToolName.NAVIGATE_TO.value: (6, 60.0),
    ToolName.GESTURE.value: (10, 60.0),
    ToolName.LOOK_AT.value: (20, 60.0),
    ToolName.CALL_STAFF.value: (5, 300.0),
    ToolName.SET_REMINDER.value: (10, 3600.0),
    ToolName.FETCH.value: (4, 300.0),
}


@dataclass(frozen=True)
class ToolCall:
    """One planned action: tool name and JSON-like arguments."""

    tool: str
    args: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"tool": self.tool, "args": dict(self.args)}


class ToolRejected(ValueError):
    """A call failed validation; ``explanation`` is what the robot says (en, zh)."""

    def __init__(self, reason: str, explanation_en: str, explanation_zh: str, call: ToolCall | None = None):
        super().__init__(reason)
        self.reason = reason
        self.call = call
        self.explanation = {"en": explanation_en, "zh": explanation_zh}

    def say(self, language: str) -> str:
        return self.explanation["zh" if language == "zh" else "en"]


@dataclass(frozen=True)
class ToolPolicy:
    """What the validator allows: the site's places and knowledge ids, and bounds."""

    places: tuple[str, ...]
    knowledge_ids: tuple[str, ...] = ()
    max_speed_mps: float = 0.5           # navigation goals never ask for more
    rate_limits: Mapping[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    place_resolver: Callable[[str], str | None] | None = None   # alias -> canonical name


def _place_enum(policy: ToolPolicy) -> list[str]:
    return sorted(policy.places)


def tool_schemas(policy: ToolPolicy, tools: Iterable[str] | None = None) -> list[dict]:
    """OpenAI/DeepSeek ``tools`` definitions (function calling) for the LLM tools
    (all of LLM_TOOLS, or only the named ones)."""
    places = _place_enum(policy)
    fn = lambda name, desc, props, required: {  # noqa: E731 - a table of literals
        "type": "function",
        "function": {"name": name, "description": desc,
                     "parameters": {"type": "object", "properties": props,
                                    "required": required, "additionalProperties": False}}}
    text = lambda n, d: {"type": "string", "maxLength": n, "description": d}  # noqa: E731
    wanted = None if tools is None else set(tools)
    return [schema for schema in [
        fn("speak", "Say a short sentence to the person.",
           {"text": text(MAX_SPEAK_CHARS, "what to say"),
            "language": {"type": "string", "enum": list(LANGUAGES)}}, ["text"]),
        fn("navigate_to", "Drive the robot to a named place of this site (guiding the person).",
           {"place": {"type": "string", "enum": places},
            "max_speed": {"type": "number", "minimum": 0.05, "maximum": policy.max_speed_mps}},
           ["place"]),
        fn("gesture", "Play an arm gesture.",
           {"name": {"type": "string", "enum": list(GESTURES)},
            "place": {"type": "string", "enum": places, "description": "for point: where"}},
           ["name"]),
        fn("look_at", "Turn the head toward a tracked person.",
           {"track_id": {"type": "integer", "minimum": 0},
            "duration": {"type": "number", "minimum": 0, "maximum": MAX_LOOK_DURATION_S}},
           ["track_id"]),
        fn("call_staff", "Ask a member of staff to come (not for emergencies: those are handled already).",
           {"reason": text(MAX_REASON_CHARS, "why staff is needed"),
            "urgency": {"type": "string", "enum": list(URGENCIES)}}, ["reason", "urgency"]),
        fn("set_reminder", "Remind a resident of something at a time (HH:MM or 'in N minutes').",
           {"resident": text(MAX_RESIDENT_CHARS, "who"), "time": text(32, "HH:MM or in N minutes"),
            "text": text(MAX_REMINDER_TEXT_CHARS, "what to remind")}, ["resident", "time", "text"]),
        fn("answer", "Answer a question from the site knowledge; cite the ids of the facts used.",
           {"text": text(MAX_ANSWER_CHARS, "the answer"),
            "sources": {"type": "array", "items": {"type": "string", "enum": list(policy.knowledge_ids) or [""]},
                        "maxItems": 3},
            "place": {"type": "string", "enum": places}}, ["text", "sources"]),
    ] if wanted is None or schema["function"]["name"] in wanted]


DECISION_ACTIONS = ("navigate_to", "gesture", "call_staff")


def decision_schema(policy: ToolPolicy, tools: Iterable[str] | None = None) -> dict:
    """A small flat JSON schema of one decision, for small models with constrained output.

    Grammar-constrained decoding (llama.cpp ``response_format``) keeps even a tiny
    model inside it; ``decision_to_calls`` turns it into tool calls. It is kept to
    three fields on purpose: every generated token costs time on a CPU, and
    reminders and cited answers are decided before the LLM is asked.
    """
    return {
        "type": "object",
        "properties": {
            # Short: a Chinese character can cost three tokens, and max_tokens must
            # always leave room to close the JSON object.
            "reply": {"type": "string", "maxLength": 60},
            "action": {"type": "string", "enum": ["none"] + [a for a in DECISION_ACTIONS
                                                               if tools is None or a in set(tools)]},
            "place": {"type": "string", "enum": [""] + _place_enum(policy)},
        },
        "required": ["reply", "action", "place"],
    }


def decision_to_calls(decision: Mapping[str, Any], resident: str = "") -> list[ToolCall]:
    """Tool calls of a flat decision (see decision_schema); raises ToolRejected if malformed."""
    if not isinstance(decision, Mapping):
        raise ToolRejected("decision is not an object", *_NOT_UNDERSTOOD)
    reply = str(decision.get("reply") or "").strip()
    action = str(decision.get("action") or "none")
    calls: list[ToolCall] = []
    if action == "answer":
        source = str(decision.get("source") or "")
        args = {"text": reply, "sources": [source] if source else []}
        if decision.get("place"):
            args["place"] = decision["place"]
        return [ToolCall("answer", args)]
    if reply:
        calls.append(ToolCall("speak", {"text": reply}))
    if action == "navigate_to":
        calls.append(ToolCall("navigate_to", {"place": decision.get("place", "")}))
    elif action == "gesture":
        args = {"name": decision.get("gesture") or "wave"}
        if decision.get("place"):
            args["place"] = decision["place"]
        calls.append(ToolCall("gesture", args))  # a small model names no gesture: wave
    elif action == "call_staff":
        calls.append(ToolCall("call_staff", {"reason": reply or "assistance requested",
                                             "urgency": decision.get("urgency") or "normal"}))
    elif action == "set_reminder":
        calls.append(ToolCall("set_reminder", {"resident": resident or "resident",
                                               "time": decision.get("time", ""), "text": reply}))
    elif action != "none":
        raise ToolRejected(f"unknown action {action!r}", *_NOT_ALLOWED)
    return calls


_NOT_UNDERSTOOD = ("Sorry, I did not understand that. Shall I call a member of staff?",
                   "对不起，我没听明白。需要我叫工作人员吗？")
_NOT_ALLOWED = ("Sorry, I am not allowed to do that. I can call a member of staff for you.",
                "对不起，我不能这样做。我可以帮您叫工作人员。")
_UNKNOWN_PLACE = ("Sorry, I don't know that place, so I will stay here. A member of staff can help you.",
                  "对不起，我不知道这个地方，所以我先不动。工作人员可以帮助您。")
_TOO_OFTEN = ("I have just done that several times, so I will wait a moment. A member of staff can help.",
              "我刚刚已经做了好几次，请稍等一下。工作人员可以帮助您。")
_BAD_TIME = ("Sorry, I did not understand the time for the reminder. Please say it like 'at 3 pm' or 'in 20 minutes'.",
             "对不起，我没听懂提醒的时间。请说“下午三点”或“二十分钟后”。")


def _reject(reason: str, call: ToolCall | None, texts=_NOT_ALLOWED) -> ToolRejected:
    return ToolRejected(reason, texts[0], texts[1], call)


def _text(args: dict, key: str, limit: int, call: ToolCall, required: bool = True) -> str:
    value = args.get(key, "")
    if not isinstance(value, str):
        raise _reject(f"{call.tool}.{key} must be text, got {type(value).__name__}", call, _NOT_UNDERSTOOD)
    value = value.strip()
    if required and not value:
        raise _reject(f"{call.tool}.{key} is empty", call, _NOT_UNDERSTOOD)
    if len(value) > limit:
        raise _reject(f"{call.tool}.{key} longer than {limit} characters", call, _NOT_UNDERSTOOD)
    return value


def _number(args: dict, key: str, low: float, high: float, call: ToolCall, default: float | None = None) -> float | None:
    if key not in args or args[key] is None:
        return default
    value = args[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _reject(f"{call.tool}.{key} must be a number", call, _NOT_UNDERSTOOD)
    try:
        number = float(value)
    except ValueError:
        raise _reject(f"{call.tool}.{key} must be a number, got {value!r}", call, _NOT_UNDERSTOOD) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise _reject(f"{call.tool}.{key}={number} outside [{low}, {high}]", call)
    return number


_ALLOWED_ARGS = {
    "speak": {"text", "language"},
    "navigate_to": {"place", "max_speed"},
    "gesture": {"name", "place"},
    "look_at": {"track_id", "duration"},
    "call_staff": {"reason", "urgency"},
    "set_reminder": {"resident", "time", "text"},
    "answer": {"text", "sources", "place"},
    "stop": {"reason"},
    "fetch": {"item", "place"},
}


class RateLimiter:
    """Sliding-window call counts per tool (thread-safe)."""

    def __init__(self, limits: Mapping[str, tuple[int, float]], clock: Callable[[], float] = time.monotonic):
        self._limits = dict(limits)
        self._clock = clock
        self._calls: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _window(self, tool: str, now: float) -> deque:
        calls = self._calls.setdefault(tool, deque())
        _, window = self._limits[tool]
        while calls and now - calls[0] > window:
            calls.popleft()
        return calls

    def check_and_record(self, tools: Iterable[str]) -> str:
        """Record all calls, or none and return the tool over its limit ('' when fine)."""
        with self._lock:
            now = self._clock()
            wanted: dict[str, int] = {}
            for tool in tools:
                if tool in self._limits:
                    wanted[tool] = wanted.get(tool, 0) + 1
            for tool, count in wanted.items():
                if len(self._window(tool, now)) + count > self._limits[tool][0]:
                    return tool
            for tool, count in wanted.items():
                self._calls[tool].extend([now] * count)
            return ""


class ToolValidator:
    """Checks tool calls against the fixed tool list and the site policy."""

    def __init__(self, policy: ToolPolicy, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], datetime] = datetime.now):
        self.policy = policy
        self._wall = wall_clock      # reminder times are checked against the scheduler's clock
        self._places = set(policy.places)
        self._knowledge = set(policy.knowledge_ids)
        self._rates = RateLimiter(policy.rate_limits, clock)

    def _place(self, value: Any, call: ToolCall) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _reject(f"{call.tool}.place missing", call, _UNKNOWN_PLACE)
        name = value.strip()
        if name not in self._places and self.policy.place_resolver is not None:
            name = self.policy.place_resolver(name) or name
        if name not in self._places:
            raise _reject(f"{call.tool}.place {value!r} is not a place of this site", call, _UNKNOWN_PLACE)
        return name

    def validate(self, call: ToolCall, internal: bool = False) -> ToolCall:
        """The call with normalised arguments; raises ToolRejected with the reason.

        ``internal``: the plan comes from the brain's own rules, which may use the
        internal tools (stop, fetch); LLM plans may not.
        """
        tool = call.tool
        if tool not in _ALLOWED_ARGS or (tool in INTERNAL_TOOLS and not internal):
            raise _reject(f"unknown tool {tool!r}", call)
        if not isinstance(call.args, Mapping):
            raise _reject(f"{tool} arguments are not an object", call, _NOT_UNDERSTOOD)
        extra = set(call.args) - _ALLOWED_ARGS[tool]
        if extra:
            raise _reject(f"{tool} got unexpected arguments {sorted(extra)}", call, _NOT_UNDERSTOOD)
        a = call.args
        out: dict[str, Any] = {}
        if tool == "speak":
            out["text"] = _text(a, "text", MAX_SPEAK_CHARS, call)
            language = a.get("language", "") or ""
            if language not in LANGUAGES:
                raise _reject(f"speak.language {language!r} not supported", call, _NOT_UNDERSTOOD)
            if language:
                out["language"] = language
        elif tool == "navigate_to":
            out["place"] = self._place(a.get("place"), call)
            speed = _number(a, "max_speed", 0.05, self.policy.max_speed_mps, call)
            if speed is not None:
                out["max_speed"] = speed
        elif tool == "gesture":
            name = a.get("name")
            if name not in GESTURES:
                raise _reject(f"gesture {name!r} not in {GESTURES}", call)
            out["name"] = name
            if a.get("place"):
                out["place"] = self._place(a["place"], call)
        elif tool == "look_at":
            track = a.get("track_id")
            if isinstance(track, bool) or not isinstance(track, (int, str)) or not str(track).strip().isdigit():
                raise _reject(f"look_at.track_id must be a non-negative integer, got {track!r}", call, _NOT_UNDERSTOOD)
            out["track_id"] = int(track)
            duration = _number(a, "duration", 0.0, MAX_LOOK_DURATION_S, call)
            if duration is not None:
                out["duration"] = duration
        elif tool == "call_staff":
            out["reason"] = _text(a, "reason", MAX_REASON_CHARS, call)
            urgency = a.get("urgency", "normal") or "normal"
            if urgency not in URGENCIES:
                raise _reject(f"call_staff.urgency {urgency!r} not in {URGENCIES}", call, _NOT_UNDERSTOOD)
            out["urgency"] = urgency
        elif tool == "set_reminder":
            out["resident"] = _text(a, "resident", MAX_RESIDENT_CHARS, call)
            when = _text(a, "time", 32, call)
            if parse_time_expression(when, self._wall()) is None:
                raise _reject(f"set_reminder.time {when!r} not understood", call, _BAD_TIME)
            out["time"] = when
            out["text"] = _text(a, "text", MAX_REMINDER_TEXT_CHARS, call)
        elif tool == "answer":
            out["text"] = _text(a, "text", MAX_ANSWER_CHARS, call)
            sources = a.get("sources", [])
            if isinstance(sources, str):
                sources = [sources] if sources else []
            if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
                raise _reject("answer.sources must be a list of knowledge ids", call, _NOT_UNDERSTOOD)
            unknown = [s for s in sources if s not in self._knowledge]
            if unknown:
                raise _reject(f"answer cites unknown knowledge {unknown}", call, _NOT_UNDERSTOOD)
            out["sources"] = list(sources)
            if a.get("place"):
                out["place"] = self._place(a["place"], call)
        elif tool == "stop":
            out["reason"] = str(a.get("reason", ""))[:MAX_REASON_CHARS]
        elif tool == "fetch":
            out["item"] = _text(a, "item", MAX_ITEM_CHARS, call)
            out["place"] = self._place(a.get("place"), call)
        return ToolCall(tool, out)

    def validate_plan(self, calls: Iterable[ToolCall], internal: bool = False) -> list[ToolCall]:
        """Validate every call, then the rate limits of all of them together.

        Raises ToolRejected on the first problem; rate-limit budget is only spent
        when the whole plan passes.
        """
        calls = list(calls)
        if len(calls) > MAX_ACTIONS_PER_PLAN:
            raise _reject(f"plan has {len(calls)} actions, more than {MAX_ACTIONS_PER_PLAN}", None)
        checked = [self.validate(c, internal=internal) for c in calls]
        over = self._rates.check_and_record(c.tool for c in checked)
        if over:
            raise _reject(f"rate limit of {over} reached", None, _TOO_OFTEN)
        return checked
