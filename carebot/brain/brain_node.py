"""The brain node: a thin ROS adapter around the brain's pure parts.

Subscribes ``speech/transcript``, ``perception/persons``, ``alerts`` and
``robot/status``; publishes ``alerts`` (help, ESCALATED falls, REMINDER_MISSED) and
``safety/estop``; calls ``safety/trigger_estop``; is a client of the ``speech/speak``,
``navigate_to``, ``gesture`` and ``look_at`` actions and serves ``brain/ask``.

What to do is decided by pure modules: ``router`` (where a transcript or an alert goes;
the safety net runs once per transcript), ``dialogue`` (replies and plans), the state
machines ``fall_response``, ``check_in`` and ``errand``, and ``reminders``. They all
answer in the one vocabulary of ``effects``; ``_dispatch`` here turns each effect into a
ROS call and hands the results of drives back to the state machine that asked.

Threads: the transcript callback runs only the router (the safety net: rules in
microseconds, the example-similarity check in tens of milliseconds) and hands the
dialogue to a worker thread, so a slow or dead LLM never delays a stop or a call for
help. ``brain/ask`` has its own callback group. Action servers may be missing (other
nodes not up): goals are then skipped with a warning and the rest of the plan still runs.
"""
from __future__ import annotations

import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from carebot_interfaces.action import Gesture, LookAt, NavigateTo, Speak
from carebot_interfaces.msg import Alert, PersonArray, RobotStatus, Transcript
from carebot_interfaces.srv import Ask

from carebot import alerts
from carebot.alert_delivery import ALERTS_LIVE_QOS, AlertSender
from carebot.brain import effects as fx
from carebot.brain.check_in import ShoutCheckIn
from carebot.brain.dialogue import Brain, Decision, Source
from carebot.brain.errand import Errand
from carebot.brain.fall_response import REPLY_TO as FALL, Approach, FallResponder, plan_approach
from carebot.brain.llm_client import LLMClient, LLMError
from carebot.brain.memory import ConversationMemory
from carebot.brain.own_voice import OwnVoice
from carebot.brain.resident_memory import ResidentMemory
from carebot.brain.parameters import BRAIN
from carebot.brain.reminders import ReminderScheduler
from carebot.brain.ros_convert import tool_call_to_msg
from carebot.brain.router import Heard, Route, Routed, TranscriptRouter
from carebot.brain.safety_rules import language_of
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.frames import PlanarPose, set_yaw
from carebot.node_runner import run_node
from carebot.paths import in_state_dir
from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, ActionClient, LatestMessage, declare_table
from carebot.world import load_world

ALERTS_QOS = ALERTS_LIVE_QOS   # live changes only: a restarted brain must not replay old falls
WORK_QUEUE = 8                 # utterances waiting for the dialogue worker; oldest dropped beyond
TICK_PERIOD_S = 1.0            # reminders, fall-response, check-in and errand timeouts
POINT_HEIGHT_M = 1.0           # height of the point gesture's target above the floor
MAP_FRAMES = ("", "map")


