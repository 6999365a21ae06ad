"""Attacks on the dashboard through real HTTP on this machine's loopback (docs/security.md).

Clients come from different loopback addresses (127.0.0.2, .3, ...): all of 127.0.0.0/8
reaches the server, and each is a different client to it. The robot side is the recorded
stand-in of test_dashboard_web.py (named as such); passwords are checked at the production
scrypt cost (1-4 s a check on this machine).
"""
import http.client
import json
import os
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest

from carebot.dashboard import auth, web
from carebot.dashboard.alerts import AlertBook
from carebot.dashboard.parameters import DASHBOARD
from carebot.dashboard.store import DashboardStore
from carebot.dashboard.web import DashboardApp, DashboardServer, HttpPolicy

from test_dashboard_web import HASH, RecordedLink

GOOD = {"user": "nurse", "password": "password1"}
ACCOUNTS = [f"nurse:{HASH}", f"anna:supervisor:{HASH}"]


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


@pytest.fixture()
def site(tmp_path):
    """A running dashboard with small connection caps; yields a namespace of its parts."""
    made = []

    def make(policy=HttpPolicy(allowed_hosts=("nurse-station.example",), max_connections=8,
                               max_connections_per_client=4), clock=None, secure_cookie=False, **auth_kw):
        store = DashboardStore(tmp_path / f"db{len(made)}.sqlite3")
        link = RecordedLink()
        kw = {"clock": clock} if clock else {}
        authenticator = auth.Authenticator(auth.parse_accounts(ACCOUNTS), store, 600.0, **kw, **auth_kw)
        app = DashboardApp(book=AlertBook(store), store=store, auth=authenticator, link=link, policy=policy,
                           secure_cookie=secure_cookie, **kw)
        server = DashboardServer(app, "127.0.0.1", 0).start()
        made.append((server, store))

        class Site:
            pass
        s = Site()
        s.server, s.app, s.store, s.link, s.port = server, app, store, link, server.port
        return s
    yield make
    for server, store in made:
        server.stop()
        store.close()


def _conn(site, source="127.0.0.2", timeout=15.0):
    return http.client.HTTPConnection("127.0.0.1", site.port, timeout=timeout, source_address=(source, 0))


def _call(site, method, path, body=None, headers=None, source="127.0.0.2", conn=None):
    conn = conn or _conn(site, source)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    raw = response.read()
    return response.status, (json.loads(raw) if raw.startswith(b"{") else raw), response


def _cookie(response) -> str:
    return "; ".join(v.split(";")[0] for k, v in response.getheaders() if k.lower() == "set-cookie")


def _login(site, source="127.0.0.2", user="nurse", extra_cookie=""):
    status, body, response = _call(site, "POST", "/api/login", {"user": user, "password": "password1"},
                                   {"Cookie": extra_cookie} if extra_cookie else None, source)
    assert status == 200, body
    return _cookie(response)


def _raw(site, data: bytes, source="127.0.0.2", read_timeout=5.0) -> tuple[bytes, float]:
    """Send raw bytes; (everything the server answered until it closed, seconds it took)."""
    sock = socket.create_connection(("127.0.0.1", site.port), timeout=read_timeout, source_address=(source, 0))
    started = time.monotonic()
    sock.sendall(data)
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout:
        chunks.append(b"<still open>")
    except ConnectionResetError:
        chunks.append(b"<reset>")
    finally:
        sock.close()
    return b"".join(chunks), time.monotonic() - started


def _head(site, lines: list[str]) -> bytes:
    return ("\r\n".join([*lines, f"Host: 127.0.0.1:{site.port}", "", ""])).encode()


# ------------------------------------------------------------------ request framing
@pytest.mark.parametrize("length", ["-1", "+5", "5_0", "0x10", "1e3", "99999999999", "12, 12"])
def test_a_bad_content_length_is_refused_at_once_and_the_connection_closed(site, length):
    s = site()
    answer, seconds = _raw(s, _head(s, ["POST /api/login HTTP/1.1", "Content-Type: application/json",
                                        f"Content-Length: {length}"]))
    assert answer.startswith(b"HTTP/1.1 400") and b"Connection: close" in answer and b"<still open>" not in answer
    assert seconds < 2.0


