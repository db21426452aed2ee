"""``flowtts data prepare``: turn a user's recordings into corpus manifest rows (24 kHz mono FLAC).

Input is auto-detected: an LJSpeech folder (``metadata.csv`` with ``id|text[|normalized_text]`` rows,
audio in ``wavs/<id>.wav``) or any folder tree of audio files, each with a same-stem ``.txt``
transcript. Every clip is read, mixed to mono, resampled to 24 kHz, trimmed, loudness-normalized
(-23 LUFS, peak <= -1 dBFS) and written to ``OUT/audio/<voice>/<id>.flac``; the rows go to
``OUT/manifests/prepared-<voice>.jsonl`` and a report of every rejected file to
``OUT/reports/prepare-<voice>.json``.

Decisions (why):
- Long clips (> max_seconds) are split only where the transcript has sentence boundaries: each
  boundary's time is estimated from its share of the spoken characters, then snapped to the longest
  pause (>= 200 ms) near that estimate. Without an aligner this is approximate, so such rows carry
  ``prosody={"split": "approximate"}``. When no sentence boundary maps onto a pause that gives pieces
  of ``min_seconds..max_seconds`` with plausible seconds per character, the clip is rejected
  (``too_long``) and the user is told to segment it.
- Music is NOT detected: no cheap test separates it from speech reliably. What is detected is audio
  with no speech-like loudness modulation (steady noise, hum, a held tone, or speech buried in noise
  at about 0 dB SNR): ``no_speech_modulation``. Clipping is measured on the channel mix.
- The pieces of one source file always share a split, so a recording never leaks across splits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flowtts.audio import (
    frame_db,
    normalize_loudness,
    read_audio,
    resample,
    trim_silence,
    write_audio_atomic,
    write_text_atomic,
)
from flowtts.constants import LANGUAGES, SAMPLE_RATE
from flowtts.data.manifest import Utterance, write_manifest
from flowtts.errors import FlowTTSError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au")
SEC_PER_CHAR = (0.02, 0.25)  # plausible seconds per spoken character (letters, marks, digits)
CLIP_LEVEL, CLIP_RUN, MAX_CLIPPED = 0.999, 3, 0.001  # |x| >= level for >= run samples, share of N
SILENCE_DBFS = -60.0  # loudest 20 ms frame below this: no speech energy
MIN_MODULATION_DB = 6.0  # 90th - 10th percentile of 20 ms frame levels below this: steady, not speech
MIN_PAUSE_S = 0.2  # shortest pause a long clip may be cut at
SENTENCE_END = re.compile(r"(?<=[.!?…。！？؟।])[\"'”’»)\]]*\s+")

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


@dataclass
class PrepareReport:
    """What ``prepare_recordings`` produced: the caller decides whether it is enough."""

    voice: str
    kept: list[Utterance]
    rejected: list[Rejected]
    minutes_usable: float
    clips_found: int  # candidate clips (files, metadata rows): kept + rejected
    manifest_path: Path
    report_path: Path
    normalizer: str = "flowtts.text.normalize"

    def by_reason(self) -> dict[str, int]:
        """Rejected counts per reason, most frequent first."""
        return dict(Counter(r.reason for r in self.rejected).most_common())


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


def sanitize_voice(name: str) -> str:
    """Lower-cases and keeps ``[a-z0-9_-]`` (other runs become ``-``), for file names and ids."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_") or "voice"


def prepare_recordings(
    input_dir: str | os.PathLike, out_dir: str | os.PathLike, lang: str, *, voice: str | None = None,
    speaker_group: str | None = None, gender: str | None = None, license: str | None = None,
    min_seconds: float = 1.0, max_seconds: float = 15.0, valid_fraction: float = 0.05,
    test_fraction: float = 0.05, seed: int = 0, jobs: int | None = None, progress: bool = False,
) -> PrepareReport:
    """Ingests recordings into ``out_dir`` (see the module docstring) and returns what was kept.

    Raises:
        FlowTTSError: bad input folder, unknown language, bad options or an unwritable ``out_dir``.
    """
    inp, out = Path(input_dir), Path(out_dir)
    _check_options(inp, lang, voice, gender, min_seconds, max_seconds, valid_fraction, test_fraction)
    voice = voice or sanitize_voice(inp.resolve().name)
    sources, rejected = discover_sources(inp, out)
    manifest = out / "manifests" / f"prepared-{voice}.jsonl"
    report_path = out / "reports" / f"prepare-{voice}.json"
    _prepare_out(out, voice, manifest, report_path)
    tasks = [ClipTask(s, out, voice, lang, min_seconds, max_seconds) for s in sources]
    found = len(sources) + len(rejected)
    results = _run_tasks(tasks, jobs or os.cpu_count() or 1, progress)
    rejected += [r.rejected for r in results if r.rejected is not None]
    rows = _rows(results, voice, speaker_group or voice, lang, gender, license or "user-provided",
                 seed, valid_fraction, test_fraction)
    write_manifest(manifest, rows)
    _remove_orphans(out / "audio" / voice, {Path(r.audio).name for r in rows})
    rep = PrepareReport(voice, rows, sorted(rejected, key=lambda r: (r.path, r.reason)),
                        sum(r.duration for r in rows) / 60, found, manifest, report_path, _normalizer()[1])
    _write_report(rep, inp, lang)
    return rep


