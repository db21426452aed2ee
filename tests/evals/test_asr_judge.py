"""The pocketsphinx intelligibility judge: text normalization, WER, OOV accounting, and real recognition
of espeak-ng speech against white noise."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest

from evals.judges.asr import AsrJudge, dictionary, lm_words, score_words, wer, wer_counts
from flowtts.audio import resample
from flowtts.errors import FlowTTSError

pytest.importorskip("pocketsphinx")

SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
]


def espeak(text: str, voice: str = "en-us") -> np.ndarray:
    """espeak-ng speech of ``text`` as float samples at 24 kHz."""
    import soundfile as sf

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(x, sr, 24000)


@pytest.fixture(scope="module")
def judge() -> AsrJudge:
    return AsrJudge(SENTENCES)


def test_scoring_normalization_is_case_punctuation_and_apostrophe_insensitive():
    assert score_words("It\u2019s a Well-Known, \u201ctest\u201d!") == [
        "it",
        "s",
        "a",
        "well",
        "known",
        "test",
    ]
    assert score_words("it's") == score_words("IT'S") == score_words("it s")
    assert score_words("read(2) the") == ["read", "the"]  # pocketsphinx alternative-pronunciation mark
    assert score_words("  ...  ") == []


def test_recognizer_words_keep_dictionary_apostrophes():
    vocab = dictionary()
    assert lm_words("It's 'quoted' text", vocab) == ["it's", "quoted", "text"]
    assert lm_words("'cause", vocab) == ["'cause"]  # a dictionary word with a leading apostrophe


def test_wer_edge_cases():
    assert wer(["Hello, world!"], ["hello world"]) == 0.0
    assert wer(["a b c"], [""]) == 1.0
    assert wer(["a"], ["x y z"]) == 3.0  # insertions count: WER can exceed 1
    # corpus level: total edits / total words (1 / 5), not the mean of per-sentence WERs (0.5)
    assert wer(["a b c d", "e"], ["a b c d", ""]) == pytest.approx(0.2)
    assert wer([], []) == 0.0
    assert wer([""], [""]) == 0.0
    assert wer(["..."], ["word"]) == float("inf")
    assert wer_counts("the cat sat", "the bat sat down") == (2, 3)
    with pytest.raises(ValueError):
        wer(["a"], ["a", "b"])


def test_oov_words_stay_in_the_reference_and_are_reported():
    j = AsrJudge(["the cat sat", "zzyzzxq the"])
    assert j.oov_words == {"zzyzzxq"}
    assert "zzyzzxq" not in j.vocabulary
    assert j.oov_rate == pytest.approx(1 / 5)
    # the OOV word can never be recognized, so it is an error for every system
    assert wer(["zzyzzxq the"], ["the"]) == 0.5


def test_judge_refuses_sentences_without_known_words():
    with pytest.raises(FlowTTSError):
        AsrJudge(["zzyzzxq qqxqzv"])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_judge_recognizes_speech_far_better_than_noise(judge):
    clean = [judge.transcribe(espeak(s)) for s in SENTENCES]
    rng = np.random.default_rng(0)
    noise = [judge.transcribe(rng.normal(0, 0.1, 36000).astype(np.float32)) for _ in SENTENCES]
    clean_wer, noise_wer = wer(SENTENCES, clean), wer(SENTENCES, noise)
    assert clean_wer < 0.4, clean
    assert noise_wer > 0.9, noise
    assert all(h == h.lower() for h in clean)


def test_transcribe_edge_inputs(judge):
    assert judge.transcribe(np.zeros(0, dtype=np.float32)) == ""
    assert isinstance(judge.transcribe(np.zeros(16000, dtype=np.float32), sample_rate=16000), str)