def test_two_lengths_a_chunked_body_and_a_get_body_are_refused(site):
    s = site()
    for lines, code in ((["Content-Length: 5", "Content-Length: 6"], b"400"),
                        (["Transfer-Encoding: chunked"], b"501"),
                        (["Content-Length: 5", "Transfer-Encoding: chunked"], b"501")):
        answer, _ = _raw(s, _head(s, ["POST /api/login HTTP/1.1", "Content-Type: application/json", *lines]))
        assert answer.startswith(b"HTTP/1.1 " + code) and b"<still open>" not in answer, lines
    answer, _ = _raw(s, _head(s, ["GET /healthz HTTP/1.1", "Content-Length: 5"]) + b"hello")
    assert answer.startswith(b"HTTP/1.1 400")


def test_a_huge_body_is_refused_before_it_is_read(site):
    s = site()
    rss_before = _rss_kib()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5, source_address=("127.0.0.2", 0))
    sock.sendall(_head(s, ["POST /api/login HTTP/1.1", "Content-Type: application/json",
                           f"Content-Length: {200 * 1024 * 1024}"]))
    answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    sent = 0
    try:                                     # keep streaming: the server has stopped reading
        for _ in range(200):
            sock.sendall(b"x" * 1024 * 1024)
            sent += 1
    except OSError:
        pass
    sock.close()
    assert sent < 200 and _rss_kib() - rss_before < 64 * 1024     # not the 400 MiB of the issue


def _rss_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_an_unread_body_is_never_read_as_the_next_request(site):
    """A request smuggled in the body of a refused one gets no answer: one response, then close."""
    s = site()
    smuggled = _head(s, ["GET /api/state HTTP/1.1"])
    data = _head(s, ["POST /api/estop HTTP/1.1", "Content-Type: text/plain", f"Content-Length: {len(smuggled)}"])
    answer, _ = _raw(s, data + smuggled)
    assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize("body", [b"[" * 30000 + b"]" * 30000, b'{"user": "\\ud800", "password": "x"}',
                                  b'{"user": ["nurse"], "password": "x"}', b'{"user": "nurse", "password": 7}',
                                  b"\xff\xfe", b'"just a string"'])
def test_malformed_json_is_a_clear_400_not_a_crash(site, body):
    s = site()
    conn = _conn(s)
    conn.request("POST", "/api/login", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status in (400, 401) and b"error" in response.read()
    assert s.app.stats.take()["server_errors"] == 0


# ------------------------------------------------------------------ slow clients, many connections
def test_slow_headers_are_cut_off_and_others_are_served_meanwhile(site, monkeypatch):
    monkeypatch.setattr(web, "REQUEST_READ_S", 1.5)
    s = site()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10, source_address=("127.0.0.2", 0))
    started = time.monotonic()
    closed_after = None
    for _ in range(20):                       # one header byte every 0.3 s: slowloris
        try:
            sock.sendall(b"G")
            if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                closed_after = time.monotonic() - started
                break
        except BlockingIOError:
            pass
        except OSError:
            closed_after = time.monotonic() - started
            break
        assert _call(s, "GET", "/healthz", source="127.0.0.3")[0] == 200 if _ == 1 else True
        time.sleep(0.3)
    sock.close()
    assert closed_after is not None and closed_after < 3.5


def test_a_slow_body_gets_408(site, monkeypatch):
    monkeypatch.setattr(web, "REQUEST_READ_S", 1.0)
    s = site()
    head = _head(s, ["POST /api/login HTTP/1.1", "Content-Type: application/json", "Content-Length: 100"])
    answer, seconds = _raw(s, head + b'{"user"', read_timeout=5)
    assert answer.startswith(b"HTTP/1.1 408") and seconds < 3


def test_an_oversized_head_is_refused(site):
    s = site()
    lines = ["GET /healthz HTTP/1.1"] + [f"X-Pad-{i}: {'a' * 1000}" for i in range(20)]
    answer, _ = _raw(s, _head(s, lines))
    assert answer.startswith(b"HTTP/1.1 431")


def test_one_client_cannot_take_every_connection(site):
    s = site()          # at most 8 connections, 4 per client
    hogs = [socket.create_connection(("127.0.0.1", s.port), source_address=("127.0.0.2", 0)) for _ in range(12)]
    time.sleep(0.3)
    assert s.server.open_connections <= 4
    assert _call(s, "GET", "/healthz", source="127.0.0.3")[0] == 200
    for hog in hogs:
        hog.close()


