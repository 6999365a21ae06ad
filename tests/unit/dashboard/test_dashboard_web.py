"""The dashboard's HTTP API on a real server; the robot side is a recorded stand-in
(the ROS link is tested over DDS in tests/integration/test_dashboard_browser.py). Attacks on
the same server are in test_dashboard_attacks.py."""
import json
import urllib.error
import urllib.request
from http.cookiejar import CookieJar

import pytest

from carebot.dashboard import auth
from carebot.dashboard.alerts import AlertBook, AlertKind, AlertRecord, AlertState, Severity
from carebot.dashboard.store import DashboardStore
from carebot.dashboard.web import DashboardApp, DashboardServer, LinkError


class RecordedLink:
    """Stand-in for the ROS side: records calls, answers like the dashboard node would."""

    def __init__(self):
        self.calls = []
        self.brain_up = True

    def status(self):
        return {"mode": 0, "current_task": "", "speed_limit": 0.5, "emergency_stop": False,
                "stop_reason": "", "x": 2.0, "y": 3.0, "theta": 0.0, "vx": 0.0, "wz": 0.0}

    def diagnostics(self):
        return [{"name": "carebot/test", "level": 0, "message": "ok"}]

    def ask(self, text, user):
        self.calls.append(("ask", text, user))
        if not self.brain_up:
            raise LinkError("the brain (brain/ask) is not available")
        return {"reply": f"echo: {text}", "source": "rule", "latency_ms": 1.0, "actions": [], "has_alert": False}

    def estop(self, user):
        self.calls.append(("estop", user))
        return {"published": True, "service_ok": False, "message": "not available"}

    def reset_estop(self, user, reason):
        self.calls.append(("reset", user, reason))
        if not self.brain_up:
            raise LinkError("safety/reset_estop_with_reason is not available")
        return {"ok": True, "was_engaged": True, "message": f"released by dashboard:{user}: {reason}"}

    def camera_jpeg(self):
        return b"\xff\xd8fake"


HASH = auth.hash_password("password1")       # production cost: each login below takes 1-4 s here


