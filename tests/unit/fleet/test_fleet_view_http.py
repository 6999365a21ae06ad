"""The fleet view's service and HTTP routes through a real HTTP server (the dashboard's handler
with the fleet's routes), with Zenoh replaced by a recorder of what would be sent: the
boundary here is the network, exercised over real Zenoh in tests/integration/test_fleet_link.py."""
import http.client
import json
import time

import pytest

from carebot.alerts import AlertKind, AlertState, Severity, new_alert
from carebot.dashboard.auth import Authenticator, hash_password, parse_accounts
from carebot.dashboard.store import DashboardStore
from carebot.dashboard.web import DashboardApp, DashboardServer
from carebot.fleet import keys, payloads
from carebot.fleet.service import FleetService
from carebot.fleet.store import FleetStore
from carebot.fleet.web import FleetLink, fleet_handler_factory

PASSWORD = "a-long-nurse-password"
_HASH = hash_password(PASSWORD)                      # the production cost and format
ACCOUNTS = [f"nurse:{_HASH}", f"head:supervisor:{_HASH}"]


class Sent:
    """Records what the service would put on the Zenoh link (stand-in for the session)."""

    def __init__(self):
        self.items, self.asked = [], []

    def __call__(self, key, payload):
        self.items.append((key, payloads.Command.from_bytes(payload, verb=keys.parse(key).rest)))

    def to(self, robot, verb):
        return [c for k, c in self.items if keys.parse(k).robot == robot and keys.parse(k).rest == verb]


@pytest.fixture()
def view(tmp_path):
    store = DashboardStore(tmp_path / "fleet.sqlite3")
    fleet_store = FleetStore(tmp_path / "fleet.sqlite3")
    sent = Sent()
    service = FleetService(store, fleet_store, send=sent, ask_alerts=lambda s, r: sent.asked.append((s, r)))
    auth = Authenticator(parse_accounts(ACCOUNTS), store, 3600.0)
    app = DashboardApp(book=service.book, store=store, auth=auth, link=FleetLink(service), title="fleet")
    server = DashboardServer(app, "127.0.0.1", 0, handler_factory=fleet_handler_factory(service)).start()
    yield service, sent, server, fleet_store
    server.stop()


def request(server, method, path, body=None, cookie=""):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Content-Type": "application/json", "Cookie": cookie} if body is not None else {"Cookie": cookie}
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    data = response.read()
    cookie_out = response.getheader("Set-Cookie", "")
    conn.close()
    return response.status, (json.loads(data) if data.startswith(b"{") else data), cookie_out


def login(server, user="nurse"):
    status, _, cookie = request(server, "POST", "/api/login", {"user": user, "password": PASSWORD})
    assert status == 200
    return cookie.split(";")[0]


def robot_online(service, name, pose=(5.6, 3.4, 3.14), busy=False):
    service.on_presence(keys.presence_key("home", name), True)
    state = payloads.RobotState("home", name, "care_home", time.time(), 1, pose, "IDLE", busy=busy, health="OK")
    service.on_state(keys.state_key("home", name), state.to_bytes())


def test_login_required_and_the_page_is_the_fleets(view):
    service, sent, server, _ = view
    assert request(server, "GET", "/api/fleet")[0] == 401
    status, page, _ = request(server, "GET", "/")
    assert status == 200 and b"carebot fleet" in page and b"/fleet/fleet.js" in page
    assert request(server, "GET", "/fleet/fleet.js")[0] == 200