def test_many_clients_holding_idle_connections_make_room_for_a_new_one(site):
    s = site()
    hogs = [socket.create_connection(("127.0.0.1", s.port), source_address=(f"127.0.1.{i}", 0)) for i in range(1, 9)]
    time.sleep(0.3)
    assert s.server.open_connections == 8
    # Just connected: each may be about to send its request, so none is dropped yet ...
    assert _call(s, "GET", "/healthz", source="127.0.0.3")[0] == 503
    time.sleep(web.FIRST_REQUEST_GRACE_S)
    assert _call(s, "GET", "/healthz", source="127.0.0.3")[0] == 200         # ... silent past the grace: dropped
    for hog in hogs:
        hog.close()


def test_when_every_connection_is_busy_a_newcomer_gets_503_at_once(site):
    s = site()
    busy = []
    for i in range(1, 9):                     # each mid-request (a first byte sent): not idle
        sock = socket.create_connection(("127.0.0.1", s.port), source_address=(f"127.0.2.{i}", 0))
        sock.sendall(b"GET /heal")
        busy.append(sock)
    time.sleep(0.3)
    answer, seconds = _raw(s, _head(s, ["GET /healthz HTTP/1.1"]), source="127.0.0.3")
    assert answer.startswith(b"HTTP/1.1 503") and seconds < 1.0
    assert s.app.stats.take()["refused_connections"] >= 1
    for sock in busy:
        sock.close()


# ------------------------------------------------------------------ other sites' pages
@pytest.mark.parametrize("host, code", [("evil.example", 421), ("evil.example:{port}", 421),
                                        ("127.0.0.1:1", 421), ("nurse-station.example:{port}", 200),
                                        ("localhost:{port}", 200), ("NURSE-STATION.example.:{port}", 200),
                                        ("a b", 400)])
def test_host_names_outside_the_allow_list_are_refused(site, host, code):
    s = site()
    conn = _conn(s)
    conn.putrequest("GET", "/healthz", skip_host=True)
    conn.putheader("Host", host.format(port=s.port))
    conn.endheaders()
    assert conn.getresponse().status == code


def test_no_host_or_two_hosts_are_refused(site):
    s = site()
    assert _raw(s, b"GET /healthz HTTP/1.1\r\n\r\n")[0].startswith(b"HTTP/1.1 400")
    answer, _ = _raw(s, _head(s, ["GET /healthz HTTP/1.1", "Host: evil.example"]))
    assert answer.startswith(b"HTTP/1.1 400")


def test_changes_only_from_the_pages_own_origin(site):
    s = site()
    cookie = _login(s)
    own = f"http://127.0.0.1:{s.port}"
    for headers, code in (({"Origin": "http://evil.example"}, 403), ({"Origin": "null"}, 403),
                          ({"Origin": f"https://127.0.0.1:{s.port}"}, 403),       # another scheme
                          ({"Origin": f"http://127.0.0.1:{s.port + 1}"}, 403),    # another port
                          ({"Sec-Fetch-Site": "cross-site"}, 403), ({"Sec-Fetch-Site": "same-site"}, 403),
                          ({"Origin": own, "Sec-Fetch-Site": "same-origin"}, 200), ({}, 200)):
        assert _call(s, "POST", "/api/estop", {}, {"Cookie": cookie, **headers})[0] == code, headers
    status, _, _ = _call(s, "POST", "/api/estop", {}, {"Cookie": cookie, "Content-Type": "text/plain"})
    assert status == 415                                                           # a form cannot send JSON
    status, _, _ = _call(s, "POST", "/api/login", GOOD, {"Origin": "http://evil.example"}, source="127.0.0.4")
    assert status == 403                                                           # login CSRF too


