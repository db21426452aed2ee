"""WSOLA time stretch: exact streaming, length, pitch, no clicks, bounded latency and memory."""

import numpy as np
import pytest

from flowtts.dsp import TimeStretch

SR = 24000


def _sine(freq=200.0, seconds=1.5, amp=0.5):
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _speechlike(seconds=1.5, seed=0):
    """Harmonics of a gliding 110–160 Hz voice with vibrato, a noise burst, a pause."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    f0 = 110 + 50 * t / seconds + 4 * np.sin(2 * np.pi * 5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(0.25 / h * np.sin(h * phase) for h in range(1, 10))
    x[int(0.5 * SR) : int(0.6 * SR)] = 0.1 * rng.standard_normal(int(0.1 * SR))
    x[int(0.9 * SR) : int(1.0 * SR)] = 0.0
    return x.astype(np.float32)


def _one_shot(rate, x):
    ts = TimeStretch(rate, SR)
    return np.concatenate([ts.push(x), ts.flush()])


def _streamed(rate, x, sizes):
    ts = TimeStretch(rate, SR)
    out, i, k = [], 0, 0
    while i < len(x):
        n = int(sizes[k % len(sizes)])
        out.append(ts.push(x[i : i + n]))
        i, k = i + n, k + 1
    out.append(ts.flush())
    return np.concatenate(out)


@pytest.mark.parametrize("rate", [0.5, 0.8, 1.25, 1.5, 2.0])
def test_streamed_equals_one_shot_for_random_chunkings(rate):
    x = _speechlike()
    whole = _one_shot(rate, x)
    rng = np.random.default_rng(int(rate * 100))
    chunkings = [
        [1560] + [1920] * 50,  # what TTS.stream pushes
        rng.integers(1, 64, size=200),  # tiny pieces
        rng.integers(1, 5000, size=50),
        [0, 7, 3000, 0, 1],  # empty pushes too
    ]
    for sizes in chunkings:
        streamed = _streamed(rate, x, sizes)
        assert streamed.dtype == np.float32
        assert len(streamed) == len(whole)
        np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rate", [0.5, 0.7, 1.0, 1.3, 2.0])
@pytest.mark.parametrize("n", [0, 1, 100, 599, 1920, 24_001])
def test_length_is_input_over_rate(rate, n):
    x = _sine(seconds=n / SR + 1e-9)[:n]
    y = _one_shot(rate, x)
    assert len(y) == int(np.floor(n / rate + 0.5))
    assert np.isfinite(y).all()


@pytest.mark.parametrize("rate", [0.5, 0.75, 1.5, 2.0])
@pytest.mark.parametrize("freq", [200.0, 197.3])
def test_pitch_is_kept_and_nothing_clicks(rate, freq):
    x = _sine(freq)
    y = _one_shot(rate, x)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * SR / len(y)
    assert abs(peak_hz - freq) < 2.0  # bins are 0.33–1.3 Hz wide here
    max_slope = 2 * np.pi * freq * 0.5 / SR  # the sine's own steepest step
    assert np.abs(np.diff(y)).max() < 1.1 * max_slope
    middle = y[SR // 10 : -SR // 10]
    assert 0.45 < np.abs(middle).max() < 0.55  # the in-phase overlap keeps the amplitude


def test_rate_one_is_identity():
    x = _speechlike()
    ts = TimeStretch(1.0, SR)
    assert np.array_equal(ts.push(x[:1000]), x[:1000])
    assert np.array_equal(ts.push(x[1000:]), x[1000:])
    assert len(ts.flush()) == 0


@pytest.mark.parametrize("rate", [0.5, 1.5, 2.0])
def test_silence_stays_silence(rate):
    y = _streamed(rate, np.zeros(SR, dtype=np.float32), [1920])
    assert len(y) == round(SR / rate) and not y.any()


def test_speechlike_signal_keeps_its_level_and_is_finite():
    x = _speechlike()
    for rate in (0.6, 1.7):
        y = _one_shot(rate, x)
        assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
        rms_x, rms_y = np.sqrt(np.mean(x**2)), np.sqrt(np.mean(y**2))
        assert 0.8 < rms_y / rms_x < 1.2


@pytest.mark.parametrize("rate", [0.5, 1.0, 1.4, 2.0])
def test_latency_and_memory_are_bounded(rate):
    x = _speechlike(seconds=3.0)
    ts = TimeStretch(rate, SR)
    emitted = 0
    for i in range(0, len(x), 240):
        emitted += len(ts.push(x[i : i + 240]))
        fed = min(i + 240, len(x))
        assert fed - emitted * rate <= ts.latency_samples
        assert len(ts.state.buf) <= ts.latency_samples + ts.frame_len + 240
    assert ts.latency_samples < 0.05 * SR


def test_flush_starts_a_new_stream():
    x = _speechlike()
    ts = TimeStretch(1.5, SR)
    first = np.concatenate([ts.push(x), ts.flush()])
    second = np.concatenate([ts.push(x), ts.flush()])
    assert np.array_equal(first, second)


@pytest.mark.parametrize("rate", [0.49, 2.01, float("nan"), 0.0])
def test_bad_rate(rate):
    with pytest.raises(ValueError):
        TimeStretch(rate, SR)
