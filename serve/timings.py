"""Word timings, approximate: a text unit's audio span shared among its words in proportion to their length.

The model has no aligner, so a unit's span (known exactly once the unit is spoken: its first and last
frame) is divided among its words by character count (each word counts its characters plus one for the
gap after it). Good enough to highlight the word being spoken or to cut a transcript at a barge-in; not
a forced alignment. Times are seconds of *output* audio (after any speed change) from the start of the
stream or turn. The words are those of the normalized text the model spoke ("$5" -> "five dollars").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float
    end: float

    def to_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3)}


def word_timings(text: str, start: float, end: float) -> list[WordTiming]:
    words = text.split()
    if not words or end <= start:
        return [WordTiming(w, start, start) for w in words]
    weights = [len(w) + 1 for w in words]
    total = sum(weights)
    out, t = [], start
    for w, k in zip(words, weights, strict=True):
        d = (end - start) * k / total
        out.append(WordTiming(w, t, t + d * len(w) / k))  # the gap's share is silence after the word
        t += d
    return out
