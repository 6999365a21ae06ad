"""The fleet staff view over HTTP: the dashboard's handler (login, sessions, security headers,
alert acknowledge/resolve through the book) with the fleet's page and routes on top.

Routes added to the dashboard's API (every one needs a login, as the dashboard's do):

  GET  /                                       the fleet page (carebot/fleet/static)
  GET  /api/fleet                              robots, maps, alerts with their robot, incidents, decisions
  POST /api/fleet/robots/<site>/<robot>/estop  {}        emergency stop of one robot
  POST /api/fleet/robots/<site>/<robot>/goto   {place}   send one robot to a place of its site
  POST /api/estop                              (the dashboard's STOP): every robot of this view

``/api/alerts/<id>/acknowledge|resolve`` are the dashboard's own routes: the fleet's book
stores the action and sends it to the robot that raised the alert. Releasing an emergency
stop is not offered here: it is done at the robot (its dashboard), where staff can see it.
No camera frame or chat crosses the fleet link: ``/api/camera.jpg`` and ``/api/ask`` answer
that they are per robot.
"""
from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote

from carebot.dashboard.web import LinkError, make_handler

STATIC_DIR = Path(__file__).resolve().parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}


class FleetLink:
    """The dashboard's RobotLink for a view of many robots (what the shared routes may ask)."""

    def __init__(self, service):
        self._service = service

    def status(self) -> dict | None:
        return None

    def diagnostics(self) -> list[dict]:
        return []

    def ask(self, text: str, user: str) -> dict:
        raise LinkError("the chat is per robot: use that robot's own dashboard")

    def estop(self, user: str) -> dict:
        return {"published": True, "service_ok": True, **self._service.estop(user)}

    def reset_estop(self, user: str, reason: str) -> dict:
        raise LinkError("an emergency stop is released at the robot (its own dashboard), where staff can see it")

    def camera_jpeg(self) -> bytes | None:
        return None


def fleet_handler_factory(service):
    """``handler_factory`` for carebot.dashboard.web.DashboardServer."""
    def factory(app):
        base = make_handler(app)
        static = {p.name: p.read_bytes() for p in STATIC_DIR.iterdir() if p.is_file()}

        class FleetHandler(base):
            server_version = "carebot-fleet"

            def _get(self, path: str) -> None:
                if path in ("/", "/index.html"):
                    self._send(HTTPStatus.OK, static["index.html"], _TYPES[".html"], {"Cache-Control": "no-cache"})
                elif path.startswith("/fleet/") and path[len("/fleet/"):] in static:
                    name = path[len("/fleet/"):]
                    self._send(HTTPStatus.OK, static[name], _TYPES.get(Path(name).suffix, "application/octet-stream"),
                               {"Cache-Control": "no-cache"})
                elif path == "/api/fleet":
                    self._json(HTTPStatus.OK, {"user": self._user(), "title": app.title, **service.view()})
                else:
                    super()._get(path)

            def _post(self, path: str) -> None:
                if not path.startswith("/api/fleet/"):
                    super()._post(path)
                    return
                user = self._user()
                body = self._body()
                parts = [unquote(p) for p in path[len("/api/fleet/"):].split("/")]
                try:
                    if len(parts) == 4 and parts[0] == "robots" and parts[3] == "estop":
                        app.log(f"emergency stop of {parts[1]}/{parts[2]} by {user}")
                        self._json(HTTPStatus.OK, service.estop(user, parts[1], parts[2]))
                    elif len(parts) == 4 and parts[0] == "robots" and parts[3] == "goto":
                        self._json(HTTPStatus.OK, service.goto(user, parts[1], parts[2], str(body.get("place", ""))))
                    else:
                        self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
                except KeyError as exc:
                    self._json(HTTPStatus.NOT_FOUND, {"error": str(exc.args[0])})
                except ValueError as exc:
                    self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

        return FleetHandler
    return factory
