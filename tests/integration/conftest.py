"""Fixtures shared by the integration tests."""
import pytest

import virtual_audio


@pytest.fixture
def room(tmp_path):
    """A private PulseAudio daemon with a null sink and its monitor as the default source."""
    if not virtual_audio.available():
        pytest.skip("PulseAudio is not installed (scripts/setup.sh installs it)")
    handle = virtual_audio.start(tmp_path / "pulse")
    yield handle
    handle.stop()
