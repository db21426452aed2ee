"""Speaker-similarity judge: cosine between speaker embeddings of an independent, pretrained encoder.

    judge = SpeakerJudge()
    a, b = judge.embed(audio_24k), judge.embed(other_24k)    # unit vectors, 256 dims
    judge.cosine(a, b)                                        # in [-1, 1]; same speaker ≈ 0.8+

The encoder is resemblyzer's GE2E d-vector model (a 3-layer LSTM over 40-band mel frames at 16 kHz, trained
on LibriSpeech / VoxCeleb). Its weights ship inside the resemblyzer wheel, so it works offline; nothing in
flowtts trains on it. Install (``../shared/research/dependencies.md`` §5; a plain ``pip install resemblyzer``
pulls an sdist of webrtcvad that fails at import)::

    pip install librosa webrtcvad-wheels          # both in the ``evals`` extra
    pip install --no-deps resemblyzer             # scripts/setup.sh does this when the extras hold evals

**What the numbers mean** (measured on espeak-ng voices, research notes §5): the same voice on different
sentences gives about 0.82–0.85, male vs female voices 0.56–0.75; close variants of one voice are *not*
separated (0.9+). Sentence content moves the cosine by 0.05–0.1, so compare systems on matched sentences
and average over several pairs; as with the ASR judge, only ratios under the same judge are meaningful.

**Preprocessing** (resemblyzer's own, applied to every clip alike): resampled to 16 kHz, volume raised to
−30 dBFS (never lowered), long silences cut by a WebRTC voice-activity detector. When the detector keeps less
than half a second (noise, or a very short clip) the untrimmed clip is embedded instead, and digital silence
is embedded as it is, so every non-empty clip has an embedding (a failed generation scores low, it does not
stop an evaluation).
"""

from __future__ import annotations

import functools

import numpy as np

from flowtts.audio import resample
from flowtts.errors import FlowTTSError

JUDGE_SAMPLE_RATE = 16000  # the encoder's rate
MIN_TRIMMED_SECONDS = 0.5


def _require_resemblyzer():
    try:
        import resemblyzer
        from resemblyzer import audio as resemblyzer_audio
    except ImportError as e:
        raise FlowTTSError(
            "the speaker judge needs resemblyzer: pip install 'flowtts[evals]' && "
            f"pip install --no-deps resemblyzer (or run scripts/setup.sh) [{e}]"
        ) from e
    return resemblyzer, resemblyzer_audio


@functools.lru_cache(maxsize=1)
def judge_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("resemblyzer")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class SpeakerJudge:
    """resemblyzer's pretrained ``VoiceEncoder`` on CPU (or ``device``)."""

    def __init__(self, device: str = "cpu"):
        resemblyzer, self._audio = _require_resemblyzer()
        self._encoder = resemblyzer.VoiceEncoder(device=device, verbose=False)
        self.name = f"resemblyzer {judge_version()} GE2E speaker encoder (256-dim d-vectors, 16 kHz)"

    def _prepare(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        if x.size == 0:
            raise FlowTTSError("speaker judge: empty audio")
        if not np.isfinite(x).all():
            raise FlowTTSError("speaker judge: audio contains NaN or infinite samples")
        x = np.clip(resample(x, sample_rate, JUDGE_SAMPLE_RATE), -1.0, 1.0)
        a = self._audio
        if np.abs(x).max() * 32767 >= 1.0:  # digital silence has no level to raise (log of 0)
            x = a.normalize_volume(x, a.audio_norm_target_dBFS, increase_only=True)
        x = np.clip(x, -1.0, 1.0).astype(np.float32)
        trimmed = a.trim_long_silences(x)
        return trimmed if len(trimmed) >= MIN_TRIMMED_SECONDS * JUDGE_SAMPLE_RATE else x

    def embed(self, audio_24k: np.ndarray, sample_rate: int = 24000) -> np.ndarray:
        """The speaker embedding of one clip (float samples in [-1, 1]): a float32 unit vector ``[256]``."""
        v = np.asarray(self._encoder.embed_utterance(self._prepare(audio_24k, sample_rate)), dtype=np.float32)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    @staticmethod
    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        """Cosine similarity of two embeddings (0.0 when either is all zeros)."""
        a, b = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
        if a.shape != b.shape:
            raise ValueError(f"cosine: shapes differ ({a.shape} vs {b.shape})")
        na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
        if na == 0.0 or nb == 0.0:
            return 0.0
        return float(np.dot(a, b) / (na * nb))

    def similarity(self, a: np.ndarray, b: np.ndarray, sample_rate: int = 24000) -> float:
        """Cosine between the embeddings of two clips."""
        return self.cosine(self.embed(a, sample_rate), self.embed(b, sample_rate))
