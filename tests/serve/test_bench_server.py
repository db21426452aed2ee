"""The server half of the speed benchmark (``evals.bench_server``) against a live server: every number is
measured and plausible (on the tiny random model the values mean nothing; the plumbing is real)."""

from __future__ import annotations

import json

import pytest

from evals.bench import render_server_markdown, server_benchmark
from evals.bench_server import StreamTrace, benchmark_server
from flowtts.errors import FlowTTSError


def test_playback_simulation_counts_underruns() -> None:
    t = StreamTrace(0.0, [(1.0, 48000), (1.5, 48000), (3.5, 48000)])  # 1 s chunks; the third arrives late
    underruns, worst = t.playback(prebuffer_s=0.1)
    assert underruns == 1 and worst == pytest.approx(3.5 - 3.1)
    assert t.ttfa == 1.0 and t.audio_seconds == 3.0
    assert StreamTrace(0.0, [(0.1, 9600), (0.2, 9600)]).playback(0.0) == (0, 0.0)


def test_benchmark_server_measures_everything(server) -> None:
    report = server_benchmark(server.url, runs=3, concurrency=(1, 2), sweep_text="Hello there. Bye now.")
    r = report["server"]
    for k in (
        "ttfa_ms_p50",
        "ttfa_ms_p95",
        "ws_ttfa_ms_p50",
        "cancel_ms_p50",
        "cancel_stop_ms_p95",
        "disconnect_ms_p50",
    ):
        assert r[k] is not None and r[k] > 0, k
    assert r["ttfa_ms_p95"] >= r["ttfa_ms_p50"]
    levels = [(s["transport"], s["streams"]) for s in r["sweep"]]
    assert levels == [("ws", 1), ("ws", 2), ("http", 1), ("http", 2)]
    for s in r["sweep"]:
        assert s["completed"] == s["streams"] and s["busy"] == 0 and s["audio_seconds_mean"] > 3
    assert r["realtime_streams"] in (0, 1, 2)
    assert {c["metric"] for c in report["checks"]} == {"ttfa_server_ms", "realtime_streams", "cancel_stop_ms"}
    md = render_server_markdown(report)
    assert "time to first audio, HTTP" in md and "cancel -> compute stopped" in md
    json.dumps(report)
    server.wait_idle()


def test_benchmark_server_refuses_clearly() -> None:
    with pytest.raises(FlowTTSError, match="cannot reach the server"):
        benchmark_server("http://127.0.0.1:1", runs=1)
    with pytest.raises(FlowTTSError, match="http://"):
        benchmark_server("ftp://example.com", runs=1)
    with pytest.raises(FlowTTSError, match="concurrency"):
        benchmark_server("http://127.0.0.1:1", concurrency=(0,))
