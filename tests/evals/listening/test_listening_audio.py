"""Stimulus audio: the anchors (measured spectra), loudness matching (measured LUFS), resampling, WAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from evals.listening import audio as A
from flowtts.audio import loudness_lufs, write_audio_atomic
from flowtts.errors import FlowTTSError
from tests.evals.listening.listening_fixtures import stimulus


def _band_power(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    f, p = welch(x.astype(np.float64), rate, nperseg=4096)
    return float(p[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize("rate", [24000, 48000])
@pytest.mark.parametrize("anchor, cutoff", [(A.low_anchor, 3500.0), (A.mid_anchor, 7000.0)])
def test_anchors_remove_everything_above_the_cutoff(rate: int, anchor, cutoff: float) -> None:
    x = np.random.default_rng(0).standard_normal(rate * 4).astype(np.float32) * 0.1  # white: flat spectrum
    y = anchor(x, rate)
    assert y.shape == x.shape and y.dtype == np.float32
    above = 10 * np.log10(_band_power(y, rate, cutoff, rate / 2) / _band_power(x, rate, cutoff, rate / 2))
    assert above <= -40.0, f"energy above {cutoff:g} Hz only {above:.1f} dB down"
    passband = 10 * np.log10(
        _band_power(y, rate, 100, 0.9 * cutoff) / _band_power(x, rate, 100, 0.9 * cutoff)
    )
    assert abs(passband) < 0.2, f"passband changed by {passband:.2f} dB"


def test_anchors_are_zero_phase() -> None:
    """A tone in the passband comes out where it went in (no delay), so switching to the anchor keeps
    the words in place."""
    rate = 24000
    t = np.arange(rate) / rate
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = A.low_anchor(x, rate)
    middle = slice(2000, -2000)
    assert np.max(np.abs(y[middle] - x[middle])) < 0.01


def test_the_cutoff_must_fit_the_rate() -> None:
    with pytest.raises(FlowTTSError, match="sample rate above"):
        A.lowpass(np.zeros(1000, np.float32), 8000, 7000.0)


@pytest.mark.parametrize("level", [0.003, 0.05, 0.5])
@pytest.mark.parametrize("target", [-23.0, -30.0])
def test_loudness_matching_hits_the_target_in_the_written_file(
    tmp_path: Path, level: float, target: float
) -> None:
    x = stimulus(2.0, seed=3, level=level)
    m = A.match_loudness(x, 24000, target, peak_dbfs=-1.0)
    assert not m.limited and abs(m.lufs - target) < 0.5
    path = tmp_path / "s.wav"
    write_audio_atomic(path, m.samples, 24000)
    back, rate = sf.read(path, dtype="float32")
    assert rate == 24000 and abs(loudness_lufs(back, rate) - target) < 0.5
    assert abs(m.lufs_in - loudness_lufs(x, 24000)) < 1e-6


def test_peak_protection_lowers_the_gain_instead_of_clipping() -> None:
    x = np.zeros(24000 * 2, np.float32)
    x[::4800] = 0.9  # a few clicks: very peaky, very quiet
    m = A.match_loudness(x, 24000, -10.0, peak_dbfs=-1.0)
    assert m.limited and m.lufs < -10.5
    assert abs(20 * np.log10(np.abs(m.samples).max()) - (-1.0)) < 0.01


def test_silence_is_left_alone() -> None:
    m = A.match_loudness(np.zeros(24000, np.float32), 24000, -23.0)
    assert m.lufs == float("-inf") and not m.limited and not m.samples.any()


def test_load_mono_mixes_down_and_resamples(tmp_path: Path) -> None:
    x = stimulus(1.0, 44100)
    sf.write(tmp_path / "st.wav", np.stack([x, -x * 0.5], axis=1), 44100)
    y = A.load_mono(tmp_path / "st.wav", 24000)
    assert y.shape == (24000,) and y.dtype == np.float32
    sf.write(tmp_path / "short.wav", x[:4410], 44100)
    with pytest.raises(FlowTTSError, match="lasts 0.10 s"):
        A.load_mono(tmp_path / "short.wav", 24000)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    with pytest.raises(FlowTTSError, match="cannot read audio"):
        A.load_mono(tmp_path / "bad.wav", 24000)


def test_stimuli_are_16_bit_pcm_wav(tmp_path: Path) -> None:
    write_audio_atomic(tmp_path / "x.wav", stimulus(0.6), 24000)
    info = sf.info(tmp_path / "x.wav")
    assert (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "PCM_16", 1, 24000)
