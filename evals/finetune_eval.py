"""Voice adaptation against zero-shot cloning (issue 7): fine-tune on minutes of a held-out voice, then judge.

    plan = plan_finetune_eval("corpus", voice="auto", minutes=10, sentences=20)
    report = finetune_eval(None, "corpus", "runs/eval-finetune/finetune-x", plan=plan)
    write_report("runs/eval-finetune", "finetune-x", report, render_markdown(report))

or ``flowtts eval finetune --model DIR --corpus DIR --voice auto --minutes 10 --out runs/eval-finetune``.

**The voice.** A *held-out* voice: none of its clips is in the train split and none is marked ``seen_voice``
(its speaker group never occurs in train), so the base model never heard it. ``auto`` takes, among the
English held-out voices (English: the only language with an independent recognizer), the first by name
whose clips fill both the fine-tune minutes and the evaluation sentences; when none does and
``--render-minutes`` is on, the one whose engine is installed here and renders fastest under the freest
licence (``ENGINE_PREFERENCE``: flite, espeak, …, MBROLA last; then more evaluation clips, more fine-tune
audio, name); otherwise the one whose fine-tune part is longest (then more evaluation clips, then name), and
the report says how much it had.

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

**Rendered audio** (``--render-minutes M``, off by default; ``add_rendered_clips``): the held-out voices of a
synthetic corpus are short (about a minute each), so more of exactly that voice is rendered the way the
corpus rendered its own (``evals.heldout_render.render_voice_clips``), on sentences that occur nowhere in
the corpus nor among the evaluation sentences. Rendered only when the corpus has less than the minutes,
until the fine-tune part fills them or M minutes are rendered or the text runs out; cached in
``WORK/rendered`` (a rerun renders nothing new). Rendered clips come after the corpus's own in step 3; the
evaluation clips stay the corpus's. The report splits the minutes into corpus and rendered, and names the
engine, voice and sentence source.

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

import dataclasses
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
from evals.heldout_render import (
    ENGINE_PREFERENCE,
    STOPPED_BY,
    corpus_voice_specs,
    engine_rank,
    render_problem,
    render_voice_clips,
)
from evals.report import markdown_document
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
    sampling_row,
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
    rendered_clips: tuple[str, ...] = ()  # ids of the fine-tune clips rendered for this eval (not corpus)
    render: dict | None = None  # what --render-minutes did (``RenderedClips.to_dict`` + request); None: off

    @property
    def seconds_finetune(self) -> float:
        return sum(r.duration for r in self.finetune)

    @property
    def minutes_selected(self) -> float:
        return self.seconds_finetune / 60

    @property
    def seconds_rendered(self) -> float:
        """Fine-tune seconds rendered for this eval (``--render-minutes``); the rest is the corpus's."""
        rendered = set(self.rendered_clips)
        return sum(r.duration for r in self.finetune if r.id in rendered)

    @property
    def seconds_from_corpus(self) -> float:
        return self.seconds_finetune - self.seconds_rendered

    @property
    def rendered_for_eval(self) -> bool:
        """True when ``--render-minutes`` had to render clips (the corpus had less than the minutes)."""
        return bool(self.render and self.render.get("needed"))

    @property
    def limited_by(self) -> str:
        """What ended the fine-tune part: ``minutes`` (the cap), ``corpus`` (the voice ran out of clips,
        nothing rendered), or why rendering stopped short of the cap: ``render_minutes`` (it rendered
        ``--render-minutes``), ``text`` (the text pool ran out), ``failures`` (the engine kept failing)."""
        if self.skipped_by_cap:
            return "minutes"
        if self.rendered_for_eval:
            if _fills(self.seconds_finetune, self.minutes_requested):
                return "minutes"
            return str(self.render.get("stopped_by", "render_minutes"))
        return "corpus"

    @property
    def minutes_short(self) -> bool:
        """True when the voice (with what was rendered) has less audio than the minutes asked for."""
        return self.limited_by != "minutes" and not _fills(self.seconds_finetune, self.minutes_requested)

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
            "minutes_from_corpus": self.seconds_from_corpus / 60,
            "minutes_rendered": self.seconds_rendered / 60,
            "limited_by": self.limited_by,
            "minutes_short": self.minutes_short,
            "finetune_clips": [r.id for r in self.finetune],
            "rendered_clips": list(self.rendered_clips),
            "reference_clips": [r.id for r in self.reference],
            "reference_seconds": self.reference_seconds,
            "sentences_requested": self.sentences_requested,
            "sentences_short": self.sentences_short,
            "evaluation_clips": [r.id for r in self.evaluation],
            "evaluation_minutes": sum(r.duration for r in self.evaluation) / 60,
            "dropped_same_text": list(self.dropped_same_text),
            "skipped_by_cap": list(self.skipped_by_cap),
            "render": self.render,
        }


