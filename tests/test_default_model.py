"""Golden test: the shipped default model says fixed English sentences, as judged by an independent
recognizer (pocketsphinx with a closed vocabulary, ``evals.judges.asr``).

Each target sentence is synthesized with the default English voice and a fixed seed, and recognized against
a closed set of TARGETS + DISTRACTORS. A sentence counts as said when the recognizer's words are nearer to it
(word error rate) than to any other sentence of the set, a 1-in-20 chance for noise or babble. The bars below
are set from what the shipped model measured (see MODEL_CARD.md) with a margin, so the test catches a
broken release, a broken loader or a broken generator, not small changes in quality.

Runs whenever the default model is present (it ships in the package); ``FLOWTTS_GOLDEN_MODEL`` points it at
another model folder (to check a candidate before it is released).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowtts.model_dir import default_model_dir

MODEL = Path(os.environ.get("FLOWTTS_GOLDEN_MODEL") or default_model_dir())
pytestmark = [
    pytest.mark.golden,
    pytest.mark.skipif(
        not (MODEL / "model.safetensors").exists(), reason=f"no model weights in {MODEL} (not shipped here)"
    ),
]

TARGETS = [
    "The sun was shining on the sea.",
    "Please call me when you get home.",
    "We need more time to finish the work.",
    "She opened the door and walked into the garden.",
    "There are seven days in a week.",
    "The children were playing in the park.",
]
DISTRACTORS = [
    "He bought a new car last year.",
    "Turn left at the next corner.",
    "My brother lives in a small town.",
    "The train leaves at noon.",
    "It was a cold and rainy night.",
    "Do you want some tea or coffee?",
    "The book is on the kitchen table.",
    "They went fishing by the river.",
    "I forgot my keys at the office.",
    "The dog barked at the postman.",
    "Open the window, it is too warm.",
    "Water boils at one hundred degrees.",
    "Our teacher told us a long story.",
    "The market is closed on Sunday.",
]
MIN_SAID = 3  # of 6 targets nearest to their own sentence (chance: 6/20 expected in total = 0.3)
MAX_WER = 0.8  # corpus-level WER of the six targets against their own text


def test_the_default_model_says_fixed_sentences() -> None:
    pytest.importorskip("pocketsphinx")
    import flowtts
    from evals.judges.asr import AsrJudge, wer, wer_counts

    tts = flowtts.load(MODEL)
    judge = AsrJudge(TARGETS + DISTRACTORS)
    candidates = TARGETS + DISTRACTORS
    hyps, said = [], 0
    for i, text in enumerate(TARGETS):
        audio = tts.synthesize(text, lang="en", seed=i)
        assert audio.duration > 0.3 * len(text) / 12.5
        hyp = judge.transcribe(audio.samples, audio.sample_rate)
        hyps.append(hyp)
        counts = [wer_counts(c, hyp) for c in candidates]  # (edits, reference words) per candidate
        rates = [edits / max(1, words) for edits, words in counts]
        said += int(min(range(len(candidates)), key=rates.__getitem__) == i)
    rate = wer(TARGETS, hyps)
    detail = "\n".join(f"  {t!r} -> {h!r}" for t, h in zip(TARGETS, hyps, strict=True))
    assert said >= MIN_SAID and rate <= MAX_WER, f"said {said}/{len(TARGETS)}, WER {rate:.2f}\n{detail}"
