"""Audio helpers shared by the corpus builder, data preparation and the engine's edges.

Inside flowtts, audio is a float32 numpy array ``[N]`` in [-1, 1] at a known sample rate.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowtts.atomic import atomic_path
from flowtts.errors import FlowTTSError


@dataclass(frozen=True)
class Audio:
    """Mono audio: ``samples`` is float32 ``[N]`` in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def read_audio(path: str | os.PathLike) -> Audio:
    """Reads any format libsndfile knows; mixes channels down to mono; rejects NaN/inf.

    Raises:
        FlowTTSError: unreadable, empty or non-finite audio.
    """
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # [N, C]
    except (RuntimeError, sf.LibsndfileError, OSError) as e:
        raise FlowTTSError(f"cannot read audio {path}: {e}") from e
    if data.shape[0] == 0:
        raise FlowTTSError(f"audio {path} is empty (0 samples)")
    mono = data.mean(axis=1)  # [N]
    if not np.isfinite(mono).all():
        raise FlowTTSError(f"audio {path} contains NaN or infinite samples")
    return Audio(np.ascontiguousarray(mono, dtype=np.float32), int(sr))


def resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited polyphase resampling ``[N] -> [N * sr_out / sr_in]`` (Kaiser window)."""
    if sr_in == sr_out:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = math.gcd(sr_in, sr_out)
    out = resample_poly(samples.astype(np.float64), sr_out // g, sr_in // g, window=("kaiser", 8.0))
    return out.astype(np.float32)


def frame_db(samples: np.ndarray, sample_rate: int, frame_ms: float = 20.0) -> np.ndarray:
    """RMS level in dBFS of consecutive non-overlapping frames: ``[N] -> [N // frame]``."""
    n = max(1, int(sample_rate * frame_ms / 1000))
    usable = len(samples) // n * n
    if usable == 0:
        return np.full(1, -120.0, dtype=np.float32)
    frames = samples[:usable].reshape(-1, n).astype(np.float64)  # [F, n]
    rms = np.sqrt((frames**2).mean(axis=1) + 1e-12)
    return (20 * np.log10(rms + 1e-12)).astype(np.float32)


def silence_ratio(samples: np.ndarray, sample_rate: int, threshold_db: float = -45.0) -> float:
    """Share of 20 ms frames quieter than ``threshold_db`` relative to the loudest frame."""
    db = frame_db(samples, sample_rate)
    return float((db < db.max() + threshold_db).mean())


def voiced_bounds(
    samples: np.ndarray, sample_rate: int, threshold_db: float = -40.0, pad_ms: float = 100.0
) -> tuple[int, int] | None:
    """``(a, b)`` such that ``samples[a:b]`` drops leading and trailing 20 ms frames quieter than
    ``threshold_db`` below the peak frame, keeping ``pad_ms`` of context on each side; None when
    every frame is below -80 dBFS (nothing to keep)."""
    frame = int(sample_rate * 20 / 1000)  # as frame_db
    db = frame_db(samples, sample_rate)
    voiced = np.flatnonzero(db >= db.max() + threshold_db)
    if len(voiced) == 0 or db.max() < -80:
        return None
    pad = int(sample_rate * pad_ms / 1000)
    a = max(0, int(voiced[0]) * frame - pad)
    b = min(len(samples), (int(voiced[-1]) + 1) * frame + pad)
    return a, b


def trim_silence(
    samples: np.ndarray, sample_rate: int, threshold_db: float = -40.0, pad_ms: float = 100.0
) -> np.ndarray:
    """``samples`` cut to ``voiced_bounds`` (possibly empty)."""
    bounds = voiced_bounds(samples, sample_rate, threshold_db, pad_ms)
    return samples[:0] if bounds is None else samples[bounds[0] : bounds[1]]


def loudness_lufs(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4, gated) in LUFS; ``-inf`` for silence."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate)
    x = samples.astype(np.float64)
    min_len = int(0.4 * sample_rate) + 1  # the meter needs one 400 ms gating block
    if len(x) < min_len:
        x = np.pad(x, (0, min_len - len(x)))
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(x))


@dataclass(frozen=True)
class LoudnessGain:
    """The gain that brings a signal to a loudness target under a peak ceiling."""

    lufs_in: float  # integrated loudness before (``-inf`` for silence)
    gain_db: float  # 0 for silence
    limited: bool  # the peak ceiling, not the target, set the gain (the result stays quieter)


def loudness_gain(
    samples: np.ndarray, sample_rate: int, target_lufs: float = -23.0, peak_dbfs: float = -1.0
) -> LoudnessGain:
    """The gain to ``target_lufs`` integrated loudness, lowered if the peak would pass ``peak_dbfs`` (no
    limiter, so no distortion)."""
    lufs = loudness_lufs(samples, sample_rate)
    if not math.isfinite(lufs):
        return LoudnessGain(lufs, 0.0, False)
    gain_db = target_lufs - lufs
    peak = float(np.abs(samples).max())
    ceiling_db = peak_dbfs - 20 * math.log10(peak)
    return LoudnessGain(lufs, min(gain_db, ceiling_db), gain_db > ceiling_db)


def normalize_loudness(
    samples: np.ndarray, sample_rate: int, target_lufs: float = -23.0, peak_dbfs: float = -1.0
) -> np.ndarray:
    """Scales to ``target_lufs`` integrated loudness under the ``peak_dbfs`` ceiling (``loudness_gain``).
    Silence is returned unchanged."""
    g = loudness_gain(samples, sample_rate, target_lufs, peak_dbfs)
    return (samples * 10 ** (g.gain_db / 20)).astype(np.float32)


def write_audio_atomic(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Writes FLAC/WAV (by suffix) as 16-bit PCM through ``atomic_path``, so a killed process never
    leaves a truncated file under the final name. Not fsync'ed (thousands per corpus shard); the
    shard's manifest, written after its audio, is."""
    import soundfile as sf

    path = Path(path)
    fmt = {".flac": "FLAC", ".wav": "WAV"}.get(path.suffix.lower())
    if fmt is None:
        raise FlowTTSError(f"unsupported audio suffix {path.suffix!r} (use .flac or .wav)")
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(samples, -1.0, 1.0), sample_rate, format=fmt, subtype="PCM_16")
