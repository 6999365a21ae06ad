"""``carebot fleet serve``: a Zenoh router and the fleet staff view in one process.

The router is this process's own Zenoh session in router mode (no zenohd needed): robots
connect to it as peers, over TLS with mutual authentication and access control where it
listens beyond loopback (carebot.fleet.zenoh_config). Its own subscribers feed the
``FleetService``; its HTTP server is the dashboard's (carebot.dashboard.web) with the fleet's
page and routes. A tick thread (1 Hz) follows robots and incidents.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from carebot.dashboard.auth import Authenticator
from carebot.dashboard.store import DashboardStore
from carebot.dashboard.web import DashboardApp, DashboardServer
from carebot.fleet import keys
from carebot.fleet.link import close_session, is_delete, open_session, query_all, sample_bytes, sample_key
from carebot.fleet.service import FleetService
from carebot.fleet.store import FleetStore
from carebot.fleet.web import FleetLink, fleet_handler_factory
from carebot.fleet.zenoh_config import access_control, router_config

TICK_S = 1.0


def default_database() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "carebot" / "fleet.sqlite3"


class FleetServer:
    """Router + view, started by ``start()`` and ended by ``stop()``."""

    def __init__(self, settings: dict, log: Callable[[str], None] = print):
        self.settings = settings
        self.log = log
        database = Path(settings["database"]).expanduser() if settings["database"] else default_database()
        self.store = DashboardStore(database)
        os.chmod(database, 0o600)              # staff sessions and alerts: the service's own file
        self.fleet_store = FleetStore(database)
        robots, views = settings["robots"], [v for v in settings["views"] if v != "none"]
        acl = access_control(robots, views) if robots and robots != [("none", "")] else None
        if acl is None and settings["tls"] is not None:
            raise ValueError("a TLS router needs its robots listed (access control)")
        upstream = [e for e in settings["upstream"] if e != "none"]
        self.session = open_session(router_config(list(settings["listen"]), upstream, settings["tls"], acl))
        self.service = FleetService(self.store, self.fleet_store, send=self._put, ask_alerts=self._ask_alerts,
                                    view_name=settings["view_name"], offline_after_s=settings["offline_after_s"],
                                    dispatch=settings["dispatch"], log=log)
        self._declared = [
            self.session.declare_subscriber(keys.all_states(), self._on_state),
            self.session.declare_subscriber(keys.all_alerts(), self._on_alert),
            self.session.liveliness().declare_subscriber(keys.all_presence(), self._on_presence, history=True),
        ]
        auth = Authenticator(settings["accounts"], self.store, settings["session_timeout_s"])
        self.app = DashboardApp(book=self.service.book, store=self.store, auth=auth, link=FleetLink(self.service),
                                title=settings["title"], secure_cookie=settings["secure_cookie"],
                                log=lambda message: None)
        self.http = DashboardServer(self.app, settings["http_host"], settings["http_port"],
                                    handler_factory=fleet_handler_factory(self.service))
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="fleet-tick", daemon=True)
        self.access_control = acl is not None

    # Zenoh's threads ------------------------------------------------------------
    def _put(self, key: str, payload: bytes) -> None:
        self.session.put(key, payload)

    def _ask_alerts(self, site: str, robot: str) -> None:
        query_all(self.session, keys.alerts_of(site, robot), self.service.on_alert)

    def _on_state(self, sample) -> None:
        self.service.on_state(sample_key(sample), sample_bytes(sample))

    def _on_alert(self, sample) -> None:
        self.service.on_alert(sample_key(sample), sample_bytes(sample))

    def _on_presence(self, sample) -> None:
        self.service.on_presence(sample_key(sample), not is_delete(sample))

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.service.tick()
            except Exception as exc:      # a bug must not stop following the robots
                self.log(f"fleet tick failed: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------------------
    def start(self) -> "FleetServer":
        self.http.start()
        self._ticker.start()
        self.log(f"fleet view {self.http.url} ; router on {', '.join(self.settings['listen'])}"
                 + (" with access control" if self.access_control else " (no access control: loopback only)"))
        return self

    def stop(self) -> None:
        self._stop.set()
        self.http.stop()
        close_session(self.session)
        self.fleet_store.close()
        self.store.close()


def serve_forever(settings: dict, log: Callable[[str], None] = print) -> int:
    """Run until SIGINT or SIGTERM."""
    import signal

    server = FleetServer(settings, log).start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    log("fleet serve: stopping")
    server.stop()
    return 0


def wait_until(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.05):
    """Poll ``predicate`` until truthy (returns its value) or None after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None
