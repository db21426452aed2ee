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
synthetic corpus are short (about a minute each), but the corpus was rendered offline, so more of exactly
that voice can be rendered: the same engine and voice parameters (``voices.json``), prosody drawn from the
corpus's ranges, the corpus's ``flowtts.data.render.Renderer`` (24 kHz, trimming, checks, loudness), on
sentences of the voice's language from the text cache the corpus was built from, never one that occurs in
the corpus (any split, any voice; normalized text) or among the evaluation sentences (``render_voice_clips``,
deterministic from the seed). Rendered only when the corpus has less than the minutes, until the fine-tune
part fills them or M minutes are rendered or the text runs out; cached in ``WORK/rendered`` (a rerun renders
nothing new). Rendered clips come after the corpus's own in step 3; the evaluation clips stay the corpus's.
The report splits the minutes into corpus and rendered, and names the engine, voice and sentence source.

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
import hashlib
import json
import math
import os
import re
import shutil
import statistics
import sys
import time
from collections import Counter, defaultdict
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
    def limited_by(self) -> str:
        """What ended the fine-tune part: ``minutes`` (the cap), ``corpus`` (the voice ran out of clips,
        nothing rendered), or why rendering stopped short of the cap: ``render_minutes`` (it rendered
        ``--render-minutes``), ``text`` (the text pool ran out), ``failures`` (the engine kept failing)."""
        if self.skipped_by_cap:
            return "minutes"
        if self.render is not None and self.render.get("needed"):
            if self.seconds_finetune >= self.minutes_requested * 60 - SHORT_TOLERANCE:
                return "minutes"
            return str(self.render.get("stopped_by", "render_minutes"))
        return "corpus"

    @property
    def minutes_short(self) -> bool:
        """True when the voice (with what was rendered) has less audio than the minutes asked for."""
        return self.limited_by != "minutes" and self.seconds_finetune < self.minutes_requested * 60 - (
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
        rendered_clips=tuple(r.id for r in finetune if r.id in {x.id for x in rendered}),
        render=render,
    )


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
                _engine_rank(renderable[x].engine),
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

#: engines by preference when ``auto`` picks a voice to render more of: fastest and most freely licensed
#: first (flite kal16 ~2,000× real time, BSD-style; espeak-ng GPL), MBROLA's non-free diphones last
ENGINE_PREFERENCE = ("flite", "espeak", "festival", "rhvoice", "pico", "mbrola")
RENDER_FORMAT = 1  # bump when the rendered sequence changes: cached renders are then redone
MAX_FAILURES_IN_A_ROW = 25  # dropped renders in a row that stop the rendering ("failures")
SAVE_EVERY = 10  # new renders between two writes of the cache's manifest
RENDER_MANIFEST = "manifest.jsonl"
RENDER_STATE = "render.json"


def _engine_rank(engine: str) -> int:
    return ENGINE_PREFERENCE.index(engine) if engine in ENGINE_PREFERENCE else len(ENGINE_PREFERENCE)


def corpus_voice_specs(corpus: str | os.PathLike) -> dict:
    """The corpus's voices as ``flowtts data synth`` recorded them (``voices.json``): id -> ``VoiceSpec``;
    empty when the corpus has no ``voices.json`` (a corpus of recordings)."""
    from flowtts.data.engines.base import VoiceSpec

    path = Path(corpus) / "voices.json"
    if not path.is_file():
        return {}
    names = {f.name for f in dataclasses.fields(VoiceSpec)}
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        return {d["id"]: VoiceSpec(**{k: v for k, v in d.items() if k in names}) for d in items}
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise FlowTTSError(f"{path} is unreadable ({e})") from None


def render_problem(spec) -> str | None:
    """Why this machine cannot render the voice ``spec`` (a ``VoiceSpec``), or None when it can."""
    from flowtts.data.engines import ENGINES, get_engine_class

    if spec.engine not in ENGINES:
        return f"unknown engine {spec.engine!r}"
    cls = get_engine_class(spec.engine)
    try:
        cls.check_installed()
        engine = cls()
    except (FlowTTSError, OSError) as e:
        return str(e)
    try:
        ok = engine.available(spec)
    except (FlowTTSError, OSError) as e:
        return str(e)
    finally:
        engine.close()
    if not ok:
        return (
            f"engine {spec.engine} lacks the data of voice {spec.id} (scripts/install-system-deps.sh --full)"
        )
    return None


def _corpus_config(corpus: Path, lang: str):
    """The corpus's ``SynthConfig`` (``corpus.json``), for its prosody ranges and sentence length limits;
    the builder's defaults when the corpus has no ``corpus.json``."""
    from flowtts.data.synth_config import SynthConfig

    path = corpus / "corpus.json"
    if not path.is_file():
        return SynthConfig(langs=(lang,), hours=1.0)
    try:
        return SynthConfig.from_dict(json.loads(path.read_text(encoding="utf-8"))["config"])
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise FlowTTSError(f"{path} is unreadable ({e})") from None


