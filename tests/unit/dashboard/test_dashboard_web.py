"""The dashboard's HTTP API on a real server; the robot side is a recorded stand-in
(the ROS link is tested over DDS in tests/integration/test_dashboard_browser.py)."""
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

    def reset_estop(self, user):
        raise LinkError("safety/reset_estop is not available")

    def camera_jpeg(self):
        return b"\xff\xd8fake"


@pytest.fixture()
def dashboard(tmp_path):
    store = DashboardStore(tmp_path / "web.sqlite3")
    published = []
    book = AlertBook(store, publish=published.append)
    accounts = auth.parse_accounts(["nurse:" + auth.hash_password("password1", n=2 ** 10)])
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


def _login(client):
    return client.json("POST", "/api/login", {"user": "nurse", "password": "password1"})


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
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.json("GET", "/api/me") == (200, {"user": "nurse"})
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
    assert client.json("POST", "/api/estop/reset", {})[0] == 503
    assert client.request("GET", "/api/camera.jpg")[0] == 404      # disabled in config
    app.camera_enabled = True
    status, frame, headers = client.request("GET", "/api/camera.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and frame.startswith(b"\xff\xd8")


def test_login_throttling(dashboard):
    server, *_ = dashboard
    client = Client(server.url)
    codes = [client.json("POST", "/api/login", {"user": "nurse", "password": "guess"})[0] for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert _login(client)[0] == 429                    # even the right password waits


def test_request_stats_for_diagnostics():
    from carebot.dashboard.web import RequestStats

    now = [0.0]
    stats = RequestStats(clock=lambda: now[0])
    for ms in range(1, 21):
        stats.add(ms / 1000, failed=ms == 20)
    now[0] = 2.0
    figures = stats.take()
    assert figures == {"requests_per_s": 10.0, "latency_p95_ms": 20.0, "latency_max_ms": 20.0, "server_errors": 1}
    now[0] = 3.0
    assert stats.take()["requests_per_s"] == 0.0
