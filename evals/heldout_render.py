"""More audio of a corpus voice, rendered exactly as the corpus rendered its own (``--render-minutes`` of
``flowtts eval finetune``).

    clips = render_voice_clips("corpus", "espeak-en-v07", "runs/eval-finetune/x/rendered", minutes=10)

The held-out voices of a synthetic corpus are short (about a minute each), but the corpus was rendered
offline, so more of exactly that voice can be rendered: the same engine and voice parameters
(``voices.json``), prosody drawn from the corpus's ranges (``flowtts.data.plan.draw_prosody``), the corpus's
``flowtts.data.render.Renderer`` (24 kHz, trimming, checks, loudness), on sentences of the voice's language
from the text cache the corpus was built from, never one that occurs in the corpus (any split, any voice;
normalized text) or among the sentences the caller excludes; deterministic from the seed. Renders are cached
in the given folder (a rerun renders nothing new). ``evals.finetune_eval.add_rendered_clips`` adds them to
the fine-tune part of a plan.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.tts_eval import _corpus_rows
from flowtts.data.manifest import Utterance
from flowtts.errors import FlowTTSError

#: engines by preference when ``auto`` picks a voice to render more of: fastest and most freely licensed
#: first (flite kal16 ~2,000× real time, BSD-style; espeak-ng GPL), MBROLA's non-free diphones last
ENGINE_PREFERENCE = ("flite", "espeak", "festival", "rhvoice", "pico", "mbrola")
RENDER_FORMAT = 1  # bump when the rendered sequence changes: cached renders are then redone
MAX_FAILURES_IN_A_ROW = 25  # dropped renders in a row that stop the rendering ("failures")
SAVE_EVERY = 10  # new renders between two writes of the cache's manifest
RENDER_MANIFEST = "manifest.jsonl"
RENDER_STATE = "render.json"

#: why rendering ended (``RenderedClips.stopped_by``), in words
STOPPED_BY = {
    "enough": "filling the minutes",
    "render_minutes": "--render-minutes",
    "text": "the text running out",
    "failures": f"{MAX_FAILURES_IN_A_ROW} failed renders in a row",
}


def engine_rank(engine: str) -> int:
    """Place of ``engine`` in ``ENGINE_PREFERENCE`` (unknown engines last)."""
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


class _RenderCache:
    """The renders in ``folder`` for one ``key`` (what the rendered sequence depends on):
    ``manifest.jsonl`` (the kept clips, audio relative to ``folder``), ``render.json`` (the key and the
    drops) and ``audio/*.flac``, all written atomically. A cache made for another key is emptied first."""

    def __init__(self, folder: Path, key: dict) -> None:
        from flowtts.data.manifest import read_manifest

        self.key = key
        self.state_path, self.manifest_path = folder / RENDER_STATE, folder / RENDER_MANIFEST
        self.kept: dict[str, Utterance] = {}
        self.dropped: dict[str, dict] = {}  # id -> reason, detail, text
        self.unsaved = 0  # renders since the last save
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = None
        reuse = isinstance(state, dict) and state.get("key") == key
        if reuse:
            self.dropped = dict(state.get("drops", {}))
            if self.manifest_path.is_file():
                rows = read_manifest(self.manifest_path)
                self.kept = {r.id: r for r in rows if (folder / r.audio).is_file()}
        else:
            for stale in (self.state_path, self.manifest_path):
                stale.unlink(missing_ok=True)
            shutil.rmtree(folder / "audio", ignore_errors=True)
        (folder / "audio").mkdir(parents=True, exist_ok=True)
        if not reuse:
            self.save()  # the key first: every file after it belongs to these inputs

    def __contains__(self, uid: str) -> bool:
        return uid in self.kept or uid in self.dropped

    def add(self, uid: str, outcome, text: str) -> None:
        """Records one render (a ``flowtts.data.render.Outcome``); saved every ``SAVE_EVERY`` renders."""
        if outcome.row is not None:
            self.kept[uid] = outcome.row
        else:
            self.dropped[uid] = {"reason": outcome.drop_reason, "detail": outcome.drop_detail, "text": text}
        self.unsaved += 1
        if self.unsaved >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        from flowtts.atomic import write_text_atomic
        from flowtts.data.manifest import write_manifest

        write_manifest(self.manifest_path, sorted(self.kept.values(), key=lambda r: r.id))
        write_text_atomic(
            self.state_path,
            json.dumps({"key": self.key, "drops": self.dropped}, ensure_ascii=False, indent=1) + "\n",
        )
        self.unsaved = 0

    def flush(self) -> None:
        if self.unsaved:
            self.save()


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
    in the corpus (``rows``: the corpus's rows when already read), or in ``exclude``, or was drawn already,
    is passed over. Sentence ``i`` of the shuffled pool gets its prosody from a Random seeded with ``seed``,
    the voice and ``i``. Rendering stops before a sentence when ``enough(kept clips)`` holds, when the kept
    clips reach ``minutes``, after ``MAX_FAILURES_IN_A_ROW`` dropped renders in a row, or when the
    sentences run out.

    Cached (``_RenderCache``): ``folder/manifest.jsonl``, ``folder/render.json`` and ``folder/audio/*.flac``;
    a later call with the same inputs renders only what the cache lacks, and returns exactly what a fresh
    render would. Raises ``FlowTTSError`` (one line) when the voice is not in ``voices.json``, cannot be
    rendered here, or the text cache has no sentences of its language.
    """
    import random

    from tqdm import tqdm

    from flowtts import __version__
    from flowtts.data.catalog import Catalogue
    from flowtts.data.plan import PlanItem, draw_prosody
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
    pool = sorted(
        (s for s in load_sentences(lang, cache) if cfg.min_chars <= len(s.text) <= cfg.max_chars),
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
    store = _RenderCache(folder, key)

    limit = minutes * 60
    said = set(known)
    taken: list[Utterance] = []
    drops: Counter = Counter()
    attempted = rendered_now = passed_over = in_a_row = 0
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
            keys = {dedup_key(s.text), dedup_key(normalize(s.text, lang))}
            if keys & said:
                passed_over += 1
                continue
            said |= keys
            uid = f"render-{voice}-s{seed}-{i:06d}"
            attempted += 1
            if uid not in store:
                if renderer is None:
                    renderer = Renderer(Catalogue({lang: [spec]}, {}))
                prosody = draw_prosody(random.Random(f"flowtts-eval-finetune:{seed}:{voice}:{i}"), cfg)
                item = PlanItem(uid, "", lang, "train", s.text, s.source, voice, False, prosody, 0.0)
                store.add(uid, renderer.render(item, folder / "audio", "audio"), s.text)
                rendered_now += 1
            if uid in store.kept:
                taken.append(store.kept[uid])
                in_a_row = 0
                bar.update(store.kept[uid].duration)
            else:
                drops[store.dropped[uid]["reason"]] += 1
                in_a_row += 1
        else:
            stopped = stop_reason() or "text"
    finally:
        bar.close()
        if renderer is not None:
            renderer.close()
        store.flush()
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
