"""The library speed benchmark and the robustness runner, on a tiny random model (it speaks noise: timings and
lengths are meaningless, the plumbing is real)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

import flowtts
from evals.bench import benchmark, render_markdown
from evals.report import write_report
from evals.robustness import (
    HARD_INPUTS,
    HardInput,
    check_case,
    length_bounds,
    paragraph,
    robustness,
    run_with_timeout,
)
from evals.robustness import render_markdown as render_robustness
from flowtts.audio import Audio
from flowtts.errors import FlowTTSError
from tests.model.helpers import make_tiny_model_dir


@pytest.fixture(scope="module")
def tts(tmp_path_factory):
    root = make_tiny_model_dir(tmp_path_factory.mktemp("m") / "model")
    return flowtts.load(root, voices_dir=str(tmp_path_factory.mktemp("voices")))


# --- bench --------------------------------------------------------------------------------------------------


def test_benchmark_returns_positive_timings(tts, tmp_path):
    r = benchmark(tts, text="Hi there.", runs=2, ttfa_runs=3, threads=1)
    assert torch.get_num_threads() == 1  # restored
    b = r["library"]
    assert b["runs"] == 2 and b["threads"] == 1 and b["voice"] == "tiny-voice"
    assert b["audio_seconds_median"] > 0 and b["wall_seconds_median"] > 0 and b["rtf_median"] > 0
    assert b["rtf_min"] <= b["rtf_median"] <= b["rtf_max"]
    assert b["ttfa_ms_p95"] >= b["ttfa_ms_p50"] > 0 and b["ttfa_ms_min"] > 0
    assert b["ttfa_ms_p50"] <= 1000 * b["wall_seconds_median"] * 1.5  # the first chunk comes before the end
    f = b["per_frame"]
    frames_per_run = round(b["audio_seconds_median"] * 12.5)
    assert f["frames"] == 2 * frames_per_run  # last_timings of the timed runs: one record per frame
    assert f["backbone_flow_ms_median"] > 0 and f["codec_ms_median"] > 0 and 0 < f["codec_share"] < 1
    assert f["total_ms_p95"] >= f["total_ms_median"] > 0
    assert len(r["load_average_before"]) == 3 and len(r["load_average_after"]) == 3
    assert r["server"] is None
    checks = {c["metric"]: c for c in r["checks"]}
    assert checks["rtf"]["value"] == b["rtf_median"] and checks["rtf"]["pass"] in (True, False)
    assert checks["ttfa_server_ms"]["pass"] is None and checks["realtime_streams"]["pass"] is None
    assert r["verdict"] in ("fail", "incomplete")
    md = render_markdown(r)
    assert (
        "backbone + flow head" in md and "load average" in md and "Not measured (run with --server URL)" in md
    )
    write_report(tmp_path, "bench", r, md)


def test_benchmark_server_hook_and_bad_input(tts):
    with pytest.raises(FlowTTSError, match="cannot reach the server"):
        benchmark(tts, text="Hi.", runs=1, ttfa_runs=1, threads=1, server_url="http://127.0.0.1:1")
    with pytest.raises(FlowTTSError, match="runs"):
        benchmark(tts, runs=0)
    with pytest.raises(FlowTTSError, match="empty text"):
        benchmark(tts, text=" ", runs=1, ttfa_runs=1)


# --- robustness ---------------------------------------------------------------------------------------------


def test_hard_inputs_cover_the_list():
    names = {c.name for c in HARD_INPUTS}
    assert {
        "one_word",
        "paragraph_1000",
        "numbers_dates_currency",
        "mixed_punctuation",
        "emoji_unsupported",
        "long_word",
        "all_caps",
        "only_punctuation",
    } <= names
    assert len(names) == len(HARD_INPUTS)
    assert len(paragraph(1000)) == 1000 and all(len(paragraph(n)) == n for n in range(20, 400, 7))
    assert [c.name for c in HARD_INPUTS if not c.speakable] == ["only_punctuation", "only_emoji"]


def test_run_with_timeout_catches_a_hang():
    release = threading.Event()
    t0 = time.perf_counter()
    r = run_with_timeout(lambda: release.wait(30), 0.2)
    assert r["status"] == "timeout" and 0.2 <= r["seconds"] < 5 and time.perf_counter() - t0 < 5
    release.set()
    assert run_with_timeout(lambda: 7, 5)["result"] == 7
    err = run_with_timeout(lambda: 1 / 0, 5)
    assert err["status"] == "error" and isinstance(err["error"], ZeroDivisionError)


def _fake(samples_for):
    """A ``synthesize`` replacement: ``samples_for(text)`` -> samples (or raises)."""

    def synthesize(text, **kw):
        return Audio(np.asarray(samples_for(text), dtype=np.float32), 24000)

    return synthesize


def test_robustness_catches_a_hang_and_a_nan(tts, monkeypatch):
    release = threading.Event()
    frames = lambda n: np.zeros(int(n * 1920), np.float32)  # noqa: E731

    def samples_for(text):
        if text.startswith("Slow"):
            release.wait(30)  # hangs until the test lets it go
        if text.startswith("Broken"):
            x = frames(20)
            x[100] = np.nan
            return x
        if text.startswith("Loud"):
            return np.full(20 * 1920, 1.5)
        if text.startswith("Short"):
            return frames(1)
        if text.startswith("Long"):
            return frames(500)
        if text.startswith("Refuse"):
            raise FlowTTSError("nothing to say")
        if text.startswith("Crash"):
            raise RuntimeError("boom\nsecond line")
        return frames(20)  # within the bounds of every sentence below

    monkeypatch.setattr(tts, "synthesize", _fake(samples_for))
    cases = [
        HardInput("slow", "Slow text that hangs."),
        HardInput("nan", "Broken output with a NaN."),
        HardInput("loud", "Loud output over full scale."),
        HardInput("short", "Short output for a long sentence that needs many frames to be said."),
        HardInput("long", "Long output."),
        HardInput("refused", "Refuse this speakable text."),
        HardInput("crash", "Crash now."),
        HardInput("fine", "A fine sentence."),
        HardInput("silent_ok", "!!!", speakable=False),  # the fake gives audio: must fail
    ]
    try:
        r = robustness(tts, cases=cases, timeout_s=0.5, progress=False)
    finally:
        release.set()
    by = {c["name"]: c for c in r["cases"]}
    assert (
        by["slow"]["outcome"] == "timeout" and not by["slow"]["pass"] and "hang" in by["slow"]["problems"][0]
    )
    assert by["slow"]["seconds"] < 5
    assert by["nan"]["finite"] is False and any("NaN" in p for p in by["nan"]["problems"])
    assert by["loud"]["peak"] == pytest.approx(1.5) and any("peak" in p for p in by["loud"]["problems"])
    assert any("ended early" in p for p in by["short"]["problems"])
    assert any("length cap" in p for p in by["long"]["problems"])
    assert any("refused a speakable" in p for p in by["refused"]["problems"])
    assert by["crash"]["error"] == "RuntimeError: boom" and "crashed" in by["crash"]["problems"][0]
    assert by["fine"]["pass"] and by["fine"]["problems"] == [] and by["fine"]["frames"] == 20
    assert "expected FlowTTSError" in by["silent_ok"]["problems"][0]
    assert r["failed"] == [c.name for c in cases if c.name != "fine"]
    assert r["abandoned_workers"] == 1 and r["verdict"] == "fail"  # the hung worker, still waiting
    (ch,) = r["checks"]
    assert ch["value"] == 8 and ch["pass"] is False
    md = render_robustness(r)
    assert "| slow |" in md and "**FAIL**" in md and "timeout" in md


def test_robustness_on_the_tiny_model(tts):
    cases = [c for c in HARD_INPUTS if c.name in ("one_word", "only_punctuation")]
    r = robustness(tts, cases=cases, timeout_s=60, progress=False)
    one, punct = r["cases"]
    b = length_bounds(tts, "Hi!", "en")
    assert one["outcome"] == "ok" and one["finite"] and one["peak"] <= 1.0
    assert one["max_frames"] == b["max_frames"] == tts.config.sampling.min_max_frames + 1
    assert 0 < one["frames"] <= one["max_frames"] and not any("cap" in p for p in one["problems"])
    assert punct["outcome"] == "refused" and punct["pass"] and "FlowTTSError" in punct["error"]
    assert r["settings"]["min_frames_per_char"] == 0.25 and r["abandoned_workers"] == 0


def test_check_case_bounds_use_normalized_text(tts):
    b = length_bounds(tts, "I have 2 cats.", "en")
    assert b["normalized_chars"] > len("I have 2 cats.")  # "two"
    assert b["min_frames"] == pytest.approx(0.25 * b["normalized_chars"])
    rec = check_case(tts, HardInput("x", "I have 2 cats."), timeout_s=60)
    assert rec["min_frames"] == b["min_frames"] and rec["max_frames"] == b["max_frames"]
