"""The fleet view's logic, without Zenoh or HTTP: robots, alerts, incidents, staff actions.

``FleetService`` is fed what the router hears (robot states, alerts, presence) and what staff
do on the page; it sends commands to robots through a ``send(key, payload)`` callable and
asks robots for their alerts through ``ask_alerts(site, robot)``. The alert book, its merge
rules, the store and the history are the dashboard's own (carebot.dashboard.alerts/store):
a staff action is stored, then sent to the robot that raised the alert; the robot applies it
and publishes the new state, which reaches every view.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from carebot.alerts import AlertRecord
from carebot.dashboard.alerts import AlertBook
from carebot.dashboard.site_map import map_json
from carebot.fleet import keys, payloads
from carebot.fleet.allocator import Candidate, SitePaths
from carebot.fleet.dispatcher import DispatchConfig, Dispatcher, Offer, Release, RobotSnapshot
from carebot.fleet.store import FleetStore, StaffActionRow

DECISIONS_SHOWN = 30
ALERT_TIMES_SHOWN = 500


@dataclass
class RobotEntry:
    state: payloads.RobotState | None = None
    present: bool = False              # its liveliness token exists
    heard_at: float = 0.0              # when its latest state arrived (this view's clock)
    present_since: float = 0.0
    offline_since: float = 0.0


@dataclass
class FleetStats:
    states: int = 0
    alerts: int = 0
    bad_payloads: int = 0
    commands_sent: int = 0
    last_bad: str = ""
    alert_seen_at: dict = field(default_factory=dict)     # alert id -> when this view first stored it


class FleetService:
    """One fleet view: every robot it hears, one alert list, one dispatcher."""

    def __init__(self, book_store, fleet_store: FleetStore, send: Callable[[str, bytes], None],
                 ask_alerts: Callable[[str, str], None], view_name: str = "fleet",
                 offline_after_s: float = 5.0, dispatch: DispatchConfig | None = None,
                 paths: SitePaths | None = None, clock: Callable[[], float] = time.time,
                 log: Callable[[str], None] = lambda text: None):
        self._lock = threading.RLock()
        self._send = send
        self._ask_alerts = ask_alerts
        self.view_name = view_name
        self.offline_after_s = offline_after_s
        self.clock = clock
        self.log = log
        self.fleet_store = fleet_store
        self.book = AlertBook(book_store, publish=self._staff_changed, clock=clock)
        self.paths = paths or SitePaths()
        self.dispatcher = Dispatcher(self.paths.path_fn, self._world_or_none, dispatch)
        self.robots: dict[tuple[str, str], RobotEntry] = {}
        self.origins: dict[str, tuple[str, str]] = fleet_store.origins()
        self.stats = FleetStats()
        self._pending_staff: dict[str, str] = {}     # alert id -> staff who acted (for the audit row)

    def _world_or_none(self, name: str):
        try:
            return self.paths.world(name)
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ what the router hears
    def on_state(self, key: str, data: bytes) -> None:
        now = self.clock()
        try:
            parsed = keys.parse(key)
            state = payloads.RobotState.from_bytes(data)
            if (state.site, state.robot) != (parsed.site, parsed.robot):
                raise payloads.PayloadError(f"payload names {state.site}/{state.robot}, the key {key}")
        except ValueError as exc:
            return self._bad(key, exc)
        with self._lock:
            entry = self.robots.setdefault((state.site, state.robot), RobotEntry())
            if entry.state is not None and state.seq <= entry.state.seq and state.stamp <= entry.state.stamp:
                return                                    # an older state arriving late
            entry.state, entry.heard_at = state, now
            self.stats.states += 1

    def on_alert(self, key: str, data: bytes) -> None:
        now = self.clock()
        try:
            parsed = keys.parse(key)
            record = payloads.alert_from_bytes(data)
            if parsed.rest != record.id:
                raise payloads.PayloadError(f"alert {record.id!r} on the key of {parsed.rest!r}")
        except ValueError as exc:
            return self._bad(key, exc)
        with self._lock:
            origin = self.origins.get(record.id)
            if origin is not None and origin != (parsed.site, parsed.robot):
                return self._bad(key, payloads.PayloadError(
                    f"alert {record.id} belongs to {origin[0]}/{origin[1]}, not {parsed.site}/{parsed.robot}"))
            if origin is None:
                self.origins[record.id] = (parsed.site, parsed.robot)
                self.fleet_store.set_origin(record.id, parsed.site, parsed.robot)
            changed = self.book.receive(record)
            self.stats.alerts += 1
            if changed is not None:
                self.stats.alert_seen_at.setdefault(record.id, now)
                self.log(f"alert {record.id} from {parsed.site}/{parsed.robot}: {changed.kind.name} {changed.state.name}")
            stored = self.book.get(record.id) or record
            self.dispatcher.update_robots(self.snapshots(now))
            effects = self.dispatcher.on_alert(stored, parsed.site, parsed.robot, now)
        self._carry_out(effects)

    def on_presence(self, key: str, present: bool) -> None:
        now = self.clock()
        try:
            parsed = keys.parse(key)
        except ValueError as exc:
            return self._bad(key, exc)
        with self._lock:
            entry = self.robots.setdefault((parsed.site, parsed.robot), RobotEntry())
            was = entry.present
            entry.present = present
            if present and not was:
                entry.present_since = now
            elif was and not present:
                entry.offline_since = now
        if present and not was:
            self.log(f"{parsed.site}/{parsed.robot} online: asking for its alerts")
            self._ask_alerts(parsed.site, parsed.robot)     # the catch-up: alerts raised while cut off
        elif was and not present:
            self.log(f"{parsed.site}/{parsed.robot} offline")
        self.tick()

    def _bad(self, key: str, exc: Exception) -> None:
        with self._lock:
            self.stats.bad_payloads += 1
            self.stats.last_bad = f"{key}: {exc}"
        self.log(f"refused {key}: {exc}")

    # ------------------------------------------------------------------ robots and incidents
    def online(self, entry: RobotEntry, now: float) -> bool:
        return entry.present and entry.state is not None and now - entry.heard_at <= self.offline_after_s

    def snapshots(self, now: float) -> list[RobotSnapshot]:
        out = []
        for (site, robot), entry in self.robots.items():
            s = entry.state
            if s is None:
                continue
            candidate = Candidate(site, robot, self.online(entry, now), s.pose[:2] if s.pose else None, s.busy,
                                  s.estop, s.health, s.accepts_tasks)
            out.append(RobotSnapshot(candidate, s.world, s.fleet_task))
        return out

    def tick(self) -> None:
        now = self.clock()
        with self._lock:
            self.dispatcher.update_robots(self.snapshots(now))
            effects = self.dispatcher.tick(now)
        self._carry_out(effects)

    def _carry_out(self, effects) -> None:
        for effect in effects:
            if isinstance(effect, Offer):
                args = {"task_id": effect.task_id, "action": "offer", "alert_id": effect.alert_id,
                        "goal": list(effect.goal), "critical": effect.critical, "speed": effect.speed}
                self._command(effect.site, effect.robot, "task", args, staff=f"dispatcher@{self.view_name}")
            elif isinstance(effect, Release):
                self._command(effect.site, effect.robot, "task",
                              {"task_id": effect.task_id, "action": "release", "alert_id": effect.alert_id},
                              staff=f"dispatcher@{self.view_name}")

    def _command(self, site: str, robot: str, verb: str, args: dict, staff: str) -> payloads.Command:
        command = payloads.Command(verb, staff, self.view_name, self.clock(), args)
        self._send(keys.cmd_key(site, robot, verb), command.to_bytes())
        with self._lock:
            self.stats.commands_sent += 1
        return command

    # ------------------------------------------------------------------ staff actions (HTTP threads)
    def _staff_changed(self, record: AlertRecord) -> None:
        """AlertBook's publish: a staff action stored here goes to the robot that raised the alert."""
        origin = self.origins.get(record.id)
        staff = record.handled_by
        if origin is None:
            self._audit(staff, f"{record.state.name.lower()} alert", "", "", record.id, "no robot known for it")
            return
        action = "acknowledge" if record.state.name == "ACKNOWLEDGED" else "resolve"
        self._command(*origin, "alert", {"alert_id": record.id, "action": action, "note": record.note[:500]}, staff)
        self._audit(staff, f"{action} alert", *origin, record.id, "sent")
        with self._lock:
            effects = self.dispatcher.on_alert(record, origin[0], origin[1], self.clock())
        self._carry_out(effects)

    def _audit(self, staff: str, action: str, site: str, robot: str, detail: str, result: str) -> None:
        self.fleet_store.record_action(StaffActionRow(self.clock(), staff, action, site, robot, detail, result))

    def estop(self, staff: str, site: str | None = None, robot: str | None = None) -> dict:
        """Emergency stop of one robot, or of every robot this view knows (site and robot None)."""
        with self._lock:
            targets = sorted(self.robots) if site is None else [(site, robot)]
            unknown = [t for t in targets if t not in self.robots]
        if unknown:
            raise KeyError(f"no robot {unknown[0][0]}/{unknown[0][1]}")
        for s, r in targets:
            self._command(s, r, "estop", {}, staff)
            self._audit(staff, "emergency stop", s, r, "all robots" if site is None else "", "sent")
        self.log(f"EMERGENCY STOP by {staff}: {', '.join(f'{s}/{r}' for s, r in targets) or 'no robot'}")
        return {"sent_to": [f"{s}/{r}" for s, r in targets]}

    def goto(self, staff: str, site: str, robot: str, place: str) -> dict:
        """Send a robot to a named place of its site (a staff errand)."""
        with self._lock:
            entry = self.robots.get((site, robot))
        if entry is None or entry.state is None:
            raise KeyError(f"no robot {site}/{robot}")
        world = self._world_or_none(entry.state.world)
        if world is None or world.place_named(place) is None:
            raise ValueError(f"{place!r} is not a place of {entry.state.world}")
        task_id = f"goto-{int(self.clock() * 1000) % 10**9}"
        self._command(site, robot, "goto", {"place": world.place_named(place).name, "task_id": task_id}, staff)
        self._audit(staff, "send to a place", site, robot, place, "sent")
        return {"task_id": task_id}

    # ------------------------------------------------------------------ the page
    def view(self) -> dict:
        now = self.clock()
        with self._lock:
            robots, worlds = [], set()
            for (site, robot), entry in sorted(self.robots.items()):
                s = entry.state
                if s is not None:
                    worlds.add(s.world)
                robots.append({
                    "site": site, "robot": robot, "online": self.online(entry, now), "present": entry.present,
                    "last_heard_s": round(now - entry.heard_at, 1) if entry.heard_at else None,
                    "world": s.world if s else "", "pose": list(s.pose) if s and s.pose else None,
                    "mode": s.mode if s else "UNKNOWN", "task": s.task if s else "", "busy": s.busy if s else False,
                    "estop": s.estop if s else False, "stop_reason": s.stop_reason if s else "",
                    "health": s.health if s else "STALE", "health_message": s.health_message if s else "",
                    "speed_limit": s.speed_limit if s else 0.0, "open_alerts": s.open_alerts if s else 0,
                    "fleet_task": vars(s.fleet_task) if s and s.fleet_task else None})
            alerts = []
            for record in self.book.listing():
                site, robot = self.origins.get(record.id, ("", ""))
                alerts.append({**record.to_json(), "site": site, "robot": robot})
            incidents = [i.to_json() for i in self.dispatcher.incidents.values()]
            decisions = [{"at": d.at, "alert_id": d.alert_id, "text": d.text, "robot": d.robot,
                          "ranked": [vars(r) for r in d.ranked]} for d in self.dispatcher.decisions[-DECISIONS_SHOWN:]]
            stats = {"states": self.stats.states, "alerts": self.stats.alerts, "bad_payloads": self.stats.bad_payloads,
                     "commands_sent": self.stats.commands_sent, "last_bad": self.stats.last_bad,
                     # when this view first stored each of the latest alerts (benchmarks/fleet_bench.py)
                     "alert_seen_at": dict(list(self.stats.alert_seen_at.items())[-ALERT_TIMES_SHOWN:])}
        maps = {}
        for name in sorted(worlds):
            world = self._world_or_none(name)
            if world is not None:
                maps[name] = map_json(world)
        return {"time": now, "version": self.book.version, "view": self.view_name, "robots": robots,
                "alerts": alerts, "incidents": incidents, "decisions": decisions, "maps": maps, "stats": stats}
