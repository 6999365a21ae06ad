"""The dashboard's STOP button against the real base safety node (motion role), both
under `carebot up`: the stop latches in base_safety, the page shows EMERGENCY STOP
from robot/status, and only the page's explicit reset releases it."""
import shutil

import pytest

from bringup_support import CAREBOT, free_port, http_ok, write_config
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

from test_dashboard_browser import _browser, _login, _wait  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def test_stop_button_latches_base_safety_and_reset_releases_it(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    config.write_text(config.read_text() + "base_safety:\n  ros__parameters:\n    site: care_home\n")
    env = isolated_env()
    log = tmp_path / "up.log"
    up = start(CAREBOT + ["up", "--only", "base_safety", "dashboard", "--config", str(config)], env, log)
    driver = None
    try:
        assert wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 90), log.read_text()
        driver = _browser(tmp_path / "profile")
        _login(driver, f"http://127.0.0.1:{port}/")
        summary = lambda d: d.find_element(By.ID, "robot-summary").text  # noqa: E731
        _wait(driver, 60).until(lambda d: summary(d).startswith("robot: ") and "no status" not in summary(d))
        assert "EMERGENCY STOP" not in summary(driver)

        driver.find_element(By.ID, "estop-button").click()
        _wait(driver).until(lambda d: d.find_element(By.ID, "estop-button").text == "STOPPED")  # service confirmed
        _wait(driver).until(lambda d: "EMERGENCY STOP" in summary(d))
        reset = driver.find_element(By.ID, "estop-reset")
        assert reset.is_displayed()

        reset.click()
        driver.switch_to.alert.accept()          # the page asks before releasing the stop
        _wait(driver).until(lambda d: "EMERGENCY STOP" not in summary(d))
        assert not driver.find_element(By.ID, "estop-reset").is_displayed()
    finally:
        if driver is not None:
            driver.quit()
        stop(up, timeout=30)
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    text = log.read_text()
    assert "EMERGENCY STOP from the dashboard by nurse" in text