@dataclass(frozen=True)
class Plan:
    """The chosen voice, why, and its partition: what ``finetune_eval`` runs (cheap: manifests only)."""

    corpus: str
    choice: str  # "given" | "auto: ..." (how the voice was chosen)
    held_out_voices: tuple[str, ...]  # every held-out voice of the corpus
    partition: Partition
    render_minutes: float = 0.0  # --render-minutes: at most this much more audio of the voice is rendered

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
    rendered: Sequence[Utterance] = (),
    render: dict | None = None,
) -> Partition:
    """Evaluation clips, fine-tune clips (at most ``minutes``) and the zero-shot reference of one voice.

    ``rendered``: clips of the voice rendered for this eval (``render_voice_clips``), in render order; they
    are fine-tune candidates after the corpus's own clips, never evaluation clips. ``render``: what the
    rendering did, kept in the partition for the report.

    Raises ``FlowTTSError`` when the voice has too few clips for two evaluation clips and a reference.
    """
    if not voice_rows:
        raise FlowTTSError("partition: no clips")
    if not minutes > 0:
        raise FlowTTSError(f"minutes must be > 0, got {minutes}")
    if sentences < MIN_SENTENCES:
        raise FlowTTSError(f"sentences must be >= {MIN_SENTENCES}, got {sentences}")
    voice, lang = voice_rows[0].voice, voice_rows[0].lang
    if len({r.voice for r in [*voice_rows, *rendered]}) > 1:
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
    candidates = [r for r in [*rest, *rendered] if r.normalized_text.strip() not in texts]
    finetune, skipped = _fill(candidates, minutes * 60)
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
    rendered_ids = {r.id for r in rendered}
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
        rendered_clips=tuple(r.id for r in finetune if r.id in rendered_ids),
        render=render,
    )


def _fills(seconds: float, minutes: float) -> bool:
    """Whether ``seconds`` of fine-tune audio count as the full ``minutes`` (``SHORT_TOLERANCE`` under)."""
    return seconds >= minutes * 60 - SHORT_TOLERANCE


def _fill(candidates: Sequence[Utterance], cap: float) -> tuple[list[Utterance], list[str]]:
    """Step 3 of the partition: each clip in order while the total stays within ``cap`` seconds; returns
    the clips taken and the ids of those skipped."""
    taken: list[Utterance] = []
    skipped: list[str] = []
    total = 0.0
    for r in candidates:
        if total + r.duration <= cap + 1e-9:
            taken.append(r)
            total += r.duration
        else:
            skipped.append(r.id)
    return taken, skipped


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
    render_minutes: float = 0.0,
) -> Plan:
    """Chooses the voice (``auto`` or an id) and partitions its clips; reads only the manifests (and, with
    ``render_minutes`` > 0, ``voices.json`` and which engines are installed). Nothing is rendered here:
    ``add_rendered_clips`` does that.

    Raises ``FlowTTSError`` (one line) for a corpus without a held-out voice, an unknown or seen voice,
    ``auto`` without an English held-out voice, or a voice with too few clips.
    """
    if render_minutes < 0 or not math.isfinite(render_minutes):
        raise FlowTTSError(f"render minutes must be a finite number >= 0, got {render_minutes}")
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
        part = partition_voice(held[voice], minutes, sentences)
        return Plan(str(corpus), "given", names, part, render_minutes)
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
    renderable = {}
    if render_minutes > 0 and not full:
        specs = corpus_voice_specs(corpus)
        renderable = {v: specs[v] for v in parts if v in specs and render_problem(specs[v]) is None}
    if full:
        v = full[0]
        why = (
            f"auto: first by name of {len(full)} English held-out voices with {minutes:g} min + "
            f"{sentences} sentences"
        )
    elif renderable:

        def render_key(x: str) -> tuple:
            return (
                engine_rank(renderable[x].engine),
                -len(parts[x].evaluation),
                -parts[x].seconds_finetune,
                x,
            )

        v = min(renderable, key=render_key)
        why = (
            f"auto: no English held-out voice has {minutes:g} min + {sentences} sentences; with "
            f"--render-minutes, the one whose engine renders fastest under the freest licence "
            f"({renderable[v].engine}; order {', '.join(ENGINE_PREFERENCE)}), then most evaluation "
            f"sentences ({len(parts[v].evaluation)}; {parts[v].minutes_selected:.2f} min of corpus audio to "
            "fine-tune on)"
        )
    else:
        v = min(parts, key=lambda x: (-parts[x].seconds_finetune, -len(parts[x].evaluation), x))
        why = (
            f"auto: no English held-out voice has {minutes:g} min + {sentences} sentences; the one with the "
            f"most fine-tune audio ({parts[v].minutes_selected:.2f} min)"
        )
        if render_minutes > 0:
            why += "; no English held-out voice can be rendered here"
    return Plan(str(corpus), why, names, parts[v], render_minutes)


