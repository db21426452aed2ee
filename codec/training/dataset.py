"""Corpus audio for codec training: a packed int16 cache, length-bucketed batches, CTC targets.

The first use of a corpus split decodes its FLAC files once into ``<corpus>/cache/codec-<split>.i16``
(raw int16, all utterances end to end) plus an index JSON; later runs memory-map it, so a training step
never touches FLAC. Both files are written atomically; the index names the manifests it was built from
and is rebuilt when they change.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from codec.phonemes import ipa_to_phones, phones_to_ids
from flowtts.atomic import atomic_path, write_text_atomic
from flowtts.constants import FRAME_SAMPLES, SAMPLE_RATE
from flowtts.data.manifest import Utterance, iter_corpus
from flowtts.errors import FlowTTSError

CACHE_VERSION = 1


@dataclass(frozen=True)
class Item:
    """One utterance in the packed cache."""

    id: str
    lang: str
    seen_voice: bool
    offset: int  # first sample in the cache
    length: int  # samples
    phonemes: str  # espeak IPA ("" when unknown)
    text: str


@dataclass
class Batch:
    audio: torch.Tensor  # [B, S] float32, S = T·1920, zero-padded
    frame_mask: torch.Tensor  # [B, T] bool, True on frames that hold real audio
    sample_mask: torch.Tensor  # [B, S] float32, 1 on real samples
    targets: torch.Tensor  # [sum(target_lengths)] long, CTC phone ids (1-based)
    target_lengths: torch.Tensor  # [B] long, 0 where the item has no CTC target (cropped or unknown)
    ctc_mask: torch.Tensor  # [B] bool, items that take the CTC loss


def _read_flac(path: str) -> np.ndarray:
    import soundfile as sf

    data, sr = sf.read(path, dtype="int16", always_2d=True)
    if sr != SAMPLE_RATE:
        raise FlowTTSError(f"{path}: {sr} Hz, the corpus must be {SAMPLE_RATE} Hz")
    return data[:, 0].copy()


class CorpusAudio:
    """All utterances of some splits of a corpus, as int16 in one memory-mapped file."""

    def __init__(self, root: str | os.PathLike, splits: tuple[str, ...], jobs: int = 2):
        self.root = Path(root)
        rows = [r for r in iter_corpus(self.root) if r.split in splits]
        if not rows:
            raise FlowTTSError(
                f"{root}: no utterances in split(s) {', '.join(splits)} (is it a corpus folder?)"
            )
        rows.sort(key=lambda r: r.id)
        name = "-".join(splits)
        self.cache_dir = self.root / "cache"
        self.data_path = self.cache_dir / f"codec-{name}.i16"
        self.index_path = self.cache_dir / f"codec-{name}.json"
        key = hashlib.sha256("\n".join(f"{r.id} {r.audio} {r.duration}" for r in rows).encode()).hexdigest()
        index = self._read_index(key)
        if index is None:
            index = self._build(rows, key, jobs)
        self.items = [Item(**d) for d in index["items"]]
        self.data = np.memmap(self.data_path, dtype=np.int16, mode="r")
        self.rows = {r.id: r for r in rows}

    def _read_index(self, key: str) -> dict | None:
        try:
            with open(self.index_path, encoding="utf-8") as f:
                index = json.load(f)
        except (OSError, json.JSONDecodeError):
            return None
        if index.get("version") != CACHE_VERSION or index.get("key") != key or not self.data_path.exists():
            return None
        return index

    def _build(self, rows: list[Utterance], key: str, jobs: int) -> dict:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        paths = [str(self.root / r.audio) for r in rows]
        items, offset = [], 0
        with atomic_path(self.data_path) as tmp, open(tmp, "wb") as out:
            with get_context("fork").Pool(max(1, jobs)) as pool:
                for row, audio in zip(rows, pool.imap(_read_flac, paths, chunksize=16), strict=True):
                    out.write(audio.tobytes())
                    items.append(
                        Item(
                            row.id, row.lang, row.seen_voice, offset, len(audio), row.phonemes or "", row.text
                        )
                    )
                    offset += len(audio)
        index = {"version": CACHE_VERSION, "key": key, "items": [vars(i) for i in items]}
        write_text_atomic(self.index_path, json.dumps(index, ensure_ascii=False))
        return index

    def audio(self, item: Item) -> np.ndarray:
        """float32 samples of ``item`` in [-1, 1]."""
        return self.data[item.offset : item.offset + item.length].astype(np.float32) / 32768.0

    @property
    def hours(self) -> float:
        return sum(i.length for i in self.items) / SAMPLE_RATE / 3600


class BatchSampler:
    """Length-bucketed batches of at most ``batch_seconds`` of padded audio, shuffled per epoch.

    Deterministic from (seed, epoch); under DDP each rank takes every world-th batch. Items longer than
    ``max_item_seconds`` are randomly cropped (and then skip the CTC loss: their phones are not aligned).
    """

    def __init__(
        self,
        corpus: CorpusAudio,
        inventory: tuple[str, ...],
        batch_seconds: float,
        max_item_seconds: float,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        gain_db: tuple[float, float] = (-12.0, 6.0),
    ):
        self.corpus, self.inventory = corpus, inventory
        self.max_frames = max(1, int(max_item_seconds * SAMPLE_RATE // FRAME_SAMPLES))
        self.batch_frames = max(self.max_frames, int(batch_seconds * SAMPLE_RATE // FRAME_SAMPLES))
        self.seed, self.rank, self.world, self.gain_db = seed, rank, world, gain_db
        self.targets = [
            phones_to_ids(ipa_to_phones(i.phonemes), inventory) if i.phonemes and inventory else []
            for i in corpus.items
        ]

    def _frames(self, item: Item) -> int:
        return min(self.max_frames, math.ceil(item.length / FRAME_SAMPLES))

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """Index lists of this rank's batches for ``epoch``."""
        rng = random.Random(self.seed * 1_000_003 + epoch)
        order = list(range(len(self.corpus.items)))
        rng.shuffle(order)
        batches: list[list[int]] = []
        pool = 200  # sort within pools of 200 random items: little padding, still random
        for p in range(0, len(order), pool):
            chunk = sorted(order[p : p + pool], key=lambda i: self._frames(self.corpus.items[i]))
            cur: list[int] = []
            for i in chunk:
                longest = self._frames(self.corpus.items[i])  # the chunk is sorted: i is the longest so far
                if cur and longest * (len(cur) + 1) > self.batch_frames:
                    batches.append(cur)
                    cur = []
                cur.append(i)
            if cur:
                batches.append(cur)
        rng.shuffle(batches)
        usable = len(batches) - len(batches) % self.world  # every rank gets the same number of steps
        return batches[self.rank : usable : self.world]

    def iterate(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Batches of ``epoch`` from position ``start`` (for resume)."""
        batches = self.epoch_batches(epoch)
        rng = np.random.default_rng([self.seed, epoch, self.rank])
        for k, batch in enumerate(batches):
            crops = rng.random(len(batch))
            gains = rng.uniform(*self.gain_db, size=len(batch))
            if k >= start:
                yield self.collate(batch, crops, gains)

    def collate(self, indices: list[int], crops: np.ndarray, gains: np.ndarray) -> Batch:
        items = [self.corpus.items[i] for i in indices]
        frames = [self._frames(i) for i in items]
        t = max(frames)
        audio = torch.zeros(len(items), t * FRAME_SAMPLES)
        sample_mask = torch.zeros_like(audio)
        frame_mask = torch.zeros(len(items), t, dtype=torch.bool)
        targets: list[int] = []
        lengths, ctc = [], []
        for b, (i, item, f) in enumerate(zip(indices, items, frames, strict=True)):
            x = self.corpus.audio(item)
            cropped = len(x) > f * FRAME_SAMPLES
            if cropped:
                start = int(crops[b] * (len(x) - f * FRAME_SAMPLES))
                x = x[start : start + f * FRAME_SAMPLES]
            x = x * 10 ** (gains[b] / 20)
            peak = float(np.abs(x).max()) if len(x) else 0.0
            if peak > 0.99:
                x = x * (0.99 / peak)
            audio[b, : len(x)] = torch.from_numpy(x)
            sample_mask[b, : len(x)] = 1.0
            frame_mask[b, : math.ceil(len(x) / FRAME_SAMPLES)] = True
            target = self.targets[i] if not cropped else []
            ok = 0 < len(target)
            ctc.append(ok)
            lengths.append(len(target) if ok else 0)
            if ok:
                targets.extend(target)
        return Batch(
            audio=audio,
            frame_mask=frame_mask,
            sample_mask=sample_mask,
            targets=torch.tensor(targets, dtype=torch.long),
            target_lengths=torch.tensor(lengths, dtype=torch.long),
            ctc_mask=torch.tensor(ctc, dtype=torch.bool),
        )
