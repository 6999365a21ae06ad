"""The brain node: a thin ROS adapter around carebot.brain.dialogue.Brain.

Subscribes ``speech/transcript``, ``perception/persons``, ``alerts`` and
``robot/status``; publishes ``alerts`` (HELP_REQUEST, ESCALATED falls,
REMINDER_MISSED) and ``safety/estop``; calls ``safety/trigger_estop``; is a client
of the ``speech/speak``, ``navigate_to``, ``gesture`` and ``look_at`` actions and
serves ``brain/ask``.

Threads: the transcript callback runs only the safety net (rules in microseconds,
then the example-similarity check, tens of milliseconds) and hands everything else
to a worker thread, so a slow or dead LLM never delays a stop or a call for help.
It also drops the robot's own voice heard back (``own_voice``) and checks in after
a loud shout without words (``check_in``). ``brain/ask`` has its own
callback group. Action servers may be missing (other nodes not up): goals are
then skipped with a warning and the rest of the plan still runs.
"""
from __future__ import annotations

import sys
import math
import queue
import threading
import time
from dataclasses import dataclass

import rclpy
from rclpy.action import ActionClient
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from carebot_interfaces.action import Gesture, LookAt, NavigateTo, Speak
from carebot_interfaces.msg import Alert, PersonArray, RobotStatus, Transcript
from carebot_interfaces.srv import Ask

from carebot.alert_delivery import ALERTS_LIVE_QOS, AlertSender
from carebot.brain.alerts import AlertInfo, AlertKind, AlertState, Severity, new_alert_id
from carebot.brain.check_in import ShoutCheckIn
from carebot.brain.dialogue import Brain, Decision, Source
from carebot.brain.fall_response import (FallResponder, LookAt as LookAtEffect, Navigate,
                                         PublishAlert, Speak as SpeakEffect, standoff_goal)
from carebot.brain.llm_client import LLMClient, LLMError
from carebot.brain.parameters import BRAIN
from carebot.brain.memory import ConversationMemory
from carebot.brain.own_voice import OwnVoice
from carebot.brain.reminders import ReminderEventKind, ReminderScheduler
from carebot.brain.ros_convert import alert_from_msg, alert_to_msg, tool_call_to_msg
from carebot.brain.safety_rules import language_of
from carebot.brain.tools import ToolName
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.node_runner import run_node
from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS, declare_table

ALERTS_QOS = ALERTS_LIVE_QOS   # live changes only: a restarted brain must not replay old falls
WORK_QUEUE = 8                 # utterances waiting for the dialogue worker; oldest dropped beyond
TICK_PERIOD_S = 1.0            # reminders and fall-response timeouts
POINT_HEIGHT_M = 1.0           # height of the point gesture's target above the floor
REMINDER_TEXT = {"en": "Reminder: {text}. Please tell me when it is done.",
                 "zh": "提醒您：{text}。完成后请告诉我。"}
FETCH_TEXT = {"here": {"en": "Here is your {item}.", "zh": "您的{item}来了。"},
              "failed": {"en": "Sorry, I could not get the {item}. I will ask a member of staff.",
                         "zh": "对不起，我没能拿到{item}，我会请工作人员帮忙。"}}
ERRAND_LEG_TIMEOUT_S = 300.0   # one drive of an errand (there, or back)
MAP_FRAMES = ("", "map")
OWN_ALERTS_KEPT = 1000         # ids of incidents this node opened, remembered to ignore them on 'alerts'


@dataclass
class _Utterance:
    text: str
    person: str
    language: str


