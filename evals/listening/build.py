"""Config -> a self-contained test folder: every stimulus resampled, loudness-matched and written as
16-bit WAV under an opaque name, plus ``test.json`` (see manifest.py).

    result = build_test(load_config("mushra.toml", "mushra"), "listening/v1", force=False)

Every input file is found and probed, and every model and voice is loaded, before any audio is made, so
a typo fails in seconds, not after an hour of synthesis. The folder is then written beside its final
place, one stimulus at a time (memory stays bounded however large the test), and renamed into place
at the end: a failed or killed build leaves the old folder (or nothing) behind. Re-building over an
existing test needs ``force``; its answers database is kept under ``previous/`` (never deleted), since
those answers belong to the old audio. (Stop ``serve`` before rebuilding: answers it takes afterwards
would go to the replaced database.)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from evals.listening import audio as A
from evals.listening.config import Condition, FolderSource, ListeningConfig, SynthesisSource
from evals.listening.manifest import (
    AUDIO_DIR,
    DB_NAME,
    MANIFEST_NAME,
    ItemEntry,
    Manifest,
    Stimulus,
    SystemInfo,
    manifest_path,
)
from evals.listening.records import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR
from flowtts.audio import resample, write_audio_atomic
from flowtts.errors import FlowTTSError

Log = Callable[[str], None]
OPEN_REFERENCE = "open-reference"  # the condition field of an item's open reference in test.json


@dataclass(frozen=True)
class BuildResult:
    test_dir: Path
    manifest: Manifest
    warnings: tuple[str, ...]
    previous_results: Path | None  # where the old answers went (with force), if there were any


@dataclass(frozen=True)
class _Engine:
    """A synthesized condition, ready: the loaded model and the voice of every language."""

    tts: object
    voices: dict


def build_test(
    config: ListeningConfig,
    out_dir: str | os.PathLike,
    force: bool = False,
    device: str = "cpu",
    log: Log | None = None,
) -> BuildResult:
    """Builds ``config`` into ``out_dir`` (see the module docstring); ``log`` gets progress lines.

    Raises:
        FlowTTSError: ``out_dir`` exists (without ``force``) or is not a test folder, a missing, ambiguous
            or unreadable audio file, a model, voice or language synthesis cannot use.
    """
    from evals.report import report_header

    log = log or (lambda _: None)
    out = Path(out_dir)
    _check_out_dir(out, force)
    files = _input_files(config)  # {(item, condition or None): path}, all probed
    models: dict = {}
    engines = {
        c.name: _prepare_synthesis(c, config, device, models)
        for c in config.conditions
        if isinstance(c.source, SynthesisSource)
    }

    build_id = uuid.uuid4().hex
    staging = out.parent / f".{out.name}.build-{build_id[:8]}"
    (staging / AUDIO_DIR).mkdir(parents=True)
    try:
        writer = _StimulusWriter(staging, config)
        for item_id, condition, samples in _stimuli(config, files, engines, log):
            writer.add(item_id, condition, samples)
        conditions = list(config.condition_names)
        if config.kind == "mushra":
            conditions += [HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR]
        items = tuple(
            ItemEntry(
                id=it.id,
                text=it.text,
                language=it.language,
                reference=writer.written.get((it.id, None)),
                stimuli=tuple(writer.written[(it.id, c)] for c in conditions),
            )
            for it in config.items
        )
        manifest = Manifest(
            kind=config.kind,
            name=config.name,
            build_id=build_id,
            title=config.title,
            instructions=config.instructions,
            question=config.question,
            sample_rate=config.sample_rate,
            loudness_lufs=config.loudness_lufs,
            peak_dbfs=config.peak_dbfs,
            training_items=config.training_items,
            tie=config.tie,
            conditions=tuple(conditions),
            pairs=tuple((p.a, p.b) for p in config.pairs),
            systems=tuple(_system_info(c) for c in config.conditions) + _builder_systems(config),
            items=items,
            config=config.raw,
            build={},
        )
        manifest = replace(manifest, build=report_header(manifest.model_name, config.raw))
        previous = _finish(out, staging, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if previous is not None:
        log(f"the answers to the previous build are kept in {previous}")
    log(f"built {config.kind} test {config.name!r}: {len(items)} items × {len(conditions)} conditions")
    return BuildResult(out, manifest, tuple(writer.warnings), previous)


# --- checks before any work --------------------------------------------------------------------------


def _check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FlowTTSError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not manifest_path(out).is_file():
            raise FlowTTSError(f"{out} is not empty and not a listening-test folder; choose another --out")
        if not force:
            raise FlowTTSError(
                f"{out} already holds a test; give --force to rebuild it (its answers are kept)"
            )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FlowTTSError(f"cannot create {out.parent}: {e.strerror or e}") from None
    if not os.access(out.parent, os.W_OK):
        raise FlowTTSError(f"cannot write to {out.parent}")


def _folder_file(folder: Path, item_id: str) -> Path:
    if not folder.is_dir():
        raise FlowTTSError(f"condition folder {folder} does not exist")
    found = [p for p in folder.iterdir() if p.stem == item_id and p.is_file() and p.suffix]
    if not found:
        raise FlowTTSError(
            f"{folder} has no audio file for item {item_id!r} (expected {item_id}.wav or similar)"
        )
    if len(found) > 1:
        names = ", ".join(sorted(p.name for p in found))
        raise FlowTTSError(f"{folder} has several files for item {item_id!r} ({names}); keep one")
    return found[0]


def _probe(path: Path) -> None:
    """Reads the header: unreadable or too short files fail now, before any synthesis."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, OSError) as e:
        raise FlowTTSError(f"cannot read audio {path}: {e}") from None
    if info.frames < A.MIN_SECONDS * info.samplerate:
        raise FlowTTSError(
            f"audio {path} lasts {info.frames / info.samplerate:.2f} s; a stimulus needs >= {A.MIN_SECONDS} s"
        )