# --- more audio of the voice: --render-minutes --------------------------------------------------------------


def add_rendered_clips(
    plan: Plan,
    folder: str | os.PathLike,
    seed: int = 0,
    text_cache: str | os.PathLike | None = None,
    progress: bool = False,
    rows: Sequence[Utterance] | None = None,
) -> Plan:
    """``plan`` with clips of its voice rendered for this eval (``render_voice_clips`` into ``folder``) after
    the corpus's own in the fine-tune part, when ``plan.render_minutes`` > 0 and the corpus has less than
    the minutes asked for: rendered until the fine-tune part fills the minutes, or ``render_minutes`` of
    audio are rendered, or the text runs out. The evaluation clips stay the corpus's. A plan rendered
    already, or without ``render_minutes``, is returned as it is."""
    part = plan.partition
    if plan.render_minutes <= 0 or part.render is not None:
        return plan
    request = {"requested_minutes": plan.render_minutes, "corpus_minutes": part.minutes_selected}
    if not part.minutes_short:
        return dataclasses.replace(
            plan, partition=dataclasses.replace(part, render={**request, "needed": False})
        )
    corpus = Path(plan.corpus)
    rows = list(rows) if rows is not None else _corpus_rows(corpus)
    cap = part.minutes_requested * 60
    corpus_clips = list(part.finetune)

    def enough(rendered: list[Utterance]) -> bool:
        taken, _ = _fill([*corpus_clips, *rendered], cap)
        return _fills(sum(r.duration for r in taken), part.minutes_requested)

    res = render_voice_clips(
        corpus,
        part.voice,
        folder,
        plan.render_minutes,
        seed=seed,
        text_cache=text_cache,
        exclude=part.evaluation_sentences,
        enough=enough,
        progress=progress,
        rows=rows,
    )
    mine = [r for r in rows if r.voice == part.voice]
    render = {**request, "needed": True, **res.to_dict()}
    new = partition_voice(mine, part.minutes_requested, part.sentences_requested, res.rows, render)
    if new.evaluation != part.evaluation:  # the evaluation clips are the corpus's, whatever was rendered
        raise FlowTTSError(f"voice {part.voice}: rendering changed the evaluation clips (a bug)")
    return dataclasses.replace(plan, partition=new)


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
            "minutes of fine-tune audio the protocol asks for" + _render_split(partition)
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


def _render_split(partition: Partition) -> str:
    """`` (a from the corpus + b rendered for this eval; rendering ended by: why)`` when something was
    rendered or rendering was asked for, else nothing."""
    if not partition.rendered_for_eval:
        return ""
    return (
        f" ({partition.seconds_from_corpus / 60:.2f} from the corpus + {partition.seconds_rendered / 60:.2f} "
        f"rendered for this eval; rendering ended by {_ended_by(partition.render)})"
    )


