"""Two-process check that every carebot_interfaces type crosses real DDS.

``python iface_exchange.py talker``   publishes a sample of every
message type (msg, and the parts of every srv and action) on its own topic,
serves the Ask service and the NavigateTo action.
``python iface_exchange.py listener`` receives them, calls the
service, sends a goal, compares everything with the samples it builds itself and
prints one JSON report; exit code 0 only when all matched. Run as a script by
test_interfaces_dds.py (its folder is then on sys.path, so ``iface_samples`` imports).
"""
from __future__ import annotations

import importlib
import json
import sys
import time

import rclpy
from rclpy.action import ActionServer
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from carebot.ros_common import ActionClient
from iface_samples import populate, to_plain

PACKAGE = "carebot_interfaces"
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def all_message_types() -> dict[str, type]:
    """Every message class of the package: msg/*, srv request/response, action goal/result/feedback."""
    found: dict[str, type] = {}
    for kind, parts in (("msg", ("",)), ("srv", ("Request", "Response")),
                        ("action", ("Goal", "Result", "Feedback"))):
        module = importlib.import_module(f"{PACKAGE}.{kind}")
        for name in sorted(n for n in dir(module) if n[:1].isupper() and "_" not in n):
            for part in parts:
                cls = getattr(getattr(module, name), part) if part else getattr(module, name)
                found[f"{kind}/{name}{'_' + part if part else ''}"] = cls
    return found


def topic_for(key: str) -> str:
    return "iface_check/" + key.replace("/", "_").lower()


def talker() -> int:
    from carebot_interfaces.action import NavigateTo
    from carebot_interfaces.srv import Ask

    rclpy.init()
    node = rclpy.create_node("iface_talker")
    publishers = []
    for key, cls in all_message_types().items():
        pub = node.create_publisher(cls, topic_for(key), LATCHED)
        pub.publish(populate(cls(), seed=3))
        publishers.append(pub)

    def on_ask(request, response):
        populate(response, seed=5)
        response.reply = "echo: " + request.text
        return response

    def on_navigate(goal_handle):
        for step in range(3):
            feedback = populate(NavigateTo.Feedback(), seed=7)
            feedback.distance_remaining = float(3 - step)
            goal_handle.publish_feedback(feedback)
            time.sleep(0.05)
        goal_handle.succeed()
        result = populate(NavigateTo.Result(), seed=9)
        result.message = "arrived at " + goal_handle.request.place
        return result

    node.create_service(Ask, "iface_check/ask", on_ask)
    ActionServer(node, NavigateTo, "iface_check/navigate_to", on_navigate)
    node.get_logger().info(f"talker ready: {len(publishers)} types")
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def listener(timeout: float = 30.0) -> int:
    from carebot_interfaces.action import NavigateTo
    from carebot_interfaces.srv import Ask

    rclpy.init()
    node = rclpy.create_node("iface_listener")
    types = all_message_types()
    received: dict[str, object] = {}
    for key, cls in types.items():
        node.create_subscription(cls, topic_for(key), lambda m, k=key: received.setdefault(k, m), LATCHED)

    deadline = time.monotonic() + timeout
    while len(received) < len(types) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)

    report = {"types": len(types), "received": len(received), "mismatched": [], "missing": []}
    for key, cls in types.items():
        if key not in received:
            report["missing"].append(key)
        elif to_plain(received[key]) != to_plain(populate(cls(), seed=3)):
            report["mismatched"].append(key)

    # A real service call and a real action goal, with feedback.
    client = node.create_client(Ask, "iface_check/ask")
    report["service"] = False
    if client.wait_for_service(timeout_sec=max(1.0, deadline - time.monotonic())):
        future = client.call_async(populate(Ask.Request(), seed=4))
        rclpy.spin_until_future_complete(node, future, timeout_sec=10)
        expected = populate(Ask.Response(), seed=5)
        expected.reply = "echo: " + populate(Ask.Request(), seed=4).text
        report["service"] = future.done() and to_plain(future.result()) == to_plain(expected)

    action = ActionClient(node, NavigateTo, "iface_check/navigate_to")
    feedback_seen: list[float] = []
    report["action"] = False
    if action.wait_for_server(timeout_sec=10):
        goal = populate(NavigateTo.Goal(), seed=6)
        send = action.send_goal_async(goal, feedback_callback=lambda f: feedback_seen.append(f.feedback.distance_remaining))
        rclpy.spin_until_future_complete(node, send, timeout_sec=10)
        if send.done() and send.result().accepted:
            result_future = send.result().get_result_async()
            rclpy.spin_until_future_complete(node, result_future, timeout_sec=10)
            result = result_future.result().result if result_future.done() else None
            report["action"] = bool(result and result.message == "arrived at " + goal.place)
    report["feedback"] = feedback_seen
    node.destroy_node()
    rclpy.try_shutdown()
    print(json.dumps(report, ensure_ascii=False))
    ok = (not report["missing"] and not report["mismatched"] and report["service"]
          and report["action"] and len(feedback_seen) == 3)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    role = argv[0] if argv else ""
    if role == "talker":
        return talker()
    if role == "listener":
        return listener()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
