"""``flowtts data synth``: render the offline multilingual speech corpus."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "synth",
        help="render a multi-speaker, multilingual speech corpus with offline TTS voices",
        description="Render a speech corpus (24 kHz FLAC + JSONL manifests) from Debian text packages "
        "with espeak-ng, MBROLA, Pico, flite, RHVoice and Festival voices. Deterministic from --seed; "
        "re-running the same command resumes an interrupted build.",
    )
    p.add_argument("--out", required=True, type=Path, help="corpus folder to create or resume")
    p.add_argument(
        "--langs",
        default="en,fr,de,es,it,pt,nl,ar,hi",
        help="comma-separated languages (en fr de es it pt nl ar hi); default: all",
    )
    p.add_argument(
        "--hours",
        type=float,
        required=True,
        help="hours of audio to plan, split evenly between languages (drops make it a bit less)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: number of CPU cores)",
    )
    p.add_argument(
        "--engines",
        default="espeak,mbrola,pico,flite,rhvoice,festival",
        help="comma-separated engines to use; uninstalled ones are skipped with a note",
    )
    p.add_argument(
        "--shard-size",
        type=int,
        default=40,
        help="utterances per shard, the unit of resume and atomic commit (default 40)",
    )
    p.add_argument(
        "--heldout-fraction",
        type=float,
        default=0.2,
        help="share of each language's speaker groups held out of training (default 0.2)",
    )
    p.add_argument(
        "--text-cache",
        type=Path,
        default=None,
        help="where extracted sentences are cached (default $FLOWTTS_CACHE/text or ~/.cache/flowtts/text)",
    )
    p.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flowtts.data.catalog import available_catalogue
    from flowtts.data.stats import corpus_stats, format_stats
    from flowtts.data.synth import prepare_out_dir, synthesize
    from flowtts.data.synth_config import SynthConfig
    from flowtts.data.text_sources import build_text_corpus, default_cache_dir, load_sentences
    from flowtts.errors import FlowTTSError

    if args.jobs < 1:
        raise FlowTTSError("--jobs must be at least 1")
    cfg = SynthConfig(
        langs=tuple(dict.fromkeys(x.strip() for x in args.langs.split(",") if x.strip())),
        hours=args.hours,
        seed=args.seed,
        shard_size=args.shard_size,
        heldout_group_fraction=args.heldout_fraction,
        engines=tuple(dict.fromkeys(x.strip() for x in args.engines.split(",") if x.strip())),
    )
    prepare_out_dir(args.out)  # fail on bad input before any download
    catalogue = available_catalogue(cfg.langs, cfg.engines)
    cache = args.text_cache or default_cache_dir()
    build_text_corpus(list(cfg.langs), cache, progress=not args.no_progress)
    texts = {lang: load_sentences(lang, cache) for lang in cfg.langs}
    rep = synthesize(cfg, args.out, args.jobs, texts, not args.no_progress, catalogue)
    print(format_stats(corpus_stats(args.out)))
    print(
        f"\nthis run: {rep.shards_rendered}/{rep.shards_total} shards, {rep.run_audio_hours:.3f} h audio "
        f"in {rep.run_wall_seconds:.0f} s wall = {rep.hours_per_wall_hour:.0f} h audio per wall hour"
    )
    if rep.short_of_text:
        print(
            f"note: text ran short for {', '.join(rep.short_of_text)} (sentences were re-rendered "
            f"up to the pass limit; fewer hours than asked)"
        )
    return 0
