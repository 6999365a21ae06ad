"""The staff page in the site's language (a Chinese site) and in English, in a real headless
Chromium against the dashboard node started by `carebot up`, with alerts, status and
transcripts published over real DDS.

Every string of the page is walked in both languages: each text outside what people and the
robot said (marked translate="no") must come from the catalogue (data-i18n) and be in the
page's language. Set CAREBOT_SCREENSHOT_DIR to keep the Chinese page's screenshot
(docs/images/dashboard_zh_fall.png is made this way)."""
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bringup_support import _HASH, CAREBOT, PASSWORD, RosPeer, free_port, http_ok
from carebot.i18n import alert_text, text
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for
from carebot.world import load_world

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TABLET = (800, 1280)          # portrait tablet, CSS pixels
SITE_ZONE = "Asia/Shanghai"   # not this machine's zone (UTC): the page must use the site's
LATIN_ALLOWED_IN_ZH = {"carebot", "x", "y"}   # the product name, the map axes

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("Debian chromium + chromium-driver are needed (scripts/setup.sh installs them)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

# Every text node and translatable attribute of the page, with what the walk found wrong:
# a text outside translate="no" that no catalogue key put there (no data-i18n above it), or
# an attribute not filled from the catalogue (data-i18n-attr). Hidden parts are walked too.
WALK = r"""
const bad = [], texts = [];
const untranslated = (el) => el.closest('[translate="no"]');
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let node;
while ((node = walker.nextNode())) {
  const value = node.textContent.trim();
  const parent = node.parentElement;
  if (!value || !parent || untranslated(parent)) continue;
  texts.push(value);
  if (/^[\d\s:.,·…\-\/()]+$/.test(value)) continue;          // times, numbers, separators
  if (!parent.closest('[data-i18n]')) bad.push(`no catalogue key: "${value}" in <${parent.tagName} id=${parent.id}>`);
}
for (const el of document.querySelectorAll('[placeholder],[aria-label],[alt],[title]')) {
  if (untranslated(el)) continue;
  for (const attr of ['placeholder', 'aria-label', 'alt', 'title']) {
    if (!el.hasAttribute(attr)) continue;
    texts.push(el.getAttribute(attr));
    if (!(el.dataset.i18nAttr || '').split(';').some((p) => p.startsWith(attr + ':')))
      bad.push(`attribute ${attr}="${el.getAttribute(attr)}" of <${el.tagName} id=${el.id}> not from the catalogue`);
  }
}
texts.push(document.title);
return {bad, texts, missing: window.__missingKeys || []};
"""


def _browser(profile_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile_dir}", "--lang=en-US",
                 f"--window-size={TABLET[0]},{TABLET[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def _config(folder: Path, port: int) -> Path:
    """A Chinese site: language zh-CN, Guangzhou's clock; two staff accounts and a supervisor
    (same password)."""
    path = folder / "site.yaml"
    path.write_text("\n".join([
        "dashboard:", "  ros__parameters:", f"    port: {port}", f"    database: {folder / 'dashboard.sqlite3'}",
        "    world: care_home", '    title: "颐康护理院 · 护士站"', "    language: zh-CN", f"    time_zone: {SITE_ZONE}",
        "    staff_accounts:", f'      - "nurse:{_HASH}"', f'      - "night:{_HASH}"',
        f'      - "boss:supervisor:{_HASH}"']) + "\n")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard_zh")
    port = free_port()
    env = isolated_env()
    log = folder / "up.log"
    proc = start(CAREBOT + ["up", "--only", "dashboard", "--config", str(_config(folder, port))], env, log)
    url = f"http://127.0.0.1:{port}/"
    peer = driver = None
    try:
        assert wait_for(lambda: http_ok(url + "healthz"), 60), log.read_text()
        peer = RosPeer(env)
        assert peer.wait_for_dashboard(), log.read_text()
        driver = _browser(folder / "chromium-profile")
        yield url, peer, driver, folder
    finally:
        if driver is not None:
            driver.quit()
        if peer is not None:
            peer.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            stop(proc)
        shutil.rmtree(folder / "chromium-profile", ignore_errors=True)


def _wait(driver, seconds=20):
    return WebDriverWait(driver, seconds, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def _login(driver, url, user="nurse", password=PASSWORD):
    driver.get(url)
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "login-user"))).send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def _logged_in(driver, url, user="nurse"):
    _login(driver, url, user)
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "main-view")))
    _wait(driver).until(lambda d: d.find_element(By.ID, "connection").get_attribute("data-i18n") == "page.connection.live")


def _walk(driver, language: str) -> list[str]:
    """Walk every string; return the texts shown, after asserting they are all translated."""
    found = driver.execute_script(WALK)
    assert found["bad"] == [], "\n".join(found["bad"])
    warnings = [e["message"] for e in driver.get_log("browser") if "no catalogue text" in e["message"]]
    assert warnings == [], warnings
    if language == "zh-CN":
        latin = {w for t in found["texts"] for w in re.findall(r"[A-Za-z]+", t)} - LATIN_ALLOWED_IN_ZH
        assert latin == set(), f"English words left on the Chinese page: {sorted(latin)}"
    else:
        chinese = [t for t in found["texts"] if re.search(r"[\u3400-\u9fff]", t)]
        assert chinese == [], f"Chinese left on the English page: {chinese}"
    return found["texts"]


