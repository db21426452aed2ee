"""One clip of ``flowtts data prepare``: check, clean and write a recording, splitting it when long.

``process_clip`` runs in a worker process: it reads the audio (mixed to mono), checks clipping,
resamples to 24 kHz, rejects silence, trims, checks loudness modulation and seconds per character
against the normalized transcript, loudness-normalizes (-23 LUFS, peak <= -1 dBFS) and writes
``OUT/audio/<voice>/<voice>_<clip>.flac``. It returns the written pieces or one ``Rejected`` with a
reason code from ``REASONS``.

Decisions (why):
- Long clips (> max_seconds) are split only where the transcript has sentence boundaries (found by
  ``flowtts.text.split_sentences``, which does not cut after "Dr." or "e.g."): each boundary's time is
  estimated from its share of the spoken characters, then snapped to the longest pause (>= 200 ms)
  near that estimate. Without an aligner this is approximate, so such pieces are marked
  ``approximate``. When no sentence boundary maps onto a pause that gives pieces of
  ``min_seconds..max_seconds`` with plausible seconds per character, the clip is rejected
  (``too_long``) and the user is told to segment it.
- Music is NOT detected: no cheap test separates it from speech reliably. What is detected is audio
  with no speech-like loudness modulation (steady noise, hum, a held tone, or speech buried in noise
  at about 0 dB SNR): ``no_speech_modulation``. Clipping is measured on the channel mix, before
  resampling smooths it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowtts.audio import frame_db, normalize_loudness, read_audio, resample, trim_silence, write_audio_atomic
from flowtts.constants import SAMPLE_RATE
from flowtts.errors import FlowTTSError
from flowtts.text import normalize, split_sentences

SEC_PER_CHAR = (0.02, 0.25)  # plausible seconds per spoken character (letters, marks, digits)
CLIP_LEVEL, CLIP_RUN, MAX_CLIPPED = 0.999, 3, 0.001  # |x| >= level for >= run samples, share of N
SILENCE_DBFS = -60.0  # loudest 20 ms frame below this: no speech energy
MIN_MODULATION_DB = 6.0  # 90th - 10th percentile of 20 ms frame levels below this: steady, not speech
MIN_PAUSE_S = 0.2  # shortest pause a long clip may be cut at

REASONS = {
    "unreadable": "the file cannot be decoded as audio (corrupt, empty or unknown format)",
    "non_finite": "the audio contains NaN or infinite samples",
    "missing_transcript": "audio without a transcript (.txt / metadata.csv row)",
    "empty_transcript": "the transcript is empty",
    "bad_transcript": "the transcript cannot be read or normalized",
    "missing_audio": "a transcript without its audio file",
    "duplicate_id": "another file already produced this clip id",
    "bad_metadata_line": "a metadata.csv line without an id|text pair",
    "silence": f"no speech energy (loudest 20 ms frame below {SILENCE_DBFS:.0f} dBFS)",
    "too_short": "shorter than --min-seconds after trimming silence",
    "clipping": f"more than {MAX_CLIPPED:.1%} of samples in runs of >= {CLIP_RUN} at full scale",
    "no_speech_modulation": f"steady signal (frame-level spread < {MIN_MODULATION_DB:.0f} dB): noise, hum, "
    "a tone, or speech buried in noise",
    "text_mismatch": f"seconds per spoken character outside {SEC_PER_CHAR[0]}-{SEC_PER_CHAR[1]}",
    "too_long": "longer than --max-seconds and not splittable at sentence boundaries",
    "error": "unexpected failure while processing this file",
}


@dataclass(frozen=True)
class Rejected:
    """One input file (or metadata line) left out, with a reason code from ``REASONS``."""

    path: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Source:
    """One candidate clip: ``text`` is None when there is no transcript, ``audio`` None when no audio.
    ``spoken`` is the text to normalize (LJSpeech's normalized column when present)."""

    clip: str
    label: str
    audio: Path | None
    text: str | None
    spoken: str | None = None


@dataclass(frozen=True)
class ClipTask:
    """Everything a worker process needs for one clip."""

    source: Source
    out_dir: Path
    voice: str
    lang: str
    min_seconds: float
    max_seconds: float


@dataclass
class Piece:
    """One written output clip (a whole source file or one approximate piece of it)."""

    id: str
    audio: str
    text: str
    normalized_text: str
    duration: float
    approximate: bool = False


@dataclass
class ClipResult:
    """A worker's answer for one source: pieces written, or why it was rejected."""

    clip: str
    label: str
    pieces: list[Piece] = field(default_factory=list)
    rejected: Rejected | None = None


class _Reject(Exception):
    """Raised inside a worker to reject the current clip with a reason code and a detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Pause:
    """A quiet stretch of a clip, in seconds."""

    start: float
    end: float

    @property
    def centre(self) -> float:
        """The middle of the pause: where a cut goes."""
        return (self.start + self.end) / 2


@dataclass(frozen=True)
class Cut:
    """Cut a long clip at ``time`` seconds, after sentence index ``sentence``."""

    sentence: int
    time: float


def process_clip(task: ClipTask) -> ClipResult:
    """Worker entry: never raises for a bad file; an unexpected error becomes an ``error`` rejection
    so one odd file cannot end a long run.

    Raises:
        FlowTTSError: the output cannot be written (that ends the run: every clip would fail).
    """
    res = ClipResult(task.source.clip, task.source.label)
    try:
        res.pieces = _process(task)
    except _Reject as r:
        res.rejected = Rejected(task.source.label, r.reason, r.detail)
    except OSError as e:  # reading errors are rejections already: this is the output failing
        raise FlowTTSError(f"cannot write under {task.out_dir}: {e}") from e
    except Exception as e:  # noqa: BLE001 - reported per file, with the error's text
        res.rejected = Rejected(task.source.label, "error", f"{type(e).__name__}: {e}")
    return res


def _process(task: ClipTask) -> list[Piece]:
    """Checks, cleans and writes one clip (split when long); raises ``_Reject``."""
    src = task.source
    spoken = src.spoken or src.text or ""
    normalized = _normalize(spoken, task.lang)
    x = trim_silence(_load(src.audio), SAMPLE_RATE)
    dur = len(x) / SAMPLE_RATE
    if dur < task.min_seconds:
        raise _Reject("too_short", f"{dur:.2f} s after trimming < --min-seconds {task.min_seconds:g}")
    spread = modulation_db(x, SAMPLE_RATE)
    if spread < MIN_MODULATION_DB:
        raise _Reject("no_speech_modulation", f"20 ms levels spread only {spread:.1f} dB: noise, hum or tone")
    rate = dur / spoken_chars(normalized)
    if not SEC_PER_CHAR[0] <= rate <= SEC_PER_CHAR[1]:
        raise _Reject(
            "text_mismatch",
            f"{dur:.1f} s for {spoken_chars(normalized)} characters = {rate:.3f} "
            f"s/char (plausible {SEC_PER_CHAR[0]}-{SEC_PER_CHAR[1]})",
        )
    base = f"{task.voice}_{src.clip}"
    if dur <= task.max_seconds:
        return [_write(task, base, x, src.text or "", normalized, False)]
    return _split_long(task, base, x, spoken)


def _normalize(text: str, lang: str) -> str:
    """The text frontend's output on one line; rejects transcripts with nothing to say."""
    if not text.strip():
        raise _Reject("empty_transcript", "the transcript is empty")
    try:
        out = " ".join(normalize(text, lang).split())
    except Exception as e:  # noqa: BLE001 - the frontend's failure is this file's problem, reported
        raise _Reject("bad_transcript", f"text normalization failed: {e}") from None
    if spoken_chars(out) == 0:
        raise _Reject("empty_transcript", f"no letters or digits in {text[:40]!r}")
    return out


def _load(path: Path | None) -> np.ndarray:
    """Reads, checks clipping (before resampling smooths it), resamples to 24 kHz, rejects silence."""
    try:
        a = read_audio(path)
    except FlowTTSError as e:
        raise _Reject("non_finite" if "NaN" in str(e) else "unreadable", str(e)) from None
    share = clipped_share(a.samples)
    if share > MAX_CLIPPED:
        raise _Reject("clipping", f"{share:.2%} of samples in clipped runs (limit {MAX_CLIPPED:.1%})")
    x = resample(a.samples, a.sample_rate, SAMPLE_RATE)
    peak = float(frame_db(x, SAMPLE_RATE).max())
    if peak < SILENCE_DBFS:
        raise _Reject("silence", f"loudest 20 ms frame {peak:.0f} dBFS (< {SILENCE_DBFS:.0f}): no speech")
    return x


def _write(task: ClipTask, uid: str, x: np.ndarray, text: str, normalized: str, approx: bool) -> Piece:
    """Loudness-normalizes and writes one 16-bit FLAC atomically."""
    y = normalize_loudness(x, SAMPLE_RATE)
    rel = f"audio/{task.voice}/{uid}.flac"
    write_audio_atomic(task.out_dir / rel, y, SAMPLE_RATE)
    return Piece(uid, rel, text, normalized, len(y) / SAMPLE_RATE, approx)


def _split_long(task: ClipTask, base: str, x: np.ndarray, spoken: str) -> list[Piece]:
    """Splits a long clip at pauses matched to sentence boundaries (approximate, see module doc).
    Piece texts come from ``spoken`` (LJSpeech's normalized column when present). Nothing is
    written unless every piece fits its text."""
    total = len(x) / SAMPLE_RATE
    why = f"{total:.1f} s > --max-seconds {task.max_seconds:g}"
    hint = "; segment it into clips of at most --max-seconds, each with its own transcript"
    sents = split_sentences(spoken, task.lang)
    if len(sents) < 2:
        raise _Reject("too_long", f"{why} and its transcript has no sentence boundary to split at{hint}")
    norms = [_normalize(s, task.lang) for s in sents]
    cuts = plan_cuts(
        [spoken_chars(n) for n in norms],
        find_pauses(x, SAMPLE_RATE),
        total,
        task.min_seconds,
        task.max_seconds,
    )
    if cuts is None:
        raise _Reject("too_long", f"{why}; no pause >= {MIN_PAUSE_S:g} s matches a sentence boundary{hint}")
    bounds = [Cut(-1, 0.0), *cuts, Cut(len(sents) - 1, total)]
    pieces = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        seg = trim_silence(x[int(a.time * SAMPLE_RATE) : int(b.time * SAMPLE_RATE)], SAMPLE_RATE)
        norm = " ".join(norms[a.sentence + 1 : b.sentence + 1])
        dur = len(seg) / SAMPLE_RATE
        rate = dur / max(1, spoken_chars(norm))
        if dur < task.min_seconds or not SEC_PER_CHAR[0] <= rate <= SEC_PER_CHAR[1]:
            raise _Reject("too_long", f"{why}; piece {i + 1} ({dur:.1f} s) does not fit its text{hint}")
        pieces.append((f"{base}_{i + 1:03d}", seg, " ".join(sents[a.sentence + 1 : b.sentence + 1]), norm))
    return [_write(task, uid, seg, text, norm, True) for uid, seg, text, norm in pieces]


def find_pauses(x: np.ndarray, sample_rate: int, min_len: float = MIN_PAUSE_S) -> list[Pause]:
    """Runs of 20 ms frames quieter than max(noise floor + 10 dB, peak - 45 dB), at least ``min_len``."""
    db = frame_db(x, sample_rate)
    quiet = db < max(float(np.percentile(db, 5)) + 10, float(db.max()) - 45)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    runs = zip(edges[0::2], edges[1::2], strict=True)
    return [Pause(s * 0.02, e * 0.02) for s, e in runs if (e - s) * 0.02 >= min_len]


def plan_cuts(
    chars: list[int], pauses: list[Pause], total: float, min_s: float, max_s: float
) -> list[Cut] | None:
    """Greedy: from the last cut, take the furthest sentence boundary whose pause leaves a piece of
    ``min_s..max_s`` (and a remainder >= ``min_s``). A boundary's time is predicted from its share of
    the remaining characters and matched to the longest pause within max(0.75 s, 20 % of the piece),
    before any length limit (so a limit never pushes a boundary onto a comma pause). A boundary whose
    pause is shared with, or out of order against, another boundary is ambiguous and never cut at.
    None when no boundary can be used at some point."""
    cum = np.cumsum(chars)
    cuts: list[Cut] = []
    start_t, start_c, first = 0.0, 0, 0
    while total - start_t > max_s:
        matched: list[int | None] = []  # pause index per boundary first, first + 1, ...
        for k in range(first, len(chars) - 1):
            pred = start_t + (total - start_t) * (cum[k] - start_c) / (cum[-1] - start_c)
            tol = max(0.75, 0.2 * (pred - start_t))
            near = [j for j, p in enumerate(pauses) if abs(p.centre - pred) <= tol and p.centre > start_t]
            matched.append(
                max(
                    near,
                    key=lambda j: (round(pauses[j].end - pauses[j].start, 2), -abs(pauses[j].centre - pred)),
                    default=None,
                )
            )
            if pred - tol > start_t + max_s:
                break
        best = None
        for i, j in enumerate(matched):
            ordered = (
                j is not None
                and all(m is None or m < j for m in matched[:i])
                and all(m is None or m > j for m in matched[i + 1 :])
            )
            t = pauses[j].centre if j is not None else -1.0
            if ordered and start_t + min_s <= t <= start_t + max_s and total - t >= min_s:
                best = Cut(first + i, t)
        if best is None:
            return None
        cuts.append(best)
        start_t, start_c, first = best.time, int(cum[best.sentence]), best.sentence + 1
    return cuts


def spoken_chars(text: str) -> int:
    """Letters, combining marks and digits: what takes time to say (for seconds per character)."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LMN")


def clipped_share(samples: np.ndarray) -> float:
    """Share of samples inside runs of >= CLIP_RUN consecutive samples at |x| >= CLIP_LEVEL."""
    hot = np.concatenate([[False], np.abs(samples) >= CLIP_LEVEL, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(hot))
    runs = edges[1::2] - edges[0::2]
    return float(runs[runs >= CLIP_RUN].sum() / max(1, len(samples)))


def modulation_db(samples: np.ndarray, sample_rate: int) -> float:
    """Spread (90th - 10th percentile) of 20 ms frame levels, ignoring 100 ms at each edge (the
    trim padding). Speech, with syllables and gaps, spreads well over 10 dB; steady noise ~1 dB."""
    db = frame_db(samples, sample_rate)
    inner = db[5:-5] if len(db) > 20 else db
    return float(np.percentile(inner, 90) - np.percentile(inner, 10))
