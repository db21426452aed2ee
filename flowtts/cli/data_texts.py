"""``flowtts data texts``: download and filter the Debian text sources of the speech corpus."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "texts",
        help="download and filter the text sources",
        description="Download Debian text packages (Bible, fortunes, WordNet, LibreOffice help, Debian "
        "docs, man pages, UI strings), extract clean sentences per language and cache them as JSONL.",
    )
    p.add_argument(
        "--langs",
        default="en,fr,de,es,it,pt,nl,ar,hi",
        help="comma-separated languages to build (default: all nine: en,fr,de,es,it,pt,nl,ar,hi)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="where the sentence files go (default $FLOWTTS_CACHE/text or ~/.cache/flowtts/text)",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the languages even if they are already built with the current filters",
    )
    p.add_argument("--no-progress", action="store_true", help="do not print per-source progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from flowtts.data.text_sources import build_text_corpus, check_langs, default_cache_dir, read_meta

    langs = check_langs([x.strip() for x in args.langs.split(",") if x.strip()])
    cache = args.cache or default_cache_dir()
    if args.rebuild:
        for lang in langs:
            (cache / f"{lang}.meta.json").unlink(missing_ok=True)
    t0 = time.monotonic()
    counts = build_text_corpus(langs, cache, progress=not args.no_progress)
    print(f"text corpus in {cache} ({time.monotonic() - t0:.0f} s):")
    for lang in langs:
        info = read_meta(lang, cache) or {}
        sources = ", ".join(
            f"{pkg} {n}" for pkg, n in sorted(info.get("sources", {}).items(), key=lambda kv: -kv[1])
        )
        print(f"  {lang}: {counts[lang]:>7} sentences  ({sources})")
    print(f"  total: {sum(counts.values())} sentences")
    return 0
