"""Dashboard node: serves the staff page and owns alert storage.

Subscribes ``alerts``, ``robot/status``, ``speech/transcript``, ``/diagnostics`` and,
only when ``camera_view`` is true, ``perception/debug_image``. Serves ``alerts/update``
(UpdateAlert) and publishes every staff change on ``alerts``. Every Alert taken from
``alerts`` is echoed on ``alerts/stored`` once it is in the database: the receipt that
stops the sender's re-sends (carebot.alert_delivery). The page's chat calls
``brain/ask``; its emergency-stop button publishes ``safety/estop`` true and calls
``safety/trigger_estop``; a supervisor's reset calls ``safety/reset_estop_with_reason``
(carebot_interfaces/ResetEstop) with who (``dashboard:<account>``) and the reason typed on
the page. Alert texts, transcripts and chat questions are never logged at INFO or above
(they quote people). HTTP runs in its own threads (carebot.dashboard.web); ROS
callbacks run on a multi-threaded executor, so neither blocks the other.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from rclpy.clock import Clock, ClockType
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.event_handler import SubscriptionEventCallbacks

from carebot_interfaces.msg import Alert, RobotStatus, Transcript
from carebot_interfaces.srv import Ask, ResetEstop, UpdateAlert
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from carebot import alerts
from carebot.alert_delivery import ALERTS_QOS, ALERTS_TOPIC, RECEIPTS_QOS, RECEIPTS_TOPIC
from carebot.dashboard import ros_convert
from carebot.dashboard.alerts import AlertActionError, AlertBook, AlertRecord, StaffAction
from carebot.dashboard.auth import DEVICE_TRUST_S, Authenticator, demo_accounts
from carebot.dashboard.locale import SiteLocale
from carebot.dashboard.parameters import DASHBOARD, DashboardSettings, tls_context
from carebot.dashboard.site_map import load_map
from carebot.dashboard.store import DashboardStore, default_database
from carebot.dashboard.web import DashboardApp, DashboardServer, HttpPolicy, LinkError
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.diagnostics_board import DiagnosticsBoard, StatusEntry, level_of
from carebot.node_runner import run_node
from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS, declare_table

NODE_NAME = "dashboard"
EXPIRY_PERIOD_S = 60.0            # how often old transcripts, alert details, sessions and audit rows go


class DashboardNode(Node):
    """Thin adapter between ROS and the dashboard's web app."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        # ParameterError (a ValueError) stops the start: a bad account entry, a weak hash, and
        # beyond loopback no TLS, no allowed_hosts or a demo password (carebot.dashboard.parameters).
        p: DashboardSettings = declare_table(self, DASHBOARD)
        accounts = p.accounts
        if not accounts:
            self.get_logger().warning("no staff_accounts configured: nobody can log in; add one "
                                      "with `carebot dashboard hash-password`")
        for name in demo_accounts(accounts):     # refused beyond loopback; here only a warning
            self.get_logger().warning(f"staff account {name!r} still has the demo password: replace "
                                      "its hash (`carebot dashboard hash-password`) before real use")
        self._ask_timeout_s = p.ask_timeout_s
        self._estop_timeout_s = p.estop_timeout_s
        self._jpeg_quality = p.camera_jpeg_quality
        self._retention_s = p.transcript_retention_s
        self._audit_retention_s = p.audit_retention_s
        self._camera_view = p.camera_view

        database = Path(p.database).expanduser() if p.database else default_database()
        self.store = DashboardStore(database)
        for note in self.store.permission_notes:
            self.get_logger().warning(f"database permissions narrowed: {note}")
        # Durable like every alert publisher: our own subscription (TRANSIENT_LOCAL, for the
        # senders' history) matches only durable publishers.
        self._alert_pub = self.create_publisher(Alert, ALERTS_TOPIC, ALERTS_QOS)
        self._receipt_pub = self.create_publisher(Alert, RECEIPTS_TOPIC, RECEIPTS_QOS)
        self._malformed_alerts = 0
        self._incompatible_alert_publishers = 0
        self.book = AlertBook(self.store, publish=self._publish_alert)
        auth = Authenticator(accounts, self.store, p.session_timeout_s, session_max_s=p.session_max_s)
        try:
            site_map = load_map(p.world) if p.world else {}
        except (OSError, ValueError) as exc:
            self.get_logger().warning(f"no map: world {p.world!r}: {exc}")
            site_map = {}

        # Robot state the page shows; written by callbacks, read by HTTP threads.
        self._lock = threading.Lock()
        self._status: dict | None = None
        self._debug_image: Image | None = None
        self.board = DiagnosticsBoard()

        # Subscriptions and the service in one exclusive group: alerts and transcripts are
        # handled in arrival order. Service responses for HTTP threads come in another group.
        io_group = MutuallyExclusiveCallbackGroup()
        client_group = ReentrantCallbackGroup()
        # TRANSIENT_LOCAL: a dashboard that starts late receives what the senders still keep.
        # A publisher with a volatile QoS cannot match it; say so loudly instead of losing it.
        self.create_subscription(Alert, ALERTS_TOPIC, self._on_alert, ALERTS_QOS, callback_group=io_group,
                                 event_callbacks=SubscriptionEventCallbacks(
                                     incompatible_qos=self._on_incompatible_alert_publisher))
        self.create_subscription(RobotStatus, "robot/status", self._on_status, LATCHED_QOS,
                                 callback_group=io_group)
        self.create_subscription(Transcript, "speech/transcript", self._on_transcript, RELIABLE_QOS,
                                 callback_group=io_group)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, RELIABLE_QOS,
                                 callback_group=io_group)
        if self._camera_view:
            self.create_subscription(Image, "perception/debug_image", self._on_debug_image,
                                     SENSOR_QOS, callback_group=io_group)
        self.create_service(UpdateAlert, "alerts/update", self._on_update_alert, callback_group=io_group)
        self._estop_pub = self.create_publisher(Bool, "safety/estop", RELIABLE_QOS)
        self._ask_client = self.create_client(Ask, "brain/ask", callback_group=client_group)
        self._trigger_client = self.create_client(Trigger, "safety/trigger_estop", callback_group=client_group)
        # Who and why, kept by base_safety with the reset (std_srvs/Trigger says neither).
        self._reset_client = self.create_client(ResetEstop, "safety/reset_estop_with_reason",
                                                callback_group=client_group)

        policy = HttpPolicy(allowed_hosts=p.allowed_hosts, allowed_origins=p.allowed_origins,
                            tls=tls_context(p.tls_certificate, p.tls_private_key) if p.tls else None,
                            max_connections=p.max_connections,
                            max_connections_per_client=p.max_connections_per_client)
        app = DashboardApp(book=self.book, store=self.store, auth=auth, link=self, site_map=site_map,
                           camera_enabled=self._camera_view, title=p.title,
                           transcript_retention_s=self._retention_s,
                           secure_cookie=p.secure_cookie,
                           locale=SiteLocale(p.language, p.time_zone),
                           log=lambda message: self.get_logger().debug(message), policy=policy)
        self.app = app
        self.server = DashboardServer(app, p.host, p.port).start()
        roles = ", ".join(f"{a.name} ({a.role.value})" for a in accounts.values()) or "none"
        self.get_logger().info(f"dashboard serving {self.server.url} (staff: {roles}; database {database})")

        self._health = HealthReport(f"carebot/{NODE_NAME}")
        self._diagnostics = DiagnosticsPublisher(self)
        # Staff time is wall time: under use_sim_time a slow or absent /clock must not
        # stop diagnostics or the expiry of transcripts.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_health, clock=steady)
        self.create_timer(EXPIRY_PERIOD_S, self._expire, clock=steady)
        self._expire()

    # ------------------------------------------------------------------ ROS -> app
    def _on_alert(self, msg: Alert) -> None:
        try:
            record = alerts.from_msg(msg)
            changed = self.book.receive(record)
        except ValueError as exc:
            # No receipt: the sender keeps re-sending (slowly), and diagnostics say WARN.
            self._malformed_alerts += 1
            self.get_logger().warning(f"ignored malformed alert {msg.id!r}: {exc}")
            return
        # Stored (or already held in this or a later state): the receipt, the message unchanged.
        self._receipt_pub.publish(msg)
        if changed is not None:
            # The words stay out of the log: they may quote a resident (they are in the database,
            # where they expire with the transcripts).
            self.get_logger().info(f"alert {changed.id} {changed.kind.name} {changed.state.name}")

    def _on_incompatible_alert_publisher(self, info) -> None:
        self._incompatible_alert_publishers = int(info.total_count)
        self.get_logger().error(
            f"a publisher of {ALERTS_TOPIC} has a QoS this dashboard cannot match (policy "
            f"{info.last_policy_kind}): its alerts are not received; publish with "
            "carebot.alert_delivery.ALERTS_QOS (RELIABLE, TRANSIENT_LOCAL)")

    def _on_status(self, msg: RobotStatus) -> None:
        with self._lock:
            self._status = ros_convert.status_to_json(msg, time.time())

    def _on_transcript(self, msg: Transcript) -> None:
        entry = ros_convert.transcript_from_msg(msg, time.time())
        if entry.text:
            self.store.add_transcript(entry)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.board.update(StatusEntry(s.name, level_of(s.level), s.message, s.hardware_id,
                                      tuple((kv.key, kv.value) for kv in s.values)) for s in msg.status)

    def _on_debug_image(self, msg: Image) -> None:
        with self._lock:
            self._debug_image = msg       # encoded only when the page asks for a frame

    def _on_update_alert(self, request: UpdateAlert.Request, response: UpdateAlert.Response):
        try:
            record = self.book.act(request.id, StaffAction(request.action), request.staff, request.note)
        except (AlertActionError, ValueError) as exc:
            response.success, response.message = False, str(exc)
            stored = self.book.get(request.id)
            if stored is not None:
                alerts.to_msg(stored, msg=response.alert)
            return response
        response.success = True
        response.message = f"alert {record.id} {record.state.name.lower()} by {record.handled_by}"
        alerts.to_msg(record, msg=response.alert)
        self.get_logger().info(response.message)
        return response

    def _publish_alert(self, record: AlertRecord) -> None:
        self._alert_pub.publish(alerts.to_msg(record))

    def _expire(self) -> None:
        now = time.time()
        removed = self.store.expire_transcripts(now - self._retention_s)
        cut = self.store.expire_alert_details(now - self._retention_s)
        self.store.expire_sessions(now)
        self.store.expire_devices(now - DEVICE_TRUST_S)
        self.store.expire_audit(now - self._audit_retention_s)
        if removed or cut:
            self.get_logger().info(f"deleted {removed} transcript(s) and the details of {cut} alert(s) older than "
                                   f"{self._retention_s:.0f} s")

    def _publish_health(self) -> None:
        open_alerts = sum(1 for record in self.book.listing(resolved_limit=0) if record.is_open)
        http = self.app.stats.take()
        level, message = Level.OK, f"serving {self.server.url}"
        if http["server_errors"]:
            level, message = Level.WARN, f"{http['server_errors']} server error(s) in the last period"
        elif http["throttled_logins"] or http["refused_connections"]:
            level, message = Level.WARN, (f"{http['throttled_logins']} login(s) throttled, "
                                          f"{http['refused_connections']} connection(s) refused in the last period")
        if self._malformed_alerts:
            level, message = Level.WARN, f"{self._malformed_alerts} malformed alert(s) ignored (see the log)"
        if self._incompatible_alert_publishers:
            level, message = Level.ERROR, (f"{self._incompatible_alert_publishers} alert publisher(s) with an "
                                           "incompatible QoS: their alerts are lost")
        self._health.set(level, message, url=self.server.url, open_alerts=open_alerts,
                         brain_ready=self._ask_client.service_is_ready(),
                         estop_service_ready=self._trigger_client.service_is_ready(),
                         camera_view=self._camera_view, malformed_alerts=self._malformed_alerts,
                         incompatible_alert_publishers=self._incompatible_alert_publishers,
                         open_connections=self.server.open_connections, **http)
        self._diagnostics.publish(self._health)

    # ------------------------------------------------------------------ RobotLink (HTTP threads)
    def _call(self, client, request, timeout_s: float, what: str):
        """Call a service from an HTTP thread; the executor delivers the response."""
        if not client.service_is_ready():
            raise LinkError(f"{what} is not available (is its node running?)")
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout_s):
            future.cancel()
            raise LinkError(f"{what} did not answer within {timeout_s:.1f} s")
        if future.exception() is not None:
            raise LinkError(f"{what} failed: {future.exception()}")
        return future.result()

    def status(self) -> dict | None:
        with self._lock:
            return dict(self._status) if self._status else None

    def diagnostics(self) -> list[dict]:
        return self.board.to_json()

    def ask(self, text: str, user: str) -> dict:
        request = Ask.Request(text=text, person=f"staff:{user}", language="", execute=True)
        response = self._call(self._ask_client, request, self._ask_timeout_s, "the brain (brain/ask)")
        return ros_convert.ask_response_to_json(response)

    def estop(self, user: str) -> dict:
        # The topic first: it needs no service round trip and base_safety latches it.
        self._estop_pub.publish(Bool(data=True))
        self.get_logger().warning(f"EMERGENCY STOP from the dashboard by {user}")
        try:
            result = self._call(self._trigger_client, Trigger.Request(), self._estop_timeout_s,
                                "safety/trigger_estop")
            return {"published": True, "service_ok": bool(result.success), "message": result.message}
        except LinkError as exc:
            return {"published": True, "service_ok": False, "message": str(exc)}

    def reset_estop(self, user: str, reason: str) -> dict:
        self.get_logger().warning(f"emergency stop reset requested from the dashboard by {user}")
        request = ResetEstop.Request(who=f"dashboard:{user}", why=reason)
        result = self._call(self._reset_client, request, self._estop_timeout_s, "safety/reset_estop_with_reason")
        return {"ok": bool(result.success), "was_engaged": bool(result.was_engaged), "message": result.message}

    def camera_jpeg(self) -> bytes | None:
        with self._lock:
            msg = self._debug_image
        if msg is None:
            return None
        import cv2

        from carebot.image_convert import ImageFormatError, image_to_bgr

        try:
            ok, data = cv2.imencode(".jpg", image_to_bgr(msg), [cv2.IMWRITE_JPEG_QUALITY, self._jpeg_quality])
        except ImageFormatError as exc:
            self.get_logger().warning(f"debug image not shown: {exc}", throttle_duration_sec=10.0)
            return None
        return data.tobytes() if ok else None

    def close(self) -> None:
        self.server.stop()
        self.store.close()


def main(args: list[str] | None = None) -> int:
    return run_node(DashboardNode, name="dashboard", threads=4, on_exit=DashboardNode.close,
                    start_errors=(ValueError, OSError), args=args)


if __name__ == "__main__":
    sys.exit(main())
