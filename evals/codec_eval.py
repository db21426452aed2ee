"""Codec resynthesis benchmark: quality, intelligibility, bitrate, codebook use and speed of one codec.

    report = evaluate_codec("runs/codec/codec.safetensors", "corpus", split="test", max_per_group=50)
    write_report("reports", "codec-test", report, render_markdown(report))

or ``flowtts eval codec --codec runs/codec --corpus corpus --out reports``.

What it measures, on one split of a corpus built by ``flowtts data synth`` / ``prepare``:

- **Selection.** Utterances are grouped by language × voice group (seen voice / held-out voice); each group
  contributes at most ``max_per_group`` utterances, chosen deterministically: voices in name order take
  turns, each giving its utterances in the order of the sha256 of their ids (stable when the corpus grows).
- **Quality** per utterance (batch 1, encode -> decode, cut to the input length): STOI (pystoi, at 24 kHz),
  wideband PESQ (P.862.2 at 16 kHz; NaN when PESQ finds no speech, left out of the mean and counted),
  log-mel L1 distance (``codec.metrics.mel_distance``) and the phoneme error rate of the phonemes the
  codec's CTC head predicts from the *semantic ids alone* (``codec.phonemes_from_ids``) against the
  corpus's espeak IPA (``ipa_to_phones``, restricted to the codec's phoneme inventory). Aggregates are
  means over utterances (PER: total edits / total reference phones) per language, per voice group and
  overall.
- **Intelligibility.** English only: WER of the original and of the resynthesised audio under one
  ``evals.judges.asr.AsrJudge`` whose closed-vocabulary LM is built from the English sentences evaluated,
  and their ratio (the only meaningful number, see the judge's docstring).
- **Bitrate**: 12.5 frames/s × (log2 K + D·log2 L), from the codec's config.
- **Codebook use** of the semantic VQ over the frames encoded here (``vq.reset_usage()`` before,
  ``vq.usage()`` after; encoding in eval mode counts use without moving the codebook).
- **Speed** on CPU, batch 1, ``torch.set_num_threads(2)`` (the design's 2-core target machine): encode and
  decode of a 10 s clip as multiples of real time (median of ``speed_runs`` runs after a warm-up run), and
  streaming decode milliseconds per frame (median and p95 over a 10 s clip pushed frame by frame, after a
  warm-up pass). The load average is recorded: other processes on the machine slow these numbers down.

Targets (``TARGETS``) are checked and reported pass / fail / not measured.
"""

from __future__ import annotations

import hashlib
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from flowtts.constants import FRAME_RATE, SAMPLE_RATE
from flowtts.data.manifest import Utterance, iter_corpus
from flowtts.errors import FlowTTSError

DEFAULT_MAX_PER_GROUP = 50
SPEED_CLIP_SECONDS = 10.0
SPEED_THREADS = 2
BATCHED_STREAMS = 16  # serve's concurrency target: streams decoded in one batched step
WER_LANG = "en"  # the judge is pocketsphinx's US-English model

# name -> (label, comparison, target, unit)
TARGETS: dict[str, tuple[str, str, float, str]] = {
    "stoi": ("STOI (mean)", ">=", 0.90, ""),
    "pesq_wb": ("PESQ-wb (mean)", ">=", 2.5, ""),
    "wer_ratio": ("WER ratio resynth / original (en)", "<=", 1.1, ""),
    "bitrate": ("bitrate", "<=", 2200.0, "bit/s"),
    "encode_xrt": ("encode speed (batch 1, 2 threads)", ">=", 50.0, "× real time"),
    "decode_xrt": ("decode speed (batch 1, 2 threads)", ">=", 50.0, "× real time"),
    "stream_ms": ("streaming decode, traced steps (median)", "<=", 5.0, "ms/frame"),
}


# --- selection ----------------------------------------------------------------------------------------------


def voice_group(seen_voice: bool) -> str:
    return "seen" if seen_voice else "held_out"