# ------------------------------------------------------------------ guessing passwords
def test_seven_wrong_guesses_from_one_address_do_not_lock_out_the_nurse_at_another(site):
    s = site()
    codes = [_call(s, "POST", "/api/login", {"user": "nurse", "password": f"guess{i}"}, source="127.0.0.2")[0]
             for i in range(7)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    started = time.monotonic()
    status, body, _ = _call(s, "POST", "/api/login", GOOD, source="127.0.0.3")
    assert status == 200 and body["user"] == "nurse" and time.monotonic() - started < 15


def test_parallel_guesses_cannot_race_the_throttle(site, monkeypatch):
    s = site()
    checks = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda p, h: checks.append(1) or real(p, h))
    results = []
    barrier = threading.Barrier(31)

    def guess(i):
        barrier.wait()
        results.append(_call(s, "POST", "/api/login", {"user": "nurse", "password": f"guess{i}"},
                             source="127.0.0.5")[0])

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(31)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checks) <= auth.PER_CLIENT_ACCOUNT.free, results           # the issue measured 31
    assert 200 not in results and results.count(401) == len(checks), (len(results), sorted(results))
    assert set(results) <= {401, 429, 503}


def test_guesses_from_many_addresses_slow_the_account_but_the_nurses_own_tablet_logs_in(site, monkeypatch):
    monkeypatch.setattr(auth, "PER_ACCOUNT", auth.Backoff(free=3, first_s=60.0, max_s=60.0, forget_s=900.0))
    s = site()
    tablet = _login(s, source="127.0.0.2")            # the nurse's tablet: trusted from now on
    device = [c for c in tablet.split("; ") if c.startswith(web.DEVICE_COOKIE)][0]
    for i in range(3):
        assert _call(s, "POST", "/api/login", {"user": "nurse", "password": "guess"}, source=f"127.0.3.{i}")[0] == 401
    status, _, response = _call(s, "POST", "/api/login", GOOD, source="127.0.3.99")     # a new device: waits
    assert status == 429 and int(response.getheader("Retry-After")) >= 1
    assert _call(s, "POST", "/api/login", GOOD, {"Cookie": device}, source="127.0.0.2")[0] == 200


def test_unknown_names_cost_a_password_check_too(site, monkeypatch):
    s = site()
    checks = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda p, h: checks.append(h) or real(p, h))
    assert _call(s, "POST", "/api/login", {"user": "ghost", "password": "password1"})[0] == 401
    assert len(checks) == 1 and auth.hash_problem(checks[0]) is None       # a real hash at the same cost


def test_password_checks_are_capped_and_a_flood_gets_busy(site, monkeypatch):
    s = site(max_checks=1, check_queue_s=0.2)
    gate = threading.Event()
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda p, h: gate.wait(10) and real(p, h))
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        _call(s, "POST", "/api/login", {"user": "nurse", "password": "x"}, source=f"127.0.4.{i}")[0])) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    gate.set()
    for t in threads:
        t.join()
    assert sorted(results) == [401, 503, 503]


# ------------------------------------------------------------------ roles, audit, sessions
def test_only_a_supervisor_releases_the_estop_and_everything_is_audited(site):
    s = site()
    nurse = _login(s, source="127.0.0.2")
    assert _call(s, "POST", "/api/estop", {}, {"Cookie": nurse})[0] == 200
    assert _call(s, "POST", "/api/estop/reset", {"reason": "all clear"}, {"Cookie": nurse})[0] == 403
    assert _call(s, "POST", "/api/login", {"user": "anna", "password": "nope"}, source="127.0.0.3")[0] == 401
    anna = _login(s, source="127.0.0.3", user="anna")
    assert _call(s, "POST", "/api/estop/reset", {}, {"Cookie": anna}, source="127.0.0.3")[0] == 400
    assert _call(s, "POST", "/api/estop/reset", {"reason": "resident seated, path clear"}, {"Cookie": anna},
                 source="127.0.0.3")[0] == 200
    assert s.link.calls[-1] == ("reset", "anna", "resident seated, path clear")
    assert _call(s, "POST", "/api/logout", {}, {"Cookie": anna}, source="127.0.0.3")[0] == 200
    rows = [(e.actor, e.action, e.client, e.detail, e.outcome.split(":")[0]) for e in s.store.audit_events()]
    assert rows == [("nurse", "login", "127.0.0.2", "", "ok"),
                    ("nurse", "estop", "127.0.0.2", "not available", "published"),
                    ("nurse", "denied", "127.0.0.2", "reset_estop", "refused"),
                    ("anna", "login_failed", "127.0.0.3", "", "refused"),
                    ("anna", "login", "127.0.0.3", "", "ok"),
                    ("anna", "estop_reset", "127.0.0.3", "resident seated, path clear", "ok"),
                    ("anna", "logout", "127.0.0.3", "", "ok")]
    assert all(abs(e.at - time.time()) < 120 for e in s.store.audit_events())


