"""Voice adaptation against zero-shot cloning (issue 7): fine-tune on minutes of a held-out voice, then judge.

    plan = plan_finetune_eval("corpus", voice="auto", minutes=10, sentences=20)
    report = finetune_eval(None, "corpus", "runs/eval-finetune/finetune-x", plan=plan)
    write_report("runs/eval-finetune", "finetune-x", report, render_markdown(report))

or ``flowtts eval finetune --model DIR --corpus DIR --voice auto --minutes 10 --out runs/eval-finetune``.

**The voice.** A *held-out* voice: none of its clips is in the train split and none is marked ``seen_voice``
(its speaker group never occurs in train), so the base model never heard it. ``auto`` takes, among the
English held-out voices (English: the only language with an independent recognizer), the first by name
whose clips fill both the fine-tune minutes and the evaluation sentences; when none does, the one whose
fine-tune part is longest (then more evaluation clips, then name), and the report says how much it had.

**The partition** (``partition_voice``; deterministic: clips in sha256-of-id order, the corpus's splits are
ignored since a held-out voice has no train clips anyway):

1. Evaluation clips: the first ``sentences`` clips of 1–20 s with distinct sentences, and never more than
   half the voice's clips (the other half must be left to fine-tune on). Their transcripts are the
   evaluation sentences.
2. Every other clip that speaks one of those sentences is dropped (no evaluation sentence is trained on).
3. Fine-tune clips: the remaining clips in order, each taken while the total stays within ``minutes`` (a
   clip that would pass it is skipped, a shorter later one may still fit). ``limited_by`` says whether the
   cap or the corpus ended it; a short voice is used as it is and the report says so: the verdict is then
   at best *incomplete*.
4. The zero-shot reference (a part of the fine-tune clips, so the pack saw it too): the fine-tune clip
   closest to 10 s when one lasts 8–12 s; otherwise whichever is closer to 10 s of the best single clip
   (3–25 s) and a concatenation of fine-tune clips (0.25 s apart, in order, up to 15 s) reaching ~10 s.

**The run.** The fine-tune clips are copied to ``WORK/data`` (audio + same-stem ``.txt`` with the spoken
text, a folder ``flowtts finetune`` accepts) and ``flowtts.finetune.adapt`` writes the pack to
``WORK/<voice>``; its wall time (data preparation, codec encoding and training) is measured, with the load
average, since this machine may be shared. The minimum-audio guard of ``flowtts finetune`` (3 minutes) is off
by default here (``min_minutes`` 0): the corpus decides the minutes, and the report gives them.

**The judges** (the same as ``evals.tts_eval``): every evaluation sentence is synthesized (a) by the base
model with the voice cloned zero-shot from the reference, and (b) by the base model with the voice pack (its
own reference prompt, as a user gets it), same seed. Speaker similarity (``evals.judges.speaker``,
resemblyzer), aggregated as in the similarity eval: our clip of sentence *i* against every *other*
evaluation clip *j ≠ i* of the voice, so content is matched with the real-vs-real reference cos(real *i*,
real *j*), the ceiling; means over all pairs. WER (``evals.judges.asr``, pocketsphinx with a closed LM over
the evaluation sentences, English only) of (a), (b) and the real clips; the base model's WER is (a).

**Targets**: cosine(pack) − cosine(zero-shot) > 0; WER(pack) / WER(base) ≤ 1.1; pack size ≤ 5 MB (1 MB =
10⁶ bytes, the whole pack folder).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.codec_eval import _fmt, _load_audio, _order_key, _ratio
from evals.tts_eval import (
    ASR_LANG,
    _corpus_rows,
    _progress,
    _sampling,
    _save,
    check,
    checks_markdown,
    header_markdown,
    model_block,
    verdict,
)
from flowtts.data.manifest import Utterance
from flowtts.errors import FlowTTSError
from flowtts.voices import MAX_SECONDS, MIN_SECONDS

DEFAULT_MINUTES = 10.0
DEFAULT_SENTENCES = 20
MIN_SENTENCES = 2  # cosine to *other* evaluation clips needs two
EVAL_SECONDS = (1.0, 20.0)  # evaluation clips this long (judges need speech, prompts fit the model)
REFERENCE_SECONDS = 10.0  # the zero-shot reference, as the issue states it
SINGLE_REFERENCE = (8.0, 12.0)  # one clip this long is used as it is
MAX_CONCATENATED = 15.0  # a concatenated reference never passes this
REFERENCE_GAP = 0.25  # seconds of silence between concatenated clips
SHORT_TOLERANCE = 0.5  # seconds under the cap that still count as the full minutes

COSINE_DELTA_TARGET = 0.0  # pack − zero-shot must be above this
WER_RATIO_TARGET = 1.1
PACK_MB_TARGET = 5.0
MB = 1e6


# --- plan: voice and partition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """One voice's clips, split for the protocol (module doc, "The partition")."""

    voice: str
    lang: str
    finetune: tuple[Utterance, ...]
    reference: tuple[Utterance, ...]  # the zero-shot reference: one fine-tune clip or several concatenated
    evaluation: tuple[Utterance, ...]
    dropped_same_text: tuple[str, ...]  # ids of clips left out: they speak an evaluation sentence
    skipped_by_cap: tuple[str, ...]  # ids of clips left out: they would pass the minutes
    minutes_requested: float
    sentences_requested: int

    @property
    def seconds_finetune(self) -> float:
        return sum(r.duration for r in self.finetune)

    @property
    def minutes_selected(self) -> float:
        return self.seconds_finetune / 60

    @property
    def limited_by(self) -> str:
        """``minutes``: the cap ended the fine-tune part; ``corpus``: the voice ran out of clips."""
        return "minutes" if self.skipped_by_cap else "corpus"

    @property
    def minutes_short(self) -> bool:
        """True when the voice has less audio than the minutes asked for."""
        return self.limited_by == "corpus" and self.seconds_finetune < self.minutes_requested * 60 - (
            SHORT_TOLERANCE
        )

    @property
    def sentences_short(self) -> bool:
        return len(self.evaluation) < self.sentences_requested

    @property
    def reference_seconds(self) -> float:
        """Manifest seconds of the reference (gaps included); cloning trims silence at the ends."""
        return sum(r.duration for r in self.reference) + REFERENCE_GAP * (len(self.reference) - 1)

    @property
    def evaluation_sentences(self) -> tuple[str, ...]:
        return tuple(r.normalized_text for r in self.evaluation)

    def to_dict(self) -> dict:
        return {
            "voice": self.voice,
            "lang": self.lang,
            "order": "sha256 of the clip id",
            "minutes_requested": self.minutes_requested,
            "minutes_selected": self.minutes_selected,
            "limited_by": self.limited_by,
            "minutes_short": self.minutes_short,
            "finetune_clips": [r.id for r in self.finetune],
            "reference_clips": [r.id for r in self.reference],
            "reference_seconds": self.reference_seconds,
            "sentences_requested": self.sentences_requested,
            "sentences_short": self.sentences_short,
            "evaluation_clips": [r.id for r in self.evaluation],
            "evaluation_minutes": sum(r.duration for r in self.evaluation) / 60,
            "dropped_same_text": list(self.dropped_same_text),
            "skipped_by_cap": list(self.skipped_by_cap),
        }


