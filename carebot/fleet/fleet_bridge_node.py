"""Fleet bridge node: this robot on the fleet's Zenoh link (docs/fleet.md).

Thin glue around ``carebot.fleet.bridge.BridgeCore``. ROS side: subscribes
``robot/status``, ``alerts`` (durable: what senders still keep) and ``/diagnostics``;
publishes staff actions on ``alerts`` through the stack's ``AlertSender``, ``safety/estop``
(and calls ``safety/trigger_estop``), and sends ``navigate_to`` goals for fleet tasks. Zenoh
side (a peer connected to the site's router, ``carebot.fleet.zenoh_config``): puts
``carebot/<site>/<robot>/state`` and ``.../alert/<id>``, holds the liveliness token
``.../presence``, hears ``.../cmd/*`` and answers the catch-up query on ``.../alert/*``.

Zenoh calls back on its own threads: commands go through a queue that a ROS timer drains,
so every ROS call and every change of the core happens on the executor's thread; only the
catch-up queryable reads the core from a Zenoh thread, under the lock. The robot never
waits for the link: without a router it keeps working and the session retries.
"""
from __future__ import annotations

import queue
import sys
import threading
import time

from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from carebot_interfaces.action import NavigateTo
from carebot_interfaces.msg import Alert, RobotStatus
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from carebot import alerts
from carebot.alert_delivery import ALERTS_QOS, ALERTS_TOPIC, AlertSender
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.fleet import keys, payloads
from carebot.fleet.bridge import BridgeCore, CancelNavigation, EStop, Log, Navigate, SendAlert, Status
from carebot.fleet.parameters import FLEET_BRIDGE
from carebot.fleet.zenoh_config import robot_config
from carebot.frames import set_yaw
from carebot.node_runner import run_node
from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, ActionClient, declare_table

NODE_NAME = "fleet_bridge"
MODES = ("IDLE", "NAVIGATING", "GESTURING", "TELEOP", "EMERGENCY_STOP", "FAULT")
DRAIN_PERIOD_S = 0.05          # commands from Zenoh are carried out within this
MIN_STATE_INTERVAL_S = 0.2     # a change is sent at once, but at most 5 times a second


