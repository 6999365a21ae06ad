"""The ROS side of ``carebot up``: SYSTEM alerts for the nodes it supervises.

A thin adapter around ``carebot.launcher.watchdog``. It runs inside the ``carebot up``
process (not as a child: it must outlive the children it watches), named
``supervisor`` in the stack's namespace, with the ``supervisor:`` section of the site
file. The supervisor thread hands it every process start and exit; it listens to
``/diagnostics`` for each node's reports, ticks the watchdog on steady time, and
publishes the resulting SYSTEM alerts through the alert outbox (durable, re-sent
until the dashboard stored them, so the alert that the dashboard itself died
reaches the restarted dashboard). It reports its own health as ``carebot/supervisor``.

``SupervisionRuntime`` owns the rclpy context and the spin thread, so ``carebot up``
keeps working (without SYSTEM alerts, with a warning) where ROS cannot start.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from carebot.alert_delivery import AlertSender
from carebot import alerts
from carebot.alerts import AlertKind, AlertRecord
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DIAGNOSTICS_TOPIC, DiagnosticsPublisher, HealthReport, Level
from carebot.diagnostics_board import level_of
from carebot.launcher.parameters import SUPERVISOR
from carebot.ros_common import declare_table
from carebot.launcher.supervisor import ChildEvent, EventKind, describe_exit
from carebot.launcher.watchdog import SystemAlert, Watchdog

NODE_NAME = "supervisor"
TICK_S = 1.0                 # silence is judged in tens of seconds: once a second is plenty
STATUS_PREFIX = "carebot/"   # the nodes report as carebot/<node> (carebot.diagnostics)


class SupervisionNode(Node):
    """Raises, updates and resolves one SYSTEM alert per troubled node."""

    def __init__(self, nodes: list[str], *, namespace: str = "", context=None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(NODE_NAME, namespace=namespace or None, context=context)
        config = declare_table(self, SUPERVISOR)   # ParameterError (a ValueError) stops the start
        self._now = clock   # not _clock: rclpy.Node keeps its ROS clock there
        self._lock = threading.Lock()
        self.watchdog = Watchdog(nodes, config)
        self._raised_at_wall: dict[str, float] = {}   # incident -> unix time it began
        self.sender = AlertSender(self)
        from diagnostic_msgs.msg import DiagnosticArray

        self.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics, 50)
        steady = Clock(clock_type=ClockType.STEADY_TIME)   # wall time even under use_sim_time
        self.create_timer(TICK_S, self._tick, clock=steady)
        self._health = HealthReport(f"{STATUS_PREFIX}{NODE_NAME}", Level.OK, f"watching {len(nodes)} node(s)")
        self._diagnostics = DiagnosticsPublisher(self)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_health, clock=steady)
        self.get_logger().info(f"SYSTEM alerts for {', '.join(nodes)} (silence {config.silence_timeout_s:.0f} s, "
                               f"start-up {config.startup_timeout_s:.0f} s)")

    # ------------------------------------------------------------------ inputs
    def on_child_event(self, event: ChildEvent) -> None:
        """Called by the supervisor's thread for every start and exit."""
        with self._lock:
            if event.kind is EventKind.STARTED:
                changes = self.watchdog.started(event.name, self._now())
            else:
                changes = self.watchdog.exited(event.name, self._now(), describe_exit(event.exit_code or 0),
                                               event.uptime_s, event.restart_in_s)
        self._publish(changes)

    def stopping(self) -> None:
        """The stack is being stopped: nodes ending now are not incidents."""
        with self._lock:
            self.watchdog.stop()

    def _on_diagnostics(self, msg) -> None:
        changes = []
        with self._lock:
            now = self._now()
            for status in msg.status:
                if status.name.startswith(STATUS_PREFIX):
                    node = status.name[len(STATUS_PREFIX):]
                    changes += self.watchdog.report(node, level_of(status.level), status.message, now)
        self._publish(changes)

    def _tick(self) -> None:
        with self._lock:
            changes = self.watchdog.tick(self._now())
        self._publish(changes)

    # ------------------------------------------------------------------ output
    def _publish(self, changes: list[SystemAlert]) -> None:
        for change in changes:
            wall = time.time()
            raised = self._raised_at_wall.setdefault(change.incident_id, wall - (self._now() - change.raised_at))
            if change.state.name == "RESOLVED":
                self._raised_at_wall.pop(change.incident_id, None)
            # No position, no place: a node has no place on the map.
            record = AlertRecord(change.incident_id, AlertKind.SYSTEM, change.severity, change.state,
                                 message=change.message, frame_id="", raised_at=raised, updated_at=wall)
            self.sender.publish(alerts.to_msg(record))
            log = self.get_logger().info if change.state.name == "RESOLVED" else self.get_logger().warning
            log(f"SYSTEM alert {change.incident_id} {change.state.name}: {change.message}")

    def _publish_health(self) -> None:
        with self._lock:
            troubled = self.watchdog.open_incidents()
            heard = self.watchdog.heard()
        stats = self.sender.stats()
        level, message = Level.OK, f"watching {len(self.watchdog.nodes)} node(s)"
        if troubled:
            level, message = Level.WARN, f"SYSTEM alert open for {', '.join(sorted(troubled))}"
        self._health.set(level, message, nodes=",".join(self.watchdog.nodes), heard=",".join(heard),
                         open_system_alerts=len(troubled), **stats)
        self._diagnostics.publish(self._health)


class SupervisionRuntime:
    """rclpy context + SupervisionNode + spin thread inside the ``carebot up`` process."""

    def __init__(self, nodes: list[str], params_file: str | os.PathLike | None, namespace: str = "",
                 env: dict[str, str] | None = None):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        # The same DDS transport profile as the children (carebot.bringup.node_environment).
        for key, value in (env or {}).items():
            os.environ.setdefault(key, value)
        args = ["--ros-args"] + (["--params-file", str(params_file)] if params_file else [])
        self.context = Context()
        # carebot up's own SIGINT/SIGTERM handlers stop the stack; rclpy must not take them.
        rclpy.init(args=args, context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        try:
            self.node = SupervisionNode(nodes, namespace=namespace, context=self.context)
        except Exception:
            self.context.try_shutdown()
            raise
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name="supervision-ros", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def on_child_event(self, event: ChildEvent) -> None:
        self.node.on_child_event(event)

    def stopping(self) -> None:
        self.node.stopping()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5.0)
