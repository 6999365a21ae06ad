"""Tool schemas and the validator: allow-lists, bounds, whole-plan rejection, rate limits."""
import pytest

from carebot.brain.tools import (GESTURES, LLM_TOOLS, ToolCall, ToolPolicy, ToolRejected, ToolValidator,
                                 decision_schema, decision_to_calls, tool_schemas)

PLACES = ("lounge", "kitchen", "room_101")


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def validator(clock=None, limits=None):
    policy = ToolPolicy(places=PLACES, knowledge_ids=("lunch", "visiting_hours"), max_speed_mps=0.5,
                        rate_limits=limits or {"navigate_to": (2, 60.0), "speak": (100, 60.0)},
                        place_resolver={"living room": "lounge"}.get)
    return ToolValidator(policy, clock or FakeClock())


def test_schemas_offer_exactly_the_fixed_tools_with_allow_lists():
    policy = ToolPolicy(places=PLACES, knowledge_ids=("lunch",))
    schemas = tool_schemas(policy)
    assert [s["function"]["name"] for s in schemas] == [t.value for t in LLM_TOOLS]
    nav = next(s for s in schemas if s["function"]["name"] == "navigate_to")["function"]["parameters"]
    assert nav["properties"]["place"]["enum"] == sorted(PLACES)
    gesture = next(s for s in schemas if s["function"]["name"] == "gesture")["function"]["parameters"]
    assert gesture["properties"]["name"]["enum"] == list(GESTURES)
    assert "stop" not in [s["function"]["name"] for s in schemas]
    assert decision_schema(policy)["properties"]["place"]["enum"] == [""] + sorted(PLACES)


@pytest.mark.parametrize("call", [
    ToolCall("unlock_doors", {}),
    ToolCall("stop", {}),                                   # only the safety layer may stop
    ToolCall("fetch", {"item": "water", "place": "kitchen"}),   # errands are planned by rules only
    ToolCall("navigate_to", {"place": "server_room"}),
    ToolCall("navigate_to", {"place": "lounge", "max_speed": 2.0}),
    ToolCall("navigate_to", {"place": "lounge", "max_speed": float("nan")}),
    ToolCall("navigate_to", {"place": "lounge", "speed_override": True}),
    ToolCall("gesture", {"name": "punch"}),
    ToolCall("look_at", {"track_id": -3}),
    ToolCall("look_at", {"track_id": 1, "duration": 3600}),
    ToolCall("call_staff", {"reason": "", "urgency": "normal"}),
    ToolCall("call_staff", {"reason": "x", "urgency": "apocalyptic"}),
    ToolCall("set_reminder", {"resident": "Zhang", "time": "someday", "text": "pills"}),
    ToolCall("speak", {"text": "x" * 5000}),
    ToolCall("speak", {"text": 42}),
    ToolCall("answer", {"text": "Lunch is at noon", "sources": ["made_up_fact"]}),
])
def test_invalid_calls_are_rejected_with_an_explanation(call):
    with pytest.raises(ToolRejected) as info:
        validator().validate(call)
    assert info.value.reason
    assert info.value.say("en") and info.value.say("zh") != info.value.say("en")


def test_internal_tools_only_for_the_brains_own_rules():
    v = validator()
    assert v.validate(ToolCall("fetch", {"item": "tea", "place": "kitchen"}), internal=True).args["place"] == "kitchen"
    with pytest.raises(ToolRejected):
        v.validate(ToolCall("fetch", {"item": "tea", "place": "garage"}), internal=True)


def test_valid_calls_are_normalised():
    v = validator()
    assert v.validate(ToolCall("navigate_to", {"place": "living room"})).args == {"place": "lounge"}
    assert v.validate(ToolCall("look_at", {"track_id": "4"})).args == {"track_id": 4}
    assert v.validate(ToolCall("answer", {"text": " Noon. ", "sources": "lunch"})).args == {
        "text": "Noon.", "sources": ["lunch"]}
    assert v.validate(ToolCall("set_reminder", {"resident": "Zhang", "time": "in 10 minutes",
                                                "text": "drink water"})).tool == "set_reminder"


def test_one_bad_call_rejects_the_whole_plan_and_spends_no_budget():
    clock = FakeClock()
    v = validator(clock)
    with pytest.raises(ToolRejected):
        v.validate_plan([ToolCall("navigate_to", {"place": "lounge"}), ToolCall("gesture", {"name": "punch"})])
    # The rejected plan did not use the navigate_to budget (2 per minute).
    assert len(v.validate_plan([ToolCall("navigate_to", {"place": "lounge"})])) == 1
    assert len(v.validate_plan([ToolCall("navigate_to", {"place": "kitchen"})])) == 1


def test_rate_limit_rejects_then_recovers_after_the_window():
    clock = FakeClock()
    v = validator(clock)
    for _ in range(2):
        v.validate_plan([ToolCall("navigate_to", {"place": "lounge"})])
    with pytest.raises(ToolRejected) as info:
        v.validate_plan([ToolCall("speak", {"text": "hi"}), ToolCall("navigate_to", {"place": "lounge"})])
    assert "rate limit" in info.value.reason
    clock.t = 61.0
    assert v.validate_plan([ToolCall("navigate_to", {"place": "lounge"})])


def test_plan_size_is_bounded():
    with pytest.raises(ToolRejected):
        validator().validate_plan([ToolCall("speak", {"text": "hi"})] * 10)


def test_flat_decision_becomes_tool_calls():
    calls = decision_to_calls({"reply": "Follow me.", "action": "navigate_to", "place": "lounge", "gesture": "",
                               "urgency": "", "time": "", "source": ""})
    assert [c.tool for c in calls] == ["speak", "navigate_to"]
    calls = decision_to_calls({"reply": "Lunch is at noon.", "action": "answer", "place": "", "source": "lunch"})
    assert calls == [ToolCall("answer", {"text": "Lunch is at noon.", "sources": ["lunch"]})]
    with pytest.raises(ToolRejected):
        decision_to_calls({"reply": "x", "action": "self_destruct"})
    with pytest.raises(ToolRejected):
        decision_to_calls(["not", "an", "object"])
