"""Zenoh glue shared by the robot's bridge and ``carebot fleet serve``: open a session from
the configurations of ``carebot.fleet.zenoh_config``, and close it without hanging.

The only module of the fleet that imports ``zenoh``; everything it is handed or returns is
plain bytes and strings, so the fleet's logic stays testable without a session.
"""
from __future__ import annotations

import json
import threading
from typing import Callable

import zenoh

CLOSE_TIMEOUT_S = 5.0


def open_session(config: dict) -> zenoh.Session:
    """A Zenoh session from a plain configuration (``zenoh_config.robot_config`` and co.).

    Raises zenoh.ZError when Zenoh refuses it (a missing certificate file, a port in use)."""
    return zenoh.open(zenoh.Config.from_json5(json.dumps(config)))


def close_session(session: zenoh.Session | None, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
    """Close a session in a helper thread: a process must be able to exit even when the close
    waits on a peer that is gone. True when it closed within ``timeout_s``."""
    if session is None:
        return True
    done = threading.Event()

    def close() -> None:
        try:
            session.close()
        except Exception:       # already closed, or the runtime is going down: nothing to keep
            pass
        done.set()

    threading.Thread(target=close, name="zenoh-close", daemon=True).start()
    return done.wait(timeout_s)


def sample_key(sample) -> str:
    return str(sample.key_expr)


def sample_bytes(sample) -> bytes:
    return bytes(sample.payload.to_bytes())


def is_delete(sample) -> bool:
    return sample.kind == zenoh.SampleKind.DELETE


def query_all(session: zenoh.Session, selector: str, on_reply: Callable[[str, bytes], None],
              timeout_s: float = 5.0) -> None:
    """Ask every queryable of ``selector`` and hand each good reply (key, payload) to
    ``on_reply``, in a background thread (the caller may hold locks)."""
    def run() -> None:
        try:
            replies = session.get(selector, timeout=timeout_s, consolidation=zenoh.ConsolidationMode.NONE)
            for reply in replies:
                if reply.ok is not None:
                    on_reply(str(reply.ok.key_expr), bytes(reply.ok.payload.to_bytes()))
        except Exception:         # session closing: the next presence or tick asks again
            pass
    threading.Thread(target=run, name="zenoh-query", daemon=True).start()
