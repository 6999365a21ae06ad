"""Password hashes, staff accounts and roles, sessions, login throttling (pure; the HTTP side
of each attack is in test_dashboard_attacks.py)."""
import base64
import threading

import pytest

from carebot.dashboard import auth
from carebot.dashboard.store import DashboardStore

PASSWORD = "tea-at-four-o'clock"
HASH = auth.hash_password(PASSWORD)          # production cost (N=2^17): the hashes refused below are cheaper


def _b64(n: int) -> str:
    return base64.b64encode(bytes(range(n))).decode()


def test_hash_verifies_is_salted_and_has_todays_cost():
    other = auth.hash_password(PASSWORD)
    assert HASH != other and HASH.startswith(f"scrypt${2 ** 17}$8$1$")
    assert auth.verify_password(PASSWORD, HASH) and not auth.verify_password(PASSWORD + "x", HASH)
    assert auth.hash_problem(HASH) is None


@pytest.mark.parametrize("stored, words", [
    (f"scrypt$1024$8$1${_b64(16)}${_b64(1)}", "cost too low"),          # the degenerate hash of the issue
    (f"scrypt$16384$8$1${_b64(16)}${_b64(32)}", "cost too low"),        # the old default, N=2^14
    (f"scrypt$131072$4$1${_b64(16)}${_b64(32)}", "cost too low"),       # r below 8
    (f"scrypt$131072$8$1${_b64(4)}${_b64(32)}", "too short"),           # a 4-byte salt
    (f"scrypt$131072$8$1${_b64(16)}${_b64(8)}", "too short"),           # an 8-byte key
    (f"scrypt$131073$8$1${_b64(16)}${_b64(32)}", "not a power of two"),
    (f"scrypt${2 ** 24}$8$1${_b64(16)}${_b64(32)}", "too high"),        # 2 GiB per login
    (f"scrypt$131072$8$99${_b64(16)}${_b64(32)}", "too high"),
    (f"scrypt$131072$8$1$!!!!${_b64(32)}", "not a scrypt hash"),
    (f"scrypt$131072$8$1$A${_b64(32)}", "base64"),
    ("", "not a scrypt hash"), ("plaintext", "not a scrypt hash"), ("bcrypt$x", "not a scrypt hash"),
    (f"scrypt$99999999999$8$1${_b64(16)}${_b64(32)}", "not a scrypt hash"),
])
def test_weak_or_malformed_hashes_are_refused_and_never_verify(stored, words):
    assert words in auth.hash_problem(stored)
    assert not auth.verify_password("whatever1", stored)
    with pytest.raises(ValueError, match=r"staff_accounts\[0\]"):
        auth.parse_accounts([f"nurse:{stored}"])


def test_accounts_with_roles():
    accounts = auth.parse_accounts([f"nurse:{HASH}", f"anna:supervisor:{HASH}", f"ben:staff:{HASH}"])
    assert {n: a.role for n, a in accounts.items()} == {"nurse": auth.Role.STAFF, "anna": auth.Role.SUPERVISOR,
                                                       "ben": auth.Role.STAFF}
    assert accounts["anna"].may(auth.Action.RESET_ESTOP) and not accounts["nurse"].may(auth.Action.RESET_ESTOP)
    assert accounts["nurse"].may(auth.Action.ESTOP)          # anyone on staff may stop the robot
    assert accounts["nurse"].stamp != auth.Account("nurse", auth.Role.SUPERVISOR, HASH).stamp
    with pytest.raises(ValueError, match="role 'admin'"):
        auth.parse_accounts([f"x:admin:{HASH}"])
    with pytest.raises(ValueError, match="listed twice"):
        auth.parse_accounts([f"nurse:{HASH}", f"nurse:supervisor:{HASH}"])
    with pytest.raises(ValueError, match="account name"):
        auth.parse_accounts([f"bad name:{HASH}"])


@pytest.mark.parametrize("name, password, words", [
    ("nurse", "short-pw", "too short"), ("nurse", "Password123!", "everyone tries"),
    ("nurse", "carebot-demo", "everyone tries"), ("margaret", "margaret-1234567", "account name"),
    ("nurse", "aaaaaaaaaaaaaaaa", "different characters"),
])
def test_new_passwords_must_not_be_weak(name, password, words):
    assert words in auth.password_problem(name, password)


def test_a_good_new_password():
    assert auth.password_problem("nurse", "kettle on the windowsill") is None


