"""The audio edge: G.711, streaming resampling, the incremental encoders and the speed/rate/format chain."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.signal import resample_poly

from serve.audio_out import AudioOutput
from serve.encoders import FORMATS, check_format, make_encoder, wav_header
from serve.g711 import alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear
from serve.resample import StreamingResampler
from tests.serve.helpers import decode_audio

ALL16 = np.arange(-32768, 32768, dtype=np.int16)


def _audioop():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            pytest.skip("audioop (the reference G.711) is not in this Python")
    return audioop


def test_g711_matches_the_reference_bit_for_bit() -> None:
    audioop = _audioop()
    assert linear_to_ulaw(ALL16).tobytes() == audioop.lin2ulaw(ALL16.tobytes(), 2)
    assert linear_to_alaw(ALL16).tobytes() == audioop.lin2alaw(ALL16.tobytes(), 2)
    codes = np.arange(256, dtype=np.uint8)
    assert ulaw_to_linear(codes).tobytes() == audioop.ulaw2lin(codes.tobytes(), 2)
    assert alaw_to_linear(codes).tobytes() == audioop.alaw2lin(codes.tobytes(), 2)


def test_g711_round_trip_error_is_logarithmic() -> None:
    for enc, dec in ((linear_to_ulaw, ulaw_to_linear), (linear_to_alaw, alaw_to_linear)):
        back = dec(enc(ALL16)).astype(np.int64)
        err = np.abs(back - ALL16)
        assert (err <= np.maximum(16, np.abs(ALL16.astype(np.int64)) // 16)).all()  # ~6 % at worst
        assert (
            linear_to_ulaw(np.zeros(1, np.int16))[0] == 0xFF
            and linear_to_alaw(np.zeros(1, np.int16))[0] == 0xD5
        )


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_resampler_is_chunking_invariant_and_equals_resample_poly(rate) -> None:
    rng = np.random.default_rng(rate)
    x = (0.1 * rng.standard_normal(24000)).astype(np.float32)
    r = StreamingResampler(24000, rate)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 2500))
        parts.append(r.push(x[i : i + n]))
        i += n
    y = np.concatenate([*parts, r.flush()])
    ref = resample_poly(x.astype(np.float64), r.up, r.down, window=("kaiser", 5.0))
    assert len(y) == len(ref) == -(-len(x) * r.up // r.down)
    assert np.abs(y - ref).max() < 1e-6


def test_resampler_keeps_a_tone_and_removes_what_8k_cannot_carry() -> None:
    t = np.arange(24000) / 24000
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 6000 * t)  # 6 kHz > 4 kHz Nyquist
    r = StreamingResampler(24000, 8000)
    y = np.concatenate([r.push(low + high), r.flush()])[400:-400]
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 8000)
    assert abs(freqs[spec.argmax()] - 1000) < 5
    alias = spec[np.abs(freqs - 2000) < 20].max()  # 6 kHz would fold to 2 kHz
    assert alias < 0.01 * spec.max()
    assert StreamingResampler(24000, 24000).push(low).dtype == np.float32


def _stream(fmt: str, rate: int, x: np.ndarray) -> tuple[bytes, list[int]]:
    enc = make_encoder(fmt, rate)
    sizes = [len(enc.encode(x[i : i + 1920])) for i in range(0, len(x), 1920)]
    enc2 = make_encoder(fmt, rate)
    data = b"".join(enc2.encode(x[i : i + 1920]) for i in range(0, len(x), 1920)) + enc2.finish()
    return data, sizes


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus"])
@pytest.mark.parametrize("rate", [24000, 16000])
def test_encoders_stream_a_decodable_file(fmt, rate) -> None:
    t = np.arange(2 * rate) / rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    data, sizes = _stream(fmt, rate, x)
    assert sum(1 for s in sizes[:10] if s > 0) >= 2, f"{fmt} does not stream: {sizes[:10]}"
    y, r = decode_audio(data)
    assert r == rate
    assert 0.9 * len(x) <= len(y) <= 1.1 * len(x) + 2000
    spec = np.abs(np.fft.rfft(y[:rate] * np.hanning(min(rate, len(y)))))
    assert abs(np.fft.rfftfreq(min(rate, len(y)), 1 / r)[spec.argmax()] - 440) < 10


def test_raw_formats_have_exact_sizes() -> None:
    x = np.linspace(-1, 1, 1000, dtype=np.float32)
    assert len(make_encoder("pcm", 24000).encode(x)) == 2000
    assert len(make_encoder("ulaw", 8000).encode(x)) == 1000
    wav = make_encoder("wav", 8000)
    first = wav.encode(x)
    assert first[:44] == wav_header(8000) and len(first) == 44 + 2000 and len(wav.encode(x)) == 2000
    assert make_encoder("wav", 24000).finish() == wav_header(24000)  # no audio: still a valid WAV


def test_format_and_rate_checks() -> None:
    assert check_format("ulaw", None) == 8000 and check_format("pcm", None) == 24000
    assert check_format("mp3", 44100) == 44100
    for fmt, rate in (("ulaw", 16000), ("opus", 44100), ("pcm", 7000)):
        with pytest.raises(ValueError, match="sample_rate"):
            check_format(fmt, rate)
    with pytest.raises(ValueError, match="unknown response_format"):
        check_format("aac", None)
    assert set(FORMATS) == {"pcm", "wav", "ulaw", "alaw", "mp3", "opus", "flac"}


def test_output_chain_applies_speed_and_rate() -> None:
    rng = np.random.default_rng(0)
    x = (0.2 * rng.standard_normal(48000)).astype(np.float32)
    out = AudioOutput("pcm", 8000, speed=2.0)
    data = b"".join(out.push(x[i : i + 1920]) for i in range(0, len(x), 1920)) + out.finish()
    assert abs(len(data) // 2 - 8000) <= 8  # 2 s at double speed = 1 s at 8 kHz
    assert out.output_seconds(24000) == pytest.approx(0.5)
