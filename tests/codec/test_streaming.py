"""Streaming decoder == one-shot decoder, samples per push, misuse errors, the long-input decode path."""

from __future__ import annotations

import random

import pytest
import torch

from codec import model as codec_model
from codec.config import CodecConfig
from codec.frames import Frames
from codec.model import Codec
from flowtts.constants import FRAME_SAMPLES
from tests.codec.helpers import random_frames, tiny_config

LOOKAHEAD = 360  # (960 - 240) / 2: the ISTFT overlap the stream holds back


def _stream(c: Codec, frames, sizes: list[int]) -> list[torch.Tensor]:
    stream = c.streaming_decoder()
    parts, start = [], 0
    for n in sizes:
        parts.append(stream.push(frames.slice(start, start + n)))
        start += n
    assert start == frames.num_frames
    parts.append(stream.flush())
    return parts


@pytest.mark.parametrize("seed", range(8))
def test_streamed_equals_one_shot(codec: Codec, seed: int) -> None:
    rng = random.Random(seed)
    total = rng.randint(1, 40)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(rng.randint(1, 5), total - sum(sizes)))
    frames = random_frames(codec, batch=2, frames=total, seed=seed)
    reference = codec.decode(frames)
    assert reference.shape == (2, FRAME_SAMPLES * total)

    parts = _stream(codec, frames, sizes)
    expected = [FRAME_SAMPLES * n for n in sizes]
    expected[0] -= LOOKAHEAD
    assert [p.shape for p in parts] == [(2, n) for n in expected + [LOOKAHEAD]]
    streamed = torch.cat(parts, dim=-1)
    assert streamed.shape == reference.shape
    torch.testing.assert_close(streamed, reference, atol=1e-5, rtol=1e-4)


def test_lookahead_matches_config(codec: Codec) -> None:
    assert codec.config.lookahead_samples == LOOKAHEAD
    assert codec.streaming_decoder().lookahead_samples == LOOKAHEAD


def test_frames_pushed_counter(codec: Codec) -> None:
    frames = random_frames(codec, 1, 5)
    stream = codec.streaming_decoder()
    stream.push(frames.slice(0, 2))
    stream.push(frames.slice(2, 5))
    assert stream.frames_pushed == 5


def test_push_after_flush_is_an_error(codec: Codec) -> None:
    frames = random_frames(codec, 1, 3)
    stream = codec.streaming_decoder()
    stream.push(frames)
    stream.flush()
    with pytest.raises(RuntimeError, match="flushed"):
        stream.push(frames)


def test_batch_size_change_is_an_error(codec: Codec) -> None:
    stream = codec.streaming_decoder()
    stream.push(random_frames(codec, 2, 2))
    with pytest.raises(ValueError, match="batch size"):
        stream.push(random_frames(codec, 1, 2))


def test_empty_push_and_flush_without_frames(codec: Codec) -> None:
    stream = codec.streaming_decoder()
    assert stream.push(random_frames(codec, 2, 0)).shape == (2, 0)
    assert stream.flush().shape[-1] == 0


def test_frames_of_another_codec_are_refused(codec: Codec) -> None:
    other = Codec(CodecConfig(phonemes=()))
    with pytest.raises(ValueError, match="do not match"):
        codec.streaming_decoder().push(random_frames(other, 1, 2))