def _check_options(inp: Path, lang: str, voice: str | None, gender: str | None, min_s: float,
                   max_s: float, valid: float, test: float) -> None:
    """One-line errors for everything wrong before any work starts."""
    if not inp.exists():
        raise FlowTTSError(f"input {inp} does not exist")
    if not inp.is_dir():
        raise FlowTTSError(f"input {inp} is not a folder (expected metadata.csv + wavs/ or audio + .txt)")
    if lang not in LANGUAGES:
        raise FlowTTSError(f"unknown --lang {lang!r} (supported: {' '.join(LANGUAGES)})")
    if voice is not None and not re.fullmatch(r"[a-z0-9_-]+", voice):
        raise FlowTTSError(f"--voice {voice!r} must use only a-z 0-9 _ -")
    if gender not in (None, "female", "male"):
        raise FlowTTSError(f"--gender {gender!r} must be female or male")
    if not 0 < min_s < max_s:
        raise FlowTTSError(f"need 0 < --min-seconds ({min_s}) < --max-seconds ({max_s})")
    if valid < 0 or test < 0 or valid + test >= 1:
        raise FlowTTSError(f"need --valid-fraction ({valid}) and --test-fraction ({test}) >= 0, sum < 1")


def discover_sources(inp: Path, out: Path) -> tuple[list[Source], list[Rejected]]:
    """Finds clips (LJSpeech layout if ``metadata.csv`` exists, else audio + ``.txt``), sorted by
    clip id; files that cannot become clips are returned as rejections (no audio read here)."""
    if (inp / "metadata.csv").is_file():
        found, rejected = _ljspeech_sources(inp)
    else:
        found, rejected = _folder_sources(inp, out)
    by_clip: dict[str, Source] = {}
    for s in sorted(found, key=lambda s: (s.clip, s.label)):
        if s.clip in by_clip:
            rejected.append(Rejected(s.label, "duplicate_id", f"clip id {s.clip} already from "
                                     f"{by_clip[s.clip].label}"))
        else:
            by_clip[s.clip] = s
    sources = []
    for s in by_clip.values():
        if s.audio is None:
            rejected.append(Rejected(s.label, "missing_audio", "transcript has no audio file"))
        elif s.text is None:
            rejected.append(Rejected(s.label, "missing_transcript", "no transcript for this audio"))
        else:
            sources.append(s)
    return sources, rejected


def _ljspeech_sources(inp: Path) -> tuple[list[Source], list[Rejected]]:
    """Rows of ``metadata.csv`` (``|``-separated, no quoting) and the wavs they name or miss."""
    try:
        lines = (inp / "metadata.csv").read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise FlowTTSError(f"cannot read {inp / 'metadata.csv'} as UTF-8 text: {e}") from e
    found, rejected, listed = [], [], set()
    for n, line in enumerate(lines, 1):
        fields = line.split("|")
        if not line.strip():
            continue
        if len(fields) < 2 or not fields[0].strip():
            rejected.append(Rejected(f"metadata.csv:{n}", "bad_metadata_line", line[:80]))
            continue
        cid, text = fields[0].strip(), fields[1].strip()
        spoken = fields[2].strip() if len(fields) > 2 and fields[2].strip() else text
        wav = inp / "wavs" / f"{cid}.wav"
        listed.add(wav.name)
        found.append(Source(_clip_id(Path(cid)), f"wavs/{cid}.wav", wav if wav.is_file() else None,
                            text, spoken))
    for wav in sorted((inp / "wavs").glob("*.wav")) if (inp / "wavs").is_dir() else []:
        if wav.name not in listed:
            found.append(Source(_clip_id(Path(wav.stem)), f"wavs/{wav.name}", wav, None))
    return found, rejected


