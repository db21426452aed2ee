"""Intelligibility judge: an independent recognizer (CMU pocketsphinx, US-English) and word error rate.

    judge = AsrJudge(sentences)                 # the sentences that will be spoken
    hyp = judge.transcribe(audio_24k)           # float [-1, 1] at 24 kHz -> "the birch canoe slid ..."
    wer([sentences[0]], [hyp])                  # corpus-level WER: total edits / total reference words

**Why a closed vocabulary.** pocketsphinx's bundled open-vocabulary language model is unusable as a judge:
on clean espeak-ng speech of Harvard sentences it gives a corpus WER of about 0.88
(``../shared/research/dependencies.md`` §4), so it cannot tell good speech from bad. A trigram model built
from the evaluation sentences themselves (``pocketsphinx.lm.ArpaBoLM``) brings clean speech to 0.05–0.4 while
time-reversed speech and noise stay at 0.94–1.0. The judge then answers "which of these sentences, and how
much of it, can an independent recognizer make out", a coarse closed-set intelligibility check.

**Only ratios are meaningful.** A closed-vocabulary WER depends on the sentence set (its size and
overlap), on the voice (absolute values for clean speech vary from 0.05 to 0.42 between espeak voices)
and on the dictionary. Compare systems only through the ratio of their WERs under the *same* judge (same
sentences, same LM) on the same utterances, e.g. codec resynthesis vs the original recording. Never
compare an absolute WER from this judge with a number from another recognizer or another sentence set.

**Text normalization** (identical for references and hypotheses): Unicode NFKC, lowercase, typographic
apostrophes to ``'``, every other non-letter/non-digit character to a space; then words are split on
whitespace *and* apostrophes for scoring ("it's" -> "it", "s"). The recognizer itself keeps dictionary
words with apostrophes whole ("it's" has its own pronunciation), and its output is split the same way.

**Out-of-vocabulary words.** Words missing from the pocketsphinx dictionary (``cmudict-en-us.dict``) can
never be recognized. They stay in the references, so they count as errors equally for every system judged,
and ``oov_rate`` reports their share of the reference words: with a high OOV rate the ratio between
systems is squeezed toward 1.
"""

from __future__ import annotations

import functools
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from codec.phonemes import edit_distance
from flowtts.audio import resample
from flowtts.errors import FlowTTSError

JUDGE_SAMPLE_RATE = 16000  # the en-us acoustic model's rate
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u0060": "'", "\u00b4": "'"})
_ALT = re.compile(r"\(\d+\)$")  # "read(2)": an alternative pronunciation in the dictionary
_ALT_IN_TEXT = re.compile(r"\(\d+\)(?=\s|$)")


def _require_pocketsphinx():
    try:
        import pocketsphinx
    except ImportError as e:
        raise FlowTTSError(
            "the ASR judge needs pocketsphinx: pip install 'flowtts[evals]' (or pip install pocketsphinx)"
        ) from e
    return pocketsphinx


@functools.lru_cache(maxsize=1)
def dictionary() -> dict[str, tuple[str, ...]]:
    """The bundled pronunciation dictionary: word -> its pronunciation lines (``word(2) ...`` included)."""
    ps = _require_pocketsphinx()
    path = Path(ps.Config()["dict"])
    entries: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if len(parts) == 2:
                entries.setdefault(_ALT.sub("", parts[0]), []).append(line.rstrip("\n"))
    return {w: tuple(lines) for w, lines in entries.items()}


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    return "".join(ch if ch.isalnum() or ch == "'" else " " for ch in text)


def lm_words(text: str, vocabulary: dict | set | None = None) -> list[str]:
    """Words as the recognizer sees them: cleaned, apostrophes kept inside words.

    Apostrophes at a word's edges (quotes) are stripped unless the word is in ``vocabulary`` with them
    (``'cause``).
    """
    out = []
    for w in _clean(text).split():
        if vocabulary is None or w not in vocabulary:
            w = w.strip("'")
        if w:
            out.append(w)
    return out