def test_client_identity():
    assert auth.client_key("127.0.0.3") == "127.0.0.3"
    assert auth.client_key("::ffff:10.0.0.7") == "10.0.0.7"
    assert auth.client_key("2001:db8::1") == auth.client_key("2001:db8::ffff") == "2001:db8::/64"


# ------------------------------------------------------------------ throttle (explicit clock)
class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _keys(client: str, user: str = "nurse"):
    """The keys Authenticator counts a login from an untrusted device on (ben and nurse exist)."""
    account = f"account:{user}" if user in ("nurse", "ben") else f"unknown-account:{user}"
    return [(f"client-account:{client}:{user}", auth.PER_CLIENT_ACCOUNT, True),
            (f"client:{client}", auth.PER_CLIENT, False), (account, auth.PER_ACCOUNT, False)]


def test_backoff_doubles_after_the_free_failures_and_is_forgotten():
    clock = Clock()
    throttle = auth.LoginThrottle(clock)
    for _ in range(5):
        throttle.finish(throttle.begin(_keys("a")), False)
    assert throttle.begin(_keys("a")) == pytest.approx(1.0)
    clock.now += 1.0
    throttle.finish(throttle.begin(_keys("a")), False)         # the 6th
    assert throttle.begin(_keys("a")) == pytest.approx(2.0)
    clock.now += 2.0
    throttle.finish(throttle.begin(_keys("a")), False)         # the 7th
    assert throttle.begin(_keys("a")) == pytest.approx(4.0)
    clock.now += auth.PER_CLIENT_ACCOUNT.forget_s + 1
    assert isinstance(throttle.begin(_keys("a")), auth.Attempt)
    assert auth.PER_CLIENT_ACCOUNT.wait_after(100) == auth.PER_CLIENT_ACCOUNT.max_s


def test_one_client_does_not_lock_out_another():
    throttle = auth.LoginThrottle(Clock())
    for _ in range(7):
        attempt = throttle.begin(_keys("127.0.0.2"))
        if isinstance(attempt, auth.Attempt):
            throttle.finish(attempt, False)
    assert throttle.begin(_keys("127.0.0.2")) > 0
    assert isinstance(throttle.begin(_keys("127.0.0.3")), auth.Attempt)


def test_the_check_and_count_is_atomic_under_parallel_guesses():
    throttle = auth.LoginThrottle(Clock())
    barrier = threading.Barrier(30)
    results = []

    def guess():
        barrier.wait()
        results.append(throttle.begin(_keys("127.0.0.9")))

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admitted = [r for r in results if isinstance(r, auth.Attempt)]
    assert len(admitted) == auth.PER_CLIENT_ACCOUNT.free          # not one more password check than allowed
    for attempt in admitted:
        throttle.finish(attempt, False)
    assert throttle.begin(_keys("127.0.0.9")) > 0


def test_guesses_spread_over_many_addresses_slow_the_account_but_not_a_trusted_device():
    throttle = auth.LoginThrottle(Clock())
    for i in range(auth.PER_ACCOUNT.free):
        throttle.finish(throttle.begin(_keys(f"10.0.{i}.1")), False)
    assert throttle.begin(_keys("10.9.9.9")) > 0                 # a new address: the account waits
    assert isinstance(throttle.begin([("device:abc", auth.PER_DEVICE, True)]), auth.Attempt)
    assert isinstance(throttle.begin(_keys("10.9.9.9", user="ben")), auth.Attempt)   # other accounts: no


def test_busy_attempts_count_nothing_and_success_resets_the_client_key():
    throttle = auth.LoginThrottle(Clock())
    for _ in range(4):
        throttle.finish(throttle.begin(_keys("a")), False)
    throttle.finish(throttle.begin(_keys("a")), None)
    throttle.finish(throttle.begin(_keys("a")), True)
    for _ in range(4):
        throttle.finish(throttle.begin(_keys("a")), False)
    assert isinstance(throttle.begin(_keys("a")), auth.Attempt)


def test_a_flood_of_names_cannot_evict_an_accounts_count():
    throttle = auth.LoginThrottle(Clock(), max_keys=200)
    for i in range(auth.PER_ACCOUNT.free):
        throttle.finish(throttle.begin(_keys(f"10.0.{i}.1")), False)
    for i in range(500):                                         # new names from new addresses
        throttle.finish(throttle.begin(_keys(f"10.1.{i // 250}.{i % 250}", user=f"ghost{i}")), False)
    assert len(throttle._counts) <= 200
    assert throttle.begin(_keys("10.9.9.9")) > 0