def _input_files(config: ListeningConfig) -> dict[tuple[str, str | None], Path]:
    """Every audio file the build reads, keyed (item, condition); the open reference under None."""
    files: dict[tuple[str, str | None], Path] = {}
    for it in config.items:
        if it.reference is not None:
            if not it.reference.is_file():
                raise FlowTTSError(f"item {it.id!r}: reference {it.reference} does not exist")
            files[(it.id, None)] = it.reference
    for c in config.conditions:
        if isinstance(c.source, FolderSource):
            for it in config.items:
                files[(it.id, c.name)] = _folder_file(c.source.folder, it.id)
    for path in files.values():
        _probe(path)
    return files


def _prepare_synthesis(c: Condition, config: ListeningConfig, device: str, models: dict) -> _Engine:
    """Loads the model (once per folder, kept in ``models``) and resolves the voice of every language, so
    a bad model, voice or language fails before anything is synthesized."""
    import flowtts

    s: SynthesisSource = c.source
    if not s.model.is_dir():
        raise FlowTTSError(f"condition {c.name!r}: model folder {s.model} does not exist")
    key = (str(s.model.resolve()), device)
    if key not in models:
        models[key] = flowtts.load(s.model, device=device)
    tts = models[key]
    clip = None
    if s.voice_clip is not None:
        if not s.voice_clip.is_file():
            raise FlowTTSError(f"condition {c.name!r}: voice clip {s.voice_clip} does not exist")
        clip = tts.clone(s.voice_clip, name=c.name)
    voices = {}
    for lang in sorted({it.language for it in config.items}):
        try:
            tts.tokenizer.lang_id(lang)
            name = s.voice_for(lang)
            voices[lang] = clip or (tts.get_voice(name) if name else None)
        except FlowTTSError as e:
            raise FlowTTSError(f"condition {c.name!r} ({s.model}), language {lang}: {e}") from None
    return _Engine(tts, voices)


# --- making the stimuli --------------------------------------------------------------------------------


def _stimuli(
    config: ListeningConfig, files: dict, engines: dict[str, _Engine], log: Log
) -> Iterator[tuple[str, str | None, np.ndarray]]:
    """(item, condition or None for the open reference, samples ``[N]`` at the test rate), one at a time."""
    rate = config.sample_rate
    for it in config.items:
        if (it.id, None) in files:
            ref = A.load_mono(files[(it.id, None)], rate)
            yield it.id, None, ref
            if config.kind == "mushra":
                yield it.id, HIDDEN_REFERENCE, ref
                yield it.id, LOW_ANCHOR, A.low_anchor(ref, rate)
                yield it.id, MID_ANCHOR, A.mid_anchor(ref, rate)
    for c in config.conditions:
        if isinstance(c.source, FolderSource):
            for it in config.items:
                yield it.id, c.name, A.load_mono(files[(it.id, c.name)], rate)
            continue
        s: SynthesisSource = c.source
        engine = engines[c.name]
        for k, it in enumerate(config.items, 1):
            log(f"synthesizing {c.name}: item {k}/{len(config.items)} ({it.id})")
            audio = engine.tts.synthesize(
                it.text,
                voice=engine.voices[it.language],
                lang=it.language,
                steps=s.steps,
                cfg=s.cfg,
                seed=s.seed,
            )
            if audio.duration < A.MIN_SECONDS:
                raise FlowTTSError(
                    f"{c.name} made {audio.duration:.2f} s of audio for item {it.id!r}; a stimulus needs "
                    f">= {A.MIN_SECONDS} s"
                )
            yield it.id, c.name, resample(audio.samples, audio.sample_rate, rate)


