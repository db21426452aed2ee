"""The fine-tuning data: a user's folder -> prepared clips, a held-out split, codec frames, a reference clip.

Steps (all under the run's work folder, ``<pack>/work``):

1. ``flowtts.data.prepare.prepare_recordings`` on the folder (LJSpeech ``metadata.csv`` + ``wavs/``, or audio
   files with same-stem ``.txt``): resample to 24 kHz, trim, loudness-normalize, split long files at
   sentence pauses, reject bad clips with a reason (``work/corpus/reports/prepare-<voice>.json``).
2. The summary (minutes usable, every rejected file and why) goes to the callbacks; then, before anything
   is trained, too little usable audio stops the run with one line.
3. The held-out split: whole source files (the pieces of a split file stay together), chosen by a seeded
   hash, ``valid_fraction`` of them and at least ``min_valid_clips``. ``prepare``'s own split is not used:
   its per-clip coin flips can leave a 40-clip set without any validation clip.
4. Codec frames of every clip with the base model's codec (``flowtts.data.frames_store``), once.
5. The reference prompt: the training clip closest to 8 s among those of 3–10 s.

A rerun (resume) with unchanged input files and settings reuses steps 1 and 4; any change redoes them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from flowtts.atomic import write_text_atomic
from flowtts.constants import FRAME_RATE
from flowtts.data.clips import Rejected
from flowtts.data.frames_store import UtteranceFrames, codes_to_values
from flowtts.data.manifest import Utterance
from flowtts.errors import FlowTTSError
from flowtts.finetune.config import FinetuneConfig
from flowtts.voices import Voice

REFERENCE_SECONDS = (3.0, 10.0)  # a reference prompt of 3–10 s …
REFERENCE_TARGET = 8.0  # … as close to 8 s as the clips allow
DATA_STATE = "data.json"


@dataclass(frozen=True)
class DataSummary:
    """What the user's folder gave: shown before training, stored in pack.json and REPORT.md."""

    input: str
    voice: str
    lang: str
    clips_found: int  # candidate clips (files, metadata rows)
    clips_kept: int  # source files that gave at least one clip
    minutes_usable: float
    train_clips: int  # training rows (pieces of split files count one each)
    valid_clips: int
    minutes_train: float
    minutes_valid: float
    rejected: tuple[Rejected, ...]
    report_path: str  # every rejected file and why (JSON)

    def by_reason(self) -> dict[str, int]:
        """Rejected counts per reason, most frequent first."""
        return dict(Counter(r.reason for r in self.rejected).most_common())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected"] = [asdict(r) for r in self.rejected]
        d["rejected_by_reason"] = self.by_reason()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DataSummary:
        d = {k: v for k, v in d.items() if k != "rejected_by_reason"}
        d["rejected"] = tuple(Rejected(**r) for r in d["rejected"])
        return cls(**d)


@dataclass
class FinetuneData:
    corpus: Path  # the prepared corpus folder (manifests/, audio/, frames/)
    summary: DataSummary
    train: list[Utterance]
    valid: list[Utterance]
    frames: dict[str, UtteranceFrames]
    reference: Utterance  # the clip of the reference prompt
    reference_frames: int  # frames of it used (at most 10 s)
    fingerprint: str  # of the input files and the data settings: a resumed run must see the same

    def reference_voice(self, name: str, fsq_levels: int) -> Voice:
        """The reference prompt as a flowtts ``Voice`` (codec frames + transcript)."""
        f = self.frames[self.reference.id]
        n = self.reference_frames
        return Voice(
            name,
            torch.from_numpy(f.semantic[:n]).long(),  # [T]
            codes_to_values(f.acoustic_codes[:n], fsq_levels),  # [T, D]
            transcript=self.reference.text if n == len(f.semantic) else "",
            lang=self.reference.lang,
            metadata={"source": self.reference.source, "clip": self.reference.id},
        )


