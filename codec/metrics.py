"""Objective codec metrics on one utterance: mel distance, STOI, wideband PESQ, phoneme error rate.

Shared by training validation and ``evals`` (which imports them; nothing here imports ``evals``). PESQ
and STOI need the optional packages ``pesq`` and ``pystoi`` (extras ``train``/``evals``).
"""

from __future__ import annotations

import numpy as np
import torch

from codec.mel import MelSpectrogram
from codec.phonemes import edit_distance
from flowtts.audio import resample
from flowtts.constants import SAMPLE_RATE

_MEL = None


def mel_distance(reference: np.ndarray, degraded: np.ndarray) -> float:
    """Mean L1 between natural-log mel magnitudes (n_fft 1024, hop 256, 100 bands) of two 24 kHz signals."""
    global _MEL
    if _MEL is None:
        _MEL = MelSpectrogram(1024, 256, 100)
    n = min(len(reference), len(degraded))
    with torch.no_grad():
        a = _MEL(torch.from_numpy(np.ascontiguousarray(reference[:n]))[None])
        b = _MEL(torch.from_numpy(np.ascontiguousarray(degraded[:n]))[None])
    return float((a - b).abs().mean())


def stoi(reference: np.ndarray, degraded: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Short-time objective intelligibility (pystoi; it resamples to 10 kHz itself)."""
    from pystoi import stoi as _stoi

    n = min(len(reference), len(degraded))
    return float(_stoi(reference[:n].astype(np.float64), degraded[:n].astype(np.float64), sample_rate))


def pesq_wb(reference: np.ndarray, degraded: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Wideband PESQ (ITU-T P.862.2) at 16 kHz; NaN when PESQ finds no utterance (e.g. silence)."""
    from pesq import PesqError, pesq

    n = min(len(reference), len(degraded))
    ref = resample(reference[:n], sample_rate, 16000)
    deg = resample(degraded[:n], sample_rate, 16000)
    try:
        return float(pesq(16000, ref, deg, "wb"))
    except PesqError:
        return float("nan")


def phoneme_errors(reference: list[str], hypothesis: list[str]) -> tuple[int, int]:
    """(edit distance, reference length): sum both over a set, then divide, for the PER."""
    return edit_distance(reference, hypothesis), len(reference)
