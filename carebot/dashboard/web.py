"""The dashboard's HTTP side: a JSON API and one page, on stdlib ``http.server``.

No ROS here: the node hands in an ``AlertBook``, the store, an ``Authenticator`` and a
``RobotLink`` (what the page may ask of the robot: status, chat, emergency stop,
camera frame). The server runs in its own threads, so a slow browser or a slow brain
answer never blocks the node's callbacks.

API (JSON; every route but ``/``, static files, ``/healthz`` and login needs a session
cookie; POSTs must send ``Content-Type: application/json``, which a cross-site form
cannot, and the cookie is SameSite=Strict):

  POST /api/login {user, password}        GET  /api/me         POST /api/logout
  GET  /api/state  alerts, robot status, diagnostics, transcripts, map, camera flag
  POST /api/alerts/<id>/acknowledge {note}    POST /api/alerts/<id>/resolve {note}
  POST /api/ask {text}                     POST /api/estop     POST /api/estop/reset
  GET  /api/camera.jpg  (404 unless the camera view is enabled)
  GET  /api/strings?lang=zh-CN|en   the page's texts (no login: the login form needs them too)
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import unquote, urlsplit

from carebot.dashboard.alerts import AlertActionError, AlertBook, StaffAction
from carebot.dashboard.auth import Authenticator
from carebot.dashboard.locale import SiteLocale
from carebot.dashboard.store import DashboardStore, TranscriptEntry

STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE = "carebot_session"
MAX_BODY_BYTES = 64 * 1024
MAX_CHAT_CHARS = 500
TRANSCRIPT_LINES = 100
IDLE_CONNECTION_S = 30.0
_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class LinkError(RuntimeError):
    """The robot could not do what the page asked (service down, timeout)."""


class RobotLink(Protocol):
    """What the page may ask of the robot; the dashboard node implements it over ROS."""

    def status(self) -> dict | None: ...
    def diagnostics(self) -> list[dict]: ...
    def ask(self, text: str, user: str) -> dict: ...
    def estop(self, user: str) -> dict: ...
    def reset_estop(self, user: str) -> dict: ...
    def camera_jpeg(self) -> bytes | None: ...


class RequestStats:
    """Requests served and their latency since the last ``take()`` (for diagnostics)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._since = clock()
        self._latencies: list[float] = []
        self._errors = 0

    def add(self, seconds: float, failed: bool) -> None:
        with self._lock:
            self._latencies.append(seconds)
            self._errors += int(failed)

    def take(self) -> dict[str, float]:
        """{requests_per_s, latency_p95_ms, latency_max_ms, server_errors} and restart counting."""
        with self._lock:
            now, values, errors = self._clock(), sorted(self._latencies), self._errors
            period, self._since, self._latencies, self._errors = now - self._since, now, [], 0
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))] if values else 0.0
        return {"requests_per_s": round(len(values) / period, 2) if period > 0 else 0.0,
                "latency_p95_ms": round(p95 * 1000, 1),
                "latency_max_ms": round((values[-1] if values else 0.0) * 1000, 1),
                "server_errors": errors}


@dataclass
class DashboardApp:
    """Everything a request handler needs; shared by all HTTP threads."""

    book: AlertBook
    store: DashboardStore
    auth: Authenticator
    link: RobotLink
    site_map: dict = field(default_factory=dict)
    camera_enabled: bool = False
    title: str = "carebot"
    transcript_retention_s: float = 86400.0
    secure_cookie: bool = False
    locale: SiteLocale = field(default_factory=SiteLocale)   # the site's language and time zone
    log: Callable[[str], None] = lambda message: None
    clock: Callable[[], float] = time.time
    stats: RequestStats = field(default_factory=RequestStats)

    def state(self, user: str) -> dict:
        since = self.clock() - self.transcript_retention_s
        return {
            "user": user,
            "title": self.title,
            "time": self.clock(),
            "version": self.book.version,
            "alerts": [record.to_json() for record in self.book.listing()],
            "status": self.link.status(),
            "diagnostics": self.link.diagnostics(),
            "transcripts": [e.to_json() for e in self.store.transcripts(TRANSCRIPT_LINES, since)],
            "map": self.site_map,
            "camera": self.camera_enabled,
        }


