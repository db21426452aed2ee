"""The path from the model's 24 kHz float audio to the bytes a client asked for, per stream:
speed (WSOLA, pitch kept) -> sample rate (polyphase) -> encoder. Runs on the event loop, off the model worker.
"""

from __future__ import annotations

import numpy as np

from flowtts.constants import SAMPLE_RATE
from serve.encoders import make_encoder
from serve.resample import StreamingResampler


class AudioOutput:
    def __init__(self, fmt: str, sample_rate: int, speed: float = 1.0):
        self.format, self.sample_rate, self.speed = fmt, sample_rate, speed
        self.stretch = None
        if speed != 1.0:
            from flowtts.dsp.time_stretch import TimeStretch

            self.stretch = TimeStretch(speed, SAMPLE_RATE)
        self.resampler = StreamingResampler(SAMPLE_RATE, sample_rate)
        self.encoder = make_encoder(fmt, sample_rate)
        self.samples_out = 0  # at ``sample_rate``, after speed change
        self.finished = False

    def push(self, x: np.ndarray) -> bytes:
        """24 kHz float32 samples in; the encoded bytes that are ready out (maybe empty)."""
        if self.stretch is not None:
            x = self.stretch.push(x)
        y = self.resampler.push(x)
        self.samples_out += len(y)
        return self.encoder.encode(y)

    def finish(self) -> bytes:
        """Ends the stream: everything still held (stretch and resampler tails, encoder trailer)."""
        if self.finished:
            return b""
        self.finished = True
        parts = []
        if self.stretch is not None:
            tail = self.stretch.flush()
            y = self.resampler.push(tail)
            self.samples_out += len(y)
            parts.append(self.encoder.encode(y))
        y = self.resampler.flush()
        self.samples_out += len(y)
        parts.append(self.encoder.encode(y))
        parts.append(self.encoder.finish())
        return b"".join(parts)

    def output_seconds(self, model_samples: int) -> float:
        """Where ``model_samples`` of 24 kHz model audio land in the output, in seconds (speed applied)."""
        return model_samples / SAMPLE_RATE / self.speed