#: ``Partition.limited_by`` in words
LIMITED_BY = {
    "minutes": "the minutes cap",
    "corpus": "the corpus (the voice ran out of clips)",
    "render_minutes": "--render-minutes (all of it rendered)",
    "text": "the text pool (no unused sentence left to render)",
    "failures": "rendering failures",
}


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
    render_minutes: float = 0.0,
    text_cache: str | os.PathLike | None = None,
) -> dict:
    """Runs the protocol of the module doc and returns the report (``render_markdown`` for Markdown).

    ``model``: a model folder or ``None`` (the embedded default model). ``work``: the run's folder (the
    fine-tune data ``work/data`` and the pack ``work/<voice>``; both are rewritten). ``plan``: from
    ``plan_finetune_eval`` (else made from ``voice`` / ``minutes`` / ``sentences``). ``config``: a
    ``FinetuneConfig`` (default ``eval_config(seed)``). ``steps`` / ``cfg`` / ``seed``: sampling of
    ``tts.synthesize`` (``seed`` also seeds the fine-tune when ``config`` is None). ``speaker_judge`` /
    ``asr_judge``: a ``SpeakerJudge`` and a factory ``sentences -> AsrJudge`` to use instead of the real
    ones. ``render_minutes`` (used when ``plan`` is None; else the plan's) / ``text_cache``: render at most
    this many minutes more of the voice into ``work/rendered`` when the corpus has less than ``minutes``
    (``add_rendered_clips``; a plan rendered already is used as it is). Raises ``FlowTTSError`` on bad input
    or an interrupted fine-tune.
    """
    from evals.judges.asr import wer_counts
    from evals.report import report_header
    from flowtts.api import load
    from flowtts.data.prepare import sanitize_voice
    from flowtts.finetune import FinetuneConfig, adapt
    from flowtts.training.loop import pick_device

    corpus, work = Path(corpus), Path(work)
    plan = plan or plan_finetune_eval(corpus, voice, minutes, sentences, render_minutes=render_minutes)
    part = plan.partition
    if plan.render_minutes > 0 and part.render is None:
        # the judges are not loaded yet: a rendering problem stops the run before anything heavy
        plan = add_rendered_clips(plan, work / "rendered", seed, text_cache, progress)
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

    def speak(desc: str, prefix: str, **speaker) -> list[np.ndarray]:
        """Every evaluation sentence spoken by ``speaker`` (``voice=`` or ``voice_pack=``), saved if asked."""
        out = []
        for r in _progress(ev, desc, progress):
            x = tts.synthesize(r.text, **speaker, lang=r.lang, steps=steps, cfg=cfg, seed=seed).samples
            _save(save_dir, f"{prefix}--{r.id}", x)
            out.append(x)
        return out

    zero_shot = speak("zero-shot", "zero-shot", voice=zs_voice)

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
    with_pack = speak("voice pack", "pack", voice_pack=pack_name)
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
    guard = FinetuneConfig().min_minutes  # flowtts finetune's own
    if config.min_minutes < guard:
        notes.append(
            f"flowtts finetune's minimum-audio guard was {config.min_minutes:g} min (its default: "
            f"{guard:g}); the minutes used are the ones reported"
        )
    if part.rendered_for_eval:
        notes.append(render_note(part))
    elif part.render:
        notes.append(
            f"--render-minutes {part.render['requested_minutes']:g}: nothing rendered, the corpus has the "
            f"{part.minutes_requested:g} minutes"
        )
    if part.minutes_short:
        notes.append(
            f"voice {part.voice} has only {part.minutes_selected:.2f} min of clips for fine-tuning (asked: "
            f"{part.minutes_requested:g}){_render_split(part)}; all of it was used"
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
        "minutes_from_corpus": part.seconds_from_corpus / 60,
        "minutes_rendered": part.seconds_rendered / 60,
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
            "render_minutes": plan.render_minutes,
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


def render_note(part: Partition) -> str:
    """One line on the clips rendered for this eval (a partition with ``render['needed']``)."""
    r = part.render
    return (
        f"fine-tune audio: {part.seconds_from_corpus / 60:.2f} min from the corpus + "
        f"{part.seconds_rendered / 60:.2f} min rendered for this eval ({len(part.rendered_clips)} of "
        f"{r['clips']} rendered clips used, {r['minutes_rendered']:.2f} min rendered, at most "
        f"{r['minutes_limit']:g}; ended by {_ended_by(r)}) with the corpus's own voice {r['voice']} "
        f"({r['engine']}: {_params(r)}; {r['license']}) through the corpus's rendering path, on "
        f"{r['lang']} sentences of {r['text_file']} ({_counts(r['sources'])}) that occur nowhere in "
        f"the corpus; {sum(r['drops'].values())} renders dropped by the corpus's checks; "
        f"{r['from_cache']} of {r['attempted']} taken from the cache {r['folder']}; the evaluation clips "
        "are the corpus's own"
    )


# --- Markdown -----------------------------------------------------------------------------------------------


def render_markdown(report: dict) -> str:
    e, p, f, r = report["eval"], report["partition"], report["finetune"], report["results"]
    n_rendered = len(p.get("rendered_clips", []))
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
            sampling_row(e["sampling"]),
        ],
    )
    if report["incomplete"]:
        at = next(i for i, x in enumerate(lines) if x.startswith("Verdict:"))
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
        f"ended by {LIMITED_BY.get(p['limited_by'], p['limited_by'])}): "
        f"{p.get('minutes_from_corpus', r['minutes_selected']):.2f} min from the corpus, "
        f"{p.get('minutes_rendered', 0.0):.2f} min rendered for this eval; "
        f"{r['minutes_usable']:.2f} min usable after preparation: "
        f"{r['minutes_train']:.2f} train, {r['minutes_valid']:.2f} held out for early stopping |",
        *_render_rows(p),
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
        f"| … of which the corpus's own clips | {len(p['finetune_clips']) - n_rendered} | "
        f"{p.get('minutes_from_corpus', p['minutes_selected']):.2f} |",
        f"| … of which rendered for this eval | {n_rendered} | {p.get('minutes_rendered', 0.0):.2f} |",
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
    return markdown_document(lines, report["notes"])