@pytest.fixture()
def dashboard(tmp_path):
    store = DashboardStore(tmp_path / "web.sqlite3")
    published = []
    book = AlertBook(store, publish=published.append)
    accounts = auth.parse_accounts([f"nurse:{HASH}", f"anna:supervisor:{HASH}"])
    link = RecordedLink()
    app = DashboardApp(book=book, store=store, auth=auth.Authenticator(accounts, store, 600.0), link=link,
                       site_map={"width": 10.0, "height": 5.0}, camera_enabled=False)
    server = DashboardServer(app, "127.0.0.1", 0).start()
    yield server, app, link, published
    server.stop()
    store.close()


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def request(self, method, path, body=None, content_type="application/json"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with self.opener.open(req, timeout=10) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def json(self, method, path, body=None, **kw):
        status, raw, _ = self.request(method, path, body, **kw)
        return status, json.loads(raw) if raw else {}


def _login(client, user="nurse"):
    return client.json("POST", "/api/login", {"user": user, "password": "password1"})


def test_page_and_health_are_public_api_needs_login(dashboard):
    server, *_ = dashboard
    client = Client(server.url)
    status, page, headers = client.request("GET", "/")
    assert status == 200 and b"estop-button" in page and "default-src 'self'" in headers["Content-Security-Policy"]
    assert client.request("GET", "/static/app.js")[0] == 200
    assert client.request("GET", "/healthz")[1] == b"ok\n"
    assert client.json("GET", "/api/state")[0] == 401
    assert client.json("POST", "/api/estop", {})[0] == 401


def test_login_cookie_and_wrong_password(dashboard):
    server, *_ = dashboard
    client = Client(server.url)
    assert client.json("POST", "/api/login", {"user": "nurse", "password": "nope"})[0] == 401
    status, body, headers = client.request("POST", "/api/login", {"user": "nurse", "password": "password1"})
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie    # loopback, no TLS
    may = ["acknowledge", "camera", "chat", "estop", "resolve", "view"]
    assert client.json("GET", "/api/me") == (200, {"user": "nurse", "role": "staff", "may": may})
    assert client.json("POST", "/api/logout", {})[0] == 200
    assert client.json("GET", "/api/me")[0] == 401


def test_posts_must_be_json(dashboard):
    server, *_ = dashboard
    client = Client(server.url)
    _login(client)
    status, _, _ = client.request("POST", "/api/estop", {}, content_type="application/x-www-form-urlencoded")
    assert status == 415


def test_state_carries_alerts_status_map_and_acknowledge_flow(dashboard):
    server, app, link, published = dashboard
    app.book.receive(AlertRecord("fall-7", AlertKind.FALL, Severity.CRITICAL, AlertState.RAISED,
                                 place="lounge", message="fall"))
    client = Client(server.url)
    _login(client)
    status, state = client.json("GET", "/api/state")
    assert status == 200 and state["alerts"][0]["id"] == "fall-7" and state["alerts"][0]["state"] == "RAISED"
    assert state["status"]["x"] == 2.0 and state["map"]["width"] == 10.0 and state["camera"] is False
    status, body = client.json("POST", "/api/alerts/fall-7/acknowledge", {"note": "going"})
    assert status == 200 and body["alert"]["state"] == "ACKNOWLEDGED" and body["alert"]["handled_by"] == "nurse"
    assert published[-1].state is AlertState.ACKNOWLEDGED
    assert client.json("POST", "/api/alerts/fall-7/acknowledge", {})[0] == 409
    assert client.json("POST", "/api/alerts/nope/resolve", {})[0] == 409
    assert client.json("POST", "/api/alerts/fall-7/explode", {})[0] == 404


def test_chat_estop_camera_and_errors(dashboard):
    server, app, link, _ = dashboard
    client = Client(server.url)
    _login(client)
    status, answer = client.json("POST", "/api/ask", {"text": "where is the kitchen?"})
    assert status == 200 and answer["reply"] == "echo: where is the kitchen?"
    assert ("ask", "where is the kitchen?", "nurse") in link.calls
    texts = [t["text"] for t in client.json("GET", "/api/state")[1]["transcripts"]]
    assert texts[-2:] == ["where is the kitchen?", "echo: where is the kitchen?"]
    link.brain_up = False
    status, body = client.json("POST", "/api/ask", {"text": "hello"})
    assert status == 503 and "brain" in body["error"]
    assert client.json("POST", "/api/ask", {"text": "  "})[0] == 400
    assert client.json("POST", "/api/estop", {}) == (200, {"published": True, "service_ok": False,
                                                           "message": "not available"})
    assert client.json("POST", "/api/estop/reset", {"reason": "all clear"})[0] == 403   # staff: no
    assert client.json("GET", "/api/audit")[0] == 403
    assert client.request("GET", "/api/camera.jpg")[0] == 404      # disabled in config
    app.camera_enabled = True
    status, frame, headers = client.request("GET", "/api/camera.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and frame.startswith(b"\xff\xd8")


def test_a_supervisor_releases_the_estop_with_a_reason(dashboard):
    server, app, link, _ = dashboard
    client = Client(server.url)
    status, me = _login(client, "anna")
    assert status == 200 and me["role"] == "supervisor" and "reset_estop" in me["may"]
    assert client.json("GET", "/api/state")[1]["may"] == me["may"]          # the page shows its buttons by it
    assert client.json("POST", "/api/estop/reset", {})[0] == 400             # no reason, no reset
    assert client.json("POST", "/api/estop/reset", {"reason": "  ok "})[0] == 400
    status, body = client.json("POST", "/api/estop/reset", {"reason": "resident back in bed,  path clear"})
    assert status == 200 and body["ok"] and link.calls[-1] == ("reset", "anna", "resident back in bed, path clear")
    link.brain_up = False
    assert client.json("POST", "/api/estop/reset", {"reason": "path clear"})[0] == 503
    status, audit = client.json("GET", "/api/audit?action=estop_reset")
    assert [(e["actor"], e["detail"], e["outcome"].split(":")[0]) for e in audit["events"]] == [
        ("anna", "resident back in bed, path clear", "ok"), ("anna", "path clear", "unavailable")]


def test_login_throttling(dashboard):
    server, *_ = dashboard
    client = Client(server.url)
    codes = [client.json("POST", "/api/login", {"user": "nurse", "password": "guess"})[0] for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert _login(client)[0] == 429                    # even the right password waits, from this address


def test_request_stats_for_diagnostics():
    from carebot.dashboard.web import RequestStats

    now = [0.0]
    stats = RequestStats(clock=lambda: now[0])
    for ms in range(1, 21):
        stats.add(ms / 1000, failed=ms == 20)
    now[0] = 2.0
    stats.count("failed_logins")
    figures = stats.take()
    assert figures == {"requests_per_s": 10.0, "latency_p95_ms": 20.0, "latency_max_ms": 20.0, "server_errors": 1,
                       "refused_connections": 0, "failed_logins": 1, "throttled_logins": 0, "bad_requests": 0}
    now[0] = 3.0
    assert stats.take()["requests_per_s"] == 0.0
