"""Robustness: a fixed list of hard inputs through ``tts.synthesize``, each under a wall-clock limit.

    report = robustness("runs/tts/release")
    write_report("reports", "robustness", report, render_markdown(report))

or ``flowtts eval robustness --model DIR --out reports``. Each input runs in its own worker thread; the runner
waits at most ``timeout_s``. A speakable input passes when the call

- returns in time (**never hangs**),
- gives no more frames than the length cap allows: per normalized sentence ``max(min_max_frames,
  max_frames_per_char × characters)`` (the model's sampling config), summed, plus one frame of slack
  (**never runs on**),
- gives at least ``min_frames_per_char`` (0.25) frames per character of the normalized text (**never ends
  early**: 0.25 frames, 20 ms, per character is three times faster than fast speech),
- has no NaN / infinite sample and a peak ≤ 1.

An input with nothing speakable (only punctuation, only emoji, only whitespace) passes when the call raises
``FlowTTSError`` in time; any other exception, or audio, is a failure.

A worker that runs past the limit cannot be stopped (Python threads cannot be killed): it is abandoned as a
daemon thread and counted in ``abandoned_workers``; later inputs then share the CPU with it, and it dies with
the process.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

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
from flowtts.constants import FRAME_SAMPLES
from flowtts.errors import FlowTTSError

DEFAULT_TIMEOUT_S = 120.0
MIN_FRAMES_PER_CHAR = 0.25
CAP_SLACK_FRAMES = 1


@dataclass(frozen=True)
class HardInput:
    name: str
    text: str
    speakable: bool = True  # False: must raise FlowTTSError
    description: str = ""


_FILLERS = ("a", "on", "now", "then", "again", "indeed", "finally", "together", "carefully", "eventually")


def paragraph(chars: int = 1000) -> str:
    """A plain English paragraph of exactly ``chars`` characters (at least 20), ending with a period."""
    base = (
        "The committee met early on Monday to review the plans for the new library. Several members asked "
        "whether the budget would cover the reading rooms, the children's wing and the small garden behind "
        "the building. The architect explained that the costs had been checked twice, and that the builders "
        "could start in the spring if the council agreed. After a long discussion about parking, lighting "
        "and the opening hours, the chair proposed a short break. When the meeting resumed, the treasurer "
        "presented a careful summary of the grants that had already been promised by local businesses. "
    )
    words = (base * (chars // len(base) + 2)).split()
    out: list[str] = []
    # whole words while a filler word (1–10 letters) can still close the gap before the final period
    while len(" ".join([*out, words[len(out)]])) <= chars - 3:
        out.append(words[len(out)])
    text = " ".join(out).rstrip(",.;")
    gap = chars - 1 - len(text)  # room for " " + filler
    while gap - 1 > len(_FILLERS[-1]):  # stripped punctuation or a short last word: add fillers
        text += " " + _FILLERS[-1]
        gap = chars - 1 - len(text)
    if gap >= 2:
        text += " " + _FILLERS[gap - 2]
    elif gap == 1:
        text = text[:-1] + text[-1] * 2 if text else "a"
    return text + "."


HARD_INPUTS: tuple[HardInput, ...] = (
    HardInput("one_word", "Hi!", description="one short word"),
    HardInput("paragraph_1000", paragraph(1000), description="a 1,000-character paragraph"),
    HardInput(
        "numbers_dates_currency",
        "On 3/14/2015 at 7:30 pm the 2nd invoice of $9.2 million was paid; call 555-0123 before 12.05.2024, "
        "or pay €1,250.50 (about 15%) by the 1st.",
        description="numbers, dates, times, currency, percentages, ordinals",
    ),
    HardInput(
        "mixed_punctuation",
        "Wait!!! Really??? Well... I mean -- okay?! (Sure); fine: done!?!",
        description="repeated and mixed punctuation",
    ),
    HardInput(
        "emoji_unsupported",
        "I love pizza 🍕🍕, snowmen ☃ and check marks ✓ — also ∑, 漢字, ʕ•ᴥ•ʔ and 🤖!",
        description="emoji and characters the frontend does not support",
    ),
    HardInput(
        "long_word",
        "Pneumonoultramicroscopicsilicovolcanoconiosis and "
        "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch are long words.",
        description="very long words",
    ),
    HardInput(
        "all_caps",
        "THIS IS A TEST OF THE EMERGENCY BROADCAST SYSTEM. NASA AND THE FBI ARE ON THE WAY!",
        description="all capitals and acronyms",
    ),
    HardInput(
        "only_punctuation", "!!!???... ,;: -- ?!", speakable=False, description="nothing but punctuation"
    ),
    HardInput("only_emoji", "🙂🙂🙂 🎉", speakable=False, description="nothing but emoji"),
)


def run_with_timeout(fn, timeout_s: float) -> dict:
    """Runs ``fn()`` in a daemon thread; waits at most ``timeout_s``.

    Returns ``{"status": "ok" | "error" | "timeout", "result", "error", "seconds"}``; ``error`` is the
    exception raised (any ``BaseException``), ``seconds`` the wall time waited.
    """
    box: dict = {}

    def work():
        try:
            box["result"] = fn()
        except BaseException as e:  # report everything, including SystemExit / KeyboardInterrupt from fn
            box["error"] = e

    worker = threading.Thread(target=work, name="flowtts-robustness", daemon=True)
    t0 = time.perf_counter()
    worker.start()
    worker.join(timeout_s)
    seconds = time.perf_counter() - t0
    if worker.is_alive():
        return {"status": "timeout", "result": None, "error": None, "seconds": seconds}
    if "error" in box:
        return {"status": "error", "result": None, "error": box["error"], "seconds": seconds}
    return {"status": "ok", "result": box.get("result"), "error": None, "seconds": seconds}


def length_bounds(tts, text: str, lang: str, min_frames_per_char: float = MIN_FRAMES_PER_CHAR) -> dict:
    """The normalized sentences of ``text`` and the frame bounds the checks use."""
    sentences = tts.sentences(text, lang)
    s = tts.config.sampling
    chars = sum(len(x) for x in sentences)
    cap = sum(max(s.min_max_frames, int(s.max_frames_per_char * len(x))) for x in sentences)
    return {
        "sentences": len(sentences),
        "normalized_chars": chars,
        "min_frames": min_frames_per_char * chars,
        "max_frames": cap + CAP_SLACK_FRAMES,
    }


def _code(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def check_case(
    tts,
    case: HardInput,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    lang: str = "en",
    voice=None,
    steps: int | None = None,
    cfg: float | None = None,
    seed: int | None = 0,
    min_frames_per_char: float = MIN_FRAMES_PER_CHAR,
) -> dict:
    """Runs one hard input and checks it (see the module doc); returns its record (with ``pass`` and
    ``problems``)."""
    run = run_with_timeout(
        lambda: tts.synthesize(case.text, voice=voice, lang=lang, steps=steps, cfg=cfg, seed=seed), timeout_s
    )
    rec = {
        "name": case.name,
        "description": case.description,
        "text": case.text if len(case.text) <= 120 else case.text[:117] + "...",
        "chars": len(case.text),
        "speakable": case.speakable,
        "outcome": run["status"],
        "seconds": run["seconds"],
        "error": _one_line(run["error"]) if run["error"] is not None else None,
        "frames": None,
        "audio_seconds": None,
        "min_frames": None,
        "max_frames": None,
        "peak": None,
        "finite": None,
    }
    problems: list[str] = []
    if run["status"] == "timeout":
        problems.append(f"no result after {timeout_s:g} s (hang)")
    elif run["status"] == "error":
        if not case.speakable and isinstance(run["error"], FlowTTSError):
            rec["outcome"] = "refused"
        elif case.speakable and isinstance(run["error"], FlowTTSError):
            problems.append(f"refused a speakable text ({rec['error']})")
        else:
            problems.append(f"crashed ({rec['error']})")
    else:
        audio = run["result"]
        x = np.asarray(getattr(audio, "samples", audio), dtype=np.float32).reshape(-1)
        finite = bool(np.isfinite(x).all())
        peak = float(np.abs(x[np.isfinite(x)]).max()) if x.size and np.isfinite(x).any() else 0.0
        rec.update(frames=len(x) / FRAME_SAMPLES, audio_seconds=len(x) / 24000, peak=peak, finite=finite)
        if not case.speakable:
            problems.append("gave audio for a text with nothing speakable (expected FlowTTSError)")
        else:
            bounds = length_bounds(tts, case.text, lang, min_frames_per_char)
            rec.update(min_frames=bounds["min_frames"], max_frames=bounds["max_frames"])
            if rec["frames"] > bounds["max_frames"]:
                problems.append(f"{rec['frames']:.1f} frames exceed the length cap of {bounds['max_frames']}")
            if rec["frames"] < bounds["min_frames"]:
                problems.append(
                    f"ended early: {rec['frames']:.1f} frames < {bounds['min_frames']:.1f} "
                    f"({min_frames_per_char:g} per character of {bounds['normalized_chars']})"
                )
        if not finite:
            problems.append("NaN or infinite samples")
        if peak > 1.0:
            problems.append(f"peak {peak:.3f} > 1")
    rec["problems"] = problems
    rec["pass"] = not problems
    return rec


def robustness(
    model,
    cases: tuple[HardInput, ...] | list[HardInput] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    lang: str = "en",
    voice=None,
    steps: int | None = None,
    cfg: float | None = None,
    seed: int | None = 0,
    min_frames_per_char: float = MIN_FRAMES_PER_CHAR,
    progress: bool = True,
) -> dict:
    """Runs ``cases`` (default ``HARD_INPUTS``) through ``model`` (folder, None: the embedded default model,
    or a loaded ``TTS``) and returns the report (header, one record per case, checks)."""
    import sys

    from tqdm import tqdm

    from evals.report import report_header

    if not timeout_s > 0:
        raise FlowTTSError(f"timeout must be > 0 seconds, got {timeout_s}")
    cases = list(HARD_INPUTS if cases is None else cases)
    if not cases:
        raise FlowTTSError("robustness: no cases to run")
    tts, model_name = load_tts(model)
    v = fixed_voice(tts, voice, lang)
    before = {t.ident for t in threading.enumerate()}
    records = [
        check_case(tts, case, timeout_s, lang, v, steps, cfg, seed, min_frames_per_char)
        for case in tqdm(
            cases, desc="robustness", unit="case", disable=None if progress else True, file=sys.stderr
        )
    ]
    abandoned = sum(
        1
        for t in threading.enumerate()
        if t.name == "flowtts-robustness" and t.is_alive() and t.ident not in before
    )
    failed = [r["name"] for r in records if not r["pass"]]
    checks = [check("failed_cases", f"hard inputs failing (of {len(records)})", len(failed), "<=", 0)]
    notes = []
    if abandoned:
        notes.append(
            f"{abandoned} worker(s) still running after their time limit were abandoned (threads cannot be "
            "killed); the cases after them shared the CPU with them"
        )
    s = tts.config.sampling
    return {
        **report_header(model_name, tts.config.to_dict()),
        "kind": "tts_robustness",
        "model_info": model_block(tts),
        "settings": {
            "timeout_s": timeout_s,
            "lang": lang,
            "voice": voice_label(v),
            "steps": steps,
            "cfg": cfg,
            "seed": seed,
            "min_frames_per_char": min_frames_per_char,
            "max_frames_per_char": s.max_frames_per_char,
            "min_max_frames": s.min_max_frames,
            "cap_slack_frames": CAP_SLACK_FRAMES,
        },
        "cases": records,
        "failed": failed,
        "abandoned_workers": abandoned,
        "checks": checks,
        "verdict": verdict(checks),
        "notes": notes,
    }


def render_markdown(report: dict) -> str:
    st = report["settings"]
    lines = header_markdown(
        "TTS robustness",
        report,
        [
            f"| settings | time limit {st['timeout_s']:g} s per input, lang {st['lang']}, "
            f"voice {st['voice']}, seed {_fmt(st['seed'])}; minimum {st['min_frames_per_char']:g} frames per "
            f"normalized character, cap max({st['min_max_frames']}, {st['max_frames_per_char']:g} × "
            "characters) per sentence + "
            f"{st['cap_slack_frames']} |",
        ],
    )
    lines += [
        "",
        *checks_markdown(report["checks"], 0),
        "",
        "## Inputs",
        "",
        "| input | chars | outcome | seconds | frames | min | cap | peak | finite | result |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]

    def num(v, digits=1):
        return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"

    for r in report["cases"]:
        result = "pass" if r["pass"] else "**FAIL**: " + "; ".join(r["problems"])
        if r["pass"] and r["outcome"] == "refused":
            result += f" ({r['error']})"
        lines.append(
            f"| {r['name']} | {r['chars']} | {r['outcome']} | {r['seconds']:.2f} | {num(r['frames'])} | "
            f"{num(r['min_frames'])} | {num(r['max_frames'], 0)} | {num(r['peak'], 3)} | "
            f"{'–' if r['finite'] is None else ('yes' if r['finite'] else '**no**')} | "
            f"{result.replace('|', '/')} |"
        )
    lines += ["", "Texts:", ""]
    lines += [f"- **{r['name']}** ({r['description']}): `{_code(r['text'])}`" for r in report["cases"]]
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"