def _folder_sources(inp: Path, out: Path) -> tuple[list[Source], list[Rejected]]:
    """Audio files and same-stem ``.txt`` transcripts anywhere under ``inp`` (hidden files and the
    output folder excluded)."""
    out_abs, audio, texts = out.resolve(), {}, {}
    for p in sorted(inp.rglob("*")):
        rel = p.relative_to(inp)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if p.resolve().is_relative_to(out_abs):
            continue
        suffix = p.suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            audio.setdefault(rel.with_suffix(""), []).append(p)
        elif suffix == ".txt":
            texts[rel.with_suffix("")] = p
    if not audio:
        raise FlowTTSError(f"no audio found in {inp} (expected metadata.csv + wavs/, or audio files "
                           f"({' '.join(AUDIO_SUFFIXES)}) with same-stem .txt transcripts)")
    if not texts:
        raise FlowTTSError(f"found {sum(map(len, audio.values()))} audio files in {inp} but no .txt "
                           "transcripts (each audio file needs a same-stem .txt)")
    found, rejected = [], []
    for stem in sorted(set(audio) | set(texts)):
        tpath = texts.get(stem)
        text, bad = _read_transcript(tpath, inp) if tpath else (None, None)
        if bad:
            rejected.append(bad)
            continue
        for a in audio.get(stem, [None]):
            label = str((a or tpath).relative_to(inp))
            found.append(Source(_clip_id(stem), label, a, text, text))
    return found, rejected


def _read_transcript(path: Path, inp: Path) -> tuple[str | None, Rejected | None]:
    """A transcript's text on one line, or why it cannot be used."""
    try:
        return " ".join(path.read_text(encoding="utf-8-sig").split()), None
    except (OSError, UnicodeDecodeError) as e:
        return None, Rejected(str(path.relative_to(inp)), "bad_transcript", f"not readable as UTF-8: {e}")


def _clip_id(rel: Path) -> str:
    """A file-name-safe clip id from a relative path without suffix (``a/b c`` -> ``a__b_c``)."""
    return "__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in rel.parts)


def _prepare_out(out: Path, voice: str, manifest: Path, report: Path) -> None:
    """Creates the output folders, checks they are writable and removes the previous manifest
    first, so an interrupted run never leaves a manifest that disagrees with the audio."""
    try:
        for d in (out / "audio" / voice, manifest.parent, report.parent):
            d.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=d):
                pass
        for path in (manifest, report):
            path.unlink(missing_ok=True)
            for stray in path.parent.glob(f".{path.name}.*.part"):  # left by a killed write
                stray.unlink(missing_ok=True)
    except OSError as e:
        raise FlowTTSError(f"cannot write to --out {out}: {e.strerror or e}") from e


def _run_tasks(tasks: list[ClipTask], jobs: int, progress: bool) -> list[ClipResult]:
    """Processes clips in ``jobs`` forked processes (in-process for 1); results in task order.
    Fork, like torch's DataLoader and ``data synth``: workers use only numpy, scipy, soundfile."""
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), unit="clip", desc="prepare", disable=not progress)
    try:
        if jobs <= 1 or len(tasks) <= 1:
            return [_tick(bar, process_clip(t)) for t in tasks]
        from multiprocessing import get_context

        with get_context("fork").Pool(min(jobs, len(tasks))) as pool:
            it = pool.imap(process_clip, tasks, chunksize=4)
            return [_tick(bar, r) for r in it]
    finally:
        bar.close()


def _tick(bar, result: ClipResult) -> ClipResult:
    bar.update(1)
    return result


def _rows(results: list[ClipResult], voice: str, group: str, lang: str, gender: str | None,
          license: str, seed: int, valid: float, test: float) -> list[Utterance]:
    """Manifest rows sorted by id; the split comes from a seeded hash of the source clip id."""
    splits = {r.clip: assign_split(r.clip, seed, valid, test) for r in results if r.pieces}
    if splits and "train" not in splits.values():
        splits[min(splits)] = "train"  # at least one clip trains
    rows = [
        Utterance(
            id=p.id, audio=p.audio, text=p.text, normalized_text=p.normalized_text, lang=lang,
            voice=voice, speaker_group=group, split=splits[r.clip], seen_voice=True,
            duration=round(p.duration, 4), sample_rate=SAMPLE_RATE, gender=gender, engine="recording",
            prosody={"split": "approximate"} if p.approximate else {}, source=r.label, license=license,
        )
        for r in results for p in r.pieces
    ]
    return sorted(rows, key=lambda u: u.id)


