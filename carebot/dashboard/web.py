"""The dashboard's HTTP side: a JSON API and one page, on stdlib ``http.server``.

No ROS here: the node hands in an ``AlertBook``, the store, an ``Authenticator`` and a
``RobotLink`` (what the page may ask of the robot: status, chat, emergency stop,
camera frame). The server runs in its own threads, so a slow browser or a slow brain
answer never blocks the node's callbacks.

API (JSON; every route but ``/``, static files, ``/healthz`` and login needs a session
cookie; POSTs must send ``Content-Type: application/json``, which a cross-site form
cannot, and the cookie is SameSite=Strict):

  POST /api/login {user, password}        GET  /api/me         POST /api/logout
  GET  /api/state  alerts, robot status, diagnostics, transcripts, map, camera flag, what you may do
  POST /api/alerts/<id>/acknowledge {note}    POST /api/alerts/<id>/resolve {note}
  POST /api/ask {text}                     POST /api/estop
  POST /api/estop/reset {reason}           (supervisors only; the reason is required)
  GET  /api/camera.jpg  (404 unless the camera view is enabled)
  GET  /api/audit?limit=N&action=A         (supervisors only) logins, e-stop presses, resets
  GET  /api/strings?lang=zh-CN|en   the page's texts (no login: the login form needs them too)

Holding under attack, by class (docs/security.md):

- *Request framing*: one Content-Length of digits only, at most 64 KiB, no
  Transfer-Encoding; anything else is refused at once and the connection closed, so a
  body never stays in the stream to be read as the next request. A GET with a body too.
- *Slow or endless clients*: a request must arrive whole within 10 s of its first byte,
  its head within 16 KiB; a kept-alive connection may idle 15 s; writes time out.
- *Many connections*: at most ``max_connections`` open, ``max_connections_per_client``
  per address; when full, an idle kept-alive connection (or one connected and silent for
  over a second) of the address holding the most makes room, else the newcomer gets 503 at
  once (no thread is started for it).
- *Other sites' pages*: the Host header must name this server (``allowed_hosts`` plus
  loopback: DNS rebinding), changes must come from the page's own origin (Origin,
  Sec-Fetch-Site), the cookies are HttpOnly, SameSite=Strict, and Secure when served
  over TLS or beyond loopback.
- *Guessing passwords*: carebot.dashboard.auth (atomic back-off per client and account,
  trusted devices, at most two password checks at once).
- *Roles*: a staff account cannot release the e-stop or read the audit (403, audited).
"""
from __future__ import annotations

import io
import json
import math
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import _SocketWriter
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from carebot.dashboard.alerts import AlertActionError, AlertBook, StaffAction
from carebot.dashboard.auth import (ACCOUNT_NAME, MAX_PASSWORD_LENGTH, ROLE_ACTIONS, Action, Authenticator,
                                    LoginOutcome, Session, client_key)
from carebot.dashboard.locale import SiteLocale
from carebot.dashboard.store import AuditEvent, DashboardStore, TranscriptEntry

STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE = "carebot_session"
DEVICE_COOKIE = "carebot_device"     # marks a device that logged in to an account before (auth.py)
DEVICE_COOKIE_MAX_AGE = 90 * 86400
MAX_BODY_BYTES = 64 * 1024
MAX_HEAD_BYTES = 16 * 1024           # request line and headers
MAX_CHAT_CHARS = 500
MAX_NOTE_CHARS = 500
MIN_REASON_CHARS = 3
MAX_REASON_CHARS = 200
TRANSCRIPT_LINES = 100
IDLE_CONNECTION_S = 15.0             # a kept-alive connection waiting for its next request
REQUEST_READ_S = 10.0                # from a request's first byte to its last
FIRST_REQUEST_GRACE_S = 1.0          # a new connection's first request is not dropped for room before this
WRITE_TIMEOUT_S = 10.0
TLS_HANDSHAKE_S = 10.0
AUDIT_THROTTLED_EVERY_S = 60.0       # a throttled client is written to the audit at most this often
_DIGITS = re.compile(r"^[0-9]{1,9}$")
_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class LinkError(RuntimeError):
    """The robot could not do what the page asked (service down, timeout)."""