@dataclass(frozen=True)
class Plan:
    """The chosen voice, why, and its partition: what ``finetune_eval`` runs (cheap: manifests only)."""

    corpus: str
    choice: str  # "given" | "auto: ..." (how the voice was chosen)
    held_out_voices: tuple[str, ...]  # every held-out voice of the corpus
    partition: Partition

    @property
    def voice(self) -> str:
        return self.partition.voice


def held_out_voices(rows: Sequence[Utterance]) -> dict[str, list[Utterance]]:
    """Voices the model never saw: no clip in the train split and none of a seen speaker group."""
    by_voice: dict[str, list[Utterance]] = defaultdict(list)
    for r in rows:
        by_voice[r.voice].append(r)
    return {
        v: rs for v, rs in sorted(by_voice.items()) if not any(r.split == "train" or r.seen_voice for r in rs)
    }


def partition_voice(
    voice_rows: Sequence[Utterance],
    minutes: float = DEFAULT_MINUTES,
    sentences: int = DEFAULT_SENTENCES,
) -> Partition:
    """Evaluation clips, fine-tune clips (at most ``minutes``) and the zero-shot reference of one voice.

    Raises ``FlowTTSError`` when the voice has too few clips for two evaluation clips and a reference.
    """
    if not voice_rows:
        raise FlowTTSError("partition: no clips")
    if not minutes > 0:
        raise FlowTTSError(f"minutes must be > 0, got {minutes}")
    if sentences < MIN_SENTENCES:
        raise FlowTTSError(f"sentences must be >= {MIN_SENTENCES}, got {sentences}")
    voice, lang = voice_rows[0].voice, voice_rows[0].lang
    if len({r.voice for r in voice_rows}) > 1:
        raise FlowTTSError("partition: clips of several voices")
    clips = sorted(voice_rows, key=lambda r: _order_key(r.id))
    lo, hi = EVAL_SECONDS
    limit = min(sentences, len(clips) // 2)
    evaluation: list[Utterance] = []
    texts: set[str] = set()
    for r in clips:
        if len(evaluation) >= limit:
            break
        text = r.normalized_text.strip()
        if lo <= r.duration <= hi and text and text not in texts:
            evaluation.append(r)
            texts.add(text)
    if len(evaluation) < MIN_SENTENCES:
        raise FlowTTSError(
            f"voice {voice}: {len(clips)} clips give only {len(evaluation)} evaluation clips of "
            f"{lo:g}–{hi:g} s with distinct sentences; the protocol needs at least {MIN_SENTENCES}"
        )
    taken = {r.id for r in evaluation}
    rest = [r for r in clips if r.id not in taken]
    dropped = tuple(r.id for r in rest if r.normalized_text.strip() in texts)
    cap = minutes * 60
    finetune: list[Utterance] = []
    skipped: list[str] = []
    total = 0.0
    for r in rest:
        if r.normalized_text.strip() in texts:
            continue
        if total + r.duration <= cap + 1e-9:
            finetune.append(r)
            total += r.duration
        else:
            skipped.append(r.id)
    if not finetune:
        raise FlowTTSError(
            f"voice {voice}: no clip left to fine-tune on after {len(evaluation)} evaluation clips"
        )
    reference = choose_reference(finetune)
    if reference is None:
        raise FlowTTSError(
            f"voice {voice}: the fine-tune clips give no {MIN_SECONDS:g}–{MAX_SECONDS:g} s zero-shot "
            "reference"
        )
    return Partition(
        voice=voice,
        lang=lang,
        finetune=tuple(finetune),
        reference=reference,
        evaluation=tuple(evaluation),
        dropped_same_text=dropped,
        skipped_by_cap=tuple(skipped),
        minutes_requested=float(minutes),
        sentences_requested=sentences,
    )


def choose_reference(finetune: Sequence[Utterance]) -> tuple[Utterance, ...] | None:
    """The zero-shot reference among ``finetune`` (in their order): see step 4 of the module doc."""
    a, b = SINGLE_REFERENCE

    def single_key(r: Utterance) -> tuple:
        return (abs(r.duration - REFERENCE_SECONDS), _order_key(r.id))

    fitting = [r for r in finetune if a <= r.duration <= b]
    if fitting:
        return (min(fitting, key=single_key),)
    chosen: list[Utterance] = []
    seconds = 0.0
    for r in finetune:
        extra = r.duration + (REFERENCE_GAP if chosen else 0.0)
        if seconds + extra > MAX_CONCATENATED:
            continue
        chosen.append(r)
        seconds += extra
        if seconds >= REFERENCE_SECONDS:
            break
    options: list[tuple[float, int, tuple[Utterance, ...]]] = []
    singles = [r for r in finetune if MIN_SECONDS <= r.duration <= MAX_SECONDS]
    if singles:
        best = min(singles, key=single_key)
        options.append((abs(best.duration - REFERENCE_SECONDS), 0, (best,)))
    if len(chosen) > 1 and seconds >= MIN_SECONDS:
        options.append((abs(seconds - REFERENCE_SECONDS), 1, tuple(chosen)))
    return min(options, key=lambda o: o[:2])[2] if options else None


def plan_finetune_eval(
    corpus: str | os.PathLike,
    voice: str = "auto",
    minutes: float = DEFAULT_MINUTES,
    sentences: int = DEFAULT_SENTENCES,
    rows: Sequence[Utterance] | None = None,
) -> Plan:
    """Chooses the voice (``auto`` or an id) and partitions its clips; reads only the manifests.

    Raises ``FlowTTSError`` (one line) for a corpus without a held-out voice, an unknown or seen voice,
    ``auto`` without an English held-out voice, or a voice with too few clips.
    """
    corpus = Path(corpus)
    rows = list(rows) if rows is not None else _corpus_rows(corpus)
    held = held_out_voices(rows)
    if not held:
        raise FlowTTSError(
            f"{corpus}: no held-out voice (every voice has train clips or a seen speaker group); the "
            "protocol needs a voice the model never saw"
        )
    names = tuple(held)
    listed = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
    if voice != "auto":
        if voice not in held:
            mine = [r for r in rows if r.voice == voice]
            if not mine:
                raise FlowTTSError(f"--voice {voice}: no such voice in {corpus} (held-out voices: {listed})")
            n_train = sum(r.split == "train" for r in mine)
            raise FlowTTSError(
                f"--voice {voice} is not held out ({n_train} train clips, seen speaker group "
                f"{mine[0].speaker_group}): the model heard it; held-out voices: {listed}"
            )
        return Plan(str(corpus), "given", names, partition_voice(held[voice], minutes, sentences))
    english = [v for v in names if held[v][0].lang == ASR_LANG]
    if not english:
        raise FlowTTSError(
            f"{corpus}: no English held-out voice for --voice auto (the recognizer is English-only); "
            f"give --voice (held-out voices: {listed})"
        )
    parts = {}
    for v in english:
        try:
            parts[v] = partition_voice(held[v], minutes, sentences)
        except FlowTTSError:
            continue
    if not parts:
        raise FlowTTSError(
            f"{corpus}: no English held-out voice has enough clips for the protocol ({', '.join(english)})"
        )
    full = [v for v, p in parts.items() if not p.minutes_short and not p.sentences_short]
    if full:
        v = full[0]
        why = (
            f"auto: first by name of {len(full)} English held-out voices with {minutes:g} min + "
            f"{sentences} sentences"
        )
    else:
        v = min(parts, key=lambda x: (-parts[x].seconds_finetune, -len(parts[x].evaluation), x))
        why = (
            f"auto: no English held-out voice has {minutes:g} min + {sentences} sentences; the one with the "
            f"most fine-tune audio ({parts[v].minutes_selected:.2f} min)"
        )
    return Plan(str(corpus), why, names, parts[v])


# --- data, reference, judging -------------------------------------------------------------------------------


def _file_stem(uid: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", uid).lstrip(".") or "clip"


def write_finetune_data(corpus: str | os.PathLike, partition: Partition, folder: str | os.PathLike) -> Path:
    """The fine-tune clips as a folder ``flowtts finetune`` reads: ``<id>.<ext>`` (the corpus file, copied)
    and ``<id>.txt`` (the spoken text). The folder is emptied first."""
    corpus, folder = Path(corpus), Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for r in partition.finetune:
        src = corpus / r.audio
        if not src.is_file():
            raise FlowTTSError(f"{corpus}: audio file {r.audio} of clip {r.id} is missing")
        stem = _file_stem(r.id)
        shutil.copyfile(src, folder / f"{stem}{src.suffix.lower()}")
        (folder / f"{stem}.txt").write_text(r.normalized_text.strip() + "\n", encoding="utf-8")
    return folder


def reference_audio(corpus: str | os.PathLike, partition: Partition) -> np.ndarray:
    """The zero-shot reference at 24 kHz: one clip, or the clips joined by 0.25 s of silence."""
    gap = np.zeros(int(REFERENCE_GAP * 24000), dtype=np.float32)
    parts: list[np.ndarray] = []
    for k, r in enumerate(partition.reference):
        if k:
            parts.append(gap)
        parts.append(_load_audio(Path(corpus), r))
    return np.concatenate(parts)


def cross_cosines(judge, ours: Sequence[np.ndarray], real: Sequence[np.ndarray]) -> list[float]:
    """Per item ``i``: mean cosine of ``ours[i]`` with every ``real[j]``, ``j ≠ i`` (embeddings given)."""
    out = []
    for i, e in enumerate(ours):
        others = [judge.cosine(e, r) for j, r in enumerate(real) if j != i]
        out.append(statistics.fmean(others) if others else math.nan)
    return out


def _wer(records: list[dict], system: str) -> float | None:
    words = sum(r["words"] for r in records)
    if not records or "edits_" + system not in records[0]:
        return None
    edits = sum(r["edits_" + system] for r in records)
    return edits / words if words else 0.0


def finetune_checks(
    cosine_zero_shot: float | None,
    cosine_pack: float | None,
    wer_base: float | None,
    wer_pack: float | None,
    pack_bytes: int | None,
) -> list[dict]:
    """The issue's three targets from the measured numbers (None: not measured)."""
    delta = None if cosine_zero_shot is None or cosine_pack is None else cosine_pack - cosine_zero_shot
    c = check(
        "cosine_delta",
        "speaker cosine to held-out clips: pack − zero-shot (10 s clip)",
        delta,
        ">",
        COSINE_DELTA_TARGET,
    )
    if delta is not None and math.isfinite(delta):
        c["pass"] = bool(delta > COSINE_DELTA_TARGET)  # strictly higher
    ratio = None if wer_base is None or wer_pack is None else _ratio(wer_pack, wer_base)
    w = check(
        "wer_ratio",
        "WER pack / WER base model (zero-shot)",
        ratio,
        "<=",
        WER_RATIO_TARGET,
        note="" if ratio is not None else "no independent recognizer for this language",
    )
    size = None if pack_bytes is None else pack_bytes / MB
    s = check("pack_mb", "voice pack size", size, "<=", PACK_MB_TARGET, unit="MB")
    return [c, w, s]


def overall_verdict(checks: list[dict], partition: Partition) -> tuple[str, list[str]]:
    """``verdict`` of the checks, but never ``pass`` when the voice had less than the protocol asks;
    returns the verdict and why it is incomplete (empty when it is not)."""
    why = []
    if partition.minutes_short:
        why.append(
            f"the voice has only {partition.minutes_selected:.2f} of the {partition.minutes_requested:g} "
            "minutes of fine-tune audio the protocol asks for"
        )
    if partition.sentences_short:
        why.append(
            f"only {len(partition.evaluation)} of {partition.sentences_requested} evaluation sentences"
        )
    why += [f"{c['label']}: not measured" for c in checks if c["pass"] is None]
    v = verdict(checks)
    if v == "pass" and why:
        v = "incomplete"
    return v, why


def eval_config(seed: int = 0, **overrides):
    """The ``FinetuneConfig`` of the eval: ``flowtts finetune``'s defaults, no before/after samples, the
    minimum-audio guard off (``min_minutes`` 0: the corpus decides the minutes), ``overrides`` on top."""
    from flowtts.finetune import FinetuneConfig

    return FinetuneConfig(**{"samples": 0, "min_minutes": 0.0, "seed": seed, **overrides})


def _asr_block(asr, sentences: int) -> dict:
    """What the report says about the recognizer (a stub in tests may lack some attributes)."""
    name = getattr(asr, "name", None)
    if name is None:
        import importlib.metadata

        try:
            version = importlib.metadata.version("pocketsphinx")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        name = (
            f"pocketsphinx {version} en-us, closed-vocabulary trigram LM over the {sentences} evaluation "
            "sentences"
        )
    return {
        "name": name,
        "vocabulary": len(getattr(asr, "vocabulary", ())),
        "oov_rate": getattr(asr, "oov_rate", None),
        "oov_words": sorted(getattr(asr, "oov_words", ())),
    }


def _load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


# --- the run ------------------------------------------------------------------------------------------------


def finetune_eval(
    model,
    corpus: str | os.PathLike,
    work: str | os.PathLike,
    voice: str = "auto",
    minutes: float = DEFAULT_MINUTES,
    sentences: int = DEFAULT_SENTENCES,
    config=None,
    plan: Plan | None = None,
    steps: int | None = None,
    cfg: float | None = None,
    seed: int = 0,
    device: str = "cpu",
    save_audio: str | os.PathLike | None = None,
    speaker_judge=None,
    asr_judge: Callable[[list[str]], object] | None = None,
    progress: bool = True,
) -> dict:
    """Runs the protocol of the module doc and returns the report (``render_markdown`` for Markdown).

    ``model``: a model folder or ``None`` (the embedded default model). ``work``: the run's folder (the
    fine-tune data ``work/data`` and the pack ``work/<voice>``; both are rewritten). ``plan``: from
    ``plan_finetune_eval`` (else made from ``voice`` / ``minutes`` / ``sentences``). ``config``: a
    ``FinetuneConfig`` (default ``eval_config(seed)``). ``steps`` / ``cfg`` / ``seed``: sampling of
    ``tts.synthesize`` (``seed`` also seeds the fine-tune when ``config`` is None). ``speaker_judge`` /
    ``asr_judge``: a ``SpeakerJudge`` and a factory ``sentences -> AsrJudge`` to use instead of the real
    ones. Raises ``FlowTTSError`` on bad input or an interrupted fine-tune.
    """
    from evals.judges.asr import wer_counts
    from evals.report import report_header
    from flowtts.api import load
    from flowtts.data.prepare import sanitize_voice
    from flowtts.finetune import FinetuneConfig, adapt
    from flowtts.training.loop import pick_device

    corpus, work = Path(corpus), Path(work)
    plan = plan or plan_finetune_eval(corpus, voice, minutes, sentences)
    part = plan.partition
    config = config or eval_config(seed)
    if config.full:
        raise FlowTTSError("the fine-tune eval measures LoRA voice packs; a full fine-tune is not supported")
    need = config.min_valid_clips + 1
    if len(part.finetune) < need:
        raise FlowTTSError(
            f"voice {part.voice}: {len(part.finetune)} clips left to fine-tune on after "
            f"{len(part.evaluation)} evaluation clips; the fine-tune needs at least {need}"
        )
    notes: list[str] = []
    english = part.lang == ASR_LANG

    # the judges first: a missing one stops the run before the fine-tune
    if speaker_judge is None:
        from evals.judges.speaker import SpeakerJudge

        speaker_judge = SpeakerJudge()
    asr = None
    if english:
        if asr_judge is None:
            from evals.judges.asr import AsrJudge

            asr_judge = AsrJudge
        asr = asr_judge(list(part.evaluation_sentences))
    else:
        notes.append(
            f"{part.lang}: no independent recognizer (pocketsphinx is English-only); WER not measured"
        )

    dev = pick_device(device)
    tts = load(model, device=str(dev))
    model_name = "default (embedded)" if model is None else str(model)
    save_dir = Path(save_audio) if save_audio is not None else None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)

    # (a) zero-shot: the base model cloning the 10 s reference
    ref = reference_audio(corpus, part)
    try:
        zs_voice = tts.clone(
            ref,
            24000,
            name="zero-shot",
            transcript=" ".join(r.normalized_text for r in part.reference),
            lang=part.lang,
        )
    except FlowTTSError as e:
        raise FlowTTSError(f"zero-shot reference {'+'.join(r.id for r in part.reference)}: {e}") from None
    ev = part.evaluation
    zero_shot = []
    for r in _progress(ev, "zero-shot", progress):
        x = tts.synthesize(r.text, voice=zs_voice, lang=r.lang, steps=steps, cfg=cfg, seed=seed).samples
        _save(save_dir, f"zero-shot--{r.id}", x)
        zero_shot.append(x)

    # the fine-tune, timed
    data_dir = write_finetune_data(corpus, part, work / "data")
    pack_name = sanitize_voice(part.voice)
    load_before = _load_average()
    t0 = time.perf_counter()
    result = adapt(
        data_dir,
        base=tts.root,
        out=work / pack_name,
        config=config,
        lang=part.lang,
        name=pack_name,
        device=str(dev),
        restart=True,
        progress=progress,
    )
    wall = time.perf_counter() - t0
    load_after = _load_average()
    if result.stopped:
        raise FlowTTSError(f"the fine-tune was interrupted at step {result.step}; nothing evaluated", 130)

    # (b) the voice pack
    pack = tts.load_voice_pack(result.pack, name=pack_name)
    with_pack = []
    for r in _progress(ev, "voice pack", progress):
        x = tts.synthesize(r.text, voice_pack=pack_name, lang=r.lang, steps=steps, cfg=cfg, seed=seed).samples
        _save(save_dir, f"pack--{r.id}", x)
        with_pack.append(x)
    tts.unload_voice_pack(pack_name)

    # judging
    real = [_load_audio(corpus, r) for r in ev]
    emb = {
        "real": [speaker_judge.embed(x) for x in real],
        "zero_shot": [speaker_judge.embed(x) for x in zero_shot],
        "pack": [speaker_judge.embed(x) for x in with_pack],
    }
    cos = {k: cross_cosines(speaker_judge, emb[k], emb["real"]) for k in emb}
    records = []
    for i, r in enumerate(ev):
        rec = {
            "id": r.id,
            "text": r.normalized_text,
            "seconds_real": len(real[i]) / 24000,
            "seconds_zero_shot": len(zero_shot[i]) / 24000,
            "seconds_pack": len(with_pack[i]) / 24000,
            "cos_zero_shot": cos["zero_shot"][i],
            "cos_pack": cos["pack"][i],
            "cos_real": cos["real"][i],
        }
        if asr is not None:
            for system, x in (("zero_shot", zero_shot[i]), ("pack", with_pack[i]), ("real", real[i])):
                rec["asr_" + system] = asr.transcribe(x)
                rec["edits_" + system], rec["words"] = wer_counts(r.normalized_text, rec["asr_" + system])
        records.append(rec)

    cos_zs = statistics.fmean(cos["zero_shot"])
    cos_pack = statistics.fmean(cos["pack"])
    cos_real = statistics.fmean(cos["real"])
    wer_base, wer_pack, wer_real = (_wer(records, s) for s in ("zero_shot", "pack", "real"))
    checks = finetune_checks(cos_zs, cos_pack, wer_base, wer_pack, result.pack_bytes)
    verdict_, incomplete = overall_verdict(checks, part)
    data = result.data
    if config.min_minutes < FinetuneConfig().min_minutes:
        notes.append(
            f"flowtts finetune's minimum-audio guard was {config.min_minutes:g} min (its default: "
            f"{FinetuneConfig().min_minutes:g}); the minutes used are the ones reported"
        )
    if part.minutes_short:
        notes.append(
            f"voice {part.voice} has only {part.minutes_selected:.2f} min of clips for fine-tuning (asked: "
            f"{part.minutes_requested:g}); all of it was used"
        )
    if result.best_step == 0:
        notes.append("training never improved the held-out loss: the pack holds the base model's behaviour")
    results = {
        "cosine_zero_shot": cos_zs,
        "cosine_pack": cos_pack,
        "cosine_delta": cos_pack - cos_zs,
        "cosine_real": cos_real,
        "ratio_zero_shot_to_real": cos_zs / cos_real if cos_real > 0 else math.nan,
        "ratio_pack_to_real": cos_pack / cos_real if cos_real > 0 else math.nan,
        "wer_base": wer_base,
        "wer_pack": wer_pack,
        "wer_real": wer_real,
        "wer_ratio": checks[1]["value"],
        "pack_bytes": result.pack_bytes,
        "pack_mb": result.pack_bytes / MB,
        "adapter_bytes": result.adapter_bytes,
        "finetune_wall_seconds": wall,
        "training_seconds": result.seconds,
        "minutes_requested": part.minutes_requested,
        "minutes_selected": part.minutes_selected,
        "minutes_usable": data.minutes_usable,
        "minutes_train": data.minutes_train,
        "minutes_valid": data.minutes_valid,
        "steps": result.step,
        "best_step": result.best_step,
        "stopped_by": result.stopped_by,
        "sentences": len(ev),
    }
    return {
        **report_header(model_name, tts.config.to_dict()),
        "kind": "tts_finetune",
        "model_info": model_block(tts),
        "eval": {
            "corpus": str(corpus),
            "work": str(work),
            "voice": part.voice,
            "lang": part.lang,
            "choice": plan.choice,
            "held_out_voices": list(plan.held_out_voices),
            "device": str(dev),
            "sampling": _sampling(steps, cfg, seed),
            "design": "ours(i) = evaluation sentence i spoken (a) zero-shot from the reference, (b) with the "
            "pack; cosine = mean over i, j != i of cos(ours(i), real(j)); real-vs-real: cos(real(i), "
            "real(j)); WER base = (a)",
        },
        "judges": {
            "speaker": speaker_judge.name,
            "asr": None if asr is None else _asr_block(asr, len(ev)),
        },
        "partition": part.to_dict(),
        "finetune": {
            "config": config.to_dict(),
            "pack": str(result.pack),
            "pack_name": pack_name,
            "pack_reference": {
                "clip": pack.info.get("voice", {}).get("clip"),
                "seconds": pack.voice.duration_s,
            },
            "zero_shot_reference_seconds": zs_voice.duration_s,
            "wall_seconds": wall,
            "training_seconds": result.seconds,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "steps": result.step,
            "best_step": result.best_step,
            "stopped_by": result.stopped_by,
            "valid_before": result.before,
            "valid_after": result.after,
            "data": data.to_dict(),
            "pack_bytes": result.pack_bytes,
            "adapter_bytes": result.adapter_bytes,
        },
        "results": results,
        "checks": checks,
        "verdict": verdict_,
        "incomplete": incomplete,
        "notes": notes,
        "utterances": records,
    }


# --- Markdown -----------------------------------------------------------------------------------------------


def render_markdown(report: dict) -> str:
    e, p, f, r = report["eval"], report["partition"], report["finetune"], report["results"]
    cfg = f["config"]
    lines = header_markdown(
        "Voice adaptation vs zero-shot cloning",
        report,
        [
            f"| corpus | `{e['corpus']}`, held-out voice **{e['voice']}** ({e['lang']}; {e['choice']}) |",
            f"| fine-tune | LoRA rank {cfg['rank']}, alpha {cfg['alpha']:g}, {', '.join(cfg['targets'])}; "
            f"at most {cfg['steps']} steps, seed {cfg['seed']}, on {e['device']} |",
            f"| judges | {report['judges']['speaker']}; "
            + (report["judges"]["asr"]["name"] if report["judges"]["asr"] else "no recognizer")
            + " |",
            f"| sampling | steps {_fmt(e['sampling']['steps'])}, cfg {_fmt(e['sampling']['cfg'])}, seed "
            f"{_fmt(e['sampling']['seed'])} (–: the model's default) |",
        ],
    )
    if report["incomplete"]:
        at = lines.index(next(x for x in lines if x.startswith("Verdict:")))
        lines[at + 1 : at + 1] = ["", *[f"- {w}" for w in report["incomplete"]]]
    lines += ["", *checks_markdown(report["checks"], 3), ""]
    lines += [
        "## Results",
        "",
        f"{r['sentences']} held-out sentences of the voice. Cosine: each synthesized sentence against every "
        "*other* real evaluation clip of the voice (mean over pairs); the real-vs-real row is the ceiling.",
        "",
        "| | zero-shot (base, 10 s clip) | voice pack | real clips |",
        "| --- | ---: | ---: | ---: |",
        f"| speaker cosine to held-out clips | {_fmt(r['cosine_zero_shot'])} | {_fmt(r['cosine_pack'])} | "
        f"{_fmt(r['cosine_real'])} |",
        f"| ratio to real-vs-real | {_fmt(r['ratio_zero_shot_to_real'])} | "
        f"{_fmt(r['ratio_pack_to_real'])} | 1 |",
        f"| WER | {_fmt(r['wer_base'])} | {_fmt(r['wer_pack'])} | {_fmt(r['wer_real'])} |",
        "",
        f"Cosine delta (pack − zero-shot): {_fmt(r['cosine_delta'])}; WER ratio pack / base: "
        f"{_fmt(r['wer_ratio'])}.",
        "",
        "## Fine-tune",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| audio | {r['minutes_selected']:.2f} min of clips given (asked: {r['minutes_requested']:g}, "
        f"ended by the {p['limited_by']}); {r['minutes_usable']:.2f} min usable after preparation: "
        f"{r['minutes_train']:.2f} train, {r['minutes_valid']:.2f} held out for early stopping |",
        f"| wall time | {r['finetune_wall_seconds'] / 60:.1f} min ({r['finetune_wall_seconds']:.0f} s: data "
        "preparation, encoding, training); "
        f"training {r['training_seconds'] / 60:.1f} min; load average {_loads(f)} |",
        f"| steps | {r['steps']}, stopped by {r['stopped_by']}, kept step {r['best_step']} |",
        f"| held-out loss | {f['valid_before']['valid_loss']:.4f} (base) -> "
        f"{f['valid_after']['valid_loss']:.4f} |",
        f"| voice pack | `{f['pack']}`: {r['pack_bytes'] / MB:.2f} MB "
        f"({r['adapter_bytes'] / MB:.2f} MB adapter) |",
        "",
        "## Partition",
        "",
        "| part | clips | minutes |",
        "| --- | ---: | ---: |",
        f"| fine-tune | {len(p['finetune_clips'])} | {p['minutes_selected']:.2f} |",
        f"| zero-shot reference (from the fine-tune clips) | {len(p['reference_clips'])} | "
        f"{p['reference_seconds'] / 60:.2f} |",
        f"| evaluation | {len(p['evaluation_clips'])} | {p['evaluation_minutes']:.2f} |",
        f"| left out: speak an evaluation sentence | {len(p['dropped_same_text'])} | |",
        f"| left out: past the minutes | {len(p['skipped_by_cap'])} | |",
        "",
        f"Zero-shot reference: {', '.join(f'`{c}`' for c in p['reference_clips'])} "
        f"({f['zero_shot_reference_seconds']:.1f} s after trimming). The pack's own reference prompt: "
        f"`{f['pack_reference']['clip']}` ({f['pack_reference']['seconds']:.1f} s).",
        "",
        "## Per sentence",
        "",
        "| clip | sentence | cos zero-shot | cos pack | cos real | WER zero-shot | WER pack | WER real |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for u in report["utterances"]:
        text = u["text"] if len(u["text"]) <= 60 else u["text"][:57] + "…"

        lines.append(
            f"| {u['id']} | {text.replace('|', '/')} | {_fmt(u['cos_zero_shot'])} | {_fmt(u['cos_pack'])} | "
            f"{_fmt(u['cos_real'])} | {_utt_wer(u, 'zero_shot')} | {_utt_wer(u, 'pack')} | "
            f"{_utt_wer(u, 'real')} |"
        )
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"


def _utt_wer(u: dict, system: str) -> str:
    if "edits_" + system not in u:
        return "–"
    return _fmt(u["edits_" + system] / u["words"] if u["words"] else 0.0, 2)


def _loads(f: dict) -> str:
    a, b = f["load_average_before"], f["load_average_after"]
    if a is None or b is None:
        return "–"
    return f"{a[0]:.2f} before, {b[0]:.2f} after (1 min)"