def test_default_size_decoder_streams_exactly() -> None:
    torch.manual_seed(0)
    c = Codec(CodecConfig(phonemes=())).eval()
    frames = random_frames(c, batch=1, frames=7, seed=3)
    reference = c.decode(frames)
    parts = _stream(c, frames, [2, 1, 3, 1])
    assert [p.shape[-1] for p in parts] == [
        2 * FRAME_SAMPLES - LOOKAHEAD,
        FRAME_SAMPLES,
        3 * FRAME_SAMPLES,
        FRAME_SAMPLES,
        LOOKAHEAD,
    ]
    torch.testing.assert_close(torch.cat(parts, dim=-1), reference, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("chunk, total", [(3, 10), (4, 8), (1, 5)])
def test_long_decode_goes_through_chunks_with_same_samples(
    codec: Codec, monkeypatch: pytest.MonkeyPatch, chunk: int, total: int
) -> None:
    frames = random_frames(codec, batch=2, frames=total, seed=chunk)
    one_shot = codec.decode(frames)  # total <= 375: one decoder pass
    monkeypatch.setattr(codec_model, "DECODE_CHUNK_FRAMES", chunk)
    chunked = codec.decode(frames)
    assert chunked.shape == one_shot.shape == (2, FRAME_SAMPLES * total)
    torch.testing.assert_close(chunked, one_shot, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_traced_stream_equals_one_shot(seed: int) -> None:
    """The traced decoder steps (codec.decoder_trace, what load_codec turns on) give the same samples."""
    codec = Codec(tiny_config()).eval()
    codec.decoder.trace_steps()
    rng = random.Random(seed)
    total = rng.randint(3, 12)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(rng.randint(1, 2), total - sum(sizes)))
    frames = random_frames(codec, batch=2, frames=total, seed=seed)
    reference = codec.decode(frames)
    with torch.inference_mode():
        streamed = torch.cat(_stream(codec, frames, sizes), dim=-1)
    torch.testing.assert_close(streamed, reference, atol=1e-5, rtol=1e-4)
    if len(sizes) > 1:
        assert {k[0] for k in codec.decoder.traced._graphs} == {"steady"}  # later pieces ran traced

    # a weight changed in place (an optimizer step): the stale graphs are dropped, results follow
    with torch.no_grad():
        codec.decoder.blocks[0].pwconv1.weight.mul_(1.5)
    torch.testing.assert_close(
        torch.cat(_stream(codec, frames, sizes), dim=-1), codec.decode(frames), atol=1e-5, rtol=1e-4
    )


@pytest.mark.parametrize("traced", [False, True])
def test_push_many_equals_separate_streams(traced: bool) -> None:
    """Streams at different positions decoded together give what each gives alone (serve's batching)."""
    from codec.streaming import push_many

    codec = Codec(tiny_config()).eval()
    if traced:
        codec.decoder.trace_steps()
    lengths = [6, 4, 5]
    starts = [0, 2, 1]  # stream i joins the batch at step starts[i]
    frames = [random_frames(codec, 1, n, seed=10 + i) for i, n in enumerate(lengths)]
    alone = [torch.cat(_stream(codec, f, [1] * f.num_frames), dim=-1) for f in frames]

    streams = [codec.streaming_decoder() for _ in lengths]
    got: list[list[torch.Tensor]] = [[] for _ in lengths]
    for step in range(max(s + n for s, n in zip(starts, lengths, strict=True))):
        live = [i for i in range(3) if starts[i] <= step < starts[i] + lengths[i]]
        if not live:
            continue
        rows = [frames[i].slice(step - starts[i], step - starts[i] + 1) for i in live]
        for i, chunk in zip(live, push_many([streams[i] for i in live], Frames.stack(rows)), strict=True):
            got[i].append(chunk)
            assert chunk.shape == (1, FRAME_SAMPLES - (LOOKAHEAD if step == starts[i] else 0))
    if traced:
        assert "windowed" in {k[0] for k in codec.decoder.traced._graphs}
    for i, s in enumerate(streams):
        got[i].append(s.flush())
        torch.testing.assert_close(torch.cat(got[i], dim=-1), alone[i], atol=1e-5, rtol=1e-4)


def test_push_many_refuses_misuse() -> None:
    from codec.streaming import push_many

    codec = Codec(tiny_config()).eval()
    f = random_frames(codec, 2, 1)
    with pytest.raises(ValueError, match="2 rows"):
        push_many([codec.streaming_decoder()], f)
    wide = codec.streaming_decoder()
    wide.push(f)
    with pytest.raises(ValueError, match="batch-1"):
        push_many([wide, codec.streaming_decoder()], f)
    done = codec.streaming_decoder()
    done.flush()
    with pytest.raises(RuntimeError, match="flushed"):
        push_many([done, codec.streaming_decoder()], f)
