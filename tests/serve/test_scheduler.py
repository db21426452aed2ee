"""The model worker on its own (no HTTP): continuous batching, cancel, admission, backpressure, pacing."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

import flowtts
from flowtts.constants import SAMPLE_RATE
from serve.metrics import Metrics
from serve.scheduler import Scheduler, SchedulerConfig, ServerBusy
from serve.streams import AudioChunk, StreamEnd, StreamSpec, UnitDone

LONG = "One more short sentence here. " * 10  # ten sentences, about 30 s of audio on the tiny model


@pytest.fixture(scope="module")
def tts(model_dir, tmp_path_factory):
    return flowtts.load(model_dir, voices_dir=str(tmp_path_factory.mktemp("v")))


def _spec(tts, seed=0, steps=None, max_audio=600.0) -> StreamSpec:
    return StreamSpec(
        tts._resolve_voice(None), "en", tts._params(steps, None, seed, None, None), max_audio, "http"
    )


def _run(tts, coro_fn, **config):
    """Runs ``coro_fn(scheduler)`` in a fresh event loop with a started scheduler."""
    sched = Scheduler(tts, SchedulerConfig(**config), Metrics())
    sched.start()

    async def main():
        return await asyncio.wait_for(coro_fn(sched), 60)

    try:
        return asyncio.run(main()), sched
    finally:
        sched.stop()


async def _collect(stream, read_delay: float = 0.0):
    audio, units = [], []
    while True:
        ev = await stream.next_event()
        if isinstance(ev, AudioChunk):
            audio.append(ev.samples)
            if read_delay:
                await asyncio.sleep(read_delay)
        elif isinstance(ev, UnitDone):
            units.append(ev)
        else:
            return (np.concatenate(audio) if audio else np.zeros(0, np.float32)), units, ev


def test_a_stream_equals_the_library_stream(tts) -> None:
    text = "Hello there. How are you?"
    ref = np.concatenate(list(tts.stream(text, seed=5)))

    async def go(sched):
        s = sched.open_stream(_spec(tts, seed=5), tts.sentences(text, "en"), input_done=True)
        return await _collect(s)

    (audio, units, end), _ = _run(tts, go)
    assert end.reason == "completed" and end.usage.units == 2 == len(units)
    assert len(audio) == len(ref) and np.allclose(audio, ref, atol=1e-5)
    assert units[0].start_sample == 0 and units[1].start_sample == units[0].num_samples
    assert end.usage.frames * 1920 == len(audio) and end.usage.audio_seconds == pytest.approx(
        len(audio) / 24000
    )


def test_streams_join_a_running_batch_and_keep_their_own_audio(tts) -> None:
    texts = ["The first stream speaks for a while.", "Second one.", "A third, joining late."]
    solo = [np.concatenate(list(tts.stream(t, seed=i))) for i, t in enumerate(texts)]

    async def go(sched):
        a = sched.open_stream(_spec(tts, seed=0), tts.sentences(texts[0], "en"), input_done=True)
        first = await a.next_event()  # a is running before the others arrive
        b = sched.open_stream(_spec(tts, seed=1), tts.sentences(texts[1], "en"), input_done=True)
        c = sched.open_stream(_spec(tts, seed=2), tts.sentences(texts[2], "en"), input_done=True)
        ra, rb, rc = await asyncio.gather(_collect(a), _collect(b), _collect(c))
        return [np.concatenate([first.samples, ra[0]]), rb[0], rc[0]], sched.metrics

    (audios, metrics), sched = _run(tts, go)
    for got, ref in zip(audios, solo, strict=True):
        assert len(got) == len(ref) and np.allclose(got, ref, atol=1e-3)  # batching changes only rounding
    hist = metrics._metrics["flowtts_batch_size"].values[()]
    assert sum(hist[0][2:]) > 0  # some steps ran 3 streams at once (bucket <= 4)


def test_cancel_stops_within_a_step_and_admission_is_bounded(tts) -> None:
    async def go(sched):
        slots = [sched.acquire_slot() for _ in range(2)]
        with pytest.raises(ServerBusy):
            sched.acquire_slot()
        slots[0].release()
        slots[0].release()  # idempotent
        slots.append(sched.acquire_slot())
        s = sched.open_stream(_spec(tts), tts.sentences(LONG, "en"), input_done=True)
        await s.next_event()
        steps_before = sched.steps
        s.cancel()
        audio, _, end = await _collect(s)
        for slot in slots:
            slot.release()
        return end, sched.steps - steps_before

    (end, steps), sched = _run(tts, go, max_streams=2)
    assert end.reason == "cancelled" and end.stop_latency_s is not None
    assert end.stop_latency_s < 0.5  # one frame step (≈10 ms on the tiny model); generous for a busy CI
    assert end.usage.frames < 60  # it did not run to its end (≈ 380 frames)
    assert sched.slots_in_use == 0 and not sched._running


def test_a_slow_reader_is_paused_then_dropped_and_others_go_on(tts) -> None:
    async def go(sched):
        slow = sched.open_stream(_spec(tts), tts.sentences(LONG, "en"), input_done=True)
        await slow.next_event()
        await asyncio.sleep(0.4)  # it generates until its buffer (0.3 s) is full, then sits out
        queued = slow.queued_samples
        paused = sched.metrics.value("flowtts_streams_paused")
        fast = sched.open_stream(_spec(tts), tts.sentences("Quick one.", "en"), input_done=True)
        _, _, fast_end = await _collect(fast)
        _, _, slow_end = await _collect(slow)  # drained: everything it had, then the end
        return queued, paused, fast_end, slow_end

    (queued, paused, fast_end, slow_end), _ = _run(tts, go, buffer_seconds=0.3, stall_timeout_s=0.8)
    assert paused == 1
    assert queued <= 0.3 * SAMPLE_RATE + 2 * 1920  # the buffer bound plus a frame or two in flight
    assert fast_end.reason == "completed"
    assert slow_end.reason == "stalled" and slow_end.code == "client_stalled"


def test_text_arriving_in_pieces_is_spoken_as_it_comes(tts) -> None:
    async def go(sched):
        s = sched.open_stream(_spec(tts), ["First part."])
        first = await s.next_event()  # audio before the rest of the text exists
        t_first = time.monotonic()
        s.add_units(["Second part."])
        s.end_input()
        audio, units, end = await _collect(s)
        return first, units, end, t_first

    (first, units, end, _), _ = _run(tts, go)
    assert isinstance(first, AudioChunk)
    assert [u.text for u in units] == ["First part.", "Second part."]
    assert end.reason == "completed" and end.usage.units == 2


def test_pacing_under_load_keeps_streams_near_real_time(tts) -> None:
    async def go(sched):
        s = sched.open_stream(_spec(tts, max_audio=1.5), tts.sentences(LONG, "en"), input_done=True)
        t0, got, worst = None, 0, 0.0
        while True:
            ev = await s.next_event()
            if isinstance(ev, StreamEnd):
                return worst, ev
            if isinstance(ev, AudioChunk):
                now = time.monotonic()
                t0 = t0 or now
                got += len(ev.samples)
                worst = max(worst, got / SAMPLE_RATE - (now - t0))

    # busy_step_fraction 0: always "under load"; a stream may run at most 0.4 s ahead of real time
    (result, _) = _run(tts, go, busy_step_fraction=0.0, max_lead_s=0.4)
    worst, end = result
    assert end.reason == "limit" and end.usage.audio_seconds >= 1.5
    assert worst < 0.4 + 0.3  # the lead bound, plus a step and the wake-up granularity


def test_limit_ends_a_long_stream(tts) -> None:
    async def go(sched):
        s = sched.open_stream(_spec(tts, max_audio=0.5), tts.sentences(LONG, "en"), input_done=True)
        return await _collect(s)

    ((audio, _, end), _) = _run(tts, go)
    assert end.reason == "limit" and 0.5 <= len(audio) / SAMPLE_RATE < 0.7