def _digest(keys: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RenderedClips:
    """Clips of one corpus voice rendered for this eval (``render_voice_clips``)."""

    voice: str
    engine: str
    params: dict  # the voice's engine parameters, as in the corpus's voices.json
    license: str
    lang: str
    folder: str  # the cache: manifest.jsonl, render.json, audio/
    rows: tuple[Utterance, ...]  # the clips kept, in render order; ``audio`` is an absolute path
    attempted: int  # sentences rendered or taken from the cache (kept + dropped)
    drops: dict[str, int]  # renders dropped by the corpus's checks, by reason
    rendered_now: int  # sentences this call rendered; the others came from the cache
    stopped_by: str  # enough | render_minutes | text | failures
    minutes_limit: float
    text_file: str  # the sentences: <text cache>/<lang>.jsonl
    text_pool: int  # its sentences within the corpus's length limits
    passed_over: int  # drawn sentences not rendered: in the corpus, an evaluation sentence, or said already
    seed: int
    wall_seconds: float

    @property
    def seconds(self) -> float:
        return sum(r.duration for r in self.rows)

    def sources(self) -> dict[str, int]:
        """Clips per text package (the part of ``source`` before the colon)."""
        return dict(sorted(Counter(r.source.split(":", 1)[0] for r in self.rows).items()))

    def to_dict(self) -> dict:
        return {
            "voice": self.voice,
            "engine": self.engine,
            "params": self.params,
            "license": self.license,
            "lang": self.lang,
            "folder": self.folder,
            "clips": len(self.rows),
            "minutes_rendered": self.seconds / 60,
            "minutes_limit": self.minutes_limit,
            "attempted": self.attempted,
            "drops": self.drops,
            "rendered_now": self.rendered_now,
            "from_cache": self.attempted - self.rendered_now,
            "stopped_by": self.stopped_by,
            "text_file": self.text_file,
            "text_pool": self.text_pool,
            "passed_over": self.passed_over,
            "excluded": "every sentence of the corpus (any split, any voice) and the evaluation sentences, "
            "compared as normalized text (case and spaces aside)",
            "sources": self.sources(),
            "seed": self.seed,
            "wall_seconds": self.wall_seconds,
            "pipeline": "flowtts.data.render.Renderer: the corpus's engine call, resampling to 24 kHz, "
            "trimming, the corpus's checks, loudness to -23 LUFS; prosody drawn from the corpus's ranges",
        }


def render_voice_clips(
    corpus: str | os.PathLike,
    voice: str,
    folder: str | os.PathLike,
    minutes: float,
    seed: int = 0,
    text_cache: str | os.PathLike | None = None,
    exclude: Sequence[str] = (),
    enough: Callable[[list[Utterance]], bool] | None = None,
    progress: bool = False,
    rows: Sequence[Utterance] | None = None,
) -> RenderedClips:
    """Renders up to ``minutes`` of new clips of the corpus voice ``voice`` into ``folder``, as the corpus
    rendered its own: the voice of ``voices.json`` (same engine and parameters), prosody drawn from the
    corpus's ranges, and ``flowtts.data.render.Renderer`` (engine, 24 kHz resampling, trimming, the corpus's
    checks, loudness levelling).

    The sentences: the voice's language in the text cache the corpus is built from (``text_cache``, default
    ``$FLOWTTS_CACHE/text``), within the corpus's length limits, sorted and shuffled by a Random seeded with
    ``seed`` and the voice. A sentence whose text or normalized text (case and spaces aside) occurs anywhere
    in the corpus, or in ``exclude``, or was drawn already, is passed over. Sentence ``i`` of the shuffled
    pool gets its prosody from a Random seeded with ``seed``, the voice and ``i``. Rendering stops before a
    sentence when ``enough(kept clips)`` holds, when the kept clips reach ``minutes``, after
    ``MAX_FAILURES_IN_A_ROW`` dropped renders in a row, or when the sentences run out.

    Cached: ``folder/manifest.jsonl`` (the kept clips; audio relative to ``folder``), ``folder/render.json``
    (what the sequence depends on, and the drops) and ``folder/audio/*.flac``, all written atomically; a
    later call with the same inputs renders only what the cache lacks, and returns exactly what a fresh
    render would. Raises ``FlowTTSError`` (one line) when the voice is not in ``voices.json``, cannot be
    rendered here, or the text cache has no sentences of its language.
    """
    import random

    from tqdm import tqdm

    from flowtts import __version__
    from flowtts.atomic import write_text_atomic
    from flowtts.data.catalog import Catalogue
    from flowtts.data.manifest import read_manifest, write_manifest
    from flowtts.data.plan import PlanItem, _draw_prosody
    from flowtts.data.render import Renderer
    from flowtts.data.text_filter import dedup_key
    from flowtts.data.text_sources import default_cache_dir, load_sentences
    from flowtts.errors import MissingSystemVoiceError
    from flowtts.text import normalize

    t0 = time.perf_counter()
    corpus, folder = Path(corpus), Path(folder)
    if not minutes > 0 or not math.isfinite(minutes):
        raise FlowTTSError(f"render minutes must be a finite number > 0, got {minutes}")
    specs = corpus_voice_specs(corpus)
    if voice not in specs:
        raise FlowTTSError(
            f"voice {voice} is not in {corpus / 'voices.json'}: its engine and parameters are unknown, so no "
            "more of it can be rendered (drop --render-minutes)"
        )
    spec = specs[voice]
    problem = render_problem(spec)
    if problem is not None:
        raise MissingSystemVoiceError(f"voice {voice} ({spec.engine}) cannot be rendered here: {problem}")
    lang = spec.lang
    cfg = _corpus_config(corpus, lang)
    cache = Path(text_cache) if text_cache is not None else default_cache_dir()
    text_file = cache / f"{lang}.jsonl"
    if not text_file.is_file():
        raise FlowTTSError(
            f"--render-minutes needs the {lang} sentences the corpus was built from, and {cache} has none: "
            f"run `flowtts data texts --langs {lang}` (add --cache DIR, or give --text-cache DIR here, when "
            "the corpus was built with `flowtts data synth --text-cache DIR`)"
        )
    sentences = load_sentences(lang, cache)
    pool = sorted(
        (s for s in sentences if cfg.min_chars <= len(s.text) <= cfg.max_chars),
        key=lambda s: (s.text, s.source),
    )
    random.Random(f"flowtts-eval-finetune:{seed}:{voice}").shuffle(pool)
    rows = list(rows) if rows is not None else _corpus_rows(corpus)
    known = {dedup_key(t) for r in rows for t in (r.text, r.normalized_text)}
    known |= {dedup_key(t) for t in exclude}
    key = {
        "format": RENDER_FORMAT,
        "flowtts_version": __version__,
        "voice": dataclasses.asdict(spec),
        "seed": seed,
        "text_sha256": hashlib.sha256(text_file.read_bytes()).hexdigest(),
        "excluded_sha256": _digest(known),
        "chars": [cfg.min_chars, cfg.max_chars],
        "prosody": dataclasses.asdict(cfg.prosody),
    }
    key = json.loads(json.dumps(key, ensure_ascii=False))  # as read back from render.json (lists, not tuples)

    # the cache: reused when it was made from the same inputs, else emptied
    state_path, manifest_path = folder / RENDER_STATE, folder / RENDER_MANIFEST
    kept: dict[str, Utterance] = {}
    dropped: dict[str, dict] = {}
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    reuse = isinstance(state, dict) and state.get("key") == key
    if reuse:
        dropped = dict(state.get("drops", {}))
        if manifest_path.is_file():
            kept = {r.id: r for r in read_manifest(manifest_path) if (folder / r.audio).is_file()}
    else:
        for stale in (state_path, manifest_path):
            stale.unlink(missing_ok=True)
        shutil.rmtree(folder / "audio", ignore_errors=True)
    (folder / "audio").mkdir(parents=True, exist_ok=True)

    def save() -> None:
        write_manifest(manifest_path, sorted(kept.values(), key=lambda r: r.id))
        write_text_atomic(
            state_path, json.dumps({"key": key, "drops": dropped}, ensure_ascii=False, indent=1) + "\n"
        )

    if not reuse:
        save()  # the key first: every file after it belongs to these inputs

    limit = minutes * 60
    said = set(known)
    taken: list[Utterance] = []
    drops: Counter = Counter()
    attempted = rendered_now = unsaved = passed_over = in_a_row = 0
    renderer = None
    bar = tqdm(
        total=round(limit, 1),
        unit="s",
        desc=f"render {voice}",
        disable=None if progress else True,
        file=sys.stderr,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]",
    )

    def stop_reason() -> str | None:
        if enough is not None and enough(taken):
            return "enough"
        if sum(r.duration for r in taken) >= limit:
            return "render_minutes"
        if in_a_row >= MAX_FAILURES_IN_A_ROW:
            return "failures"
        return None

    stopped = None
    try:
        for i, s in enumerate(pool):
            stopped = stop_reason()
            if stopped:
                break
            spoken = normalize(s.text, lang)
            keys = {dedup_key(s.text), dedup_key(spoken)}
            if keys & said:
                passed_over += 1
                continue
            said |= keys
            uid = f"render-{voice}-s{seed}-{i:06d}"
            attempted += 1
            if uid not in kept and uid not in dropped:
                if renderer is None:
                    renderer = Renderer(Catalogue({lang: [spec]}, {}))
                prosody = _draw_prosody(random.Random(f"flowtts-eval-finetune:{seed}:{voice}:{i}"), cfg)
                item = PlanItem(uid, "", lang, "train", s.text, s.source, voice, False, prosody, 0.0)
                out = renderer.render(item, folder / "audio", "audio")
                if out.row is not None:
                    kept[uid] = out.row
                else:
                    dropped[uid] = {"reason": out.drop_reason, "detail": out.drop_detail, "text": s.text}
                rendered_now += 1
                unsaved += 1
                if unsaved >= SAVE_EVERY:
                    save()
                    unsaved = 0
            if uid in kept:
                taken.append(kept[uid])
                in_a_row = 0
                bar.update(kept[uid].duration)
            else:
                drops[dropped[uid]["reason"]] += 1
                in_a_row += 1
        else:
            stopped = stop_reason() or "text"
    finally:
        bar.close()
        if renderer is not None:
            renderer.close()
        if unsaved:
            save()
    root = folder.resolve()
    return RenderedClips(
        voice=voice,
        engine=spec.engine,
        params=dict(spec.params),
        license=spec.license,
        lang=lang,
        folder=str(folder),
        # absolute audio paths: ``corpus / row.audio`` (how the eval reads clips) is then this file
        rows=tuple(dataclasses.replace(r, audio=str(root / r.audio)) for r in taken),
        attempted=attempted,
        drops=dict(sorted(drops.items())),
        rendered_now=rendered_now,
        stopped_by=stopped,
        minutes_limit=float(minutes),
        text_file=str(text_file),
        text_pool=len(pool),
        passed_over=passed_over,
        seed=seed,
        wall_seconds=time.perf_counter() - t0,
    )


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
        return sum(r.duration for r in taken) >= cap - SHORT_TOLERANCE

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
    r = partition.render
    if not r or not r.get("needed"):
        return ""
    return (
        f" ({partition.seconds_from_corpus / 60:.2f} from the corpus + {partition.seconds_rendered / 60:.2f} "
        f"rendered for this eval; rendering ended by {STOPPED_BY.get(r['stopped_by'], r['stopped_by'])})"
    )


