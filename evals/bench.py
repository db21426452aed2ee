"""Speed benchmark of the Python library: real-time factor, time to first audio, where a frame's time goes.

    report = benchmark("runs/tts/release", runs=5, ttfa_runs=20)
    write_report("reports", "bench", report, render_markdown(report))

or ``flowtts eval bench --model DIR --out reports``. On CPU, batch 1, ``torch.set_num_threads(2)`` (the
design's 2-core target machine; the previous setting is restored), one fixed voice (resolved once, so its
prefix is cached as in a warm server), after ``TTS.warm_up`` (as a server starts: the traced single-stream
generator steps and codec decoder graphs are on):

- **Real-time factor** of ``tts.synthesize`` on a text of about 10 s of speech: wall time / audio duration,
  median of ``runs`` runs after one warm-up run (target ≤ 0.1).
- **Time to first audio** of ``tts.stream``: from the call to the first yielded chunk (text normalization,
  first sentence's prefill, the frames the streaming decoder needs before it can emit audio), warm,
  p50 / p95 over ``ttfa_runs`` calls; the generator is closed after the first chunk. This is the library's
  share of the server's time to first audio (design target ≤ 100 ms at the server), so it is a lower bound.
- **Per-frame split** from ``tts.last_timings`` over the timed runs: backbone + flow head vs codec decoding,
  milliseconds per 80 ms frame (median, p95, mean) and the codec's share; ``overhead`` is what the runs spent
  outside the frame loop (normalization, prefill, tokenization).
- **Load average** before and after (``os.getloadavg``): results measured on a busy machine are not
  comparable with results on an idle one; a note says so when the 1-minute load exceeds half the cores.

**Server.** ``benchmark(..., server_url=URL)`` also measures a running ``flowtts serve`` over real sockets
(``evals.bench_server.benchmark_server``) and stores its dict under ``report["server"]``; the checks read
``ttfa_ms_p50`` (time to first audio at the server, warm, ≤ 100 ms), ``realtime_streams`` (concurrent
real-time streams without underrun, ≥ 8) and ``cancel_stop_ms_p95`` (cancel -> compute stopped, ≤ 100 ms)
from it. ``server_benchmark(URL)`` is the server part alone (no model needed here).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from evals.bench_server import benchmark_server, server_markdown
from evals.codec_eval import _fmt
from evals.tts_eval import (
    check,
    checks_markdown,
    fixed_voice,
    header_markdown,
    load_tts,
    model_block,
    verdict,
    voice_label,
)
from flowtts.constants import FRAME_RATE
from flowtts.errors import FlowTTSError

THREADS = 2
DEFAULT_RUNS = 5
DEFAULT_TTFA_RUNS = 20
# About 10 s of speech at a typical reading rate (~15 characters per second), two sentences.
BENCH_TEXT = (
    "The old lighthouse keeper climbed the narrow stairs every evening to light the lamp. "
    "Ships passing in the night trusted its steady beam to guide them safely home."
)

RTF_TARGET = 0.1
TTFA_TARGET_MS = 100.0
STREAMS_TARGET = 8
STOP_TARGET_MS = 100.0


def _load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _split(timings: list) -> dict | None:
    """Per-frame milliseconds of backbone + flow and codec from ``FrameTiming`` records."""
    if not timings:
        return None
    bb = [1000.0 * t.backbone_and_flow for t in timings]
    co = [1000.0 * t.codec for t in timings]
    total = [a + b for a, b in zip(bb, co, strict=True)]
    return {
        "frames": len(timings),
        "frame_ms": 1000.0 / FRAME_RATE,
        "backbone_flow_ms_median": statistics.median(bb),
        "backbone_flow_ms_p95": _pct(bb, 95),
        "backbone_flow_ms_mean": statistics.fmean(bb),
        "codec_ms_median": statistics.median(co),
        "codec_ms_p95": _pct(co, 95),
        "codec_ms_mean": statistics.fmean(co),
        "total_ms_median": statistics.median(total),
        "total_ms_p95": _pct(total, 95),
        "codec_share": sum(co) / sum(total) if sum(total) > 0 else None,
    }


def benchmark(
    model,
    text: str = BENCH_TEXT,
    voice=None,
    lang: str = "en",
    runs: int = DEFAULT_RUNS,
    ttfa_runs: int = DEFAULT_TTFA_RUNS,
    threads: int = THREADS,
    steps: int | None = None,
    cfg: float | None = None,
    seed: int | None = 0,
    server_url: str | None = None,
    server_options: dict | None = None,
) -> dict:
    """Times ``model`` (folder, ``None`` for the embedded default model, or a loaded ``TTS``); see the module
    doc. ``voice``: a voice name or ``Voice`` (None: the model's first preset)."""
    import torch

    from evals.report import report_header

    if runs < 1 or ttfa_runs < 1:
        raise FlowTTSError(f"runs and ttfa_runs must be >= 1, got {runs} and {ttfa_runs}")
    if threads < 1:
        raise FlowTTSError(f"threads must be >= 1, got {threads}")
    tts, model_name = load_tts(model)
    v = fixed_voice(tts, voice, lang)
    kw = dict(voice=v, lang=lang, steps=steps, cfg=cfg, seed=seed)
    sentences = tts.sentences(text, lang)  # bad text / language: FlowTTSError before any timing
    server = benchmark_server(server_url, voice=voice, **(server_options or {})) if server_url else None

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    load_before = _load_average()
    try:
        tts.warm_up(v, lang)  # what a server does at start: traced generator and decoder steps
        warm = tts.synthesize(text, **kw)  # warm-up: allocations, the voice prefix cache, this text's shapes
        walls, durations, timings, in_frames = [], [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            audio = tts.synthesize(text, **kw)
            walls.append(time.perf_counter() - t0)
            durations.append(audio.duration)
            timings.extend(tts.last_timings)
            in_frames.append(sum(t.backbone_and_flow + t.codec for t in tts.last_timings))
        ttfa = []
        for _ in range(ttfa_runs):
            t0 = time.perf_counter()
            chunks = tts.stream(text, **kw)
            first = next(chunks, None)
            ttfa.append(time.perf_counter() - t0)
            chunks.close()
            if first is None:
                raise FlowTTSError("the model produced no audio for the benchmark text")
    finally:
        torch.set_num_threads(previous)
    load_after = _load_average()

    rtfs = [w / d if d > 0 else float("inf") for w, d in zip(walls, durations, strict=True)]
    ttfa_ms = [1000.0 * t for t in ttfa]
    library = {
        "text": text,
        "text_chars": len(text),
        "sentences": len(sentences),
        "voice": voice_label(v),
        "lang": lang,
        "threads": threads,
        "runs": runs,
        "warmup_audio_seconds": warm.duration,
        "audio_seconds_median": statistics.median(durations),
        "wall_seconds_median": statistics.median(walls),
        "rtf_median": statistics.median(rtfs),
        "rtf_min": min(rtfs),
        "rtf_max": max(rtfs),
        "overhead_seconds_median": statistics.median(w - f for w, f in zip(walls, in_frames, strict=True)),
        "ttfa_runs": ttfa_runs,
        "ttfa_ms_p50": _pct(ttfa_ms, 50),
        "ttfa_ms_p95": _pct(ttfa_ms, 95),
        "ttfa_ms_min": min(ttfa_ms),
        "ttfa_ms_max": max(ttfa_ms),
        "per_frame": _split(timings),
    }

    cores = os.cpu_count() or 1
    notes = []
    if load_before and load_before[0] > 0.5 * cores:
        notes.append(
            f"the machine was busy (1-minute load average {load_before[0]:.2f} on {cores} cores before "
            "the run): these timings are not comparable with timings on an idle machine"
        )
    if server is None:
        notes.append("server targets not measured: run with --server URL against a running `flowtts serve`")
    checks = [
        check(
            "rtf",
            f"real-time factor (batch 1, {threads} threads, median)",
            library["rtf_median"],
            "<=",
            RTF_TARGET,
        ),
        check(
            "ttfa_library_ms",
            "time to first audio, library, warm (p50)",
            library["ttfa_ms_p50"],
            "<=",
            TTFA_TARGET_MS,
            "ms",
            note="lower bound of the server's",
        ),
        *server_checks(server),
    ]
    return {
        **report_header(model_name, tts.config.to_dict()),
        "kind": "tts_bench",
        "model_info": model_block(tts),
        "sampling": {"steps": steps, "cfg": cfg, "seed": seed},
        "load_average_before": load_before,
        "load_average_after": load_after,
        "library": library,
        "server": server,
        "checks": checks,
        "verdict": verdict(checks),
        "notes": notes,
    }


def server_checks(server: dict | None) -> list[dict]:
    note = "" if server else "run with --server URL"
    get = (lambda k: server.get(k)) if server else (lambda k: None)
    return [
        check(
            "ttfa_server_ms",
            "time to first audio at the server, warm (p50)",
            get("ttfa_ms_p50"),
            "<=",
            TTFA_TARGET_MS,
            "ms",
            note=note,
        ),
        check(
            "realtime_streams",
            "concurrent real-time streams without underrun",
            get("realtime_streams"),
            ">=",
            STREAMS_TARGET,
            note=note,
        ),
        check(
            "cancel_stop_ms",
            "cancel -> compute stopped at the server (p95)",
            get("cancel_stop_ms_p95"),
            "<=",
            STOP_TARGET_MS,
            "ms",
            note=note,
        ),
    ]


def server_benchmark(url: str, **options) -> dict:
    """The server part alone, as a report (no model is loaded here)."""
    from evals.report import report_header

    server = benchmark_server(url, **options)
    checks = server_checks(server)
    return {
        **report_header(server["model"] or "server", {"server": url}),
        "kind": "tts_server_bench",
        "server": server,
        "checks": checks,
        "verdict": verdict(checks),
        "notes": [
            "measured over real sockets against an otherwise idle server; timings on a busy machine "
            "are not comparable with timings on an idle one"
        ],
    }


def render_server_markdown(report: dict) -> str:
    s = report["server"]
    lines = [
        f"# TTS server benchmark: {report['model']}",
        "",
        f"Date (UTC): {report['date_utc']}; code "
        f"`{report['git_commit']}`; machine {report['machine']['cpu']}, {report['machine']['cores']} cores.",
        "",
        *checks_markdown(report["checks"], 3),
        "",
        "## Server",
        "",
        *server_markdown(s),
    ]
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"


def render_markdown(report: dict) -> str:
    b = report["library"]
    s = report["sampling"]
    load = report["load_average_before"]
    lines = header_markdown(
        "TTS speed benchmark",
        report,
        [
            f"| setting | CPU, batch 1, {b['threads']} torch threads, voice {b['voice']}, "
            f"steps {_fmt(s['steps'])}, cfg {_fmt(s['cfg'])} (–: the model's default) |",
            "| load average | "
            + (
                f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} before, "
                f"{report['load_average_after'][0]:.2f} after (1 / 5 / 15 min) |"
                if load
                else "unknown |"
            ),
        ],
    )
    lines += ["", *checks_markdown(report["checks"], 3), "", "## Library", ""]
    lines += [
        f"Text: {b['text_chars']} characters, {b['sentences']} sentence(s); "
        f"{b['audio_seconds_median']:.2f} s of audio. Real-time factor: median of {b['runs']} runs after a "
        "warm-up; time to first audio: "
        f"{b['ttfa_runs']} calls of `tts.stream`, from the call to the first chunk.",
        "",
        "| what | value |",
        "| --- | ---: |",
        f"| real-time factor, median (min – max) | {b['rtf_median']:.3f} "
        f"({b['rtf_min']:.3f} – {b['rtf_max']:.3f}) |",
        f"| wall time per run, median | {b['wall_seconds_median']:.2f} s |",
        f"| outside the frame loop, median | {1000 * b['overhead_seconds_median']:.0f} ms |",
        f"| time to first audio, p50 / p95 | {b['ttfa_ms_p50']:.1f} / {b['ttfa_ms_p95']:.1f} ms |",
        f"| time to first audio, min / max | {b['ttfa_ms_min']:.1f} / {b['ttfa_ms_max']:.1f} ms |",
    ]
    f = b["per_frame"]
    if f:
        lines += [
            "",
            f"Per frame ({f['frames']} frames; a frame is {f['frame_ms']:.0f} ms of audio):",
            "",
            "| part | median | p95 | mean |",
            "| --- | ---: | ---: | ---: |",
            f"| backbone + flow head | {f['backbone_flow_ms_median']:.2f} ms | "
            f"{f['backbone_flow_ms_p95']:.2f} ms | {f['backbone_flow_ms_mean']:.2f} ms |",
            f"| codec decoder | {f['codec_ms_median']:.2f} ms | {f['codec_ms_p95']:.2f} ms | "
            f"{f['codec_ms_mean']:.2f} ms |",
            f"| total | {f['total_ms_median']:.2f} ms | {f['total_ms_p95']:.2f} ms | |",
            "",
            f"The codec takes {100 * (f['codec_share'] or 0):.0f} % of the frame loop.",
        ]
    lines += [
        "",
        "## Server",
        "",
        *(
            ["Not measured (run with --server URL)."]
            if report["server"] is None
            else server_markdown(report["server"])
        ),
    ]
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"