def assign_split(clip: str, seed: int, valid: float, test: float) -> str:
    """Deterministic split from ``sha256(seed:clip)``: test, then valid, else train."""
    u = int(hashlib.sha256(f"{seed}:{clip}".encode()).hexdigest()[:15], 16) / 16**15
    return "test" if u < test else "valid" if u < test + valid else "train"


def _remove_orphans(audio_dir: Path, keep: set[str]) -> None:
    """Deletes FLAC files of earlier runs that this run did not keep, and stray temporary files."""
    for p in audio_dir.iterdir():
        if (p.suffix == ".flac" and p.name not in keep) or p.name.endswith(".part"):
            p.unlink(missing_ok=True)


def _write_report(rep: PrepareReport, inp: Path, lang: str) -> None:
    """``reports/prepare-<voice>.json``: counts, minutes usable and every rejected file."""
    data = {
        "input": str(inp), "voice": rep.voice, "lang": lang, "normalizer": rep.normalizer,
        "clips_found": rep.clips_found, "rows": len(rep.kept),
        "clips_kept": len({u.source for u in rep.kept}),
        "minutes_usable": round(rep.minutes_usable, 3),
        "splits": dict(Counter(u.split for u in rep.kept)),
        "approximate_splits": sum(1 for u in rep.kept if u.prosody.get("split") == "approximate"),
        "rejected_by_reason": rep.by_reason(), "reasons": REASONS,
        "rejected": [asdict(r) for r in rep.rejected],
        "manifest": str(rep.manifest_path),
    }
    write_text_atomic(rep.report_path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def spoken_chars(text: str) -> int:
    """Letters, combining marks and digits: what takes time to say (for seconds per character)."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LMN")


def split_sentences(text: str) -> list[str]:
    """Splits at sentence-final punctuation followed by whitespace (., !, ?, …, 。, ؟, ।)."""
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


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


# ---- worker side: one source file -> FLAC pieces or a rejection -------------------------------------


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
        return (self.start + self.end) / 2


@dataclass(frozen=True)
class Cut:
    """Cut a long clip at ``time`` seconds, after sentence index ``sentence``."""

    sentence: int
    time: float


def process_clip(task: ClipTask) -> ClipResult:
    """Worker entry: never raises for a bad file; an unexpected error becomes an ``error`` rejection
    so one odd file cannot end a long run."""
    normalize, _ = _normalizer()
    res = ClipResult(task.source.clip, task.source.label)
    try:
        res.pieces = _process(task, normalize)
    except _Reject as r:
        res.rejected = Rejected(task.source.label, r.reason, r.detail)
    except OSError as e:  # reading errors are rejections already: this is the output failing
        raise FlowTTSError(f"cannot write under {task.out_dir}: {e}") from e
    except Exception as e:  # noqa: BLE001 - reported per file, with the error's text
        res.rejected = Rejected(task.source.label, "error", f"{type(e).__name__}: {e}")
    return res


def _process(task: ClipTask, normalize) -> list[Piece]:
    """Checks, cleans and writes one clip (split when long); raises ``_Reject``."""
    src = task.source
    normalized = _normalize(normalize, src.spoken or src.text or "", task.lang)
    x = trim_silence(_load(src.audio), SAMPLE_RATE)
    dur = len(x) / SAMPLE_RATE
    if dur < task.min_seconds:
        raise _Reject("too_short", f"{dur:.2f} s after trimming < --min-seconds {task.min_seconds:g}")
    spread = modulation_db(x, SAMPLE_RATE)
    if spread < MIN_MODULATION_DB:
        raise _Reject("no_speech_modulation", f"20 ms levels spread only {spread:.1f} dB: noise, hum or tone")
    rate = dur / spoken_chars(normalized)
    if not SEC_PER_CHAR[0] <= rate <= SEC_PER_CHAR[1]:
        raise _Reject("text_mismatch", f"{dur:.1f} s for {spoken_chars(normalized)} characters = {rate:.3f} "
                      f"s/char (plausible {SEC_PER_CHAR[0]}-{SEC_PER_CHAR[1]})")
    base = f"{task.voice}_{src.clip}"
    if dur <= task.max_seconds:
        return [_write(task, base, x, src.text or "", normalized, False)]
    return _split_long(task, base, x, src.spoken or src.text or "", normalize)


def _normalize(normalize, text: str, lang: str) -> str:
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


def _split_long(task: ClipTask, base: str, x: np.ndarray, spoken: str, normalize) -> list[Piece]:
    """Splits a long clip at pauses matched to sentence boundaries (approximate, see module doc).
    Piece texts come from ``spoken`` (LJSpeech's normalized column when present)."""
    total = len(x) / SAMPLE_RATE
    why = f"{total:.1f} s > --max-seconds {task.max_seconds:g}"
    hint = "; segment it into clips of at most --max-seconds, each with its own transcript"
    sents = split_sentences(spoken)
    if len(sents) < 2:
        raise _Reject("too_long", f"{why} and its transcript has no sentence boundary to split at{hint}")
    norms = [_normalize(normalize, s, task.lang) for s in sents]
    cuts = plan_cuts([spoken_chars(n) for n in norms], find_pauses(x, SAMPLE_RATE), total,
                     task.min_seconds, task.max_seconds)
    if cuts is None:
        raise _Reject("too_long", f"{why}; no pause >= {MIN_PAUSE_S:g} s matches a sentence boundary{hint}")
    bounds = [Cut(-1, 0.0), *cuts, Cut(len(sents) - 1, total)]
    pieces = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        seg = trim_silence(x[int(a.time * SAMPLE_RATE):int(b.time * SAMPLE_RATE)], SAMPLE_RATE)
        norm = " ".join(norms[a.sentence + 1:b.sentence + 1])
        dur = len(seg) / SAMPLE_RATE
        rate = dur / max(1, spoken_chars(norm))
        if dur < task.min_seconds or not SEC_PER_CHAR[0] <= rate <= SEC_PER_CHAR[1]:
            raise _Reject("too_long", f"{why}; piece {i + 1} ({dur:.1f} s) does not fit its text{hint}")
        pieces.append((f"{base}_{i + 1:03d}", seg, " ".join(sents[a.sentence + 1:b.sentence + 1]), norm))
    return [_write(task, uid, seg, text, norm, True) for uid, seg, text, norm in pieces]


def find_pauses(x: np.ndarray, sample_rate: int, min_len: float = MIN_PAUSE_S) -> list[Pause]:
    """Runs of 20 ms frames quieter than max(noise floor + 10 dB, peak - 45 dB), at least ``min_len``."""
    db = frame_db(x, sample_rate)
    quiet = db < max(float(np.percentile(db, 5)) + 10, float(db.max()) - 45)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    runs = zip(edges[0::2], edges[1::2], strict=True)
    return [Pause(s * 0.02, e * 0.02) for s, e in runs if (e - s) * 0.02 >= min_len]


def plan_cuts(chars: list[int], pauses: list[Pause], total: float, min_s: float,
              max_s: float) -> list[Cut] | None:
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
            matched.append(max(near, key=lambda j: (round(pauses[j].end - pauses[j].start, 2),
                                                    -abs(pauses[j].centre - pred)), default=None))
            if pred - tol > start_t + max_s:
                break
        best = None
        for i, j in enumerate(matched):
            ordered = j is not None and all(m is None or m < j for m in matched[:i]) and all(
                m is None or m > j for m in matched[i + 1:])
            t = pauses[j].centre if j is not None else -1.0
            if ordered and start_t + min_s <= t <= start_t + max_s and total - t >= min_s:
                best = Cut(first + i, t)
        if best is None:
            return None
        cuts.append(best)
        start_t, start_c, first = best.time, int(cum[best.sentence]), best.sentence + 1
    return cuts


def _whitespace(text: str, lang: str) -> str:
    """Fallback normalizer while ``flowtts.text`` is missing: whitespace only."""
    return " ".join(text.split())


def _normalizer():
    """``flowtts.text.normalize`` and its name, or the whitespace fallback and why."""
    try:
        from flowtts.text import normalize
    except ImportError as e:
        return _whitespace, f"whitespace only (flowtts.text.normalize unavailable: {e})"
    normalize = getattr(normalize, "normalize", normalize)  # the submodule, if the package lacks it
    if not callable(normalize):
        return _whitespace, "whitespace only (flowtts.text.normalize is not a function)"
    return normalize, "flowtts.text.normalize"
