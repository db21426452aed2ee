"""The corpus manifest: one JSON object per utterance, one JSONL file per shard.

Both the synthetic corpus (`flowtts data synth`) and a user's prepared recordings
(`flowtts data prepare`) are described by rows of this shape, so training reads one format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flowtts.atomic import write_text_atomic

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class PhoneSpan:
    """One phone and where it lies in the utterance's audio, in seconds (after trimming)."""

    phone: str
    start: float
    duration: float


@dataclass(frozen=True)
class Utterance:
    """One manifest row. ``audio`` is relative to the corpus root."""

    id: str
    audio: str
    text: str  # as found in the source
    normalized_text: str  # what was spoken: the text frontend's output
    lang: str
    voice: str  # voice id, unique across the corpus
    speaker_group: str  # voices of one real speaker share a group; held-out splits hold out whole groups
    split: str  # train | valid | test
    seen_voice: bool  # False: the voice's speaker group never occurs in train
    duration: float  # seconds
    sample_rate: int
    gender: str | None = None  # "female" | "male" | None when unknown
    engine: str = ""  # espeak | mbrola | pico | flite | rhvoice | festival | recording
    prosody: dict = field(default_factory=dict)  # engine-independent knobs used for this render
    phonemes: str | None = None  # IPA, words separated by spaces
    phones: list[PhoneSpan] | None = None  # phone durations where the source gives them
    source: str = ""  # where the text came from (package / file)
    license: str = ""  # licence of the voice (audio) source

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_json(line: str) -> Utterance:
        d = json.loads(line)
        if d.get("phones") is not None:
            d["phones"] = [PhoneSpan(**p) for p in d["phones"]]
        return Utterance(**d)


def write_manifest(path: str | os.PathLike, rows: list[Utterance]) -> None:
    """Writes rows as JSONL atomically: the file appears complete or not at all."""
    write_text_atomic(path, "".join(r.to_json() + "\n" for r in rows))


def read_manifest(path: str | os.PathLike) -> Iterator[Utterance]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield Utterance.from_json(line)


def iter_corpus(root: str | os.PathLike) -> Iterator[Utterance]:
    """All rows of a corpus folder: every ``*.jsonl`` under ``root/manifests`` in name order."""
    manifests = Path(root) / "manifests"
    for path in sorted(manifests.glob("*.jsonl")):
        yield from read_manifest(path)