class BrainNode(Node):
    """Dialogue, task decisions, fall response and reminders for one site."""

    def __init__(self):
        super().__init__("brain")
        settings = declare_table(self, BRAIN)          # ParameterError (a ValueError) stops the start
        self.site = settings.site
        self.llm_enabled = settings.llm is not None
        self.fall_standoff_m = settings.fall_standoff_m
        self.fall_near_m = settings.fall_near_m
        self.action_wait_s = settings.action_server_wait_s
        self.default_language = settings.language
        self.act_on_low_confidence = settings.act_on_low_confidence
        llm = LLMClient(settings.llm) if settings.llm is not None else None
        self.reminders = ReminderScheduler(confirm_timeout_s=settings.reminder_confirm_timeout_s,
                                           max_prompts=settings.reminder_max_prompts)
        self.brain = Brain(self.site, llm=llm, use_embeddings=settings.use_embeddings,
                           max_speed_mps=settings.max_nav_speed_mps,
                           memory=ConversationMemory(max_turns=settings.memory_max_turns,
                                                     ttl_s=settings.session_timeout_s),
                           reminders=self.reminders)
        for daily in settings.daily_reminders:
            self.reminders.add(daily.resident, daily.when, daily.text, daily=True)
        from carebot.world import load_world

        self.world = load_world(self.site)
        self.fall = FallResponder(settings.fall, self.default_language)
        self.check_in = ShoutCheckIn(settings.check_in, self.default_language)
        self.own_voice = OwnVoice()
        self._own_alerts: dict[str, None] = {}   # ids of incidents this node opened, oldest first
        self._fall_lock = threading.Lock()
        self._persons: PersonArray | None = None
        self._status: RobotStatus | None = None
        self._goals: dict[str, object] = {}          # action name -> goal handle in progress
        self._goals_lock = threading.Lock()

        safety = MutuallyExclusiveCallbackGroup()    # transcripts, alerts: never wait on the LLM
        service = MutuallyExclusiveCallbackGroup()   # brain/ask may wait on the LLM
        clients = ReentrantCallbackGroup()           # action and service responses
        # Durable and re-sent until the dashboard stored it (carebot.alert_delivery).
        self.alert_sender = AlertSender(self)
        self.estop_pub = self.create_publisher(Bool, "safety/estop", RELIABLE_QOS)
        self.estop_client = self.create_client(Trigger, "safety/trigger_estop", callback_group=clients)
        self.actions = {
            "speak": ActionClient(self, Speak, "speech/speak", callback_group=clients),
            "navigate_to": ActionClient(self, NavigateTo, "navigate_to", callback_group=clients),
            "gesture": ActionClient(self, Gesture, "gesture", callback_group=clients),
            "look_at": ActionClient(self, LookAt, "look_at", callback_group=clients),
        }
        self.create_subscription(Transcript, "speech/transcript", self._on_transcript, RELIABLE_QOS,
                                 callback_group=safety)
        self.create_subscription(Alert, "alerts", self._on_alert, ALERTS_QOS, callback_group=safety)
        self.create_subscription(PersonArray, "perception/persons", self._on_persons, SENSOR_QOS,
                                 callback_group=clients)
        self.create_subscription(RobotStatus, "robot/status", self._on_status, LATCHED_QOS, callback_group=clients)
        self.create_service(Ask, "brain/ask", self._on_ask, callback_group=service)
        self.create_timer(TICK_PERIOD_S, self._tick, callback_group=safety)

        self.health = HealthReport("carebot/brain")
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_health, callback_group=clients)
        self._counts = {"rule": 0, "knowledge": 0, "llm": 0, "fallback": 0}
        self._llm_state = "off" if llm is None else "not started"

        self._work: queue.Queue[_Utterance | None] = queue.Queue(maxsize=WORK_QUEUE)
        self._worker = threading.Thread(target=self._work_loop, name="brain-dialogue", daemon=True)
        self._worker.start()
        if llm is not None and settings.llm_start_on_launch:
            threading.Thread(target=self._warm_llm, name="brain-llm-start", daemon=True).start()
        self._similarity_state = "off"
        if settings.safety_similarity:
            # The rules answer from the first transcript; the similarity check joins them
            # when its model and example vectors are loaded (seconds; a minute uncached).
            self._similarity_state = "loading"
            threading.Thread(target=self._load_similarity, name="brain-similarity", daemon=True).start()
        self.get_logger().info(
            f"brain ready: site {self.site}, {len(self.brain.kb.entries)} knowledge entries, "
            f"{len(self.brain.places.names)} places, LLM {settings.llm.backend.value if llm else 'off'}")

    # ------------------------------------------------------------------ LLM start
    def _warm_llm(self) -> None:
        try:
            self._llm_state = "starting"
            self.brain.llm.start()
            self._llm_state = "ready"
            self.get_logger().info("LLM backend ready")
        except (LLMError, OSError) as exc:
            self._llm_state = f"failed: {exc}"
            self.get_logger().error(f"LLM backend failed to start ({exc}); rules and knowledge still answer")

    def _load_similarity(self) -> None:
        from carebot.brain.distress_similarity import load_similarity

        similarity = load_similarity()
        if similarity is None:
            self._similarity_state = "unavailable (rules only)"
            self.get_logger().error("safety net similarity check unavailable; the distress and stop rules still run")
            return
        self.brain.safety.similarity = similarity
        self._similarity_state = "ready"
        self.get_logger().info(f"safety net similarity check ready ({len(similarity.examples)} examples)")

    # ------------------------------------------------------------------ inputs
    def _on_persons(self, msg: PersonArray) -> None:
        self._persons = msg

    def _on_status(self, msg: RobotStatus) -> None:
        self._status = msg

    def _now(self) -> float:
        return time.monotonic()

    def _on_transcript(self, msg: Transcript) -> None:
        text = msg.text.strip()
        person = msg.speaker.strip()
        language = msg.language if msg.language in ("en", "zh") else language_of(text)
        if not text:
            if msg.shout:   # a scream or shout without words: ask whether they are all right
                self.get_logger().warning(f"loud shout without words ({msg.level_dbfs:.0f} dBFS): checking in")
                self._run_effects(self.check_in.on_shout(self._now(), msg.level_dbfs, msg.language))
            return
        if self.own_voice.is_own(text):
            self.get_logger().info("ignoring a transcript of the robot's own voice")
            return
        # 1. The safety net, right here: no queue, no LLM.
        decision = self.brain.decide_safety(text, person=person, language=language)
        if decision is not None:
            self.get_logger().warning(f"safety net: {decision.reply!r} ({'stop' if decision.stop_robot else 'alert'})")
            self._execute(decision, wait_for_servers=False)
            self._count(decision)
            self.check_in.close(self._now())   # the alert is raised; no second one for the shout
            # An answer to "are you all right?" that is a call for help escalates the fall too.
            self._fall_effects(lambda now: self.fall.on_transcript(text, now))
            return
        # 2. A fall incident or a shout check-in waiting for an answer takes the utterance.
        with self._fall_lock:
            listening = self.fall.state.value in ("listening", "approaching")
        if listening:
            self._fall_effects(lambda now: self.fall.on_transcript(text, now))
            return
        if self.check_in.listening:
            self._run_effects(self.check_in.on_transcript(text, self._now()))
            return
        if msg.low_confidence and not self.act_on_low_confidence:
            self.get_logger().info(f"ignoring a low-confidence transcript ({msg.confidence:.2f})")
            return
        try:
            self._work.put_nowait(_Utterance(text, person, language))
        except queue.Full:
            self._work.get_nowait()
            self.get_logger().warning("dialogue busy: dropped the oldest waiting utterance")
            self._work.put_nowait(_Utterance(text, person, language))

    def _on_alert(self, msg: Alert) -> None:
        try:
            alert = alert_from_msg(msg)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring malformed alert {msg.id!r}: {exc}")
            return
        if alert.id in self._own_alerts:
            return   # a fall this node raised from speech: the person is talking to the robot already
        if alert.kind is AlertKind.FALL and alert.state is AlertState.RAISED:
            track = self._fallen_track()
            self.get_logger().warning(f"fall alert {alert.id} at {alert.place or alert.position}: responding")
            self._fall_effects(lambda now: self.fall.on_fall_alert(alert, now, track))
        elif alert.state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
            self._fall_effects(lambda now: self.fall.on_alert_update(alert, now))

    def _fallen_track(self) -> int:
        persons = self._persons.persons if self._persons is not None else []
        fallen = [p for p in persons if p.state == p.STATE_FALLEN]
        return int(fallen[0].track_id) if fallen else -1

    # ------------------------------------------------------------------ dialogue
    def _work_loop(self) -> None:
        while rclpy.ok():
            item = self._work.get()
            if item is None:
                return
            try:
                decision = self.brain.decide(item.text, person=item.person, session=item.person,
                                             language=item.language, skip_safety=True)
                self._execute(decision, wait_for_servers=True)
                self._count(decision)
            except Exception as exc:  # noqa: BLE001 - the worker must survive any bad request
                self.get_logger().error(f"dialogue failed on {item.text!r}: {exc!r}")

    def _on_ask(self, request: Ask.Request, response: Ask.Response) -> Ask.Response:
        try:
            language = request.language if request.language in ("en", "zh") else ""
            decision = self.brain.decide(request.text, person=request.person, session=request.person or "ask",
                                         language=language)
            if request.execute:
                self._execute(decision, wait_for_servers=True)
        except Exception as exc:  # noqa: BLE001 - a bad request must not kill the service
            self.get_logger().error(f"brain/ask failed on {request.text!r}: {exc!r}")
            response.reply, response.source = "Sorry, something went wrong.", Source.RULE.value
            return response
        response.reply = decision.reply
        response.actions = [tool_call_to_msg(a) for a in decision.actions]
        response.source = decision.source.value
        response.latency_ms = float(decision.latency_ms)
        if decision.alert is not None:
            response.has_alert = True
            response.alert = alert_to_msg(decision.alert, time.time())
        self._count(decision)
        return response

    def _count(self, decision: Decision) -> None:
        self._counts[decision.source.value] += 1
        self._counts["fallback"] += int(decision.fallback)

    # ------------------------------------------------------------------ outputs
    def _execute(self, decision: Decision, wait_for_servers: bool) -> None:
        """Run a validated plan. Safety first: stop and alerts before anything that moves."""
        self.get_logger().info(f"[{decision.source.value}] reply {decision.reply!r}; actions "
                               f"{[a.tool for a in decision.actions]}")
        if decision.stop_robot:
            self._stop_robot("stop phrase")
        if decision.cancel_motion:
            self._cancel("navigate_to")
            self._cancel("gesture")
        if decision.alert is not None:
            self._publish_alert(decision.alert)
        for action in decision.actions:
            tool = action.tool
            if tool in (ToolName.SPEAK.value, ToolName.ANSWER.value):
                self._speak(action.args["text"], action.args.get("language", decision.language), wait_for_servers)
            elif tool == ToolName.NAVIGATE_TO.value:
                goal = NavigateTo.Goal(place=action.args["place"], max_speed=float(action.args.get("max_speed", 0.0)))
                self._send("navigate_to", goal, wait_for_servers)
            elif tool == ToolName.GESTURE.value:
                goal = Gesture.Goal(name=action.args["name"])
                target = self._place_in_base(action.args.get("place", ""))
                if target is not None:
                    goal.target.x, goal.target.y, goal.target.z = target
                self._send("gesture", goal, wait_for_servers)
            elif tool == ToolName.LOOK_AT.value:
                goal = LookAt.Goal(track_id=int(action.args["track_id"]),
                                   duration=float(action.args.get("duration", 0.0)))
                self._send("look_at", goal, wait_for_servers)
            elif tool == ToolName.SET_REMINDER.value:
                self.brain.commit(Decision("", [action], decision.source))
            elif tool == ToolName.FETCH.value:
                threading.Thread(target=self._errand, args=(action.args["item"], action.args["place"],
                                 decision.language), name="brain-errand", daemon=True).start()
            # call_staff: its alert was published above; stop: handled first.

    def _navigate_and_wait(self, goal, timeout_s: float) -> bool:
        """Send a NavigateTo goal and block this (non-executor) thread until its result."""
        done = threading.Event()
        outcome = [False]

        def on_result(ok: bool) -> None:
            outcome[0] = ok
            done.set()

        if not self._send("navigate_to", goal, wait=True, on_result=on_result):
            return False
        if not done.wait(timeout_s):
            self._cancel("navigate_to")
            return False
        return outcome[0]

    def _errand(self, item: str, place: str, language: str) -> None:
        """Fetch: drive to the place, come back to where the request was made, hand over."""
        home = None if self._status is None else (self._status.pose.x, self._status.pose.y)
        self.get_logger().info(f"errand: fetching {item!r} from {place}, then back to {home}")
        ok = self._navigate_and_wait(NavigateTo.Goal(place=place), ERRAND_LEG_TIMEOUT_S)
        if ok and home is not None:
            back = NavigateTo.Goal()
            back.target.header.frame_id = "map"
            back.target.pose.position.x, back.target.pose.position.y = home
            ok = self._navigate_and_wait(back, ERRAND_LEG_TIMEOUT_S)
        if not ok:
            self.get_logger().warning(f"errand for {item!r} failed")
            self._speak(FETCH_TEXT["failed"][language].format(item=item), language, wait=False)
            return
        self._send("gesture", Gesture.Goal(name="handover"), wait=False)
        self._speak(FETCH_TEXT["here"][language].format(item=item), language, wait=False)

    def _to_map(self, position: tuple[float, float, float], frame: str) -> tuple[float, float] | None:
        """A point of the alert in the map frame (perception sends base_link when it had no odometry)."""
        if frame in MAP_FRAMES:
            return position[0], position[1]
        if self._status is None:
            return None
        pose = self._status.pose
        c, s = math.cos(pose.theta), math.sin(pose.theta)
        return pose.x + c * position[0] - s * position[1], pose.y + s * position[0] + c * position[1]

    def _place_in_base(self, place: str) -> tuple[float, float, float] | None:
        """A place of the site in the robot's base frame (for pointing), if the pose is known."""
        target = self.world.places.get(place)
        if target is None or self._status is None:
            return None
        pose = self._status.pose
        dx, dy = target.x - pose.x, target.y - pose.y
        c, s = math.cos(-pose.theta), math.sin(-pose.theta)
        return (c * dx - s * dy, s * dx + c * dy, POINT_HEIGHT_M)

    def _stop_robot(self, reason: str) -> None:
        self.estop_pub.publish(Bool(data=True))
        if self.estop_client.service_is_ready():
            self.estop_client.call_async(Trigger.Request())
        else:
            self.get_logger().warning("safety/trigger_estop not available; e-stop sent on safety/estop only")
        self._cancel("navigate_to")
        self._cancel("gesture")
        self.get_logger().warning(f"robot stopped: {reason}")

    def _publish_alert(self, alert: AlertInfo) -> None:
        if alert.state is AlertState.RAISED:   # an incident this node opened (not a fall it escalates)
            self._own_alerts[alert.id] = None
            while len(self._own_alerts) > OWN_ALERTS_KEPT:
                self._own_alerts.pop(next(iter(self._own_alerts)))
        # The stamp is fixed here: re-sends repeat it, which is how the receipt names this change.
        self.alert_sender.publish(alert_to_msg(alert, time.time()))
        self.get_logger().warning(f"alert {alert.kind.name} {alert.state.name} {alert.id}: {alert.message}")

    def _speak(self, text: str, language: str, wait: bool) -> None:
        self.own_voice.said(text)
        self._send("speak", Speak.Goal(text=text, language=language), wait)

    def _send(self, name: str, goal, wait: bool, on_result=None) -> bool:
        client = self.actions[name]
        ready = client.server_is_ready() or (wait and self.action_wait_s > 0
                                             and client.wait_for_server(timeout_sec=self.action_wait_s))
        if not ready:
            self.get_logger().warning(f"action server for {name} not available: goal skipped")
            if on_result is not None:
                on_result(False)
            return False
        future = client.send_goal_async(goal)

        def accepted(fut):
            handle = fut.result()
            if handle is None or not handle.accepted:
                self.get_logger().warning(f"{name} goal rejected")
                if on_result is not None:
                    on_result(False)
                return
            with self._goals_lock:
                self._goals[name] = handle
            if on_result is not None:
                handle.get_result_async().add_done_callback(
                    lambda res: on_result(bool(getattr(res.result().result, "success", False))))

        future.add_done_callback(accepted)
        return True

    def _cancel(self, name: str) -> None:
        with self._goals_lock:
            handle = self._goals.pop(name, None)
        if handle is not None:
            handle.cancel_goal_async()

    # ------------------------------------------------------------------ fall response and reminders
    def _fall_effects(self, step) -> None:
        with self._fall_lock:
            effects = step(self._now())
        self._run_effects(effects)

    def _run_effects(self, effects: list) -> None:
        """Carry out the effects of the fall response and the shout check-in."""
        for effect in effects:
            if isinstance(effect, Navigate):
                self._approach(effect)
            elif isinstance(effect, SpeakEffect):
                self._speak(effect.text, effect.language, wait=False)
            elif isinstance(effect, PublishAlert):
                self._publish_alert(effect.alert)
            elif isinstance(effect, LookAtEffect):
                self._send("look_at", LookAt.Goal(track_id=effect.track_id, duration=10.0), wait=False)

    def _robot_xy(self) -> tuple[float, float] | None:
        return None if self._status is None else (self._status.pose.x, self._status.pose.y)

    def _approach(self, effect: Navigate) -> None:
        """Drive toward a fallen person at low speed, stopping short of them."""
        person = None if effect.position is None else self._to_map(effect.position, effect.frame_id)
        robot = self._robot_xy()
        goal = NavigateTo.Goal(max_speed=float(effect.max_speed))
        if person is not None and robot is not None:
            target = standoff_goal(robot, person, self.fall_standoff_m)
            if target is None:   # already beside the person
                self._fall_effects(lambda now: self.fall.on_arrived(True, now))
                return
            goal.target.header.frame_id = "map"
            goal.target.pose.position.x, goal.target.pose.position.y = target[0], target[1]
            goal.target.pose.orientation.z, goal.target.pose.orientation.w = math.sin(target[2] / 2), math.cos(target[2] / 2)
        elif person is not None:
            goal.target.header.frame_id = "map"
            goal.target.pose.position.x, goal.target.pose.position.y = person
        elif effect.place:
            goal.place = effect.place
        else:
            self.get_logger().warning("fall alert: no place and no robot pose to place it on the map")
            self._fall_effects(lambda now: self.fall.on_arrived(False, now))
            return

        def arrived(ok: bool) -> None:
            # Blocked close to the person (they, or a chair, are in the way): close enough to ask.
            here = self._robot_xy()
            near = person is not None and here is not None and math.hypot(
                person[0] - here[0], person[1] - here[1]) <= self.fall_near_m
            self._fall_effects(lambda now: self.fall.on_arrived(ok or near, now))

        self._send("navigate_to", goal, wait=False, on_result=arrived)

    def _tick(self) -> None:
        self._fall_effects(lambda now: self.fall.tick(now))
        self._run_effects(self.check_in.tick(self._now()))
        for event in self.reminders.tick():
            reminder = event.reminder
            language = language_of(reminder.text, "")
            if event.kind in (ReminderEventKind.FIRE, ReminderEventKind.REPROMPT):
                self._speak(REMINDER_TEXT[language].format(text=reminder.text), language, wait=False)
            else:
                self._publish_alert(AlertInfo(id=new_alert_id("reminder"), kind=AlertKind.REMINDER_MISSED,
                                              severity=Severity.WARNING, state=AlertState.RAISED,
                                              person=reminder.resident, place=reminder.place,
                                              message=event.message))

    def _publish_health(self) -> None:
        level = Level.OK if self._llm_state in ("ready", "off", "not started", "starting") else Level.WARN
        self.health.set(level, f"LLM {self._llm_state}; safety similarity {self._similarity_state}; "
                               f"fall response {self.fall.state.value}; shout check-in {self.check_in.state.value}",
                        site=self.site, queue=self._work.qsize(), **self._counts)
        self.diagnostics.publish(self.health)

    def shutdown(self) -> None:
        try:
            self._work.put_nowait(None)
        except queue.Full:
            pass
        if self.brain.llm is not None:
            self.brain.llm.close()


def main(args: list[str] | None = None) -> int:
    return run_node(BrainNode, name="brain", threads=4, on_exit=BrainNode.shutdown, args=args)


if __name__ == "__main__":
    sys.exit(main())
