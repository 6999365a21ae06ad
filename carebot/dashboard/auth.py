"""Staff accounts and roles, password hashes, sessions, login throttling (no ROS).

Config holds only hashes: ``staff_accounts: ["anna:supervisor:scrypt$131072$8$1$<salt>$<hash>"]``
(``NAME:HASH`` is a staff account), made with ``carebot dashboard hash-password``.

- **Hashes**: scrypt at today's recommended cost (OWASP: N=2^17, r=8, p=1; 128 MiB, about
  0.9 s on this project's loaded two cores). A hash below that cost, with a short salt or
  key, or malformed in any way is refused when the accounts are read: the node does not
  start, config-check names the entry. Verification compares in constant time; unknown
  names cost the same scrypt time as known ones.
- **Roles**: ``staff`` may see, acknowledge and resolve alerts, chat and press STOP;
  ``supervisor`` may also release the emergency stop (with a reason) and read the audit.
- **Sessions**: random 256-bit tokens, stored as SHA-256 hashes; an idle timeout that
  slides with use and an absolute lifetime from the login; a changed password or role in
  the config ends the account's sessions.
- **Throttle** (``LoginThrottle``): failures are counted per (client, account), per client
  and per account, each with an exponential back-off; a client waits only for its own
  keys, so guesses from one address never lock out the nurse at another. The account-wide
  count covers guessing spread over many addresses; it does not apply to a device the
  account has logged in from before (a trusted-device cookie), so the nurse's own tablet
  is never slowed by someone else's guessing. The check-and-count is one atomic step
  taken before the password is checked: parallel guesses cannot overtake it.
- **Password checks** run at most ``MAX_CONCURRENT_CHECKS`` at a time (each takes 128 MiB),
  plus one kept for trusted devices: a flood of logins queues, then gets "busy", cannot
  exhaust memory and cannot keep the nurse's own tablet waiting.
"""
from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

SCHEME = "scrypt"
SCRYPT_N = 2 ** 17          # CPU/memory cost (OWASP 2024+): 128 MiB with r=8
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# What a stored hash must reach to be accepted (what we make, and no less).
MIN_N, MIN_R, MIN_P, MIN_SALT_BYTES, MIN_HASH_BYTES = 2 ** 17, 8, 1, 16, 32
# ... and may not exceed: a hash in the config must not make one login take gigabytes.
MAX_MEMORY_BYTES = 256 * 1024 * 1024
MAX_P = 4
_MAXMEM = MAX_MEMORY_BYTES + 16 * 1024 * 1024     # hashlib's limit, a little above scrypt's 128*r*N
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
DEMO_PASSWORD = "carebot-demo"    # of the shipped example accounts (config/*.yaml): loopback only
# Refused by hash-password: the passwords guessed first (plus the account name, the demo one).
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password123", "123456789012", "1234567890", "qwertyuiop", "letmein123",
    "administrator", "welcome123", "carebot", "carebot123", "nurse", "nurse123", "supervisor",
    "changeme", "changeme123", "iloveyou123", "passw0rd", "qwerty123456", DEMO_PASSWORD,
})
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_B64 = r"[A-Za-z0-9+/]+={0,2}"
_HASH_FORMAT = re.compile(rf"^scrypt\$(\d{{1,10}})\$(\d{{1,4}})\$(\d{{1,4}})\$({_B64})\$({_B64})$")
MAX_CONCURRENT_CHECKS = 2        # scrypt runs at once (each 128 MiB) for devices not trusted yet
# ... and one more kept for trusted devices: a flood of strangers' logins cannot make the
# nurse's own tablet wait.
TRUSTED_CHECKS = 1
CHECK_QUEUE_S = 10.0             # how long a login waits for a free check before "busy"
SESSIONS_PER_ACCOUNT = 20        # newest kept; older ones end (a stolen token is not kept alive forever)
DEVICE_TRUST_S = 90 * 86400.0    # a device that logged in is trusted for its account this long


class Role(str, enum.Enum):
    """What an account may do (see ``ROLE_ACTIONS``)."""

    STAFF = "staff"
    SUPERVISOR = "supervisor"


