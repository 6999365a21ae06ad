"""The page's language and clock from the site's parameters: /api/strings on a real server,
the parameter checks, and the map's room names in both languages."""
import json
import urllib.error
import urllib.request

import pytest

from carebot import i18n
from carebot.dashboard import auth
from carebot.dashboard.alerts import AlertBook
from carebot.dashboard.locale import SiteLocale, time_zone_problem
from carebot.dashboard.parameters import DASHBOARD
from carebot.dashboard.site_map import load_map
from carebot.dashboard.store import DashboardStore
from carebot.dashboard.web import DashboardApp, DashboardServer


class NoRobot:
    """Stand-in for the ROS side (unused by these routes)."""

    def status(self):
        return None

    def diagnostics(self):
        return []


@pytest.fixture()
def server(tmp_path):
    store = DashboardStore(tmp_path / "locale.sqlite3")
    app = DashboardApp(book=AlertBook(store), store=store, auth=auth.Authenticator({}, store, 600.0), link=NoRobot(),
                       locale=SiteLocale("zh-CN", "Asia/Shanghai"))
    running = DashboardServer(app, "127.0.0.1", 0).start()
    yield running
    running.stop()
    store.close()


def _get(server, path):
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_strings_default_to_the_sites_language_without_a_login(server):
    status, body = _get(server, "/api/strings")
    assert status == 200
    assert body["language"] == body["site_language"] == "zh-CN" and body["time_zone"] == "Asia/Shanghai"
    assert body["languages"] == ["zh-CN", "en"] and body["language_names"]["zh-CN"] == "中文"
    assert body["strings"]["page.login.submit"] == "登录" and body["strings"]["kind.FALL"] == "跌倒"
    assert set(body["strings"]) == set(i18n.catalogue())


def test_a_login_may_ask_for_the_other_language(server):
    status, body = _get(server, "/api/strings?lang=en")
    assert status == 200 and body["language"] == "en" and body["site_language"] == "zh-CN"
    assert body["strings"]["page.login.submit"] == "Log in"
    assert _get(server, "/api/strings?lang=zh")[1]["language"] == "zh-CN"     # the brain's code works too
    status, body = _get(server, "/api/strings?lang=fr")
    assert status == 400 and "unknown language 'fr'" in body["error"]


def test_site_language_and_time_zone_parameters_are_checked():
    assert DASHBOARD.issues({"language": "zh-CN", "time_zone": "Asia/Shanghai"}) == []
    issues = " ".join(str(i) for i in DASHBOARD.issues({"language": "zh-TW", "time_zone": "China/Guangzhou"}))
    assert "language" in issues and "time_zone" in issues and "IANA" in issues
    assert time_zone_problem("") is None and time_zone_problem("Europe/London") is None
    with pytest.raises(ValueError, match="IANA"):
        SiteLocale("en", "Mars/Olympus")
    assert SiteLocale("zh").language == "zh-CN"


@pytest.mark.parametrize("site", ["care_home", "public_hall"])
def test_the_map_names_every_room_in_both_languages(site):
    site_map = load_map(site)
    for room in site_map["rooms"]:
        assert set(site_map["labels"][room]) == {"en", "zh-CN"}, room
    json.dumps(site_map)        # plain JSON for the page
