"""Building a release (``flowtts release``): a shippable model folder assembled from training outputs.

    <out>/config.json             the TTS run's model config, "codec_id" of the shipped codec, "name", …
    <out>/model.safetensors       TTS backbone + flow head, float16
    <out>/codec.safetensors       the codec, float16 but the VQ (or all frame tensors: ``exact_frames``),
                                  without the CTC phoneme head (training and PER only)
    <out>/tokenizer.model         the TTS run's tokenizer
    <out>/voices/<lang>-<k>.safetensors   preset voices: one 5–12 s train clip of a seen corpus voice each
    <out>/MODEL_CARD.md           the folder's hand-written card, its generated section replaced

The build refuses a codec whose ``frames_id`` is not the one the TTS model was trained on, writes
everything into a hidden sibling folder, checks the total size, and only then swaps it in place of
``<out>``: a failed or oversized build leaves the previous folder as it was. Given the same inputs (and
the same day, or ``SOURCE_DATE_EPOCH``) the build writes the same tensors, metadata and text.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from flowtts.atomic import write_text_atomic
from flowtts.constants import LANGUAGES
from flowtts.data.manifest import Utterance
from flowtts.errors import FlowTTSError

CARD = "MODEL_CARD.md"
BEGIN, END = "<!-- release:begin -->", "<!-- release:end -->"
MIN_CLIP_S, MAX_CLIP_S = 5.0, 12.0  # preset clip duration (manifest seconds)
TARGET_CLIP_S = 8.0  # the clip closest to this is tried first
MB = 1_000_000  # --max-mb counts decimal megabytes


@dataclass(frozen=True)
class ReleaseInputs:
    tts: Path  # a TTS model folder (runs/<run>/model)
    codec: Path  # codec.safetensors (or a folder holding one)
    corpus: Path  # the corpus the TTS model was trained on (manifests/, audio/)
    out: Path  # the model folder to (re)place
    voices_per_lang: int = 2
    max_mb: float = 60.0
    name: str | None = None  # config.json "name" (default: the TTS folder's, else flowtts-<out name>)
    voice_engines: tuple[str, ...] | None = None  # presets only from these engines (None: any)
    exact_frames: bool = False  # codec frame tensors float32: bit-identical frames, same frames_id
    device: str = "cpu"  # where the codec encodes the preset clips


@dataclass(frozen=True)
class VoiceCandidate:
    """A seen corpus voice that could become a preset, with its clips in the order they are tried."""

    voice: str
    lang: str
    engine: str
    gender: str | None
    license: str
    train_clips: int  # all its train utterances (more: better learned by the TTS model)
    clips: tuple[Utterance, ...]  # 5–12 s train clips, closest to 8 s first


@dataclass(frozen=True)
class PresetVoice:
    """One preset as shipped (and as listed in the model card)."""

    name: str
    lang: str
    voice: str
    engine: str
    gender: str | None
    license: str
    utterance: str  # corpus utterance id of the clip
    seconds: float  # of frames, after silence trimming


@dataclass(frozen=True)
class ReleaseFile:
    path: str  # relative to the model folder, "/"-separated
    bytes: int


@dataclass(frozen=True)
class ParamCounts:
    tts_total: int
    tts_backbone: int
    tts_flow_head: int  # velocity net without the semantic embedding it shares with the backbone's input
    codec_encoder: int
    codec_decoder: int
    codec_codebook: int  # K × d codeword values (the VQ's float32 statistics)
    phoneme_head_removed: int  # parameters of the CTC head left out (0: the codec had none)


@dataclass(frozen=True)
class ReleaseResult:
    out: Path
    name: str
    files: tuple[ReleaseFile, ...]
    voices: tuple[PresetVoice, ...]
    frames_id: str  # the shipped codec's
    trained_frames_id: str  # the TTS model's corpus frames (equal to frames_id with exact_frames)
    tts_step: str | None
    codec_step: str | None
    params: ParamCounts
    exact_frames: bool  # encoder and FSQ float32 too
    date: str
    notes: tuple[str, ...]  # clips or voices that were skipped, files of the old folder not carried over

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def total_mb(self) -> float:
        return self.total_bytes / MB

    @property
    def voice_files(self) -> tuple[ReleaseFile, ...]:
        return tuple(f for f in self.files if f.path.startswith("voices/"))


# --- preset voices ----------------------------------------------------------------------------------------


def lang_order(langs: Iterable[str]) -> list[str]:
    """flowtts's language order (en fr de …), then any others alphabetically."""
    langs = set(langs)
    return [lang for lang in LANGUAGES if lang in langs] + sorted(langs - set(LANGUAGES))