def _publish_scene(peer, alert_id: str):
    """What the nurse station sees during the resident_fall demo: a fall in the lounge, the robot
    on its way there, its question to the resident, a node's health report."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from carebot_interfaces.msg import Alert, RobotStatus, Transcript
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    world = load_world("care_home")
    x, y = 2.67, 3.24
    room, place = world.room_at(x, y), world.landmark_near(x, y)
    msg = Alert(id=alert_id, kind=Alert.KIND_FALL, severity=Alert.SEVERITY_CRITICAL, state=Alert.STATE_RAISED,
                room=room, place=place, position_known=True,
                message=alert_text.fall_raised("zh-CN", world, room, place, 3.04, 2, 0.81))
    msg.header.frame_id = "map"
    msg.header.stamp = msg.raised_at = peer.node.get_clock().now().to_msg()
    msg.position.x, msg.position.y = x, y
    peer.alert_pub.publish(msg)

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    peer._status_pub = status_pub = peer.node.create_publisher(RobotStatus, "robot/status", latched)
    peer._transcript_pub = transcripts = peer.node.create_publisher(Transcript, "speech/transcript", 10)
    peer._diag_pub = diagnostics = peer.node.create_publisher(DiagnosticArray, "/diagnostics", 10)
    assert wait_for(lambda: transcripts.get_subscription_count() >= 1, 20)
    status = RobotStatus(mode=RobotStatus.MODE_NAVIGATING, current_task="navigate:lounge", speed_limit=0.2)
    status.pose.x, status.pose.y, status.pose.theta = 3.6, 3.9, -2.52      # on its way to the resident
    status_pub.publish(status)
    transcripts.publish(Transcript(text="您好，我是护理机器人。您还好吗？需要帮助吗？", language="zh", speaker="robot",
                                   source="robot", confidence=1.0))
    transcripts.publish(Transcript(text="我的腿好疼", language="zh", confidence=0.8))
    diagnostics.publish(DiagnosticArray(status=[DiagnosticStatus(name="carebot/perception", level=DiagnosticStatus.OK,
                                                                 message="ready")]))
    return room, place


def test_the_login_form_is_in_the_sites_language_and_says_errors_in_it(site):
    url, _, driver, _ = site
    _login(driver, url, password="not the password")
    _wait(driver).until(lambda d: d.find_element(By.ID, "login-error").text == "用户名或密码错误")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert driver.find_element(By.ID, "login-submit").text == "登录"
    assert Select(driver.find_element(By.ID, "login-language")).first_selected_option.text == "中文"
    _walk(driver, "zh-CN")


def test_a_fall_alert_names_the_room_in_chinese_with_the_sites_clock(site):
    url, peer, driver, folder = site
    _logged_in(driver, url)
    alert_id = f"fall-{time.time_ns()}"
    room, place = _publish_scene(peer, alert_id)
    card_css = f'li[data-alert-id="{alert_id}"]'
    _wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, card_css))
    _wait(driver).until(lambda d: "前往休息室" in d.find_element(By.ID, "robot-summary").text
                        and "我的腿好疼" in d.find_element(By.ID, "transcript-list").text)
    card = driver.find_element(By.CSS_SELECTOR, card_css)
    assert card.find_element(By.CSS_SELECTOR, ".alert-headline").text == "跌倒：休息室，茶几旁，已倒地 3 秒"
    assert card.find_element(By.CSS_SELECTOR, ".alert-state").text == "新警报"
    assert "跟踪编号 2，跌倒置信度 0.81" in card.text          # the numbers, in the details
    assert card.find_element(By.CSS_SELECTOR, ".ack-btn").text == "确认收到"
    assert driver.title.startswith("(1) ") and "护理看板" in driver.title
    # the time, 24-hour in Guangzhou's zone (the machine runs on UTC)
    shown = card.find_element(By.CSS_SELECTOR, ".alert-time").text
    now = datetime.now(ZoneInfo(SITE_ZONE))
    assert re.fullmatch(r"\d\d:\d\d:\d\d", shown), shown
    assert any(shown.startswith((now + timedelta(minutes=m)).strftime("%H:%M")) for m in (-1, 0)), (shown, now)
    # the map labels its rooms from the world file, in Chinese; the alert is drawn where it is
    labels = {e.get_attribute("data-room"): e.text for e in driver.find_elements(By.CSS_SELECTOR, "#site-map .room-label")}
    assert labels["lounge"] == "休息室" and labels["nurse_station"] == "护士站"
    assert driver.find_elements(By.CSS_SELECTOR, "#site-map .alert-marker")
    _wait(driver).until(lambda d: "carebot/perception" in d.find_element(By.ID, "health-table").text)
    texts = _walk(driver, "zh-CN")
    assert "机器人与场地地图" in texts and "系统状态" in texts
    driver.save_screenshot(str(folder / "dashboard_zh_fall.png"))
    keep = os.environ.get("CAREBOT_SCREENSHOT_DIR")
    if keep:
        shutil.copy(folder / "dashboard_zh_fall.png", Path(keep) / "dashboard_zh_fall.png")


def test_a_login_switches_to_english_and_keeps_it_while_another_login_keeps_the_sites(site):
    url, peer, driver, _ = site
    driver.get(url)
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "main-view")))
    _wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "li[data-alert-id]"))
    Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
    _wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    _wait(driver).until(lambda d: "Fall: lounge, by the coffee table" in d.find_element(By.ID, "alert-list").text)
    card = driver.find_element(By.CSS_SELECTOR, "li[data-alert-id]")
    # the page says kind, room and place from the alert's fields; the node's Chinese words stay below
    assert card.find_element(By.CSS_SELECTOR, ".alert-headline").text == "Fall: lounge, by the coffee table"
    words = card.find_element(By.CSS_SELECTOR, '.alert-message [translate="no"]')
    assert words.text == "跌倒：休息室，茶几旁，已倒地 3 秒" and words.get_attribute("lang") == "zh-CN"
    assert card.find_element(By.CSS_SELECTOR, ".alert-state").text == "New"
    assert card.find_element(By.CSS_SELECTOR, ".ack-btn").text == "Acknowledge"
    assert "going to lounge" in driver.find_element(By.ID, "robot-summary").text
    assert driver.find_element(By.CSS_SELECTOR, '#site-map .room-label[data-room="lounge"]').text == "lounge"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", card.find_element(By.CSS_SELECTOR, ".alert-time").text)  # still 24-hour
    _walk(driver, "en")

    driver.refresh()                          # the choice belongs to this login
    _wait(driver).until(lambda d: d.find_element(By.ID, "main-view").is_displayed()
                        and d.find_element(By.ID, "logout-button").text == "Log out")
    driver.find_element(By.ID, "logout-button").click()
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "login-user")))
    _logged_in(driver, url, user="night")     # another account: the site's language
    _wait(driver).until(lambda d: d.find_element(By.ID, "logout-button").text == "退出登录")
    driver.find_element(By.ID, "logout-button").click()
    _logged_in(driver, url, user="nurse")     # and back: English again
    _wait(driver).until(lambda d: d.find_element(By.ID, "logout-button").text == "Log out")


def test_confirmations_and_errors_in_the_chosen_language(site):
    url, peer, driver, _ = site
    from carebot_interfaces.msg import RobotStatus

    driver.get(url)
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "main-view")))
    Select(driver.find_element(By.ID, "language-select")).select_by_value("zh-CN")
    _wait(driver).until(lambda d: d.find_element(By.ID, "logout-button").text == "退出登录")
    # the chat with no brain running: the error in Chinese
    driver.find_element(By.ID, "chat-input").send_keys("厨房在哪里？")
    driver.find_element(By.ID, "chat-send").click()
    _wait(driver).until(lambda d: text("error.robot_unavailable", "zh-CN") in d.find_element(By.ID, "chat-log").text)
    # the emergency stop latched: a staff account is told who may release it, in Chinese ...
    status = RobotStatus(mode=RobotStatus.MODE_EMERGENCY_STOP, emergency_stop=True, stop_reason="dashboard")
    peer._status_pub.publish(status)
    note = _wait(driver).until(EC.visibility_of_element_located((By.ID, "estop-reset-note")))
    assert note.text == "只有主管可以解除紧急停止。" and not driver.find_element(By.ID, "estop-reset").is_displayed()
    assert "紧急停止" in driver.find_element(By.ID, "robot-summary").text
    assert driver.find_element(By.ID, "user-role").text == "护理员"
    _walk(driver, "zh-CN")
    # ... a supervisor gets the button, its confirmation and the question why, in Chinese
    driver.find_element(By.ID, "logout-button").click()
    _logged_in(driver, url, user="boss")
    assert driver.find_element(By.ID, "user-role").text == "主管"
    button = _wait(driver).until(EC.element_to_be_clickable((By.ID, "estop-reset")))
    assert button.text == "解除紧急停止"
    button.click()
    dialog = _wait(driver).until(EC.alert_is_present())
    assert dialog.text == "确定解除紧急停止吗？机器人可能会再次移动。"
    dialog.accept()
    question = _wait(driver).until(EC.alert_is_present())
    assert question.text == "为什么可以让机器人重新移动？（将记入日志）"
    question.dismiss()                        # no reason: nothing is sent
    _walk(driver, "zh-CN")
    Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
    _wait(driver).until(lambda d: d.find_element(By.ID, "estop-reset").text == "Reset emergency stop")
    assert driver.find_element(By.ID, "user-role").text == "supervisor"
    _walk(driver, "en")