#: why rendering ended, in words
STOPPED_BY = {
    "enough": "filling the minutes",
    "render_minutes": "--render-minutes",
    "text": "the text running out",
    "failures": f"{MAX_FAILURES_IN_A_ROW} failed renders in a row",
}
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
    if part.render and part.render.get("needed"):
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
    params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
    sources = ", ".join(f"{k} {v}" for k, v in r["sources"].items()) or "none"
    return (
        f"fine-tune audio: {part.seconds_from_corpus / 60:.2f} min from the corpus + "
        f"{part.seconds_rendered / 60:.2f} min rendered for this eval ({len(part.rendered_clips)} of "
        f"{r['clips']} rendered clips used, {r['minutes_rendered']:.2f} min rendered, at most "
        f"{r['minutes_limit']:g}; ended by {STOPPED_BY.get(r['stopped_by'], r['stopped_by'])}) with the "
        f"corpus's own voice {r['voice']} ({r['engine']}: {params}; {r['license']}) through the corpus's "
        f"rendering path, on {r['lang']} sentences of {r['text_file']} ({sources}) that occur nowhere in "
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
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"


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
    params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
    sources = ", ".join(f"{k} {v}" for k, v in r["sources"].items()) or "none"
    drops = ", ".join(f"{k} {v}" for k, v in r["drops"].items()) or "none"
    return [
        f"| rendered audio | {r['minutes_rendered']:.2f} min in {r['clips']} clips (at most "
        f"{r['minutes_limit']:g} min; ended by {STOPPED_BY.get(r['stopped_by'], r['stopped_by'])}), "
        f"{len(p.get('rendered_clips', []))} clips used; voice {r['voice']} by {r['engine']} ({params}), "
        f"the corpus's rendering path; dropped by its checks: {drops}; {r['from_cache']} of "
        f"{r['attempted']} from the cache `{r['folder']}`, {r['wall_seconds']:.0f} s |",
        f"| rendered sentences | {r['lang']} from `{r['text_file']}` ({sources}), seed {r['seed']}; "
        f"none occurs in the corpus or among the evaluation sentences ({r['passed_over']} drawn sentences "
        "passed over) |",
    ]


def _utt_wer(u: dict, system: str) -> str:
    if "edits_" + system not in u:
        return "–"
    return _fmt(u["edits_" + system] / u["words"] if u["words"] else 0.0, 2)


def _loads(f: dict) -> str:
    a, b = f["load_average_before"], f["load_average_after"]
    if a is None or b is None:
        return "–"
    return f"{a[0]:.2f} before, {b[0]:.2f} after (1 min)"
