"""The staff dashboard in a real headless Chromium (Debian's, driven by Selenium) against
the dashboard node started by `carebot up`, with alerts published over real DDS."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from bringup_support import CAREBOT, PASSWORD, RosPeer, free_port, http_ok, write_config
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TABLET = (800, 1280)          # portrait tablet, CSS pixels

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("Debian chromium + chromium-driver are needed (scripts/setup.sh installs them)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _browser(profile_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile_dir}",
                 f"--window-size={TABLET[0]},{TABLET[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


class Stack:
    """`carebot up --only dashboard` on a free port, restartable with the same database."""

    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.config = write_config(folder, self.port)
        self.env = isolated_env()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = None
        self.runs = 0

    def start(self):
        self.runs += 1
        self.log = self.folder / f"up{self.runs}.log"
        self.proc = start(CAREBOT + ["up", "--only", "dashboard", "--config", str(self.config)], self.env, self.log)
        assert wait_for(lambda: http_ok(self.url + "healthz"), 60), self.log.read_text()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            code = stop(self.proc)
        assert code == 0, self.log.read_text()
        assert not http_ok(self.url + "healthz")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard")
    stack = Stack(folder)
    stack.start()
    peer = RosPeer(stack.env)
    driver = _browser(folder / "chromium-profile")
    try:
        assert peer.wait_for_dashboard(), stack.log.read_text()
        yield stack, peer, driver
    finally:
        driver.quit()
        peer.close()
        if stack.proc.poll() is None:
            stack.stop()
        shutil.rmtree(folder / "chromium-profile", ignore_errors=True)


def _wait(driver, seconds=20):
    # the page redraws a part when its data changes: an element found a moment ago may be gone
    return WebDriverWait(driver, seconds, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def _alert_state(driver, alert_id):
    # the state's name (the badge shows it in the page's language: tests/integration/test_dashboard_languages.py)
    cards = driver.find_elements(By.CSS_SELECTOR, f'li[data-alert-id="{alert_id}"]')
    return cards[0].get_attribute("data-state") if cards else None


def _login(driver, url, user="nurse"):
    driver.get(url)
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "login-user"))).send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "main-view")))


def test_wrong_password_is_refused_in_the_page(stack):
    stack_, _, driver = stack
    driver.get(stack_.url)
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "login-user"))).send_keys("nurse")
    driver.find_element(By.ID, "login-password").send_keys("not the password")
    driver.find_element(By.ID, "login-submit").click()
    _wait(driver).until(EC.text_to_be_present_in_element((By.ID, "login-error"), "Wrong name or password"))
    assert not driver.find_element(By.ID, "main-view").is_displayed()


def test_alert_appears_is_acknowledged_and_survives_a_restart(stack):
    stack_, peer, driver = stack
    _login(driver, stack_.url)
    alert_id = f"fall-{time.time_ns()}"
    peer.raise_alert(alert_id, "Resident lying on the floor in the lounge")
    _wait(driver).until(lambda d: _alert_state(d, alert_id) == "RAISED")
    card = driver.find_element(By.CSS_SELECTOR, f'li[data-alert-id="{alert_id}"]')
    assert "Resident lying on the floor" in card.text and "lounge" in card.text
    assert driver.title.startswith("(1) ")            # the tab shows alerts waiting for staff
    assert driver.find_elements(By.CSS_SELECTOR, "#site-map .alert-marker"), "alert not drawn on the map"

    card.find_element(By.CSS_SELECTOR, ".ack-btn").click()
    _wait(driver).until(lambda d: _alert_state(d, alert_id) == "ACKNOWLEDGED")
    assert "by nurse" in driver.find_element(By.CSS_SELECTOR, f'li[data-alert-id="{alert_id}"]').text
    assert not driver.title.startswith("(")
    # the new state went out on `alerts` for the brain and other listeners
    assert wait_for(lambda: any(m.id == alert_id and m.state == 1 and m.handled_by == "nurse"
                                for m in peer.alerts_heard), 10)

    stack_.stop()
    _wait(driver).until(lambda d: d.find_element(By.ID, "connection").text == "offline")
    stack_.start()
    assert peer.wait_for_dashboard(), stack_.log.read_text()
    driver.refresh()     # the session is kept in the database: no second login
    _wait(driver, 30).until(lambda d: _alert_state(d, alert_id) == "ACKNOWLEDGED")
    card = driver.find_element(By.CSS_SELECTOR, f'li[data-alert-id="{alert_id}"]')
    assert "by nurse" in card.text and not card.find_elements(By.CSS_SELECTOR, ".ack-btn")

    # staff resolve through the UpdateAlert service; the page follows
    response = peer.update(alert_id, action=1, staff="night_nurse", note="resident is fine")
    assert response.success and response.alert.state == 3, response.message
    _wait(driver).until(lambda d: _alert_state(d, alert_id) == "RESOLVED")
    assert not peer.update(alert_id, action=0, staff="night_nurse").success   # already resolved


def test_an_alert_placed_relative_to_the_robot_is_described_not_drawn_on_the_map(stack):
    """A fall seen while the robot's map pose was unknown comes in base_link: drawing it
    at those numbers on the map would send staff to the wrong room."""
    stack_, peer, driver = stack
    driver.get(stack_.url)
    _wait(driver).until(lambda d: d.find_element(By.ID, "main-view").is_displayed()
                        or d.find_element(By.ID, "login-user").is_displayed())
    if not driver.find_element(By.ID, "main-view").is_displayed():   # run alone: not signed in yet
        _login(driver, stack_.url)
    on_map, relative = f"fall-map-{time.time_ns()}", f"fall-rel-{time.time_ns()}"
    peer.raise_alert(on_map, "Resident on the floor", frame_id="map", position=(4.0, 3.0))
    peer.raise_alert(relative, "Someone on the floor", place="", frame_id="base_link", position=(2.5, -0.5))
    _wait(driver).until(lambda d: _alert_state(d, on_map) == "RAISED" and _alert_state(d, relative) == "RAISED")
    card = driver.find_element(By.CSS_SELECTOR, f'li[data-alert-id="{relative}"]')
    assert "2.5 m ahead, 0.5 m right of the robot" in card.text
    markers = driver.find_elements(By.CSS_SELECTOR, "#site-map .alert-marker")
    assert [(float(m.get_attribute("cx")), float(m.get_attribute("cy"))) for m in markers] == [(4.0, 3.0)]


def test_estop_button_publishes_the_stop(stack):
    stack_, peer, driver = stack
    driver.get(stack_.url)
    button = _wait(driver).until(EC.element_to_be_clickable((By.ID, "estop-button")))
    before = len(peer.estops)
    button.click()
    assert wait_for(lambda: len(peer.estops) > before, 10), "no message on safety/estop"
    assert peer.estops[-1] is True
    _wait(driver).until(lambda d: d.find_element(By.ID, "estop-button").text in ("STOP SENT", "STOPPED"))


def test_page_fits_a_tablet_and_shows_map_and_health(stack):
    stack_, _, driver = stack
    driver.get(stack_.url)
    _wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#health-table td")
                        and "carebot/dashboard" in d.find_element(By.ID, "health-table").text)
    width, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, "page scrolls sideways on a tablet"
    rect = driver.find_element(By.ID, "estop-button").rect
    assert rect["height"] >= 44 and rect["width"] >= 44 and rect["y"] < 200   # big, at the top
    assert len(driver.find_elements(By.CSS_SELECTOR, "#site-map .wall")) > 5
    assert not driver.find_element(By.ID, "camera-card").is_displayed()       # off in config
    driver.find_element(By.ID, "chat-input").send_keys("where is the kitchen?")
    driver.find_element(By.ID, "chat-send").click()                            # no brain running here
    _wait(driver).until(lambda d: "not available" in d.find_element(By.ID, "chat-log").text)


def test_transcripts_and_robot_position_arrive_over_dds(stack):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from carebot_interfaces.msg import RobotStatus, Transcript

    stack_, peer, driver = stack
    driver.get(stack_.url)
    _wait(driver).until(EC.visibility_of_element_located((By.ID, "main-view")))
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    status_pub = peer.node.create_publisher(RobotStatus, "robot/status", latched)
    transcript_pub = peer.node.create_publisher(Transcript, "speech/transcript", 10)
    assert wait_for(lambda: transcript_pub.get_subscription_count() >= 1, 20)
    status = RobotStatus(mode=RobotStatus.MODE_NAVIGATING, current_task="navigate:kitchen", speed_limit=0.3)
    status.pose.x, status.pose.y = 15.5, 3.0
    status_pub.publish(status)
    transcript_pub.publish(Transcript(text="Could I have a glass of water please", language="en",
                                      confidence=0.9, speaker="resident_7"))
    _wait(driver).until(lambda d: "glass of water" in d.find_element(By.ID, "transcript-list").text)
    assert "resident_7" in driver.find_element(By.ID, "transcript-list").text
    _wait(driver).until(lambda d: "Navigating" in d.find_element(By.ID, "robot-summary").text)
    assert "going to kitchen" in driver.find_element(By.ID, "robot-summary").text
    # the map is redrawn every poll: read the marker in one script call
    transform = driver.execute_script("return document.getElementById('robot-marker').getAttribute('transform')")
    assert "translate(15.5 3)" in transform