def _render_rows(p: dict) -> list[str]:
    """Fine-tune table rows on --render-minutes (none when it was off)."""
    r = p.get("render")
    if not r:
        return []
    if not r.get("needed"):
        return [
            f"| rendered audio | none: the corpus has the minutes (--render-minutes "
            f"{r['requested_minutes']:g}) |"
        ]
    return [
        f"| rendered audio | {r['minutes_rendered']:.2f} min in {r['clips']} clips (at most "
        f"{r['minutes_limit']:g} min; ended by {_ended_by(r)}), {len(p.get('rendered_clips', []))} clips "
        f"used; voice {r['voice']} by {r['engine']} ({_params(r)}), the corpus's rendering path; dropped by "
        f"its checks: {_counts(r['drops'])}; {r['from_cache']} of {r['attempted']} from the cache "
        f"`{r['folder']}`, {r['wall_seconds']:.0f} s |",
        f"| rendered sentences | {r['lang']} from `{r['text_file']}` ({_counts(r['sources'])}), seed "
        f"{r['seed']}; none occurs in the corpus or among the evaluation sentences ({r['passed_over']} drawn "
        "sentences passed over) |",
    ]


def _ended_by(render: dict) -> str:
    """Why rendering ended, in words (``STOPPED_BY``)."""
    return STOPPED_BY.get(render["stopped_by"], render["stopped_by"])


def _params(render: dict) -> str:
    """The rendered voice's engine parameters: ``k=v, …``."""
    return ", ".join(f"{k}={v}" for k, v in render["params"].items())


def _counts(counts: dict[str, int]) -> str:
    """``a 2, b 1``, or ``none``."""
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _utt_wer(u: dict, system: str) -> str:
    if "edits_" + system not in u:
        return "–"
    return _fmt(u["edits_" + system] / u["words"] if u["words"] else 0.0, 2)


def _loads(f: dict) -> str:
    a, b = f["load_average_before"], f["load_average_after"]
    if a is None or b is None:
        return "–"
    return f"{a[0]:.2f} before, {b[0]:.2f} after (1 min)"
