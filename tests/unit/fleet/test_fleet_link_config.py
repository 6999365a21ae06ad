"""Key space, payloads, Zenoh configurations and parameter tables of the fleet (pure)."""
import json
import math

import pytest

from carebot.alerts import AlertKind, AlertState, Severity, new_alert
from carebot.fleet import keys, payloads
from carebot.fleet.parameters import FLEET_BRIDGE, FLEET_SERVER
from carebot.fleet.zenoh_config import TlsFiles, access_control, endpoint_problem, robot_config, router_config


def test_keys_round_trip_and_refuse_wildcards_and_foreign_keys():
    assert keys.parse(keys.alert_key("home_1", "robot-a", "fall-12ab")) == keys.ParsedKey("home_1", "robot-a", "alert",
                                                                                          "fall-12ab")
    assert keys.parse(keys.cmd_key("h", "r", "estop")).rest == "estop"
    for bad in ("*", "a/b", "", "@admin", "$x", "-lead"):
        with pytest.raises(keys.FleetKeyError):
            keys.state_key(bad, "r")
    for foreign in ("carebot/h/r/camera/image_raw", "carebot/h/r/cmd/shutdown", "other/h/r/state", "carebot/h/r"):
        with pytest.raises(keys.FleetKeyError):
            keys.parse(foreign)


def test_state_and_alert_payloads_round_trip_and_carry_no_sensor_data():
    state = payloads.RobotState("h", "r", "care_home", 1.5, 3, (1.0, 2.0, 0.5), "NAVIGATING", "navigate:kitchen",
                                True, 0.4, False, "", "WARN", "perception: slow", 2,
                                payloads.FleetTask("t1", "attend", "active", "fall-1"))
    data = state.to_bytes()
    assert payloads.RobotState.from_bytes(data) == state and len(data) < 1024
    fields = set(json.loads(data))
    assert not fields & {"image", "camera", "audio", "transcript", "text"}
    alert = new_alert("fall", AlertKind.FALL, Severity.CRITICAL, position=(2.6, 4.0, 0.0), room="lounge",
                      message="resident on the floor", note="staff-only note")
    back = payloads.alert_from_bytes(payloads.alert_to_bytes(alert))
    assert back.note == "" and back.position == (2.6, 4.0, 0.0) and back.state is AlertState.RAISED


@pytest.mark.parametrize("mutate,problem", [
    (lambda d: d.update(v=2), "schema version"),
    (lambda d: d.update(pose=[1, 2]), "pose"),
    (lambda d: d.update(pose=[1, 2, float("nan")]), "pose"),
    (lambda d: d.update(health="GREAT"), "health"),
    (lambda d: d.update(robot="x/y"), "robot"),
    (lambda d: d.update(stamp="now"), "stamp"),
    (lambda d: d.update(fleet_task={"id": "t", "kind": "dance", "status": "active"}), "kind"),
])
def test_bad_states_are_refused_naming_the_field(mutate, problem):
    data = json.loads(payloads.RobotState("h", "r", "care_home", 1.0).to_bytes())
    mutate(data)
    raw = json.dumps(data).replace("NaN", "NaN")
    with pytest.raises(payloads.PayloadError, match=problem):
        payloads.RobotState.from_bytes(raw)


def test_oversized_and_non_json_payloads_are_refused():
    with pytest.raises(payloads.PayloadError, match="over the limit"):
        payloads.RobotState.from_bytes(b"{" + b" " * 20000 + b"}")
    with pytest.raises(payloads.PayloadError, match="not JSON"):
        payloads.alert_from_bytes(b"\xff\xfe")


def test_endpoints_beyond_loopback_must_be_tls():
    assert endpoint_problem("tcp/127.0.0.1:7447") is None and endpoint_problem("tls/fleet.home:7447") is None
    assert "plain tcp leaves this computer" in endpoint_problem("tcp/192.0.2.10:7447")
    assert endpoint_problem("udp/127.0.0.1:7447") and endpoint_problem("tls/host") and endpoint_problem("tls/h:99999")


def test_robot_is_a_retrying_peer_that_listens_on_nothing():
    tls = TlsFiles("ca.pem", "r.pem", "r.key")
    config = robot_config(["tls/router:7447"], tls)
    assert config["mode"] == "peer" and config["listen"]["endpoints"] == []
    assert config["scouting"] == {"multicast": {"enabled": False}, "gossip": {"enabled": False}}
    assert config["connect"]["exit_on_failure"]["peer"] is False
    link = config["transport"]["link"]["tls"]
    assert link["enable_mtls"] and link["connect_certificate"] == "r.pem" and "listen_certificate" not in link
    router = router_config(["tls/0.0.0.0:7447"], [], tls, access_control([("h", "r")], []))
    assert router["mode"] == "router" and router["transport"]["link"]["tls"]["listen_private_key"] == "r.key"


def test_access_control_gives_each_robot_only_its_own_keys():
    acl = access_control([("h", "a"), ("h", "b")], ["group-view"])
    assert acl["enabled"] and acl["default_permission"] == "deny"
    subjects = {s["id"]: s for s in acl["subjects"]}
    assert subjects["subject.h.a"]["cert_common_names"] == ["h/a"]
    rules = {r["id"]: r for r in acl["rules"]}
    assert all(k.startswith("carebot/h/a/") for r in ("h.a.says", "h.a.hears", "h.a.gets")
               for k in rules[r]["key_exprs"])
    assert "put" not in rules["h.a.hears"]["messages"] and rules["h.a.says"]["flows"] == ["ingress"]
    policies = {p["id"]: p for p in acl["policies"]}
    assert policies["policy.views"]["subjects"] == ["subject.views"]


def test_bridge_table_off_by_default_and_tls_required_beyond_loopback(tmp_path):
    assert FLEET_BRIDGE.load({})["enabled"] is False
    issues = {i.key for i in FLEET_BRIDGE.issues({"router": ["tls/router.home:7447"]})}
    assert "router, tls_root_ca, tls_certificate, tls_private_key" in issues
    assert {i.key for i in FLEET_BRIDGE.issues({"router": ["tcp/10.1.2.3:7447"]})} == {"router"}
    assert {i.key for i in FLEET_BRIDGE.issues({"robot_id": "a b", "state_rate_hz": 50.0})} == {"robot_id",
                                                                                                  "state_rate_hz"}
    files = [tmp_path / n for n in ("ca.pem", "r.pem", "r.key")]
    for f in files:
        f.write_text("x")
    given = {"router": ["tls/router.home:7447"], "tls_root_ca": str(files[0]), "tls_certificate": str(files[1]),
             "tls_private_key": str(files[2])}
    assert FLEET_BRIDGE.issues(given) == []
    assert FLEET_BRIDGE.issues({**given, "tls_private_key": str(tmp_path / "missing.key")})


def test_server_table_refuses_a_tls_router_without_its_robots_list():
    assert FLEET_SERVER.issues({}) == []
    issues = [i.reason for i in FLEET_SERVER.issues({"listen": ["tcp/127.0.0.1:7447"], "robots": ["h/a"]})]
    assert any("listen on a tls/ endpoint" in r for r in issues)
    assert FLEET_SERVER.issues({"robots": ["h/a/b"]}) and FLEET_SERVER.issues({"robots": ["noslash"]})
    assert math.isclose(FLEET_SERVER.load({})["dispatch"].attend_speed_mps, 0.25)