def test_a_session_has_an_absolute_end_and_its_cookie_is_refreshed(site):
    clock = Clock()
    s = site(clock=clock, session_max_s=1800.0)
    cookie = _login(s)
    clock.now += 400                                          # past half the idle time: refreshed
    status, _, response = _call(s, "GET", "/api/me", headers={"Cookie": cookie})
    refreshed = response.getheader("Set-Cookie")
    assert status == 200 and "Max-Age=600" in refreshed and "HttpOnly" in refreshed
    for _ in range(3):
        clock.now += 400
        assert _call(s, "GET", "/api/me", headers={"Cookie": cookie})[0] == 200
    clock.now += 400                                          # active all along, 2000 s after the login
    assert _call(s, "GET", "/api/me", headers={"Cookie": cookie})[0] == 401


def test_the_database_is_private(tmp_path):
    store = DashboardStore(tmp_path / "new" / "d.sqlite3")
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "d.sqlite3").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    store.close()
    loose = tmp_path / "loose.sqlite3"
    DashboardStore(loose).close()
    os.chmod(loose, 0o644)
    reopened = DashboardStore(loose)
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o600 and "0644" in reopened.permission_notes[0]
    reopened.close()


# ------------------------------------------------------------------ TLS in the process
@pytest.fixture()
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-days", "2", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def test_https_in_the_process_with_secure_cookies(site, certificate, monkeypatch):
    monkeypatch.setattr(web, "TLS_HANDSHAKE_S", 1.0)
    from carebot.dashboard.parameters import tls_context

    s = site(policy=HttpPolicy(tls=tls_context(*certificate)))
    assert s.server.url.startswith("https://")
    context = ssl.create_default_context(cafile=certificate[0])
    conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=context, timeout=15)
    conn.request("POST", "/api/login", json.dumps(GOOD), {"Content-Type": "application/json",
                                                          "Origin": f"https://127.0.0.1:{s.port}"})
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    assert all("; Secure" in v for k, v in response.getheaders() if k == "Set-Cookie")
    answer, _ = _raw(s, _head(s, ["GET /healthz HTTP/1.1"]))       # plain HTTP to the TLS port: nothing served
    assert b"200" not in answer
    silent = socket.create_connection(("127.0.0.1", s.port))       # a handshake that never starts
    silent.settimeout(5)
    started = time.monotonic()
    assert silent.recv(1) == b"" and time.monotonic() - started < 3
    silent.close()


# ------------------------------------------------------------------ refused configurations
def _issues(**values):
    given = {"staff_accounts": ACCOUNTS, **values}
    return " | ".join(str(i) for i in DASHBOARD.issues(given))


def test_beyond_loopback_the_config_needs_tls_allowed_hosts_and_no_demo_password(certificate):
    assert _issues() == ""
    assert "without TLS" in _issues(host="0.0.0.0", allowed_hosts=["nurse.example"])
    assert "allowed_hosts" in _issues(host="0.0.0.0", secure_cookie=True)
    cert, key = certificate
    assert _issues(host="0.0.0.0", allowed_hosts=["nurse.example"], tls_certificate=cert, tls_private_key=key) == ""
    demo = auth.hash_password(auth.DEMO_PASSWORD)
    words = _issues(host="0.0.0.0", allowed_hosts=["nurse.example"], secure_cookie=True,
                    staff_accounts=[f"nurse:{demo}"])
    assert "demo password" in words and "'nurse'" in words
    assert _issues(staff_accounts=[f"nurse:{demo}"]) == ""            # on loopback: the demo works
    assert "cannot load" in _issues(tls_certificate=key, tls_private_key=key)
    assert "both" in _issues(tls_certificate=cert)
    assert "not a host name" in _issues(allowed_hosts=["https://nurse.example"])
    assert "origin" in _issues(allowed_origins=["nurse.example"])
    assert "session_max_s" in _issues(session_timeout_s=7200.0, session_max_s=3600.0)