class BrainNode(Node):
    """Dialogue, task decisions, fall response, errands and reminders for one site."""

    def __init__(self):
        super().__init__("brain")
        settings = declare_table(self, BRAIN)          # ParameterError (a ValueError) stops the start
        self.site = settings.site
        self.settings = settings
        llm = LLMClient(settings.llm) if settings.llm is not None else None
        self.reminders = ReminderScheduler(confirm_timeout_s=settings.reminder_confirm_timeout_s,
                                           max_prompts=settings.reminder_max_prompts)
        self.residents = self._open_resident_memory(settings.resident_memory_path)
        self.brain = Brain(self.site, llm=llm, use_embeddings=settings.use_embeddings,
                           max_speed_mps=settings.max_nav_speed_mps,
                           memory=ConversationMemory(max_turns=settings.memory_max_turns,
                                                     ttl_s=settings.session_timeout_s),
                           reminders=self.reminders, alert_language=settings.language,
                           residents=self.residents, resident_memory_to_cloud=settings.resident_memory_to_cloud)
        for daily in settings.daily_reminders:
            self.reminders.add(daily.resident, daily.when, daily.text, daily=True)
        self.world = load_world(self.site)
        # `language` is the site's: the robot speaks it first, staff read alerts in it.
        self.fall = FallResponder(settings.fall, settings.language, alert_language=settings.language)
        self.check_in = ShoutCheckIn(settings.check_in, settings.language)
        self.own_voice = OwnVoice()
        self.router = TranscriptRouter(self.brain, self.fall, self.check_in, self.own_voice,
                                       settings.act_on_low_confidence)
        self.errand: Errand | None = None
        # One lock for the state machines (fall response, check-in, errand, router): their
        # inputs come from several callback groups. Effects are carried out outside it.
        self._lock = threading.Lock()
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
        self.persons = LatestMessage(self, PersonArray, "perception/persons")   # camera rate: taken when needed
        self.create_subscription(RobotStatus, "robot/status", self._on_status, LATCHED_QOS, callback_group=clients)
        self.create_service(Ask, "brain/ask", self._on_ask, callback_group=service)
        self.create_timer(TICK_PERIOD_S, self._tick, callback_group=safety)

        self.health = HealthReport("carebot/brain")
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_health, callback_group=clients)
        self._counts = {**{source.value: 0 for source in Source}, "fallback": 0}
        self._llm_state = "off" if llm is None else "not started"

        self._work: queue.Queue[Routed | None] = queue.Queue(maxsize=WORK_QUEUE)
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

    def _open_resident_memory(self, path: str) -> ResidentMemory | None:
        """The residents' remembered facts, or None (not configured, or the file cannot be used:
        the robot still talks, it only keeps nothing, and says so)."""
        self._resident_memory_state = "off"
        if not path:
            return None
        try:
            residents = ResidentMemory(in_state_dir(path))
        except (OSError, sqlite3.Error) as exc:
            self._resident_memory_state = f"unavailable: {exc}"
            self.get_logger().error(f"resident memory {path!r} cannot be opened ({exc}); nothing will be kept")
            return None
        self._resident_memory_state = "on"
        return residents

    # ------------------------------------------------------------------ background start-up
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
    def _on_status(self, msg: RobotStatus) -> None:
        self._status = msg

    def _now(self) -> float:
        return time.monotonic()

    def _robot(self) -> PlanarPose | None:
        status = self._status
        return None if status is None else PlanarPose(status.pose.x, status.pose.y, status.pose.theta)

    def _on_transcript(self, msg: Transcript) -> None:
        heard = Heard(msg.text, msg.speaker, msg.language, bool(msg.shout), float(msg.level_dbfs),
                      bool(msg.low_confidence), float(msg.confidence))
        with self._lock:
            routed = self.router.route(heard, self._now())
        log = self.get_logger()
        if routed.route is Route.SHOUT:
            log.warning(f"loud shout without words ({heard.level_dbfs:.0f} dBFS): checking in")
        elif routed.route is Route.OWN_VOICE:
            log.info("ignoring a transcript of the robot's own voice")
        elif routed.route is Route.SAFETY:
            decision = routed.decision
            log.warning(f"safety net: {'stop' if decision.stop_robot else 'alert'}")    # no words at INFO+
            log.debug(f"safety net reply: {decision.reply!r}")
            self._count(decision)
        elif routed.route is Route.LOW_CONFIDENCE:
            log.info(f"ignoring a low-confidence transcript ({heard.confidence:.2f})")
        elif routed.route is Route.DIALOGUE:
            self._queue(routed)
        self._dispatch(routed.effects, wait=False)

    def _queue(self, routed: Routed) -> None:
        try:
            self._work.put_nowait(routed)
        except queue.Full:
            self._work.get_nowait()
            self.get_logger().warning("dialogue busy: dropped the oldest waiting utterance")
            self._work.put_nowait(routed)

    def _on_alert(self, msg: Alert) -> None:
        try:
            alert = alerts.from_msg(msg)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring malformed alert {msg.id!r}: {exc}")
            return
        with self._lock:
            effects = self.router.on_alert(alert, self._now(), self._fallen_track())
        if effects and alert.state is alerts.AlertState.RAISED:
            self.get_logger().warning(f"fall alert {alert.id} at {alert.place or alert.position}: responding")
        self._dispatch(effects, wait=False)

    def _fallen_track(self) -> int:
        self.persons.take()
        persons = self.persons.message.persons if self.persons.message is not None else []
        fallen = [p for p in persons if p.state == p.STATE_FALLEN]
        return int(fallen[0].track_id) if fallen else -1

    # ------------------------------------------------------------------ dialogue
    def _work_loop(self) -> None:
        while rclpy.ok():
            item = self._work.get()
            if item is None:
                return
            try:
                on_sentence = self._sentence_speaker() if self.settings.stream_replies else None
                decision = self.brain.decide(item.text, person=item.person, session=item.person,
                                             language=item.language, skip_safety=True, on_sentence=on_sentence)
                self._execute(decision)
                self._count(decision)
            except Exception as exc:  # noqa: BLE001 - the worker must survive any bad request
                self.get_logger().error(f"dialogue failed on a transcript: {exc!r}")

    def _sentence_speaker(self) -> Callable[[str, str], None]:
        """Speaks a streamed reply sentence by sentence as the LLM writes it (each one has passed
        the reply guard): the first is a new reply, the others queue behind it."""
        started = False

        def speak(sentence: str, language: str) -> None:
            nonlocal started
            self._dispatch([fx.Speak(sentence, language, queue=started)], wait=True)
            started = True
        return speak

    def _on_ask(self, request: Ask.Request, response: Ask.Response) -> Ask.Response:
        try:
            language = request.language if request.language in ("en", "zh") else ""
            decision = self.brain.decide(request.text, person=request.person, session=request.person or "ask",
                                         language=language)
            if request.execute:
                self._execute(decision)
        except Exception as exc:  # noqa: BLE001 - a bad request must not kill the service
            self.get_logger().error(f"brain/ask failed: {exc!r}")
            response.reply, response.source = "Sorry, something went wrong.", Source.RULE.value
            return response
        response.reply = decision.reply
        response.actions = [tool_call_to_msg(a) for a in decision.actions]
        response.source = decision.source.value
        response.latency_ms = float(decision.latency_ms)
        if decision.alert is not None:
            response.has_alert = True
            response.alert = alerts.to_msg(self._with_room(decision.alert), time.time())
        self._count(decision)
        return response

    def _execute(self, decision: Decision) -> None:
        """A plan from a thread that may wait (the worker, brain/ask): action servers get a moment."""
        # What was said and answered stays out of INFO (rosout and ~/.ros/log outlive the site's
        # transcript retention); the tools used are enough to follow the robot.
        self.get_logger().info(f"[{decision.source.value}] reply of {len(decision.reply)} chars; actions "
                               f"{[a.tool for a in decision.actions]}")
        self.get_logger().debug(f"reply: {decision.reply!r}")
        self._dispatch(fx.decision_effects(decision), wait=True)

    def _count(self, decision: Decision) -> None:
        self._counts[decision.source.value] += 1
        self._counts["fallback"] += int(decision.fallback)

    # ------------------------------------------------------------------ the dispatcher
    def _dispatch(self, effects: list, wait: bool) -> None:
        """Carry out effects in order. ``wait``: the caller may block up to action_server_wait_s
        for a missing action server (never in a callback of the safety group)."""
        for effect in effects:
            if isinstance(effect, fx.StopRobot):
                self._stop_robot(effect.reason)
            elif isinstance(effect, fx.Cancel):
                self._cancel(effect.action)
            elif isinstance(effect, fx.PublishAlert):
                self._publish_alert(effect.alert)
            elif isinstance(effect, fx.Speak):
                self.own_voice.said(effect.text, queued=effect.queue)
                self._send("speak", Speak.Goal(text=effect.text, language=effect.language, queue=effect.queue), wait)
            elif isinstance(effect, fx.Navigate):
                self._navigate(effect, wait)
            elif isinstance(effect, fx.Gesture):
                goal = Gesture.Goal(name=effect.name)
                target = self._place_in_base(effect.place)
                if target is not None:
                    goal.target.x, goal.target.y, goal.target.z = target
                self._send("gesture", goal, wait)
            elif isinstance(effect, fx.LookAt):
                self._send("look_at", LookAt.Goal(track_id=effect.track_id, duration=float(effect.duration)), wait)
            elif isinstance(effect, fx.CommitReminder):
                self.brain.commit(Decision("", [effect.call], Source.RULE))
            elif isinstance(effect, fx.StartErrand):
                self._start_errand(effect)
            else:  # pragma: no cover - effects.Effect lists every kind
                raise TypeError(f"unknown effect {effect!r}")

    def _navigate(self, effect: fx.Navigate, wait: bool) -> None:
        approach: Approach | None = None
        if effect.reply_to == FALL:
            # Drive toward a fallen person at low speed, stopping short of them, facing them.
            approach = plan_approach(effect, self._robot(), self.settings.fall_standoff_m)
            if approach.already_there or not (approach.goal or approach.place):
                if not approach.already_there:
                    self.get_logger().warning("fall alert: no place and no robot pose to place it on the map")
                self._navigated(FALL, approach.already_there, None)
                return
            effect = fx.Navigate(approach.place, None if approach.goal is None else (*approach.goal, 0.0),
                                 effect.max_speed, "map", effect.reply_to, approach.yaw)
        goal = NavigateTo.Goal(place=effect.place, max_speed=float(effect.max_speed))
        if effect.position is not None:
            x, y = effect.position[0], effect.position[1]
            if effect.frame_id not in MAP_FRAMES:
                robot = self._robot()
                if robot is None:
                    self.get_logger().warning(f"goal in {effect.frame_id!r} without a robot pose: skipped")
                    self._navigated(effect.reply_to, False, approach)
                    return
                x, y = robot.to_map(x, y)
            goal.target.header.frame_id = "map"
            goal.target.pose.position.x, goal.target.pose.position.y = float(x), float(y)
            if effect.yaw is not None:
                set_yaw(goal.target.pose.orientation, effect.yaw)
        on_result = None
        if effect.reply_to:
            on_result = lambda ok: self._navigated(effect.reply_to, ok, approach)  # noqa: E731
        self._send("navigate_to", goal, wait, on_result=on_result)

    def _navigated(self, reply_to: str, ok: bool, approach: Approach | None) -> None:
        """A drive ended: hand the result to the state machine that asked for it."""
        with self._lock:
            now = self._now()
            if reply_to == FALL:
                robot = self._robot()
                near = approach is not None and approach.arrived(
                    ok, None if robot is None else (robot.x, robot.y), self.settings.fall_near_m)
                effects = self.fall.on_arrived(ok or near, now)
            elif reply_to == "errand" and self.errand is not None:
                if not ok:
                    self.get_logger().warning(f"errand for {self.errand.item!r} failed")
                effects = self.errand.on_navigated(ok, now)
            else:
                effects = []
        self._dispatch(effects, wait=False)

    def _start_errand(self, effect: fx.StartErrand) -> None:
        """Fetch: drive to the place, come back to where the request was made, hand over."""
        robot = self._robot()
        home = None if robot is None else (robot.x, robot.y)
        self.get_logger().info(f"errand: fetching {effect.item!r} from {effect.place}, then back to {home}")
        with self._lock:
            effects = self.errand.abandon() if self.errand is not None else []
            self.errand = Errand(effect.item, effect.place, effect.language, home)
            effects += self.errand.start(self._now())
        self._dispatch(effects, wait=False)

    def _place_in_base(self, place: str) -> tuple[float, float, float] | None:
        """A place of the site in the robot's base frame (for pointing), if the pose is known."""
        target, robot = self.world.places.get(place), self._robot()
        if target is None or robot is None:
            return None
        return (*robot.from_map(target.x, target.y), POINT_HEIGHT_M)

    def _with_room(self, alert: alerts.AlertRecord) -> alerts.AlertRecord:
        """The site room of the alert's place, or of its position on the map, when it has none."""
        if alert.room:
            return alert
        position = alert.position if alert.frame_id in MAP_FRAMES else None
        return replace(alert, room=self.world.room_for(alert.place, position))

    def _stop_robot(self, reason: str) -> None:
        self.estop_pub.publish(Bool(data=True))
        if self.estop_client.service_is_ready():
            self.estop_client.call_async(Trigger.Request())
        else:
            self.get_logger().warning("safety/trigger_estop not available; e-stop sent on safety/estop only")
        self._cancel("navigate_to")
        self._cancel("gesture")
        self.get_logger().warning(f"robot stopped: {reason}")

    def _publish_alert(self, alert: alerts.AlertRecord) -> None:
        alert = self._with_room(alert)
        with self._lock:
            self.router.opened(alert)        # an incident this node opened (not a fall it escalates)
        # The stamp is fixed here: re-sends repeat it, which is how the receipt names this change.
        self.alert_sender.publish(alerts.to_msg(alert, time.time()))
        # The alert's words may quote the resident: the dashboard stores them (and expires them).
        self.get_logger().warning(f"alert {alert.kind.name} {alert.state.name} {alert.id}")

    def _send(self, name: str, goal, wait: bool, on_result=None) -> bool:
        client = self.actions[name]
        wait_s = self.settings.action_server_wait_s
        ready = client.server_is_ready() or (wait and wait_s > 0 and client.wait_for_server(timeout_sec=wait_s))
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

    # ------------------------------------------------------------------ timers
    def _tick(self) -> None:
        now = self._now()
        with self._lock:
            effects = self.fall.tick(now) + self.check_in.tick(now)
            if self.errand is not None:
                effects += self.errand.tick(now)
        for event in self.reminders.tick():
            effects += fx.reminder_effects(event, language_of(event.reminder.text, ""), self.settings.language)
        self._dispatch(effects, wait=False)

    def _publish_health(self) -> None:
        level = Level.OK if self._llm_state in ("ready", "off", "not started", "starting") else Level.WARN
        if self._resident_memory_state.startswith("unavailable"):
            level = Level.WARN
        self.health.set(level, f"LLM {self._llm_state}; safety similarity {self._similarity_state}; "
                               f"resident memory {self._resident_memory_state}; "
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
        if self.residents is not None:
            self.residents.close()


def main(args: list[str] | None = None) -> int:
    return run_node(BrainNode, name="brain", threads=4, on_exit=BrainNode.shutdown, args=args)


if __name__ == "__main__":
    sys.exit(main())
