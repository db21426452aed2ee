"""Tiny recordings for fine-tuning tests: "words" are harmonic tone bursts (as in tests/data/test_prepare.py)
with a same-stem transcript of as many 5-letter words, so ``flowtts data prepare`` accepts them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.model.helpers import make_tiny_model_dir

WORDS = ["hello", "there", "today", "quick", "brown", "jumps", "lazy", "costs"]
WORD_S, GAP_S = 0.25, 0.08


def speech(n_words: int, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """``n_words`` tone bursts of one "speaker" (a fixed pitch range), 0.33 s per word."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(WORD_S * sr)) / sr
    parts = [np.zeros(int(0.1 * sr))]
    for _ in range(n_words):
        f0 = 120 + 30 * rng.random()
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))
        parts += [0.3 * tone / np.abs(tone).max() * np.hanning(len(t)), np.zeros(int(GAP_S * sr))]
    parts.append(np.zeros(int(0.1 * sr)))
    return np.concatenate(parts).astype(np.float32)


def words(n: int, offset: int = 0) -> str:
    return " ".join(WORDS[(offset + i) % len(WORDS)] for i in range(n)) + "."


def make_recordings(folder: Path, clips: int, n_words: int = 10, sr: int = 16000) -> Path:
    """``clips`` files ``clip-K.wav`` (+ ``.txt``) of ``n_words`` words each (about 3.5 s at 10 words)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(clips):
        sf.write(folder / f"clip-{k:03d}.wav", speech(n_words, sr, seed=k), sr)
        (folder / f"clip-{k:03d}.txt").write_text(words(n_words, k), encoding="utf-8")
    return folder


def short_model_dir(root: Path) -> Path:
    """The tiny random model, capped at a few frames per sentence and 2 ODE steps (fast synthesis)."""
    root = make_tiny_model_dir(root)
    config = json.loads((root / "config.json").read_text())
    config["model"]["sampling"].update(min_max_frames=8, max_frames_per_char=0.5, steps=2)
    (root / "config.json").write_text(json.dumps(config))
    return root


def small_config(**over):
    """Settings for a tiny run: 40 s of data is enough, a few dozen steps, no samples, one thread."""
    from flowtts.finetune import FinetuneConfig

    base = dict(
        min_minutes=0.3,
        steps=40,
        val_every=10,
        lr=3e-3,
        warmup_steps=5,
        batch_positions=1024,
        samples=0,
        threads=1,
    )
    base.update(over)
    return FinetuneConfig(**base)
