"""Audio helpers and sources (no ROS, no models)."""
import io
import wave

import numpy as np
import pytest

from carebot.speech.audio import (SAMPLE_RATE, AudioFormatError, StreamResampler, read_wav, read_wav_bytes,
                                  resample)
from carebot.speech.audio_source import (DeviceInfo, DeviceNotFound, PushSource, SourceState, StreamClock,
                                         WavFileSource, select_device)


def _tone(freq, rate, seconds):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * rate / len(x)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_stream_resampler_keeps_pitch_and_length(rate):
    x = _tone(440.0, rate, 1.0)
    r = StreamResampler(rate)
    out = np.concatenate([r.process(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    assert abs(len(out) - SAMPLE_RATE) <= 2
    assert abs(_peak_hz(out[200:], SAMPLE_RATE) - 440.0) < 3.0


def test_stream_resampler_has_no_clicks_at_block_edges():
    x = _tone(300.0, 44100, 0.5)
    r1, r2 = StreamResampler(44100), StreamResampler(44100)
    whole = r1.process(x)
    pieces = np.concatenate([r2.process(x[i:i + 441]) for i in range(0, len(x), 441)])
    n = min(len(whole), len(pieces))
    assert np.max(np.abs(whole[:n] - pieces[:n])) < 1e-4


def test_downsampling_removes_what_16k_cannot_carry():
    x = _tone(12000.0, 48000, 0.5)   # above 8 kHz Nyquist: must not alias into the speech band
    out = StreamResampler(48000).process(x)
    assert np.sqrt(np.mean(out[100:] ** 2)) < 0.05


def _wav_bytes(samples_int, width, channels, rate):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples_int.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("width,dtype,scale", [(2, "<i2", 16000), (4, "<i4", 1 << 30), (1, np.uint8, None)])
def test_read_wav_widths_and_stereo(tmp_path, width, dtype, scale):
    x = _tone(440, 8000, 0.2)
    stereo = np.repeat(x, 2)
    if dtype is np.uint8:
        data = (stereo * 100 + 128).astype(np.uint8)
    else:
        data = (stereo * scale).astype(dtype)
    path = tmp_path / "a.wav"
    path.write_bytes(_wav_bytes(data, width, 2, 8000))
    clip = read_wav(path)
    assert clip.sample_rate == 8000 and len(clip.samples) == len(x)
    assert np.corrcoef(clip.samples, x)[0, 1] > 0.99


def test_bad_wav_is_a_clear_error(tmp_path):
    path = tmp_path / "b.wav"
    path.write_bytes(b"not a wav at all" * 10)
    with pytest.raises(AudioFormatError):
        read_wav(path)
    with pytest.raises(AudioFormatError):
        read_wav_bytes(b"RIFF")


def test_streamed_wav_with_unset_lengths_is_read():
    raw = bytearray(_wav_bytes((_tone(200, 16000, 0.1) * 10000).astype("<i2"), 2, 1, 16000))
    raw[4:8] = b"\xff\xff\xff\xff"
    raw[40:44] = b"\xff\xff\xff\xff"
    assert len(read_wav_bytes(bytes(raw)).samples) == 1600


DEVICES = [DeviceInfo(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 44100),
           DeviceInfo(1, "HDMI 0", 0, 48000),
           DeviceInfo(2, "USB Audio: ReSpeaker 4 Mic Array (hw:1,0)", 6, 16000),
           DeviceInfo(3, "pulse", 32, 44100),
           DeviceInfo(4, "default", 32, 44100)]


def test_select_device_by_index_name_and_default():
    assert select_device(DEVICES, 2).index == 2
    assert select_device(DEVICES, "2").index == 2
    assert select_device(DEVICES, "pulse").index == 3
    assert select_device(DEVICES, "respeaker").index == 2          # substring, any case
    assert select_device(DEVICES, "", default_index=4).index == 4
    assert select_device(DEVICES, None).index == 0
    with pytest.raises(DeviceNotFound, match="pulse"):               # lists what exists
        select_device(DEVICES, "jabra")
    with pytest.raises(DeviceNotFound):
        select_device(DEVICES, 1)                                    # an output-only device
    with pytest.raises(DeviceNotFound):
        select_device([], None)


def test_wav_file_source_blocks_and_tail(tmp_path):
    path = tmp_path / "c.wav"
    path.write_bytes(_wav_bytes((_tone(300, 44100, 1.0) * 20000).astype("<i2"), 2, 1, 44100))
    src = WavFileSource(path, tail_s=0.5, clock=lambda: 100.0)
    blocks = []
    while (b := src.read()) is not None:
        blocks.append(b)
    assert src.state == SourceState.FINISHED
    total = sum(len(b.samples) for b in blocks)
    assert abs(total - 1.5 * SAMPLE_RATE) < 50
    assert blocks[0].t0 == 100.0 and blocks[1].t0 == pytest.approx(100.03)


def test_push_source_converts_stereo_48k_and_bounds_its_queue():
    src = PushSource(max_blocks=3)
    stereo = np.repeat((_tone(440, 48000, 0.03) * 20000).astype(np.int16), 2)
    for i in range(5):
        src.push(stereo, 48000, 2, t0=float(i))
    assert src.dropped_blocks == 2
    first = src.read(0.1)
    assert first.t0 == 2.0 and abs(len(first.samples) - 480) <= 2
    with pytest.raises(ValueError):
        src.push(stereo, 0, 2, 0.0)


def test_stream_clock_maps_samples_to_block_times():
    clock = StreamClock()
    clock.mark(0, 10.0)
    clock.mark(480, 10.5)   # a gap in the stream (e.g. a dropped block)
    assert clock.time_of(240) == pytest.approx(10.015)
    assert clock.time_of(480 + 1600) == pytest.approx(10.6)


def test_whole_signal_resample_matches_length():
    assert len(resample(np.zeros(22050, np.float32), 22050)) == 16000


def test_wav_file_source_in_real_time_waits_like_a_microphone(tmp_path):
    import time

    path = tmp_path / "d.wav"
    path.write_bytes(_wav_bytes(np.zeros(16000 // 2, "<i2"), 2, 1, 16000))
    src = WavFileSource(path, realtime=True, tail_s=0.0)
    started = time.monotonic()
    got = 0
    while src.state != SourceState.FINISHED and time.monotonic() - started < 3:
        block = src.read(0.05)
        got += 0 if block is None else len(block.samples)
    assert got == 8000
    assert 0.45 < time.monotonic() - started < 1.5


def test_a_missing_device_is_reported_and_retried_not_raised():
    from carebot.speech.audio_source import PyAudioSource

    changes = []
    src = PyAudioSource("no-such-microphone-xyz", reopen_interval_s=0.1,
                        on_state=lambda state, detail: changes.append((state, detail)))
    try:
        assert src.state == SourceState.LOST
        assert "no-such-microphone-xyz" in src.last_error
        assert changes and changes[0][0] == SourceState.LOST
        for _ in range(3):          # each read waits or retries; none raises
            assert src.read(0.15) is None
        assert src.state == SourceState.LOST
    finally:
        src.close()
    assert src.state == SourceState.CLOSED and src.read(0.1) is None


def test_drain_chunks_takes_across_chunks_and_keeps_the_rest_at_the_front():
    import collections

    from carebot.speech.audio import drain_chunks

    chunks = collections.deque([np.arange(3, dtype=np.float32), np.arange(10, 15, dtype=np.float32)])
    into = np.zeros(5, np.float32)
    assert drain_chunks(chunks, 5, into) == 5
    assert into.tolist() == [0, 1, 2, 10, 11]
    assert [c.tolist() for c in chunks] == [[12, 13, 14]]
    assert drain_chunks(chunks, 10) == 3 and not chunks      # without a target: skipped
    assert drain_chunks(chunks, 4, np.zeros(4, np.float32)) == 0
