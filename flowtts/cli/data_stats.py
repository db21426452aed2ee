"""``flowtts data stats``: hours per language, voice and split of a corpus folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "stats",
        help="print hours per language, voice and split of a corpus",
        description="Print hours per language, voice and split (seen and held-out voices), drops "
        "and disk use of a corpus folder made by `flowtts data synth` or `flowtts data prepare`.",
    )
    p.add_argument("dir", type=Path, help="corpus folder")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from flowtts.data.stats import corpus_stats, format_stats

    s = corpus_stats(args.dir)
    print(json.dumps(asdict(s), indent=1) if args.json else format_stats(s))
    return 0
