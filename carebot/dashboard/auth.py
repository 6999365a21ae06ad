"""Staff accounts, password hashes, sessions and login throttling (no ROS).

Config holds only hashes: ``staff_accounts: ["alice:scrypt$16384$8$1$<salt>$<hash>"]``,
made with ``carebot dashboard hash-password``. scrypt (memory-hard) with a random
16-byte salt per password; verification compares in constant time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

SCHEME = "scrypt"
SCRYPT_N = 2 ** 14          # CPU/memory cost: 16 MiB, ~50 ms here
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 8
_MAXMEM = 64 * 1024 * 1024
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HASH_FORMAT = re.compile(r"^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
                  salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` for a password (a fresh random salt each call)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                            maxmem=_MAXMEM, dklen=HASH_BYTES)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def hash_problem(stored: str) -> str | None:
    """Why a stored hash is unusable, or None when it is well-formed."""
    match = _HASH_FORMAT.match(stored)
    if not match:
        return "not a scrypt hash (make one with `carebot dashboard hash-password`)"
    n, r, p = (int(v) for v in match.groups()[:3])
    if n < 2 ** 10 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or 128 * r * n > _MAXMEM:
        return f"scrypt cost out of range (N={n}, r={r}, p={p})"
    return None


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash; False for any malformed hash."""
    if hash_problem(stored):
        return False
    n, r, p, salt, expected = _HASH_FORMAT.match(stored).groups()
    try:
        digest = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), maxmem=_MAXMEM, dklen=len(base64.b64decode(expected)))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


def account_problem(entry: str) -> str | None:
    """Why one ``name:hash`` entry is unusable, or None."""
    name, sep, stored = entry.partition(":")
    if not sep:
        return "expected NAME:HASH"
    if not ACCOUNT_NAME.match(name):
        return f"account name {name!r} must be 1-64 letters, digits or _ . @ -"
    problem = hash_problem(stored)
    return f"account {name!r}: {problem}" if problem else None


def parse_accounts(entries: list[str]) -> dict[str, str]:
    """``["name:hash", ...]`` -> {name: hash}; ValueError names the bad entry."""
    accounts: dict[str, str] = {}
    for index, entry in enumerate(entries):
        problem = account_problem(entry)
        if problem:
            raise ValueError(f"staff_accounts[{index}]: {problem}")
        name, _, stored = entry.partition(":")
        if name in accounts:
            raise ValueError(f"staff_accounts[{index}]: account {name!r} listed twice")
        accounts[name] = stored
    return accounts


# A hash of a random password: unknown users cost the same time as known ones.
_DUMMY_HASH = hash_password(secrets.token_hex(16), n=SCRYPT_N)


@dataclass
class LoginThrottle:
    """Blocks a name or client after repeated failures (guessing passwords on a tablet)."""

    max_failures: int = 5
    window_s: float = 60.0
    block_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _blocked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked_for(self, key: str) -> float:
        """Seconds this key must still wait (0 = may try)."""
        with self._lock:
            return max(0.0, self._blocked_until.get(key, 0.0) - self.clock())

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < self.window_s] + [now]
            self._failures[key] = recent
            if len(recent) >= self.max_failures:
                self._blocked_until[key] = now + self.block_s
                self._failures[key] = []

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class Authenticator:
    """Checks logins against the configured accounts and keeps sessions in the store."""

    def __init__(self, accounts: dict[str, str], store, session_s: float,
                 clock: Callable[[], float] = time.time, throttle: LoginThrottle | None = None):
        self._accounts = dict(accounts)
        self._store = store
        self._session_s = session_s
        self._clock = clock
        self.throttle = throttle or LoginThrottle()

    @property
    def session_s(self) -> float:
        return self._session_s

    @property
    def has_accounts(self) -> bool:
        return bool(self._accounts)

    def login(self, user: str, password: str, client: str = "") -> str | None:
        """A new session token, or None for a wrong name or password."""
        stored = self._accounts.get(user)
        ok = verify_password(password, stored if stored else _DUMMY_HASH) and stored is not None
        for key in (f"user:{user}", f"client:{client}"):
            (self.throttle.succeeded if ok else self.throttle.failed)(key)
        if not ok:
            return None
        token = secrets.token_urlsafe(32)
        self._store.save_session(token, user, self._clock() + self._session_s)
        return token

    def blocked_for(self, user: str, client: str = "") -> float:
        return max(self.throttle.blocked_for(f"user:{user}"), self.throttle.blocked_for(f"client:{client}"))

    def user_of(self, token: str | None) -> str | None:
        """The account of a live session (sliding expiry), else None."""
        if not token:
            return None
        found = self._store.session_user(token, self._clock())
        if found is None:
            return None
        user, expires_at = found
        if user not in self._accounts:   # account removed from config: session ends
            self._store.delete_session(token)
            return None
        now = self._clock()
        if expires_at - now < self._session_s / 2:
            self._store.save_session(token, user, now + self._session_s)
        return user

    def logout(self, token: str | None) -> None:
        if token:
            self._store.delete_session(token)