# ------------------------------------------------------------------ sessions (real scrypt)
@pytest.fixture()
def authenticator(tmp_path):
    store = DashboardStore(tmp_path / "d.sqlite3")
    clock = Clock()
    accounts = auth.parse_accounts([f"nurse:{HASH}", f"anna:supervisor:{HASH}"])
    yield auth.Authenticator(accounts, store, session_s=600.0, clock=clock, session_max_s=1800.0), store, clock
    store.close()


def test_sessions_idle_refresh_absolute_end_and_logout(authenticator):
    authenticator, store, clock = authenticator
    assert authenticator.login("nurse", "wrong", "127.0.0.2").outcome is auth.LoginOutcome.WRONG
    assert authenticator.login("ghost", PASSWORD, "127.0.0.2").outcome is auth.LoginOutcome.WRONG
    result = authenticator.login("nurse", PASSWORD, "127.0.0.2")
    token = result.token
    assert result.outcome is auth.LoginOutcome.OK and result.session.role is auth.Role.STAFF and result.device_token
    assert authenticator.session("forged") is None and authenticator.session("x" * 5000) is None
    clock.now += 100
    assert not authenticator.session(token).refreshed              # plenty of idle time left
    clock.now += 400
    session = authenticator.session(token)
    assert session.refreshed and session.cookie_max_age(clock.now) == 600      # the cookie is sent again
    for _ in range(3):                                              # active all along ...
        clock.now += 400
        assert authenticator.session(token) is not None
    clock.now += 400                                                # ... but 1800 s after the login it ends
    assert authenticator.session(token) is None
    token = authenticator.login("nurse", PASSWORD, "127.0.0.2").token
    clock.now += 601                                                # idle too long
    assert authenticator.session(token) is None
    token = authenticator.login("anna", PASSWORD, "127.0.0.2").token
    assert authenticator.session(token).role is auth.Role.SUPERVISOR
    authenticator.logout(token)
    assert authenticator.session(token) is None


def test_a_changed_password_or_role_ends_the_sessions(authenticator, tmp_path):
    authenticator, store, clock = authenticator
    token = authenticator.login("nurse", PASSWORD, "127.0.0.2").token
    promoted = auth.Authenticator(auth.parse_accounts([f"nurse:supervisor:{HASH}"]), store, 600.0, clock=clock)
    assert promoted.session(token) is None
    token = authenticator.login("nurse", PASSWORD, "127.0.0.2").token
    removed = auth.Authenticator({}, store, 600.0, clock=clock)
    assert removed.session(token) is None


def test_sessions_survive_a_restart_only_as_hashes(authenticator, tmp_path):
    authenticator, store, clock = authenticator
    result = authenticator.login("nurse", PASSWORD, "127.0.0.2")
    reopened = DashboardStore(tmp_path / "d.sqlite3")
    again = auth.Authenticator(authenticator.accounts, reopened, 600.0, clock=clock)
    assert again.session(result.token).user == "nurse"
    raw = (tmp_path / "d.sqlite3").read_bytes() + (tmp_path / "d.sqlite3-wal").read_bytes()
    assert result.token.encode() not in raw and result.device_token.encode() not in raw
    reopened.close()


def test_a_trusted_device_is_not_slowed_by_guessing_elsewhere(authenticator, monkeypatch):
    authenticator, store, clock = authenticator
    device = authenticator.login("nurse", PASSWORD, "127.0.0.2").device_token
    monkeypatch.setattr(auth, "PER_ACCOUNT", auth.Backoff(free=2, first_s=30.0, max_s=60.0, forget_s=900.0))
    for client in ("127.0.0.5", "127.0.0.6"):
        assert authenticator.login("nurse", "guess", client).outcome is auth.LoginOutcome.WRONG
    assert authenticator.login("nurse", PASSWORD, "127.0.0.7").outcome is auth.LoginOutcome.THROTTLED
    result = authenticator.login("nurse", PASSWORD, "127.0.0.7", device_token=device)
    assert result.outcome is auth.LoginOutcome.OK and result.device_token == ""     # already trusted
    # A trust cookie of another account, or a forged one, is no trust at all.
    assert authenticator.login("anna", "guess", "127.0.0.8", device_token=device).outcome is auth.LoginOutcome.WRONG
    assert authenticator._trusted_device("nurse", "forged") is None
