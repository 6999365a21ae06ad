"""Password hashes, staff accounts, sessions and login throttling."""
import pytest

from carebot.dashboard import auth
from carebot.dashboard.store import DashboardStore

FAST = dict(n=2 ** 10)        # cheap hashes for the tests; the format is the same


def test_hash_verifies_and_is_salted():
    first, second = auth.hash_password("correct horse", **FAST), auth.hash_password("correct horse", **FAST)
    assert first != second and first.startswith("scrypt$1024$8$1$")
    assert auth.verify_password("correct horse", first) and auth.verify_password("correct horse", second)
    assert not auth.verify_password("correct hors", first)


def test_default_cost_and_short_passwords():
    stored = auth.hash_password("a long enough password")
    assert stored.split("$")[1] == str(auth.SCRYPT_N)
    with pytest.raises(ValueError, match="at least 8"):
        auth.hash_password("short")


@pytest.mark.parametrize("stored", ["", "plaintext", "scrypt$3$8$1$AAAA$AAAA", "bcrypt$x",
                                    "scrypt$1024$8$1$!!$AAAA"])
def test_malformed_hashes_never_verify(stored):
    assert not auth.verify_password("whatever1", stored)


def test_parse_accounts_names_the_bad_entry():
    good = "nurse:" + auth.hash_password("password1", **FAST)
    assert list(auth.parse_accounts([good])) == ["nurse"]
    with pytest.raises(ValueError, match=r"staff_accounts\[1\].*not a scrypt hash"):
        auth.parse_accounts([good, "doctor:secret"])
    with pytest.raises(ValueError, match="listed twice"):
        auth.parse_accounts([good, good])
    with pytest.raises(ValueError, match="account name"):
        auth.parse_accounts(["bad name:" + good.split(":", 1)[1]])


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture()
def authenticator(tmp_path):
    store = DashboardStore(tmp_path / "d.sqlite3")
    clock = Clock()
    accounts = auth.parse_accounts(["nurse:" + auth.hash_password("password1", **FAST)])
    yield auth.Authenticator(accounts, store, session_s=600.0, clock=clock,
                             throttle=auth.LoginThrottle(max_failures=3, block_s=30.0, clock=clock)), store, clock
    store.close()


def test_login_session_expiry_and_logout(authenticator):
    authenticator, store, clock = authenticator
    assert authenticator.login("nurse", "wrong") is None
    assert authenticator.login("ghost", "password1") is None
    token = authenticator.login("nurse", "password1")
    assert token and authenticator.user_of(token) == "nurse"
    assert authenticator.user_of("forged") is None
    clock.now += 400                       # activity slides the expiry forward
    assert authenticator.user_of(token) == "nurse"
    clock.now += 500
    assert authenticator.user_of(token) == "nurse"
    clock.now += 601
    assert authenticator.user_of(token) is None
    token = authenticator.login("nurse", "password1")
    authenticator.logout(token)
    assert authenticator.user_of(token) is None


def test_sessions_survive_a_restart_but_only_as_hashes(authenticator, tmp_path):
    authenticator, store, clock = authenticator
    token = authenticator.login("nurse", "password1")
    reopened = DashboardStore(tmp_path / "d.sqlite3")
    assert reopened.session_user(token, clock.now)[0] == "nurse"
    raw = (tmp_path / "d.sqlite3").read_bytes() + (tmp_path / "d.sqlite3-wal").read_bytes()
    assert token.encode() not in raw
    reopened.close()


def test_repeated_failures_block_the_account(authenticator):
    authenticator, store, clock = authenticator
    for _ in range(3):
        assert authenticator.login("nurse", "guess", client="10.0.0.9") is None
    assert authenticator.blocked_for("nurse", "10.0.0.9") > 0
    clock.now += 31
    assert authenticator.blocked_for("nurse", "10.0.0.9") == 0