class _StimulusWriter:
    """Loudness-matches each stimulus and writes it under a fresh opaque name; keeps only metadata."""

    def __init__(self, staging: Path, config: ListeningConfig):
        self.staging, self.config = staging, config
        self.written: dict[tuple[str, str | None], Stimulus] = {}
        self.warnings: list[str] = []

    def add(self, item_id: str, condition: str | None, samples: np.ndarray) -> None:
        c, rate = self.config, self.config.sample_rate
        m = A.match_loudness(samples, rate, c.loudness_lufs, c.peak_dbfs)
        what = f"{item_id}/{condition or 'open reference'}"
        if not np.isfinite(m.lufs):
            self.warnings.append(f"{what} is silent; it is kept as it is")
        elif m.limited:
            self.warnings.append(
                f"{what} reaches only {m.lufs:.1f} LUFS (target {c.loudness_lufs:g}): its peak would pass "
                f"{c.peak_dbfs:g} dBFS"
            )
        used = {s.token for s in self.written.values()}
        token = secrets.token_hex(8)
        while token in used:
            token = secrets.token_hex(8)
        stim = Stimulus(
            condition=condition or OPEN_REFERENCE,
            token=token,
            seconds=round(len(samples) / rate, 3),
            lufs=round(m.lufs, 2) if np.isfinite(m.lufs) else None,
            gain_db=round(m.gain_db, 2),
            limited=m.limited,
        )
        write_audio_atomic(self.staging / stim.file, m.samples, rate)
        self.written[(item_id, condition)] = stim


def _system_info(c: Condition) -> SystemInfo:
    if isinstance(c.source, FolderSource):
        return SystemInfo(c.name, "folder", {"folder": str(c.source.folder)})
    from evals.report import config_hash
    from flowtts.release import read_config

    s: SynthesisSource = c.source
    try:
        model_config = read_config(s.model)
    except FlowTTSError:
        model_config = {}
    return SystemInfo(
        c.name,
        "synthesis",
        {
            "model": str(s.model),
            "model_name": str(model_config.get("name") or s.model.name),
            "model_config_hash": config_hash(model_config),
            "voice": s.voice,
            "voice_by_language": dict(s.voice_by_language),
            "voice_clip": str(s.voice_clip) if s.voice_clip else None,
            "steps": s.steps,
            "cfg": s.cfg,
            "seed": s.seed,
        },
    )


def _builder_systems(config: ListeningConfig) -> tuple[SystemInfo, ...]:
    if config.kind != "mushra":
        return ()
    return (
        SystemInfo(HIDDEN_REFERENCE, "builder", {"what": "the open reference, under another name"}),
        SystemInfo(LOW_ANCHOR, "builder", {"what": f"reference low-passed at {A.LOW_ANCHOR_HZ:g} Hz"}),
        SystemInfo(MID_ANCHOR, "builder", {"what": f"reference low-passed at {A.MID_ANCHOR_HZ:g} Hz"}),
    )


# --- into place --------------------------------------------------------------------------------------


def _finish(out: Path, staging: Path, manifest: Manifest) -> Path | None:
    """Writes test.json into ``staging``, keeps the old answers, swaps ``staging`` into ``out``; -> where
    the old answers went (or None)."""
    from evals.report import to_jsonable
    from flowtts.atomic import write_text_atomic

    previous = _keep_previous_results(out, staging)
    text = json.dumps(to_jsonable(manifest.to_dict()), indent=1, ensure_ascii=False, allow_nan=False)
    write_text_atomic(staging / MANIFEST_NAME, text + "\n")
    if out.exists():
        trash = out.parent / f".{out.name}.old-{manifest.build_id[:8]}"
        os.replace(out, trash)
        os.replace(staging, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, out)
    return None if previous is None else out / previous.relative_to(staging)


def _keep_previous_results(out: Path, staging: Path) -> Path | None:
    """Copies ``out``'s answers database (a consistent snapshot, WAL included) into ``staging/previous``,
    together with earlier kept ones; -> the new copy, or None when there were no answers."""
    old_prev = out / "previous"
    if old_prev.is_dir():
        shutil.copytree(old_prev, staging / "previous")
    db = out / DB_NAME
    if not db.is_file():
        return None
    try:
        old_build = json.loads(manifest_path(out).read_text(encoding="utf-8")).get("build_id", "unknown")
    except (OSError, ValueError):
        old_build = "unknown"
    target = staging / "previous" / f"results-{str(old_build)[:12]}.sqlite"
    target.parent.mkdir(exist_ok=True)
    try:
        src, dst = sqlite3.connect(db), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    except sqlite3.DatabaseError as e:
        raise FlowTTSError(f"cannot keep the answers of {db} ({e}); move it away and rebuild") from None
    return target
