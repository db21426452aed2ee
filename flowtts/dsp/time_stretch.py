"""Streaming time-scale modification (speed without changing pitch) by WSOLA.

WSOLA (waveform-similarity overlap-add, Verhelst & Roelands 1993): the output is a sequence of Hann
frames of ``N`` samples (25 ms) laid ``N/2`` apart (50 % overlap, the Hann windows sum to exactly 1).
Output frame ``k`` is cut from the input near ``k * N/2 * rate`` (``rate > 1``: frames are taken further
apart, so the audio gets shorter); within ±10 ms of that nominal place, the cut that looks most like the
natural continuation of the previous frame (normalized cross-correlation) is chosen, so the overlapping
halves are in phase and nothing clicks. Pitch is kept because every frame is played at its own rate.

    stretch = TimeStretch(1.25, 24000)
    for chunk in chunks:                  # any sizes
        play(stretch.push(chunk))         # float32, as soon as it is final
    play(stretch.flush())                 # the rest; the total is round(len(input) / rate) samples

Streaming is exact: whatever the chunking, the concatenated output equals that of one ``push`` of the
whole input plus ``flush``, because each frame depends only on input samples (never on how they arrived)
and is computed only once all of them are there; ``flush`` then makes the last frames from the last
real input samples (so the tail does not fade or click into padding). Latency is bounded
(``latency_samples`` of input, about 48 ms at 24 kHz), and so is memory (the state keeps about two
frames of input and one frame of output). ``rate == 1`` is a copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MIN_RATE, MAX_RATE = 0.5, 2.0
# Among candidates whose similarity differs by less than this (per 10 ms of offset), the one nearer the
# nominal place wins: keeps timing exact on periodic signals (exact ties) and makes the choice immune
# to floating-point rounding.
NEAR_NOMINAL_BIAS = 1e-4


@dataclass
class WsolaState:
    """What a ``TimeStretch`` remembers between pushes."""

    frame_len: int
    buf: np.ndarray = field(default_factory=lambda: np.zeros(0))  # float64 input from ``buf_start`` on
    buf_start: int = 0  # absolute index (in the input stream) of ``buf[0]``
    received: int = 0  # input samples pushed so far
    frame: int = 0  # index of the next output frame
    prev_pos: int = 0  # absolute input index where the previous output frame was cut (frame > 0)
    acc: np.ndarray = field(init=False)  # float64 [N]: output [frame * N/2, frame * N/2 + N), partial sums

    def __post_init__(self) -> None:
        self.acc = np.zeros(self.frame_len)


class TimeStretch:
    """Changes the speed of a float32 mono stream by ``rate`` (``> 1`` faster), keeping its pitch."""

    def __init__(
        self, rate: float, sample_rate: int = 24000, frame_ms: float = 25.0, search_ms: float = 10.0
    ) -> None:
        rate = float(rate)
        if not (math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE):
            raise ValueError(f"rate must be in [{MIN_RATE}, {MAX_RATE}], got {rate}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.rate = rate
        self.sample_rate = int(sample_rate)
        self.frame_len = max(8, 2 * int(round(frame_ms * sample_rate / 2000)))  # N, even
        self.hop_out = self.frame_len // 2  # N/2: 50 % overlap
        self.hop_in = self.hop_out * rate  # nominal input advance per output frame
        self.search = max(1, int(round(search_ms * sample_rate / 1000)))
        n = np.arange(self.frame_len)
        # Hann shifted by half a sample: no zero at the edges, and w[n] + w[n + N/2] == 1 exactly.
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * (n + 0.5) / self.frame_len)
        self.first_window = self.window.copy()
        self.first_window[: self.hop_out] = 1.0  # the first frame has nothing to fade in against
        self._bias_per_sample = NEAR_NOMINAL_BIAS / max(1.0, 0.01 * sample_rate)
        self.state = WsolaState(self.frame_len)

    @property
    def latency_samples(self) -> int:
        """At most this many pushed input samples are not yet reflected in the output: after pushing
        ``m`` samples, at least ``(m - latency_samples) / rate`` output samples have come out."""
        return self.frame_len + self.search + self.hop_out + 2

    def reset(self) -> None:
        self.state = WsolaState(self.frame_len)

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Takes input samples ``[n]``; returns the output samples that are final (float32, maybe empty)."""
        x = np.asarray(chunk, dtype=np.float64).reshape(-1)
        if self.rate == 1.0:
            return x.astype(np.float32)
        s = self.state
        if len(x):
            s.buf = np.concatenate([s.buf, x])
            s.received += len(x)
        out = self._run(final_len=None)
        self._trim()
        return out

    def flush(self) -> np.ndarray:
        """The rest of the output, so that the total is ``round(input length / rate)`` samples; then the
        stretcher is ready for a new stream."""
        if self.rate == 1.0:
            return np.zeros(0, dtype=np.float32)
        total = int(math.floor(self.state.received / self.rate + 0.5))
        out = self._run(final_len=total)
        self.reset()
        return out

    # --- internals --------------------------------------------------------------------------------------

    def _nominal(self, k: int) -> int:
        return int(math.floor(k * self.hop_in + 0.5))

    def _needed_end(self, k: int) -> int:
        """One past the last input index that frame ``k`` (its search and its template) reads."""
        s, n = self.state, self.frame_len
        end = self._nominal(k) + self.search + n
        if k > 0:
            end = max(end, s.prev_pos + self.hop_out + n)
        # Also wait until the input proves that the samples frame k finishes, (k+1)·N/2, are all below
        # round(input length / rate): a push never emits past what flush will cut the total to.
        return max(end, int(math.ceil((k + 1) * self.hop_out * self.rate)) + 1)

    def _run(self, final_len: int | None) -> np.ndarray:
        """Computes every frame whose input is here (``final_len``: all frames up to that many output
        samples, reading silence past the end of the input)."""
        s, hop = self.state, self.hop_out
        pieces: list[np.ndarray] = []
        emitted = s.frame * hop
        while True:
            if final_len is not None and emitted >= final_len:
                break
            need = self._needed_end(s.frame)
            have = s.buf_start + len(s.buf)
            if need > have:
                if final_len is None:
                    break
                s.buf = np.concatenate([s.buf, np.zeros(need - have)])
            self._frame(final=final_len is not None)
            take = hop if final_len is None else min(hop, final_len - emitted)
            pieces.append(s.acc[:take].copy())
            s.acc = np.concatenate([s.acc[hop:], np.zeros(hop)])
            s.frame += 1
            emitted += hop
        if not pieces:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(pieces).astype(np.float32)

    def _frame(self, final: bool) -> None:
        """Adds output frame ``state.frame`` to the accumulator (``final``: the input has ended, so cut
        the frame from real input, not from the silence padded after it)."""
        s, n, k = self.state, self.frame_len, self.state.frame
        if k == 0:
            pos = 0
            window = self.first_window
        else:
            nominal = self._nominal(k)
            lo = max(0, nominal - self.search)
            hi = nominal + self.search
            if final:
                hi = min(hi, max(0, s.received - n))
                lo = min(lo, hi)
            # np.array(...) copies: the arithmetic sees the same values in fresh arrays, however the
            # input was chunked, so the choice is the same.
            region = np.array(s.buf[lo - s.buf_start : hi + n - s.buf_start])
            t0 = s.prev_pos + self.hop_out - s.buf_start
            template = np.array(s.buf[t0 : t0 + n])  # the natural continuation of the previous frame
            corr = np.correlate(region, template, mode="valid")  # [hi - lo + 1]
            csum = np.concatenate([[0.0], np.cumsum(region * region)])
            energy = np.maximum(csum[n:] - csum[:-n], 0.0)
            norm = np.sqrt(energy * float(template @ template)) + 1e-12
            offset = np.abs(np.arange(lo, hi + 1) - nominal)
            score = corr / norm - self._bias_per_sample * offset
            pos = lo + int(np.argmax(score))
            window = self.window
        s.acc += window * s.buf[pos - s.buf_start : pos - s.buf_start + n]
        s.prev_pos = pos

    def _trim(self) -> None:
        """Drops input no future frame reads (the state keeps at most about two frames of input)."""
        s = self.state
        if s.frame == 0:
            return
        keep_from = min(
            max(0, self._nominal(s.frame) - self.search),
            s.prev_pos + self.hop_out,
            max(0, s.received - self.frame_len),  # flush may cut the last frames from here
        )
        drop = keep_from - s.buf_start
        if drop > 0:
            s.buf = s.buf[drop:].copy()
            s.buf_start = keep_from
