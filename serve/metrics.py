"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Counters, gauges and histograms with fixed label names; thread-safe (the model worker and the event loop
both record). Label values come from the server (route templates, status codes, reasons), never from raw
request paths, so a fuzzer cannot grow the series without bound.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RTF_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


@dataclass
class _Metric:
    name: str
    help: str
    kind: str  # counter | gauge | histogram
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    values: dict = field(default_factory=dict)  # label values -> float, or [counts, sum, count]


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}
        m = self._declare
        m("flowtts_http_requests_total", "HTTP requests by route and status", "counter", ("route", "status"))
        m("flowtts_errors_total", "Refused or failed requests and streams by code", "counter", ("code",))
        m("flowtts_streams_total", "Streams started, by transport", "counter", ("transport",))
        m("flowtts_streams_ended_total", "Streams ended, by reason", "counter", ("reason",))
        m("flowtts_streams_rejected_total", "Streams refused because the server was busy", "counter")
        m("flowtts_streams_active", "Streams open now (REST requests and WebSocket turns)", "gauge")
        m("flowtts_streams_generating", "Streams in the model batch now", "gauge")
        m("flowtts_streams_paused", "Streams sitting out (slow reader or far ahead of real time)", "gauge")
        m("flowtts_slots_in_use", "Admission slots held (REST requests + WebSocket sessions)", "gauge")
        m("flowtts_ws_sessions_active", "WebSocket sessions open now", "gauge")
        m(
            "flowtts_time_to_first_audio_seconds",
            "From the request (or the turn's first text) to its first audio leaving the model worker",
            "histogram",
            ("transport",),
            LATENCY_BUCKETS,
        )
        m(
            "flowtts_stream_rtf",
            "Real-time factor of a finished stream: model-step wall time it took part in / its audio",
            "histogram",
            (),
            RTF_BUCKETS,
        )
        m(
            "flowtts_step_seconds",
            "Wall time of one frame step of the batch",
            "histogram",
            (),
            LATENCY_BUCKETS,
        )
        m("flowtts_batch_size", "Streams per frame step", "histogram", (), BATCH_BUCKETS)
        m(
            "flowtts_stop_latency_seconds",
            "From a cancel or disconnect to the model worker dropping the stream",
            "histogram",
            (),
            LATENCY_BUCKETS,
        )
        m("flowtts_audio_seconds_total", "Audio generated (seconds, 24 kHz, before speed change)", "counter")
        m("flowtts_frames_total", "Frames generated", "counter")
        m("flowtts_voices_created_total", "Voices added to the library", "counter")

    def _declare(self, name, help, kind, labels=(), buckets=()) -> None:
        self._metrics[name] = _Metric(name, help, kind, tuple(labels), tuple(buckets))

    def inc(self, name: str, amount: float = 1.0, **labels) -> None:
        m = self._metrics[name]
        key = tuple(str(labels[k]) for k in m.labels)
        with self._lock:
            m.values[key] = m.values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels) -> None:
        m = self._metrics[name]
        key = tuple(str(labels[k]) for k in m.labels)
        with self._lock:
            m.values[key] = float(value)

    def observe(self, name: str, value: float, **labels) -> None:
        m = self._metrics[name]
        key = tuple(str(labels[k]) for k in m.labels)
        if not math.isfinite(value):
            return
        with self._lock:
            h = m.values.setdefault(key, [[0] * len(m.buckets), 0.0, 0])
            i = bisect.bisect_left(m.buckets, value)
            if i < len(m.buckets):
                h[0][i] += 1
            h[1] += value
            h[2] += 1

    def value(self, name: str, **labels) -> float:
        """A counter's or gauge's value (a histogram's count), for tests and /health."""
        m = self._metrics[name]
        key = tuple(str(labels[k]) for k in m.labels)
        with self._lock:
            v = m.values.get(key)
        if v is None:
            return 0.0
        return float(v[2]) if m.kind == "histogram" else float(v)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for m in self._metrics.values():
                lines.append(f"# HELP {m.name} {m.help}")
                lines.append(f"# TYPE {m.name} {m.kind}")
                if m.values or m.labels:
                    items = sorted(m.values.items())
                else:  # an unlabelled metric is shown (as zero) before its first value
                    items = [((), [[0] * len(m.buckets), 0.0, 0] if m.kind == "histogram" else 0.0)]
                for key, v in items:
                    base = dict(zip(m.labels, key, strict=True))
                    if m.kind != "histogram":
                        lines.append(f"{m.name}{_labels(base)} {_num(v)}")
                        continue
                    counts, total, count = v
                    running = 0
                    for b, c in zip(m.buckets, counts, strict=True):
                        running += c
                        lines.append(f"{m.name}_bucket{_labels({**base, 'le': _num(b)})} {running}")
                    lines.append(f"{m.name}_bucket{_labels({**base, 'le': '+Inf'})} {count}")
                    lines.append(f"{m.name}_sum{_labels(base)} {_num(total)}")
                    lines.append(f"{m.name}_count{_labels(base)} {count}")
        return "\n".join(lines) + "\n"


def _labels(d: dict) -> str:
    if not d:
        return ""
    esc = {k: str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k, v in d.items()}
    return "{" + ",".join(f'{k}="{v}"' for k, v in esc.items()) + "}"


def _num(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