def voice_candidates(
    rows: Iterable[Utterance], engines: tuple[str, ...] | None = None
) -> dict[str, list[VoiceCandidate]]:
    """Per language, the seen voices that have 5–12 s train clips, in the order presets are picked.

    Order: greedily the voice whose engine, then gender, is least represented among those before it, ties
    broken by more train utterances, then voice id. So two presets of a language come from two engines
    (or two genders) when the corpus has them, and the choice depends on the manifest alone.
    """
    counts: Counter[str] = Counter()
    clips: dict[str, list[Utterance]] = defaultdict(list)
    first: dict[str, Utterance] = {}
    for row in rows:
        if row.split != "train" or not row.seen_voice:
            continue
        counts[row.voice] += 1
        first.setdefault(row.voice, row)
        if MIN_CLIP_S <= row.duration <= MAX_CLIP_S and row.normalized_text.strip():
            clips[row.voice].append(row)
    by_lang: dict[str, list[VoiceCandidate]] = defaultdict(list)
    for voice, rows_ in clips.items():
        r = first[voice]
        if engines is not None and r.engine not in engines:
            continue
        ordered = tuple(sorted(rows_, key=lambda u: (abs(u.duration - TARGET_CLIP_S), u.id)))
        by_lang[r.lang].append(
            VoiceCandidate(voice, r.lang, r.engine, r.gender, r.license, counts[voice], ordered)
        )
    return {lang: _varied(by_lang[lang]) for lang in lang_order(by_lang)}


def _varied(cands: list[VoiceCandidate]) -> list[VoiceCandidate]:
    remaining = list(cands)
    engines: Counter[str] = Counter()
    genders: Counter[str] = Counter()
    ordered = []
    while remaining:
        best = min(
            remaining,
            key=lambda c: (engines[c.engine], genders[c.gender or "?"], -c.train_clips, c.voice),
        )
        remaining.remove(best)
        engines[best.engine] += 1
        genders[best.gender or "?"] += 1
        ordered.append(best)
    return ordered


def build_presets(
    codec,
    corpus: Path,
    candidates: dict[str, list[VoiceCandidate]],
    per_lang: int,
    voices_dir: Path,
    metadata: dict[str, str],
) -> tuple[list[PresetVoice], list[str]]:
    """Encodes one clip per picked voice into ``voices_dir/<lang>-<k>.safetensors``.

    A clip the codec refuses (unreadable, mostly silence, too short after trimming) is skipped for the
    voice's next clip, a voice without a usable clip for the next voice. Returns the presets and notes.
    """
    from flowtts.audio import read_audio
    from flowtts.voices import voice_from_audio

    presets, notes = [], []
    voices_dir.mkdir(parents=True, exist_ok=True)
    for lang, cands in candidates.items():
        picked = 0
        for cand in cands:
            if picked == per_lang:
                break
            name = f"{lang}-{picked + 1}"
            for row in cand.clips:
                meta = {
                    **metadata,
                    "source": f"{cand.voice} ({cand.engine})" if cand.engine else cand.voice,
                    "corpus_utterance": row.id,
                    "corpus_voice": cand.voice,
                    "speaker_group": row.speaker_group,
                    "engine": cand.engine,
                    "gender": cand.gender or "unknown",
                    "license": cand.license or "unknown",
                }
                try:
                    audio = read_audio(corpus / row.audio)
                    voice = voice_from_audio(
                        codec, audio.samples, audio.sample_rate, name, row.normalized_text, lang, meta
                    )
                except FlowTTSError as e:
                    notes.append(f"skipped clip {row.id} of voice {cand.voice}: {e}")
                    continue
                voice.save(voices_dir / f"{name}.safetensors")
                presets.append(
                    PresetVoice(
                        name,
                        lang,
                        cand.voice,
                        cand.engine,
                        cand.gender,
                        cand.license,
                        row.id,
                        round(voice.duration_s, 2),
                    )
                )
                picked += 1
                break
            else:
                notes.append(f"voice {cand.voice} ({lang}): no usable {MIN_CLIP_S:g}–{MAX_CLIP_S:g} s clip")
        if picked < per_lang:
            notes.append(f"{lang}: {picked} preset voice(s), fewer than {per_lang}: not enough seen voices")
    return presets, notes


# --- model card -------------------------------------------------------------------------------------------


