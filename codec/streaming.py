"""Streaming decoder: frames in one (or a few) at a time, final audio out as soon as it is final.

    stream = codec.streaming_decoder()
    for frame in frames_as_they_come:          # Frames with T >= 1
        play(stream.push(frame))               # [B, 1920·T] (the first push: 360 samples fewer)
    play(stream.flush())                       # [B, 360]: the held-back tail

    push_many([s1, s2, s3], frames)            # one piece for each of several streams, one batched pass

Look-ahead: 360 samples (15 ms). Each 80 ms frame is final except for the part its successor's ISTFT
window overlaps, so after the first frame every push returns exactly 1920·T samples and the
concatenation of everything equals ``codec.decode(all_frames)`` to float tolerance (tested for random
lengths and random piece sizes). The state (conv histories + overlap-add tail) is a typed object,
``codec.decoder.DecoderState``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from codec.decoder import DecoderState
from codec.frames import Frames

if TYPE_CHECKING:
    from codec.model import Codec


class StreamingDecoder:
    def __init__(self, codec: Codec):
        self.codec = codec
        self.state: DecoderState = codec.decoder.new_state()
        self.batch_size: int | None = None
        self.finished = False

    @property
    def lookahead_samples(self) -> int:
        return self.codec.config.lookahead_samples

    @property
    def frames_pushed(self) -> int:
        return self.state.hops // 8

    @torch.no_grad()
    def push(self, frames: Frames) -> torch.Tensor:
        """Decodes the next ``frames`` (T >= 1) and returns the samples that are now final ``[B, n]``."""
        if self.finished:
            raise RuntimeError("this stream was flushed; start a new one with codec.streaming_decoder()")
        if frames.num_frames == 0:
            return torch.zeros(frames.batch_size, 0, device=frames.semantic.device)
        if self.batch_size is None:
            self.batch_size = frames.batch_size
        elif frames.batch_size != self.batch_size:
            raise ValueError(f"stream has batch size {self.batch_size}, got frames with {frames.batch_size}")
        return self.codec.decoder.stream(self.codec.frame_inputs(frames), self.state)

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """Ends the stream: returns the held-back tail ``[B, 360]`` (``[B, 0]`` if nothing was pushed)."""
        self.finished = True
        if self.state.ola is None:
            return torch.zeros(self.batch_size or 1, 0)
        return self.codec.decoder.finish(self.state)


@torch.no_grad()
def push_many(streams: Sequence[StreamingDecoder], frames: Frames) -> list[torch.Tensor]:
    """Pushes row i of ``frames`` ``[N, T]`` to ``streams[i]`` (N independent batch-1 streams of one codec)
    in one batched decoder pass; returns each stream's final samples ``[1, n_i]``, the same as N separate
    ``push`` calls but with one set of matmuls instead of N (how serve decodes all its streams per step).
    """
    if len(streams) != frames.batch_size:
        raise ValueError(f"{len(streams)} streams for {frames.batch_size} rows of frames")
    if not streams:
        return []
    codec = streams[0].codec
    for s in streams:
        if s.codec is not codec:
            raise ValueError("push_many: all streams must belong to the same codec")
        if s.finished:
            raise RuntimeError("this stream was flushed; start a new one with codec.streaming_decoder()")
        if s.batch_size not in (None, 1):
            raise ValueError(f"push_many takes batch-1 streams, got one of batch size {s.batch_size}")
    if frames.num_frames == 0:
        return [torch.zeros(1, 0, device=frames.semantic.device) for _ in streams]
    for s in streams:
        s.batch_size = 1
    return codec.decoder.stream_many(codec.frame_inputs(frames), [s.state for s in streams])


def warm_up(codec: Codec, max_streams: int = 1) -> None:
    """Turns on the traced decoder graphs (``codec.decoder_trace``) and builds the ones a server will
    need before its first request does: one batched step for each padded batch size up to
    ``max_streams`` (1, 2, 4, …; about a second each on a 2-core CPU)."""
    if codec.decoder.traced is None:
        codec.decoder.trace_steps()
    n = 1
    while True:
        frames = Frames(
            torch.zeros(n, 1, dtype=torch.long, device=_device(codec)),
            torch.zeros(n, 1, codec.config.fsq.dim, device=_device(codec)),
            codec.config.vq.codebook_size,
            codec.config.fsq.levels,
        )
        push_many([codec.streaming_decoder() for _ in range(n)], frames)
        if n == 1:  # and one running stream's own step (TTS.stream, single requests)
            single = codec.streaming_decoder()
            single.push(frames)
            single.push(frames)
        if n >= max_streams:
            break
        n *= 2


def _device(codec: Codec) -> torch.device:
    return next(codec.parameters()).device