class RobotLink(Protocol):
    """What the page may ask of the robot; the dashboard node implements it over ROS."""

    def status(self) -> dict | None: ...
    def diagnostics(self) -> list[dict]: ...
    def ask(self, text: str, user: str) -> dict: ...
    def estop(self, user: str) -> dict: ...
    def reset_estop(self, user: str, reason: str) -> dict: ...
    def camera_jpeg(self) -> bytes | None: ...


class RequestStats:
    """Requests served and their latency since the last ``take()`` (for diagnostics), and
    the refusals that show an attack: connections turned away, failed and throttled logins."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._since = clock()
        self._latencies: list[float] = []
        self._errors = 0
        self._counts = {"refused_connections": 0, "failed_logins": 0, "throttled_logins": 0, "bad_requests": 0}

    def add(self, seconds: float, failed: bool) -> None:
        with self._lock:
            self._latencies.append(seconds)
            self._errors += int(failed)

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def take(self) -> dict[str, float]:
        """{requests_per_s, latency_p95_ms, latency_max_ms, server_errors, refusals...}; restarts counting."""
        with self._lock:
            now, values, errors = self._clock(), sorted(self._latencies), self._errors
            period, self._since, self._latencies, self._errors = now - self._since, now, [], 0
            counts, self._counts = self._counts, {k: 0 for k in self._counts}
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))] if values else 0.0
        return {"requests_per_s": round(len(values) / period, 2) if period > 0 else 0.0,
                "latency_p95_ms": round(p95 * 1000, 1),
                "latency_max_ms": round((values[-1] if values else 0.0) * 1000, 1),
                "server_errors": errors, **counts}


@dataclass(frozen=True)
class HttpPolicy:
    """Who may reach the page and how (see the module docstring); from the node's parameters."""

    allowed_hosts: tuple[str, ...] = ()          # besides the loopback names
    allowed_origins: tuple[str, ...] = ()        # besides the page's own origin
    tls: ssl.SSLContext | None = None
    max_connections: int = 64
    max_connections_per_client: int = 12


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
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    _throttle_audited: dict = field(default_factory=dict, repr=False)

    def state(self, user: str, may: list[str] | None = None) -> dict:
        since = self.clock() - self.transcript_retention_s
        return {
            "user": user,
            "may": may or [],
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

    def audit(self, actor: str, action: str, client: str = "", detail: str = "", outcome: str = "") -> None:
        """One line in the audit trail; a failure to write it is logged, never raised to the page."""
        try:
            self.store.add_audit(AuditEvent(self.clock(), actor, action, client, detail, outcome))
        except Exception as exc:  # noqa: BLE001 - the action itself already happened
            self.log(f"audit not written ({action} by {actor}): {type(exc).__name__}: {exc}")

    def audit_throttled(self, user: str, client: str, wait_s: float) -> None:
        """Throttled logins are written at most once a minute per client (a flood must not
        become a flood of disk writes)."""
        key, now = client_key(client), time.monotonic()
        if now - self._throttle_audited.get(key, -math.inf) < AUDIT_THROTTLED_EVERY_S:
            return
        if len(self._throttle_audited) > 10_000:
            self._throttle_audited.clear()
        self._throttle_audited[key] = now
        self.audit(user if ACCOUNT_NAME.match(user) else "(not a name)", "login_throttled", client,
                   f"wait {wait_s:.0f} s", "refused")


class _Reply(Exception):
    """Raised inside a route to answer at once with a status and a JSON body."""

    def __init__(self, status: HTTPStatus, body: dict, close: bool = False, headers: dict | None = None):
        super().__init__(body.get("error", ""))
        self.status = status
        self.body = body
        self.close = close
        self.headers = headers or {}


def _error(status: HTTPStatus, message: str, close: bool = False, **headers: str) -> _Reply:
    return _Reply(status, {"error": message}, close, {k.replace("_", "-"): v for k, v in headers.items()})


class _HeadTooLarge(Exception):
    """The request line and headers went over MAX_HEAD_BYTES."""


# ------------------------------------------------------------------ connections
class _Connection:
    """One open connection: its socket, client and whether it idles between requests."""

    __slots__ = ("key", "sock", "client", "idle", "opened", "idle_since", "silent")

    def __init__(self, sock, client: str):
        self.key, self.sock, self.client = id(sock), sock, client
        self.idle, self.opened, self.idle_since = False, time.monotonic(), time.monotonic()
        self.silent = True            # no byte of a first request yet

    def may_go(self, now: float) -> bool:
        """Kept alive and idle between requests, or connected and silent past the grace: a
        client that has just connected is about to send its request, and dropping it then
        loses that request (a browser sends it within milliseconds)."""
        return self.idle or (self.silent and now - self.opened > FIRST_REQUEST_GRACE_S)

    def evict(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)     # its thread's read returns: the connection ends
        except OSError:
            pass


class ConnectionTable:
    """Open connections, capped in total and per client (see the module docstring)."""

    def __init__(self, max_total: int, max_per_client: int):
        self.max_total, self.max_per_client = max_total, max_per_client
        self._lock = threading.Lock()
        self._open: dict[int, _Connection] = {}

    def admit(self, sock, client: str) -> _Connection | None:
        """A record for a new connection, making room if needed; None: refuse it."""
        with self._lock:
            now = time.monotonic()
            mine = [c for c in self._open.values() if c.client == client]
            victim = None
            if len(mine) >= self.max_per_client:
                victim = min((c for c in mine if c.may_go(now)), key=lambda c: c.idle_since, default=None)
                if victim is None:
                    return None
            elif len(self._open) >= self.max_total:
                counts: dict[str, int] = {}
                for c in self._open.values():
                    counts[c.client] = counts.get(c.client, 0) + 1
                idle = [c for c in self._open.values() if c.may_go(now)]
                if not idle:
                    return None
                victim = max(idle, key=lambda c: (counts[c.client], -c.idle_since))
            if victim is not None:
                del self._open[victim.key]
                victim.evict()
            conn = _Connection(sock, client)
            self._open[id(sock)] = conn
            return conn

    def get(self, sock) -> _Connection | None:
        with self._lock:
            return self._open.get(id(sock))

    def release(self, sock) -> None:
        with self._lock:
            self._open.pop(id(sock), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)


class _DeadlineReader(io.RawIOBase):
    """A connection's input with a per-request deadline and byte budget.

    Between requests the connection may idle ``IDLE_CONNECTION_S``; from a request's first
    byte it has ``REQUEST_READ_S`` for all of it, and its head may be ``MAX_HEAD_BYTES``.
    The body's budget is its declared length.
    """

    def __init__(self, sock, conn: _Connection | None):
        super().__init__()
        self._sock, self._conn = sock, conn
        self._deadline = math.inf
        self._budget = math.inf
        self._started = False
        self._served = 0          # requests begun on this connection

    def next_request(self) -> None:
        self._started = False
        self._deadline = time.monotonic() + IDLE_CONNECTION_S
        self._budget = MAX_HEAD_BYTES
        if self._conn is not None and self._served:      # kept alive after a request: idle
            self._conn.idle, self._conn.idle_since = True, time.monotonic()
        self._served += 1

    def allow_body(self, length: int) -> None:
        self._budget = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._budget <= 0:
            raise _HeadTooLarge()
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request not received in time")
        self._sock.settimeout(left)
        view = memoryview(buffer)
        view = view[:int(min(len(view), self._budget))]
        n = self._sock.recv_into(view)
        if n and not self._started:
            self._started = True
            self._deadline = time.monotonic() + REQUEST_READ_S
            if self._conn is not None:
                self._conn.idle, self._conn.silent = False, False
        self._budget -= n
        return n


# ------------------------------------------------------------------ hosts and origins
def _split_host(value: str) -> tuple[str, int | None] | None:
    """(name, port) of a Host header value, or None when malformed."""
    value = value.strip()
    match = re.match(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?$", value)
    if not match:
        return None
    name = match.group(1).strip("[]").lower().rstrip(".")
    return name, int(match.group(2)) if match.group(2) else None


def _is_loopback_name(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _origin_key(origin: str) -> str:
    """scheme://host:port of an origin, with the scheme's default port written out."""
    parts = urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.username:
        return ""
    port = port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host.lower()}:{port}"


# ------------------------------------------------------------------ the handler
def make_handler(app: DashboardApp) -> type[BaseHTTPRequestHandler]:
    static = {path.name: path.read_bytes() for path in STATIC_DIR.iterdir() if path.is_file()}
    extra_origins = {_origin_key(o) for o in app.policy.allowed_origins} - {""}
    allowed_names = {h.strip("[]").lower().rstrip(".") for h in app.policy.allowed_hosts}
    extra_ports = {int(o.rsplit(":", 1)[1]) for o in extra_origins}

    class Handler(BaseHTTPRequestHandler):
        server_version = "carebot-dashboard"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # route to the node's logger
            app.log(f"{self.client_address[0]} {fmt % args}")

        # ------------------------------------------------------------ connection plumbing
        def setup(self) -> None:
            conn = getattr(self.server, "connections", None)
            self._conn = conn.get(self.request) if conn is not None else None
            if app.policy.tls is not None:
                # The handshake happens here, in this connection's thread, with a deadline:
                # a client that never finishes it holds one capped connection, not the server.
                self.request.settimeout(TLS_HANDSHAKE_S)
                self.request = app.policy.tls.wrap_socket(self.request, server_side=True,
                                                          do_handshake_on_connect=False)
                self.request.do_handshake()
                if self._conn is not None:
                    self._conn.sock = self.request      # eviction shuts the TLS socket down
            self.connection = self.request
            self._reader = _DeadlineReader(self.connection, self._conn)
            self.rfile = io.BufferedReader(self._reader, 8192)
            self.wfile = _SocketWriter(self.connection)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                if app.policy.tls is not None:
                    try:
                        self.connection.close()
                    except OSError:
                        pass

        def handle_one_request(self) -> None:
            self._reader.next_request()
            self._cookies_out: list[str] = []
            self._body_pending = False
            self._declared = 0
            self._session_seen: Session | None = None
            try:
                super().handle_one_request()
            except _HeadTooLarge:
                self.close_connection = True
                self._raw(b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
                          b"Content-Length: 0\r\n\r\n")
            except (ConnectionError, ssl.SSLError, OSError):
                self.close_connection = True       # the client went, or was evicted for room

        def _raw(self, data: bytes) -> None:
            try:
                self.connection.settimeout(WRITE_TIMEOUT_S)
                self.connection.sendall(data)
            except OSError:
                pass

        def _send(self, status: HTTPStatus, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.connection.settimeout(WRITE_TIMEOUT_S)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in {**_SECURITY_HEADERS, **(headers or {})}.items():
                self.send_header(key, value)
            for cookie in self._cookies_out:
                self.send_header("Set-Cookie", cookie)
            if self._body_pending:                  # answered without reading the body: it must not
                self.close_connection = True        # be read as the next request
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: HTTPStatus, body: dict, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode("utf-8"), "application/json",
                       {"Cache-Control": "no-store", **(headers or {})})

        # ------------------------------------------------------------ request checks
        def _client(self) -> str:
            return self.client_address[0] if self.client_address else ""

        def _check_host(self) -> None:
            hosts = self.headers.get_all("Host") or []
            if len(hosts) != 1:
                raise _error(HTTPStatus.BAD_REQUEST, "exactly one Host header is required", close=True)
            parsed = _split_host(hosts[0])
            if parsed is None:
                raise _error(HTTPStatus.BAD_REQUEST, "malformed Host header", close=True)
            name, port = parsed
            if not (_is_loopback_name(name) or name in allowed_names):
                raise _error(HTTPStatus.MISDIRECTED_REQUEST, "this server does not serve that host name", close=True)
            if port is not None and port != self.server.server_address[1] and port not in extra_ports:
                raise _error(HTTPStatus.MISDIRECTED_REQUEST, "this server does not serve that port", close=True)

        def _check_framing(self) -> int:
            """The body length this request declares (0: none); refuses every other framing."""
            if self.headers.get_all("Transfer-Encoding"):
                raise _error(HTTPStatus.NOT_IMPLEMENTED, "Transfer-Encoding is not accepted; send Content-Length",
                             close=True)
            lengths = self.headers.get_all("Content-Length") or []
            if not lengths:
                return 0
            if len(lengths) != 1 or not _DIGITS.match(lengths[0].strip()):
                raise _error(HTTPStatus.BAD_REQUEST, "bad Content-Length", close=True)
            length = int(lengths[0].strip())
            if length > MAX_BODY_BYTES:
                raise _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large", close=True)
            if length and self.command in ("GET", "HEAD"):
                raise _error(HTTPStatus.BAD_REQUEST, "a GET has no body", close=True)
            self._body_pending = length > 0
            return length

        def _check_origin(self) -> None:
            """Changes only from the page's own origin (or one the site allows)."""
            site = self.headers.get("Sec-Fetch-Site", "").strip().lower()
            if site in ("cross-site", "same-site"):
                raise _error(HTTPStatus.FORBIDDEN, "cross-site request refused")
            origin = self.headers.get("Origin")
            if origin is None:
                return                          # not a browser request (browsers send Origin on POST)
            key = _origin_key(origin)
            host = self.headers.get("Host", "")
            schemes = ("https",) if (app.policy.tls is not None or app.secure_cookie) else ("http",)
            own = {_origin_key(f"{scheme}://{host}") for scheme in schemes}
            if not key or key not in own | extra_origins:
                raise _error(HTTPStatus.FORBIDDEN, "request from another origin refused")

        def _cookie(self, name: str) -> str | None:
            cookie = SimpleCookie()
            try:
                for header in self.headers.get_all("Cookie") or []:
                    cookie.load(header)
            except (CookieError, ValueError):       # a malformed cookie header is just no session
                return None
            morsel = cookie.get(name)
            return morsel.value if morsel else None

        def _token(self) -> str | None:
            return self._cookie(COOKIE)

        def _session(self) -> Session:
            if self._session_seen is None:
                session = app.auth.session(self._token())
                if session is None:
                    raise _error(HTTPStatus.UNAUTHORIZED, "login required")
                if session.refreshed:               # the idle expiry moved: the cookie follows
                    self._cookies_out.append(self._session_cookie(self._token(),
                                                                  session.cookie_max_age(app.clock())))
                self._session_seen = session
            return self._session_seen

        def _user(self) -> str:
            return self._session().user

        def _require(self, action: Action) -> Session:
            session = self._session()
            if not session.may(action):
                app.audit(session.user, "denied", self._client(), action.value, "refused")
                raise _error(HTTPStatus.FORBIDDEN, f"a {session.role.value} account may not do this "
                                                   f"({action.value}); ask a supervisor")
            return session

        def _body(self) -> dict:
            if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
                raise _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
            length = self._declared
            self._reader.allow_body(length)
            try:
                raw = self.rfile.read(length) if length else b"{}"
            except TimeoutError:
                raise _error(HTTPStatus.REQUEST_TIMEOUT, "request body not received in time", close=True) from None
            self._body_pending = False
            if len(raw) != length:
                raise _error(HTTPStatus.BAD_REQUEST, "request body shorter than its Content-Length", close=True)
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise _error(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
            if not isinstance(data, dict):
                raise _error(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return data

        def _dispatch(self, routes: Callable[[str], None]) -> None:
            path = urlsplit(self.path).path
            started, failed = time.monotonic(), False
            try:
                self._check_host()
                self._declared = self._check_framing()
                routes(path)
            except _Reply as reply:
                if reply.status >= 400:
                    app.stats.count("bad_requests")
                if reply.close:
                    self.close_connection = True
                self._json(reply.status, reply.body, reply.headers)
            except Exception as exc:  # a bug must not kill the server thread silently
                failed = True
                app.log(f"error on {self.command} {path}: {type(exc).__name__}: {exc}")
                self.close_connection = self.close_connection or self._body_pending
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
            finally:
                app.stats.add(time.monotonic() - started, failed)

        # ------------------------------------------------------------ routes
        def do_GET(self) -> None:
            self._dispatch(self._get)

        def do_HEAD(self) -> None:
            self._dispatch(self._get)

        def do_POST(self) -> None:
            self._dispatch(self._checked_post)

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
                session = self._session()
                self._json(HTTPStatus.OK, _me(session))
            elif path == "/api/state":
                session = self._require(Action.VIEW)
                self._json(HTTPStatus.OK, app.state(session.user, _me(session)["may"]))
            elif path == "/api/camera.jpg":
                self._require(Action.CAMERA)
                if not app.camera_enabled:
                    raise _error(HTTPStatus.NOT_FOUND, "camera view is disabled in config")
                frame = app.link.camera_jpeg()
                if frame is None:
                    raise _error(HTTPStatus.SERVICE_UNAVAILABLE, "no debug image received yet")
                self._send(HTTPStatus.OK, frame, "image/jpeg", {"Cache-Control": "no-store"})
            elif path == "/api/audit":
                self._require(Action.AUDIT)
                query = parse_qs(urlsplit(self.path).query)
                try:
                    limit = max(1, min(1000, int(query.get("limit", ["200"])[0])))
                except ValueError:
                    raise _error(HTTPStatus.BAD_REQUEST, "limit must be a number") from None
                action = query.get("action", [""])[0][:32]
                self._json(HTTPStatus.OK, {"events": [e.to_json() for e in app.store.audit_events(limit,
                                                                                                  action=action)]})
            else:
                raise _error(HTTPStatus.NOT_FOUND, "not found")

        def _strings(self) -> None:
            """The page's texts in the asked language (carebot.dashboard.locale)."""
            try:
                self._json(HTTPStatus.OK, app.locale.strings(urlsplit(self.path).query))
            except ValueError as exc:
                raise _error(HTTPStatus.BAD_REQUEST, str(exc)) from None

        def _checked_post(self, path: str) -> None:
            self._check_origin()
            self._post(path)

        def _post(self, path: str) -> None:
            if path == "/api/login":
                self._login(self._body())
                return
            if path == "/api/logout":
                session = app.auth.session(self._token())
                app.auth.logout(self._token())
                if session is not None:
                    app.audit(session.user, "logout", self._client(), outcome="ok")
                self._cookies_out.append(self._session_cookie("", 0))
                self._json(HTTPStatus.OK, {"ok": True})
                return
            self._session()                     # 401 before reading a stranger's body
            body = self._body()
            if path.startswith("/api/alerts/"):
                alert_id, _, verb = unquote(path[len("/api/alerts/"):]).rpartition("/")
                actions = {"acknowledge": StaffAction.ACKNOWLEDGE, "resolve": StaffAction.RESOLVE}
                if verb not in actions or not alert_id:
                    raise _error(HTTPStatus.NOT_FOUND, "use /api/alerts/<id>/acknowledge or /resolve")
                user = self._require(Action(verb)).user
                note = _text(body, "note", MAX_NOTE_CHARS, multiline=True)
                try:
                    record = app.book.act(alert_id, actions[verb], user, note)
                except AlertActionError as exc:
                    raise _error(HTTPStatus.CONFLICT, str(exc)) from None
                app.log(f"{user} {verb}d alert {alert_id}")
                self._json(HTTPStatus.OK, {"alert": record.to_json()})
            elif path == "/api/ask":
                self._json(HTTPStatus.OK, self._ask(self._require(Action.CHAT).user, body))
            elif path == "/api/estop":
                user = self._require(Action.ESTOP).user
                app.log(f"emergency stop pressed by {user}")
                result = app.link.estop(user)
                app.audit(user, "estop", self._client(), str(result.get("message", ""))[:200],
                          "confirmed" if result.get("service_ok") else "published")
                self._json(HTTPStatus.OK, result)
            elif path == "/api/estop/reset":
                self._reset_estop(body)
            else:
                raise _error(HTTPStatus.NOT_FOUND, "not found")

        def _reset_estop(self, body: dict) -> None:
            user = self._require(Action.RESET_ESTOP).user
            reason = " ".join(_text(body, "reason", MAX_REASON_CHARS).split())
            if len(reason) < MIN_REASON_CHARS:
                raise _error(HTTPStatus.BAD_REQUEST, "say why it is safe to move again (reason)")
            app.log(f"emergency stop reset requested by {user}")
            try:
                result = app.link.reset_estop(user, reason)
            except LinkError as exc:
                app.audit(user, "estop_reset", self._client(), reason, f"unavailable: {exc}"[:200])
                raise _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc)) from None
            app.audit(user, "estop_reset", self._client(), reason,
                      "ok" if result.get("ok") else f"refused: {result.get('message', '')}"[:200])
            self._json(HTTPStatus.OK, result)

        def _session_cookie(self, value: str, max_age: int) -> str:
            secure = "; Secure" if (app.secure_cookie or app.policy.tls is not None) else ""
            return f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

        def _device_cookie(self, value: str) -> str:
            secure = "; Secure" if (app.secure_cookie or app.policy.tls is not None) else ""
            return (f"{DEVICE_COOKIE}={value}; Path=/api/login; Max-Age={DEVICE_COOKIE_MAX_AGE}; HttpOnly; "
                    f"SameSite=Strict{secure}")

        def _login(self, body: dict) -> None:
            user = _text(body, "user", 64)
            password = body.get("password", "")
            if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
                raise _error(HTTPStatus.BAD_REQUEST, f"password must be text of at most {MAX_PASSWORD_LENGTH} "
                                                     "characters")
            client = self._client()
            if not ACCOUNT_NAME.match(user):
                app.stats.count("failed_logins")
                raise _error(HTTPStatus.UNAUTHORIZED, "wrong name or password")
            result = app.auth.login(user, password, client, self._cookie(DEVICE_COOKIE))
            if result.outcome is LoginOutcome.THROTTLED:
                app.stats.count("throttled_logins")
                app.audit_throttled(user, client, result.wait_s)
                wait = max(1, math.ceil(result.wait_s))
                raise _error(HTTPStatus.TOO_MANY_REQUESTS, f"too many failed logins; try again in {wait} s",
                             Retry_After=str(wait))
            if result.outcome is LoginOutcome.BUSY:
                raise _error(HTTPStatus.SERVICE_UNAVAILABLE, "busy checking other logins; try again",
                             Retry_After="1")
            if result.outcome is LoginOutcome.WRONG:
                app.stats.count("failed_logins")
                app.log(f"failed login for {user!r} from {client}")
                app.audit(user, "login_failed", client, outcome="refused")
                raise _error(HTTPStatus.UNAUTHORIZED, "wrong name or password")
            app.log(f"{user} logged in from {client}")
            app.audit(user, "login", client, outcome="ok")
            self._cookies_out.append(self._session_cookie(result.token, result.session.cookie_max_age(app.clock())))
            if result.device_token:
                self._cookies_out.append(self._device_cookie(result.device_token))
            self._json(HTTPStatus.OK, _me(result.session))

        def _ask(self, user: str, body: dict) -> dict:
            text = _text(body, "text", MAX_CHAT_CHARS, multiline=True).strip()
            if not text:
                raise _error(HTTPStatus.BAD_REQUEST, "type a question first")
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


def _me(session: Session) -> dict:
    return {"user": session.user, "role": session.role.value,
            "may": sorted(action.value for action in ROLE_ACTIONS[session.role])}


def _text(body: dict, key: str, limit: int, multiline: bool = False) -> str:
    """A text field of a request body: a string, at most ``limit`` characters, encodable,
    without control characters (newlines and tabs only where ``multiline``)."""
    value = body.get(key, "")
    if not isinstance(value, str):
        raise _error(HTTPStatus.BAD_REQUEST, f"{key} must be text")
    if len(value) > limit:
        raise _error(HTTPStatus.BAD_REQUEST, f"{key}: at most {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _error(HTTPStatus.BAD_REQUEST, f"{key} is not valid text") from None
    allowed = "\n\t" if multiline else ""
    if any((ord(c) < 32 and c not in allowed) or ord(c) == 127 for c in value):
        raise _error(HTTPStatus.BAD_REQUEST, f"{key} has control characters")
    return value


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with the connection caps: a refused connection gets a short 503 and
    never a thread."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, handler, app: DashboardApp):
        self.app = app
        self.connections = ConnectionTable(app.policy.max_connections, app.policy.max_connections_per_client)
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        if self.connections.admit(request, client_key(client_address[0])) is None:
            self.app.stats.count("refused_connections")
            if self.app.policy.tls is None:
                try:
                    request.settimeout(0.2)
                    request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n"
                                    b"Content-Type: application/json\r\nContent-Length: 30\r\n\r\n"
                                    b'{"error": "too many requests"}')
                except OSError:
                    pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release(request)

    def handle_error(self, request, client_address) -> None:
        import sys

        exc = sys.exc_info()[1]
        self.app.log(f"connection from {client_address[0]} ended: {type(exc).__name__}: {exc}")


class DashboardServer:
    """The HTTP(S) server in its own thread; ``port=0`` picks a free port.

    ``handler_factory(app)`` makes the request handler class (default: ``make_handler``);
    another view (the fleet's) adds its routes on top of the dashboard's.
    """

    def __init__(self, app: DashboardApp, host: str = "127.0.0.1", port: int = 8080,
                 handler_factory: Callable[[DashboardApp], type[BaseHTTPRequestHandler]] = make_handler):
        self._app = app
        self._httpd = _Server((host, port), handler_factory(app), app)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="dashboard-http",
                                        kwargs={"poll_interval": 0.2}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self._app.policy.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}/"

    @property
    def open_connections(self) -> int:
        return len(self._httpd.connections)

    def start(self) -> "DashboardServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
