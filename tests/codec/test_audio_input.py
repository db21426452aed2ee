"""Audio going into the codec: mixed, resampled, scaled or refused with one clear message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.audio_input import load_for_codec, prepare_for_codec
from flowtts.errors import FlowTTSError


def _tone(n: int, sr: int = 24000, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * 220 * np.arange(n) / sr)).astype(np.float32)


def test_plain_24k_mono_passes_unchanged() -> None:
    x = _tone(24000)
    p = prepare_for_codec(x, 24000)
    assert p.notes == [] and p.samples.dtype == torch.float32
    assert np.array_equal(p.samples.numpy(), x)


def test_stereo_is_mixed_down() -> None:
    left, right = _tone(4800), np.zeros(4800, np.float32)
    p = prepare_for_codec(np.stack([left, right], axis=1), 24000, name="x.wav")
    assert p.samples.shape == (4800,)
    np.testing.assert_allclose(p.samples.numpy(), left / 2, atol=1e-7)
    assert any("2 channels mixed down" in n for n in p.notes)
    # a [N, 1] array is mono: no note
    assert prepare_for_codec(left[:, None], 24000).notes == []


def test_16k_is_resampled_to_24k() -> None:
    p = prepare_for_codec(_tone(16000, sr=16000), 16000)
    assert p.samples.shape == (24000,)
    assert any("resampled from 16000 Hz to 24000 Hz" in n for n in p.notes)
    # still a 220 Hz tone of the same level
    spectrum = np.abs(np.fft.rfft(p.samples.numpy()))
    assert np.argmax(spectrum) == 220
    assert float(np.abs(p.samples.numpy()[2000:-2000]).max()) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(bad: float) -> None:
    x = _tone(100)
    x[50] = bad
    with pytest.raises(FlowTTSError, match="NaN or infinite"):
        prepare_for_codec(x, 24000)


def test_empty_and_malformed_input_is_refused() -> None:
    with pytest.raises(FlowTTSError, match="empty"):
        prepare_for_codec(np.zeros(0, np.float32), 24000)
    with pytest.raises(FlowTTSError, match="empty"):
        prepare_for_codec(np.zeros((0, 2), np.float32), 24000)
    with pytest.raises(FlowTTSError, match="expected"):
        prepare_for_codec(np.zeros((2, 2, 2), np.float32), 24000)
    with pytest.raises(FlowTTSError, match="sample rate"):
        prepare_for_codec(_tone(100), 100)


def test_peak_above_full_scale_is_scaled_not_wrapped() -> None:
    x = _tone(24000, amp=3.0)
    p = prepare_for_codec(x, 24000)
    assert float(p.samples.abs().max()) == pytest.approx(1.0)
    np.testing.assert_allclose(p.samples.numpy(), x / np.abs(x).max(), rtol=1e-6)
    assert any("above full scale" in n for n in p.notes)


def test_silence_is_encoded_with_a_note() -> None:
    p = prepare_for_codec(np.zeros(4800, np.float32), 24000)
    assert p.samples.shape == (4800,) and not p.samples.any()
    assert p.notes and "digital silence" in p.notes[0]


def test_clipping_is_noted_but_kept() -> None:
    x = np.clip(_tone(24000, amp=2.0), -1.0, 1.0)  # a third of the samples at full scale
    p = prepare_for_codec(x, 24000)
    assert np.array_equal(p.samples.numpy(), x)
    assert any("clipped input" in n for n in p.notes)
    assert not any("clipped" in n for n in prepare_for_codec(_tone(24000), 24000).notes)


def test_load_for_codec_reads_files(tmp_path: Path) -> None:
    path = tmp_path / "stereo16k.wav"
    sf.write(path, np.stack([_tone(8000, sr=16000), _tone(8000, sr=16000)], axis=1), 16000, subtype="FLOAT")
    p = load_for_codec(path)
    assert p.samples.shape == (12000,)
    assert any("2 channels mixed down" in n for n in p.notes)
    assert any("resampled" in n for n in p.notes)


def test_load_for_codec_refuses_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "noise.wav").write_bytes(b"RIFF not really a wav file")
    with pytest.raises(FlowTTSError, match="cannot read audio"):
        load_for_codec(tmp_path / "noise.wav")
    with pytest.raises(FlowTTSError, match="cannot read audio"):
        load_for_codec(tmp_path / "missing.wav")
    nan = tmp_path / "nan.wav"
    x = _tone(2400)
    x[10] = np.nan
    sf.write(nan, x, 24000, subtype="FLOAT")
    with pytest.raises(FlowTTSError, match="NaN"):
        load_for_codec(nan)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 24000)
    with pytest.raises(FlowTTSError, match="empty"):
        load_for_codec(empty)
