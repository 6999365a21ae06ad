"""Checks of the motion nodes' parameters that their descriptors cannot say, for ``carebot config-check``."""
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


def _required_site(value) -> str | None:
    return "a site is required (its map and places)" if value == "" else _site(value)


RULES = {
    "base_safety": {"site": Rule(check=_site)},          # empty: no static-map filter (see docs/motion.md)
    "navigator": {"site": Rule(check=_required_site)},
}