def input_fingerprint(data_dir: Path, lang: str, voice: str, config: FinetuneConfig) -> str:
    """A hash of every input file's path, size and modification time, and of the data settings."""
    items = []
    for p in sorted(data_dir.rglob("*")):
        rel = p.relative_to(data_dir)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            st = p.stat()
            items.append([str(rel), st.st_size, st.st_mtime_ns])
    settings = [lang, voice, config.min_clip_seconds, config.max_clip_seconds]
    settings += [config.valid_fraction, config.min_valid_clips, config.seed]
    blob = json.dumps([items, settings]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def prepare_data(
    data_dir: str | Path,
    work: Path,
    *,
    lang: str,
    voice: str,
    codec_path: Path,
    config: FinetuneConfig,
    device: str = "cpu",
    progress: bool = False,
    on_summary: Callable[[DataSummary], None] | None = None,
) -> FinetuneData:
    """Steps 1–5 of the module docstring.

    Raises:
        FlowTTSError: a bad folder, too little usable audio or too few clips (before any training).
    """
    from flowtts.data.frames_store import codec_id, encode_corpus, load_frames
    from flowtts.data.manifest import iter_corpus
    from flowtts.data.prepare import prepare_recordings

    data_dir = Path(data_dir)
    corpus = work / "corpus"
    fingerprint = input_fingerprint(data_dir, lang, voice, config)
    state_path = work / DATA_STATE
    saved = json.loads(state_path.read_text()) if state_path.is_file() else {}
    if saved.get("fingerprint") == fingerprint and (corpus / "manifests").is_dir():
        summary = DataSummary.from_dict(saved["summary"])
        rows = list(iter_corpus(corpus))
    else:
        state_path.unlink(missing_ok=True)
        shutil.rmtree(corpus, ignore_errors=True)
        rep = prepare_recordings(
            data_dir,
            corpus,
            lang,
            voice=voice,
            min_seconds=config.min_clip_seconds,
            max_seconds=config.max_clip_seconds,
            valid_fraction=0.0,
            test_fraction=0.0,
            seed=config.seed,
            jobs=max(1, config.threads or torch.get_num_threads()),
            progress=progress,
        )
        rows = rep.kept
        summary = _summary(data_dir, voice, lang, rep, rows, config)
    if on_summary is not None:
        on_summary(summary)
    _check_enough(summary, config)
    train, valid = split_rows(rows, config)
    if not saved.get("fingerprint") == fingerprint:
        write_text_atomic(
            state_path, json.dumps({"fingerprint": fingerprint, "summary": summary.to_dict()}, indent=1)
        )
    encode_corpus(corpus, codec_path, device=device)  # resumable: a finished shard is skipped
    frames = load_frames(corpus / "frames" / codec_id(codec_path))
    missing = [r.id for r in rows if r.id not in frames]
    if missing:
        raise FlowTTSError(f"{corpus}: no codec frames for {len(missing)} clips; remove {work} and run again")
    reference, n = choose_reference(train, frames)
    return FinetuneData(corpus, summary, train, valid, frames, reference, n, fingerprint)


def _summary(data_dir: Path, voice: str, lang: str, rep, rows: list[Utterance], config) -> DataSummary:
    train, valid = split_rows(rows, config, strict=False)
    return DataSummary(
        input=str(data_dir),
        voice=voice,
        lang=lang,
        clips_found=rep.clips_found,
        clips_kept=len({r.source for r in rows}),
        minutes_usable=round(rep.minutes_usable, 3),
        train_clips=len(train),
        valid_clips=len(valid),
        minutes_train=round(sum(r.duration for r in train) / 60, 3),
        minutes_valid=round(sum(r.duration for r in valid) / 60, 3),
        rejected=tuple(rep.rejected),
        report_path=str(rep.report_path),
    )


def _check_enough(summary: DataSummary, config: FinetuneConfig) -> None:
    """Stops the run (before training) when the usable audio or the clips are too few."""
    rejected = ""
    if summary.rejected:
        reasons = ", ".join(f"{k} {n}" for k, n in summary.by_reason().items())
        rejected = f"; {len(summary.rejected)} files rejected ({reasons}), see {summary.report_path}"
    if summary.minutes_usable < config.min_minutes:
        raise FlowTTSError(
            f"only {summary.minutes_usable * 60:.0f} s of usable audio in {summary.clips_kept} clips; "
            f"fine-tuning needs at least {config.min_minutes:g} minutes (record 5 minutes or more)"
            f"{rejected}. Nothing was trained"
        )
    need = config.min_valid_clips + 1
    if summary.clips_kept < need:
        raise FlowTTSError(
            f"only {summary.clips_kept} usable clips; fine-tuning needs at least {need} (one to train on, "
            f"{config.min_valid_clips} held out){rejected}. Nothing was trained"
        )


def split_rows(
    rows: list[Utterance], config: FinetuneConfig, strict: bool = True
) -> tuple[list[Utterance], list[Utterance]]:
    """(train, valid): whole source files held out by a seeded hash; rows get their split set."""
    sources = sorted({r.source for r in rows})
    order = sorted(sources, key=lambda s: hashlib.sha256(f"{config.seed}:{s}".encode()).hexdigest())
    n_valid = max(config.min_valid_clips, round(config.valid_fraction * len(sources)))
    if n_valid >= len(sources):
        if strict:
            raise FlowTTSError(f"only {len(sources)} usable clips: nothing left to train on")
        n_valid = max(0, len(sources) - 1)
    held = set(order[:n_valid])
    train = [replace(r, split="train") for r in rows if r.source not in held]
    valid = [replace(r, split="valid") for r in rows if r.source in held]
    return train, valid


def choose_reference(rows: list[Utterance], frames: dict[str, UtteranceFrames]) -> tuple[Utterance, int]:
    """The clip of the reference prompt and how many of its frames to use (at most 10 s): among clips of
    3–10 s the one closest to 8 s (whole files before pieces of split files), else the longest."""
    lo, hi = REFERENCE_SECONDS

    def key(r: Utterance) -> tuple:
        return (r.prosody.get("split") == "approximate", abs(r.duration - REFERENCE_TARGET), r.id)

    fitting = [r for r in rows if lo <= r.duration <= hi]
    best = min(fitting, key=key) if fitting else max(rows, key=lambda r: (r.duration, r.id))
    n = min(len(frames[best.id].semantic), int(hi * FRAME_RATE))
    return best, n