def test_both_robots_one_alert_and_the_acknowledge_goes_to_the_robot_that_raised_it(view):
    service, sent, server, fleet_store = view
    robot_online(service, "robot_a", (3.4, 4.6, 0.0), busy=True)
    robot_online(service, "robot_b")
    assert sent.asked == [("home", "robot_a"), ("home", "robot_b")]       # catch-up asked on presence
    alert = new_alert("fall", AlertKind.FALL, Severity.WARNING, position=(2.6, 4.0, 0.0), message="fall")
    service.on_alert(keys.alert_key("home", "robot_b", alert.id), payloads.alert_to_bytes(alert))
    service.on_alert(keys.alert_key("home", "robot_b", alert.id), payloads.alert_to_bytes(alert))   # a repeat
    cookie = login(server)
    status, state, _ = request(server, "GET", "/api/fleet", cookie=cookie)
    assert status == 200 and [r["robot"] for r in state["robots"]] == ["robot_a", "robot_b"]
    assert all(r["online"] for r in state["robots"]) and "care_home" in state["maps"]
    assert [(a["id"], a["robot"]) for a in state["alerts"]] == [(alert.id, "robot_b")]
    offers = sent.to("robot_b", "task")
    assert len(offers) == 1 and offers[0].args["alert_id"] == alert.id and not sent.to("robot_a", "task")
    status, body, _ = request(server, "POST", f"/api/alerts/{alert.id}/acknowledge", {"note": "coming"}, cookie)
    assert status == 200 and body["alert"]["state"] == "ACKNOWLEDGED"
    acks = sent.to("robot_b", "alert")
    assert len(acks) == 1 and acks[0].staff == "nurse" and acks[0].args == {"alert_id": alert.id,
                                                                            "action": "acknowledge", "note": "coming"}
    assert not sent.to("robot_a", "alert")
    releases = [c for c in sent.to("robot_b", "task") if c.args["action"] == "release"]
    assert len(releases) == 1                                         # acknowledged: the robot is released
    assert [(r.staff, r.action, r.robot) for r in fleet_store.actions()] == [("nurse", "acknowledge alert", "robot_b")]


def test_estop_one_robot_and_all_and_goto(view):
    service, sent, server, fleet_store = view
    robot_online(service, "robot_a")
    robot_online(service, "robot_b")
    cookie = login(server)
    assert request(server, "POST", "/api/fleet/robots/home/robot_a/estop", {}, cookie)[0] == 200
    assert len(sent.to("robot_a", "estop")) == 1 and not sent.to("robot_b", "estop")
    status, body, _ = request(server, "POST", "/api/estop", {}, cookie)
    assert status == 200 and body["sent_to"] == ["home/robot_a", "home/robot_b"]
    assert len(sent.to("robot_b", "estop")) == 1
    assert request(server, "POST", "/api/fleet/robots/home/nobody/estop", {}, cookie)[0] == 404
    assert request(server, "POST", "/api/fleet/robots/home/robot_a/goto", {"place": "moon"}, cookie)[0] == 400
    assert request(server, "POST", "/api/fleet/robots/home/robot_a/goto", {"place": "Kitchen"}, cookie)[0] == 200
    assert sent.to("robot_a", "goto")[0].args["place"] == "kitchen"
    reason = {"reason": "resident moved away, aisle clear"}
    assert request(server, "POST", "/api/estop/reset", reason, cookie)[0] == 403   # staff may not release it
    supervisor = login(server, "head")
    assert request(server, "POST", "/api/estop/reset", reason, supervisor)[0] == 503   # released at the robot only
    assert len(fleet_store.actions()) == 4


def test_a_robot_cannot_speak_for_another(view):
    service, sent, server, _ = view
    robot_online(service, "robot_a")
    alert = new_alert("fall", AlertKind.FALL, Severity.WARNING)
    service.on_alert(keys.alert_key("home", "robot_a", alert.id), payloads.alert_to_bytes(alert))
    resolved = alert.with_state(AlertState.RESOLVED, handled_by="nurse")
    service.on_alert(keys.alert_key("home", "robot_b", alert.id), payloads.alert_to_bytes(resolved))
    assert service.book.get(alert.id).state is AlertState.RAISED and service.stats.bad_payloads == 1
    state = payloads.RobotState("home", "robot_a", "care_home", time.time()).to_bytes()
    service.on_state(keys.state_key("home", "robot_c"), state)
    assert service.stats.bad_payloads == 2 and ("home", "robot_c") not in service.robots


def test_offline_after_presence_loss_or_silence(view):
    service, sent, server, _ = view
    now = [1000.0]
    service.clock = lambda: now[0]
    robot_online(service, "robot_a")
    assert service.view()["robots"][0]["online"]
    now[0] += 6.0                                  # no state for 6 s (offline_after_s 5)
    assert not service.view()["robots"][0]["online"]
    robot_online(service, "robot_a")
    service.on_presence(keys.presence_key("home", "robot_a"), False)
    assert not service.view()["robots"][0]["online"]
