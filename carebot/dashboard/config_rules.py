"""Extra checks of the dashboard's parameters for carebot.config_check (see docs/bringup.md)."""
from __future__ import annotations

import ipaddress

from carebot.config_check import ParamType, Rule
from carebot.dashboard.auth import account_problem


def _accounts(entries: list[str]) -> str | None:
    names = []
    for index, entry in enumerate(entries):
        problem = account_problem(entry)
        if problem:
            return f"[{index}] {problem}"
        names.append(entry.partition(":")[0])
    duplicates = sorted({name for name in names if names.count(name) > 1})
    return f"account(s) listed twice: {', '.join(duplicates)}" if duplicates else None


def _host(value: str) -> str | None:
    if value == "localhost":
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address (use 127.0.0.1, 0.0.0.0 or the interface's address)"
    return None


RULES = {
    "dashboard": {
        "staff_accounts": Rule(ParamType.STRING_ARRAY, check=_accounts),
        "host": Rule(ParamType.STRING, check=_host),
    },
}