class _Reply(Exception):
    """Raised inside a route to answer at once with a status and a JSON body."""

    def __init__(self, status: HTTPStatus, body: dict):
        super().__init__(body.get("error", ""))
        self.status = status
        self.body = body


def _error(status: HTTPStatus, message: str) -> _Reply:
    return _Reply(status, {"error": message})


def make_handler(app: DashboardApp) -> type[BaseHTTPRequestHandler]:
    static = {path.name: path.read_bytes() for path in STATIC_DIR.iterdir() if path.is_file()}

    class Handler(BaseHTTPRequestHandler):
        server_version = "carebot-dashboard"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = IDLE_CONNECTION_S      # a silent client does not hold a thread forever

        def log_message(self, fmt: str, *args: Any) -> None:  # route to the node's logger
            app.log(f"{self.client_address[0]} {fmt % args}")

        # ------------------------------------------------------------ plumbing
        def _send(self, status: HTTPStatus, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in {**_SECURITY_HEADERS, **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: HTTPStatus, body: dict, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode("utf-8"), "application/json",
                       {"Cache-Control": "no-store", **(headers or {})})

        def _token(self) -> str | None:
            cookie = SimpleCookie()
            try:
                cookie.load(self.headers.get("Cookie", ""))
            except Exception:  # a malformed cookie header is just no session
                return None
            morsel = cookie.get(COOKIE)
            return morsel.value if morsel else None

        def _user(self) -> str:
            user = app.auth.user_of(self._token())
            if user is None:
                raise _error(HTTPStatus.UNAUTHORIZED, "login required")
            return user

        def _body(self) -> dict:
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                raise _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                raise _error(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
            if length > MAX_BODY_BYTES:
                raise _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
            raw = self.rfile.read(length) if length else b"{}"
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise _error(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
            if not isinstance(data, dict):
                raise _error(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return data

        def _dispatch(self, routes: Callable[[str], None]) -> None:
            path = urlsplit(self.path).path
            started, failed = time.monotonic(), False
            try:
                routes(path)
            except _Reply as reply:
                self._json(reply.status, reply.body)
            except Exception as exc:  # a bug must not kill the server thread silently
                failed = True
                app.log(f"error on {self.command} {path}: {type(exc).__name__}: {exc}")
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
            finally:
                app.stats.add(time.monotonic() - started, failed)

        # ------------------------------------------------------------ routes
        def do_GET(self) -> None:
            self._dispatch(self._get)

        def do_HEAD(self) -> None:
            self._dispatch(self._get)

        def do_POST(self) -> None:
            self._dispatch(self._post)

        def _get(self, path: str) -> None:
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, static["index.html"], _STATIC_TYPES[".html"],
                           {"Cache-Control": "no-cache"})
            elif path.startswith("/static/") and path[len("/static/"):] in static:
                name = path[len("/static/"):]
                self._send(HTTPStatus.OK, static[name],
                           _STATIC_TYPES.get(Path(name).suffix, "application/octet-stream"),
                           {"Cache-Control": "no-cache"})
            elif path == "/healthz":
                self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
            elif path == "/api/strings":
                self._strings()
            elif path == "/api/me":
                self._json(HTTPStatus.OK, {"user": self._user()})
            elif path == "/api/state":
                self._json(HTTPStatus.OK, app.state(self._user()))
            elif path == "/api/camera.jpg":
                self._user()
                if not app.camera_enabled:
                    raise _error(HTTPStatus.NOT_FOUND, "camera view is disabled in config")
                frame = app.link.camera_jpeg()
                if frame is None:
                    raise _error(HTTPStatus.SERVICE_UNAVAILABLE, "no debug image received yet")
                self._send(HTTPStatus.OK, frame, "image/jpeg", {"Cache-Control": "no-store"})
            else:
                raise _error(HTTPStatus.NOT_FOUND, "not found")

        def _post(self, path: str) -> None:
            if path == "/api/login":
                self._login(self._body())
                return
            if path == "/api/logout":
                app.auth.logout(self._token())
                self._json(HTTPStatus.OK, {"ok": True}, {"Set-Cookie": self._cookie("", 0)})
                return
            user = self._user()
            body = self._body()
            if path.startswith("/api/alerts/"):
                alert_id, _, verb = unquote(path[len("/api/alerts/"):]).rpartition("/")
                actions = {"acknowledge": StaffAction.ACKNOWLEDGE, "resolve": StaffAction.RESOLVE}
                if verb not in actions or not alert_id:
                    raise _error(HTTPStatus.NOT_FOUND, "use /api/alerts/<id>/acknowledge or /resolve")
                try:
                    record = app.book.act(alert_id, actions[verb], user, str(body.get("note", ""))[:500])
                except AlertActionError as exc:
                    raise _error(HTTPStatus.CONFLICT, str(exc)) from None
                app.log(f"{user} {verb}d alert {alert_id}")
                self._json(HTTPStatus.OK, {"alert": record.to_json()})
            elif path == "/api/ask":
                self._json(HTTPStatus.OK, self._ask(user, body))
            elif path == "/api/estop":
                app.log(f"emergency stop pressed by {user}")
                self._json(HTTPStatus.OK, app.link.estop(user))
            elif path == "/api/estop/reset":
                app.log(f"emergency stop reset requested by {user}")
                try:
                    self._json(HTTPStatus.OK, app.link.reset_estop(user))
                except LinkError as exc:
                    raise _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc)) from None
            else:
                raise _error(HTTPStatus.NOT_FOUND, "not found")

        def _strings(self) -> None:
            """The page's texts in the asked language (carebot.dashboard.locale)."""
            try:
                self._json(HTTPStatus.OK, app.locale.strings(urlsplit(self.path).query))
            except ValueError as exc:
                raise _error(HTTPStatus.BAD_REQUEST, str(exc)) from None

        def _cookie(self, value: str, max_age: int) -> str:
            secure = "; Secure" if app.secure_cookie else ""
            return f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

        def _login(self, body: dict) -> None:
            user, password = str(body.get("user", "")), str(body.get("password", ""))
            client = self.client_address[0]
            wait = app.auth.blocked_for(user, client)
            if wait > 0:
                raise _error(HTTPStatus.TOO_MANY_REQUESTS, f"too many failed logins; try again in {wait:.0f} s")
            token = app.auth.login(user, password, client)
            if token is None:
                app.log(f"failed login for {user!r} from {client}")
                raise _error(HTTPStatus.UNAUTHORIZED, "wrong name or password")
            app.log(f"{user} logged in from {client}")
            self._json(HTTPStatus.OK, {"user": user},
                       {"Set-Cookie": self._cookie(token, int(app.auth.session_s))})

        def _ask(self, user: str, body: dict) -> dict:
            text = str(body.get("text", "")).strip()
            if not text:
                raise _error(HTTPStatus.BAD_REQUEST, "type a question first")
            if len(text) > MAX_CHAT_CHARS:
                raise _error(HTTPStatus.BAD_REQUEST, f"at most {MAX_CHAT_CHARS} characters")
            app.store.add_transcript(TranscriptEntry(app.clock(), text, source=f"chat:{user}", speaker=user))
            try:
                answer = app.link.ask(text, user)
            except LinkError as exc:
                raise _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc)) from None
            app.store.add_transcript(TranscriptEntry(app.clock(), answer.get("reply", ""),
                                                     source=f"robot:{answer.get('source', '')}",
                                                     speaker="robot"))
            return answer

    return Handler


class DashboardServer:
    """The HTTP server in its own thread; ``port=0`` picks a free port."""

    def __init__(self, app: DashboardApp, host: str = "127.0.0.1", port: int = 8080,
                 handler_factory: Callable[[DashboardApp], type[BaseHTTPRequestHandler]] = make_handler):
        # handler_factory: the fleet view (carebot.fleet.web) serves its own page and routes on
        # top of this handler's login, sessions and alert actions.
        self._httpd = ThreadingHTTPServer((host, port), handler_factory(app))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="dashboard-http",
                                        kwargs={"poll_interval": 0.2}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host}:{self.port}/"

    def start(self) -> "DashboardServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