def replace_section(card: str, section: str) -> str:
    """``card`` with the text between ``BEGIN`` and ``END`` (markers included) replaced by ``section``
    (which carries the markers); appended at the end when the card has none. Idempotent."""
    start = card.find(BEGIN)
    if start < 0:
        if END in card:
            raise FlowTTSError(f"{CARD}: has {END!r} but no {BEGIN!r}; fix the markers by hand")
        return card.rstrip("\n") + "\n\n" + section
    stop = card.find(END, start)
    if stop < 0:
        raise FlowTTSError(f"{CARD}: has {BEGIN!r} but no {END!r} after it; fix the markers by hand")
    tail = card[stop + len(END) :].lstrip("\n")
    return card[:start] + section + ("\n" + tail if tail else "")


def _m(n: int) -> str:
    return f"{n:,}"


def card_section(r: ReleaseResult, tts_src: str, codec_src: str) -> str:
    """The generated section: provenance, parameter counts, files, frames id, preset voices, date.
    No metrics: those come from the eval commands."""
    p = r.params
    step = f"{r.tts_step} training steps" if r.tts_step else "training steps unknown"
    cstep = f"{r.codec_step} training steps" if r.codec_step else "training steps unknown"
    head = (
        f"; the CTC phoneme head ({_m(p.phoneme_head_removed)} parameters, training and PER only) is left out"
        if p.phoneme_head_removed
        else ""
    )
    if r.frames_id == r.trained_frames_id:
        frames = f"`{r.frames_id}`: the frames the TTS model was trained on"
    else:
        frames = (
            f"`{r.frames_id}`. The TTS model was trained on frames `{r.trained_frames_id}` of the same "
            "codec; this file holds the encoder in float16, which can change a few frames, so they have an "
            "id of their own (`flowtts release --exact-frames` ships bit-identical frames)"
        )
    dtypes = (
        "decoder float16; encoder, VQ and FSQ float32"
        if r.exact_frames
        else "float16 but the VQ codebook (float32)"
    )
    lines = [
        BEGIN,
        "## Release",
        "",
        f"_Generated by `flowtts release` on {r.date}; edits between the release markers are replaced._",
        "",
        "| | |",
        "| --- | --- |",
        f"| name | `{r.name}` |",
        f"| TTS model | `{tts_src}`, {step}: {_m(p.tts_total)} parameters (backbone "
        f"{_m(p.tts_backbone)}, flow head {_m(p.tts_flow_head)}, embeddings and output "
        f"{_m(p.tts_total - p.tts_backbone - p.tts_flow_head)}), float16 |",
        f"| codec | `{codec_src}`, {cstep}: encoder {_m(p.codec_encoder)}, decoder "
        f"{_m(p.codec_decoder)} parameters, VQ codebook {_m(p.codec_codebook)} values; {dtypes}{head} |",
        f"| frames_id | {frames} |",
        "",
        "| file | bytes | MB |",
        "| --- | ---: | ---: |",
    ]
    voice_files = r.voice_files
    voice_bytes = sum(f.bytes for f in voice_files)
    for f in r.files:
        if f not in voice_files and f.path != CARD:
            lines.append(f"| `{f.path}` | {f.bytes:,} | {f.bytes / MB:.2f} |")
    n = len(r.voices)
    lines.append(f"| `voices/` ({n} files) | {voice_bytes:,} | {voice_bytes / MB:.2f} |")
    listed = sum(f.bytes for f in r.files if f.path != CARD)
    lines += [f"| total (without this card) | {listed:,} | {listed / MB:.2f} |", ""]
    if r.voices:
        lines += [
            "Preset voices: one train clip each of a voice the TTS model saw in training; each carries the "
            "licence of its engine's voice data.",
            "",
            "| name | lang | source voice | engine | gender | licence | clip | seconds |",
            "| --- | --- | --- | --- | --- | --- | --- | ---: |",
        ]
        for v in r.voices:
            lines.append(
                f"| `{v.name}` | {v.lang} | {v.voice} | {v.engine or '-'} | {v.gender or '-'} | "
                f"{v.license or '-'} | {v.utterance} | {v.seconds:.1f} |"
            )
    else:
        lines.append("No preset voices.")
    lines += ["", END, ""]
    return "\n".join(lines)


# --- the build --------------------------------------------------------------------------------------------


