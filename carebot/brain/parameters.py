"""The brain node's parameter table and typed settings (no ROS); see carebot/parameters.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from carebot.brain.check_in import CheckInConfig
from carebot.brain.fall_response import FallConfig
from carebot.brain.llm_client import Backend, LLMConfig, OutputMode
from carebot.brain.reminders import parse_time_expression
from carebot.parameters import Param, ParamTable, ParamType, SettingError, refusal_of, world_problem

S, I, D, B = ParamType.STRING, ParamType.INTEGER, ParamType.DOUBLE, ParamType.BOOL
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class DailyReminder:
    when: str          # a time expression ("08:00")
    resident: str      # room or name the reminder is for
    text: str


def daily_reminders(text: str) -> list[DailyReminder]:
    """'HH:MM|resident|text' entries separated by ';'; ValueError names a bad entry."""
    out = []
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        parts = [p.strip() for p in entry.split("|", 2)]
        if len(parts) != 3 or not parts[2]:
            raise ValueError(f"bad entry {entry!r}: expected 'HH:MM|resident|text'")
        if parse_time_expression(parts[0]) is None:
            raise ValueError(f"bad entry {entry!r}: time {parts[0]!r} not understood")
        out.append(DailyReminder(*parts))
    return out


@dataclass(frozen=True)
class BrainSettings:
    site: str
    llm: LLMConfig | None             # None: llm_enabled false
    llm_start_on_launch: bool
    use_embeddings: bool
    safety_similarity: bool
    check_in: CheckInConfig
    max_nav_speed_mps: float
    fall: FallConfig
    fall_standoff_m: float
    fall_near_m: float
    reminder_confirm_timeout_s: float
    reminder_max_prompts: int
    daily_reminders: tuple[DailyReminder, ...]
    action_server_wait_s: float
    language: str
    act_on_low_confidence: bool
    session_timeout_s: float
    memory_max_turns: int
    stream_replies: bool
    resident_memory_path: str
    resident_memory_to_cloud: bool


def _build(v: Mapping[str, Any]) -> BrainSettings:
    llm = None
    if v["llm_enabled"]:
        try:
            llm = LLMConfig(backend=v["llm_backend"], base_url=v["llm_base_url"], model=v["llm_model"],
                            api_key_env=v["llm_api_key_env"], output_mode=v["llm_output_mode"] or None,
                            timeout_s=v["llm_timeout_s"] or None, deadline_s=v["llm_deadline_s"] or None,
                            max_retries=None if v["llm_max_retries"] < 0 else v["llm_max_retries"],
                            tools=v["llm_tools"] or None)
        except ValueError as exc:
            raise SettingError("llm_*", str(exc)) from None
    fall = FallConfig(approach_speed_mps=v["fall_approach_speed_mps"], answer_timeout_s=v["fall_answer_timeout_s"],
                      arrive_timeout_s=v["fall_arrive_timeout_s"])
    return BrainSettings(
        site=v["site"], llm=llm, llm_start_on_launch=v["llm_start_on_launch"], use_embeddings=v["use_embeddings"],
        safety_similarity=v["safety_similarity"], check_in=CheckInConfig(answer_timeout_s=v["shout_answer_timeout_s"]),
        max_nav_speed_mps=v["max_nav_speed_mps"], fall=fall, fall_standoff_m=v["fall_standoff_m"],
        fall_near_m=v["fall_near_m"], reminder_confirm_timeout_s=v["reminder_confirm_timeout_s"],
        reminder_max_prompts=v["reminder_max_prompts"], daily_reminders=tuple(daily_reminders(v["daily_reminders"])),
        action_server_wait_s=v["action_server_wait_s"], language=v["language"],
        act_on_low_confidence=v["act_on_low_confidence"], session_timeout_s=v["session_timeout_s"],
        memory_max_turns=v["memory_max_turns"], stream_replies=v["stream_replies"],
        resident_memory_path=v["resident_memory_path"], resident_memory_to_cloud=v["resident_memory_to_cloud"])


BRAIN = ParamTable("brain", (
    Param("site", S, "care_home", "site whose places and knowledge base are used",
          check=lambda value: world_problem(value, required=True), constraint="a site world (models/worlds)"),
    Param("llm_backend", S, Backend.EMBEDDED.value,
          "LLM backend: embedded (local llama.cpp), openai_compatible (self-hosted), deepseek (cloud)",
          choices=tuple(b.value for b in Backend)),
    Param("llm_base_url", S, "", "base URL of the LLM endpoint; empty = backend default "
          "(openai_compatible needs one)"),
    Param("llm_model", S, "", "model name; empty = backend default (deepseek-chat)"),
    Param("llm_api_key_env", S, "DEEPSEEK_API_KEY",
          "environment variable holding the API key (the key itself is never a parameter)"),
    Param("llm_output_mode", S, "", "tools or json_schema; empty = backend default",
          choices=("",) + tuple(m.value for m in OutputMode)),
    Param("llm_timeout_s", D, 0.0, "one LLM request; 0 = backend default", "s", 0.0, 300.0),
    Param("llm_deadline_s", D, 0.0, "whole LLM call with retries; 0 = backend default", "s", 0.0, 600.0),
    Param("llm_max_retries", I, -1, "LLM retries; -1 = backend default", min=-1, max=5),
    Param("llm_tools", S, "", "comma list of tools the LLM may use; empty = backend default "
          "(embedded: speak,gesture,call_staff); call_staff is always allowed"),
    Param("llm_enabled", B, True, "false: rules and knowledge only"),
    Param("llm_start_on_launch", B, True,
          "start the embedded LLM server at launch (in the background) instead of on first use"),
    Param("use_embeddings", B, True, "retrieve knowledge and recognise social talk with the e5 embedding model "
          "(else lexical only; the safety net's own similarity check is safety_similarity)"),
    Param("safety_similarity", B, True, "safety net: compare utterances the rules pass with the labelled "
          "distress/stop examples (multilingual e5); false: rules only"),
    Param("shout_answer_timeout_s", D, 15.0, "after a loud shout without words the robot asks 'are you all "
          "right?'; no answer this long -> staff alert", "s", 3.0, 120.0),
    Param("max_nav_speed_mps", D, 0.5, "highest speed a navigation goal may ask", "m/s", 0.05, 1.5),
    Param("fall_approach_speed_mps", D, 0.25, "speed when driving to a fallen person", "m/s", 0.05, 0.5),
    Param("fall_answer_timeout_s", D, 20.0, "no answer this long after asking -> escalate", "s", 1.0, 600.0),
    Param("fall_arrive_timeout_s", D, 120.0, "not at the person this long -> escalate", "s", 5.0, 1800.0),
    Param("fall_standoff_m", D, 0.8, "stop this far from a fallen person (never drive onto them)", "m", 0.3, 2.0),
    Param("fall_near_m", D, 1.6, "a drive that ends this close to the person counts as arrived", "m", 0.5, 3.0),
    Param("reminder_confirm_timeout_s", D, 120.0,
          "wait this long for a reminder's confirmation before prompting again", "s", 5.0, 3600.0),
    Param("reminder_max_prompts", I, 2, "prompts before a reminder is escalated", min=1, max=10),
    Param("daily_reminders", S, "", "daily reminders 'HH:MM|resident|text' separated by ';'",
          check=refusal_of(daily_reminders), constraint="'HH:MM|resident|text' entries separated by ';'"),
    Param("action_server_wait_s", D, 1.0, "how long to wait for an action server before skipping a goal", "s",
          0.0, 30.0),
    Param("language", S, "en", "the site's language: what the robot says first (fall questions, check-ins) and "
          "what staff read in alerts; replies follow the language a person speaks", choices=LANGUAGES),
    Param("act_on_low_confidence", B, False, "act on low-confidence transcripts (safety phrases always count)"),
    Param("session_timeout_s", D, 900.0, "conversation forgotten after this idle time", "s", 10.0, 86400.0),
    Param("memory_max_turns", I, 8, "messages of conversation kept per person", min=1, max=64),
    Param("stream_replies", B, True, "an LLM reply is spoken sentence by sentence as it streams (the first "
          "sentence plays while the model writes the rest); false: spoken when the whole reply is in"),
    Param("resident_memory_path", S, "", "SQLite file of what residents chose to have remembered (with consent; "
          "keyed by Transcript.speaker / brain/ask person); relative: in the robot's state folder "
          "($CAREBOT_STATE_DIR or ~/.local/state/carebot); empty: nothing is kept"),
    Param("resident_memory_to_cloud", B, False, "residents' remembered facts may go to a cloud LLM (DeepSeek) "
          "as data; false: only a local LLM sees them"),
), build=_build)
