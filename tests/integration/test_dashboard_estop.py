"""The dashboard's STOP button against the real base safety node (motion role), both
under `carebot up`: the stop latches in base_safety, the page shows EMERGENCY STOP
from robot/status, and only a supervisor's explicit reset with a reason releases it
(safety/reset_estop_with_reason: base_safety keeps who and why; the dashboard's audit too).
A staff account sees no reset button."""
import shutil

import pytest

from bringup_support import CAREBOT, db_rows, free_port, http_ok, write_config
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

from test_dashboard_browser import _browser, _login, _wait  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def test_stop_button_latches_base_safety_and_reset_releases_it(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    config.write_text(config.read_text() + "base_safety:\n  ros__parameters:\n    site: care_home\n"
                      "    allow_anonymous_reset: false\n")
    env = isolated_env()
    log = tmp_path / "up.log"
    up = start(CAREBOT + ["up", "--only", "base_safety", "dashboard", "--config", str(config)], env, log)
    driver = None
    try:
        assert wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 90), log.read_text()
        driver = _browser(tmp_path / "profile")
        _login(driver, f"http://127.0.0.1:{port}/")                 # a staff account: may stop, not release
        summary = lambda d: d.find_element(By.ID, "robot-summary").text  # noqa: E731
        _wait(driver, 60).until(lambda d: summary(d).startswith("robot: ") and "no status" not in summary(d))
        assert "emergency stop" not in summary(driver).lower()

        driver.find_element(By.ID, "estop-button").click()
        _wait(driver).until(lambda d: d.find_element(By.ID, "estop-button").text == "STOPPED")  # service confirmed
        _wait(driver).until(lambda d: "emergency stop" in summary(d).lower())
        assert not driver.find_element(By.ID, "estop-reset").is_displayed()

        driver.delete_all_cookies()
        _login(driver, f"http://127.0.0.1:{port}/", user="supervisor")
        _wait(driver).until(lambda d: d.find_element(By.ID, "estop-reset").is_displayed())
        driver.find_element(By.ID, "estop-reset").click()
        driver.switch_to.alert.accept()          # the page asks before releasing the stop ...
        prompt = driver.switch_to.alert          # ... and why it is safe to move again
        prompt.send_keys("resident back in bed, path clear")
        prompt.accept()
        _wait(driver).until(lambda d: "emergency stop" not in summary(d).lower())
        assert not driver.find_element(By.ID, "estop-reset").is_displayed()
    finally:
        if driver is not None:
            driver.quit()
        stop(up, timeout=30)
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    text = log.read_text()
    assert "EMERGENCY STOP from the dashboard by nurse" in text
    assert "dashboard:supervisor" in text and "resident back in bed, path clear" in text     # base_safety's log
    audit = db_rows(tmp_path / "dashboard.sqlite3", "SELECT actor, action, detail, outcome FROM audit_events "
                    "WHERE action IN ('estop', 'estop_reset') ORDER BY seq")
    assert audit == [("nurse", "estop", "emergency stop engaged", "confirmed"),
                     ("supervisor", "estop_reset", "resident back in bed, path clear", "ok")]