class Action(str, enum.Enum):
    """Things the page asks for that need a role."""

    VIEW = "view"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    CHAT = "chat"
    ESTOP = "estop"              # anyone on staff may stop the robot
    CAMERA = "camera"
    RESET_ESTOP = "reset_estop"  # releasing it: a supervisor, with a reason
    AUDIT = "audit"


_STAFF_ACTIONS = frozenset({Action.VIEW, Action.ACKNOWLEDGE, Action.RESOLVE, Action.CHAT, Action.ESTOP, Action.CAMERA})
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.STAFF: _STAFF_ACTIONS,
    Role.SUPERVISOR: _STAFF_ACTIONS | {Action.RESET_ESTOP, Action.AUDIT},
}


@dataclass(frozen=True)
class Account:
    """One staff login: name, role and the scrypt hash of the password."""

    name: str
    role: Role
    stored: str

    @property
    def stamp(self) -> str:
        """Changes when the password or the role changes: sessions made before end."""
        return hashlib.sha256(f"{self.role.value}:{self.stored}".encode()).hexdigest()[:32]

    def may(self, action: Action) -> bool:
        return action in ROLE_ACTIONS[self.role]


# ------------------------------------------------------------------ hashes
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
                  salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` for a password (a fresh random salt each call)."""
    if len(password) < 8:
        raise ValueError("password too short: at least 8 characters")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=HASH_BYTES)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _parts(stored: str) -> tuple[int, int, int, bytes, bytes] | str:
    """(n, r, p, salt, key) of a stored hash, or why it cannot be one."""
    match = _HASH_FORMAT.match(stored or "")
    if not match:
        return "not a scrypt hash (make one with `carebot dashboard hash-password`)"
    n, r, p = (int(v) for v in match.groups()[:3])
    try:
        salt, key = _unb64(match.group(4)), _unb64(match.group(5))
    except (binascii.Error, ValueError):
        return "salt or hash is not valid base64"
    return n, r, p, salt, key


def hash_problem(stored: str) -> str | None:
    """Why a stored hash is unusable or too weak, or None when it is fine."""
    parts = _parts(stored)
    if isinstance(parts, str):
        return parts
    n, r, p, salt, key = parts
    if n < 2 or n & (n - 1):
        return f"scrypt N={n} is not a power of two"
    if n < MIN_N or r < MIN_R or p < MIN_P:
        return (f"scrypt cost too low (N={n}, r={r}, p={p}; at least N={MIN_N}, r={MIN_R}, p={MIN_P}): make a new "
                "hash with `carebot dashboard hash-password`")
    if 128 * r * n > MAX_MEMORY_BYTES or p > MAX_P:
        return f"scrypt cost too high (N={n}, r={r}, p={p}): one login would need {128 * r * n >> 20} MiB"
    if len(salt) < MIN_SALT_BYTES or len(key) < MIN_HASH_BYTES:
        return (f"salt of {len(salt)} bytes or hash of {len(key)} bytes is too short (at least {MIN_SALT_BYTES} "
                f"and {MIN_HASH_BYTES})")
    return None


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash; False for any refused hash."""
    if hash_problem(stored):
        return False
    n, r, p, salt, expected = _parts(stored)
    try:
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM,
                                dklen=len(expected))
    except (ValueError, MemoryError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(digest, expected)


def password_problem(name: str, password: str) -> str | None:
    """Why a new password is too weak for a staff account, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password too short: at least {MIN_PASSWORD_LENGTH} characters (a few words work well)"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"password too long: at most {MAX_PASSWORD_LENGTH} characters"
    folded = password.casefold()
    if folded in COMMON_PASSWORDS or folded.rstrip("0123456789!") in COMMON_PASSWORDS:
        return "a password everyone tries first"
    if name and name.casefold() in folded:
        return "the password contains the account name"
    if len(set(password)) < 5:
        return "too few different characters"
    return None


# ------------------------------------------------------------------ accounts
def account_problem(entry: str) -> str | None:
    """Why one ``NAME[:ROLE]:HASH`` entry is unusable, or None."""
    try:
        _account(entry)
    except ValueError as exc:
        return str(exc)
    return None


def _account(entry: str) -> Account:
    name, sep, rest = str(entry).partition(":")
    if not sep:
        raise ValueError("expected NAME:HASH or NAME:ROLE:HASH")
    if not ACCOUNT_NAME.match(name):
        raise ValueError(f"account name {name!r} must be 1-64 letters, digits or _ . @ -")
    role_text, sep, stored = rest.partition(":")
    if not sep:                 # NAME:HASH (a hash has no colon): a staff account
        role_text, stored = Role.STAFF.value, rest
    try:
        role = Role(role_text)
    except ValueError:
        raise ValueError(f"account {name!r}: role {role_text!r} is not one of "
                         f"{', '.join(r.value for r in Role)}") from None
    problem = hash_problem(stored)
    if problem:
        raise ValueError(f"account {name!r}: {problem}")
    return Account(name, role, stored)


def parse_accounts(entries: Iterable[str]) -> dict[str, Account]:
    """``["name:hash", "name:role:hash", ...]`` -> {name: Account}; ValueError names the bad entry."""
    accounts: dict[str, Account] = {}
    for index, entry in enumerate(entries):
        try:
            account = _account(entry)
        except ValueError as exc:
            raise ValueError(f"staff_accounts[{index}]: {exc}") from None
        if account.name in accounts:
            raise ValueError(f"staff_accounts[{index}]: account {account.name!r} listed twice")
        accounts[account.name] = account
    return accounts


def demo_accounts(accounts: Mapping[str, Account]) -> list[str]:
    """Names of accounts that still have the shipped demo password (one scrypt check each)."""
    return [name for name, account in accounts.items() if verify_password(DEMO_PASSWORD, account.stored)]


_dummy: list[str] = []
_dummy_lock = threading.Lock()


def _dummy_hash() -> str:
    """A hash of a random password at the same cost: unknown names cost the same time as known
    ones. Made on first use (0.9 s), not at import: config-check imports this module."""
    with _dummy_lock:
        if not _dummy:
            _dummy.append(hash_password(secrets.token_hex(16)))
        return _dummy[0]


# ------------------------------------------------------------------ throttle
def client_key(address: str) -> str:
    """The throttling identity of a client address: IPv4 as is (an IPv4-mapped IPv6 address
    too), IPv6 by its /64 (one host commonly holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Backoff:
    """Free failures, then a wait that doubles with each further failure, up to ``max_s``;
    all forgotten ``forget_s`` after the last failure."""

    free: int
    first_s: float
    max_s: float
    forget_s: float

    def wait_after(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.max_s, self.first_s * 2.0 ** min(failures - self.free, 30))


# Per (client, account): the nurse mistyping at her tablet; an attacker at one address.
PER_CLIENT_ACCOUNT = Backoff(free=5, first_s=1.0, max_s=300.0, forget_s=900.0)
# Per client, any account: one address trying many names.
PER_CLIENT = Backoff(free=20, first_s=1.0, max_s=300.0, forget_s=900.0)
# Per account from devices it never logged in from: guesses spread over many addresses.
PER_ACCOUNT = Backoff(free=30, first_s=1.0, max_s=60.0, forget_s=900.0)
# Per trusted device (one that logged in to this account before).
PER_DEVICE = Backoff(free=5, first_s=1.0, max_s=300.0, forget_s=900.0)


@dataclass
class _Count:
    failures: int = 0
    in_flight: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


@dataclass(frozen=True)
class Attempt:
    """A reserved login attempt: the keys it counts on; hand it back to ``finish``."""

    keys: tuple[tuple[str, Backoff, bool], ...]     # (key, back-off, reset on success)


class LoginThrottle:
    """Back-off per key, checked and counted in one atomic step (see the module docstring).

    ``begin`` either returns the seconds to wait or reserves the attempt, which counts as a
    failure on every key until ``finish`` says otherwise: while a key has used its free
    failures, only one attempt at a time may be checked for it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000):
        self._clock = clock
        self._max_keys = max_keys
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def begin(self, keys: Iterable[tuple[str, Backoff, bool]]) -> Attempt | float:
        keys = tuple(keys)
        now = self._clock()
        with self._lock:
            wait = 0.0
            for key, backoff, _ in keys:
                count = self._counts.get(key)
                if count is None:
                    continue
                if count.in_flight == 0 and now - count.last_failure > backoff.forget_s:
                    del self._counts[key]
                    continue
                wait = max(wait, count.blocked_until - now)
                if count.in_flight and count.failures + count.in_flight >= backoff.free:
                    wait = max(wait, backoff.first_s)       # one at a time beyond the free ones
            if wait > 0:
                return wait
            if len(self._counts) + len(keys) > self._max_keys:
                self._prune(now)
            for key, _, _ in keys:
                self._counts.setdefault(key, _Count()).in_flight += 1
            return Attempt(keys)

    def finish(self, attempt: Attempt, ok: bool | None) -> None:
        """``ok`` True: a right password; False: wrong; None: not checked (busy)."""
        now = self._clock()
        with self._lock:
            for key, backoff, reset_on_success in attempt.keys:
                count = self._counts.setdefault(key, _Count())
                count.in_flight = max(0, count.in_flight - 1)
                if ok is False:
                    count.failures += 1
                    count.last_failure = now
                    count.blocked_until = now + backoff.wait_after(count.failures)
                elif ok and reset_on_success:
                    count.failures, count.blocked_until = 0, 0.0

    def wait_for(self, keys: Iterable[tuple[str, Backoff, bool]]) -> float:
        """Seconds these keys must still wait (0: may try); counts nothing."""
        now = self._clock()
        with self._lock:
            return max([0.0] + [self._counts[k].blocked_until - now for k, _, _ in keys if k in self._counts])

    def _prune(self, now: float) -> None:
        """Room for new keys: forgotten ones first, then the oldest that are not an existing
        account's (those are few and must never be reset by a flood of new names)."""
        for key in [k for k, c in self._counts.items() if c.in_flight == 0 and now - c.last_failure > 900.0]:
            del self._counts[key]
        excess = len(self._counts) - self._max_keys // 2
        if excess > 0:
            candidates = sorted((c.last_failure, k) for k, c in self._counts.items()
                                if c.in_flight == 0 and not k.startswith("account:"))
            for _, key in candidates[:excess]:
                del self._counts[key]


# ------------------------------------------------------------------ sessions
@dataclass(frozen=True)
class Session:
    """A live login: who, their role, and until when the cookie should live."""

    user: str
    role: Role
    expires_at: float          # idle expiry (slides with use), unix s
    ends_at: float             # absolute end, unix s
    refreshed: bool = False    # the expiry moved: send the cookie again

    def may(self, action: Action) -> bool:
        return action in ROLE_ACTIONS[self.role]

    def cookie_max_age(self, now: float) -> int:
        return max(0, int(min(self.expires_at, self.ends_at) - now))


class LoginOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"            # wrong name or password (not said which)
    THROTTLED = "throttled"    # wait ``wait_s``
    BUSY = "busy"              # too many password checks at once


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    token: str = ""
    session: Session | None = None
    wait_s: float = 0.0
    device_token: str = ""     # set when the device is newly trusted


@dataclass
class Authenticator:
    """Checks logins against the configured accounts; sessions and trusted devices live in the store."""

    accounts: Mapping[str, Account]
    store: object
    session_s: float                             # idle timeout
    clock: Callable[[], float] = time.time
    throttle: LoginThrottle | None = None
    session_max_s: float | None = None           # absolute lifetime (None: 12 h, or the idle timeout if longer)
    max_checks: int = MAX_CONCURRENT_CHECKS
    check_queue_s: float = CHECK_QUEUE_S
    _checks: threading.BoundedSemaphore = field(init=False, repr=False)
    _trusted_checks: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self):
        self.accounts = dict(self.accounts)
        if self.throttle is None:
            self.throttle = LoginThrottle()
        if self.session_max_s is None:
            self.session_max_s = max(self.session_s, 43200.0)
        self._checks = threading.BoundedSemaphore(self.max_checks)
        self._trusted_checks = threading.BoundedSemaphore(TRUSTED_CHECKS)

    @property
    def has_accounts(self) -> bool:
        return bool(self.accounts)

    def _keys(self, user: str, client: str, device: str | None) -> list[tuple[str, Backoff, bool]]:
        if device is not None:
            return [(f"device:{device}", PER_DEVICE, True)]
        account_key = f"account:{user}" if user in self.accounts else f"unknown-account:{user}"
        client = client_key(client)
        return [(f"client-account:{client}:{user}", PER_CLIENT_ACCOUNT, True),
                (f"client:{client}", PER_CLIENT, False), (account_key, PER_ACCOUNT, False)]

    def _trusted_device(self, user: str, device_token: str | None) -> str | None:
        """The device's key when it holds a trust cookie for this account, else None."""
        if not device_token or user not in self.accounts:
            return None
        found = self.store.device_user(device_token)
        if found is None:
            return None
        owner, created_at = found
        if owner != user or self.clock() - created_at > DEVICE_TRUST_S:
            return None
        return hashlib.sha256(device_token.encode()).hexdigest()[:32]

    def login(self, user: str, password: str, client: str = "", device_token: str | None = None) -> LoginResult:
        """Check a login: throttle first (atomic), then at most ``max_checks`` scrypt checks at once."""
        device = self._trusted_device(user, device_token)
        attempt = self.throttle.begin(self._keys(user, client, device))
        if not isinstance(attempt, Attempt):
            return LoginResult(LoginOutcome.THROTTLED, wait_s=attempt)
        checks = self._checks
        if device is not None and self._trusted_checks.acquire(blocking=False):
            checks = self._trusted_checks
        elif not self._checks.acquire(timeout=self.check_queue_s):
            self.throttle.finish(attempt, None)
            return LoginResult(LoginOutcome.BUSY, wait_s=1.0)
        try:
            account = self.accounts.get(user)
            ok = verify_password(password, account.stored if account else _dummy_hash()) and account is not None
        finally:
            checks.release()
        self.throttle.finish(attempt, ok)
        if not ok:
            return LoginResult(LoginOutcome.WRONG)
        now = self.clock()
        token = secrets.token_urlsafe(32)
        session = Session(user, account.role, now + self.session_s, now + self.session_max_s)
        self.store.save_session(token, user, session.expires_at, created_at=now, stamp=account.stamp)
        self.store.prune_sessions(user, SESSIONS_PER_ACCOUNT)
        new_device = ""
        if device is None:
            new_device = secrets.token_urlsafe(32)
            self.store.save_device(new_device, user, now)
        return LoginResult(LoginOutcome.OK, token=token, session=session, device_token=new_device)

    def session(self, token: str | None) -> Session | None:
        """The live session of a token (idle expiry slides, absolute end holds), else None."""
        if not token or len(token) > 256:
            return None
        found = self.store.session_row(token)
        if found is None:
            return None
        user, expires_at, created_at, stamp = found
        now = self.clock()
        account = self.accounts.get(user)
        ends_at = created_at + self.session_max_s
        if account is None or not hmac.compare_digest(stamp or "", account.stamp) or now >= expires_at \
                or now >= ends_at:
            self.store.delete_session(token)      # expired, account removed, password or role changed
            return None
        refreshed = False
        if expires_at - now < self.session_s / 2 and expires_at < ends_at:
            expires_at = min(now + self.session_s, ends_at)
            self.store.touch_session(token, expires_at)
            refreshed = True
        return Session(user, account.role, expires_at, ends_at, refreshed)

    def user_of(self, token: str | None) -> str | None:
        """The account name of a live session, else None."""
        session = self.session(token)
        return session.user if session else None

    def blocked_for(self, user: str, client: str = "") -> float:
        """Seconds an untrusted device at ``client`` must wait before trying ``user`` (0: may try)."""
        return self.throttle.wait_for(self._keys(user, client, None))

    def logout(self, token: str | None) -> None:
        if token and len(token) <= 256:
            self.store.delete_session(token)