def _order_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def select_utterances(rows: Iterable[Utterance], split: str, max_per_group: int | None) -> list[Utterance]:
    """Rows of ``split``; at most ``max_per_group`` per language × voice group (None or 0: all).

    Deterministic and balanced over voices: the voices of a group (in name order) take turns, each giving
    its next utterance in sha256-of-id order. Returned sorted by language, group (seen first) and id.
    """
    groups: dict[tuple[str, bool], dict[str, list[Utterance]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.split == split:
            groups[(r.lang, r.seen_voice)][r.voice].append(r)
    chosen: list[Utterance] = []
    for by_voice in groups.values():
        queues = [sorted(by_voice[v], key=lambda r: _order_key(r.id)) for v in sorted(by_voice)]
        total = sum(len(q) for q in queues)
        limit = total if not max_per_group else min(max_per_group, total)
        picked: list[Utterance] = []
        depth = 0
        while len(picked) < limit:
            for q in queues:
                if depth < len(q) and len(picked) < limit:
                    picked.append(q[depth])
            depth += 1
        chosen.extend(picked)
    return sorted(chosen, key=lambda r: (r.lang, not r.seen_voice, r.id))


# --- helpers ------------------------------------------------------------------------------------------------


def _load_audio(corpus: Path, row: Utterance) -> np.ndarray:
    from flowtts.audio import read_audio, resample

    audio = read_audio(corpus / row.audio)
    x = audio.samples
    if audio.sample_rate != SAMPLE_RATE:
        x = resample(x, audio.sample_rate, SAMPLE_RATE)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(statistics.fmean(finite)) if finite else None


def _ratio(resynth: float, original: float) -> float:
    if original > 0:
        return resynth / original
    return 1.0 if resynth == 0 else math.inf


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def bitrate_info(config) -> dict:
    """Bitrate with its formula written out: 12.5 × (log2 K + D·log2 L)."""
    k, d, levels = config.vq.codebook_size, config.fsq.dim, config.fsq.levels
    sem, ac = math.log2(k), d * math.log2(levels)
    bps = FRAME_RATE * (sem + ac)
    return {
        "bits_per_second": bps,
        "bits_per_frame": sem + ac,
        "frame_rate": FRAME_RATE,
        "codebook_size": k,
        "acoustic_dim": d,
        "fsq_levels": levels,
        "formula": (
            f"{FRAME_RATE:g} × (log2 K + D·log2 L) = {FRAME_RATE:g} × (log2 {k} + {d}·log2 {levels}) "
            f"= {FRAME_RATE:g} × ({sem:.3f} + {ac:.3f}) = {bps:.1f} bit/s"
        ),
    }


def _aggregate(records: list[dict]) -> dict:
    pesq = [r["pesq_wb"] for r in records]
    per_edits = sum(r["per_edits"] for r in records if r["per_edits"] is not None)
    per_phones = sum(r["per_phones"] for r in records if r["per_phones"] is not None)
    has_per = any(r["per_phones"] is not None for r in records)
    return {
        "utterances": len(records),
        "seconds": sum(r["duration"] for r in records),
        "voices": len({r["voice"] for r in records}),
        "stoi": _mean([r["stoi"] for r in records]),
        "pesq_wb": _mean(pesq),
        "pesq_failed": sum(1 for p in pesq if p is None or not math.isfinite(p)),
        "mel_distance": _mean([r["mel_distance"] for r in records]),
        "per": (per_edits / per_phones if per_phones else None) if has_per else None,
        "per_phones": per_phones if has_per else None,
    }


def _breakdown(records: list[dict]) -> dict:
    by_lang: dict[str, list[dict]] = defaultdict(list)
    by_group: dict[str, list[dict]] = defaultdict(list)
    by_cell: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        g = voice_group(r["seen_voice"])
        by_lang[r["lang"]].append(r)
        by_group[g].append(r)
        by_cell[f"{r['lang']}/{g}"].append(r)
    order = {"seen": 0, "held_out": 1}
    return {
        "overall": _aggregate(records),
        "by_lang": {k: _aggregate(v) for k, v in sorted(by_lang.items())},
        "by_voice_group": {
            k: _aggregate(v) for k, v in sorted(by_group.items(), key=lambda kv: order[kv[0]])
        },
        "by_lang_voice_group": {
            k: _aggregate(v)
            for k, v in sorted(
                by_cell.items(), key=lambda kv: (kv[0].split("/")[0], order[kv[0].split("/")[1]])
            )
        },
    }


def _wer_summary(records: list[dict]) -> dict:
    edits_o = sum(r["wer_edits_original"] for r in records)
    edits_r = sum(r["wer_edits_resynth"] for r in records)
    words = sum(r["wer_words"] for r in records)
    wer_o = edits_o / words if words else 0.0
    wer_r = edits_r / words if words else 0.0
    return {
        "utterances": len(records),
        "reference_words": words,
        "original": wer_o,
        "resynth": wer_r,
        "ratio": _ratio(wer_r, wer_o),
        "difference": wer_r - wer_o,  # read with the ratio: a tiny original WER makes the ratio jumpy
    }


# --- speed --------------------------------------------------------------------------------------------------


def measure_speed(codec, clip: np.ndarray, runs: int = 5, threads: int = SPEED_THREADS) -> dict:
    """Encode / decode × real time and streaming ms per frame on ``clip`` (24 kHz), batch 1, ``threads``
    torch threads (2 by default, the design's target machine; the previous setting is restored)."""
    import torch

    from codec.frames import Frames
    from codec.streaming import push_many, warm_up

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        wav = torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))[None]
        seconds = wav.shape[-1] / SAMPLE_RATE

        def timed(fn) -> float:
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0

        codec.encode(wav)  # warm-up
        enc = [timed(lambda: codec.encode(wav)) for _ in range(runs)]
        frames = codec.encode(wav)
        codec.decode(frames)
        dec = [timed(lambda: codec.decode(frames)) for _ in range(runs)]

        def stream_once() -> list[float]:
            stream = codec.streaming_decoder()
            per_frame = []
            for i in range(frames.num_frames):
                one = frames.slice(i, i + 1)
                t0 = time.perf_counter()
                stream.push(one)
                per_frame.append(time.perf_counter() - t0)
            stream.flush()
            return per_frame

        stream_once()  # warm-up
        per_frame_ms = [1000.0 * t for t in stream_once()]
        # the same with the traced decoder graphs a server turns on (codec.streaming.warm_up), then N
        # streams decoded together per step as serve batches them
        traced_before = codec.decoder.traced
        warm_up(codec, BATCHED_STREAMS)
        stream_once()
        traced_ms = [1000.0 * t for t in stream_once()]
        batched_ms = []
        streams = [codec.streaming_decoder() for _ in range(BATCHED_STREAMS)]
        for i in range(frames.num_frames):
            rows = Frames.stack([frames.slice(i, i + 1)] * BATCHED_STREAMS)
            t0 = time.perf_counter()
            push_many(streams, rows)
            batched_ms.append(1000.0 * (time.perf_counter() - t0))
        codec.decoder.traced = traced_before
    finally:
        torch.set_num_threads(previous)
    enc_med, dec_med = statistics.median(enc), statistics.median(dec)
    return {
        "clip_seconds": seconds,
        "frames": frames.num_frames,
        "threads": threads,
        "runs": runs,
        "encode_seconds_median": enc_med,
        "decode_seconds_median": dec_med,
        "encode_xrt": seconds / enc_med,
        "decode_xrt": seconds / dec_med,
        "stream_ms_per_frame_median": statistics.median(per_frame_ms),
        "stream_ms_per_frame_p95": _percentile(per_frame_ms, 95),
        "stream_ms_per_frame_max": max(per_frame_ms),
        "stream_traced_ms_per_frame_median": statistics.median(traced_ms),
        "stream_traced_ms_per_frame_p95": _percentile(traced_ms, 95),
        "batched_streams": BATCHED_STREAMS,
        "stream_batched_ms_per_step_median": statistics.median(batched_ms[1:] or batched_ms),
        "stream_batched_ms_per_step_p95": _percentile(batched_ms[1:] or batched_ms, 95),
        "frame_ms": 1000.0 / FRAME_RATE,
        "load_average_before": list(load_before) if load_before else None,
        "load_average_after": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# --- checks -------------------------------------------------------------------------------------------------


def _checks(values: dict[str, float | None]) -> list[dict]:
    out = []
    for key, (label, op, target, unit) in TARGETS.items():
        v = values.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            ok = None
        else:
            ok = bool(v >= target) if op == ">=" else bool(v <= target)
        out.append(
            {"metric": key, "label": label, "value": v, "target": target, "op": op, "unit": unit, "pass": ok}
        )
    return out


def _verdict(checks: list[dict]) -> str:
    if any(c["pass"] is False for c in checks):
        return "fail"
    if any(c["pass"] is None for c in checks):
        return "incomplete"
    return "pass"


# --- the evaluation -----------------------------------------------------------------------------------------


def _resolve_codec_file(codec_path) -> tuple[Path, str]:
    from codec.release import FILE_NAME

    if codec_path is None:
        from flowtts.model_dir import default_model_dir

        return default_model_dir() / FILE_NAME, "default (embedded)"
    p = Path(codec_path)
    return (p / FILE_NAME if p.is_dir() else p), str(codec_path)


def evaluate_codec(
    codec_path: str | os.PathLike | None,
    corpus: str | os.PathLike,
    split: str = "test",
    max_per_group: int | None = DEFAULT_MAX_PER_GROUP,
    speed: bool = True,
    wer: bool = True,
    speed_runs: int = 5,
    speed_threads: int = SPEED_THREADS,
    progress: bool = True,
) -> dict:
    """Evaluates one codec on ``corpus``'s ``split``; returns the report (header included, JSON-ready).

    ``codec_path``: a ``codec.safetensors`` file or a folder holding one (None: the embedded default model).
    ``max_per_group``: utterances per language × voice group (None or 0: all of the split).
    ``speed_runs`` / ``speed_threads``: timed runs per speed figure and torch threads while timing.
    Raises ``FlowTTSError`` on a missing corpus, an empty split or a missing / unreadable codec.
    """
    import torch
    from tqdm import tqdm

    from codec.metrics import mel_distance, pesq_wb, phoneme_errors, stoi
    from codec.phonemes import ipa_to_phones
    from codec.release import codec_metadata, load_codec
    from evals.report import report_header

    corpus = Path(corpus)
    if not (corpus / "manifests").is_dir():
        raise FlowTTSError(f"{corpus}: not a corpus folder (no manifests/ inside)")
    if max_per_group is not None and max_per_group < 0:
        raise FlowTTSError(f"max_per_group must be >= 0, got {max_per_group}")
    _require_metrics()
    rows = select_utterances(iter_corpus(corpus), split, max_per_group)
    if not rows:
        raise FlowTTSError(f"{corpus}: no utterances in split {split!r}")

    codec_file, model_name = _resolve_codec_file(codec_path)
    codec = load_codec(codec_file)
    meta = codec_metadata(codec_file)
    config = codec.config
    inventory = set(config.phonemes)
    has_head = codec.phoneme_head is not None

    judge = None
    english = [r for r in rows if r.lang.split("-")[0] == WER_LANG]
    if wer and english:
        from evals.judges.asr import AsrJudge

        judge = AsrJudge([r.normalized_text for r in english])

    records: list[dict] = []
    speed_clip: list[np.ndarray] = []
    speed_have = 0
    need = int(SPEED_CLIP_SECONDS * SAMPLE_RATE)
    codec.vq.reset_usage()
    t_start = time.perf_counter()
    for row in tqdm(rows, desc="codec eval", unit="utt", disable=None if progress else True, file=sys.stderr):
        x = _load_audio(corpus, row)
        if speed and speed_have < need:
            speed_clip.append(x)
            speed_have += len(x)
        frames = codec.encode(torch.from_numpy(x))
        y = codec.decode(frames)[0, : len(x)].clamp(-1.0, 1.0).cpu().numpy().astype(np.float32)
        rec = {
            "id": row.id,
            "lang": row.lang,
            "voice": row.voice,
            "seen_voice": row.seen_voice,
            "duration": len(x) / SAMPLE_RATE,
            "stoi": stoi(x, y),
            "pesq_wb": pesq_wb(x, y),
            "mel_distance": mel_distance(x, y),
            "per_edits": None,
            "per_phones": None,
        }
        if has_head and row.phonemes:
            ref = [p for p in ipa_to_phones(row.phonemes) if p in inventory]
            hyp = codec.phonemes_from_ids(frames.semantic)[0]
            rec["per_edits"], rec["per_phones"] = phoneme_errors(ref, hyp)
        if judge is not None and row.lang.split("-")[0] == WER_LANG:
            from evals.judges.asr import wer_counts

            rec["text"] = row.normalized_text
            rec["asr_original"] = judge.transcribe(x)
            rec["asr_resynth"] = judge.transcribe(y)
            rec["wer_edits_original"], rec["wer_words"] = wer_counts(row.normalized_text, rec["asr_original"])
            rec["wer_edits_resynth"], _ = wer_counts(row.normalized_text, rec["asr_resynth"])
        records.append(rec)
    eval_seconds = time.perf_counter() - t_start
    usage = codec.vq.usage()

    wer_block = None
    if judge is not None:
        import importlib.metadata

        scored = [r for r in records if "wer_words" in r]
        by_group: dict[str, list[dict]] = defaultdict(list)
        for r in scored:
            by_group[voice_group(r["seen_voice"])].append(r)
        wer_block = {
            "judge": (
                f"pocketsphinx {importlib.metadata.version('pocketsphinx')} en-us, closed-vocabulary trigram "
                f"LM from the {len(scored)} English sentences evaluated"
            ),
            "vocabulary": len(judge.vocabulary),
            "oov_rate": judge.oov_rate,
            "oov_words": sorted(judge.oov_words),
            **_wer_summary(scored),
            "by_voice_group": {k: _wer_summary(by_group[k]) for k in ("seen", "held_out") if k in by_group},
        }

    speed_block = None
    if speed:
        clip = np.concatenate(speed_clip)
        if len(clip) < need:  # fewer than 10 s evaluated: repeat what there is
            clip = np.tile(clip, -(-need // len(clip)))
        speed_block = measure_speed(codec, clip[:need], runs=speed_runs, threads=speed_threads)

    quality = _breakdown(records)
    bitrate = bitrate_info(config)
    values = {
        "stoi": quality["overall"]["stoi"],
        "pesq_wb": quality["overall"]["pesq_wb"],
        "wer_ratio": wer_block["ratio"] if wer_block else None,
        "bitrate": bitrate["bits_per_second"],
        "encode_xrt": speed_block["encode_xrt"] if speed_block else None,
        "decode_xrt": speed_block["decode_xrt"] if speed_block else None,
        # the streaming target is judged on the traced decoder steps, the configuration serve runs
        "stream_ms": speed_block["stream_traced_ms_per_frame_median"] if speed_block else None,
    }
    checks = _checks(values)
    notes = []
    if not has_head:
        notes.append("this codec has no phoneme head: PER not measured")
    if wer and not english:
        notes.append("no English utterances in the selection: WER not measured")
    if not wer:
        notes.append("WER not measured (--no-wer)")
    if not speed:
        notes.append("speed not measured (--no-speed)")

    config_dict = config.to_dict()
    return {
        **report_header(model_name, config_dict),
        "kind": "codec_eval",
        "codec": {
            "path": str(codec_file),
            "step": int(meta["step"]) if str(meta.get("step", "")).isdigit() else meta.get("step"),
            "parameters": sum(p.numel() for p in codec.parameters()),
            "phoneme_inventory": len(config.phonemes),
            "config": config_dict,
        },
        "eval": {
            "corpus": str(corpus),
            "split": split,
            "max_per_group": max_per_group or None,
            "selection": "per language × voice group, voices take turns, sha256(id) order",
            "utterances": len(records),
            "seconds": sum(r["duration"] for r in records),
            "langs": sorted({r["lang"] for r in records}),
            "wall_seconds": eval_seconds,
        },
        "bitrate": bitrate,
        "quality": quality,
        "wer": wer_block,
        "codebook_usage": {
            "frames": usage.frames,
            "fraction_used": usage.fraction_used,
            "codes_used": round(usage.fraction_used * config.vq.codebook_size),
            "codebook_size": config.vq.codebook_size,
            "perplexity": usage.perplexity,
        },
        "speed": speed_block,
        "checks": checks,
        "verdict": _verdict(checks),
        "notes": notes,
        "utterances": records,
    }


def _require_metrics() -> None:
    missing = []
    for mod in ("pesq", "pystoi"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise FlowTTSError(f"codec eval needs {', '.join(missing)}: pip install 'flowtts[evals]'")


# --- Markdown -----------------------------------------------------------------------------------------------


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–" if v is None or math.isnan(v) else ("∞" if v > 0 else "-∞")
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _quality_table(title: str, groups: dict[str, dict]) -> list[str]:
    lines = [
        f"| {title} | utterances | voices | minutes | STOI | PESQ-wb | PESQ failed | mel L1 | PER |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, a in groups.items():
        lines.append(
            f"| {name} | {a['utterances']} | {a['voices']} | {a['seconds'] / 60:.1f} | {_fmt(a['stoi'])} | "
            f"{_fmt(a['pesq_wb'], 2)} | {a['pesq_failed']} | {_fmt(a['mel_distance'])} | {_fmt(a['per'])} |"
        )
    return lines


def render_markdown(report: dict) -> str:
    """The report as Markdown: header, targets with pass/fail, quality tables, WER, bitrate, usage, speed."""
    m = report["machine"]
    c, e = report["codec"], report["eval"]
    verdict = {
        "pass": "**PASS**",
        "fail": "**FAIL**",
        "incomplete": "**INCOMPLETE** (some targets not measured)",
    }
    lines = [
        f"# Codec evaluation: {report['model']}",
        "",
        f"Verdict: {verdict[report['verdict']]}",
        "",
        "| | |",
        "| --- | --- |",
        f"| codec | `{c['path']}` (step {_fmt(c['step'])}, {c['parameters'] / 1e6:.2f} M parameters) |",
        f"| config hash | `{report['config_hash']}` |",
        f"| code | `{report['git_commit']}` (flowtts {report['flowtts_version']}) |",
        f"| corpus | `{e['corpus']}`, split **{e['split']}**, {e['utterances']} utterances "
        f"({e['seconds'] / 60:.1f} min), langs {', '.join(e['langs'])}, "
        + (
            f"at most {e['max_per_group']} per language × voice group |"
            if e["max_per_group"]
            else "the whole split |"
        ),
        f"| machine | {m['cpu']}, {m['cores']} cores, {m['platform']}, torch {m['torch']}"
        + (f", CUDA {m['cuda_device']}" if m.get("cuda_device") else "")
        + " |",
        f"| date (UTC) | {report['date_utc']} |",
        "",
        "## Targets",
        "",
        "| metric | value | target | result |",
        "| --- | ---: | ---: | --- |",
    ]
    for ch in report["checks"]:
        unit = f" {ch['unit']}" if ch["unit"] else ""
        result = {True: "pass", False: "**fail**", None: "not measured"}[ch["pass"]]
        digits = 1 if ch["metric"] in ("bitrate", "encode_xrt", "decode_xrt") else 3
        lines.append(
            f"| {ch['label']} | {_fmt(ch['value'], digits)}{unit if ch['value'] is not None else ''} | "
            f"{ch['op']} {ch['target']:g}{unit} | {result} |"
        )
    q = report["quality"]
    lines += [
        "",
        "## Resynthesis quality",
        "",
        "STOI and PESQ are intrusive: the resynthesis is compared with the original 24 kHz recording "
        "(PESQ-wb at 16 kHz; clips where PESQ finds no speech are left out of the mean and counted). "
        "PER: phonemes predicted by the CTC head from the semantic ids alone vs the corpus's espeak IPA, "
        "restricted to the codec's phoneme inventory. Means over utterances.",
        "",
        *_quality_table("overall", {"all": q["overall"]}),
        "",
        *_quality_table("language", q["by_lang"]),
        "",
        *_quality_table("voice group", q["by_voice_group"]),
        "",
        *_quality_table("language / voice group", q["by_lang_voice_group"]),
        "",
        "## Intelligibility (English ASR)",
        "",
    ]
    w = report["wer"]
    if w is None:
        lines.append("Not measured.")
    else:
        lines += [
            f"Judge: {w['judge']} ({w['vocabulary']} words; {100 * w['oov_rate']:.1f} % of reference words "
            "are not in the recognizer's dictionary and count as errors for both). Absolute "
            "closed-vocabulary WERs depend on the sentence set and the voice; only the ratio is meaningful.",
            "",
            "| voices | utterances | words | WER original | WER resynth | ratio | difference |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        rows = {"all": w, **w["by_voice_group"]}
        for name, s in rows.items():
            lines.append(
                f"| {name} | {s['utterances']} | {s['reference_words']} | {_fmt(s['original'])} | "
                f"{_fmt(s['resynth'])} | {_fmt(s['ratio'], 2)} | {s['difference']:+.3f} |"
            )
    b, u = report["bitrate"], report["codebook_usage"]
    lines += [
        "",
        "## Bitrate",
        "",
        f"{b['formula']} (K = semantic codebook size, D = acoustic dims, L = FSQ levels).",
        "",
        "## Semantic codebook use",
        "",
        f"{u['codes_used']} of {u['codebook_size']} codes used ({100 * u['fraction_used']:.1f} %), "
        f"perplexity {u['perplexity']:.1f}, over {u['frames']} encoded frames of the evaluated set.",
        "",
        "## Speed",
        "",
    ]
    s = report["speed"]
    if s is None:
        lines.append("Not measured.")
    else:
        load = s.get("load_average_before")
        lines += [
            f"CPU, batch 1, {s['threads']} threads, a {s['clip_seconds']:.0f} s clip ({s['frames']} frames); "
            f"median of {s['runs']} runs after a warm-up"
            + (f"; load average before {load[0]:.2f} on {m['cores']} cores" if load else "")
            + ".",
            "",
            "| what | value |",
            "| --- | ---: |",
            f"| encode | {s['encode_xrt']:.1f} × real time ({1000 * s['encode_seconds_median']:.0f} ms) |",
            f"| decode | {s['decode_xrt']:.1f} × real time ({1000 * s['decode_seconds_median']:.0f} ms) |",
            f"| streaming decode, median | {s['stream_ms_per_frame_median']:.2f} ms/frame "
            f"(a frame is {s['frame_ms']:.0f} ms) |",
            f"| streaming decode, p95 | {s['stream_ms_per_frame_p95']:.2f} ms/frame |",
            f"| streaming decode, max | {s['stream_ms_per_frame_max']:.2f} ms/frame |",
            f"| streaming decode, traced steps (as serve runs it), median | "
            f"{s['stream_traced_ms_per_frame_median']:.2f} ms/frame |",
            f"| streaming decode, traced steps, p95 | {s['stream_traced_ms_per_frame_p95']:.2f} ms/frame |",
            f"| {s['batched_streams']} streams decoded together, median | "
            f"{s['stream_batched_ms_per_step_median']:.2f} ms per step "
            f"({s['stream_batched_ms_per_step_median'] / s['batched_streams']:.2f} ms per stream) |",
        ]
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"