class FleetBridgeNode(Node):
    """This robot's state and alerts out to the fleet, staff actions and fleet tasks in."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        settings = declare_table(self, FLEET_BRIDGE)
        self._enabled = bool(settings["enabled"])
        self.core = BridgeCore(settings["core"])
        cfg = self.core.config
        self._lock = threading.Lock()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._session = None
        self._token = None
        self._linked = False
        self._last_state_at = 0.0
        self._last_status_key = None
        self._goals: dict[str, object] = {}        # task id -> goal handle
        self._counts = {"commands": 0, "bad_commands": 0, "alerts_sent": 0, "states_sent": 0}
        self._health = HealthReport(f"carebot/{NODE_NAME}")
        self._diagnostics = DiagnosticsPublisher(self)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_health, clock=steady)
        if not self._enabled:
            self._health.set(Level.OK, "disabled (fleet_bridge.enabled is false): not joining a fleet")
            self.get_logger().warning("fleet_bridge.enabled is false: this robot does not join a fleet")
            return

        self.create_subscription(RobotStatus, "robot/status", self._on_status, LATCHED_QOS)
        self.create_subscription(Alert, ALERTS_TOPIC, self._on_alert, ALERTS_QOS)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, RELIABLE_QOS)
        self._sender = AlertSender(self)
        self._estop_pub = self.create_publisher(Bool, "safety/estop", RELIABLE_QOS)
        self._trigger = self.create_client(Trigger, "safety/trigger_estop")
        self._navigate = ActionClient(self, NavigateTo, "navigate_to")

        from carebot.fleet.link import open_session   # zenoh only where the fleet is on

        self._session = open_session(robot_config(settings["router"], settings["tls"]))
        self._token = self._session.liveliness().declare_token(keys.presence_key(cfg.site, cfg.robot))
        self._session.declare_subscriber(keys.cmds_of(cfg.site, cfg.robot), self._on_zenoh_command)
        self._session.declare_queryable(keys.alerts_of(cfg.site, cfg.robot), self._on_catch_up)
        self.create_timer(DRAIN_PERIOD_S, self._drain, clock=steady)
        self.create_timer(settings["state_period_s"], self._publish_state, clock=steady)
        self._health.set(Level.WARN, "waiting for the router")
        self.get_logger().info(f"fleet bridge {cfg.site}/{cfg.robot} on {', '.join(settings['router'])}"
                               + (" (TLS)" if settings["tls"] else ""))

    # ------------------------------------------------------------------ ROS in
    def _on_status(self, msg: RobotStatus) -> None:
        mode = MODES[msg.mode] if msg.mode < len(MODES) else f"MODE_{msg.mode}"
        status = Status(mode, msg.current_task, float(msg.speed_limit), bool(msg.emergency_stop), msg.stop_reason,
                        (float(msg.pose.x), float(msg.pose.y), float(msg.pose.theta)))
        with self._lock:
            self.core.on_status(status, time.time())
        key = (status.mode, status.task, status.estop)
        if key != self._last_status_key:          # a change the fleet must know now
            self._last_status_key = key
            self._publish_state(force=True)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        entries = [(s.name, s.level[0] if isinstance(s.level, (bytes, bytearray)) else int(s.level), s.message)
                   for s in msg.status]
        with self._lock:
            self.core.on_diagnostics(entries, time.time())

    def _on_alert(self, msg: Alert) -> None:
        try:
            record = alerts.from_msg(msg)
            with self._lock:
                changed = self.core.on_alert(record)
        except ValueError as exc:
            self.get_logger().warning(f"ignored malformed alert {msg.id!r}: {exc}")
            return
        if changed is not None:
            self._put_alert(changed)

    # ------------------------------------------------------------------ Zenoh in (Zenoh's threads)
    def _on_zenoh_command(self, sample) -> None:
        from carebot.fleet.link import sample_bytes, sample_key

        self._inbox.put(("command", sample_key(sample), sample_bytes(sample)))

    def _on_catch_up(self, query) -> None:
        # Answered from the executor's thread: a Zenoh callback that calls back into Zenoh
        # (query.reply) while holding the GIL is the shape of a known zenoh-python deadlock.
        self._inbox.put(("catch_up", query))

    def _reply_catch_up(self, query) -> None:
        cfg = self.core.config
        with self._lock:
            records = self.core.catch_up()
        for record in records:
            try:
                query.reply(keys.alert_key(cfg.site, cfg.robot, record.id), payloads.alert_to_bytes(record))
            except Exception as exc:     # an id that cannot be a key chunk: said, not fatal
                self.get_logger().warning(f"catch-up: alert {record.id!r} not sent: {exc}")
        query.drop()                     # the asker's "that is all" now, not when it is collected

    # ------------------------------------------------------------------ the executor's side
    def _drain(self) -> None:
        self._check_link()
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if item[0] == "command":
                self._command(item[1], item[2])
            elif item[0] == "catch_up":
                self._reply_catch_up(item[1])
            elif item[0] == "navigated":
                with self._lock:
                    effects = self.core.on_navigation_result(item[1], item[2], item[3], time.time())
                self._carry_out(effects)
                self._publish_state(force=True)

    def _command(self, key: str, data: bytes) -> None:
        self._counts["commands"] += 1
        try:
            parsed = keys.parse(key)
            command = payloads.Command.from_bytes(data, verb=parsed.rest)
        except ValueError as exc:
            self._counts["bad_commands"] += 1
            self.get_logger().warning(f"refused a malformed fleet command on {key}: {exc}")
            return
        with self._lock:
            effects = self.core.on_command(command, time.time())
        self._carry_out(effects)
        self._publish_state(force=True)

    def _carry_out(self, effects) -> None:
        for effect in effects:
            if isinstance(effect, SendAlert):
                self._sender.publish(alerts.to_msg(effect.record))
                self._put_alert(effect.record)
            elif isinstance(effect, EStop):
                self._estop_pub.publish(Bool(data=True))     # the topic first: no round trip
                if self._trigger.service_is_ready():
                    self._trigger.call_async(Trigger.Request())
            elif isinstance(effect, Navigate):
                self._send_goal(effect)
            elif isinstance(effect, CancelNavigation):
                handle = self._goals.pop(effect.task_id, None)
                if handle is not None:
                    handle.cancel_goal_async()
            elif isinstance(effect, Log) and effect.level == "warning":
                self.get_logger().warning(effect.text)     # rclpy: one severity per call site
            elif isinstance(effect, Log):
                self.get_logger().info(effect.text)

    def _send_goal(self, effect: Navigate) -> None:
        goal = NavigateTo.Goal(place=effect.place, max_speed=float(effect.speed))
        if effect.goal is not None:
            x, y, yaw = effect.goal
            goal.target.header.frame_id = "map"
            goal.target.pose.position.x, goal.target.pose.position.y = float(x), float(y)
            set_yaw(goal.target.pose.orientation, yaw)
        if not self._navigate.server_is_ready():
            self._inbox.put(("navigated", effect.task_id, False, "navigate_to is not available"))
            return
        future = self._navigate.send_goal_async(goal)

        def accepted(done) -> None:
            handle = done.result()
            if handle is None or not handle.accepted:
                self._inbox.put(("navigated", effect.task_id, False, "the navigator refused the goal"))
                return
            self._goals[effect.task_id] = handle
            handle.get_result_async().add_done_callback(
                lambda res: self._inbox.put(("navigated", effect.task_id, bool(res.result().result.success),
                                             res.result().result.message)))
        future.add_done_callback(accepted)

    # ------------------------------------------------------------------ Zenoh out
    def _put_alert(self, record) -> None:
        cfg = self.core.config
        try:
            self._session.put(keys.alert_key(cfg.site, cfg.robot, record.id), payloads.alert_to_bytes(record))
            self._counts["alerts_sent"] += 1
        except Exception as exc:
            self.get_logger().warning(f"alert {record.id} not sent to the fleet: {exc}")

    def _publish_state(self, force: bool = False) -> None:
        now = time.time()
        if self._session is None or (force and now - self._last_state_at < MIN_STATE_INTERVAL_S):
            return
        with self._lock:
            state = self.core.state(now)
        cfg = self.core.config
        self._session.put(keys.state_key(cfg.site, cfg.robot), state.to_bytes())
        self._last_state_at = now
        self._counts["states_sent"] += 1

    def _check_link(self) -> None:
        linked = bool(list(self._session.info.routers_zid())) if self._session is not None else False
        if linked and not self._linked:
            # Back on the link: the fleet asks for our alerts, and we send the open ones too.
            self.get_logger().info("fleet link up")
            with self._lock:
                open_alerts = [r for r in self.core.catch_up() if r.is_open]
            for record in open_alerts:
                self._put_alert(record)
            self._publish_state()
        elif self._linked and not linked:
            self.get_logger().warning("fleet link down: working alone, catching up when it is back")
        self._linked = linked

    def _publish_health(self) -> None:
        if self._enabled:
            with self._lock:
                refused = self.core.refused_commands
                task = self.core.task
            level, message = ((Level.OK, "linked to the fleet router") if self._linked
                              else (Level.WARN, "no fleet router reachable: working alone"))
            self._health.set(level, message, linked=self._linked, refused_commands=refused,
                             fleet_task=f"{task.id} {task.status}" if task else "", **self._counts,
                             **self._sender.stats())
        self._diagnostics.publish(self._health)

    def close(self) -> None:
        from carebot.fleet.link import close_session

        if self._session is not None:
            close_session(self._session)
            self._session = None


def main(args: list[str] | None = None) -> int:
    return run_node(FleetBridgeNode, name=NODE_NAME, on_exit=FleetBridgeNode.close,
                    start_errors=(ValueError, OSError), args=args)


if __name__ == "__main__":
    sys.exit(main())
