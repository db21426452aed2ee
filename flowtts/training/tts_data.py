"""TTS training examples: text + codec frames + a voice prompt from another utterance of the same voice.

Each example is the sequence of ``flowtts.model.sequence`` with teacher-forcing targets:

    <s> <begin_audio> [prompt: 3–6 s, another clip] <next> <lang> text <repeat> <begin_audio> f₁ … f_T
                                                                               ↑ predicts f₁   ↑ f_T: END

Prompts come from a different utterance than the target (zero-shot cloning is trained as it is used:
the voice is known only from a separate clip); ``no_prompt`` of the examples have an empty prompt.
Batches are length-bucketed to at most ``batch_positions`` padded positions. Each batch also holds the
text pieces of every example (``TTSBatch.text``: the ids after the language tag), the targets of the
optional text-CTC loss.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from flowtts.data.frames_store import UtteranceFrames, codes_to_values
from flowtts.data.manifest import Utterance
from flowtts.model.sequence import Segment, frame_segment, text_part, voice_prefix
from flowtts.model.tts import IGNORE, TTSBatch
from flowtts.text.tokenizer import Tokenizer


@dataclass(frozen=True)
class Example:
    row: Utterance
    text_ids: tuple[int, ...]
    frames: UtteranceFrames


@dataclass(frozen=True)
class DataConfig:
    batch_positions: int = 6000  # padded sequence positions per batch (per process)
    max_frames: int = 250  # utterances longer than 20 s are skipped
    prompt_frames: tuple[int, int] = (38, 75)  # prompt length range: 3–6 s
    no_prompt: float = 0.05  # share of examples without a voice prompt


class TTSDataset:
    def __init__(
        self,
        rows: list[Utterance],
        frames: dict[str, UtteranceFrames],
        tokenizer: Tokenizer,
        fsq_levels: int,
        config: DataConfig,
    ):
        self.tokenizer, self.levels, self.config = tokenizer, fsq_levels, config
        self.examples: list[Example] = []
        for r in rows:
            f = frames.get(r.id)
            if f is None or not 1 <= len(f.semantic) <= config.max_frames:
                continue
            ids = tuple(tokenizer.encode(r.normalized_text, r.lang))
            self.examples.append(Example(r, ids, f))
        self.by_voice: dict[str, list[int]] = {}
        for i, e in enumerate(self.examples):
            self.by_voice.setdefault(e.row.voice, []).append(i)

    def __len__(self) -> int:
        return len(self.examples)

    def length(self, i: int) -> int:
        """Upper bound of the sequence length of example i (with the longest prompt)."""
        e = self.examples[i]
        return 4 + self.config.prompt_frames[1] + len(e.text_ids) + 2 + len(e.frames.semantic)

    def sequence(self, i: int, rng: random.Random) -> tuple[Segment, int]:
        """Example i as a ``Segment`` and the index of the position that predicts its first frame."""
        e = self.examples[i]
        specials = self.tokenizer.specials
        d = e.frames.acoustic_codes.shape[1]
        prompt_sem = torch.zeros(0, dtype=torch.long)
        prompt_ac = torch.zeros(0, d)
        others = [j for j in self.by_voice[e.row.voice] if j != i]
        if others and rng.random() >= self.config.no_prompt:
            p = self.examples[rng.choice(others)].frames
            lo, hi = self.config.prompt_frames
            n = min(len(p.semantic), rng.randint(lo, hi))
            start = rng.randint(0, len(p.semantic) - n)
            prompt_sem = torch.from_numpy(p.semantic[start : start + n])
            prompt_ac = codes_to_values(p.acoustic_codes[start : start + n], self.levels)
        prefix = voice_prefix(specials, prompt_sem, prompt_ac)
        text = text_part(specials, list(e.text_ids), d)
        frames = frame_segment(
            torch.from_numpy(e.frames.semantic),
            codes_to_values(e.frames.acoustic_codes, self.levels),
            specials.audio,
        )
        first = prefix.length + text.length - 1  # the last <begin_audio>
        return Segment.cat([prefix, text, frames]), first

    def collate(self, indices: list[int], rng: random.Random, end_id: int) -> TTSBatch:
        seqs = [self.sequence(i, rng) for i in indices]
        length = max(s.length for s, _ in seqs)
        b, d = len(seqs), seqs[0][0].acoustic.shape[1]
        texts = [self.examples[i].text_ids[1:] for i in indices]  # the pieces, without the language tag
        text = torch.zeros(b, max(1, *map(len, texts)), dtype=torch.long)  # [B, S], 0-padded
        for k, ids in enumerate(texts):
            text[k, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        batch = TTSBatch(
            tokens=torch.zeros(b, length, dtype=torch.long),
            is_frame=torch.zeros(b, length, dtype=torch.bool),
            semantic=torch.zeros(b, length, dtype=torch.long),
            acoustic=torch.zeros(b, length, d),
            target_semantic=torch.full((b, length), IGNORE, dtype=torch.long),
            target_acoustic=torch.zeros(b, length, d),
            text=text,
            text_lengths=torch.tensor([len(ids) for ids in texts], dtype=torch.long),  # [B]
        )
        for k, (s, first) in enumerate(seqs):
            n = s.length
            batch.tokens[k, :n] = s.tokens
            batch.is_frame[k, :n] = s.is_frame
            batch.semantic[k, :n] = s.semantic
            batch.acoustic[k, :n] = s.acoustic
            t = n - first - 1  # frames of the target utterance
            batch.target_semantic[k, first : first + t] = s.semantic[first + 1 : n]
            batch.target_semantic[k, n - 1] = end_id
            batch.target_acoustic[k, first : first + t] = s.acoustic[first + 1 : n]
        return batch


class TTSBatchSampler:
    """Length-bucketed, shuffled batches; deterministic per (seed, epoch); every world-th batch per rank."""

    def __init__(self, data: TTSDataset, batch_positions: int, seed: int = 0, rank: int = 0, world: int = 1):
        self.data, self.batch_positions = data, batch_positions
        self.seed, self.rank, self.world = seed, rank, world

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        order = list(range(len(self.data)))
        rng.shuffle(order)
        batches: list[list[int]] = []
        for p in range(0, len(order), 256):
            chunk = sorted(order[p : p + 256], key=self.data.length)
            cur: list[int] = []
            for i in chunk:
                if cur and self.data.length(i) * (len(cur) + 1) > self.batch_positions:
                    batches.append(cur)
                    cur = []
                cur.append(i)
            if cur:
                batches.append(cur)
        rng.shuffle(batches)
        usable = len(batches) - len(batches) % self.world
        return batches[self.rank : usable : self.world]

    def iterate(self, epoch: int, start: int, end_id: int) -> Iterator[TTSBatch]:
        for k, batch in enumerate(self.epoch_batches(epoch)):
            if k < start:
                continue
            rng = random.Random(hash((self.seed, epoch, k, self.rank)) & 0xFFFFFFFF)
            yield self.data.collate(batch, rng, end_id)
