"""Checks of the motion nodes' parameters that their descriptors cannot say, for ``carebot config-check``."""
from pathlib import Path

from carebot.config_check import Rule
from carebot.world import WorldError, load_world


def _site(value) -> str | None:
    """None when ``value`` is empty or names a loadable world (site name or YAML path), else why not."""
    if value == "":
        return None
    try:
        load_world(value)
    except (WorldError, OSError) as exc:
        return str(exc)
    return None


def _state_dir(value) -> str | None:
    """Empty (the default folder) or an absolute path: a relative one would follow each node's cwd."""
    if value == "" or Path(str(value)).expanduser().is_absolute():
        return None
    return f"{value!r} is relative: give an absolute path (or ~/...), or leave it empty for the default"


def _required_site(value) -> str | None:
    return "a site is required (its map and places)" if value == "" else _site(value)


RULES = {
    "base_safety": {"site": Rule(check=_site),           # empty: no static-map filter (see docs/motion.md)
                    "state_dir": Rule(check=_state_dir)},
    "navigator": {"site": Rule(check=_required_site)},
}