def release_date() -> str:
    """UTC date of the build: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        t = int(epoch) if epoch else time.time()
    except ValueError:
        raise FlowTTSError(f"SOURCE_DATE_EPOCH must be an integer, got {epoch!r}") from None
    return time.strftime("%Y-%m-%d", time.gmtime(t))


@dataclass(frozen=True)
class _Checked:
    tts_config: dict
    codec_file: Path
    trained_frames_id: str
    rows: list[Utterance]


def check_inputs(inputs: ReleaseInputs) -> _Checked:
    """Everything that can be refused before any work, each as one ``FlowTTSError`` line."""
    from codec.release import codec_file, frames_id
    from flowtts.data.manifest import iter_corpus
    from flowtts.release import ModelFiles, read_config

    if inputs.voices_per_lang < 0:
        raise FlowTTSError(f"--voices-per-lang must be >= 0, got {inputs.voices_per_lang}")
    if not inputs.max_mb > 0:
        raise FlowTTSError(f"--max-mb must be > 0, got {inputs.max_mb}")
    tts = ModelFiles(inputs.tts)
    for what, path in (
        ("TTS model folder", tts.config),
        ("weights", tts.weights),
        ("tokenizer", tts.tokenizer),
    ):
        if not path.is_file():
            raise FlowTTSError(f"{inputs.tts}: not a TTS model folder (no {path.name}: {what})")
    config = read_config(inputs.tts)
    codec_path = codec_file(inputs.codec)
    if not codec_path.is_file():
        raise FlowTTSError(f"no codec at {codec_path}")
    trained = str(config.get("codec_id") or "")
    if not trained:
        raise FlowTTSError(f"{tts.config}: no codec_id (cannot check the codec against the TTS model)")
    got = frames_id(codec_path)
    if got != trained:
        raise FlowTTSError(
            f"{codec_path}: frames_id {got} is not the frames_id {trained} the TTS model "
            f"{inputs.tts} was trained on"
        )
    if not (inputs.corpus / "manifests").is_dir():
        raise FlowTTSError(f"{inputs.corpus}: not a corpus folder (no manifests/)")
    rows = list(iter_corpus(inputs.corpus))
    if not rows:
        raise FlowTTSError(f"{inputs.corpus}: no utterances in manifests/*.jsonl")
    out = inputs.out.resolve()
    for src in (inputs.tts.resolve(), codec_path.resolve(), inputs.corpus.resolve()):
        if out == src or out in src.parents:
            raise FlowTTSError(f"--out {inputs.out} holds an input ({src}); write the release elsewhere")
    if inputs.out.exists() and not inputs.out.is_dir():
        raise FlowTTSError(f"--out {inputs.out} is a file, not a folder")
    return _Checked(config, codec_path, trained, rows)


def _params(model, source_codec, codec) -> ParamCounts:
    def count(params) -> int:  # Module.parameters() yields a parameter shared inside the module once
        return sum(p.numel() for p in params)

    shared = {id(p) for p in model.semantic_embedding.parameters()}
    head = source_codec.phoneme_head
    return ParamCounts(
        tts_total=count(model.parameters()),
        tts_backbone=count(model.backbone.parameters()),
        tts_flow_head=count(p for p in model.velocity_net.parameters() if id(p) not in shared),
        codec_encoder=count(codec.encoder.parameters()),
        codec_decoder=count(codec.decoder.parameters()),
        codec_codebook=codec.config.vq.codebook_size * codec.config.vq.dim,
        phoneme_head_removed=count(head.parameters()) if head is not None else 0,
    )


def _files(root: Path) -> tuple[ReleaseFile, ...]:
    return tuple(
        ReleaseFile(p.relative_to(root).as_posix(), p.stat().st_size)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    )


def _tts_step(tts: Path, config: dict) -> str | None:
    """Training steps of the TTS weights: config.json "step" (the trainer writes it), else the run's
    last validation in ``<run>/log.jsonl`` (the trainer writes the model folder at each validation)."""
    if config.get("step") is not None:
        return str(config["step"])
    log = tts.parent / "log.jsonl"
    step = None
    try:
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("kind") == "valid" and "step" in entry:
                step = str(entry["step"])
    except OSError:
        return None
    return step


def _build_into(tmp: Path, inputs: ReleaseInputs, checked: _Checked, date: str, say) -> ReleaseResult:
    """Writes every file of the release but the card into ``tmp``."""
    import torch

    from codec.release import codec_metadata, frames_id, load_codec, save_codec
    from flowtts.release import ModelFiles, load_tts_model, write_model_dir

    files = ModelFiles(tmp)
    say(f"codec: {checked.codec_file} -> float16, without the phoneme head")
    source_codec = load_codec(checked.codec_file)
    codec_step = codec_metadata(checked.codec_file).get("step") or None
    extra = {"trained_frames_id": checked.trained_frames_id, "released": date}
    if codec_step:
        extra["step"] = codec_step
    save_codec(
        source_codec,
        files.codec,
        extra=extra,
        dtype=torch.float16,
        phoneme_head=False,
        exact_frames=inputs.exact_frames,
    )
    shipped_id = frames_id(files.codec)
    codec = load_codec(files.codec, device=inputs.device)  # the presets are what this codec makes

    say(f"TTS model: {inputs.tts} -> float16")
    model = load_tts_model(inputs.tts)
    tts_step = _tts_step(inputs.tts, checked.tts_config)
    name = str(inputs.name or checked.tts_config.get("name") or f"flowtts-{inputs.out.name}")
    extra = {"name": name, "trained_codec_id": checked.trained_frames_id, "released": date}
    if tts_step is not None:
        extra["step"] = tts_step
    source = ModelFiles(inputs.tts)
    write_model_dir(
        tmp, model, files.codec, source.tokenizer, extra=extra, phonemes_path=source.phonemes_if_any()
    )

    candidates = voice_candidates(checked.rows, inputs.voice_engines)
    if inputs.voices_per_lang and not candidates:
        engines = f" of engines {', '.join(inputs.voice_engines)}" if inputs.voice_engines else ""
        raise FlowTTSError(
            f"{inputs.corpus}: no train clips of {MIN_CLIP_S:g}–{MAX_CLIP_S:g} s from seen voices{engines}"
        )
    say(f"preset voices: up to {inputs.voices_per_lang} per language ({len(candidates)} languages)")
    presets, notes = build_presets(
        codec,
        inputs.corpus,
        candidates,
        inputs.voices_per_lang,
        files.voices,
        {"created": date, "codec": shipped_id},
    )
    if inputs.voices_per_lang:
        corpus_langs = {r.lang for r in checked.rows if r.split == "train"}
        of = " of --voice-engines" if inputs.voice_engines else ""
        for lang in lang_order(corpus_langs - set(candidates)):
            notes.append(
                f"{lang}: no preset voice (no {MIN_CLIP_S:g}–{MAX_CLIP_S:g} s train clip of a seen voice{of})"
            )
    return ReleaseResult(
        out=inputs.out,
        name=name,
        files=_files(tmp),
        voices=tuple(presets),
        frames_id=shipped_id,
        trained_frames_id=checked.trained_frames_id,
        tts_step=tts_step,
        codec_step=codec_step,
        params=_params(model, source_codec, codec),
        exact_frames=inputs.exact_frames,
        date=date,
        notes=tuple(notes),
    )


def build_release(inputs: ReleaseInputs, log: Callable[[str], None] | None = None) -> ReleaseResult:
    """Builds the release into a hidden sibling of ``inputs.out`` and swaps it in (see the module doc).

    Raises ``FlowTTSError``, leaving ``inputs.out`` as it was, on bad input, a codec ``frames_id`` that is
    not the TTS model's, or a total over ``inputs.max_mb``. ``log``: progress lines.
    """
    checked = check_inputs(inputs)
    date = release_date()
    out = inputs.out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".release", dir=out.parent))
    except OSError as e:
        raise FlowTTSError(f"cannot write next to {out}: {e.strerror or e}") from e
    try:
        result = _build_into(tmp, inputs, checked, date, log or (lambda _line: None))
        old_card = out / CARD
        card = (
            old_card.read_text(encoding="utf-8") if old_card.is_file() else f"# {result.name} — model card\n"
        )
        section = card_section(result, str(inputs.tts), str(inputs.codec))
        write_text_atomic(tmp / CARD, replace_section(card, section))
        result = replace(result, files=_files(tmp))
        if result.total_bytes > inputs.max_mb * MB:
            biggest = ", ".join(
                f"{f.path} {f.bytes / MB:.1f} MB" for f in sorted(result.files, key=lambda f: -f.bytes)[:3]
            )
            raise FlowTTSError(
                f"the release would be {result.total_mb:.1f} MB, over --max-mb {inputs.max_mb:g} "
                f"(largest: {biggest}); {out} left as it was"
            )
        kept = {f.path for f in result.files}
        dropped = sorted(f.path for f in _files(out) if f.path not in kept) if out.is_dir() else []
        if dropped:
            note = f"not part of the new release, removed from {out}: {', '.join(dropped)}"
            result = replace(result, notes=(*result.notes, note))
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; the folder ships inside the package
        _swap_in(tmp, out)
    except OSError as e:
        raise FlowTTSError(f"release to {out} failed: {e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # already gone after the swap
    return result


def _swap_in(new: Path, out: Path) -> None:
    """Replaces the folder ``out`` by ``new`` (same parent) with two renames, then deletes the old one."""
    if not out.exists():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    try:
        os.rename(out, old)  # onto an empty folder: allowed on POSIX
    except OSError:
        old.rmdir()
        raise
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
