"""Step-wise generation, separate from the training ``forward``: one frame per ``step`` for every stream in
a batch.

    gen = Generator(model)
    prefix = gen.prefill_voice(voice_segment)            # KV cache of the voice prefix, reusable
    batch = gen.start([StreamRequest(text_ids, prefix, params)])
    while batch.active:
        step = gen.step(batch)                            # FrameStep: ids, acoustic, finished
        ...                                               # hand frames to the codec's streaming decoder

Streams of different lengths and settings share one backbone call per step (a ragged KV cache; see
``flowtts.model.backbone``); ``GenerationBatch.merge`` adds streams between steps and finished streams
drop out, which is what continuous batching in the server needs. Each stream has its own seeded RNG, so
its output does not depend on what else is in the batch.

Voice packs: a request may name an adapter attached to the model's ``AdapterSet``
(``flowtts.adapters.lora``); every backbone and flow-head call routes each row to its own stream's adapter,
so streams with different packs (or none) share one batch. A voice prefix is computed under the adapter
of the requests that use it (``prefill_voice(prefix, adapter)``), since the adapter changes its KV cache.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from codec.config import CodecConfig
from codec.frames import Frames
from flowtts.adapters.lora import AdapterSet
from flowtts.model.backbone import KVCache, round_capacity
from flowtts.model.config import SamplingConfig
from flowtts.model.flow import snap_to_grid
from flowtts.model.sequence import Segment
from flowtts.model.tts import TTSModel

if TYPE_CHECKING:
    from flowtts.generation.traced import TracedGeneration


@dataclass(frozen=True)
class SamplingParams:
    steps: int = 8
    cfg: float = 1.2
    solver: str = "euler"
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_window: int = 16
    max_repeats: int = 8
    seed: int | None = None

    @classmethod
    def from_config(cls, c: SamplingConfig, **over) -> SamplingParams:
        base = dict(
            steps=c.steps,
            cfg=c.cfg,
            solver=c.solver,
            temperature=c.temperature,
            top_k=c.top_k,
            top_p=c.top_p,
            repetition_window=c.repetition_window,
            max_repeats=c.max_repeats,
        )
        base.update({k: v for k, v in over.items() if v is not None})
        return cls(**base)

    def validate(self) -> None:
        if not 1 <= self.steps <= 64:
            raise ValueError(f"steps must be in [1, 64], got {self.steps}")
        if not 0.0 <= self.cfg <= 10.0:
            raise ValueError(f"cfg must be in [0, 10], got {self.cfg}")
        if self.temperature < 0 or self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature >= 0, top_k >= 0 and 0 < top_p <= 1 are required")


@dataclass
class VoicePrefix:
    """A voice prefix run through the backbone once: its KV cache (1 row), its length and the adapter it
    was computed with (None: the base model)."""

    cache: KVCache
    length: int
    adapter: str | None = None


@dataclass
class StreamRequest:
    text: Segment  # the text part (``flowtts.model.sequence.text_part``)
    prefix: VoicePrefix
    params: SamplingParams = field(default_factory=SamplingParams)
    min_frames: int = 1  # END is not allowed before this many frames
    max_frames: int = 375  # END is forced at this many frames
    tag: object = None  # caller's handle (e.g. a request id); returned untouched
    adapter: str | None = None  # name of an adapter in the model's AdapterSet (a voice pack); None: base


@dataclass
class _Stream:
    request: StreamRequest
    rng: torch.Generator
    recent: deque
    frames: int = 0
    finished: bool = False


@dataclass
class GenerationBatch:
    streams: list[_Stream]
    cache: KVCache  # one row per stream
    hidden: torch.Tensor  # [B, dim]: the state that predicts each stream's next frame

    @property
    def active(self) -> bool:
        return len(self.streams) > 0

    @property
    def size(self) -> int:
        return len(self.streams)

    def merge(self, other: GenerationBatch) -> GenerationBatch:
        """This batch plus the streams of ``other`` (started separately), for the next step."""
        if not self.active:
            return other
        if not other.active:
            return self
        return GenerationBatch(
            self.streams + other.streams,
            KVCache.stack([self.cache, other.cache]),
            torch.cat([self.hidden, other.hidden]),
        )

    def keep(self, rows: list[int]) -> GenerationBatch:
        """The batch of ``rows``; all of them in order: the same cache, not a copy (each step keeps the
        running rows, and copying every layer's cache each step cost more than the attention over it)."""
        if rows == list(range(self.size)):
            return GenerationBatch(list(self.streams), self.cache, self.hidden)
        return GenerationBatch([self.streams[i] for i in rows], self.cache.select(rows), self.hidden[rows])


@dataclass
class FrameStep:
    """One step's output for every stream that was in the batch (in batch order)."""

    tags: list  # each stream's request tag
    semantic: torch.Tensor  # [B] long; END_AUDIO where the stream ended at this step
    acoustic: torch.Tensor  # [B, D] on the FSQ grid (zeros where the stream ended)
    finished: torch.Tensor  # [B] bool: this step ended the stream (END chosen or max_frames reached)
    forced: torch.Tensor  # [B] bool: ended by the max_frames cap rather than by the model

    def frames(self, rows: list[int], codec: CodecConfig, device: torch.device) -> Frames:
        """This step's frame for each of ``rows`` as codec ``Frames`` ``[len(rows), 1]`` (one per stream),
        ready for ``codec.streaming.push_many`` (or ``push`` for one row)."""
        index = torch.tensor(rows, dtype=torch.long)
        return Frames(
            self.semantic[index][:, None].to(device),  # [N, 1]
            self.acoustic[index][:, None].to(device),  # [N, 1, D]
            codec.vq.codebook_size,
            codec.fsq.levels,
        )


class Generator:
    def __init__(self, model: TTSModel):
        self.model = model.eval()
        self.config = model.config
        self.device = next(model.parameters()).device
        self.adapters = AdapterSet.of(model)
        self.traced: TracedGeneration | None = None  # after trace_steps()

    def trace_steps(self) -> None:
        """Runs single-stream steps through traced, frozen graphs from now on (``flowtts.generation.traced``:
        the same frames, faster per frame; each new shape costs about half a second once)."""
        from flowtts.generation.traced import TracedGeneration

        if self.traced is None:
            self.traced = TracedGeneration(self.model)

    @torch.no_grad()
    def _run(self, segment: Segment, cache: KVCache, adapter: str | None = None) -> torch.Tensor:
        """Appends ``segment`` to a 1-row ``cache``; returns the last position's state ``[1, dim]``."""
        x = self.model.embed(
            segment.tokens[None].to(self.device),
            segment.is_frame[None].to(self.device),
            segment.semantic[None].to(self.device),
            segment.acoustic[None].to(self.device),
        )
        with self.adapters.route([adapter]):
            return self.model.backbone(x, cache)[:, -1]

    @torch.no_grad()
    def prefill_voice(self, prefix: Segment, adapter: str | None = None) -> VoicePrefix:
        """Runs a voice prefix once (under ``adapter``, a name in the model's ``AdapterSet``); the result is
        shared (copied) by every request with this voice and adapter."""
        capacity = round_capacity(prefix.length + 256)
        cache = KVCache.empty(self.config.backbone, 1, capacity, self.device, torch.float32)
        self._run(prefix, cache, adapter)
        return VoicePrefix(cache=cache, length=prefix.length, adapter=adapter)

    @torch.no_grad()
    def start(self, requests: list[StreamRequest]) -> GenerationBatch:
        """Prefills each request's text after its voice prefix and returns a batch ready to ``step``.

        The texts of all requests go through the backbone in one call: each row's prefix cache is copied, the
        texts are right-padded to the longest, and each row's state is read at its own last text position.
        A padded position's key lies past its row's length, where no later query reads it before the row's
        own frames overwrite it, so the result is the one of prefilling the rows one by one."""
        streams, caches = [], []
        for r in requests:
            r.params.validate()
            if r.prefix.adapter != r.adapter:
                raise ValueError(
                    f"the voice prefix was computed with adapter {r.prefix.adapter!r}, the request uses "
                    f"{r.adapter!r}"
                )
            cache = r.prefix.cache.clone()
            cache.ensure_capacity(r.prefix.length + r.text.length + r.max_frames + 1)
            caches.append(cache)
            rng = torch.Generator(device="cpu")
            rng.manual_seed(
                r.params.seed if r.params.seed is not None else int(torch.randint(0, 2**31, ()).item())
            )
            streams.append(_Stream(r, rng, deque(maxlen=max(1, r.params.repetition_window))))
        if not requests:
            return GenerationBatch(
                [],
                KVCache.empty(self.config.backbone, 0, 1, self.device, torch.float32),
                torch.zeros(0, self.config.backbone.dim, device=self.device),
            )
        cache = KVCache.stack(caches)
        lengths = torch.tensor([r.text.length for r in requests])  # [B]
        width = int(lengths.max())
        texts = [Segment.cat([r.text, _pad(r.text, width - r.text.length)]) for r in requests]
        x = self.model.embed(
            torch.stack([t.tokens for t in texts]).to(self.device),  # [B, W]
            torch.stack([t.is_frame for t in texts]).to(self.device),
            torch.stack([t.semantic for t in texts]).to(self.device),
            torch.stack([t.acoustic for t in texts]).to(self.device),
        )  # [B, W, dim]
        start = cache.lengths.clone()
        with self.adapters.route([r.adapter for r in requests]):
            h = self.model.backbone(x, cache)  # [B, W, dim]
        cache.lengths = start + lengths.to(start.device)
        hidden = h[torch.arange(len(requests)), lengths - 1]  # [B, dim]: each row's last text position
        return GenerationBatch(streams, cache, hidden)

    def _choose_ids(self, batch: GenerationBatch, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Next semantic ids ``[B]`` and the rows forced to END by the length cap."""
        end = self.config.end_id
        ids, forced = [], []
        host = logits.float().cpu()  # [B, K+1], one copy for the whole batch
        for i, s in enumerate(batch.streams):
            p = s.request.params
            row = host[i]  # [K+1]
            if s.frames < s.request.min_frames:
                row[end] = float("-inf")
            if p.max_repeats > 0 and len(s.recent) >= p.max_repeats:
                counts = torch.bincount(torch.tensor(list(s.recent)), minlength=row.shape[0])
                row[counts >= p.max_repeats] = float("-inf")  # a looping id is not allowed again
            cap = s.frames >= s.request.max_frames
            forced.append(cap)
            if cap:
                ids.append(end)
                continue
            ids.append(_sample(row, p, s.rng))
        return torch.tensor(ids, dtype=torch.long), torch.tensor(forced, dtype=torch.bool)

    @torch.no_grad()
    def step(self, batch: GenerationBatch) -> tuple[FrameStep, GenerationBatch]:
        """Generates one frame for every stream; returns it and the batch of streams still running."""
        b = batch.size
        logits = self.model.semantic_logits(batch.hidden)  # [B, K+1]
        ids, forced = self._choose_ids(batch, logits)
        finished = ids == self.config.end_id
        acoustic = torch.zeros(b, self.config.acoustic_dim)
        running = (~finished).nonzero().squeeze(1).tolist()
        # flow head: one call per distinct (steps, cfg, solver) among the running streams
        groups: dict[tuple, list[int]] = {}
        for i in running:
            p = batch.streams[i].request.params
            groups.setdefault((p.steps, p.cfg, p.solver), []).append(i)
        for (steps, cfg, solver), rows in groups.items():
            noise = torch.stack(
                [torch.randn(self.config.acoustic_dim, generator=batch.streams[i].rng) for i in rows]
            ).to(self.device)
            semantic = ids[rows].to(self.device)
            fast = (
                self.traced.flow(batch.hidden[rows], semantic, steps, cfg, solver, noise)
                if self.traced
                else None
            )
            if fast is not None:
                acoustic[rows] = snap_to_grid(fast, self.config.fsq_levels).cpu()
                continue
            with self.adapters.route([batch.streams[i].request.adapter for i in rows]):
                acoustic[rows] = self.model.flow.sample(
                    batch.hidden[rows], semantic, steps, cfg, solver, noise
                ).cpu()
        out = FrameStep(
            tags=[s.request.tag for s in batch.streams],
            semantic=ids,
            acoustic=acoustic,
            finished=finished,
            forced=forced & finished,
        )
        for i, s in enumerate(batch.streams):
            if finished[i]:
                s.finished = True
            else:
                s.frames += 1
                s.recent.append(int(ids[i]))
        if not running:
            return out, GenerationBatch([], batch.cache.select([]), batch.hidden[:0])
        rest = batch.keep(running)
        x = self.model.embed(
            torch.full((len(running), 1), self._audio_id(), device=self.device),
            torch.ones(len(running), 1, dtype=torch.bool, device=self.device),
            ids[running][:, None].to(self.device),
            acoustic[running][:, None].to(self.device),
        )
        fast = self.traced.backbone_step(x, rest.cache) if self.traced else None
        if fast is not None:
            rest.hidden = fast
            return out, rest
        with self.adapters.route([s.request.adapter for s in rest.streams]):
            rest.hidden = self.model.backbone(x, rest.cache)[:, -1]
        return out, rest

    def _audio_id(self) -> int:
        return 0  # frame positions ignore the token id (see TTSModel.embed)


def _pad(segment: Segment, n: int) -> Segment:
    """``n`` (≥ 0) positions of padding for ``segment`` (its last position repeated; never read)."""
    return Segment(
        tokens=segment.tokens[-1:].expand(n),
        is_frame=segment.is_frame[-1:].expand(n),
        semantic=segment.semantic[-1:].expand(n),
        acoustic=segment.acoustic[-1:].expand(n, -1),
    )


def _sample(logits: torch.Tensor, p: SamplingParams, rng: torch.Generator) -> int:
    """One id from ``logits`` ``[V]``: greedy at temperature 0, else top-k / top-p sampling."""
    if p.temperature == 0:
        return int(logits.argmax())
    logits = logits / p.temperature
    if p.top_k > 0:
        kth = torch.topk(logits, min(p.top_k, logits.shape[0])).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if p.top_p < 1.0:
        sorted_p, order = probs.sort(descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < p.top_p  # smallest set whose mass reaches top_p
        mask = torch.zeros_like(probs, dtype=torch.bool)
        mask[order[keep]] = True
        probs = probs * mask
        probs = probs / probs.sum()
    return int(torch.multinomial(probs, 1, generator=rng))
