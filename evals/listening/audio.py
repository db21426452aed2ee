"""Stimulus audio: one rate, mono, loudness-matched, the low-pass anchors, 16-bit PCM WAV.

Why these choices:

- **One sample rate for every stimulus (24 kHz by default).** flowtts speaks at 24 kHz, and so do most
  TTS systems it is compared with; at 24 kHz no system is upsampled (which would add nothing) and a
  full-band reference loses only what none of the systems could make (above 12 kHz), so listeners judge
  the speech, not the bandwidth. Set ``sample_rate = 48000`` in the config to compare full-band systems.
  Both anchors (3.5 and 7 kHz) lie well below 12 kHz. Resampling is band-limited polyphase (Kaiser).
- **Loudness matching (ITU-R BS.1770 integrated loudness, pyloudnorm) to one target, -23 LUFS by
  default.** Louder sounds better to listeners, so unmatched loudness biases every test. -23 LUFS leaves
  about 20 dB of headroom for speech, so the sample-peak ceiling (-1 dBFS) almost never has to lower a
  stimulus; when it does, the stimulus stays a little quieter rather than being limited (no distortion)
  and ``MatchedAudio.limited`` says so (the build reports it).
- **Anchors: a steep, zero-phase elliptic low-pass.** BS.1534-3's low anchor is the reference low-passed
  at 3.5 kHz, the mid anchor at 7 kHz. The filter's stopband starts at the cutoff (60 dB per pass, run
  forwards and backwards with ``sosfiltfilt``: 120 dB and no phase shift, so the anchor stays aligned with
  the reference when listeners switch) and its passband ends at 95 % of the cutoff.
- **16-bit PCM WAV**, the one lossless format every browser decodes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from flowtts.audio import loudness_gain, loudness_lufs, read_audio, resample
from flowtts.errors import FlowTTSError

LOW_ANCHOR_HZ = 3500.0
MID_ANCHOR_HZ = 7000.0
PASSBAND_EDGE = 0.95  # passband edge / cutoff of the anchor filters
STOPBAND_DB = 60.0  # per pass; sosfiltfilt doubles it
PASSBAND_RIPPLE_DB = 0.05
MIN_SECONDS = 0.5  # shorter stimuli cannot be judged (and BS.1770 needs 400 ms blocks)


@dataclass(frozen=True)
class MatchedAudio:
    """A stimulus after loudness matching: ``samples`` float32 ``[N]``; loudness before (``lufs_in``) and
    after (``lufs``, measured); ``limited`` when the peak ceiling kept it below the target."""

    samples: np.ndarray
    lufs_in: float
    lufs: float
    gain_db: float
    limited: bool


def load_mono(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Any file libsndfile reads -> float32 mono ``[N]`` at ``sample_rate``.

    Raises:
        FlowTTSError: unreadable, empty, non-finite or shorter than ``MIN_SECONDS``.
    """
    audio = read_audio(path)
    if audio.duration < MIN_SECONDS:
        raise FlowTTSError(f"audio {path} lasts {audio.duration:.2f} s; a stimulus needs >= {MIN_SECONDS} s")
    return resample(audio.samples, audio.sample_rate, sample_rate)


def lowpass(samples: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase elliptic low-pass ``[N] -> [N]``: flat to ``0.95 * cutoff_hz``, >= 120 dB down from
    ``cutoff_hz`` on."""
    from scipy.signal import ellip, ellipord, sosfiltfilt

    if not 0 < cutoff_hz < sample_rate / 2:
        raise FlowTTSError(f"low-pass cutoff {cutoff_hz:g} Hz needs a sample rate above {2 * cutoff_hz:g} Hz")
    order, edge = ellipord(
        PASSBAND_EDGE * cutoff_hz, cutoff_hz, PASSBAND_RIPPLE_DB, STOPBAND_DB, fs=sample_rate
    )
    sos = ellip(order, PASSBAND_RIPPLE_DB, STOPBAND_DB, edge, output="sos", fs=sample_rate)
    x = np.asarray(samples, dtype=np.float64)
    return sosfiltfilt(sos, x).astype(np.float32)


def low_anchor(reference: np.ndarray, sample_rate: int) -> np.ndarray:
    """BS.1534-3 low anchor: the reference low-passed at 3.5 kHz, ``[N] -> [N]``."""
    return lowpass(reference, sample_rate, LOW_ANCHOR_HZ)


def mid_anchor(reference: np.ndarray, sample_rate: int) -> np.ndarray:
    """BS.1534-3 mid anchor: the reference low-passed at 7 kHz, ``[N] -> [N]``."""
    return lowpass(reference, sample_rate, MID_ANCHOR_HZ)


def match_loudness(
    samples: np.ndarray, sample_rate: int, target_lufs: float, peak_dbfs: float = -1.0
) -> MatchedAudio:
    """Scales ``samples`` ``[N]`` to ``target_lufs``; if the peak would pass ``peak_dbfs`` the gain is
    lowered to keep it there (``limited``). Silence comes back unchanged (``lufs = -inf``)."""
    x = np.asarray(samples, dtype=np.float32)
    g = loudness_gain(x, sample_rate, target_lufs, peak_dbfs)
    if not math.isfinite(g.lufs_in):
        return MatchedAudio(x, g.lufs_in, g.lufs_in, 0.0, False)
    y = (x * 10 ** (g.gain_db / 20)).astype(np.float32)
    return MatchedAudio(y, g.lufs_in, loudness_lufs(quantize_16bit(y), sample_rate), g.gain_db, g.limited)


def quantize_16bit(samples: np.ndarray) -> np.ndarray:
    """What a 16-bit PCM file will hold, back as float32 ``[N]`` (for measuring what listeners hear)."""
    q = np.round(np.clip(samples, -1.0, 1.0) * 32767.0)
    return (q / 32767.0).astype(np.float32)
