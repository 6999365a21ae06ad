"""The fleet over real Zenoh, TLS and DDS: `carebot fleet serve` (router + view) in one process,
two robots' fleet bridge nodes in their own ROS domains, each robot's ROS side played from the
test process, robot_a's link through a relay the test can cut.

Shown here: presence and loss of a robot, staff actions reaching the right robot (and only
it), TLS refusing a peer the fleet CA did not sign and access control refusing a robot that
speaks for another, and a robot that catches up, once its link is back, on an alert raised
while it was cut off."""
import os
import random
import signal
import time

import pytest

from bringup_support import free_port, node_parameters
from carebot.alerts import AlertKind, AlertState, Severity, new_alert
from carebot.fleet import keys, payloads
from carebot.fleet.certs import issue, make_ca
from carebot.fleet.link import close_session, open_session
from carebot.fleet.parameters import FLEET_BRIDGE
from carebot.fleet.zenoh_config import TlsFiles, robot_config
from carebot.scenarios.ros_env import isolated_env, stop, wait_for
from fleet_support import (SITE, Relay, RobotSide, View, bridge_params, bridge_report, fleet_config, make_certs,
                           start_bridge, start_fleet)

pytestmark = [pytest.mark.ros, pytest.mark.slow]
ROBOTS = ["robot_a", "robot_b"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fleet")
    certs = make_certs(folder, ROBOTS)
    router_port, http_port = free_port(), free_port()
    server = start_fleet(folder, fleet_config(folder, certs, ROBOTS, router_port, http_port))
    relay = Relay(router_port)                                   # robot_a's link goes through it
    first = random.randint(1, 99)
    envs = {r: isolated_env(first + i) for i, r in enumerate(ROBOTS)}     # two robots, two ROS domains
    procs = {"robot_a": start_bridge(folder, bridge_params(folder, certs, "robot_a", relay.port), envs["robot_a"],
                                     "robot_a"),
             "robot_b": start_bridge(folder, bridge_params(folder, certs, "robot_b", router_port), envs["robot_b"],
                                     "robot_b")}
    sides = {r: RobotSide(envs[r]) for r in ROBOTS}
    view = View(http_port)
    try:
        assert wait_for(view.login, 60), (folder / "fleet.log").read_text()[-3000:]
        sides["robot_a"].status(3.4, 4.6, "navigate:kitchen")
        sides["robot_b"].status(5.6, 3.4)
        assert wait_for(lambda: all(view.online(r) for r in ROBOTS), 90), bridge_report(folder, procs)
        # Up means each robot's own ROS graph reaches the fleet, not only its Zenoh session.
        assert wait_for(lambda: all((view.robot(r) or {}).get("pose") for r in ROBOTS), 30), bridge_report(folder, procs)
        yield {"folder": folder, "certs": certs, "router_port": router_port, "relay": relay, "envs": envs,
               "procs": procs, "sides": sides, "view": view}
    finally:
        for side in sides.values():
            side.close()
        for proc in procs.values():
            stop(proc)
        stop(server)
        relay.cut()


def test_the_bridge_declares_its_parameter_table(fleet):
    declared = node_parameters(fleet["envs"]["robot_b"], "/fleet_bridge")
    assert set(FLEET_BRIDGE.names) <= set(declared)
    assert declared["robot_id"].value == "robot_b" and declared["enabled"].value is True


def test_both_robots_with_state_from_their_own_ros_graph(fleet):
    view = fleet["view"]
    assert wait_for(lambda: view.robot("robot_a")["task"] == "navigate:kitchen", 20)
    a, b = view.robot("robot_a"), view.robot("robot_b")
    assert a["busy"] and not b["busy"] and a["pose"][:2] == pytest.approx([3.4, 4.6])
    assert b["pose"][:2] == pytest.approx([5.6, 3.4]) and b["world"] == "care_home"


def test_staff_actions_reach_the_right_robot(fleet):
    view, side_a, side_b = fleet["view"], fleet["sides"]["robot_a"], fleet["sides"]["robot_b"]
    alert = new_alert("fall", AlertKind.FALL, Severity.WARNING, position=(2.6, 4.0, 0.0), message="fall in lounge")
    side_a.raise_alert(alert)
    assert wait_for(lambda: any(a["id"] == alert.id for a in view.state()["alerts"]), 20)
    listed = [a for a in view.state()["alerts"] if a["id"] == alert.id][0]
    assert (listed["site"], listed["robot"], listed["state"]) == (SITE, "robot_a", "RAISED")
    status, body = view.request("POST", f"/api/alerts/{alert.id}/acknowledge", {"note": "on my way"})
    assert status == 200, body

    def acked_at(side):
        return [m for m in side.heard_alerts if m.id == alert.id and m.state == AlertState.ACKNOWLEDGED]
    assert wait_for(lambda: acked_at(side_a), 20)
    assert acked_at(side_a)[-1].handled_by == "nurse"
    # the robot's new state comes back to the view from the robot
    assert wait_for(lambda: [a for a in view.state()["alerts"] if a["id"] == alert.id][0]["state"] == "ACKNOWLEDGED", 20)
    n_estops_a = len(side_a.estops)
    status, _ = view.request("POST", f"/api/fleet/robots/{SITE}/robot_b/estop", {})
    assert status == 200
    assert wait_for(lambda: any(m.data for m in side_b.estops), 20), bridge_report(fleet["folder"], fleet["procs"])
    time.sleep(1.0)
    assert not acked_at(side_b) and len(side_a.estops) == n_estops_a       # robot_b heard nothing of a's alert


def _peer(certs: TlsFiles, port: int):
    return open_session(robot_config([f"tls/localhost:{port}"], certs))


def test_tls_refuses_an_unknown_peer_and_acl_a_robot_speaking_for_another(fleet, tmp_path):
    view, port = fleet["view"], fleet["router_port"]
    # a certificate from another CA, with a robot's own name: no link at all
    other_ca = make_ca(tmp_path / "other", "someone else's CA")
    forged = issue(tmp_path / "other", other_ca, "forged", f"{SITE}/robot_c")
    forged = TlsFiles(fleet["certs"]["router"].root_ca, forged.certificate, forged.private_key)
    session = _peer(forged, port)
    try:
        time.sleep(4.0)
        assert list(session.info.routers_zid()) == []
    finally:
        close_session(session)
    # robot_b's genuine certificate, speaking for robot_a: linked, but the router drops it
    session = _peer(fleet["certs"][f"{SITE}/robot_b"], port)
    try:
        assert wait_for(lambda: list(session.info.routers_zid()), 10)
        spoof = payloads.RobotState(SITE, "robot_a", "care_home", time.time() + 60, 10 ** 6, (19.0, 13.0, 0.0),
                                    health="OK")
        fake = new_alert("fall", AlertKind.FALL, Severity.CRITICAL, message="spoofed")
        for _ in range(5):
            session.put(keys.state_key(SITE, "robot_a"), spoof.to_bytes())
            session.put(keys.alert_key(SITE, "robot_a", fake.id), payloads.alert_to_bytes(fake))
            session.put(keys.cmd_key(SITE, "robot_a", "estop"), b"{}")
            time.sleep(0.3)
        time.sleep(1.5)
        assert view.robot("robot_a")["pose"][:2] != pytest.approx([19.0, 13.0])
        assert all(a["id"] != fake.id for a in view.state()["alerts"])
        assert not any(m.data for m in fleet["sides"]["robot_a"].estops)
    finally:
        close_session(session)


def test_no_client_certificate_is_refused(fleet):
    config = robot_config([f"tls/localhost:{fleet['router_port']}"], None)
    config["transport"] = {"link": {"tls": {"root_ca_certificate": fleet["certs"]["router"].root_ca}}}
    session = open_session(config)
    try:
        time.sleep(4.0)
        assert list(session.info.routers_zid()) == []
    finally:
        close_session(session)


def test_a_robot_catches_up_after_its_link_was_cut(fleet):
    view, relay, side_a = fleet["view"], fleet["relay"], fleet["sides"]["robot_a"]
    relay.cut()
    cut_at = time.monotonic()
    assert wait_for(lambda: not view.online("robot_a"), 30)
    offline_after = time.monotonic() - cut_at
    alert = new_alert("help", AlertKind.HELP_REQUEST, Severity.CRITICAL, message="help asked while cut off")
    side_a.raise_alert(alert)                  # the robot works alone: its own graph has the alert
    time.sleep(2.0)
    assert all(a["id"] != alert.id for a in view.state()["alerts"])
    relay.restore()
    back_at = time.monotonic()
    assert wait_for(lambda: any(a["id"] == alert.id for a in view.state()["alerts"]), 30)
    caught_up = time.monotonic() - back_at
    assert wait_for(lambda: view.online("robot_a"), 20)
    listed = [a for a in view.state()["alerts"] if a["id"] == alert.id][0]
    assert listed["robot"] == "robot_a" and listed["severity"] == "CRITICAL"
    print(f"\n[fleet] link cut -> offline in the view {offline_after:.1f} s; link back -> alert in the view "
          f"{caught_up:.1f} s")


def test_presence_and_loss_of_a_robot(fleet):
    view, proc = fleet["view"], fleet["procs"]["robot_b"]
    assert view.online("robot_b")
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert wait_for(lambda: not view.online("robot_b"), 20)
    print(f"\n[fleet] bridge killed -> offline in the view {time.monotonic() - killed_at:.1f} s")
    assert view.online("robot_a")
