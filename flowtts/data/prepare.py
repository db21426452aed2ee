"""``flowtts data prepare``: turn a user's recordings into corpus manifest rows (24 kHz mono FLAC).

Input is auto-detected: an LJSpeech folder (``metadata.csv`` with ``id|text[|normalized_text]`` rows,
audio in ``wavs/<id>.wav``) or any folder tree of audio files, each with a same-stem ``.txt``
transcript. This module finds the clips, runs ``flowtts.data.clips.process_clip`` on each in parallel
(read, check, trim, normalize loudness, split when long, write ``OUT/audio/<voice>/<id>.flac``), then
writes the rows to ``OUT/manifests/prepared-<voice>.jsonl`` and a report of every rejected file to
``OUT/reports/prepare-<voice>.json``.

Decisions (why):
- The pieces of one source file always share a split, so a recording never leaks across splits.
- The previous manifest is deleted before any work and FLAC files this run did not keep are deleted
  after it, so a rerun (or an interrupted one) never leaves rows and audio that disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from flowtts.atomic import ensure_writable_dirs, write_text_atomic
from flowtts.constants import LANGUAGES, SAMPLE_RATE
from flowtts.data.clips import REASONS, ClipResult, ClipTask, Rejected, Source, process_clip
from flowtts.data.manifest import Utterance, write_manifest
from flowtts.errors import FlowTTSError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au")


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

    def by_reason(self) -> dict[str, int]:
        """Rejected counts per reason, most frequent first."""
        return dict(Counter(r.reason for r in self.rejected).most_common())


def sanitize_voice(name: str) -> str:
    """Lower-cases and keeps ``[a-z0-9_-]`` (other runs become ``-``), for file names and ids."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_") or "voice"


def prepare_recordings(
    input_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    lang: str,
    *,
    voice: str | None = None,
    speaker_group: str | None = None,
    gender: str | None = None,
    license: str | None = None,
    min_seconds: float = 1.0,
    max_seconds: float = 15.0,
    valid_fraction: float = 0.05,
    test_fraction: float = 0.05,
    seed: int = 0,
    jobs: int | None = None,
    progress: bool = False,
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
    rows = _rows(
        results,
        voice,
        speaker_group or voice,
        lang,
        gender,
        license or "user-provided",
        seed,
        valid_fraction,
        test_fraction,
    )
    write_manifest(manifest, rows)
    _remove_orphans(out / "audio" / voice, {Path(r.audio).name for r in rows})
    rep = PrepareReport(
        voice,
        rows,
        sorted(rejected, key=lambda r: (r.path, r.reason)),
        sum(r.duration for r in rows) / 60,
        found,
        manifest,
        report_path,
    )
    _write_report(rep, inp, lang)
    return rep


def _check_options(
    inp: Path,
    lang: str,
    voice: str | None,
    gender: str | None,
    min_s: float,
    max_s: float,
    valid: float,
    test: float,
) -> None:
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
            rejected.append(
                Rejected(s.label, "duplicate_id", f"clip id {s.clip} already from {by_clip[s.clip].label}")
            )
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
        found.append(
            Source(_clip_id(Path(cid)), f"wavs/{cid}.wav", wav if wav.is_file() else None, text, spoken)
        )
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
        raise FlowTTSError(
            f"no audio found in {inp} (expected metadata.csv + wavs/, or audio files "
            f"({' '.join(AUDIO_SUFFIXES)}) with same-stem .txt transcripts)"
        )
    if not texts:
        raise FlowTTSError(
            f"found {sum(map(len, audio.values()))} audio files in {inp} but no .txt "
            "transcripts (each audio file needs a same-stem .txt)"
        )
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
    ensure_writable_dirs([out / "audio" / voice, manifest.parent, report.parent], f"--out {out}")
    try:
        for path in (manifest, report):
            path.unlink(missing_ok=True)
            for stray in path.parent.glob(f".{path.name}.*.part"):  # left by a killed write
                stray.unlink(missing_ok=True)
    except OSError as e:
        raise FlowTTSError(f"cannot write to --out {out}: {e.strerror or e}") from e


def _run_tasks(tasks: list[ClipTask], jobs: int, progress: bool) -> list[ClipResult]:
    """Processes clips in ``jobs`` forked processes (in-process for 1); results in task order.
    Fork, like torch's DataLoader and ``data synth``: workers use only numpy, scipy, soundfile and
    the pure-Python text frontend."""
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
    """Advances the progress bar by one clip and passes the result through."""
    bar.update(1)
    return result


def _rows(
    results: list[ClipResult],
    voice: str,
    group: str,
    lang: str,
    gender: str | None,
    license: str,
    seed: int,
    valid: float,
    test: float,
) -> list[Utterance]:
    """Manifest rows sorted by id; the split comes from a seeded hash of the source clip id."""
    splits = {r.clip: assign_split(r.clip, seed, valid, test) for r in results if r.pieces}
    if splits and "train" not in splits.values():
        splits[min(splits)] = "train"  # at least one clip trains
    rows = [
        Utterance(
            id=p.id,
            audio=p.audio,
            text=p.text,
            normalized_text=p.normalized_text,
            lang=lang,
            voice=voice,
            speaker_group=group,
            split=splits[r.clip],
            seen_voice=True,
            duration=round(p.duration, 4),
            sample_rate=SAMPLE_RATE,
            gender=gender,
            engine="recording",
            prosody={"split": "approximate"} if p.approximate else {},
            source=r.label,
            license=license,
        )
        for r in results
        for p in r.pieces
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
        "input": str(inp),
        "voice": rep.voice,
        "lang": lang,
        "clips_found": rep.clips_found,
        "rows": len(rep.kept),
        "clips_kept": len({u.source for u in rep.kept}),
        "minutes_usable": round(rep.minutes_usable, 3),
        "splits": dict(Counter(u.split for u in rep.kept)),
        "approximate_splits": sum(1 for u in rep.kept if u.prosody.get("split") == "approximate"),
        "rejected_by_reason": rep.by_reason(),
        "reasons": REASONS,
        "rejected": [asdict(r) for r in rep.rejected],
        "manifest": str(rep.manifest_path),
    }
    write_text_atomic(rep.report_path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
