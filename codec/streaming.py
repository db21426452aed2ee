"""Streaming decoder: frames in one (or a few) at a time, final audio out as soon as it is final.

    stream = codec.streaming_decoder()
    for frame in frames_as_they_come:          # Frames with T >= 1
        play(stream.push(frame))               # [B, 1920·T] (the first push: 360 samples fewer)
    play(stream.flush())                       # [B, 360]: the held-back tail

Look-ahead: 360 samples (15 ms). Each 80 ms frame is final except for the part its successor's ISTFT
window overlaps, so after the first frame every push returns exactly 1920·T samples and the
concatenation of everything equals ``codec.decode(all_frames)`` to float tolerance (tested for random
lengths and random piece sizes). The state (conv histories + overlap-add tail) is a typed object,
``codec.decoder.DecoderState``.
"""

from __future__ import annotations

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