def score_words(text: str) -> list[str]:
    """Words as they are scored: cleaned, split on whitespace and apostrophes (``"It's" -> ["it", "s"]``)."""
    return [w for w in re.split(r"[\s']+", _clean(_ALT_IN_TEXT.sub("", text))) if w]


def _split_hypothesis(hypstr: str) -> str:
    """pocketsphinx hypothesis -> plain words (alternative-pronunciation marks and fillers removed)."""
    words = [_ALT.sub("", w) for w in hypstr.split()]
    return " ".join(w for w in words if w and not w.startswith(("<", "[", "++")))


def wer_counts(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) of one pair, both normalized with ``score_words``."""
    ref, hyp = score_words(reference), score_words(hypothesis)
    return edit_distance(ref, hyp), len(ref)


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus-level word error rate: total edits / total reference words (not a mean of per-sentence WERs).

    Insertions count, so it can exceed 1. With no reference words at all it is 0.0 if there are no
    hypothesis words either, else ``inf``. ``refs`` and ``hyps`` must have the same length.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"wer: {len(refs)} references but {len(hyps)} hypotheses")
    edits = total = 0
    for r, h in zip(refs, hyps, strict=True):
        e, n = wer_counts(r, h)
        edits += e
        total += n
    if total == 0:
        return 0.0 if edits == 0 else float("inf")
    return edits / total


class AsrJudge:
    """pocketsphinx en-US with a closed-vocabulary trigram LM built from ``sentences``.

    Attributes after construction: ``vocabulary`` (in-dictionary words of the LM), ``oov_words`` (words of
    the sentences that the dictionary lacks) and ``oov_rate`` (their share of the sentences' scored words).
    """

    def __init__(self, sentences: list[str]):
        ps = _require_pocketsphinx()
        from pocketsphinx.lm import ArpaBoLM

        known = dictionary()
        lines: list[str] = []
        vocabulary: set[str] = set()
        self.oov_words: set[str] = set()
        for s in sentences:
            words = lm_words(s, known)
            self.oov_words.update(w for w in words if w not in known)
            words = [w for w in words if w in known]
            if words:
                lines.append(" ".join(words))
                vocabulary.update(words)
        if not lines:
            raise FlowTTSError("ASR judge: none of the sentences has a word the en-US dictionary knows")
        self.sentences = list(sentences)
        self.vocabulary = frozenset(vocabulary)
        self.oov_rate = self.oov_share(sentences)
        lm = ArpaBoLM(text="\n".join(lines) + "\n", add_start=True)
        lm.compute()
        with tempfile.TemporaryDirectory(prefix="flowtts-asr-") as tmp:
            arpa, dic = Path(tmp) / "closed.arpa", Path(tmp) / "closed.dict"
            lm.write_file(str(arpa))
            # Only the LM's words: the same search as with the full dictionary, but faster to load.
            dic.write_text("".join(line + "\n" for w in sorted(vocabulary) for line in known[w]), "utf-8")
            self._decoder = ps.Decoder(
                lm=str(arpa), dict=str(dic), samprate=JUDGE_SAMPLE_RATE, loglevel="FATAL"
            )

    def oov_share(self, texts: Iterable[str]) -> float:
        """Share of the scored words of ``texts`` that come from out-of-dictionary words."""
        known = dictionary()
        oov = total = 0
        for t in texts:
            for w in lm_words(t, known):
                n = len(score_words(w))
                total += n
                oov += n if w not in known else 0
        return oov / total if total else 0.0

    def transcribe(self, audio_24k: np.ndarray, sample_rate: int = 24000) -> str:
        """Recognizes one utterance (float samples in [-1, 1]); returns the words, lowercase ("" if none)."""
        x = np.asarray(audio_24k, dtype=np.float32).reshape(-1)
        if x.size == 0:
            return ""
        x = resample(x, sample_rate, JUDGE_SAMPLE_RATE)
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        d = self._decoder
        d.start_utt()
        d.process_raw(pcm, no_search=False, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return _split_hypothesis(hyp.hypstr) if hyp is not None else ""
